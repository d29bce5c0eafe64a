"""Issue 14 item 5, door 1: `${` appears nowhere in a request.

Each document below is the orders example with one `${secret:...}` written somewhere: where the
generator copies it into the SQL (a literal, an option, a comment the deployer substitutes in)
or anywhere else. Before this check each of them passed `check`; the test shows that
`secrets.reference` is now its only error, so nothing else would have stopped it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from services.ingest.domain.checks import check_document

ROOT = Path(__file__).resolve().parents[3]
BASE = (ROOT / "examples" / "orders" / "orders-request-v3.md").read_text(encoding="utf-8")
CASES = (ROOT / "examples" / "orders" / "cases.yaml").read_text(encoding="utf-8")
REF = "${secret:payments-db-password}"

# (id, text in the example, its replacement, block, name reported)
PLACES = [
    (
        "mapping default",
        "COALESCE(dim1.shop_name, '未知店铺')",
        f"COALESCE(dim1.shop_name, '{REF}')",
        "field_mapping",
        REF,
    ),
    ("option value", "'table-name' = 'dim_shop'", f"'table-name' = '{REF}'", "维表1: dim_shop", REF),
    (
        "password option",
        "'username' = 'flink_reader'\n);",
        f"'username' = 'r',\n    'password' = '{REF}'\n);",
        "维表1: dim_shop",
        REF,
    ),
    ("job name", 'name: "订单实时宽表"', f'name: "订单 {REF}"', "job_info", REF),
    ("column comment", "COMMENT '店铺名称'", f"COMMENT '{REF}'", "维表1: dim_shop", REF),
    (
        "SQL comment in DDL",
        "    `shop_name` STRING",
        f"    -- {REF}\n    `shop_name` STRING",
        "维表1: dim_shop",
        REF,
    ),
    ("filter", '"payload.orderAmount >= 0"', f"\"payload.channel <> '{REF}'\"", "special_conditions", REF),
    (
        "join condition",
        'additional_condition: "dim1.shop_status = 1"',
        f"additional_condition: \"dim1.shop_status = 1 AND dim1.shop_name <> '{REF}'\"",
        "join_relationships",
        REF,
    ),
    ("note", "- 准确性要求 >= 99.9%", f"- 准确性要求 {REF}", "数据质量要求", REF),
    ("YAML escape", 'name: "订单实时宽表"', 'name: "订单 \\x24{secret:x}"', "job_info", "job_info.name"),
    (
        "U& literal in a mapping",
        "COALESCE(dim1.shop_name, '未知店铺')",
        "COALESCE(dim1.shop_name, U&'\\\\0024{secret:x}')",
        "field_mapping",
        "field_mapping.shop_name",
    ),
    (
        "U& literal in DDL",
        "'table-name' = 'dim_shop'",
        "'table-name' = U&'\\0024{secret:x}'",
        "维表1: dim_shop",
        "U&'\\0024{secret:x}'",
    ),
]


@pytest.mark.parametrize(("mutation", "old", "new", "block", "name"), PLACES, ids=[p[0] for p in PLACES])
def test_a_secret_reference_anywhere_is_rejected_with_block_line_and_hint(
    mutation: str, old: str, new: str, block: str, name: str
) -> None:
    assert old in BASE
    text = BASE.replace(old, new, 1)
    result = check_document(text)
    assert [e.code for e in result.errors] == ["secrets.reference"], [e.render() for e in result.errors]
    [error] = result.errors
    assert (error.block, error.name) == (block, name)
    assert error.line is not None
    line = text.split("\n")[error.line - 1]
    assert "${" in line or "0024" in line or "x24" in line
    assert "secret reference" in error.hint and "${" in error.message


def test_an_embedded_case_value_and_a_sidecar_case_are_rejected_too() -> None:
    embedded = (
        BASE
        + f'\n```yaml\ncases:\n  - name: c1\n    events: []\n    expected:\n      - {{order_id: "{REF}"}}\n```\n'
    )
    errors = check_document(embedded).errors
    assert "secrets.reference" in {e.code for e in errors}
    assert any(e.block == "cases" for e in errors if e.code == "secrets.reference")
    sidecar = CASES.replace("S001", "${secret:x}", 1)
    assert sidecar != CASES
    [error] = [e for e in check_document(BASE, cases_text=sidecar).errors if e.code == "secrets.reference"]
    assert error.source == "cases" and error.block == "cases"
    assert "${secret:x}" in sidecar.split("\n")[(error.line or 0) - 1]


def test_every_occurrence_is_reported_once() -> None:
    text = BASE.replace("'table-name' = 'dim_shop'", f"'table-name' = '{REF}{REF}'").replace(
        'name: "订单实时宽表"', f'name: "{REF}"'
    )
    errors = [e for e in check_document(text).errors if e.code == "secrets.reference"]
    assert len(errors) == 3
    assert len({e.line for e in errors}) == 2


def test_the_examples_hold_no_reference() -> None:
    for path in sorted((ROOT / "examples").glob("*/*-request-v3.md")):
        cases = (path.parent / "cases.yaml").read_text(encoding="utf-8")
        result = check_document(path.read_text(encoding="utf-8"), cases_text=cases)
        assert result.valid, [e.render() for e in result.errors]
