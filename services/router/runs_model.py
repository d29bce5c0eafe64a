"""The runs read-model's write path, shared by every router use case.

Every change to a run is a compare-and-set on its stored record: the event becomes a fact, the
events the router makes in reaction go to the record's outbox in the same write, and are
published after it. A redelivered event (a crash between the write and the consumer's marker)
finds its fact already there and re-publishes the outbox entries it caused: same event ids,
so consumers drop them. Every final state produces exactly one RunCompleted, whose id is derived
from the run id alone, whatever ended the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.mesh.events import EVENTS, Envelope, Event, FinalState, RunCompleted
from services.mesh.ids import derive
from services.mesh.logging import get_logger
from services.router.domain.report import render_report, report_path
from services.router.domain.runs import (
    TERMINAL,
    RunIdentity,
    RunRecord,
    RunState,
    RunView,
    adopt_identity,
    fact_of,
)
from services.router.errors import RunNotFound
from services.router.ports import Notifier, Publisher, ReportWriter, RunRepository
from services.router.watch import RunChanges

PRODUCER = "router"
MAX_CAS_RETRIES = 50
log = get_logger(__name__)


@dataclass
class Update:
    record: RunRecord
    before: RunView
    after: RunView
    duplicate: bool
    published: list[Event]


# A change to a run record (facts added in place); returns the events it made.
Change = Callable[[RunRecord], list[Event]]
# Told (view before, view after) once per saved change of a run: the run metrics.
Observer = Callable[[RunView, RunView], None]


def _no_change(_: RunRecord) -> list[Event]:
    return []


class RunsModel:
    def __init__(
        self,
        *,
        runs: RunRepository,
        publisher: Publisher,
        notifier: Notifier,
        reports: ReportWriter | None,
        changes: RunChanges,
        clock: Callable[[], datetime],
        observer: Observer | None = None,
    ) -> None:
        self.runs = runs
        self._observer = observer
        self._publisher = publisher
        self._notifier = notifier
        self._reports = reports
        self.changes = changes
        self.clock = clock

    async def update(self, run_id: str, event: Event | None, change: Change = _no_change) -> Update:
        """Record `event` (if any) and apply `change` in one compare-and-set; then publish what it made."""
        for _ in range(MAX_CAS_RETRIES):
            record = await self.runs.get(run_id)
            if record is None:
                if event is None:
                    raise RunNotFound(run_id)
                record = RunRecord(identity=adopt_identity(None, event))
            before = record.view()
            if event is not None:
                if not record.add(fact_of(event)):
                    await self._replay(record, event)
                    return Update(record, before, before, duplicate=True, published=[])
                record.identity = adopt_identity(record.identity, event)
            produced = change(record)
            last = (
                produced[-1].envelope.event_id if produced else (event.envelope.event_id if event else None)
            )
            produced += self._complete_if_final(record, last)
            if not await self.runs.save(record):
                continue
            for out in produced:
                await self._publisher.publish(out)
            after = record.view()
            await self._after(record, before, after)
            return Update(record, before, after, duplicate=False, published=produced)
        raise RuntimeError(f"run {run_id} keeps changing under concurrent writers")

    def now(self, record: RunRecord) -> datetime:
        """Now, but never before the run's latest fact (clock skew must not reorder timings)."""
        now = self.clock()
        latest = record.latest_fact()
        return max(now, latest.occurred_at) if latest is not None else now

    def envelope(
        self, record: RunRecord, event_type: str, *, cause_id: str | None, key: tuple[str, ...]
    ) -> Envelope:
        """The envelope of a router-made event; its id is derived from `key` (redelivery-safe)."""
        ident: RunIdentity = record.identity
        return Envelope(
            event_id=derive(*key),
            event_type=event_type,
            schema_version=EVENTS[event_type].SCHEMA_VERSION,
            occurred_at=self.now(record),
            run_id=ident.run_id,
            request_id=ident.request_id,
            domain=ident.domain,
            causation_id=cause_id,
            producer=PRODUCER,
            traceparent=ident.traceparent,
            idempotency_key=ident.idempotency_key,
        )

    def emit(self, record: RunRecord, event: Event, cause_id: str | None, **extra: Any) -> Event:
        """Add a router-made event to the run (as a fact) and to its outbox."""
        record.add(fact_of(event, **extra))
        record.outbox[event.envelope.event_id] = {"cause": cause_id, "event": event.model_dump(mode="json")}
        return event

    def completed(self, record: RunRecord, state: FinalState, reason: str, cause_id: str | None) -> Event:
        view = record.view()
        references = {k: v for k, v in view.references.items() if v}
        if record.identity.idempotency_key:
            references["idempotency_key"] = record.identity.idempotency_key
        event = RunCompleted(
            envelope=self.envelope(
                record,
                RunCompleted.EVENT_TYPE,
                cause_id=cause_id,
                key=(record.run_id, RunCompleted.EVENT_TYPE),
            ),
            final_state=state,
            reason=reason[:4000],
            references=references,
        )
        return self.emit(record, event, cause_id)

    def _complete_if_final(self, record: RunRecord, cause_id: str | None) -> list[Event]:
        view = record.view()
        if not view.terminal or view.completed or view.state is RunState.RUNNING:
            return []
        return [
            self.completed(
                record, FinalState(view.state.value), view.reason or view.state.value.lower(), cause_id
            )
        ]

    async def _replay(self, record: RunRecord, event: Event) -> None:
        """A redelivered event: publish again what it caused (same ids; consumers dedupe)."""
        if event.envelope.producer == PRODUCER:
            return
        for payload in record.outputs_of([event.envelope.event_id]):
            cls = EVENTS[str(payload["envelope"]["event_type"])]
            await self._publisher.publish(cls.model_validate(payload))

    async def _after(self, record: RunRecord, before: RunView, after: RunView) -> None:
        self.changes.notify(record.run_id)
        if self._observer is not None:
            try:
                self._observer(before, after)
            except Exception as error:  # metrics must never fail a saved change
                log.warning("run observer failed", run_id=record.run_id, error=str(error))
        if after.state == before.state:
            return
        domain = record.identity.domain
        if after.state is RunState.IN_REVIEW:
            await self._notifier.notify("review", after, domain)
        elif after.state in (RunState.FAILED, RunState.TIMED_OUT):
            await self._notifier.notify("failed", after, domain)
        if after.state in TERMINAL and self._reports is not None:
            try:
                await self._reports.write(
                    domain, report_path(domain), render_report(after, domain, self.clock())
                )
            except (OSError, ValueError) as error:
                log.warning("execution report not written", run_id=record.run_id, error=str(error))
