"""Exit code 3 (services/exit_codes.py) against real closed ports, and the ready line of
`streamwright broker --json` from the real process. The rest of the scheme, faked:
tests/unit/test_cli_conventions.py."""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services import exit_codes
from services.cli import app

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]
ROOT = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def nowhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Every peer (router, ingest) on a port nothing listens on; gRPC auth off (no token file)."""
    target = f"127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("STREAMWRIGHT_HOME", str(tmp_path))
    monkeypatch.setenv("STREAMWRIGHT_GRPC_AUTH", "off")
    monkeypatch.setenv("STREAMWRIGHT_PEERS", json.dumps({"router": target, "ingest": target}))
    return target


@pytest.mark.parametrize(
    "args",
    [["status", "run-1", "--json"], ["runs", "--json"], ["cancel", "run-1"], ["stop", "orders", "--json"]],
)
def test_an_unreachable_router_exits_3(nowhere: str, args: list[str]) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == exit_codes.UNAVAILABLE, result.output
    assert result.stdout == ""
    assert f"the router is not reachable at {nowhere}" in result.stderr


def test_an_unreachable_ingest_exits_3(nowhere: str) -> None:
    document = ROOT / "tests" / "fixtures" / "requests" / "orders-request-v3.md"
    result = CliRunner().invoke(app, ["submit", str(document), "--json"])
    assert result.exit_code == exit_codes.UNAVAILABLE, result.output
    assert result.stdout == "" and "not reachable" in result.stderr


def test_broker_json_prints_one_ready_line(tmp_path: Path) -> None:
    """`broker --port 0 --json`: one JSON line with the address it listens on; Ctrl-C stops it (0)."""
    env = {**os.environ, "STREAMWRIGHT_HOME": str(tmp_path)}
    env.pop("STREAMWRIGHT_BOOTSTRAP_SERVERS", None)
    code = "from services.cli import main; main()"
    with subprocess.Popen(
        [sys.executable, "-c", code, "broker", "--port", "0", "--json"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            with selectors.DefaultSelector() as selector:
                selector.register(process.stdout, selectors.EVENT_READ)
                assert selector.select(timeout=60), "no ready line within 60 s"
            ready = json.loads(process.stdout.readline())
            host, port = ready["bootstrap_servers"].rsplit(":", 1)
            with socket.create_connection((host, int(port)), timeout=5):
                pass
            assert ready["log"].startswith(str(tmp_path))
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=30) == exit_codes.OK
            assert process.stdout.read() == ""  # nothing but the one line
        finally:
            if process.poll() is None:
                process.kill()
