"""Nothing of the running mesh listens beyond loopback: broker, every service, their JVMs and databases.

`streamwright up` runs as a user runs it: its own process, its own STREAMWRIGHT_HOME, the
embedded broker, free ports, gRPC auth on. The orders example (with its cases) is submitted
over ingest's gRPC with the installation token, and from the moment the mesh is up until the
run leaves validation, every listening TCP socket of the supervisor's whole process tree (the
Tansu broker, the five services, the validator's JVM and PostgreSQL) is read from /proc about
every 0.3 s. Any listener on a non-loopback address fails the test, named by pid, command
line, address and port.

It cannot pass vacuously: it must have sampled repeatedly while the run was VALIDATING, seen
the validator's JVM among the validator's descendants then (and read a listener of it: the
py4j gateway), seen the broker listening, and seen every service's gRPC and metrics port on
loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest

from services.mesh.grpc_client import open_channel
from services.mesh.rpc.streamwright.v1 import ingest_pb2, ingest_pb2_grpc, router_pb2, router_pb2_grpc
from services.mesh.settings import MeshSettings
from tests.security.listeners import is_loopback, listeners, process_tree

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "orders"
SERVICES = ("ingest", "generator", "validator", "knowledge", "router")
SAMPLE_EVERY_S = 0.3
# Before validation: submitted, generating (the router's state names, as GetRun reports them).
BEFORE_VALIDATION = frozenset({"", "PENDING", "SUBMITTED", "GENERATING"})
# The jar cache is shared by every installation: kept, so the test does not download the jars.
KEPT = ("STREAMWRIGHT_FLINK_JARS_DIR",)
UP_OPTIONS = ("--broker-port", "0", "--free-ports", "--health-timeout", "150")

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.system, pytest.mark.timeout(360)]


def command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    text = raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")
    return text if len(text) <= 200 else text[:197] + "..."


def environment(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.partition(b"=") for item in raw.split(b"\0") if item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, _, v in pairs}


def is_java(pid: int) -> bool:
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe")) == "java"
    except OSError:
        return False


@dataclass(frozen=True)
class Listener:
    pid: int
    command: str
    address: str
    port: int

    def __str__(self) -> str:
        return f"pid {self.pid} ({self.command}) on {self.address}:{self.port}"


@dataclass
class Sampling:
    """What the samples saw: every listener (first sighting), and what was seen during validation."""

    root: int
    seen: dict[tuple[int, str, int], Listener] = field(default_factory=dict)
    samples: int = 0
    validating_samples: int = 0
    validator_jvms: set[int] = field(default_factory=set)  # java pids under the validator, while VALIDATING
    jvm_listeners: set[tuple[int, str, int]] = field(default_factory=set)

    def sample(self, state: str, validator: int) -> None:
        pids = process_tree(self.root)
        for pid, address, port in listeners(pids):
            if (pid, address, port) not in self.seen:
                self.seen[pid, address, port] = Listener(pid, command_line(pid), address, port)
        self.samples += 1
        if state == "VALIDATING":
            self.validating_samples += 1
            jvms = {pid for pid in process_tree(validator) if pid != validator and is_java(pid)}
            self.validator_jvms |= jvms
            self.jvm_listeners |= {key for key in self.seen if key[0] in jvms}

    def exposed(self) -> list[Listener]:
        return [item for item in self.seen.values() if not is_loopback(item.address)]

    def loopback_ports(self, pid: int) -> set[int]:
        """The ports process `pid` itself (not its children) was seen listening on, on loopback."""
        return {item.port for item in self.seen.values() if item.pid == pid and is_loopback(item.address)}


@dataclass(frozen=True)
class Service:
    name: str
    pid: int
    grpc_port: int
    metrics_port: int


def mesh_children(root: int) -> tuple[int, dict[str, Service]]:
    """The broker's pid and each service's process (its ports from its environment)."""
    broker, services = 0, {}
    for pid in process_tree(root):
        command = command_line(pid)
        if "tansu" in command.split(" ", 1)[0]:
            broker = pid
        for name in SERVICES:
            if f"services.{name}.entrypoints.main" in command:
                env = environment(pid)
                services[name] = Service(
                    name, pid, int(env["STREAMWRIGHT_GRPC_PORT"]), int(env["STREAMWRIGHT_METRICS_PORT"])
                )
    return broker, services


@contextlib.contextmanager
def streamwright_up(home: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`streamwright up --broker-port 0 --free-ports` with STREAMWRIGHT_HOME=home, until it says it is up."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMWRIGHT_") or k in KEPT}
    env |= {"STREAMWRIGHT_HOME": str(home), "COLUMNS": "200"}
    out = home / "up.out"
    home.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-c", "from services.cli import main; main()", "up", *UP_OPTIONS],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 170
        while b"Press Ctrl-C to stop." not in out.read_bytes():
            assert process.poll() is None, f"streamwright up exited {process.returncode}:\n{out.read_text()}"
            assert time.monotonic() < deadline, f"streamwright up not up after 170 s:\n{out.read_text()}"
            time.sleep(0.2)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # it stops every service and the broker
            try:
                process.wait(40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def run_state(router: router_pb2_grpc.RouterServiceStub, run_id: str) -> str:
    try:
        run = await router.GetRun(router_pb2.GetRunRequest(run_id=run_id), timeout=5)
    except grpc.aio.AioRpcError as error:
        if error.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNAVAILABLE):
            return ""
        raise
    state: str = run.state_name
    return state


async def sample_through_validation(
    sampling: Sampling, home: Path, services: dict[str, Service], limit_s: float = 150.0
) -> str:
    """Submit the orders example; sample until its run has left validation. Returns its last state."""
    settings = MeshSettings(home=home)  # the installation token under `home` goes with every call
    ingest_channel = open_channel(f"127.0.0.1:{services['ingest'].grpc_port}", settings)
    router_channel = open_channel(f"127.0.0.1:{services['router'].grpc_port}", settings)
    try:
        ingest = ingest_pb2_grpc.IngestServiceStub(ingest_channel)  # type: ignore[no-untyped-call]
        router = router_pb2_grpc.RouterServiceStub(router_channel)  # type: ignore[no-untyped-call]
        document = next(EXAMPLE.glob("*-request-v3.md")).read_text(encoding="utf-8")
        submitted = await ingest.SubmitRequest(
            ingest_pb2.SubmitRequestRequest(
                document=document,
                cases_yaml=(EXAMPLE / "cases.yaml").read_text(encoding="utf-8"),
                idempotency_key=f"listeners-{uuid.uuid4().hex}",
            ),
            timeout=30,
        )
        validator = services["validator"].pid
        state, deadline = "", time.monotonic() + limit_s
        while state in BEFORE_VALIDATION or state == "VALIDATING":
            assert time.monotonic() < deadline, (
                f"run {submitted.run_id} still {state or 'unknown'} after {limit_s:.0f} s"
            )
            state = await run_state(router, submitted.run_id)
            sampling.sample(state, validator)
            await asyncio.sleep(SAMPLE_EVERY_S)
        return state
    finally:
        await ingest_channel.close()
        await router_channel.close()


def test_no_mesh_process_listens_beyond_loopback_while_the_validator_runs_flink_jobs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    started = time.monotonic()
    with streamwright_up(home) as up:
        broker, services = mesh_children(up.pid)
        assert broker, (
            f"no broker process under streamwright up: {[command_line(p) for p in process_tree(up.pid)]}"
        )
        assert set(services) == set(SERVICES), sorted(services)
        sampling = Sampling(up.pid)
        final = asyncio.run(sample_through_validation(sampling, home, services))
        elapsed_s = time.monotonic() - started

    listed = "\n".join(f"  {item}" for item in sorted(sampling.seen.values(), key=lambda i: (i.pid, i.port)))
    print(
        f"\n{sampling.samples} samples ({sampling.validating_samples} while VALIDATING), "
        f"{elapsed_s:.0f} s from `up` to the end of validation, run {final}; listeners seen:\n{listed}"
    )

    exposed = sampling.exposed()
    assert exposed == [], "listening beyond loopback:\n" + "\n".join(f"  {item}" for item in exposed)

    # Not vacuous: the samples covered validation, the validator's JVM and every mesh endpoint.
    assert sampling.validating_samples >= 3, (sampling.validating_samples, final)
    assert sampling.validator_jvms, "no JVM under the validator while the run was VALIDATING"
    assert sampling.jvm_listeners, f"no listener of the validator's JVM(s) {sampling.validator_jvms} was read"
    assert sampling.loopback_ports(broker), f"the broker (pid {broker}) was not seen listening"
    for service in services.values():
        ports = sampling.loopback_ports(service.pid)
        assert {service.grpc_port, service.metrics_port} <= ports, (service, sorted(ports))
