"""Case values (`domain.values`): §8 typing, display, multiset row comparison, the converters
between case data, PostgreSQL text and Flink's JSON format. Pure, no engine."""

from __future__ import annotations

from datetime import UTC, date, datetime
from datetime import time as dtime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from services.flinksql.sqltypes import parse_type
from services.validator.domain.values import (
    compare_rows,
    from_json_value,
    from_pg_text,
    from_pg_value,
    json_cell,
    json_result_rows,
    json_rows_text,
    normalize,
    payload_text,
    render_value,
    text_value,
)

DEC = parse_type("DECIMAL(10, 2)")
LTZ = parse_type("TIMESTAMP_LTZ(3)")
TS = parse_type("TIMESTAMP(3)")
COLUMNS = [("id", parse_type("STRING")), ("amount", DEC), ("n", parse_type("BIGINT"))]


def test_equal_values_in_different_forms_normalise_alike() -> None:
    """It compares decimals by value, floats to 12 digits, integers from text, times from ISO text."""
    assert normalize("12.50", DEC) == normalize(Decimal("12.5"), DEC)
    assert normalize(0.1 + 0.2, parse_type("DOUBLE")) == normalize(0.3, parse_type("DOUBLE"))
    assert normalize("7", parse_type("INT")) == 7
    assert normalize("2024-01-02T03:04:05", TS) == datetime(2024, 1, 2, 3, 4, 5)
    assert normalize(" 2024-01-02 ", parse_type("DATE")) == date(2024, 1, 2)
    assert normalize(5, parse_type("STRING")) == "5"


def test_a_zoned_instant_is_read_in_the_jobs_time_zone() -> None:
    """A TIMESTAMP_LTZ compares as an instant; naive text is wall time in the job's zone."""
    instant = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    shanghai = ZoneInfo("Asia/Shanghai")
    assert normalize(instant, LTZ, shanghai) == instant
    assert normalize("2023-11-15 06:13:20", LTZ, shanghai) == instant


@pytest.mark.parametrize(
    ("value", "type_text"),
    [(True, "INT"), (1.5, "BIGINT"), ("x", "DECIMAL(10, 2)"), ("noon", "TIME"), (1, "BOOLEAN")],
)
def test_an_unreadable_or_mistyped_value_stays_raw(value: object, type_text: str) -> None:
    """It never coerces a bool into a number or a float into an integer: such a value stays raw."""
    assert normalize(value, parse_type(type_text)) == ("raw", repr(value))


def test_render_value_gives_the_section_8_text() -> None:
    """It shows decimals as text, timestamps with milliseconds only when they have some."""
    assert render_value(Decimal("1.50")) == "1.50"
    assert render_value(datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02 03:04:05"
    assert render_value(datetime(2024, 1, 2, 3, 4, 5, 120000)) == "2024-01-02 03:04:05.120"
    assert render_value(date(2024, 1, 2)) == "2024-01-02"
    assert render_value(7) == 7


def test_rows_compare_as_multisets() -> None:
    """It counts duplicates: one produced row does not answer two expected ones."""
    expected = [{"id": "a", "amount": "1.50", "n": 1}, {"id": "a", "amount": "1.50", "n": 1}]
    actual = [{"id": "a", "amount": Decimal("1.5"), "n": 1}, {"id": "b", "amount": None, "n": "2"}]
    diff = compare_rows(expected, actual, COLUMNS)
    assert not diff.equal
    assert diff.missing == ({"id": "a", "amount": "1.50", "n": 1},)
    assert diff.unexpected == ({"id": "b", "amount": None, "n": "2"},)
    assert compare_rows(expected, list(reversed(expected)), COLUMNS).equal


def test_payload_text_follows_section_8() -> None:
    """It writes a mapping as JSON (times as ISO text), keeps a string as is, and None as NULL."""
    assert payload_text({"id": "订单", "at": date(2024, 1, 2)}) == '{"id": "订单", "at": "2024-01-02"}'
    assert payload_text('{"raw": 1') == '{"raw": 1'
    assert payload_text(None) is None
    with pytest.raises(TypeError):
        payload_text({"x": object()})


def test_postgres_text_is_typed_by_the_flink_column() -> None:
    """It reads psql's text forms: 't'/'f' booleans, \\x bytea, ISO dates and times."""
    assert from_pg_text("t", parse_type("BOOLEAN")) is True
    assert from_pg_text("f", parse_type("BOOLEAN")) is False
    assert from_pg_text("\\x00ff", parse_type("BYTES")) == b"\x00\xff"
    assert from_pg_text("12.50", DEC) == Decimal("12.50")
    assert from_pg_text("2024-01-02 03:04:05.12+00", TS) == datetime(2024, 1, 2, 3, 4, 5, 120000, UTC)
    assert from_pg_text("03:04:05", parse_type("TIME")) == dtime(3, 4, 5)
    assert from_pg_text(None, DEC) is None
    assert from_pg_text("x", parse_type("STRING")) == "x"


def test_json_values_are_typed_by_the_flink_column() -> None:
    """It restores the decimal scale Flink's JSON format drops and reads an LTZ stamp as UTC."""
    assert str(from_json_value(Decimal("12.5"), DEC)) == "12.50"
    assert from_json_value("2024-01-02T03:04:05Z", LTZ) == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert from_json_value("2024-01-02 03:04:05", TS) == datetime(2024, 1, 2, 3, 4, 5)
    assert from_json_value("3", parse_type("INT")) == 3
    assert from_json_value(None, DEC) is None


def test_case_values_are_written_as_each_reader_expects() -> None:
    """It writes booleans and times as text for PostgreSQL, and JSON cells by column type."""
    assert text_value(True) == "true"
    assert text_value(datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02 03:04:05"
    assert text_value(dtime(3, 4)) == "03:04:00"
    assert json_cell(None, DEC) == "null"
    assert json_cell(12.5, DEC) == "12.5"
    assert json_cell(7, parse_type("STRING")) == '"7"'
    assert json_cell(datetime(2024, 1, 2), TS) == '"2024-01-02 00:00:00"'
    assert json_cell(True, parse_type("BOOLEAN")) == "true"


def test_dimension_rows_become_json_lines() -> None:
    """It writes every column of the table, a missing one as null, one row per line."""
    columns = [("k", parse_type("STRING"), True), ("v", DEC, False)]
    assert json_rows_text([{"k": "a", "v": "1.5"}, {"k": "b"}], columns) == (
        '{"k": "a", "v": 1.5}\n{"k": "b", "v": null}\n'
    )
    assert json_rows_text([], columns) == ""


def test_a_keyed_json_result_keeps_the_last_row_per_key() -> None:
    """It reads a result like an upsert sink: the last row written per key; without a key, all."""
    lines = ['{"id": "a", "amount": 1.5, "n": 1}', "", '{"id": "a", "amount": 2, "n": 2}']
    assert json_result_rows(lines, COLUMNS, ("id",)) == [{"id": "a", "amount": Decimal("2.00"), "n": 2}]
    assert [r["n"] for r in json_result_rows(lines, COLUMNS, ())] == [1, 2]


def test_booleans_read_back_from_postgresql_keep_true() -> None:
    """Issue 15: PostgreSQL's `true` (a ::text cast) is TRUE, not FALSE; the driver's bool stays."""
    boolean = parse_type("BOOLEAN")
    for text, want in (("true", True), ("TRUE", True), ("t", True), ("false", False), ("f", False)):
        assert from_pg_text(text, boolean) is want
    assert from_pg_text(None, boolean) is None
    with pytest.raises(ValueError, match="boolean"):
        from_pg_text("maybe", boolean)
    assert from_pg_value(True, boolean) is True and from_pg_value(False, boolean) is False
    assert from_pg_value(None, boolean) is None
    assert from_pg_value("true", boolean) is True  # text still goes through from_pg_text


def test_driver_values_are_typed_as_the_flink_column() -> None:
    """psycopg's typed values become the domain's: bytes from a buffer, Decimal kept, ints exact."""
    assert from_pg_value(memoryview(b"\x00\xff"), parse_type("BYTES")) == b"\x00\xff"
    assert from_pg_value(Decimal("12.50"), DEC) == Decimal("12.50")
    assert from_pg_value(7, parse_type("TINYINT")) == 7
    assert from_pg_value(0.5, parse_type("FLOAT")) == 0.5
    assert from_pg_value("它's", parse_type("STRING")) == "它's"
    stamp = datetime(2024, 1, 2, 3, 4, 5, 120000, UTC)
    assert normalize(from_pg_value(stamp, LTZ), LTZ, ZoneInfo("Asia/Shanghai")) == normalize(
        "2024-01-02 11:04:05.120", LTZ, ZoneInfo("Asia/Shanghai")
    )


def test_float_compares_at_single_precision() -> None:
    """FLOAT is an IEEE single: PostgreSQL's shortest `real` text and Flink's widened single agree."""
    real = parse_type("FLOAT")
    assert normalize(-5.781669e16, real) == normalize(-5.7816689e16, real)
    assert normalize(0.1, real) == normalize(0.10000000149011612, real)
    assert normalize(1e300, real) == normalize(1e300, parse_type("DOUBLE"))  # beyond a single: as is
    assert normalize(bytearray(b"\x01"), parse_type("BYTES")) == normalize(b"\x01", parse_type("BYTES"))
