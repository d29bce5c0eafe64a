"""What a case run changes to stand a JDBC sink in for the result table (the pure part;
tests/integration/validator/test_keyed_stand_in_runs.py runs it)."""

from __future__ import annotations

import pytest

from services.flinksql.ddl import read_create_table
from services.validator.domain.connector_swap import keyed_stand_in_insert

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
