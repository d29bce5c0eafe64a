"""Messages say what the user wrote: duplicated parts, YAML 1.1 booleans, composite keys."""

from __future__ import annotations

import pytest

from services.ingest.domain.checks import check_document
from tests.unit.ingest.hostile_base import BASE, line_of, replaced

RESULT_DDL = BASE[BASE.index("```sql\nCREATE TABLE dwd_order") : BASE.index("## Field mapping")]


def test_a_second_result_table_has_a_grammatical_hint() -> None:
    text = replaced("## Field mapping", RESULT_DDL + "## Field mapping")
    [error] = check_document(text).errors
    assert error.code == "parts.duplicate"
    assert "keep only one the" not in error.hint
    assert error.hint.startswith("keep one CREATE TABLE in the result table section")


def test_a_duplicated_yaml_part_has_a_grammatical_hint() -> None:
    job = BASE[BASE.index("```yaml\njob_info:") : BASE.index("## Source")]
    text = replaced("## Source", job + "## Source")
    [error] = check_document(text).errors
    assert error.code == "parts.duplicate" and error.block == "job_info"
    assert error.hint == "keep one ```yaml block with `job_info:` and merge the two"


@pytest.mark.parametrize(
    ("written", "expected"), [("on", '"on"'), ("yes", '"yes"'), ("No", '"No"'), ("42", '"42"')]
)
def test_a_yaml_11_scalar_is_quoted_as_written_in_the_hint(written: str, expected: str) -> None:
    text = replaced('  event_type: "order_paid"', f"  event_type: {written}   # the type")
    [error] = check_document(text).errors
    assert error.code == "job_info.not_text"
    assert f"`event_type: {expected}`" in error.hint
    assert "True" not in error.hint and "False" not in error.hint


DIM = "    shop_id STRING NOT NULL,\n    shop_name STRING,\n    PRIMARY KEY (shop_id) NOT ENFORCED"
COMPOSITE = "    region STRING NOT NULL,\n    shop_id STRING NOT NULL,\n    shop_name STRING,\n    PRIMARY KEY (region, shop_id) NOT ENFORCED"


def _warnings(text: str) -> list[str]:
    result = check_document(text)
    assert result.valid, [e.render() for e in result.errors]
    return [w.message for w in result.warnings if w.code == "joins.target_not_primary_key"]


def test_part_of_a_composite_key_is_named_with_the_whole_key() -> None:
    text = replaced(DIM, COMPOSITE)
    [message] = _warnings(text)
    assert "only part of the primary key (region, shop_id) of dim_shop" in message
    [warning] = [w for w in check_document(text).warnings if w.code == "joins.target_not_primary_key"]
    assert warning.line == line_of(text, 'target_field: "shop_id"')
    assert "dim1.region = payload.<field>" in warning.hint


def test_a_composite_key_completed_by_the_additional_condition_is_not_warned() -> None:
    text = replaced(DIM, COMPOSITE)
    text = replaced(
        '    join_type: "LEFT JOIN"\n',
        '    join_type: "LEFT JOIN"\n    additional_condition: "dim1.region = payload.note AND dim1.shop_name IS NOT NULL"\n',
        text,
    )
    assert _warnings(text) == []


def test_a_non_key_target_field_names_the_actual_key() -> None:
    text = replaced('target_field: "shop_id"', 'target_field: "shop_name"')
    assert _warnings(text) == ["target_field 'shop_name' is not the primary key (shop_id) of dim_shop"]
