"""A private, throw-away PostgreSQL server for data-accuracy runs.

`PrivatePostgres` runs `initdb` into a fresh temp directory and starts `postgres` on a free
port, listening on 127.0.0.1 only, with its unix socket inside the temp directory and trust
authentication (nothing else can reach it). The server is unlogged-fast (fsync off): its data
lives for one process. SQL goes through psycopg 3, one autocommit connection per database
(over the unix socket, session time zone UTC), shared by every call and guarded by a lock;
`query` returns typed values (bool, int, Decimal, float, str, date, time, datetime, bytes), so
nothing is parsed back from text. `stop()` (also run by `__exit__`, by a finalizer and at
interpreter exit) closes the connections, shuts the server down and deletes the directory.

PostgreSQL refuses to run as root; when we are root, initdb and postgres run as an
unprivileged user (`postgres` when it exists, else `nobody`) that owns the temp directory.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

# string-literal quoting is pure (the domain builds case schemas with it); exported here too,
# for callers that send their own SQL through this server
from services.validator.domain.pg_schema import literal

if TYPE_CHECKING:
    import psycopg

DATABASE = "streamwright"
SUPERUSER = "streamwright"
_BINARIES = ("initdb", "postgres")


class PostgresUnavailable(RuntimeError):
    """PostgreSQL binaries are missing or the server did not start."""


class PostgresError(RuntimeError):
    """A statement sent to the server failed."""


def find_binaries() -> dict[str, Path]:
    """initdb and postgres (and psql when there): from PATH, else the newest
    /usr/lib/postgresql/<v>/bin."""
    found: dict[str, Path] = {}
    lib_dirs = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for name in (*_BINARIES, "psql"):
        hit = shutil.which(name)
        if hit is None:
            hit = next((str(d / name) for d in lib_dirs if (d / name).is_file()), None)
        if hit is not None:
            found[name] = Path(hit)
    missing = [n for n in _BINARIES if n not in found]
    if missing:
        raise PostgresUnavailable(
            f"PostgreSQL binaries not found: {', '.join(missing)} (install PostgreSQL 14+ server, "
            "e.g. apt-get install postgresql, or put its bin directory on PATH)"
        )
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_as_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresUnavailable("running as root and no unprivileged user (postgres, nobody) exists")


def _shutdown(proc: subprocess.Popen[bytes], root: Path) -> None:
    """Fast shutdown (SIGINT), then SIGKILL; remove the directory. Safe to call twice."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    shutil.rmtree(root, ignore_errors=True)


class PrivatePostgres:
    """One private PostgreSQL server; use as a context manager or call start()/stop()."""

    def __init__(self, *, base_dir: Path | None = None, start_timeout: float = 30.0) -> None:
        self._base_dir = base_dir
        self._start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self.root: Path | None = None
        self.port = 0
        self.start_seconds = 0.0
        self._bins: dict[str, Path] = {}
        self._connections: dict[str, psycopg.Connection[Any]] = {}
        self._sql_lock = threading.RLock()

    # ------------------------------------------------------------ lifecycle

    def __enter__(self) -> PrivatePostgres:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def socket_dir(self) -> Path:
        assert self.root is not None, "not started"
        return self.root / "socket"

    def start(self) -> PrivatePostgres:
        if self.running:
            return self
        _driver()  # fail before initdb when psycopg is missing
        started = time.perf_counter()
        self._bins = find_binaries()
        user = _run_as_user()
        self.root = Path(tempfile.mkdtemp(prefix="sw-pg-", dir=self._base_dir))
        data, sock = self.root / "data", self.root / "socket"
        sock.mkdir()
        run_as: dict[str, Any] = {}
        if user is not None:
            for path in (self.root, sock):
                os.chown(path, user.pw_uid, user.pw_gid)
            run_as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
        init = subprocess.run(
            [
                str(self._bins["initdb"]),
                "-D",
                str(data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=self.root,
            check=False,
            **run_as,
        )
        if init.returncode != 0:
            shutil.rmtree(self.root, ignore_errors=True)
            raise PostgresUnavailable(f"initdb failed: {init.stderr.strip()[-800:]}")
        self._launch(data, sock, env, run_as)
        self.execute(f"CREATE DATABASE {DATABASE}", database="postgres")
        self.start_seconds = time.perf_counter() - started
        return self

    def _launch(self, data: Path, sock: Path, env: dict[str, str], run_as: dict[str, Any]) -> None:
        assert self.root is not None
        log = (self.root / "server.log").open("wb")
        for _attempt in range(3):
            self.port = _free_port()
            self._proc = subprocess.Popen(
                [
                    str(self._bins["postgres"]),
                    "-D",
                    str(data),
                    "-p",
                    str(self.port),
                    "-k",
                    str(sock),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=50",
                    "-c",
                    "shared_buffers=16MB",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.root,
                start_new_session=True,
                **run_as,
            )
            self._finalizer = weakref.finalize(self, _shutdown, self._proc, self.root)
            atexit.register(self._finalizer)
            if self._wait_ready():
                log.close()
                return
            if self._proc.poll() is None:
                break
        log.close()
        tail = (self.root / "server.log").read_text(errors="replace")[-800:]
        self.stop()
        raise PostgresUnavailable(f"postgres did not start: {tail}")

    def _wait_ready(self) -> bool:
        assert self._proc is not None
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            try:
                self._connection("postgres").execute("SELECT 1")
            except Exception:  # not accepting connections yet
                self._close_connections()
                time.sleep(0.05)
                continue
            return True
        return False

    def stop(self) -> None:
        """Shut down and delete the data directory (idempotent)."""
        self._close_connections()
        if self._finalizer is not None:
            atexit.unregister(self._finalizer)
            self._finalizer()
            self._finalizer = None
        elif self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
        self._proc = None

    # ------------------------------------------------------------ SQL

    def jdbc_url(self, database: str = DATABASE) -> str:
        return f"jdbc:postgresql://127.0.0.1:{self.port}/{database}?user={SUPERUSER}"

    def _connection(self, database: str) -> psycopg.Connection[Any]:
        """The shared autocommit connection to `database` (made on first use)."""
        conn = self._connections.get(database)
        if conn is None or conn.closed:
            conn = _driver().connect(
                host=str(self.socket_dir),
                port=self.port,
                user=SUPERUSER,
                dbname=database,
                autocommit=True,
                connect_timeout=5,
                options="-c TimeZone=UTC",
            )
            self._connections[database] = conn
        return conn

    def _close_connections(self) -> None:
        with self._sql_lock:
            for conn in self._connections.values():
                with contextlib.suppress(Exception):
                    conn.close()
            self._connections.clear()

    def execute(self, sql: str, *, database: str = DATABASE) -> None:
        """Run a SQL script (one or more statements; stops at the first error)."""
        self._run(sql, database=database)

    def query(self, sql: str, *, database: str = DATABASE) -> list[tuple[Any, ...]]:
        """Rows of a SELECT with typed values (psycopg's: NULL is None, bytea is bytes)."""
        return self._run(sql, database=database, fetch=True)

    def _run(self, sql: str, *, database: str, fetch: bool = False) -> list[tuple[Any, ...]]:
        if not self.running:
            raise PostgresError("the private PostgreSQL server is not running")
        psycopg = _driver()
        with self._sql_lock:
            try:
                conn = self._connection(database)
                with conn.cursor() as cur:
                    cur.execute(sql.encode())  # bytes: no placeholders, many statements allowed
                    if not fetch:
                        return []
                    return [tuple(row) for row in cur.fetchall()]
            except psycopg.OperationalError as exc:
                self._connections.pop(database, None)  # a broken connection is made anew
                raise PostgresError(str(exc).strip()) from exc
            except psycopg.Error as exc:
                raise PostgresError(str(exc).strip()) from exc

    def query_text(self, sql: str, columns: Sequence[str]) -> list[list[str | None]]:
        """Rows of a SELECT, every listed column as PostgreSQL text (None for NULL)."""
        cols = ", ".join(f"({_ident(c)})::text" for c in columns)
        return [list(row) for row in self.query(f"SELECT {cols} FROM ({sql}) AS q")]  # noqa: S608 (our own SQL)


def _driver() -> Any:
    """The psycopg module (the validator extra), or PostgresUnavailable naming it."""
    try:
        import psycopg
    except ImportError as exc:
        raise PostgresUnavailable("psycopg is not installed (pip install 'streamwright[validator]')") from exc
    return psycopg


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


__all__ = [
    "DATABASE",
    "SUPERUSER",
    "PostgresError",
    "PostgresUnavailable",
    "PrivatePostgres",
    "find_binaries",
    "literal",
]
