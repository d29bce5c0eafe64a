"""Stop and rollback of a domain's deployment: use cases with a fake deployer and the manifest deployer.
The gRPC methods and the CLI commands: tests/integration/router/test_deployments_cli.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from router_events import OPS, RunEvents, deploy, make_handlers

from services.mesh.events import RunStarted, RunStartFailed
from services.mesh.identity import Identity
from services.router.adapters.manifest import ManifestDeployer
from services.router.handlers import (
    DeploymentConflict,
    DeploymentFailed,
    DomainNotFound,
    NoPreviousRevision,
    NotAllowed,
    NothingDeployed,
)
from tests.fakes import FakeDeployer, RecordingPublisher


async def test_stop_then_rollback_then_forward_with_a_fake_deployer(tmp_path: Path) -> None:
    """It stops with a savepoint, rolls back from it (no second stop), then rolls forward with --to."""
    deployer = FakeDeployer()
    handlers = make_handlers(tmp_path, deployer)
    run1 = await deploy(handlers, tmp_path, 1)
    run2 = await deploy(handlers, tmp_path, 2)
    assert deployer.stopped == ["job-1"] and deployer.started[1].previous is not None  # the upgrade

    stopped = await handlers.stop("orders", by=OPS, reason="incident 42")
    assert stopped.state == "STOPPED" and stopped.savepoint_path == "file:///savepoints/sp-job-2"
    assert "incident 42" in stopped.reason and (await handlers.runs.deployment("orders")) == stopped.to_dict()
    with pytest.raises(DeploymentConflict, match="already stopped"):
        await handlers.stop("orders", by=OPS)

    back = await handlers.rollback("orders", by=OPS)
    assert deployer.stopped == ["job-1", "job-2"]  # the stopped job is not stopped again
    restart = deployer.started[-1]
    assert (restart.run_id, restart.revision, restart.previous) == (run1, 1, None)
    assert restart.restore_from == "file:///savepoints/sp-job-2" and "sink_r1" in (restart.sql or "")
    assert back.state == "RUNNING" and back.revision == 1 and back.rolled_back_from == 2
    assert back.savepoint_restored == "file:///savepoints/sp-job-2" and back.job_id == "job-3"
    assert [e.revision for e in back.history] == [1, 2] and back.history[-1].state == "STOPPED"
    with pytest.raises(NoPreviousRevision, match="before revision 1"):
        await handlers.rollback("orders", by=OPS)

    forward = await handlers.rollback("orders", by=OPS, to_revision=2)
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
        await handlers.stop("nope", by=OPS)
    run = RunEvents("payments")
    await handlers.on_event(run.submitted())
    await handlers.on_event(run.accepted())
    with pytest.raises(NothingDeployed, match="nothing is deployed for domain 'payments'"):
        await handlers.rollback("payments", by=OPS)
    await deploy(handlers, tmp_path, 1)
    with pytest.raises(NoPreviousRevision):
        await handlers.rollback("orders", by=OPS)
    await deploy(handlers, tmp_path, 2)
    with pytest.raises(NoPreviousRevision, match=r"revision 7 .* never deployed \(earlier deployments: 1\)"):
        await handlers.rollback("orders", by=OPS, to_revision=7)
    with pytest.raises(DeploymentConflict, match="is the deployed revision"):
        await handlers.rollback("orders", by=OPS, to_revision=2)
    with pytest.raises(NotAllowed):
        await handlers.stop("orders", by=Identity(subject="mallory"))
    assert deployer.stopped == ["job-1"]  # only the upgrade stopped anything


async def test_engine_failures_are_reported_and_recorded(tmp_path: Path) -> None:
    """It keeps the record on a failed stop, and a failed rollback start leaves it STOPPED with the error."""
    deployer = FakeDeployer()
    handlers = make_handlers(tmp_path, deployer)
    await deploy(handlers, tmp_path, 1)
    await deploy(handlers, tmp_path, 2)
    deployer.fail_stop = "savepoint timed out"
    with pytest.raises(DeploymentFailed, match="stopping revision 2 of orders failed: savepoint timed out"):
        await handlers.stop("orders", by=OPS)
    assert (await handlers.runs.deployment("orders") or {})["state"] == "RUNNING"
    deployer.fail_stop, deployer.fail_start = None, "Flink refused the job: incompatible state"
    with pytest.raises(
        DeploymentFailed, match=r"stopped .*sp-job-2.*starting revision 1 failed: Flink refused"
    ):
        await handlers.rollback("orders", by=OPS)
    record = await handlers.runs.deployment("orders") or {}
    assert record["state"] == "STOPPED" and record["revision"] == 2 and "incompatible" in record["last_error"]
    deployer.fail_start = None
    assert (await handlers.rollback("orders", by=OPS)).revision == 1  # retried from the same savepoint
    assert deployer.started[-1].restore_from == "file:///savepoints/sp-job-2"


async def test_a_new_revision_after_stop_starts_from_the_stop_savepoint(tmp_path: Path) -> None:
    """It starts the next approved revision from the stop's savepoint instead of stopping again."""
    deployer = FakeDeployer()
    handlers = make_handlers(tmp_path, deployer)
    await deploy(handlers, tmp_path, 1)
    await handlers.stop("orders", by=OPS)
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

    stopped = await handlers.stop("orders", by=OPS, reason="pause")
    assert stopped.state == "STOPPED" and stopped.savepoint_path is None
    assert "operator takes the savepoint" in stopped.reason
    docs = list(yaml.safe_load_all((dest / "deploy-orders-v3.yaml").read_text()))
    assert docs[1]["spec"]["job"]["state"] == "suspended"

    back = await handlers.rollback("orders", by=OPS)
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
    await handlers.rollback("orders", by=OPS, to_revision=1)
    docs = list(
        yaml.safe_load_all((out / "job" / "orders" / "deployment" / "deploy-orders-v3.yaml").read_text())
    )
    assert docs[1]["spec"]["job"]["initialSavepointPath"] == "s3://sp/orders-1"


async def test_a_failed_restore_restarts_the_previous_revision_from_its_savepoint(tmp_path: Path) -> None:
    """It restarts revision 1 from the savepoint its upgrade took when revision 2 does not start from
    it, and records both: the failed run, the record, the audit log, a RunStarted of revision 1's run."""
    deployer, publisher = FakeDeployer(), RecordingPublisher()
    handlers = make_handlers(tmp_path, deployer, publisher=publisher)
    run1 = await deploy(handlers, tmp_path, 1)
    deployer.fail_restore[2] = "Flink job x is FAILED: StateMigrationException: key serializer incompatible"
    run2 = await deploy(handlers, tmp_path, 2, started=False)

    assert deployer.stopped == ["job-1"]  # the upgrade's stop, and nothing else
    restart = deployer.started[-1]
    assert (restart.run_id, restart.revision, restart.restore_from) == (
        run1,
        1,
        "file:///savepoints/sp-job-1",
    )
    record = await handlers.runs.deployment("orders") or {}
    assert (record["state"], record["revision"], record["run_id"], record["job_id"]) == (
        "RUNNING",
        1,
        run1,
        "job-2",
    )
    assert record["rolled_back_from"] == 2 and record["savepoint_restored"] == "file:///savepoints/sp-job-1"
    assert record["reason"].startswith("automatic rollback: revision 2 did not start from savepoint")
    assert "StateMigrationException" in record["last_error"]
    [stopped] = record["history"]
    assert (stopped["revision"], stopped["state"], stopped["savepoint_path"]) == (
        1,
        "STOPPED",
        "file:///savepoints/sp-job-1",
    )

    failed = (await handlers.runs.get(run2)).view()  # type: ignore[union-attr]
    assert failed.state == "FAILED" and "StateMigrationException" in failed.reason
    assert "revision 1 was restarted from that savepoint automatically (job job-2)" in failed.reason
    again = [e for e in publisher.events if isinstance(e, RunStarted) and e.envelope.run_id == run1]
    assert [e.job_id for e in again] == ["job-1", "job-2"] and again[-1].revision == 1
    assert (await handlers.runs.get(run1)).view().job_id == "job-2"  # type: ignore[union-attr]
    assert any(isinstance(e, RunStartFailed) and e.envelope.run_id == run2 for e in publisher.events)
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [(a["action"], a["revision"], a["savepoint"]) for a in audit] == [
        ("restore-failed", 2, "file:///savepoints/sp-job-1"),
        ("auto-rollback", 1, "file:///savepoints/sp-job-1"),
    ]


async def test_when_the_restart_fails_too_the_previous_revision_stays_stopped_with_both_errors(
    tmp_path: Path,
) -> None:
    """It leaves revision 1 STOPPED at its savepoint with both errors, and `rollback --to 1` starts it."""
    deployer = FakeDeployer()
    handlers = make_handlers(tmp_path, deployer)
    run1 = await deploy(handlers, tmp_path, 1)
    deployer.fail_restore.update({2: "cannot map state of operator 90bea66d", 1: "the cluster has no slots"})
    run2 = await deploy(handlers, tmp_path, 2, started=False)

    record = await handlers.runs.deployment("orders") or {}
    assert (record["state"], record["revision"], record["savepoint_path"]) == (
        "STOPPED",
        1,
        "file:///savepoints/sp-job-1",
    )
    assert "cannot map state" in record["last_error"] and "no slots" in record["last_error"]
    failed = (await handlers.runs.get(run2)).view()  # type: ignore[union-attr]
    assert failed.state == "FAILED" and "failed too (the cluster has no slots)" in failed.reason
    audit = [json.loads(line)["action"] for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert audit == ["restore-failed", "auto-rollback-failed"]

    del deployer.fail_restore[1]
    back = await handlers.rollback("orders", by=OPS, to_revision=1)
    assert (back.state, back.revision, back.run_id) == ("RUNNING", 1, run1)
    assert deployer.started[-1].restore_from == "file:///savepoints/sp-job-1"
    assert deployer.stopped == ["job-1"]  # a stopped job is not stopped again


async def test_a_rollback_that_does_not_restore_restarts_the_revision_it_stopped(tmp_path: Path) -> None:
    """It starts revision 2 again from the savepoint the rollback took when revision 1 does not start."""
    deployer = FakeDeployer()
    handlers = make_handlers(tmp_path, deployer)
    await deploy(handlers, tmp_path, 1)
    run2 = await deploy(handlers, tmp_path, 2)
    deployer.fail_restore[1] = "Cannot map checkpoint/savepoint state for operator 20ba6b65"
    with pytest.raises(DeploymentFailed) as caught:
        await handlers.rollback("orders", by=OPS)
    assert "starting revision 1 of orders from file:///savepoints/sp-job-2 failed: Cannot map" in str(
        caught.value
    )
    assert "revision 2 was restarted from that savepoint automatically" in str(caught.value)
    record = await handlers.runs.deployment("orders") or {}
    assert (record["state"], record["revision"], record["run_id"]) == ("RUNNING", 2, run2)
    assert deployer.started[-1].restore_from == "file:///savepoints/sp-job-2"
