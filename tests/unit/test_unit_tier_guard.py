"""The unit tier's guard (tests/unit_tier_guard.py) fails a unit test that starts a server, connects out
or starts a process, and leaves asyncio's own socketpair and AF_UNIX sockets alone."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import grpc
import pytest

from tests.unit_tier_guard import UnitTierViolation, refusing

INNER = """
import asyncio
import socket
import subprocess
from http.server import BaseHTTPRequestHandler, HTTPServer

import grpc
import pytest


@pytest.fixture
def server():
    with HTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as running:
        yield running


def test_starts_an_http_server():
    HTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler).server_close()


def test_uses_a_server_fixture(server):
    assert server


def test_swallows_the_refusal_of_a_grpc_server():
    try:
        grpc.aio.server()
    except Exception:
        pass


def test_starts_a_child_process():
    subprocess.run(["true"], check=True)


def test_connects_out():
    socket.create_connection(("127.0.0.1", 9), timeout=1).close()


def test_runs_an_event_loop_and_a_socketpair():
    left, right = socket.socketpair()
    left.sendall(b"x")
    assert right.recv(1) == b"x"
    left.close()
    right.close()
    assert asyncio.run(asyncio.sleep(0, result=1)) == 1
"""


def test_a_unit_test_that_starts_a_server_connects_or_spawns_fails(tmp_path: Path) -> None:
    """Run as pytest runs tests/unit (the guard's hooks as a plugin): each offender fails, the rest pass."""
    (tmp_path / "test_inner.py").write_text(INNER, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n", encoding="utf-8"
    )
    outcomes: dict[str, tuple[str, str]] = {}

    class Keep:
        def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
            name = report.nodeid.rsplit("::", 1)[-1]
            if not outcomes.get(name, ("", ""))[0].endswith("failed"):  # the first failure, else the last
                outcomes[name] = (f"{report.when} {report.outcome}", str(report.longrepr or ""))

    code = pytest.main(
        [
            str(tmp_path),
            "-c",
            str(tmp_path / "pytest.ini"),
            "--rootdir",
            str(tmp_path),
            "-p",
            "tests.unit_tier_guard",
            "-p",
            "no:cacheprovider",
            "--import-mode=importlib",
            "-q",
        ],
        plugins=[Keep()],
    )

    assert code == pytest.ExitCode.TESTS_FAILED
    assert {name: outcome for name, (outcome, _) in outcomes.items()} == {
        "test_starts_an_http_server": "call failed",
        "test_uses_a_server_fixture": "setup failed",
        "test_swallows_the_refusal_of_a_grpc_server": "call failed",
        "test_starts_a_child_process": "call failed",
        "test_connects_out": "call failed",
        "test_runs_an_event_loop_and_a_socketpair": "teardown passed",
    }
    said = {name: text for name, (outcome, text) in outcomes.items() if "failed" in outcome}
    assert all("UnitTierViolation" in text and "tests/integration/" in text for text in said.values())
    assert "socket.listen" in said["test_starts_an_http_server"]
    assert "grpc.aio.server" in said["test_swallows_the_refusal_of_a_grpc_server"]
    assert "subprocess(['true'])" in said["test_starts_a_child_process"]
    assert "socket.connect" in said["test_connects_out"]


def test_the_guard_refuses_each_call_and_records_it() -> None:
    """Inside `refusing`, each guarded call raises and is recorded; outside, the originals are back."""
    listen = socket.socket.listen
    violations: list[str] = []
    with refusing(violations):
        with pytest.raises(UnitTierViolation, match=r"socket\.listen"):
            HTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
        with (
            socket.socket() as sock,
            pytest.raises(UnitTierViolation, match=r"socket\.bind\(\('127\.0\.0\.1', 8081\)"),
        ):
            sock.bind(("127.0.0.1", 8081))
        with pytest.raises(UnitTierViolation, match=r"grpc\.aio\.insecure_channel"):
            grpc.aio.insecure_channel("127.0.0.1:1")
        with pytest.raises(UnitTierViolation, match="subprocess"):
            subprocess.Popen(["true"])
        assert asyncio.run(asyncio.sleep(0, result="loop ok")) == "loop ok"
    assert len(violations) == 4
    assert socket.socket.listen is listen
