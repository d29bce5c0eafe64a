"""A private, throw-away PostgreSQL server for data-accuracy runs.

`PrivatePostgres` runs `initdb` into a fresh temp directory and starts `postgres` on a free
port, listening on 127.0.0.1 only, with its unix socket inside the temp directory and trust
authentication (nothing else can reach it). The server is unlogged-fast (fsync off): its data
lives for one process. SQL goes through the `psql` CLI. `stop()` (also run by `__exit__`, by
a finalizer and at interpreter exit) shuts the server down and deletes the directory.

PostgreSQL refuses to run as root; when we are root, initdb and postgres run as an
unprivileged user (`postgres` when it exists, else `nobody`) that owns the temp directory.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

# string-literal quoting is pure (the domain builds case schemas with it); exported here too,
# for callers that send their own SQL through this server
from services.validator.domain.pg_schema import literal

DATABASE = "streamwright"
SUPERUSER = "streamwright"
_BINARIES = ("initdb", "postgres")


class PostgresUnavailable(RuntimeError):
    """PostgreSQL binaries are missing or the server did not start."""


class PostgresError(RuntimeError):
    """A statement sent through psql failed."""


def find_binaries() -> dict[str, Path]:
    """initdb, postgres and psql: from PATH, else the newest /usr/lib/postgresql/<v>/bin."""
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
    missing = [n for n in (*_BINARIES, "psql") if n not in found]
    if missing:
        raise PostgresUnavailable(
            f"PostgreSQL binaries not found: {', '.join(missing)} (install PostgreSQL 14+ server "
            "and client, e.g. apt-get install postgresql, or put its bin directory on PATH)"
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
            probe = subprocess.run(
                [*self._psql_cmd("postgres"), "-c", "SELECT 1"],
                capture_output=True,
                check=False,
            )
            if probe.returncode == 0:
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        """Shut down and delete the data directory (idempotent)."""
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

    def _psql_cmd(self, database: str) -> list[str]:
        return [
            str(self._bins["psql"]),
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            str(self.socket_dir),
            "-p",
            str(self.port),
            "-U",
            SUPERUSER,
            "-d",
            database,
        ]

    def execute(self, sql: str, *, database: str = DATABASE) -> str:
        """Run a SQL script through psql (stops at the first error); return its output."""
        if not self.running:
            raise PostgresError("the private PostgreSQL server is not running")
        proc = subprocess.run(
            [*self._psql_cmd(database), "-At"],
            input=sql,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise PostgresError(proc.stderr.strip() or f"psql exited with {proc.returncode}")
        return proc.stdout

    def query_text(self, sql: str, columns: Sequence[str]) -> list[list[str | None]]:
        """Rows of a SELECT, every listed column as PostgreSQL text (None for NULL).

        Values travel as JSON arrays of text, so NULL, '' and any character stay distinct.
        """
        cols = ", ".join(f"({_ident(c)})::text" for c in columns)
        out = self.execute(f"SELECT json_build_array({cols}) FROM ({sql}) AS q")  # noqa: S608 (our own SQL)
        return [json.loads(line) for line in out.splitlines() if line.strip()]


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
