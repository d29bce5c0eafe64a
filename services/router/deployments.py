"""Start approved jobs, stop a domain's job and roll it back; keep the domain's deployment record.

The repository stores a deployment as a plain document; `load_deployment` and `save_deployment`
are the only places that convert it to and from the typed `Deployment`. Deployers (ports) still
take the plain document, so the adapters see exactly what is stored.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from services.mesh.events import (
    ErUpdated,
    Event,
    FinalState,
    GateDecided,
    RunStarted,
    RunStartFailed,
    ValidationScored,
)
from services.mesh.identity import Identity
from services.mesh.ids import derive
from services.mesh.logging import get_logger
from services.router.domain.custody import CustodyError, verified_digest
from services.router.domain.deployment import Deployment, DeploymentEntry, DeploymentState
from services.router.domain.runs import MARK_STARTING, MARK_SUPERSEDED, RunRecord, RunState, marker
from services.router.domain.upgrade import UpgradeCheck, Verdict, classify, read_fingerprint
from services.router.errors import (
    DeploymentConflict,
    DeploymentFailed,
    DomainNotFound,
    NoPreviousRevision,
    NotAllowed,
    NothingDeployed,
    RunNotFound,
    approver_hint,
)
from services.router.ports import (
    AuditLog,
    Deployer,
    DeployError,
    LineageEmitter,
    RestoreFailed,
    RunRepository,
    StartRequest,
    StartResult,
)
from services.router.runs_model import RunsModel

HISTORY_LIMIT = 20
# Either Flink target can stop the other's jobs (both stop through Flink's REST API).
_FLINK_TARGETS = frozenset({"sql-gateway", "flink-session"})
log = get_logger(__name__)


async def load_deployment(runs: RunRepository, domain: str) -> Deployment | None:
    stored = await runs.deployment(domain)
    return Deployment.from_dict(stored) if stored is not None else None


async def save_deployment(runs: RunRepository, deployment: Deployment) -> None:
    await runs.save_deployment(deployment.domain, deployment.to_dict())


class Deployments:
    def __init__(
        self,
        *,
        model: RunsModel,
        deployer: Deployer,
        audit: AuditLog,
        approvers: frozenset[str],
        lineage: LineageEmitter | None = None,
    ) -> None:
        self._model = model
        self._lineage = lineage
        self._runs = model.runs
        self._deployer = deployer
        self._audit = audit
        self._approvers = approvers
        # One deployment operation (start, stop, rollback) per domain at a time.
        self._locks: dict[str, asyncio.Lock] = {}

    async def on_er_updated(self, event: ErUpdated) -> None:
        """Knowledge committed: start the job (unless a newer revision superseded this run)."""
        env = event.envelope
        head, _ = await self._runs.domain_head(env.domain)
        deployment = await load_deployment(self._runs, env.domain)
        deployed = deployment.revision if deployment is not None else 0

        def change(rec: RunRecord) -> list[Event]:
            view = rec.view()
            if view.state is not RunState.KB_UPDATED:
                return []
            revision = view.revision or 0
            newer = max(head, deployed)
            if newer > revision:
                rec.add(
                    marker(
                        derive(env.event_id, MARK_SUPERSEDED),
                        MARK_SUPERSEDED,
                        self._model.now(rec),
                        reason=f"superseded: revision {newer} of {env.domain} is newer than this run's {revision}",
                    )
                )
                return []
            rec.add(
                marker(
                    derive(env.event_id, MARK_STARTING),
                    MARK_STARTING,
                    self._model.now(rec),
                    target=self._deployer.target,
                )
            )
            return []

        update = await self._model.update(env.run_id, event, change)
        view = update.after
        started = update.record.has(RunStarted.EVENT_TYPE) or update.record.has(RunStartFailed.EVENT_TYPE)
        if view.state is RunState.STARTING and not started:
            async with self._lock(env.domain):
                # A redelivery racing this one may have started the job while this one waited.
                record = await self._runs.get(env.run_id) or update.record
                if not (record.has(RunStarted.EVENT_TYPE) or record.has(RunStartFailed.EVENT_TYPE)):
                    await self._start(record, event, await load_deployment(self._runs, env.domain))

    async def stop(
        self,
        domain: str,
        *,
        by: Identity,
        reason: str = "",
    ) -> Deployment:
        """Stop the domain's job with a savepoint (where the deployer takes one); record it STOPPED."""
        requested_by = self._may_operate(by, "stop")
        async with self._lock(domain):
            current = await self._current(domain)
            if current.stopped:
                where = current.savepoint_path or "no savepoint path recorded"
                raise DeploymentConflict(
                    f"revision {current.revision} of {domain} is already stopped ({where})"
                )
            savepoint = await self._stop_job(domain, current)
            record = self._stopped_record(current, savepoint, reason or "stopped", requested_by)
            await save_deployment(self._runs, record)
        await self._audit_deployment("stop", record, requested_by, reason)
        return record

    async def rollback(
        self,
        domain: str,
        *,
        by: Identity,
        to_revision: int | None = None,
    ) -> Deployment:
        """Start an earlier revision again: stop the current job with a savepoint, start it from there.

        Without `to_revision`, the latest earlier deployment of a lower revision. Its SQL (by run and
        attempt) and manifests come from the deployment record; the started deployment is recorded,
        with the replaced one in its history.
        """
        requested_by = self._may_operate(by, "roll back")
        async with self._lock(domain):
            current = await self._current(domain)
            entry = rollback_target(domain, current, to_revision)
            request = await self._restart_request(domain, entry)
            revision, from_revision = request.revision, current.revision
            stopped = current
            if not current.stopped:
                savepoint = await self._stop_job(domain, current)
                stopped = self._stopped_record(
                    current, savepoint, f"rolling back to revision {revision}", requested_by
                )
                await save_deployment(self._runs, stopped)
            request = replace(request, restore_from=stopped.savepoint_path)
            try:
                result = await self._deployer.start(request)
            except Exception as failure:
                if not isinstance(failure, DeployError):
                    log.exception("deployer crashed", domain=domain)
                error = str(failure) or type(failure).__name__
                await save_deployment(self._runs, replace(stopped, last_error=error[:4000]))
                where = stopped.savepoint_path or "no savepoint path recorded"
                message = (
                    f"revision {from_revision} of {domain} is stopped ({where}), "
                    f"but starting revision {revision} failed: {error}"
                )
                if not current.stopped and stopped.savepoint_path:  # this rollback stopped it
                    restarted, note = await self._restore_previous(stopped, request, error, requested_by)
                    if restarted is not None:
                        message = (
                            f"starting revision {revision} of {domain} from {where} failed: {error}; {note}"
                        )
                    else:
                        message = f"{message}; {note}"
                raise DeploymentFailed(message) from None
            record = self._started_record(
                request,
                result,
                stopped,
                reason=f"rolled back from revision {from_revision}"
                + (f" by {requested_by}" if requested_by else ""),
                rolled_back_from=from_revision,
                state_fingerprint=entry.state_fingerprint,
            )
            await save_deployment(self._runs, record)
        await self._audit_deployment("rollback", record, requested_by, record.reason)
        return record

    async def _start(self, record: RunRecord, cause: ErUpdated, previous: Deployment | None) -> None:
        view = record.view()
        identity = record.identity
        sql = await self._runs.get_sql(record.run_id, view.attempt)
        custody_error: str | None = None
        try:
            digest: str | None = verified_digest(sql, view.references.get("sql_digest"))
        except CustodyError as refused:
            digest, custody_error = None, str(refused)
        fingerprint = validated_fingerprint(record, view.attempt)
        upgrade = upgrade_check(previous, fingerprint, digest)
        if custody_error is None:
            custody_error = start_refusal(upgrade, gated_upgrade(record, view.attempt))
        request = StartRequest(
            run_id=record.run_id,
            domain=identity.domain,
            revision=view.revision or 1,
            attempt=view.attempt,
            sql=sql,
            artifact_ref=view.references.get("artifact_ref"),
            content_hash=view.content_hash,
            # A stopped job is not stopped again: the new revision starts from its savepoint.
            previous=previous.to_dict() if previous is not None and not previous.stopped else None,
            restore_from=previous.savepoint_path if previous is not None and previous.stopped else None,
            sql_digest=digest,
            # Only an upgrade whose dropped state the gate approved (start_refusal refuses the rest).
            allow_non_restored_state=upgrade.verdict is Verdict.DROP,
        )
        result: StartResult | None = None
        error: str | None = custody_error
        restore_failed: RestoreFailed | None = None
        if custody_error is None:
            result, error, restore_failed = await self._deploy(request)
        if restore_failed is not None and previous is not None and not previous.stopped:
            # The upgrade stopped the running revision, then the new one did not start from its
            # savepoint: start the previous revision again from that savepoint, on our own.
            stopped = self._stopped_record(
                previous, restore_failed.savepoint, f"stopped to upgrade to revision {request.revision}", None
            )
            await save_deployment(self._runs, stopped)
            _, note = await self._restore_previous(stopped, request, error or "start failed", None)
            error = f"{error}; {note}"
        cause_id = cause.envelope.event_id
        model = self._model

        def change(rec: RunRecord) -> list[Event]:
            if rec.has(RunStarted.EVENT_TYPE) or rec.has(RunStartFailed.EVENT_TYPE):
                return []
            key = (cause_id, "start")
            if result is None:
                failed = RunStartFailed(
                    envelope=model.envelope(
                        rec,
                        RunStartFailed.EVENT_TYPE,
                        cause_id=cause_id,
                        key=(*key, RunStartFailed.EVENT_TYPE),
                    ),
                    target=self._deployer.target,
                    reason=(error or "start failed")[:4000],
                )
                return [model.emit(rec, failed, cause_id)]
            started = RunStarted(
                envelope=model.envelope(
                    rec, RunStarted.EVENT_TYPE, cause_id=cause_id, key=(*key, RunStarted.EVENT_TYPE)
                ),
                target=result.target,
                job_id=result.job_id,
                deployment_ref=result.deployment_ref,
                revision=request.revision,
                sql_digest=request.sql_digest,
            )
            out: list[Event] = [model.emit(rec, started, cause_id)]
            if not rec.view().terminal:
                out.append(
                    model.completed(
                        rec, FinalState.RUNNING, running_reason(result), started.envelope.event_id
                    )
                )
            return out

        update = await model.update(record.run_id, None, change)
        if result is not None:
            started_record = self._started_record(
                request, result, previous, state_fingerprint=fingerprint, upgrade=upgrade
            )
            await save_deployment(self._runs, started_record)
        started = next((e for e in update.published if isinstance(e, RunStarted)), None)
        if started is not None and self._lineage is not None:
            # OpenLineage START (adapters/openlineage.py): queued, delivered in the background.
            await self._lineage.run_started(started, request.artifact_ref)

    async def _deploy(
        self, request: StartRequest
    ) -> tuple[StartResult | None, str | None, RestoreFailed | None]:
        """The deployer's start: its result, else its error (and the RestoreFailed, if it was one)."""
        try:
            return await self._deployer.start(request), None, None
        except RestoreFailed as failure:  # the previous job is stopped with this savepoint
            return None, str(failure) or type(failure).__name__, failure
        except DeployError as failure:
            return None, str(failure) or type(failure).__name__, None
        except Exception as failure:  # an adapter bug must still end the run, with its error
            log.exception("deployer crashed", run_id=request.run_id)
            return None, f"{type(failure).__name__}: {failure}", None

    async def _restore_previous(
        self, stopped: Deployment, failed: StartRequest, error: str, requested_by: str | None
    ) -> tuple[Deployment | None, str]:
        """Start `stopped` (the revision a failed start replaced) again from its own savepoint.

        Its own savepoint restores exactly: the same job, the same operators. Both the failure and
        the restart (or why it did not happen) are recorded: the deployment record, the audit log,
        a RunStarted of the restarted revision's run. Returns the started record (None when the
        restart failed too, the record then STOPPED with both errors) and a note saying what happened.
        """
        domain, savepoint = stopped.domain, stopped.savepoint_path
        failure = f"revision {failed.revision} did not start from savepoint {savepoint}: {error}"
        await self._audit.append(
            {
                "at": self._model.clock().isoformat(),
                "action": "restore-failed",
                "domain": domain,
                "run_id": failed.run_id,
                "revision": failed.revision,
                "rolled_back_from": None,
                "savepoint": savepoint,
                "requested_by": requested_by,
                "reason": failure[:4000],
            }
        )
        try:
            request = replace(await self._restart_request(domain, stopped.as_entry()), restore_from=savepoint)
            result = await self._deployer.start(request)
        except Exception as second:
            if not isinstance(second, DeployError | DeploymentConflict):
                log.exception("deployer crashed while restarting the previous revision", domain=domain)
            why = str(second) or type(second).__name__
            record = replace(
                stopped,
                last_error=f"{failure}; restarting revision {stopped.revision} from it failed: {why}"[:4000],
            )
            await save_deployment(self._runs, record)
            await self._audit_deployment(
                "auto-rollback-failed", record, requested_by, record.last_error or ""
            )
            return None, (
                f"restarting revision {stopped.revision} from that savepoint failed too ({why}): "
                f"revision {stopped.revision} is stopped there (`streamwright rollback --to {stopped.revision}` "
                "starts it again)"
            )
        started = self._started_record(
            request,
            result,
            stopped,
            reason=f"automatic rollback: {failure}; revision {stopped.revision} restarted from it",
            rolled_back_from=failed.revision,
            state_fingerprint=stopped.state_fingerprint,
        )
        started = replace(started, last_error=failure[:4000])
        await save_deployment(self._runs, started)
        await self._audit_deployment("auto-rollback", started, requested_by, started.reason)
        await self._record_restart(started, result, request.sql_digest, key=(failed.run_id, "auto-rollback"))
        return started, (
            f"revision {stopped.revision} was restarted from that savepoint automatically"
            + (f" (job {result.job_id})" if result.job_id else "")
        )

    async def _record_restart(
        self, started: Deployment, result: StartResult, sql_digest: str | None, *, key: tuple[str, ...]
    ) -> None:
        """A RunStarted in the restarted revision's run: its job runs again, under a new job id."""
        model = self._model

        def change(rec: RunRecord) -> list[Event]:
            event = RunStarted(
                envelope=model.envelope(
                    rec,
                    RunStarted.EVENT_TYPE,
                    cause_id=None,
                    key=(*key, RunStarted.EVENT_TYPE),
                ),
                target=result.target,
                job_id=result.job_id,
                deployment_ref=result.deployment_ref,
                revision=started.revision,
                sql_digest=sql_digest,
            )
            if rec.has(RunStarted.EVENT_TYPE, job_id=started.job_id) is not None:
                return []
            return [model.emit(rec, event, None)]

        try:
            await model.update(started.run_id, None, change)
        except RunNotFound:
            log.warning("the restarted revision's run is not stored", run_id=started.run_id)

    def _started_record(
        self,
        request: StartRequest,
        result: StartResult,
        previous: Deployment | None,
        *,
        reason: str = "",
        rolled_back_from: int | None = None,
        state_fingerprint: str | None = None,
        upgrade: UpgradeCheck | None = None,
    ) -> Deployment:
        history = (*previous.history, previous.as_entry()) if previous is not None else ()
        return Deployment(
            domain=request.domain,
            run_id=request.run_id,
            revision=request.revision,
            attempt=request.attempt,
            artifact_ref=request.artifact_ref,
            content_hash=request.content_hash,
            target=result.target,
            job_id=result.job_id,
            deployment_ref=result.deployment_ref,
            savepoint_restored=result.savepoint_restored,
            state=DeploymentState.RUNNING,
            reason=reason or running_reason(result),
            started_at=self._model.clock().isoformat(),
            history=history[-HISTORY_LIMIT:],
            manifests=dict(result.manifests),
            rolled_back_from=rolled_back_from,
            state_fingerprint=state_fingerprint,
            upgrade=upgrade.to_dict()
            if upgrade is not None and upgrade.verdict is not Verdict.NONE
            else None,
        )

    def _stopped_record(
        self, current: Deployment, savepoint: str | None, reason: str, requested_by: str | None
    ) -> Deployment:
        where = f"savepoint {savepoint}" if savepoint else _no_savepoint_note(current)
        return replace(
            current,
            state=DeploymentState.STOPPED,
            savepoint_path=savepoint,
            stopped_at=self._model.clock().isoformat(),
            stopped_by=requested_by,
            reason=f"{reason} ({where})",
            last_error=None,
        )

    def _may_operate(self, by: Identity, what: str) -> str | None:
        """Only approvers stop and roll back (unchecked when auth is off); who to record, if anyone."""
        if by.verified and not by.is_approver(self._approvers):
            raise NotAllowed(f"{by.subject} may not {what} deployments: {approver_hint(self._approvers)}")
        return by.subject or None

    def _lock(self, domain: str) -> asyncio.Lock:
        return self._locks.setdefault(domain, asyncio.Lock())

    async def _current(self, domain: str) -> Deployment:
        """The domain's deployment record; DomainNotFound or NothingDeployed when there is none."""
        current = await load_deployment(self._runs, domain)
        if current is not None:
            return current
        head, _ = await self._runs.domain_head(domain)
        if head == 0 and not await self._runs.list_runs(domain=domain, limit=1):
            raise DomainNotFound(f"unknown domain {domain!r}: no run and no deployment")
        raise NothingDeployed(f"nothing is deployed for domain {domain!r}")

    async def _stop_job(self, domain: str, current: Deployment) -> str | None:
        target = current.target
        mine = self._deployer.target
        if target != mine and not {target, mine} <= _FLINK_TARGETS:
            raise DeploymentConflict(
                f"revision {current.revision} of {domain} was deployed with {target or 'an unknown target'}"
                f"; this router deploys with {mine} and cannot stop it"
            )
        try:
            return await self._deployer.stop(current.to_dict(), savepoint=True)
        except Exception as failure:
            if not isinstance(failure, DeployError):
                log.exception("deployer crashed while stopping", domain=domain)
            error = str(failure) or type(failure).__name__
            raise DeploymentFailed(
                f"stopping revision {current.revision} of {domain} failed: {error}"
            ) from None

    async def _restart_request(self, domain: str, entry: DeploymentEntry) -> StartRequest:
        """What starts a recorded deployment again; DeploymentConflict when the record lacks it."""
        if not entry.run_id or entry.revision <= 0:
            raise DeploymentConflict(f"the deployment record of {domain} has an incomplete history entry")
        attempt, artifact_ref = entry.attempt, entry.artifact_ref
        record = await self._runs.get(entry.run_id)
        view = record.view() if record is not None else None
        if attempt is None or artifact_ref is None:  # records from before attempt/artifact_ref were kept
            if attempt is None:
                attempt = view.attempt if view is not None else 1
            if artifact_ref is None and view is not None:
                artifact_ref = view.references.get("artifact_ref")
        sql = await self._runs.get_sql(entry.run_id, attempt)
        if self._deployer.target == "manifest":
            if not entry.manifests and not artifact_ref:
                raise DeploymentConflict(
                    f"revision {entry.revision} of {domain} has no recorded manifests to write again"
                )
        elif not sql:
            raise DeploymentConflict(
                f"revision {entry.revision} of {domain} has no recorded SQL to start again"
            )
        digest: str | None = None
        if self._deployer.target != "manifest":  # recorded manifests were checked when first started
            try:
                digest = verified_digest(sql, view.references.get("sql_digest") if view else None)
            except CustodyError as refused:
                raise DeploymentConflict(f"revision {entry.revision} of {domain}: {refused}") from None
        return StartRequest(
            run_id=entry.run_id,
            domain=domain,
            revision=entry.revision,
            attempt=attempt,
            sql=sql,
            artifact_ref=artifact_ref or None,
            content_hash=entry.content_hash,
            manifests=dict(entry.manifests) if entry.manifests else None,
            sql_digest=digest,
        )

    async def _audit_deployment(
        self, action: str, record: Deployment, requested_by: str | None, reason: str
    ) -> None:
        await self._audit.append(
            {
                "at": self._model.clock().isoformat(),
                "action": action,
                "domain": record.domain,
                "run_id": record.run_id,
                "revision": record.revision,
                "rolled_back_from": record.rolled_back_from,
                "savepoint": record.savepoint_path or record.savepoint_restored,
                "requested_by": requested_by,
                "reason": reason,
            }
        )


def running_reason(result: StartResult) -> str:
    if result.job_id:
        return f"job {result.job_id} is running on {result.target}"
    return f"manifests written to {result.deployment_ref}"


def _no_savepoint_note(current: Deployment) -> str:
    if current.target == "manifest":
        return "suspended in the manifests; the operator takes the savepoint"
    return "no savepoint location reported"


def rollback_target(domain: str, current: Deployment, to_revision: int | None) -> DeploymentEntry:
    """The history entry to roll back to: `to_revision`'s latest, else the latest of a lower revision;
    `to_revision` naming the current revision when it is stopped starts it again (from its savepoint)."""
    revision, history = current.revision, current.history
    if to_revision is not None:
        if to_revision == revision and current.stopped:  # start the stopped revision again
            return current.as_entry()
        if to_revision == revision:
            raise DeploymentConflict(f"revision {revision} is the deployed revision of {domain}")
        found = [e for e in history if e.revision == to_revision]
        if not found:
            known = sorted({e.revision for e in history})
            raise NoPreviousRevision(
                f"revision {to_revision} of {domain} was never deployed"
                + (f" (earlier deployments: {', '.join(map(str, known))})" if known else "")
            )
        return found[-1]
    earlier = [e for e in history if 0 < e.revision < revision]
    if not earlier:
        raise NoPreviousRevision(f"no revision of {domain} before revision {revision} was deployed")
    return earlier[-1]


def restores_state(deployment: Deployment | None) -> bool:
    """Whether the domain's next start restores the deployed job's state: it runs (an upgrade stops
    it with a savepoint), was stopped with one, or lives in manifests (the operator takes it)."""
    if deployment is None:
        return False
    return not deployment.stopped or bool(deployment.savepoint_path) or deployment.target == "manifest"


def upgrade_check(deployment: Deployment | None, fingerprint: str | None, digest: str | None) -> UpgradeCheck:
    """The upgrade check of starting a job with `fingerprint` (of the statement list `digest`) on
    the domain's deployment (services.router.domain.upgrade)."""
    revision = deployment.revision if deployment is not None else None
    if deployment is None or not restores_state(deployment):
        return classify(None, None, running=False, old_revision=revision)
    old, old_missing = read_fingerprint(deployment.state_fingerprint)
    new, new_missing = read_fingerprint(fingerprint)
    return classify(
        old,
        new,
        old_revision=revision,
        new_digest=digest,
        missing_why=old_missing if old is None else new_missing,
    )


def validated_fingerprint(record: RunRecord, attempt: int) -> str | None:
    """The state fingerprint the validation of `attempt` carried (None: none)."""
    scored = record.has(ValidationScored.EVENT_TYPE, attempt=attempt)
    value = scored.data.get("state_fingerprint") if scored is not None else None
    return str(value) if value else None


def gated_upgrade(record: RunRecord, attempt: int) -> Verdict | None:
    """The upgrade verdict the gate decided `attempt` with (None: it recorded none)."""
    for fact in sorted(record.facts.values(), key=lambda f: (f.occurred_at, f.event_id)):
        if fact.event_type != GateDecided.EVENT_TYPE or fact.attempt != attempt:
            continue
        found = fact.data.get("upgrade")
        if isinstance(found, dict):
            return UpgradeCheck.from_dict(found).verdict
    return None


def start_refusal(upgrade: UpgradeCheck, gated: Verdict | None) -> str | None:
    """Why the start must not go ahead: its upgrade would drop or break state that the gate did not
    see (the deployed revision changed since the gate decided); None: it may."""
    if upgrade.verdict not in (Verdict.DROP, Verdict.INCOMPATIBLE) or gated is upgrade.verdict:
        return None
    seen = f"the gate saw {gated.value}" if gated is not None else "the gate checked no upgrade"
    return (
        f"not started, nothing stopped: {upgrade.summary}, but {seen} (the deployed revision changed "
        "since it decided); submit the request again to have it checked against what runs now"
    )
