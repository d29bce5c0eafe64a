"""Issue 14 item 5, door 2: no option key or value holds CR, LF, `--`, `/*` or `*/`.

The generator copies option keys and values into the SQL it writes. Inside a quoted literal
they are harmless to Flink, but an external SQL runner that cuts a script by lines or strips
`--` / `/* */` comments without lexing would cut the statement there. Each document below is
the orders example with one such option; before this check each passed `check` (its only
error now is `ddl.option_literal`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from services.ingest.domain.check_tables import unsafe_in_option
from services.ingest.domain.checks import check_document

ROOT = Path(__file__).resolve().parents[3]
BASE = (ROOT / "examples" / "orders" / "orders-request-v3.md").read_text(encoding="utf-8")
RESULT_OPTION = "'tableName' = 'dwd_order_wide'"
DIM_OPTION = "'table-name' = 'dim_shop'"

HOSTILE = [
    (
        "dash comment in a value",
        RESULT_OPTION,
        "'tableName' = 'dwd_order_wide -- ; DROP TABLE x'",
        "value",
        "'--'",
    ),
    ("block comment in a value", RESULT_OPTION, "'tableName' = 'dwd_order_wide /* x'", "value", "'/*'"),
    ("comment end in a value", RESULT_OPTION, "'tableName' = 'dwd_order_wide */'", "value", "'*/'"),
    ("line break in a value", DIM_OPTION, "'table-name' = 'dim_shop\n; DROP TABLE x'", "value", "line break"),
    (
        "carriage return by U& escape",
        DIM_OPTION,
        "'table-name' = U&'dim_shop\\000D'",
        "value",
        "carriage return",
    ),
    ("comment marker in a key", DIM_OPTION, "'table-name--x' = 'dim_shop'", "key", "'--'"),
]


@pytest.mark.parametrize(("mutation", "old", "new", "what", "shown"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_an_option_literal_with_a_line_break_or_comment_marker_is_rejected(
    mutation: str, old: str, new: str, what: str, shown: str
) -> None:
    assert old in BASE
    text = BASE.replace(old, new, 1)
    result = check_document(text)
    assert [e.code for e in result.errors] == ["ddl.option_literal"], [e.render() for e in result.errors]
    [error] = result.errors
    key = new.split("'")[1]
    assert error.name == key
    assert f"the {what} of option {key!r}" in error.message and shown in error.message
    assert error.block == ("result table" if old == RESULT_OPTION else "维表1: dim_shop")
    assert error.line is not None and key in text.split("\n")[error.line - 1]
    assert "'--'" in error.hint


def test_urls_semicolons_and_single_slashes_stay_valid() -> None:
    text = BASE.replace(RESULT_OPTION, "'tableName' = 'a;b//c/d*e-f'", 1)
    assert check_document(text).valid
    assert unsafe_in_option("jdbc:mysql://h:3306/db?x=1") is None
    assert [unsafe_in_option(t) for t in ("a\rb", "a\nb", "a--b", "a/*b", "a*/b")] == [
        "a carriage return (CR)",
        "a line break (LF)",
        "'--'",
        "'/*'",
        "'*/'",
    ]
