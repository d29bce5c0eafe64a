"""Hostile leftovers: control characters spelled by YAML escapes, request parts hidden in HTML
comments, and case values the runner cannot use (DECIMAL text, non-finite payload numbers)."""

from __future__ import annotations

import pytest

from services.ingest.domain.checks import check_document
from tests.unit.ingest.hostile_base import BASE, line_of, replaced

NOTE = '  note: "payload.note"'


@pytest.mark.parametrize(("escape", "code_point"), [("\\0", 0), ("\\x07", 7), ("\\e", 0x1B), ("\\x85", 0x85)])
def test_a_control_character_escape_in_a_mapping_is_rejected_at_its_line(
    escape: str, code_point: int
) -> None:
    text = replaced(NOTE, f"  note: \"CONCAT(payload.note, '{escape}')\"")
    result = check_document(text)
    [error] = result.errors
    assert error.code == "names.control_character"
    assert error.line == line_of(text, "  note: ")
    assert error.block == "field_mapping" and error.name == "field_mapping.note"
    assert f"U+{code_point:04X}" in error.message
    assert f"U&'\\{code_point:04X}'" in error.hint


def test_a_control_character_in_a_filter_and_in_the_job_name_is_rejected() -> None:
    text = replaced('    - "payload.orderId IS NOT NULL"', "    - \"payload.orderId <> '\\0'\"")
    text = replaced('  name: "base"', '  name: "ba\\x1bse"', text)
    errors = check_document(text).errors
    assert [(e.code, e.name) for e in errors] == [
        ("names.control_character", "job_info.name"),
        ("names.control_character", "special_conditions.data_filters.0"),
    ]


def test_tabs_and_line_breaks_and_unicode_escapes_stay_accepted() -> None:
    text = replaced(NOTE, "  note: \"CONCAT(payload.note,\\t\\n U&'\\\\0041')\"")
    assert check_document(text).valid, [e.render() for e in check_document(text).errors]


HIDDEN = (
    "<!--\n```yaml\nspecial_conditions:\n  data_filters:\n    - \"payload.note = 'backdoor'\"\n```\n-->\n"
)


def test_a_yaml_block_inside_an_html_comment_is_ignored_with_a_warning() -> None:
    start = BASE.index("## Special conditions")
    text = BASE[:start] + HIDDEN + "\n" + BASE[start:]
    result = check_document(text)
    assert result.spec is not None and result.valid
    assert [f.text for f in result.spec.filters] == ["payload.orderId IS NOT NULL"]  # not the hidden one
    [warning] = [w for w in result.warnings if w.code == "markdown.hidden_by_comment"]
    assert warning.line == line_of(text, "<!--")
    assert f"```yaml block at line {line_of(text, '<!--') + 1}" in warning.message


def test_a_comment_without_blocks_or_headings_is_silent() -> None:
    start = BASE.index("## Special conditions")
    text = BASE[:start] + "<!-- reviewed by ops -->\n" + BASE[start:]
    result = check_document(text)
    assert result.valid and not [w for w in result.warnings if w.code == "markdown.hidden_by_comment"]


def test_an_unclosed_comment_hides_the_rest_and_says_so() -> None:
    start = BASE.index("## Special conditions")
    text = BASE[:start] + "<!-- draft\n" + BASE[start:]
    result = check_document(text)
    [warning] = [w for w in result.warnings if w.code == "markdown.hidden_by_comment"]
    assert "never closed" in warning.message and "to the end" in warning.message


def test_a_fence_holding_a_comment_marker_is_still_a_block() -> None:
    text = replaced('  note: "payload.note"', '  note: "payload.note"\n# <!-- not a comment here', BASE)
    assert check_document(text).valid


CASES = """
## Test cases
```yaml
cases:
  - name: c1
    events:
      - {domain: "shop", type: "order_paid", payload: {orderId: "O1", shopId: "S1", amount: AMOUNT, note: "n"}}
    dimensions:
      dim_shop:
        - {shop_id: "S1", shop_name: "Shop 1"}
    expected:
      - {order_id: "O1", shop_name: "Shop 1", amount: EXPECTED, note: "n"}
```
"""


def _with_case(amount: str = "1.005", expected: str = '"1.01"') -> str:
    return BASE + CASES.replace("AMOUNT", amount).replace("EXPECTED", expected)


def test_a_good_case_is_accepted() -> None:
    assert check_document(_with_case()).valid
    assert check_document(_with_case(expected="1.01")).valid
    assert check_document(_with_case(expected="null")).valid


@pytest.mark.parametrize("expected", ['"abc"', '"1,01"', ".nan", "true", '""'])
def test_an_expected_decimal_that_is_not_a_number_is_rejected(expected: str) -> None:
    text = _with_case(expected=expected)
    [error] = check_document(text).errors
    assert error.code == "cases.bad_value"
    assert error.line == line_of(text, 'order_id: "O1"')
    assert error.name == "amount" and "DECIMAL(12, 2)" in error.message


@pytest.mark.parametrize("amount", [".nan", ".inf", "-.Inf"])
def test_a_non_finite_payload_number_is_rejected(amount: str) -> None:
    text = _with_case(amount=amount)
    [error] = check_document(text).errors
    assert error.code == "cases.bad_payload"
    assert error.line == line_of(text, "payload: {")
    assert error.name == "amount"
