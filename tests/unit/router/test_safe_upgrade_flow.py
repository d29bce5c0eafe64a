"""Safe upgrades through the router with a fake deployer: the gate compares the deployed job's state
fingerprint with the new one's; an incompatible upgrade waits for review with the explanation, a
state drop too (and starts with allowNonRestoredState once approved), a compatible one starts as
before; a start whose upgrade got worse since the gate decided is refused before anything stops."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from router_events import OPS, SQL, RunEvents, make_handlers, write_artifacts

from services.flinksql.state_fingerprint import StateFingerprint, derive, to_json
from services.flinksql.statements import script_digest
from services.mesh.events import GateDecided
from services.router.adapters.manifest import ManifestDeployer
from services.router.handlers import RouterHandlers
from tests.fakes import FakeDeployer, RecordingPublisher
from tests.unit.flinksql.test_state_fingerprint import WRITTEN, aggregate_operators, aggregate_plan

AGG = "GroupAggregate[4]"


def job_sql(revision: int) -> str:
    return SQL.replace("sink", f"sink_r{revision}")


def fingerprint(revision: int, change: str = "") -> str:
    """The aggregate job of `revision`: as deployed, with another GROUP BY key, or without the aggregate."""
    plan = aggregate_plan(key=2 if change == "key" else 0)
    fp: StateFingerprint = derive(
        plan,
        aggregate_operators(),
        parallelism=2,
        sql_digest=script_digest(job_sql(revision)),
        written_options=WRITTEN,
    )
    if change == "drop":
        fp = StateFingerprint(
            flink_version=fp.flink_version,
            parallelism=fp.parallelism,
            holders=tuple(h for h in fp.holders if h.operator != AGG),
            sql_digest=fp.sql_digest,
        )
    return to_json(fp)


async def submit(
    handlers: RouterHandlers, tmp: Path, revision: int, fp: str | None, *, commit: bool = True
) -> RunEvents:
    """One revision through validation and the gate (and, with `commit`, the knowledge commit)."""
    run = RunEvents("orders")
    artifacts = write_artifacts(tmp / f"art-{run.run_id}", "orders")
    generated = run.generated(1, str(artifacts), revision).model_copy(update={"sql": job_sql(revision)})
    for event in (
        run.submitted(),
        run.accepted(revision, f"h{revision}"),
        generated,
        run.scored(1, score=95, sql_digest=script_digest(job_sql(revision)), state_fingerprint=fp),
    ):
        await handlers.on_event(event)
    if commit:
        await handlers.on_event(run.er_updated())
    return run


async def view(handlers: RouterHandlers, run: RunEvents) -> Any:
    record = await handlers.runs.get(run.run_id)
    assert record is not None
    return record.view()


def gate_upgrade(publisher: RecordingPublisher, run: RunEvents) -> GateDecided:
    return next(e for e in publisher.events if isinstance(e, GateDecided) and e.envelope.run_id == run.run_id)


async def test_a_compatible_upgrade_starts_from_the_savepoint_and_records_its_check(tmp_path: Path) -> None:
    """It approves as before, restores everything (no state skipped) and keeps the new fingerprint."""
    deployer = FakeDeployer()
    handlers = make_handlers(tmp_path, deployer)
    await submit(handlers, tmp_path, 1, fingerprint(1))
    second = await submit(handlers, tmp_path, 2, fingerprint(2))
    assert (await view(handlers, second)).state == "RUNNING"
    upgrade = deployer.started[-1]
    assert upgrade.previous is not None and upgrade.allow_non_restored_state is False
    record = await handlers.runs.deployment("orders") or {}
    assert record["upgrade"]["verdict"] == "compatible" and record["upgrade"]["from_revision"] == 1
    assert record["state_fingerprint"] == fingerprint(2)
    assert record["history"][-1]["state_fingerprint"] == fingerprint(1)


async def test_an_incompatible_upgrade_waits_for_review_with_the_explanation(tmp_path: Path) -> None:
    """It routes a changed GROUP BY key to review, says why, and starts nothing until approved."""
    deployer, publisher = FakeDeployer(), RecordingPublisher()
    handlers = make_handlers(tmp_path, deployer, publisher=publisher)
    await submit(handlers, tmp_path, 1, fingerprint(1))
    second = await submit(handlers, tmp_path, 2, fingerprint(2, "key"), commit=False)
    state = await view(handlers, second)
    assert state.state == "IN_REVIEW"
    assert (
        "cannot be restored" in state.reason
        and "its key changed (k VARCHAR(2147483647) -> i INT)" in state.reason
    )
    assert state.decisions[-1]["upgrade"]["verdict"] == "incompatible"
    assert len(deployer.started) == 1 and deployer.stopped == []
    decided = gate_upgrade(publisher, second)
    assert decided.decision.value == "review" and "its key changed" in decided.reason


async def test_an_approved_state_drop_starts_without_that_state_and_records_the_loss(tmp_path: Path) -> None:
    """It reviews an upgrade that drops the aggregate; once approved the start skips the lost state."""
    deployer = FakeDeployer()
    handlers = make_handlers(tmp_path, deployer)
    await submit(handlers, tmp_path, 1, fingerprint(1))
    second = await submit(handlers, tmp_path, 2, fingerprint(2, "drop"), commit=False)
    assert (await view(handlers, second)).state == "IN_REVIEW"
    assert "groupAggregateState is lost" in (await view(handlers, second)).reason
    await handlers.review(second.run_id, approve=True, by=OPS, comment="counts may restart")
    await handlers.on_event(second.er_updated())
    assert (await view(handlers, second)).state == "RUNNING"
    start = deployer.started[-1]
    assert start.run_id == second.run_id and start.allow_non_restored_state is True
    record = await handlers.runs.deployment("orders") or {}
    assert record["upgrade"]["verdict"] == "drop"
    assert any("groupAggregateState is lost" in line for line in record["upgrade"]["lost"])


async def test_a_start_whose_upgrade_got_worse_since_the_gate_is_refused_before_stopping(
    tmp_path: Path,
) -> None:
    """It refuses to start a run gated against one deployment when what runs changed since (a
    rollback) and the upgrade would now lose state: nothing is stopped, the run fails saying why."""
    deployer = FakeDeployer()
    handlers = make_handlers(tmp_path, deployer)
    await submit(handlers, tmp_path, 1, fingerprint(1))
    second = await submit(handlers, tmp_path, 2, fingerprint(2, "drop"), commit=False)
    await handlers.review(second.run_id, approve=True, by=OPS)
    await handlers.on_event(second.er_updated())
    third = await submit(handlers, tmp_path, 3, fingerprint(3, "drop"), commit=False)
    assert (await view(handlers, third)).state == "GATED"  # the same shape as revision 2: compatible
    await handlers.rollback("orders", by=OPS)  # revision 1, with its aggregate, runs again
    stops = list(deployer.stopped)
    await handlers.on_event(third.er_updated())
    failed = await view(handlers, third)
    assert failed.state == "FAILED" and "nothing stopped" in failed.reason
    assert "the gate saw compatible" in failed.reason and "groupAggregateState is lost" in failed.reason
    assert "must be dropped" in failed.reason
    assert deployer.stopped == stops and (await handlers.runs.deployment("orders") or {})["revision"] == 1


async def test_no_fingerprint_means_unknown_and_the_upgrade_goes_on(tmp_path: Path) -> None:
    """It does not block an upgrade it cannot check (a job deployed before fingerprints), and says so."""
    deployer = FakeDeployer()
    handlers = make_handlers(tmp_path, deployer)
    await submit(handlers, tmp_path, 1, None)
    second = await submit(handlers, tmp_path, 2, fingerprint(2))
    assert (await view(handlers, second)).state == "RUNNING"
    record = await handlers.runs.deployment("orders") or {}
    assert (
        record["upgrade"]["verdict"] == "unknown"
        and "revision 1 has no state fingerprint" in record["upgrade"]["summary"]
    )


async def test_the_manifest_deployer_writes_allow_non_restored_state_only_for_an_approved_drop(
    tmp_path: Path,
) -> None:
    """It writes spec.job.allowNonRestoredState true for the approved drop, false again afterwards."""
    out = tmp_path / "out"
    handlers = make_handlers(tmp_path, ManifestDeployer(out))
    await submit(handlers, tmp_path, 1, fingerprint(1))
    manifest = out / "job" / "orders" / "deployment" / "deploy-orders-v3.yaml"

    def allowed() -> object:
        import yaml

        docs = list(yaml.safe_load_all(manifest.read_text(encoding="utf-8")))
        return docs[1]["spec"]["job"].get("allowNonRestoredState", False)

    assert allowed() is False
    second = await submit(handlers, tmp_path, 2, fingerprint(2, "drop"), commit=False)
    await handlers.review(second.run_id, approve=True, by=OPS)
    await handlers.on_event(second.er_updated())
    assert allowed() is True
    await submit(handlers, tmp_path, 3, fingerprint(3, "drop"))  # the same shape: compatible
    assert allowed() is False
    record = json.loads((out / "job" / "orders" / "deployment" / ".streamwright-deployment.json").read_text())
    assert record["revision"] == 3


def test_the_deployment_status_shows_the_check_but_not_the_fingerprints() -> None:
    """It keeps the upgrade check in GetDeployment's detail and leaves the bulky fingerprints out."""
    from services.router.entrypoints.grpc_api import to_deployment_status

    record = {
        "domain": "orders",
        "revision": 2,
        "state": "RUNNING",
        "state_fingerprint": fingerprint(2),
        "manifests": {"a.yaml": "x"},
        "upgrade": {"verdict": "compatible", "summary": "maps completely"},
        "history": [{"revision": 1, "state_fingerprint": fingerprint(1), "manifests": {"a.yaml": "x"}}],
    }
    detail = json.loads(to_deployment_status(record).detail_json)
    assert detail["upgrade"]["verdict"] == "compatible"
    assert "state_fingerprint" not in detail and "manifests" not in detail
    assert detail["history"] == [{"revision": 1}]
