"""Stop and rollback of a domain's deployment: use cases with a fake deployer and the manifest deployer,
the gRPC methods and the CLI commands (against an in-process router server)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from router_events import SQL, RunEvents, write_artifacts
from typer.testing import CliRunner

from services.mesh.rpc.streamwright.v1 import router_pb2_grpc
from services.mesh.settings import MeshSettings
from services.mesh.store import SQLiteDocumentStore
from services.router.adapters.audit_log import JsonlAuditLog
from services.router.adapters.manifest import ManifestDeployer
from services.router.adapters.runs_store import StoreRunRepository
from services.router.adapters.webhook import NoNotifier
from services.router.domain.config import RouterConfig
from services.router.entrypoints import cli
from services.router.entrypoints.grpc_api import RouterApi
from services.router.handlers import (
    DeploymentConflict,
    DeploymentFailed,
    DomainNotFound,
    NoPreviousRevision,
    NotAllowed,
    NothingDeployed,
    RouterHandlers,
)
from services.router.ports import Deployer
from tests.fakes import FakeDeployer, RecordingPublisher


def make_handlers(tmp: Path, deployer: Deployer, approvers: frozenset[str] = frozenset()) -> RouterHandlers:
    return RouterHandlers(
        runs=StoreRunRepository(SQLiteDocumentStore(tmp / "router.sqlite3")),
        publisher=RecordingPublisher(),
        config=RouterConfig(),
        deployer=deployer,
        audit=JsonlAuditLog(tmp / "audit.jsonl"),
        notifier=NoNotifier(),
        approvers=approvers,
    )


async def deploy(
    handlers: RouterHandlers, tmp: Path, revision: int, domain: str = "orders", **files: str
) -> str:
    """Run one revision of the domain through gate and start; returns its run id."""
    run = RunEvents(domain)
    artifacts = write_artifacts(tmp / f"art-{run.run_id}", domain)
    folder = artifacts / "job" / domain / "deployment"
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    generated = run.generated(1, str(artifacts), revision)
    generated = generated.model_copy(update={"sql": SQL.replace("sink", f"sink_r{revision}")})
    for event in (
        run.submitted(),
        run.accepted(revision, f"h{revision}"),
        generated,
        run.scored(1, score=95),
    ):
        await handlers.on_event(event)
    await handlers.on_event(run.er_updated())
    deployment = await handlers.runs.deployment(domain)
    assert deployment is not None and deployment["run_id"] == run.run_id, deployment
    return run.run_id


async def test_stop_then_rollback_then_forward_with_a_fake_deployer(tmp_path: Path) -> None:
    """It stops with a savepoint, rolls back from it (no second stop), then rolls forward with --to."""
    deployer = FakeDeployer()
    handlers = make_handlers(tmp_path, deployer)
    run1 = await deploy(handlers, tmp_path, 1)
    run2 = await deploy(handlers, tmp_path, 2)
    assert deployer.stopped == ["job-1"] and deployer.started[1].previous is not None  # the upgrade

    stopped = await handlers.stop("orders", reason="incident 42")
    assert stopped.state == "STOPPED" and stopped.savepoint_path == "file:///savepoints/sp-job-2"
    assert "incident 42" in stopped.reason and (await handlers.runs.deployment("orders")) == stopped.to_dict()
    with pytest.raises(DeploymentConflict, match="already stopped"):
        await handlers.stop("orders")

    back = await handlers.rollback("orders")
    assert deployer.stopped == ["job-1", "job-2"]  # the stopped job is not stopped again
    restart = deployer.started[-1]
    assert (restart.run_id, restart.revision, restart.previous) == (run1, 1, None)
    assert restart.restore_from == "file:///savepoints/sp-job-2" and "sink_r1" in (restart.sql or "")
    assert back.state == "RUNNING" and back.revision == 1 and back.rolled_back_from == 2
    assert back.savepoint_restored == "file:///savepoints/sp-job-2" and back.job_id == "job-3"
    assert [e.revision for e in back.history] == [1, 2] and back.history[-1].state == "STOPPED"
    with pytest.raises(NoPreviousRevision, match="before revision 1"):
        await handlers.rollback("orders")

    forward = await handlers.rollback("orders", to_revision=2)
    assert deployer.stopped[-1] == "job-3" and deployer.started[-1].run_id == run2
    assert deployer.started[-1].restore_from == "file:///savepoints/sp-job-3"
    assert forward.revision == 2 and forward.rolled_back_from == 1
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [(a["action"], a["revision"]) for a in audit] == [("stop", 2), ("rollback", 1), ("rollback", 2)]


async def test_errors_name_what_is_missing(tmp_path: Path) -> None:
    """It tells an unknown domain, nothing deployed, no previous revision and an unknown one apart."""
    deployer = FakeDeployer()
    handlers = make_handlers(tmp_path, deployer, approvers=frozenset({"ops"}))
    with pytest.raises(DomainNotFound, match="unknown domain 'nope'"):
        await handlers.stop("nope")
    run = RunEvents("payments")
    await handlers.on_event(run.submitted())
    await handlers.on_event(run.accepted())
    with pytest.raises(NothingDeployed, match="nothing is deployed for domain 'payments'"):
        await handlers.rollback("payments")
    await deploy(handlers, tmp_path, 1)
    with pytest.raises(NoPreviousRevision):
        await handlers.rollback("orders")
    await deploy(handlers, tmp_path, 2)
    with pytest.raises(NoPreviousRevision, match=r"revision 7 .* never deployed \(earlier deployments: 1\)"):
        await handlers.rollback("orders", to_revision=7)
    with pytest.raises(DeploymentConflict, match="is the deployed revision"):
        await handlers.rollback("orders", to_revision=2)
    with pytest.raises(NotAllowed):
        await handlers.stop("orders", requested_by="mallory")
    assert deployer.stopped == ["job-1"]  # only the upgrade stopped anything


async def test_engine_failures_are_reported_and_recorded(tmp_path: Path) -> None:
    """It keeps the record on a failed stop, and a failed rollback start leaves it STOPPED with the error."""
    deployer = FakeDeployer()
    handlers = make_handlers(tmp_path, deployer)
    await deploy(handlers, tmp_path, 1)
    await deploy(handlers, tmp_path, 2)
    deployer.fail_stop = "savepoint timed out"
    with pytest.raises(DeploymentFailed, match="stopping revision 2 of orders failed: savepoint timed out"):
        await handlers.stop("orders")
    assert (await handlers.runs.deployment("orders") or {})["state"] == "RUNNING"
    deployer.fail_stop, deployer.fail_start = None, "Flink refused the job: incompatible state"
    with pytest.raises(
        DeploymentFailed, match=r"stopped .*sp-job-2.*starting revision 1 failed: Flink refused"
    ):
        await handlers.rollback("orders")
    record = await handlers.runs.deployment("orders") or {}
    assert record["state"] == "STOPPED" and record["revision"] == 2 and "incompatible" in record["last_error"]
    deployer.fail_start = None
    assert (await handlers.rollback("orders")).revision == 1  # retried from the same savepoint
    assert deployer.started[-1].restore_from == "file:///savepoints/sp-job-2"


async def test_a_new_revision_after_stop_starts_from_the_stop_savepoint(tmp_path: Path) -> None:
    """It starts the next approved revision from the stop's savepoint instead of stopping again."""
    deployer = FakeDeployer()
    handlers = make_handlers(tmp_path, deployer)
    await deploy(handlers, tmp_path, 1)
    await handlers.stop("orders")
    await deploy(handlers, tmp_path, 2)
    latest = deployer.started[-1]
    assert latest.previous is None and latest.restore_from == "file:///savepoints/sp-job-1"
    assert deployer.stopped == ["job-1"]


async def test_manifest_stop_and_rollback_rewrite_the_gitops_directory(tmp_path: Path) -> None:
    """It suspends on stop, and rolls back to the recorded manifests, resumed from state, stale files gone."""
    out = tmp_path / "out"
    handlers = make_handlers(tmp_path, ManifestDeployer(out))
    dest = out / "job" / "orders" / "deployment"
    await deploy(handlers, tmp_path, 1)
    first = (dest / "deploy-orders-v3.yaml").read_text()
    extra = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: r2-only}\n"
    await deploy(handlers, tmp_path, 2, **{"extra-r2.yaml": extra})
    assert (dest / "extra-r2.yaml").is_file()

    stopped = await handlers.stop("orders", reason="pause")
    assert stopped.state == "STOPPED" and stopped.savepoint_path is None
    assert "operator takes the savepoint" in stopped.reason
    docs = list(yaml.safe_load_all((dest / "deploy-orders-v3.yaml").read_text()))
    assert docs[1]["spec"]["job"]["state"] == "suspended"

    back = await handlers.rollback("orders")
    assert back.revision == 1 and back.target == "manifest" and back.manifests
    assert not (dest / "extra-r2.yaml").exists()  # never two jobs from one domain's directory
    docs = list(yaml.safe_load_all((dest / "deploy-orders-v3.yaml").read_text()))
    job = docs[1]["spec"]["job"]
    assert job == {"upgradeMode": "savepoint", "state": "running"}
    assert docs[0] == next(iter(yaml.safe_load_all(first)))
    record = json.loads((dest / ".streamwright-deployment.json").read_text())
    assert record["revision"] == 1 and record["files"] == ["deploy-orders-v3.yaml"]


async def test_manifest_rollback_sets_the_known_savepoint(tmp_path: Path) -> None:
    """It writes initialSavepointPath when the record knows the savepoint to start from."""
    out = tmp_path / "out"
    handlers = make_handlers(tmp_path, ManifestDeployer(out))
    await deploy(handlers, tmp_path, 1)
    await deploy(handlers, tmp_path, 2)
    record = await handlers.runs.deployment("orders") or {}
    await handlers.runs.save_deployment(
        "orders", {**record, "state": "STOPPED", "savepoint_path": "s3://sp/orders-1"}
    )
    await handlers.rollback("orders", to_revision=1)
    docs = list(
        yaml.safe_load_all((out / "job" / "orders" / "deployment" / "deploy-orders-v3.yaml").read_text())
    )
    assert docs[1]["spec"]["job"]["initialSavepointPath"] == "s3://sp/orders-1"


# --- gRPC and CLI against an in-process router server -------------------------------------------


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
    import typer

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
