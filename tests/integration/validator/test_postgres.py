"""The private PostgreSQL server: start, SQL through psql, clean stop."""

from __future__ import annotations

import os
import time

import pytest

from services.validator.adapters.postgres import PostgresError, PrivatePostgres
from services.validator.domain.pg_schema import literal

pytestmark = pytest.mark.integration


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purposes; PrivatePostgres waits for its child, so none remains
    return True


def test_starts_runs_sql_and_stops_without_leftovers() -> None:
    """It starts on 127.0.0.1, keeps NULL and '' apart, and leaves no process or directory behind."""
    with PrivatePostgres() as pg:
        print(f"\nPostgreSQL start: {pg.start_seconds:.2f} s (port {pg.port})")
        assert pg.pid is not None and pg.root is not None
        pid, root = pg.pid, pg.root
        running_inside = pg.running
        assert pg.jdbc_url().startswith(f"jdbc:postgresql://127.0.0.1:{pg.port}/")
        quoted = literal("它's")
        pg.execute(
            "CREATE TABLE t (k text PRIMARY KEY, n numeric(12, 2), s text);"
            f"INSERT INTO t VALUES ('a', 1.5, {literal('')}), ('b', NULL, NULL), ('c', 2, {quoted});"
        )
        rows = pg.query_text("SELECT * FROM t ORDER BY k", ["k", "n", "s"])
        assert rows == [["a", "1.50", ""], ["b", None, None], ["c", "2.00", "它's"]]
        with pytest.raises(PostgresError, match="does_not_exist"):
            pg.execute("SELECT * FROM does_not_exist")
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)
    assert not root.exists()
    assert running_inside and not pg.running
    pg.stop()  # idempotent
