"""Router use cases: keep every run's read-model, gate scored attempts, start approved jobs.

`RouterHandlers` is what bootstrap wires and what the gRPC API and the consumers call. It composes
three parts and keeps the run lifecycle that belongs to none of them (supersede, time out):

    runs_model.RunsModel    the runs read-model's write path (compare-and-set, outbox, RunCompleted)
    gate.Gate               GateDecided for scored attempts, a reviewer's decision, cancel
    deployments.Deployments start approved jobs, stop and roll back a domain's job
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from services.mesh.events import ErUpdated, Event, RequestAccepted, SqlGenerated, ValidationScored, utc_now
from services.mesh.ids import derive
from services.mesh.logging import get_logger
from services.router.deployments import Deployments
from services.router.domain.config import RouterConfig
from services.router.domain.decide import Classifier
from services.router.domain.runs import (
    MARK_SUPERSEDED,
    MARK_TIMED_OUT,
    RunRecord,
    RunState,
    RunView,
    marker,
    overdue,
)
from services.router.errors import (
    DeploymentConflict,
    DeploymentFailed,
    DomainNotFound,
    NoPreviousRevision,
    NotAllowed,
    NothingDeployed,
    RunConflict,
    RunNotFound,
)
from services.router.gate import Gate
from services.router.ports import (
    AuditLog,
    Deployer,
    LineageEmitter,
    Notifier,
    Publisher,
    ReportWriter,
    RunRepository,
)
from services.router.runs_model import MAX_CAS_RETRIES, Observer, RunsModel
from services.router.watch import RunChanges

# The errors are imported from here by the gRPC API and tests.
__all__ = [
    "DeploymentConflict",
    "DeploymentFailed",
    "DomainNotFound",
    "NoPreviousRevision",
    "NotAllowed",
    "NothingDeployed",
    "RouterHandlers",
    "RunConflict",
    "RunNotFound",
]

log = get_logger(__name__)


class RouterHandlers:
    def __init__(
        self,
        *,
        runs: RunRepository,
        publisher: Publisher,
        config: RouterConfig,
        deployer: Deployer,
        audit: AuditLog,
        notifier: Notifier,
        reports: ReportWriter | None = None,
        classifier: Classifier | None = None,
        llm_repair: bool = False,
        approvers: frozenset[str] = frozenset(),
        changes: RunChanges | None = None,
        clock: Callable[[], datetime] = utc_now,
        observer: Observer | None = None,
        lineage: LineageEmitter | None = None,
    ) -> None:
        self.runs = runs
        self.config = config
        self.changes = changes or RunChanges()
        self.model = RunsModel(
            runs=runs,
            publisher=publisher,
            notifier=notifier,
            reports=reports,
            changes=self.changes,
            clock=clock,
            observer=observer,
        )
        self.gate = Gate(
            model=self.model,
            routing=config.routing,
            audit=audit,
            classifier=classifier,
            llm_repair=llm_repair,
            approvers=approvers,
        )
        self.deployments = Deployments(
            model=self.model, deployer=deployer, audit=audit, approvers=approvers, lineage=lineage
        )
        # The commands (gRPC / CLI) and event handlers, by the part that owns them.
        self.review = self.gate.review
        self.cancel = self.gate.cancel
        self.on_validation_scored = self.gate.on_validation_scored
        self.stop = self.deployments.stop
        self.rollback = self.deployments.rollback
        self.on_er_updated = self.deployments.on_er_updated

    async def on_event(self, event: Event) -> None:
        """Record any run event (the generic handler: timeline, state, RunCompleted)."""
        if isinstance(event, ValidationScored):
            await self.on_validation_scored(event)
        elif isinstance(event, ErUpdated):
            await self.on_er_updated(event)
        elif isinstance(event, RequestAccepted):
            await self.on_request_accepted(event)
        elif isinstance(event, SqlGenerated):
            await self.runs.save_sql(event.envelope.run_id, event.attempt, event.sql)
            await self.model.update(event.envelope.run_id, event)
        else:
            await self.model.update(event.envelope.run_id, event)

    async def on_request_accepted(self, event: RequestAccepted) -> None:
        """Record it; a newer revision supersedes the domain's older open runs (and vice versa)."""
        env = event.envelope
        await self.model.update(env.run_id, event)
        head = await self._raise_head(env.domain, event.revision)
        if head > event.revision:
            await self._supersede(env.run_id, cause_id=env.event_id, by_run=None, revision=head)
            return
        for record in await self.runs.open_runs(domain=env.domain):
            view = record.view()
            if record.run_id == env.run_id or view.revision is None or view.revision >= event.revision:
                continue
            if view.state in (RunState.STARTING,):
                continue  # about to start: the new revision upgrades over it
            await self._supersede(
                record.run_id, cause_id=env.event_id, by_run=env.run_id, revision=event.revision
            )

    async def get(self, run_id: str) -> RunView:
        record = await self.runs.get(run_id)
        if record is None:
            raise RunNotFound(run_id)
        return record.view()

    async def domain_of(self, run_id: str) -> str:
        record = await self.runs.get(run_id)
        if record is None:
            raise RunNotFound(run_id)
        return record.identity.domain

    async def sweep(self, now: datetime | None = None) -> int:
        """End overdue runs as TIMED_OUT; returns how many it ended."""
        now = now or self.model.clock()
        ended = 0
        for record in await self.runs.open_runs():
            reason = overdue(record.view(), self.config.timeouts, now)
            if reason is None:
                continue

            def change(rec: RunRecord, why: str = reason) -> list[Event]:
                if rec.view().terminal:
                    return []
                rec.add(
                    marker(
                        derive(rec.run_id, MARK_TIMED_OUT), MARK_TIMED_OUT, now, reason=f"timed out: {why}"
                    )
                )
                return []

            update = await self.model.update(record.run_id, None, change)
            ended += int(
                update.after.state is RunState.TIMED_OUT and update.before.state is not RunState.TIMED_OUT
            )
        return ended

    async def sweep_forever(self, interval: float) -> None:
        while True:
            try:
                await self.sweep()
            except Exception as error:  # keep sweeping; the next round retries
                log.error("timeout sweep failed", error=str(error))
            await asyncio.sleep(interval)

    async def _raise_head(self, domain: str, revision: int) -> int:
        """Raise the domain's highest accepted revision to `revision`; returns the head now."""
        for _ in range(MAX_CAS_RETRIES):
            head, version = await self.runs.domain_head(domain)
            if head >= revision:
                return head
            if await self.runs.save_domain_head(domain, revision, version):
                return revision
        raise RuntimeError(f"domain head of {domain!r} keeps moving")

    async def _supersede(self, run_id: str, *, cause_id: str, by_run: str | None, revision: int) -> None:
        def change(rec: RunRecord) -> list[Event]:
            view = rec.view()
            if view.terminal or view.state is RunState.STARTING:
                return []
            by = f" (run {by_run})" if by_run else ""
            rec.add(
                marker(
                    derive(cause_id, MARK_SUPERSEDED, run_id),
                    MARK_SUPERSEDED,
                    self.model.now(rec),
                    reason=f"superseded by revision {revision}{by} of {rec.identity.domain}",
                )
            )
            return []

        await self.model.update(run_id, None, change)
