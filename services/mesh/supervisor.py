"""`streamwright up`: the embedded broker plus every service that exists, each its own process.

A service exists when `services.<name>.entrypoints.main` is importable; it is started as
`python -m services.<name>.entrypoints.main` with its ports and the broker address in its
environment, its output going to `<home>/logs/<name>.log`.

Broker: when STREAMWRIGHT_BOOTSTRAP_SERVERS is set, the supervisor uses that (already
running) cluster and starts none; otherwise it starts the embedded Tansu broker on
`broker_port` (9092 by default) and stops it last.

Stopping (SIGINT/SIGTERM, or any child exiting on its own): every service gets SIGTERM and
15 s to drain, then SIGKILL; each child runs in its own process group, and the whole group
is signalled, so nothing a service started survives it. Children also stop by themselves
if the supervisor dies (PARENT_PID_ENV watchdog; the broker gets PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.table import Table

from services.mesh.embedded_broker import EmbeddedBroker, free_port, kafka_ready
from services.mesh.grpc_client import check_health
from services.mesh.kafka import client_config
from services.mesh.service import DEFAULT_PORTS, PARENT_PID_ENV
from services.mesh.settings import MeshSettings

SERVICES: tuple[str, ...] = tuple(DEFAULT_PORTS)
STOP_GRACE_S = 15.0


class SupervisorError(RuntimeError):
    """The mesh could not be brought up (a child died or never became healthy)."""


def entry_module(service: str) -> str:
    return f"services.{service}.entrypoints.main"


def available_services() -> dict[str, str]:
    """The services whose entrypoint module exists, name -> module."""
    found = {}
    for name in SERVICES:
        module = entry_module(name)
        with contextlib.suppress(ModuleNotFoundError):
            if importlib.util.find_spec(module) is not None:
                found[name] = module
    return found


@dataclass
class Child:
    name: str
    module: str
    grpc_port: int
    metrics_port: int
    log_path: Path
    process: subprocess.Popen[bytes]
    log_file: IO[bytes]


class Supervisor:
    def __init__(
        self,
        settings: MeshSettings,
        *,
        services: Mapping[str, str] | None = None,
        broker_port: int = 9092,
        free_ports: bool = False,
        health_timeout: float = 60.0,
        console: Console | None = None,
    ) -> None:
        self.settings = settings
        self.services = dict(available_services() if services is None else services)
        self._broker_port = broker_port
        self._free_ports = free_ports
        self._health_timeout = health_timeout
        self._console = console or Console(stderr=True)
        self._external = "bootstrap_servers" in settings.model_fields_set
        self.broker: EmbeddedBroker | None = None
        self.children: list[Child] = []

    @property
    def bootstrap_servers(self) -> str:
        return self.broker.bootstrap_servers if self.broker is not None else self.settings.bootstrap_servers

    async def start(self) -> None:
        """Bring the broker and every service up; raises SupervisorError if one fails."""
        if self._external:
            if not await asyncio.to_thread(
                kafka_ready,
                self.bootstrap_servers,
                timeout=10.0,
                config=_without_bootstrap(client_config(self.settings)),
            ):
                raise SupervisorError(f"no Kafka broker answers at {self.bootstrap_servers}")
        else:
            self.broker = EmbeddedBroker(self.settings.home, port=self._broker_port)
            # In this (the main) thread: the broker's parent-death signal is tied to the thread
            # that starts it, and a worker thread of the loop's executor may exit any time.
            self.broker.start()
        ports = {name: self._ports(name) for name in self.services}
        peers = json.dumps({name: f"{self.settings.grpc_host}:{grpc}" for name, (grpc, _) in ports.items()})
        for name, module in self.services.items():
            self.children.append(self._spawn(name, module, ports[name], peers))
        await asyncio.gather(*(self._wait_healthy(child) for child in self.children))

    def _ports(self, name: str) -> tuple[int, int]:
        grpc_port, metrics_port = DEFAULT_PORTS.get(name, (0, 0))
        if self._free_ports or grpc_port == 0:
            grpc_port, metrics_port = free_port(), free_port()
        return grpc_port, metrics_port

    def _spawn(self, name: str, module: str, ports: tuple[int, int], peers: str) -> Child:
        grpc_port, metrics_port = ports
        log_path = self.settings.home / "logs" / f"{name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = log_path.open("ab")
        env = {
            **os.environ,
            "STREAMWRIGHT_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "STREAMWRIGHT_HOME": str(self.settings.home),
            "STREAMWRIGHT_GRPC_PORT": str(grpc_port),
            "STREAMWRIGHT_METRICS_PORT": str(metrics_port),
            "STREAMWRIGHT_LOG_FORMAT": "json",
            "STREAMWRIGHT_PEERS": peers,
            PARENT_PID_ENV: str(os.getpid()),
        }
        process = subprocess.Popen(
            [sys.executable, "-m", module],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group: we signal the group, not the terminal
        )
        return Child(name, module, grpc_port, metrics_port, log_path, process, log_file)

    async def _wait_healthy(self, child: Child) -> None:
        deadline = time.monotonic() + self._health_timeout
        target = f"{self.settings.grpc_host}:{child.grpc_port}"
        while time.monotonic() < deadline:
            if child.process.poll() is not None:
                raise SupervisorError(
                    f"{child.name} exited with code {child.process.returncode} during start-up; "
                    f"see {child.log_path}"
                )
            if await check_health(target, self.settings, timeout=1.0):
                return
            await asyncio.sleep(0.2)
        raise SupervisorError(
            f"{child.name} not healthy after {self._health_timeout:.0f} s; see {child.log_path}"
        )

    def table(self) -> Table:
        table = Table(title="Streamwright mesh", show_lines=False)
        for column in ("component", "status", "endpoint", "metrics", "pid", "log"):
            table.add_column(column)
        broker_note = "external" if self.broker is None else str(self.broker.pid)
        broker_log = "" if self.broker is None else str(self.broker.log_path)
        table.add_row("kafka broker", "[green]ready", self.bootstrap_servers, "", broker_note, broker_log)
        for child in self.children:
            table.add_row(
                child.name,
                "[green]SERVING",
                f"grpc://{self.settings.grpc_host}:{child.grpc_port}",
                f"http://{self.settings.metrics_host}:{child.metrics_port}/metrics",
                str(child.process.pid),
                str(child.log_path),
            )
        return table

    async def wait(self, stop: asyncio.Event) -> str | None:
        """Until `stop` is set (None) or a child exits on its own (its name)."""
        while not stop.is_set():
            for child in self.children:
                if child.process.poll() is not None:
                    return child.name
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.5)
        return None

    def stop(self) -> None:
        """Stop every service (SIGTERM, then SIGKILL after the grace), then the broker."""
        for child in self.children:
            _signal_group(child.process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for child in self.children:
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._console.print(f"[yellow]{child.name} did not stop in {STOP_GRACE_S:.0f} s; killing it")
            _signal_group(child.process, signal.SIGKILL)  # anything left in its group
            child.process.wait()
            child.log_file.close()
        self.children = []
        if self.broker is not None:
            self.broker.stop()
            self.broker = None


async def _unless_stopped(work: Coroutine[object, object, None], stop: asyncio.Event) -> bool:
    """Run `work` unless `stop` is set first (then cancel it); True when it finished."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if task.done():
        task.result()
        return True
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return False


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _without_bootstrap(config: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in config.items() if k != "bootstrap.servers"}


async def run_supervisor(
    settings: MeshSettings,
    *,
    broker_port: int = 9092,
    free_ports: bool = False,
    only: Sequence[str] = (),
    health_timeout: float = 60.0,
    console: Console | None = None,
) -> int:
    """The body of `streamwright up`; returns the process exit code."""
    # Piped output (CI, `tee`) would wrap the endpoint table at 80 columns; endpoints must stay whole.
    console = console or Console(width=None if sys.stdout.isatty() else 160)
    services = available_services()
    if only:
        services = {name: module for name, module in services.items() if name in only}
    supervisor = Supervisor(
        settings,
        services=services,
        broker_port=broker_port,
        free_ports=free_ports,
        health_timeout=health_timeout,
        console=console,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        if not await _unless_stopped(supervisor.start(), stop):
            return 0  # Ctrl-C during start-up
        console.print(supervisor.table())
        if not supervisor.children:
            console.print("No service entrypoints exist yet; running the broker alone.")
        console.print("Press Ctrl-C to stop.")
        died = await supervisor.wait(stop)
    except SupervisorError as error:
        console.print(f"[red]error:[/red] {error}")
        return 1
    finally:
        await asyncio.to_thread(supervisor.stop)
    if died is not None:
        console.print(f"[red]{died} exited unexpectedly; stopped the mesh")
        return 1
    console.print("Stopped.")
    return 0
