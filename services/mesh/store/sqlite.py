"""SQLite adapter of the document store: the embedded default, one file per service.

Layout: ONE table, `documents(collection, key, version, doc)` with the primary key
(collection, key), rather than a table per collection. Why:
- no identifier is ever spliced into SQL: collection names are bound parameters and field
  names reach SQL only as bound JSON paths (`json_extract(doc, ?)`), so even a name that
  slipped past validation could not change a statement;
- the schema is created once, lazily, on the first call; there is no per-collection DDL
  racing between processes, and a new collection costs nothing;
- the clustered primary key (WITHOUT ROWID) keeps each collection's rows together in key
  order, which is what `find` and `count` scan.
Each service has its own file, so a table per collection would buy no isolation.

Concurrency: each store owns one connection, used only by one worker thread; every call
is sent to that thread, so coroutines never share a connection concurrently and the event
loop never blocks on disk. Between processes (or several stores on one file), the file is
in WAL mode (readers never block the writer), every write runs in `BEGIN IMMEDIATE` (the
write lock is taken before anything is read, so a compare-and-set cannot interleave with
another writer), and lock waits are bounded by the busy timeout. `synchronous=FULL`: a
write that returned survives a power cut, because consumers commit their Kafka offsets
right after it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from services.mesh.store.base import (
    Scalar,
    StoreClosed,
    Stored,
    VersionConflict,
    check_expected_version,
    check_key,
    check_name,
    check_page,
    to_document,
    to_filter,
)

__all__ = ["SQLiteDocumentStore"]

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    collection TEXT NOT NULL,
    key        TEXT NOT NULL,
    version    INTEGER NOT NULL CHECK (version >= 1),
    doc        TEXT NOT NULL CHECK (json_valid(doc)),
    PRIMARY KEY (collection, key)
) WITHOUT ROWID
"""

# BSON's order between types (what MongoDB sorts by), so both adapters order alike:
# null/missing < numbers < strings < objects < arrays < booleans.
_TYPE_RANK = (
    "CASE json_type(doc, ?) WHEN 'integer' THEN 1 WHEN 'real' THEN 1 WHEN 'text' THEN 2 "
    "WHEN 'object' THEN 3 WHEN 'array' THEN 4 WHEN 'true' THEN 5 WHEN 'false' THEN 5 ELSE 0 END"
)


def _path(field: str) -> str:
    return f"$.{field}"  # field is a checked identifier, and the path is bound, never spliced


def _encode(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _term_sql(field: str, values: list[Scalar]) -> tuple[str, list[Any]]:
    """SQL (placeholders only) matching `field` against any of `values`, type-strictly."""
    path = _path(field)
    parts: list[str] = []
    params: list[Any] = []
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    strings = [v for v in values if isinstance(v, str)]
    if any(v is None for v in values):
        parts.append("json_extract(doc, ?) IS NULL")  # JSON null or missing
        params.append(path)
    for flag in (True, False):
        if any(v is flag for v in values):
            parts.append("json_type(doc, ?) = ?")
            params += [path, "true" if flag else "false"]
    if numbers:
        marks = ", ".join("?" * len(numbers))
        parts.append(f"(json_type(doc, ?) IN ('integer', 'real') AND json_extract(doc, ?) IN ({marks}))")
        params += [path, path, *numbers]
    if strings:
        marks = ", ".join("?" * len(strings))
        parts.append(f"(json_type(doc, ?) = 'text' AND json_extract(doc, ?) IN ({marks}))")
        params += [path, path, *strings]
    if not parts:
        return "0", []  # an empty "any of" matches nothing
    return "(" + " OR ".join(parts) + ")", params


def _where_sql(collection: str, where: Mapping[str, Any] | None) -> tuple[str, list[Any]]:
    clauses = ["collection = ?"]
    params: list[Any] = [collection]
    for field, values in to_filter(where):
        sql, term_params = _term_sql(field, values)
        clauses.append(sql)
        params += term_params
    return " AND ".join(clauses), params


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return (code & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    message = str(exc).lower()
    return "locked" in message or "busy" in message


class SQLiteDocumentStore:
    """`DocumentStore` on one SQLite file (created on first use, with its directory)."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None  # only ever touched by the worker thread
        self._closed = False

    def __repr__(self) -> str:
        return f"SQLiteDocumentStore({str(self.path)!r})"

    # -- plumbing -------------------------------------------------------------------------

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise StoreClosed(f"{self!r} is closed")
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(self._call, fn))

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None:
            self._conn = self._connect()
        return fn(self._conn)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; writes say BEGIN IMMEDIATE themselves.
        conn = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None)
        try:
            conn.execute("PRAGMA synchronous = FULL")
            self._initialize(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _initialize(self, conn: sqlite3.Connection) -> None:
        """Switch the file to WAL and create the schema, both at most once per file.

        Changing the journal mode of a file another connection is opening can fail with
        "database is locked" at once, without waiting for the busy timeout (seen with two
        connections opening a new file together), so this retries for up to that timeout.
        """
        deadline = time.monotonic() + self._busy_timeout
        delay = 0.002
        while True:
            try:
                if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                conn.execute(_SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    @staticmethod
    def _write(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    @staticmethod
    def _version(conn: sqlite3.Connection, collection: str, key: str) -> int:
        row = conn.execute(
            "SELECT version FROM documents WHERE collection = ? AND key = ?", (collection, key)
        ).fetchone()
        return 0 if row is None else int(row[0])

    # -- DocumentStore ----------------------------------------------------------------------

    async def get(self, collection: str, key: str) -> Stored | None:
        check_name(collection)
        check_key(key)

        def op(conn: sqlite3.Connection) -> Stored | None:
            row = conn.execute(
                "SELECT version, doc FROM documents WHERE collection = ? AND key = ?", (collection, key)
            ).fetchone()
            return None if row is None else Stored(key, int(row[0]), json.loads(row[1]))

        return await self._run(op)

    async def insert(self, collection: str, key: str, doc: Mapping[str, Any]) -> bool:
        check_name(collection)
        check_key(key)
        text = _encode(to_document(doc))

        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "INSERT INTO documents (collection, key, version, doc) VALUES (?, ?, 1, ?) "
                "ON CONFLICT (collection, key) DO NOTHING",
                (collection, key, text),
            )
            return cur.rowcount == 1

        return await self._run(partial(self._write, fn=op))

    async def put(
        self,
        collection: str,
        key: str,
        doc: Mapping[str, Any],
        *,
        expected_version: int | None = None,
    ) -> int:
        check_name(collection)
        check_key(key)
        check_expected_version(expected_version)
        text = _encode(to_document(doc))

        def op(conn: sqlite3.Connection) -> int:
            if expected_version is None:
                conn.execute(
                    "INSERT INTO documents (collection, key, version, doc) VALUES (?, ?, 1, ?) "
                    "ON CONFLICT (collection, key) DO UPDATE SET version = version + 1, doc = excluded.doc",
                    (collection, key, text),
                )
                return self._version(conn, collection, key)
            if expected_version == 0:
                cur = conn.execute(
                    "INSERT INTO documents (collection, key, version, doc) VALUES (?, ?, 1, ?) "
                    "ON CONFLICT (collection, key) DO NOTHING",
                    (collection, key, text),
                )
            else:
                cur = conn.execute(
                    "UPDATE documents SET version = version + 1, doc = ? "
                    "WHERE collection = ? AND key = ? AND version = ?",
                    (text, collection, key, expected_version),
                )
            if cur.rowcount != 1:
                actual = self._version(conn, collection, key)
                raise VersionConflict(collection, key, expected_version, actual)
            return expected_version + 1

        return await self._run(partial(self._write, fn=op))

    async def delete(self, collection: str, key: str) -> bool:
        check_name(collection)
        check_key(key)

        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute("DELETE FROM documents WHERE collection = ? AND key = ?", (collection, key))
            return cur.rowcount == 1

        return await self._run(partial(self._write, fn=op))

    async def find(
        self,
        collection: str,
        *,
        where: Mapping[str, Any] | None = None,
        order_by: str | None = None,
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Stored]:
        check_name(collection)
        check_page(limit, offset)
        where_sql, params = _where_sql(collection, where)
        direction = "DESC" if descending else "ASC"
        if order_by is None:
            order_sql = f"key {direction}"
        else:
            path = _path(check_name(order_by, "field"))
            order_sql = f"{_TYPE_RANK} {direction}, json_extract(doc, ?) {direction}, key ASC"
            params += [path, path]
        params += [-1 if limit is None else limit, offset]
        sql = (
            f"SELECT key, version, doc FROM documents WHERE {where_sql} "  # noqa: S608 - placeholders only
            f"ORDER BY {order_sql} LIMIT ? OFFSET ?"
        )

        def op(conn: sqlite3.Connection) -> list[Stored]:
            return [Stored(k, int(v), json.loads(d)) for k, v, d in conn.execute(sql, params)]

        return await self._run(op)

    async def count(self, collection: str, *, where: Mapping[str, Any] | None = None) -> int:
        check_name(collection)
        where_sql, params = _where_sql(collection, where)
        sql = f"SELECT count(*) FROM documents WHERE {where_sql}"  # noqa: S608 - placeholders only

        def op(conn: sqlite3.Connection) -> int:
            return int(conn.execute(sql, params).fetchone()[0])

        return await self._run(op)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        executor, self._executor = self._executor, None
        if executor is None:
            return

        def shut() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        try:
            await asyncio.get_running_loop().run_in_executor(executor, shut)
        finally:
            executor.shutdown(wait=False)
