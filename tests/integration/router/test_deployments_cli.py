"""Stop and rollback over gRPC and the CLI: `streamwright stop` / `rollback` against a RouterService on
127.0.0.1 (in its own thread and loop) with a fake deployer. The use cases themselves:
tests/unit/router/test_deployments.py."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import typer
from typer.testing import CliRunner

from services.mesh.rpc.streamwright.v1 import router_pb2_grpc
from services.mesh.settings import MeshSettings
from services.router.entrypoints import cli
from services.router.entrypoints.grpc_api import RouterApi
from tests.fakes import FakeDeployer
from tests.unit.router.router_events import deploy, make_handlers

pytestmark = pytest.mark.integration


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, FakeDeployer]]:
    """A RouterService on 127.0.0.1 in its own thread and loop; domain orders deployed at revision 1."""
    deployer = FakeDeployer()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        handlers = make_handlers(tmp_path, deployer)
        await deploy(handlers, tmp_path, 1)
        server = grpc.aio.server()
        router_pb2_grpc.add_RouterServiceServicer_to_server(RouterApi(handlers), server)  # type: ignore[no-untyped-call]
        box["port"] = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        box["stop"] = asyncio.Event()
        ready.set()
        await box["stop"].wait()
        await server.stop(0)

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(20)
    yield f"127.0.0.1:{box['port']}", deployer
    loop.call_soon_threadsafe(box["stop"].set)
    thread.join(10)


def test_cli_stop_and_rollback(served: tuple[str, FakeDeployer], monkeypatch: pytest.MonkeyPatch) -> None:
    """It stops and rolls back over gRPC, exiting 1 with the server's message and 2 on usage errors."""
    address, deployer = served
    monkeypatch.setattr(cli, "_target", lambda: (address, MeshSettings()))
    app = typer.Typer()
    cli.register(app)
    runner = CliRunner()

    unknown = runner.invoke(app, ["stop", "nope"])
    assert unknown.exit_code == 1 and "unknown domain 'nope'" in unknown.output
    lonely = runner.invoke(app, ["rollback", "orders"])
    assert lonely.exit_code == 1 and "no revision of orders before revision 1" in lonely.output
    assert runner.invoke(app, ["rollback", "orders", "--to", "0"]).exit_code == 2
    assert runner.invoke(app, ["stop"]).exit_code == 2
    assert runner.invoke(app, ["stop", " "]).exit_code == 2

    stopped = runner.invoke(app, ["stop", "orders", "--reason", "maintenance"])
    assert stopped.exit_code == 0, stopped.output
    assert "revision 1 STOPPED on sql-gateway job job-1" in stopped.output
    assert "savepoint: file:///savepoints/sp-job-1" in stopped.output and "maintenance" in stopped.output
    again = runner.invoke(app, ["stop", "orders", "--json"])
    assert again.exit_code == 1 and "already stopped" in again.output
    missing = runner.invoke(app, ["rollback", "orders", "--to", "3"])
    assert missing.exit_code == 1 and "revision 3 of orders was never deployed" in missing.output
    assert deployer.stopped == ["job-1"]
