"""`streamwright up` and the supervisor: service processes come up healthy and leave nothing behind."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from rich.console import Console

from services.mesh.embedded_broker import EmbeddedBroker
from services.mesh.grpc_client import check_health
from services.mesh.settings import MeshSettings
from services.mesh.supervisor import Supervisor

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

ROOT = Path(__file__).resolve().parents[2]


def processes_with_env(name: str, value: str) -> list[int]:
    """Pids of live processes whose environment has name=value (what our children inherit)."""
    needle = f"{name}={value}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().split(") ", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def scrape(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as reply:
        body: bytes = reply.read()
        return body


async def test_supervisor_runs_a_service_process_until_healthy_and_stops_it(
    kafka_broker: EmbeddedBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It starts a service as its own process, waits for gRPC SERVING, and stops it without orphans."""
    marker = uuid.uuid4().hex
    monkeypatch.setenv("STREAMWRIGHT_TEST_MARKER", marker)
    monkeypatch.setenv("STREAMWRIGHT_TOPIC_PREFIX", f"sup-{marker}.")
    monkeypatch.setenv("STREAMWRIGHT_SESSION_TIMEOUT_MS", "6000")
    monkeypatch.chdir(ROOT)
    settings = MeshSettings(home=tmp_path, bootstrap_servers=kafka_broker.bootstrap_servers)
    supervisor = Supervisor(
        settings,
        services={"demo": "tests.integration.demo_service"},
        free_ports=True,
        health_timeout=45,
        console=Console(file=io.StringIO()),
    )
    try:
        await supervisor.start()
        [child] = supervisor.children
        assert supervisor.broker is None  # an explicit bootstrap address means: use that broker
        assert await check_health(f"127.0.0.1:{child.grpc_port}", settings)
        exposition = await asyncio.to_thread(scrape, f"http://127.0.0.1:{child.metrics_port}/metrics")
        assert b"streamwright_in_flight" in exposition
        assert processes_with_env("STREAMWRIGHT_TEST_MARKER", marker) == [child.process.pid]
    finally:
        supervisor.stop()
    assert child.process.returncode == 0  # it drained and exited by itself on SIGTERM
    assert processes_with_env("STREAMWRIGHT_TEST_MARKER", marker) == []
    assert b"service stopped" in child.log_path.read_bytes()


@pytest.mark.slow
@pytest.mark.timeout(400)  # two cold starts of five service processes on two busy cores
def test_streamwright_up_starts_and_stops_cleanly_twice(tmp_path: Path) -> None:
    """It brings the mesh up and down twice in a row (SIGTERM, then SIGINT): exit 0, nothing left running."""
    marker = uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMWRIGHT_")}
    env |= {"STREAMWRIGHT_HOME": str(tmp_path), "STREAMWRIGHT_TEST_MARKER": marker, "COLUMNS": "200"}
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from services.cli import main; main()",
                "up",
                "--broker-port",
                "0",
                "--free-ports",
                "--health-timeout",
                "150",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert process.stdout is not None
        output = b""
        deadline = time.monotonic() + 170
        while b"Press Ctrl-C to stop." not in output:
            line = process.stdout.readline()
            assert line or process.poll() is None, output.decode()
            assert time.monotonic() < deadline, output.decode()
            output += line
        assert len(processes_with_env("STREAMWRIGHT_TEST_MARKER", marker)) >= 2  # supervisor + broker
        assert b"kafka broker" in output and b"ready" in output
        for service in (b"ingest", b"generator", b"validator", b"knowledge", b"router"):
            assert service in output, output.decode()
        process.send_signal(stop_signal)
        rest, _ = process.communicate(timeout=40)
        assert process.returncode == 0, (output + rest).decode()
        assert b"Stopped." in rest
        assert processes_with_env("STREAMWRIGHT_TEST_MARKER", marker) == []
