"""Gate a scored attempt (GateDecided once per attempt), a reviewer's decision, and cancelling a run."""

from __future__ import annotations

from typing import Any

from services.mesh.events import (
    DecidedBy,
    Decision,
    Event,
    GateDecided,
    GateMode,
    RequestSubmitted,
    RunCancelRequested,
    ValidationScored,
)
from services.mesh.identity import Identity
from services.router.deployments import load_deployment, upgrade_check
from services.router.domain.decide import Classifier, RoutingConfig, RoutingDecision, decide
from services.router.domain.facts import FindingFact, RunFacts
from services.router.domain.runs import RunRecord, RunState, RunView
from services.router.domain.upgrade import UpgradeCheck, Verdict
from services.router.errors import NotAllowed, RunConflict, RunNotFound, approver_hint
from services.router.ports import AuditLog
from services.router.runs_model import RunsModel

# The automatic deciders; a reviewer's GateDecided answers one of theirs.
_AUTOMATIC = ("gate", "rule", "llm")


class Gate:
    def __init__(
        self,
        *,
        model: RunsModel,
        routing: RoutingConfig,
        audit: AuditLog,
        classifier: Classifier | None,
        llm_repair: bool,
        approvers: frozenset[str],
    ) -> None:
        self._model = model
        self._routing = routing
        self._audit = audit
        self._classifier = classifier
        self._llm_repair = llm_repair
        self._approvers = approvers

    async def on_validation_scored(self, event: ValidationScored) -> None:
        """Gate the scored attempt and publish GateDecided (once per attempt)."""
        env = event.envelope
        record = await self._model.runs.get(env.run_id)
        already = record is not None and _decided(record, event.attempt)
        current = record.view() if record is not None else None
        terminal = current is not None and current.terminal
        # A late score of an attempt the run has moved past (a newer attempt exists) is only recorded.
        stale = current is not None and current.attempt > event.attempt
        routing: RoutingDecision | None = None
        upgrade: UpgradeCheck | None = None
        if not already and not terminal and not stale:
            routing, upgrade = await self._decide(event, record)

        def change(rec: RunRecord) -> list[Event]:
            view = rec.view()
            if (
                routing is None
                or view.terminal
                or view.attempt > event.attempt
                or _decided(rec, event.attempt)
            ):
                return []
            return [self._gate_event(rec, event, routing, upgrade)]

        await self._model.update(env.run_id, event, change)

    async def review(
        self,
        run_id: str,
        *,
        approve: bool,
        by: Identity,
        comment: str = "",
    ) -> RunView:
        """A human decision on a run IN_REVIEW: GateDecided(decided_by=reviewer), audited.

        Approving and rejecting both need an approver (unchecked when auth is off); the reviewer
        recorded is the caller's subject.
        """
        record = await self._model.runs.get(run_id)
        if record is None:
            raise RunNotFound(run_id)
        reviewer, roles = by.subject, by.roles
        if not reviewer:
            raise NotAllowed("a review needs a reviewer's name")
        if by.verified and not by.is_approver(self._approvers):
            verb = "approve" if approve else "reject"
            raise NotAllowed(f"{reviewer} may not {verb} runs: {approver_hint(self._approvers)}")
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
                envelope=self._model.envelope(
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
            return [self._model.emit(rec, event, asked.event_id)]

        update = await self._model.update(run_id, None, change)
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

    async def cancel(self, run_id: str, *, reason: str, by: Identity) -> RunView:
        """Cancel a run: its submitter or an approver may (anyone when auth is off)."""
        record = await self._model.runs.get(run_id)
        if record is None:
            raise RunNotFound(run_id)
        if record.view().terminal:
            raise RunConflict(f"run {run_id} already ended {record.view().state.value}")
        submitted = record.has(RequestSubmitted.EVENT_TYPE)
        submitter = submitted.data.get("submitted_by") if submitted is not None else None
        if by.verified and by.subject != submitter and not by.is_approver(self._approvers):
            raise NotAllowed(
                f"{by.subject} may not cancel run {run_id}: only its submitter "
                f"({submitter or 'not recorded'}) or an approver may ({approver_hint(self._approvers)})"
            )
        requested_by = by.subject or None

        def change(rec: RunRecord) -> list[Event]:
            if rec.view().terminal:
                return []
            event = RunCancelRequested(
                envelope=self._model.envelope(
                    rec,
                    RunCancelRequested.EVENT_TYPE,
                    cause_id=None,
                    key=(run_id, RunCancelRequested.EVENT_TYPE),
                ),
                reason=reason or "cancelled",
                requested_by=requested_by,
            )
            return [self._model.emit(rec, event, None)]

        update = await self._model.update(run_id, None, change)
        return update.after

    async def _decide(
        self, event: ValidationScored, record: RunRecord | None
    ) -> tuple[RoutingDecision, UpgradeCheck]:
        env = event.envelope
        view = record.view() if record is not None else None
        domain = record.identity.domain if record is not None else env.domain
        deployment = await load_deployment(self._model.runs, domain)
        content_hash = view.content_hash if view is not None else None
        upgrade = upgrade_check(deployment, event.state_fingerprint, event.sql_digest)
        # The same content already deployed by another run: the routing rules may skip it.
        duplicate = bool(
            deployment is not None
            and content_hash
            and deployment.content_hash == content_hash
            and deployment.run_id != env.run_id
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
            upgrade=upgrade.verdict.value,
        )
        return await decide(facts, self._routing, self._classifier, upgrade), upgrade

    def _gate_event(
        self,
        record: RunRecord,
        cause: ValidationScored,
        routing: RoutingDecision,
        upgrade: UpgradeCheck | None,
    ) -> Event:
        reason = routing.reason
        if routing.rule_errors:
            reason += f" [rule errors: {'; '.join(routing.rule_errors)}]"
        event = GateDecided(
            envelope=self._model.envelope(
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
        if upgrade is not None and upgrade.verdict is not Verdict.NONE:
            # What the start checks its own verdict against (services.router.deployments).
            extra["upgrade"] = upgrade.to_dict()
        if routing.llm is not None:
            extra["llm"] = {k: getattr(routing.llm, k) for k in routing.llm.__slots__}
        return self._model.emit(record, event, cause.envelope.event_id, **extra)


def _decided(record: RunRecord, attempt: int) -> bool:
    """Whether an automatic decider already decided this attempt."""
    return any(
        record.has(GateDecided.EVENT_TYPE, attempt=attempt, decided_by=by) is not None for by in _AUTOMATIC
    )
