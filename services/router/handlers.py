"""Router use cases: keep every run's read-model, gate scored attempts, start approved jobs.

Every change to a run is a compare-and-set on its stored record: the event becomes a fact, the
events the router makes in reaction go to the record's outbox in the same write, and are
published after it. A redelivered event (a crash between the write and the consumer's marker)
finds its fact already there and re-publishes the outbox entries it caused: same event ids,
so consumers drop them. Every final state produces exactly one RunCompleted, whose id is derived
from the run id alone, whatever ended the run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from services.mesh.events import (
    EVENTS,
    DecidedBy,
    Decision,
    Envelope,
    ErUpdated,
    Event,
    FinalState,
    GateDecided,
    GateMode,
    RequestAccepted,
    RunCancelRequested,
    RunCompleted,
    RunStarted,
    RunStartFailed,
    SqlGenerated,
    ValidationScored,
    utc_now,
)
from services.mesh.ids import derive
from services.mesh.logging import get_logger
from services.router.domain.config import RouterConfig
from services.router.domain.decide import Classifier, RoutingDecision, decide
from services.router.domain.facts import FindingFact, RunFacts
from services.router.domain.report import render_report, report_path
from services.router.domain.runs import (
    MARK_STARTING,
    MARK_SUPERSEDED,
    MARK_TIMED_OUT,
    TERMINAL,
    RunIdentity,
    RunRecord,
    RunState,
    RunView,
    adopt_identity,
    fact_of,
    marker,
    overdue,
)
from services.router.ports import (
    AuditLog,
    Deployer,
    DeployError,
    Notifier,
    Publisher,
    ReportWriter,
    RunRepository,
    StartRequest,
    StartResult,
)
from services.router.watch import RunChanges

PRODUCER = "router"
MAX_CAS_RETRIES = 50
RUNNING, STOPPED = "RUNNING", "STOPPED"
HISTORY_LIMIT = 20
# What a deployment record keeps of each earlier deployment (enough to start it again).
HISTORY_KEYS = (
    "run_id",
    "revision",
    "attempt",
    "artifact_ref",
    "content_hash",
    "target",
    "job_id",
    "deployment_ref",
    "savepoint_restored",
    "savepoint_path",
    "started_at",
    "stopped_at",
    "state",
    "manifests",
)
_FLINK_TARGETS = frozenset({"sql-gateway", "flink-session"})
log = get_logger(__name__)


class RunNotFound(LookupError):
    pass


class RunConflict(RuntimeError):
    """The run is not in a state that allows the operation (e.g. review of a run not IN_REVIEW)."""


class NotAllowed(PermissionError):
    """The caller may not do this (e.g. approve without the approver role)."""


class DomainNotFound(LookupError):
    """No run and no deployment of the domain."""


class DeploymentConflict(RuntimeError):
    """The domain's deployment does not allow the operation (already stopped, other target, ...)."""


class NothingDeployed(DeploymentConflict):
    pass


class NoPreviousRevision(DeploymentConflict):
    pass


class DeploymentFailed(RuntimeError):
    """The engine refused or failed a stop or start; the message carries its error."""


@dataclass
class Update:
    record: RunRecord
    before: RunView
    after: RunView
    duplicate: bool
    published: list[Event]


Change = Callable[[RunRecord], list[Event]]


def _no_change(_: RunRecord) -> list[Event]:
    return []


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
    ) -> None:
        self.runs = runs
        self._publisher = publisher
        self.config = config
        self._deployer = deployer
        self._audit = audit
        self._notifier = notifier
        self._reports = reports
        self._classifier = classifier
        self._llm_repair = llm_repair
        self._approvers = approvers
        self.changes = changes or RunChanges()
        self._clock = clock
        # One deployment operation (start, stop, rollback) per domain at a time.
        self._deploy_locks: dict[str, asyncio.Lock] = {}

    # --- event entry points -------------------------------------------------------------

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
            await self._update(event.envelope.run_id, event)
        else:
            await self._update(event.envelope.run_id, event)

    async def on_request_accepted(self, event: RequestAccepted) -> None:
        """Record it; a newer revision supersedes the domain's older open runs (and vice versa)."""
        env = event.envelope
        await self._update(env.run_id, event)
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

    async def on_validation_scored(self, event: ValidationScored) -> None:
        """Gate the scored attempt and publish GateDecided (once per attempt)."""
        env = event.envelope
        record = await self.runs.get(env.run_id)
        already = record is not None and (
            record.has(GateDecided.EVENT_TYPE, attempt=event.attempt, decided_by="gate")
            or record.has(GateDecided.EVENT_TYPE, attempt=event.attempt, decided_by="rule")
            or record.has(GateDecided.EVENT_TYPE, attempt=event.attempt, decided_by="llm")
        )
        current = record.view() if record is not None else None
        terminal = current is not None and current.terminal
        # A late score of an attempt the run has moved past (a newer attempt exists) is only recorded.
        stale = current is not None and current.attempt > event.attempt
        routing: RoutingDecision | None = None
        if not already and not terminal and not stale:
            routing = await self._decide(event, record)

        def change(rec: RunRecord) -> list[Event]:
            view = rec.view()
            if (
                routing is None
                or view.terminal
                or view.attempt > event.attempt
                or self._decided(rec, event.attempt)
            ):
                return []
            return [self._gate_event(rec, event, routing)]

        await self._update(env.run_id, event, change)

    async def on_er_updated(self, event: ErUpdated) -> None:
        """Knowledge committed: start the job (unless a newer revision superseded this run)."""
        env = event.envelope
        head, _ = await self.runs.domain_head(env.domain)
        deployment = await self.runs.deployment(env.domain)

        def change(rec: RunRecord) -> list[Event]:
            view = rec.view()
            if view.state is not RunState.KB_UPDATED:
                return []
            revision = view.revision or 0
            newer = max(head, int((deployment or {}).get("revision") or 0))
            if newer > revision:
                rec.add(
                    marker(
                        derive(env.event_id, MARK_SUPERSEDED),
                        MARK_SUPERSEDED,
                        self._now(rec),
                        reason=f"superseded: revision {newer} of {env.domain} is newer than this run's {revision}",
                    )
                )
                return []
            rec.add(
                marker(
                    derive(env.event_id, MARK_STARTING),
                    MARK_STARTING,
                    self._now(rec),
                    target=self._deployer.target,
                )
            )
            return []

        update = await self._update(env.run_id, event, change)
        view = update.after
        started = update.record.has(RunStarted.EVENT_TYPE) or update.record.has(RunStartFailed.EVENT_TYPE)
        if view.state is RunState.STARTING and not started:
            async with self._deploy_lock(env.domain):
                # A redelivery racing this one may have started the job while this one waited.
                record = await self.runs.get(env.run_id) or update.record
                if not (record.has(RunStarted.EVENT_TYPE) or record.has(RunStartFailed.EVENT_TYPE)):
                    await self._start(record, event, await self.runs.deployment(env.domain))

    # --- commands (gRPC / CLI) -------------------------------------------------------------

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

    async def review(
        self,
        run_id: str,
        *,
        approve: bool,
        reviewer: str,
        comment: str = "",
        roles: frozenset[str] = frozenset(),
    ) -> RunView:
        """A human decision on a run IN_REVIEW: GateDecided(decided_by=reviewer), audited."""
        record = await self.runs.get(run_id)
        if record is None:
            raise RunNotFound(run_id)
        if approve and self._approvers and not ({reviewer} | roles) & self._approvers:
            raise NotAllowed(
                f"{reviewer} may not approve runs (approvers: {', '.join(sorted(self._approvers))})"
            )
        view = record.view()
        if view.state is not RunState.IN_REVIEW:
            raise RunConflict(f"run {run_id} is {view.state.value}, not IN_REVIEW")
        made: list[GateDecided] = []

        def change(rec: RunRecord) -> list[Event]:
            current = rec.view()
            if current.state is not RunState.IN_REVIEW:
                return []
            asked = rec.has(GateDecided.EVENT_TYPE, attempt=current.attempt, decision="review")
            if asked is None:
                return []
            decision = Decision.APPROVED if approve else Decision.REJECTED
            verb = "approved" if approve else "rejected"
            event = GateDecided(
                envelope=self._envelope(
                    rec,
                    GateDecided.EVENT_TYPE,
                    cause_id=asked.event_id,
                    key=(asked.event_id, GateDecided.EVENT_TYPE, "review"),
                ),
                attempt=current.attempt,
                decision=decision,
                reason=comment.strip() or f"{verb} by {reviewer}",
                mode=GateMode(str(asked.data.get("mode") or "strict")),
                decided_by=DecidedBy.REVIEWER,
                reviewer=reviewer,
                score=current.score,
            )
            made.append(event)
            return [self._emit(rec, event, asked.event_id)]

        update = await self._update(run_id, None, change)
        if not made:
            raise RunConflict(f"run {run_id} is {update.after.state.value}, not IN_REVIEW")
        decided = made[0]
        await self._audit.append(
            {
                "at": decided.envelope.occurred_at.isoformat(),
                "event_id": decided.envelope.event_id,
                "run_id": run_id,
                "domain": update.record.identity.domain,
                "attempt": decided.attempt,
                "decision": decided.decision.value,
                "reviewer": reviewer,
                "roles": sorted(roles),
                "comment": comment,
                "score": decided.score,
            }
        )
        return update.after

    async def cancel(self, run_id: str, *, reason: str, requested_by: str | None) -> RunView:
        record = await self.runs.get(run_id)
        if record is None:
            raise RunNotFound(run_id)
        if record.view().terminal:
            raise RunConflict(f"run {run_id} already ended {record.view().state.value}")

        def change(rec: RunRecord) -> list[Event]:
            if rec.view().terminal:
                return []
            event = RunCancelRequested(
                envelope=self._envelope(
                    rec,
                    RunCancelRequested.EVENT_TYPE,
                    cause_id=None,
                    key=(run_id, RunCancelRequested.EVENT_TYPE),
                ),
                reason=reason or "cancelled",
                requested_by=requested_by,
            )
            return [self._emit(rec, event, None)]

        update = await self._update(run_id, None, change)
        return update.after

    async def stop(
        self,
        domain: str,
        *,
        reason: str = "",
        requested_by: str | None = None,
        roles: frozenset[str] = frozenset(),
    ) -> dict[str, Any]:
        """Stop the domain's job with a savepoint (where the deployer takes one); record it STOPPED."""
        self._may_operate(requested_by, roles, "stop")
        async with self._deploy_lock(domain):
            current = await self._current(domain)
            if _stopped(current):
                where = current.get("savepoint_path") or "no savepoint path recorded"
                raise DeploymentConflict(
                    f"revision {current.get('revision')} of {domain} is already stopped ({where})"
                )
            savepoint = await self._stop_job(domain, current)
            record = self._stopped_record(current, savepoint, reason or "stopped", requested_by)
            await self.runs.save_deployment(domain, record)
        await self._audit_deployment("stop", record, requested_by, reason)
        return record

    async def rollback(
        self,
        domain: str,
        *,
        to_revision: int | None = None,
        requested_by: str | None = None,
        roles: frozenset[str] = frozenset(),
    ) -> dict[str, Any]:
        """Start an earlier revision again: stop the current job with a savepoint, start it from there.

        Without `to_revision`, the latest earlier deployment of a lower revision. Its SQL (by run and
        attempt) and manifests come from the deployment record; the started deployment is recorded,
        with the replaced one in its history.
        """
        self._may_operate(requested_by, roles, "roll back")
        async with self._deploy_lock(domain):
            current = await self._current(domain)
            entry = _rollback_target(domain, current, to_revision)
            request = await self._restart_request(domain, entry)
            revision, from_revision = request.revision, int(current.get("revision") or 0)
            stopped = current
            if not _stopped(current):
                savepoint = await self._stop_job(domain, current)
                stopped = self._stopped_record(
                    current, savepoint, f"rolling back to revision {revision}", requested_by
                )
                await self.runs.save_deployment(domain, stopped)
            request = replace(request, restore_from=stopped.get("savepoint_path"))
            try:
                result = await self._deployer.start(request)
            except Exception as failure:
                if not isinstance(failure, DeployError):
                    log.exception("deployer crashed", domain=domain)
                error = str(failure) or type(failure).__name__
                await self.runs.save_deployment(domain, {**stopped, "last_error": error[:4000]})
                where = stopped.get("savepoint_path") or "no savepoint path recorded"
                raise DeploymentFailed(
                    f"revision {from_revision} of {domain} is stopped ({where}), "
                    f"but starting revision {revision} failed: {error}"
                ) from None
            record = self._deployment_record(
                request,
                result,
                stopped,
                reason=f"rolled back from revision {from_revision}"
                + (f" by {requested_by}" if requested_by else ""),
                rolled_back_from=from_revision,
            )
            await self.runs.save_deployment(domain, record)
        await self._audit_deployment("rollback", record, requested_by, record["reason"])
        return record

    async def sweep(self, now: datetime | None = None) -> int:
        """End overdue runs as TIMED_OUT; returns how many it ended."""
        now = now or self._clock()
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

            update = await self._update(record.run_id, None, change)
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

    # --- internals ------------------------------------------------------------------------

    async def _decide(self, event: ValidationScored, record: RunRecord | None) -> RoutingDecision:
        env = event.envelope
        view = record.view() if record is not None else None
        domain = record.identity.domain if record is not None else env.domain
        deployment = await self.runs.deployment(domain)
        content_hash = view.content_hash if view is not None else None
        duplicate = bool(
            deployment
            and content_hash
            and deployment.get("content_hash") == content_hash
            and deployment.get("run_id") != env.run_id
        )
        facts = RunFacts(
            score=event.score,
            critical=event.critical_count,
            warnings=event.warning_count,
            infos=event.info_count,
            domain=domain,
            attempt=event.attempt,
            revision=(view.revision or 0) if view is not None else 0,
            dimensions={d.name: d.score for d in event.dimensions},
            findings=tuple(FindingFact(f.code, f.severity.value, f.dimension) for f in event.findings),
            duplicate=duplicate,
            provisional=event.provisional,
            llm_repair=self._llm_repair,
        )
        return await decide(facts, self.config.routing, self._classifier)

    @staticmethod
    def _decided(record: RunRecord, attempt: int) -> bool:
        return any(
            record.has(GateDecided.EVENT_TYPE, attempt=attempt, decided_by=by) is not None
            for by in ("gate", "rule", "llm")
        )

    def _gate_event(self, record: RunRecord, cause: ValidationScored, routing: RoutingDecision) -> Event:
        reason = routing.reason
        if routing.rule_errors:
            reason += f" [rule errors: {'; '.join(routing.rule_errors)}]"
        event = GateDecided(
            envelope=self._envelope(
                record,
                GateDecided.EVENT_TYPE,
                cause_id=cause.envelope.event_id,
                key=(cause.envelope.event_id, GateDecided.EVENT_TYPE),
            ),
            attempt=cause.attempt,
            decision=routing.decision,
            reason=reason[:2000],
            rule=routing.rule,
            mode=routing.mode,
            decided_by=routing.decided_by,
            score=cause.score,
        )
        extra: dict[str, Any] = {}
        if routing.llm is not None:
            extra["llm"] = {k: getattr(routing.llm, k) for k in routing.llm.__slots__}
        return self._emit(record, event, cause.envelope.event_id, **extra)

    async def _start(self, record: RunRecord, cause: ErUpdated, previous: dict[str, Any] | None) -> None:
        view = record.view()
        identity = record.identity
        sql = await self.runs.get_sql(record.run_id, view.attempt)
        request = StartRequest(
            run_id=record.run_id,
            domain=identity.domain,
            revision=view.revision or 1,
            attempt=view.attempt,
            sql=sql,
            artifact_ref=view.references.get("artifact_ref"),
            content_hash=view.content_hash,
            # A stopped job is not stopped again: the new revision starts from its savepoint.
            previous=previous if previous and previous.get("state") != STOPPED else None,
            restore_from=(previous or {}).get("savepoint_path") if _stopped(previous) else None,
        )
        result: StartResult | None = None
        error: str | None = None
        try:
            result = await self._deployer.start(request)
        except DeployError as failure:
            error = str(failure) or type(failure).__name__
        except Exception as failure:  # an adapter bug must still end the run, with its error
            log.exception("deployer crashed", run_id=record.run_id)
            error = f"{type(failure).__name__}: {failure}"
        cause_id = cause.envelope.event_id

        def change(rec: RunRecord) -> list[Event]:
            if rec.has(RunStarted.EVENT_TYPE) or rec.has(RunStartFailed.EVENT_TYPE):
                return []
            key = (cause_id, "start")
            if result is None:
                failed = RunStartFailed(
                    envelope=self._envelope(
                        rec,
                        RunStartFailed.EVENT_TYPE,
                        cause_id=cause_id,
                        key=(*key, RunStartFailed.EVENT_TYPE),
                    ),
                    target=self._deployer.target,
                    reason=(error or "start failed")[:4000],
                )
                return [self._emit(rec, failed, cause_id)]
            started = RunStarted(
                envelope=self._envelope(
                    rec, RunStarted.EVENT_TYPE, cause_id=cause_id, key=(*key, RunStarted.EVENT_TYPE)
                ),
                target=result.target,
                job_id=result.job_id,
                deployment_ref=result.deployment_ref,
                revision=request.revision,
            )
            out: list[Event] = [self._emit(rec, started, cause_id)]
            if not rec.view().terminal:
                out.append(
                    self._completed(
                        rec, FinalState.RUNNING, self._running_reason(result), started.envelope.event_id
                    )
                )
            return out

        await self._update(record.run_id, None, change)
        if result is not None:
            deployed = self._deployment_record(request, result, previous)
            await self.runs.save_deployment(identity.domain, deployed)

    def _deployment_record(
        self,
        request: StartRequest,
        result: StartResult,
        previous: Mapping[str, Any] | None,
        *,
        reason: str = "",
        rolled_back_from: int | None = None,
    ) -> dict[str, Any]:
        history = list((previous or {}).get("history") or [])
        if previous:
            history.append({k: previous[k] for k in HISTORY_KEYS if k in previous})
        record: dict[str, Any] = {
            "domain": request.domain,
            "run_id": request.run_id,
            "revision": request.revision,
            "attempt": request.attempt,
            "artifact_ref": request.artifact_ref,
            "content_hash": request.content_hash,
            "target": result.target,
            "job_id": result.job_id,
            "deployment_ref": result.deployment_ref,
            "savepoint_restored": result.savepoint_restored,
            "state": RUNNING,
            "reason": reason or self._running_reason(result),
            "started_at": self._clock().isoformat(),
            "history": history[-HISTORY_LIMIT:],
        }
        if result.manifests:
            record["manifests"] = dict(result.manifests)
        if rolled_back_from is not None:
            record["rolled_back_from"] = rolled_back_from
        return record

    def _stopped_record(
        self, current: Mapping[str, Any], savepoint: str | None, reason: str, requested_by: str | None
    ) -> dict[str, Any]:
        record = {k: v for k, v in current.items() if k != "last_error"}
        where = f"savepoint {savepoint}" if savepoint else self._no_savepoint_note(current)
        record.update(
            state=STOPPED,
            savepoint_path=savepoint,
            stopped_at=self._clock().isoformat(),
            stopped_by=requested_by,
            reason=f"{reason} ({where})",
        )
        return record

    @staticmethod
    def _no_savepoint_note(current: Mapping[str, Any]) -> str:
        if current.get("target") == "manifest":
            return "suspended in the manifests; the operator takes the savepoint"
        return "no savepoint location reported"

    def _may_operate(self, requested_by: str | None, roles: frozenset[str], what: str) -> None:
        """With auth on (a caller identity) and approvers configured, only approvers stop and roll back."""
        if requested_by is None or not self._approvers:
            return
        if not ({requested_by} | roles) & self._approvers:
            raise NotAllowed(
                f"{requested_by} may not {what} deployments (approvers: {', '.join(sorted(self._approvers))})"
            )

    def _deploy_lock(self, domain: str) -> asyncio.Lock:
        return self._deploy_locks.setdefault(domain, asyncio.Lock())

    async def _current(self, domain: str) -> dict[str, Any]:
        """The domain's deployment record; DomainNotFound or NothingDeployed when there is none."""
        current = await self.runs.deployment(domain)
        if current is not None:
            return current
        head, _ = await self.runs.domain_head(domain)
        if head == 0 and not await self.runs.list_runs(domain=domain, limit=1):
            raise DomainNotFound(f"unknown domain {domain!r}: no run and no deployment")
        raise NothingDeployed(f"nothing is deployed for domain {domain!r}")

    async def _stop_job(self, domain: str, current: Mapping[str, Any]) -> str | None:
        target = str(current.get("target") or "")
        mine = self._deployer.target
        if target != mine and not {target, mine} <= _FLINK_TARGETS:
            raise DeploymentConflict(
                f"revision {current.get('revision')} of {domain} was deployed with {target or 'an unknown target'}"
                f"; this router deploys with {mine} and cannot stop it"
            )
        try:
            return await self._deployer.stop(current, savepoint=True)
        except Exception as failure:
            if not isinstance(failure, DeployError):
                log.exception("deployer crashed while stopping", domain=domain)
            error = str(failure) or type(failure).__name__
            raise DeploymentFailed(
                f"stopping revision {current.get('revision')} of {domain} failed: {error}"
            ) from None

    async def _restart_request(self, domain: str, entry: Mapping[str, Any]) -> StartRequest:
        """What starts a recorded deployment again; DeploymentConflict when the record lacks it."""
        run_id = str(entry.get("run_id") or "")
        revision = int(entry.get("revision") or 0)
        if not run_id or revision <= 0:
            raise DeploymentConflict(f"the deployment record of {domain} has an incomplete history entry")
        attempt = entry.get("attempt")
        artifact_ref = entry.get("artifact_ref")
        if attempt is None or artifact_ref is None:  # records from before attempt/artifact_ref were kept
            record = await self.runs.get(run_id)
            view = record.view() if record is not None else None
            attempt = attempt if attempt is not None else (view.attempt if view is not None else 1)
            if artifact_ref is None and view is not None:
                artifact_ref = view.references.get("artifact_ref")
        sql = await self.runs.get_sql(run_id, int(attempt))
        manifests = entry.get("manifests")
        if self._deployer.target == "manifest":
            if not manifests and not artifact_ref:
                raise DeploymentConflict(
                    f"revision {revision} of {domain} has no recorded manifests to write again"
                )
        elif not sql:
            raise DeploymentConflict(f"revision {revision} of {domain} has no recorded SQL to start again")
        return StartRequest(
            run_id=run_id,
            domain=domain,
            revision=revision,
            attempt=int(attempt),
            sql=sql,
            artifact_ref=str(artifact_ref) if artifact_ref else None,
            content_hash=entry.get("content_hash"),
            manifests=dict(manifests) if manifests else None,
        )

    async def _audit_deployment(
        self, action: str, record: Mapping[str, Any], requested_by: str | None, reason: str
    ) -> None:
        await self._audit.append(
            {
                "at": self._clock().isoformat(),
                "action": action,
                "domain": record.get("domain"),
                "run_id": record.get("run_id"),
                "revision": record.get("revision"),
                "rolled_back_from": record.get("rolled_back_from"),
                "savepoint": record.get("savepoint_path") or record.get("savepoint_restored"),
                "requested_by": requested_by,
                "reason": reason,
            }
        )

    @staticmethod
    def _running_reason(result: StartResult) -> str:
        if result.job_id:
            return f"job {result.job_id} is running on {result.target}"
        return f"manifests written to {result.deployment_ref}"

    async def _raise_head(self, domain: str, revision: int) -> int:
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
                    self._now(rec),
                    reason=f"superseded by revision {revision}{by} of {rec.identity.domain}",
                )
            )
            return []

        await self._update(run_id, None, change)

    def _now(self, record: RunRecord) -> datetime:
        """Now, but never before the run's latest fact (clock skew must not reorder timings)."""
        now = self._clock()
        latest = record.latest_fact()
        return max(now, latest.occurred_at) if latest is not None else now

    def _envelope(
        self, record: RunRecord, event_type: str, *, cause_id: str | None, key: tuple[str, ...]
    ) -> Envelope:
        ident: RunIdentity = record.identity
        return Envelope(
            event_id=derive(*key),
            event_type=event_type,
            schema_version=EVENTS[event_type].SCHEMA_VERSION,
            occurred_at=self._now(record),
            run_id=ident.run_id,
            request_id=ident.request_id,
            domain=ident.domain,
            causation_id=cause_id,
            producer=PRODUCER,
            traceparent=ident.traceparent,
            idempotency_key=ident.idempotency_key,
        )

    def _emit(self, record: RunRecord, event: Event, cause_id: str | None, **extra: Any) -> Event:
        """Add a router-made event to the run (as a fact) and to its outbox."""
        record.add(fact_of(event, **extra))
        record.outbox[event.envelope.event_id] = {"cause": cause_id, "event": event.model_dump(mode="json")}
        return event

    def _completed(self, record: RunRecord, state: FinalState, reason: str, cause_id: str | None) -> Event:
        view = record.view()
        references = {k: v for k, v in view.references.items() if v}
        if record.identity.idempotency_key:
            references["idempotency_key"] = record.identity.idempotency_key
        event = RunCompleted(
            envelope=self._envelope(
                record,
                RunCompleted.EVENT_TYPE,
                cause_id=cause_id,
                key=(record.run_id, RunCompleted.EVENT_TYPE),
            ),
            final_state=state,
            reason=reason[:4000],
            references=references,
        )
        return self._emit(record, event, cause_id)

    def _complete_if_final(self, record: RunRecord, cause_id: str | None) -> list[Event]:
        view = record.view()
        if not view.terminal or view.completed or view.state is RunState.RUNNING:
            return []
        return [
            self._completed(
                record, FinalState(view.state.value), view.reason or view.state.value.lower(), cause_id
            )
        ]

    async def _update(self, run_id: str, event: Event | None, change: Change = _no_change) -> Update:
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

    async def _replay(self, record: RunRecord, event: Event) -> None:
        """A redelivered event: publish again what it caused (same ids; consumers dedupe)."""
        if event.envelope.producer == PRODUCER:
            return
        for payload in record.outputs_of([event.envelope.event_id]):
            cls = EVENTS[str(payload["envelope"]["event_type"])]
            await self._publisher.publish(cls.model_validate(payload))

    async def _after(self, record: RunRecord, before: RunView, after: RunView) -> None:
        self.changes.notify(record.run_id)
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
                    domain, report_path(domain), render_report(after, domain, self._clock())
                )
            except (OSError, ValueError) as error:
                log.warning("execution report not written", run_id=record.run_id, error=str(error))


def _stopped(deployment: Mapping[str, Any] | None) -> bool:
    return bool(deployment) and (deployment or {}).get("state") == STOPPED


def _rollback_target(domain: str, current: Mapping[str, Any], to_revision: int | None) -> Mapping[str, Any]:
    """The history entry to roll back to: `to_revision`'s latest, else the latest of a lower revision."""
    revision = int(current.get("revision") or 0)
    history = [e for e in current.get("history") or [] if isinstance(e, Mapping)]
    if to_revision is not None:
        if to_revision == revision:
            raise DeploymentConflict(f"revision {revision} is the deployed revision of {domain}")
        found = [e for e in history if int(e.get("revision") or 0) == to_revision]
        if not found:
            known = sorted({int(e.get("revision") or 0) for e in history})
            raise NoPreviousRevision(
                f"revision {to_revision} of {domain} was never deployed"
                + (f" (earlier deployments: {', '.join(map(str, known))})" if known else "")
            )
        return found[-1]
    earlier = [e for e in history if 0 < int(e.get("revision") or 0) < revision]
    if not earlier:
        raise NoPreviousRevision(f"no revision of {domain} before revision {revision} was deployed")
    return earlier[-1]
