"""An invalid join entry or an unreadable YAML block is reported once: no follow-on errors
("unknown alias 'dim1'", "required part ... is missing") and no false "unused dimension" warning."""

from __future__ import annotations

import pytest

from services.ingest.domain.checks import check_document
from tests.unit.ingest.hostile_base import BASE, line_of, replaced

JOIN_TYPE = '    join_type: "LEFT JOIN"\n'

BROKEN_JOINS = {
    "bad join type": (JOIN_TYPE, '    join_type: "FULL OUTER JOIN"\n', "joins.invalid_join_type"),
    "undeclared target": (
        'target_table: "dim_shop"',
        'target_table: "dim_merchant"',
        "joins.unknown_target_table",
    ),
    "invalid alias": (JOIN_TYPE, JOIN_TYPE + '    alias: "d`; DROP"\n', "names.invalid_identifier"),
    "reserved alias": (JOIN_TYPE, JOIN_TYPE + '    alias: "payload"\n', "joins.reserved_alias"),
    "broken condition": (
        JOIN_TYPE,
        JOIN_TYPE + "    additional_condition: \"dim1.shop_name = 'x')\"\n",
        "expressions.invalid",
    ),
    "source not joined": (
        'source_table: "BusinessEvent"',
        'source_table: "dim_city"',
        "joins.unknown_source_table",
    ),
    "entry not a mapping": (
        '  to_shop:\n    source_table: "BusinessEvent"',
        '  to_shop: "payload.shopId = dim_shop.shop_id"\n  unused_entry:\n    source_table: "BusinessEvent"',
        "joins.not_mapping",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_JOINS))
def test_a_broken_join_entry_is_the_only_issue(case: str) -> None:
    old, new, code = BROKEN_JOINS[case]
    text = replaced(old, new)
    if case == "entry not a mapping":  # the second entry keeps the YAML valid but holds no keys
        text = text.split("  unused_entry:")[0] + "```\n"
    result = check_document(text)
    assert [e.code for e in result.errors] == [code], [e.render() for e in result.errors]
    assert not [w for w in result.warnings if w.code == "dimensions.unused"]


def test_a_mistyped_alias_reference_is_still_an_error_when_the_join_is_broken() -> None:
    text = replaced(JOIN_TYPE, '    join_type: "FULL OUTER JOIN"\n')
    text = replaced("COALESCE(dim1.shop_name, 'unknown')", "COALESCE(dim9.shop_name, 'unknown')", text)
    codes = {e.code for e in check_document(text).errors}
    assert "joins.invalid_join_type" in codes
    assert codes & {"references.unknown_alias", "references.unresolved"}


def test_an_unused_dimension_is_still_warned_when_every_join_is_valid() -> None:
    text = replaced(
        "### Dimension 1: dim_shop",
        "### Dimension 2: dim_city\n```sql\nCREATE TABLE dim_city (city_id STRING, PRIMARY KEY (city_id) NOT ENFORCED) WITH ('connector' = 'jdbc', 'lookup.cache' = 'PARTIAL')\n```\n\n### Dimension 1: dim_shop",
    )
    result = check_document(text)
    assert result.valid
    assert [w.name for w in result.warnings if w.code == "dimensions.unused"] == ["dim_city"]


def test_a_heading_ddl_mismatch_does_not_also_fail_the_join_and_the_references() -> None:
    text = replaced("CREATE TABLE dim_shop (", "CREATE TABLE dim_shopx (")
    [error] = check_document(text).errors
    assert error.code == "ddl.heading_mismatch"


FIELD_MAPPING_LINE = '  note: "payload.note"\n'


@pytest.mark.parametrize(
    ("new", "code"),
    [
        (FIELD_MAPPING_LINE + '  note: "payload.note"\n', "yaml.invalid"),  # duplicate key
        ('  note: &a "payload.note"\n', "yaml.unsafe"),  # anchor
        ('  note: "payload.note\n', "yaml.invalid"),  # unterminated
        ("  note: !!python/object/apply:os.system [ls]\n", "yaml.unsafe"),  # tag
    ],
)
def test_an_unreadable_field_mapping_is_not_also_missing(new: str, code: str) -> None:
    text = replaced(FIELD_MAPPING_LINE, new)
    [error] = check_document(text).errors
    assert error.code == code
    assert error.block == "field_mapping"
    assert error.line is not None and error.line >= line_of(text, "field_mapping:")


def test_an_unreadable_join_block_is_not_also_missing_and_its_aliases_are_not_unknown() -> None:
    text = replaced('    target_field: "shop_id"\n', '    target_field: "shop_id\n')
    result = check_document(text)
    assert [e.block for e in result.errors] == ["join_relationships"]
    assert not [w for w in result.warnings if w.code == "dimensions.unused"]


def test_a_missing_field_mapping_is_still_reported() -> None:
    start = BASE.index("## Field mapping")
    end = BASE.index("## Join relationships")
    result = check_document(BASE[:start] + BASE[end:])
    assert [e.code for e in result.errors] == ["parts.missing"]


def test_a_payload_class_without_fields_does_not_make_its_joined_dimension_unused() -> None:
    start = BASE.index("    private String orderId;")
    end = BASE.index("}\n```", start)
    result = check_document(BASE[:start] + BASE[end:])
    assert [e.code for e in result.errors] == ["payload.no_fields"]
    assert not [w for w in result.warnings if w.code == "dimensions.unused"]


def test_a_failed_dimension_ddl_is_the_only_error_even_through_the_type_analysis() -> None:
    text = replaced(
        "    shop_name STRING,\n    PRIMARY KEY (shop_id)", "    shop_name STRNG,\n    PRIMARY KEY (shop_id)"
    )
    [error] = check_document(text).errors
    assert error.code == "ddl.invalid"
    assert error.line == line_of(text, "shop_name STRNG")
