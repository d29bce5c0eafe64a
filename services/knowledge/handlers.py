"""Knowledge event handlers: remember accepted specs, commit approved ones, follow job starts.

- RequestAccepted: remember the run's spec and the version it is based on (the current one).
- GateDecided(approved): commit a new version -> ErUpdated with the change list; or, when the
  base moved and the re-check finds a Critical conflict, ErCommitFailed with the reason.
  A conflict report is written whenever a check found something worth a look.
- RunStarted: the version's job runs. RunStartFailed: compensation — the domain goes back to
  the previous version and the version is marked start_failed. No event is published for a
  rollback: an ErUpdated would read as "this run's version is committed".

Redelivered events are dropped by the consumer wrapper; a handler re-run after a crash
finds the run's outcome recorded and re-publishes the same event (same derived id).
"""

from __future__ import annotations

from services.flinksql.spec import RequestSpec
from services.knowledge.domain.diagrams import conflict_report
from services.knowledge.domain.model import Change, build_model
from services.knowledge.domain.versions import RunRecord
from services.knowledge.knowledge_base import CommitMeta, CommitOutcome, KnowledgeBase
from services.knowledge.ports import Publisher
from services.mesh.events import (
    Decision,
    Envelope,
    ErChange,
    ErCommitFailed,
    ErUpdated,
    GateDecided,
    RequestAccepted,
    RunStarted,
    RunStartFailed,
    utc_now,
)
from services.mesh.logging import get_logger

PRODUCER = "knowledge"
log = get_logger(__name__)


class UnknownRun(RuntimeError):
    """An approval for a run whose RequestAccepted this service has not seen (retried, then DLQ)."""


def to_er_change(change: Change) -> ErChange:
    return ErChange(
        kind=change.kind,
        table=change.table,
        column=change.column,
        detail=change.detail,
        severity=change.severity,
    )


class KnowledgeHandlers:
    def __init__(self, *, kb: KnowledgeBase, publisher: Publisher) -> None:
        self._kb = kb
        self._publisher = publisher

    async def on_request_accepted(self, event: RequestAccepted) -> None:
        env = event.envelope
        if await self._kb.repo.run(env.run_id) is not None:
            return
        spec = RequestSpec.model_validate_json(event.spec_json)
        head, _ = await self._kb.repo.head(spec.job.domain)
        await self._kb.repo.save_run(
            RunRecord(
                run_id=env.run_id,
                request_id=env.request_id,
                domain=spec.job.domain,
                revision=event.revision,
                content_hash=event.content_hash,
                spec_json=event.spec_json,
                base_version=head.current,
            )
        )

    async def on_gate_decided(self, event: GateDecided) -> None:
        if event.decision != Decision.APPROVED:
            return
        run = await self._kb.repo.run(event.envelope.run_id)
        if run is None:
            raise UnknownRun(f"no RequestAccepted seen for run {event.envelope.run_id}")
        if run.outcome != "pending":
            await self._republish(event, run)
            return
        spec = RequestSpec.model_validate_json(run.spec_json)
        model = build_model(spec, run_id=run.run_id, request_id=run.request_id, revision=run.revision)
        meta = CommitMeta(run.run_id, run.request_id, run.revision, run.content_hash)
        outcome = await self._kb.commit(model, meta, base_version=run.base_version)
        self._report(run, outcome)
        if outcome.committed:
            assert outcome.record is not None
            run = run.model_copy(update={"outcome": "committed", "committed_version": outcome.record.version})
        else:
            run = run.model_copy(
                update={"outcome": "failed", "reason": outcome.reason, "conflicts": outcome.result.critical}
            )
        await self._kb.repo.save_run(run)
        await self._republish(event, run)

    async def _republish(self, cause: GateDecided, run: RunRecord) -> None:
        if run.outcome == "committed" and run.committed_version is not None:
            record = await self._kb.repo.version(run.domain, run.committed_version)
            assert record is not None
            envelope = Envelope.caused_by(cause, event_type=ErUpdated.EVENT_TYPE, producer=PRODUCER)
            await self._publisher.publish(
                ErUpdated(
                    envelope=envelope,
                    version=record.version,
                    previous_version=record.previous_version,
                    changes=tuple(to_er_change(c) for c in record.changes),
                )
            )
        else:
            envelope = Envelope.caused_by(cause, event_type=ErCommitFailed.EVENT_TYPE, producer=PRODUCER)
            await self._publisher.publish(
                ErCommitFailed(
                    envelope=envelope,
                    reason=run.reason or "conflicts with the knowledge base",
                    conflicts=tuple(to_er_change(c) for c in run.conflicts),
                )
            )

    def _report(self, run: RunRecord, outcome: CommitOutcome) -> None:
        files = self._kb.files
        worth = [c for c in outcome.result.changes if c.severity != "info"]
        if files is None or (outcome.committed and not worth):
            return
        label = "committed" if outcome.committed else "rejected"
        text = conflict_report(
            domain=run.domain,
            run_id=run.run_id,
            outcome=label,
            mode=outcome.result.mode.value,
            base_version=outcome.result.base_version,
            changes=outcome.result.changes,
            generated_at=utc_now(),
            reason=outcome.reason,
        )
        path = files.write_conflict_report(f"{run.domain}-{run.run_id}-{label}.md", text)
        log.info("conflict report written", path=path, critical=len(outcome.result.critical))

    async def on_run_started(self, event: RunStarted) -> None:
        record = await self._kb.repo.version_of_run(event.envelope.run_id)
        if record is not None:
            await self._kb.mark_started(record)

    async def on_run_start_failed(self, event: RunStartFailed) -> None:
        record = await self._kb.repo.version_of_run(event.envelope.run_id)
        if record is None or record.state == "start_failed":
            return
        current = await self._kb.compensate(record)
        log.warning(
            "job did not start; knowledge base rolled back",
            domain=record.domain,
            version=record.version,
            current=current,
            reason=event.reason,
        )
