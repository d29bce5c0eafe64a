"""A mapping the job must CAST to its result column type, where that CAST fails on a bad value.

request-format §5 has the job CAST a mapping to its column's type; §3 says a job must not fail
on a bad event. Text into DECIMAL (h78: payload.orderId into amount) raises on Flink at run time
(NumberFormatException), so check warns, naming the column and its line, with TRY_CAST as the fix.
"""

from __future__ import annotations

from services.ingest.domain.checks import check_document
from tests.unit.ingest.hostile_base import BASE, line_of, replaced


def test_text_mapped_into_a_decimal_column_is_a_warning_at_its_line() -> None:
    text = replaced('  amount: "CAST(payload.amount AS DECIMAL(12, 2))"', '  amount: "payload.orderId"')
    result = check_document(text)
    assert result.valid
    [warning] = [w for w in result.warnings if w.code == "types.cast_may_fail"]
    assert warning.line == line_of(text, "  amount: ")
    assert "STRING" in warning.message and "DECIMAL(12, 2)" in warning.message
    assert "TRY_CAST" in warning.hint


def test_no_warning_where_the_cast_cannot_fail_or_is_already_try_cast() -> None:
    assert not [w for w in check_document(BASE).warnings if w.code == "types.cast_may_fail"]
    text = replaced(
        '  amount: "CAST(payload.amount AS DECIMAL(12, 2))"',
        '  amount: "TRY_CAST(payload.orderId AS DECIMAL(12, 2))"',
    )
    assert not [w for w in check_document(text).warnings if w.code == "types.cast_may_fail"]
