"""Router use cases over a real SQLite store and the manifest deployer, with a recording publisher."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from services.mesh.events import (
    FinalState,
    GateDecided,
    Issue,
    RequestRejected,
    RunCompleted,
    RunStarted,
    RunStartFailed,
    Severity,
)
from services.mesh.identity import Identity, unverified
from services.mesh.store import SQLiteDocumentStore
from services.router.adapters.audit_log import JsonlAuditLog
from services.router.adapters.manifest import ManifestDeployer
from services.router.adapters.report_fs import FsReportWriter
from services.router.adapters.runs_store import StoreRunRepository
from services.router.adapters.webhook import WebhookNotifier
from services.router.domain.config import RouterConfig, Timeouts
from services.router.domain.runs import RunState
from services.router.handlers import NotAllowed, RouterHandlers, RunConflict
from tests.fakes import RecordingPublisher
from tests.unit.router.router_events import RunEvents, write_artifacts

pytestmark = pytest.mark.integration


class WebhookStandIn(BaseHTTPRequestHandler):
    """A stand-in for a chat webhook: records every JSON body it gets."""

    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        WebhookStandIn.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def webhook() -> Iterator[str]:
    WebhookStandIn.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), WebhookStandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


@pytest.fixture
async def setup(
    tmp_path: Path, webhook: str
) -> AsyncIterator[tuple[RouterHandlers, RecordingPublisher, Path]]:
    store = SQLiteDocumentStore(tmp_path / "router.sqlite3")
    publisher = RecordingPublisher()
    out = tmp_path / "out"
    notifier = WebhookNotifier(webhook)
    handlers = RouterHandlers(
        runs=StoreRunRepository(store),
        publisher=publisher,
        config=RouterConfig(timeouts=Timeouts(workflow_minutes=15, review_minutes=60)),
        deployer=ManifestDeployer(out),
        audit=JsonlAuditLog(tmp_path / "audit.jsonl"),
        notifier=notifier,
        reports=FsReportWriter(out),
        approvers=frozenset({"alice", "approver"}),
    )
    yield handlers, publisher, tmp_path
    await notifier.aclose(grace=5)


async def delivered(kind: str) -> list[str]:
    """The kinds the webhook stand-in got, once one of `kind` arrived (delivery is in the background)."""
    for _ in range(500):
        kinds = [str(body["kind"]) for body in WebhookStandIn.received]
        if kind in kinds:
            return kinds
        await asyncio.sleep(0.01)
    raise AssertionError(f"no {kind!r} notification delivered in 5 s")


async def scored_run(
    handlers: RouterHandlers, tmp: Path, score: float, revision: int = 1, domain: str = "orders"
) -> RunEvents:
    run = RunEvents(domain)
    artifacts = write_artifacts(tmp / f"art-{run.run_id}", domain)
    for event in (
        run.submitted(),
        run.accepted(revision, f"h{revision}"),
        run.generated(1, str(artifacts), revision),
    ):
        await handlers.on_event(event)
    await handlers.on_event(run.scored(1, score=score))
    return run


async def test_approved_run_starts_and_completes_running(setup) -> None:  # type: ignore[no-untyped-def]
    """It approves a run above the gate, writes the manifest on ErUpdated, and ends it RUNNING once."""
    handlers, publisher, tmp = setup
    run = await scored_run(handlers, tmp, 92)
    (gate,) = publisher.of(GateDecided)
    assert gate.decision.value == "approved" and gate.envelope.idempotency_key == f"key-{run.run_id}"
    await handlers.on_event(run.er_updated())
    (started,) = publisher.of(RunStarted)
    (done,) = publisher.of(RunCompleted)
    assert started.target == "manifest" and done.final_state is FinalState.RUNNING
    assert done.envelope.idempotency_key == f"key-{run.run_id}"
    manifest = tmp / "out" / "job" / "orders" / "deployment" / "deploy-orders-v3.yaml"
    assert "FlinkDeployment" in manifest.read_text()
    report = (tmp / "out" / "job" / "orders" / "workflow" / "end-to-end-execution-report-v3.md").read_text()
    assert "RUNNING" in report and "92" in report and "阶段2: 质量验证" in report
    view = await handlers.get(run.run_id)
    assert view.state is RunState.RUNNING and {p.name for p in view.phases} >= {"ingest", "validate", "start"}
    deployment = await handlers.runs.deployment("orders")
    assert deployment is not None and deployment["run_id"] == run.run_id and deployment["revision"] == 1


async def test_redelivery_republishes_the_same_ids(setup) -> None:  # type: ignore[no-untyped-def]
    """It re-publishes what a redelivered event caused, with identical ids, and decides nothing new."""
    handlers, publisher, _ = setup
    run = RunEvents()
    await handlers.on_event(run.submitted())
    rejected = RequestRejected(
        envelope=run.envelope(RequestRejected.EVENT_TYPE, "ingest"),
        errors=(Issue(code="E1", severity=Severity.ERROR, message="bad mapping"),),
    )
    await handlers.on_event(rejected)
    await handlers.on_event(rejected)
    done = publisher.of(RunCompleted)
    assert len(done) == 2 and done[0].envelope.event_id == done[1].envelope.event_id
    assert done[0].final_state is FinalState.REJECTED and "bad mapping" in done[0].reason
    assert (await handlers.get(run.run_id)).state is RunState.REJECTED


async def test_low_score_goes_to_review_then_approved_by_reviewer(setup) -> None:  # type: ignore[no-untyped-def]
    """It sends a low score without an LLM repair to review, notifies, and audits the approval."""
    handlers, publisher, tmp = setup
    run = await scored_run(handlers, tmp, 70)
    view = await handlers.get(run.run_id)
    assert view.state is RunState.IN_REVIEW and "deterministic" in view.reason
    assert (await delivered("review"))[0] == "review"
    for approve in (True, False):  # neither approving nor rejecting without the role
        with pytest.raises(NotAllowed, match=r"mallory may not .* runs: needs the approver role"):
            await handlers.review(run.run_id, approve=approve, by=Identity(subject="mallory"))
    view = await handlers.review(
        run.run_id, approve=True, by=Identity(subject="alice"), comment="looks right"
    )
    assert view.state is RunState.GATED and view.reviewer == "alice"
    decisions = publisher.of(GateDecided)
    assert [d.decided_by.value for d in decisions] == ["gate", "reviewer"]
    assert decisions[1].reason == "looks right"
    with pytest.raises(RunConflict):
        await handlers.review(run.run_id, approve=False, by=Identity(subject="alice"))
    audit = [json.loads(line) for line in (tmp / "audit.jsonl").read_text().splitlines()]
    assert audit == [
        {
            "at": audit[0]["at"],
            "attempt": 1,
            "comment": "looks right",
            "decision": "approved",
            "domain": "orders",
            "event_id": decisions[1].envelope.event_id,
            "reviewer": "alice",
            "roles": [],
            "run_id": run.run_id,
            "score": 70.0,
        }
    ]


async def test_reviewer_rejects(setup) -> None:  # type: ignore[no-untyped-def]
    """It ends a run REJECTED when the reviewer rejects it, with one RunCompleted."""
    handlers, publisher, tmp = setup
    run = await scored_run(handlers, tmp, 60)
    bob = Identity(subject="bob", roles=frozenset({"approver"}))
    await handlers.review(run.run_id, approve=False, by=bob, comment="wrong join")
    (done,) = publisher.of(RunCompleted)
    assert done.final_state is FinalState.REJECTED and done.reason == "wrong join"


async def test_start_failure_fails_the_run(setup) -> None:  # type: ignore[no-untyped-def]
    """It reports a failed start as RunStartFailed and a FAILED run with the deployer's error."""
    handlers, publisher, tmp = setup
    run = RunEvents()
    for event in (
        run.submitted(),
        run.accepted(),
        run.generated(1, str(tmp / "missing")),
        run.scored(1, score=95),
    ):
        await handlers.on_event(event)
    await handlers.on_event(run.er_updated())
    (failed,) = publisher.of(RunStartFailed)
    (done,) = publisher.of(RunCompleted)
    assert "no deployment manifests" in failed.reason
    assert done.final_state is FinalState.FAILED and "no deployment manifests" in done.reason
    assert (await delivered("failed"))[-1] == "failed"


async def test_newer_revision_supersedes_older_runs(setup) -> None:  # type: ignore[no-untyped-def]
    """It supersedes an older revision in review, and an old revision arriving late never deploys."""
    handlers, publisher, tmp = setup
    old = await scored_run(handlers, tmp, 60, revision=1)
    new = await scored_run(handlers, tmp, 95, revision=2)
    assert (await handlers.get(old.run_id)).state is RunState.SUPERSEDED
    assert (await handlers.get(new.run_id)).state is RunState.GATED
    late = RunEvents()
    await handlers.on_event(late.accepted(1, "h1"))
    view = await handlers.get(late.run_id)
    assert view.state is RunState.SUPERSEDED and "revision 2" in view.reason
    finals = {e.envelope.run_id: e.final_state for e in publisher.of(RunCompleted)}
    assert finals == {old.run_id: FinalState.SUPERSEDED, late.run_id: FinalState.SUPERSEDED}


async def test_cancel_and_timeout(setup) -> None:  # type: ignore[no-untyped-def]
    """It cancels an open run once, and times out a stuck one with one RunCompleted each."""
    handlers, publisher, tmp = setup
    first = await scored_run(handlers, tmp, 95, domain="a")
    view = await handlers.cancel(first.run_id, reason="not needed", by=Identity(subject="alice"))
    assert view.state is RunState.CANCELLED and "alice" in view.reason
    with pytest.raises(RunConflict):
        await handlers.cancel(first.run_id, reason="again", by=Identity(subject="alice"))
    stuck = RunEvents("b")
    await handlers.on_event(stuck.submitted())
    await handlers.on_event(stuck.accepted())
    assert await handlers.sweep(stuck.at + timedelta(minutes=1)) == 0
    assert await handlers.sweep(stuck.at + timedelta(minutes=6)) == 1
    assert await handlers.sweep(stuck.at + timedelta(minutes=7)) == 0
    finals = [(e.envelope.run_id, e.final_state) for e in publisher.of(RunCompleted)]
    assert finals == [(first.run_id, FinalState.CANCELLED), (stuck.run_id, FinalState.TIMED_OUT)]


async def test_late_score_of_an_old_attempt_is_only_recorded(setup) -> None:  # type: ignore[no-untyped-def]
    """It does not gate attempt 1 once attempt 2 exists (out-of-order delivery)."""
    handlers, publisher, tmp = setup
    run = RunEvents()
    artifacts = str(write_artifacts(tmp / "a", "orders"))
    first, second = run.scored(1, score=60), None
    for event in (run.submitted(), run.accepted(), run.generated(1, artifacts)):
        await handlers.on_event(event)
    second_gen = run.generated(2, artifacts)
    second = run.scored(2, score=95)
    await handlers.on_event(second_gen)
    await handlers.on_event(second)
    await handlers.on_event(first)
    assert [(g.attempt, g.decision.value) for g in publisher.of(GateDecided)] == [(2, "approved")]
    assert (await handlers.get(run.run_id)).state is RunState.GATED


async def test_only_the_submitter_or_an_approver_cancels(setup) -> None:  # type: ignore[no-untyped-def]
    """It refuses a cancel from someone who neither submitted the run nor approves; auth off is unchecked."""
    handlers, _publisher, _tmp = setup
    runs = [RunEvents(domain) for domain in ("c", "d", "e")]
    for run in runs:
        await handlers.on_event(run.submitted(submitted_by="carol"))
    with pytest.raises(
        NotAllowed, match=r"mallory may not cancel .* only its submitter \(carol\) or an approver"
    ):
        await handlers.cancel(runs[0].run_id, reason="mine now", by=Identity(subject="mallory"))
    assert (await handlers.get(runs[0].run_id)).state is not RunState.CANCELLED
    by_submitter = await handlers.cancel(runs[0].run_id, reason="withdrawn", by=Identity(subject="carol"))
    by_approver = await handlers.cancel(runs[1].run_id, reason="stop it", by=Identity(subject="alice"))
    unchecked = await handlers.cancel(runs[2].run_id, reason="auth off", by=unverified())
    assert [v.state for v in (by_submitter, by_approver, unchecked)] == [RunState.CANCELLED] * 3
