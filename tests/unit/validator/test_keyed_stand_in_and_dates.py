"""What a case run changes to stand a JDBC sink in for the result table, and how it reads dates
and timestamps back (pure parts; tests/integration/validator/test_keyed_stand_in_runs.py runs them)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from services.flinksql.ddl import read_create_table
from services.flinksql.sqltypes import parse_type
from services.validator.domain.connector_swap import keyed_stand_in_insert
from services.validator.domain.pg_schema import result_row, result_select

INSERT = "INSERT INTO r SELECT id, n FROM src -- the last line is a comment"


def _table(connector: str, *, key: bool = True) -> object:
    pk = ", PRIMARY KEY (id) NOT ENFORCED" if key else ""
    return read_create_table(
        f"CREATE TABLE r (id STRING NOT NULL, n INT{pk}) WITH ('connector' = '{connector}')", strict=False
    )


@pytest.mark.parametrize("connector", ["print", "blackhole", "filesystem", "kafka", "PRINT"])
def test_a_keyed_append_only_result_gets_deduplicate_for_the_upsert_stand_in(connector: str) -> None:
    """The keyed print (...) sink's INSERT gains ON CONFLICT DO DEDUPLICATE on its own line (after
    a trailing comment), and the change is a swap."""
    text, swaps = keyed_stand_in_insert(INSERT, _table(connector))  # type: ignore[arg-type]
    assert text == INSERT + "\nON CONFLICT DO DEDUPLICATE"
    [swap] = swaps
    assert (swap.option, swap.from_value, swap.to_value) == ("ON CONFLICT", None, "DO DEDUPLICATE")


@pytest.mark.parametrize(
    ("insert", "connector", "key"),
    [
        (INSERT, "print", False),  # no key: the stand-in is append-only too
        (INSERT, "jdbc", True),  # an upsert sink: the job's own lack of a clause is the job's
        (INSERT, "upsert-kafka", True),
        ("INSERT INTO r SELECT id, n FROM src ON CONFLICT DO NOTHING", "print", True),  # kept as written
        ("INSERT INTO r SELECT id, n FROM src;", "jdbc", True),
    ],
)
def test_otherwise_the_insert_is_unchanged(insert: str, connector: str, key: bool) -> None:
    text, swaps = keyed_stand_in_insert(insert, _table(connector, key=key))  # type: ignore[arg-type]
    assert (text, swaps) == (insert, [])


def test_a_trailing_semicolon_is_not_left_before_the_clause() -> None:
    text, _ = keyed_stand_in_insert("INSERT INTO r SELECT id, n FROM src ;  ", _table("print"))  # type: ignore[arg-type]
    assert text == "INSERT INTO r SELECT id, n FROM src\nON CONFLICT DO DEDUPLICATE"


COLUMNS = [
    ("id", parse_type("STRING")),
    ("d", parse_type("DATE")),
    ("ts", parse_type("TIMESTAMP(3)")),
    ("amount", parse_type("DECIMAL(10, 2)")),
]


def test_dates_and_timestamps_are_selected_guarded_and_as_text() -> None:
    sql = result_select("s.r", COLUMNS)
    assert sql == (
        "SELECT id, CASE WHEN d >= '0001-01-01' AND d < '10000-01-01' THEN d END, d::text, "
        "CASE WHEN ts >= '0001-01-01' AND ts < '10000-01-01' THEN ts END, ts::text, amount FROM s.r"
    )


def test_a_value_python_holds_is_typed_and_one_it_cannot_stays_text() -> None:
    """In range: the driver's value, typed; past year 9999 (Flink's TO_DATE on text that does
    not parse): PostgreSQL's text, so the comparison shows what the job wrote; NULL stays None."""
    stamp = datetime(2025, 1, 6, 9, 15, 30, 250000)
    typed = result_row(COLUMNS, ["a", date(2025, 1, 6), "2025-01-06", stamp, str(stamp), Decimal("1.50")])
    assert typed == {"id": "a", "d": date(2025, 1, 6), "ts": stamp, "amount": Decimal("1.50")}
    far = result_row(COLUMNS, ["b", None, "1705471-09-27", None, "294276-01-01 00:00:00", None])
    assert far == {"id": "b", "d": "1705471-09-27", "ts": "294276-01-01 00:00:00", "amount": None}
    assert result_row(COLUMNS, ["c", None, None, None, None, None])["d"] is None
