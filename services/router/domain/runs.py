"""The Run aggregate (seed 004's RunAgg): every event of one run, folded into its read-model.

A run keeps the set of its events as *facts* (deduplicated by event id). Its view (state,
timings, attempts, decisions, LLM usage, references) is a pure function of that set, folded
in causal order, not arrival order, so shuffled and repeated deliveries give the same view:

    stage 0: RequestSubmitted, RequestAccepted, RequestRejected
    stage 1 (by attempt): SqlGenerated, GenerationFailed, ValidationScored, GateDecided
             (gate/rule/llm), GateDecided (reviewer)
    stage 2: ErUpdated, ErCommitFailed, start begun, RunStarted, RunStartFailed
    stage 3: control (by time): RunCancelRequested, MessageDeadLettered, timed out, superseded
    stage 4: RunCompleted, whose final_state is authoritative

States:

    PENDING -> GENERATING -> VALIDATING -> GATED -> KB_UPDATED -> STARTING -> RUNNING
                   ^             |  \\-> IN_REVIEW -(approve)-> GATED
                   +-(regenerate)+       |
    final: RUNNING, REJECTED, FAILED, TIMED_OUT, CANCELLED, SUPERSEDED
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from services.mesh.events import (
    ErCommitFailed,
    ErUpdated,
    Event,
    GateDecided,
    GenerationFailed,
    MessageDeadLettered,
    RequestAccepted,
    RequestRejected,
    RequestSubmitted,
    RunCancelRequested,
    RunCompleted,
    RunStarted,
    RunStartFailed,
    SqlGenerated,
    ValidationScored,
)
from services.router.domain.config import Timeouts


class RunState(StrEnum):
    PENDING = "PENDING"
    GENERATING = "GENERATING"
    VALIDATING = "VALIDATING"
    GATED = "GATED"
    IN_REVIEW = "IN_REVIEW"
    KB_UPDATED = "KB_UPDATED"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    REJECTED = "REJECTED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    CANCELLED = "CANCELLED"
    SUPERSEDED = "SUPERSEDED"


TERMINAL: frozenset[RunState] = frozenset(
    {
        RunState.RUNNING,
        RunState.REJECTED,
        RunState.FAILED,
        RunState.TIMED_OUT,
        RunState.CANCELLED,
        RunState.SUPERSEDED,
    }
)
# Which configured phase timeout applies while a run is in a state.
STATE_PHASE: dict[RunState, str] = {
    RunState.PENDING: "ingest",
    RunState.GENERATING: "generate",
    RunState.VALIDATING: "validate",
    RunState.GATED: "knowledge",
    RunState.KB_UPDATED: "start",
    RunState.STARTING: "start",
}

# Router-made facts that are not mesh events.
MARK_STARTING = "router.starting"
MARK_TIMED_OUT = "router.timed-out"
MARK_SUPERSEDED = "router.superseded"

_SHORT = {
    cls.EVENT_TYPE: cls.__name__
    for cls in (
        RequestSubmitted,
        RequestAccepted,
        RequestRejected,
        SqlGenerated,
        GenerationFailed,
        ValidationScored,
        GateDecided,
        ErUpdated,
        ErCommitFailed,
        RunStarted,
        RunStartFailed,
        RunCancelRequested,
        RunCompleted,
        MessageDeadLettered,
    )
} | {MARK_STARTING: "StartBegun", MARK_TIMED_OUT: "TimedOut", MARK_SUPERSEDED: "Superseded"}

_STAGE: dict[str, tuple[int, int]] = {
    RequestSubmitted.EVENT_TYPE: (0, 0),
    RequestAccepted.EVENT_TYPE: (0, 1),
    RequestRejected.EVENT_TYPE: (0, 2),
    SqlGenerated.EVENT_TYPE: (1, 0),
    GenerationFailed.EVENT_TYPE: (1, 1),
    ValidationScored.EVENT_TYPE: (1, 2),
    GateDecided.EVENT_TYPE: (1, 3),  # reviewer decisions: rank 4
    ErUpdated.EVENT_TYPE: (2, 0),
    ErCommitFailed.EVENT_TYPE: (2, 1),
    MARK_STARTING: (2, 2),
    RunStarted.EVENT_TYPE: (2, 3),
    RunStartFailed.EVENT_TYPE: (2, 4),
    RunCancelRequested.EVENT_TYPE: (3, 0),
    MessageDeadLettered.EVENT_TYPE: (3, 0),
    MARK_TIMED_OUT: (3, 0),
    MARK_SUPERSEDED: (3, 0),
    RunCompleted.EVENT_TYPE: (4, 0),
}
MAX_FINDINGS = 200


def short_type(event_type: str) -> str:
    return _SHORT.get(event_type, event_type)


@dataclass(frozen=True, slots=True)
class Fact:
    """What the read-model keeps of one event: its id, type, time, attempt and key fields."""

    event_id: str
    event_type: str
    occurred_at: datetime
    producer: str
    attempt: int | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    def sort_key(self) -> tuple[int, int, int, datetime, str]:
        stage, rank = _STAGE.get(self.event_type, (3, 0))
        if self.event_type == GateDecided.EVENT_TYPE and self.data.get("decided_by") == "reviewer":
            rank = 4
        attempt = self.attempt or 0 if stage == 1 else 0
        return (stage, attempt, rank, self.occurred_at, self.event_id)

    def to_doc(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "occurred_at": self.occurred_at.isoformat(),
            "producer": self.producer,
            "attempt": self.attempt,
            "data": dict(self.data),
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Fact:
        return cls(
            event_id=str(doc["event_id"]),
            event_type=str(doc["event_type"]),
            occurred_at=datetime.fromisoformat(str(doc["occurred_at"])),
            producer=str(doc["producer"]),
            attempt=doc.get("attempt"),
            data=dict(doc.get("data") or {}),
        )


def fact_of(event: Event, **extra: Any) -> Fact:  # noqa: C901, PLR0912 - one branch per event type
    """The fact an event contributes; `extra` adds router-side data (e.g. LLM usage)."""
    env = event.envelope
    attempt: int | None = None
    data: dict[str, Any] = {}
    if isinstance(event, RequestSubmitted):
        data = {
            "source": event.source.value,
            "file_name": event.file_name,
            "submitted_by": event.submitted_by,
        }
    elif isinstance(event, RequestAccepted):
        data = {
            "revision": event.revision,
            "content_hash": event.content_hash,
            "warnings": len(event.warnings),
        }
    elif isinstance(event, RequestRejected):
        first = event.errors[0] if event.errors else None
        data = {
            "errors": len(event.errors),
            "codes": sorted({e.code for e in event.errors})[:20],
            "first": f"{first.code}: {first.message}"[:300] if first else "",
        }
    elif isinstance(event, SqlGenerated):
        attempt = event.attempt
        data = {
            "revision": event.revision,
            "artifact_ref": event.artifact_ref,
            "llm_used": event.llm_used,
            "target_flink": event.target_flink,
            "generator_version": event.generator_version,
        }
    elif isinstance(event, GenerationFailed):
        attempt = event.attempt
        data = {"reason": event.reason[:500]}
    elif isinstance(event, ValidationScored):
        attempt = event.attempt
        data = {
            "score": event.score,
            "critical": event.critical_count,
            "warnings": event.warning_count,
            "infos": event.info_count,
            "dimensions": {d.name: d.score for d in event.dimensions},
            "findings": [
                {"code": f.code, "severity": f.severity.value, "dimension": f.dimension}
                for f in event.findings[:MAX_FINDINGS]
            ],
            "report_ref": event.report_ref,
            "provisional": event.provisional,
            "rule_set_version": event.rule_set_version,
            "sql_digest": event.sql_digest,
            # What the next savepoint upgrade is checked with (the deployment record keeps it too).
            "state_fingerprint": event.state_fingerprint,
        }
    elif isinstance(event, GateDecided):
        attempt = event.attempt
        data = {
            "decision": event.decision.value,
            "reason": event.reason,
            "rule": event.rule,
            "mode": event.mode.value,
            "decided_by": event.decided_by.value,
            "reviewer": event.reviewer,
            "score": event.score,
        }
    elif isinstance(event, ErUpdated):
        data = {
            "version": event.version,
            "previous_version": event.previous_version,
            "changes": len(event.changes),
        }
    elif isinstance(event, ErCommitFailed):
        data = {"reason": event.reason[:500], "conflicts": len(event.conflicts)}
    elif isinstance(event, RunStarted):
        data = {
            "target": event.target,
            "job_id": event.job_id,
            "deployment_ref": event.deployment_ref,
            "revision": event.revision,
            "sql_digest": event.sql_digest,
        }
    elif isinstance(event, RunStartFailed):
        data = {"target": event.target, "reason": event.reason[:1000]}
    elif isinstance(event, RunCancelRequested):
        data = {"reason": event.reason, "requested_by": event.requested_by}
    elif isinstance(event, RunCompleted):
        data = {
            "final_state": event.final_state.value,
            "reason": event.reason,
            "references": dict(event.references),
        }
    elif isinstance(event, MessageDeadLettered):
        data = {
            "source_topic": event.source_topic,
            "reason": event.reason[:500],
            "event_type": event.event_type,
        }
    data.update(extra)
    return Fact(env.event_id, env.event_type, env.occurred_at, env.producer, attempt, data)


def marker(event_id: str, kind: str, at: datetime, **data: Any) -> Fact:
    """A router-made fact (start begun, timed out, superseded)."""
    return Fact(event_id, kind, at, "router", None, data)


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    attempt: int | None
    started_at: datetime
    finished_at: datetime | None

    @property
    def duration_ms(self) -> int | None:
        if self.finished_at is None:
            return None
        return max(0, int((self.finished_at - self.started_at).total_seconds() * 1000))


@dataclass
class RunView:
    """The read-model of one run (what GetRun and `streamwright status --json` show)."""

    run_id: str
    domain: str = ""
    request_id: str = ""
    idempotency_key: str | None = None
    state: RunState = RunState.PENDING
    reason: str = ""
    attempt: int = 1
    revision: int | None = None
    content_hash: str | None = None
    score: float | None = None
    critical: int | None = None
    warnings: int | None = None
    infos: int | None = None
    dimensions: dict[str, float] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)
    provisional: bool = False
    decisions: list[dict[str, Any]] = field(default_factory=list)
    references: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    job_id: str | None = None
    reviewer: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    entered_at: datetime | None = None
    phases: list[Phase] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    llm_calls: list[dict[str, Any]] = field(default_factory=list)
    generator_llm_attempts: int = 0
    completed: bool = False

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    def review_ms(self) -> int:
        return sum(p.duration_ms or 0 for p in self.phases if p.name == "review")

    def llm_totals(self) -> dict[str, Any]:
        calls = self.llm_calls
        return {
            "calls": len(calls),
            "prompt_tokens": sum(int(c.get("prompt_tokens", 0)) for c in calls),
            "completion_tokens": sum(int(c.get("completion_tokens", 0)) for c in calls),
            "cost_usd": round(sum(float(c.get("cost_usd", 0.0)) for c in calls), 6),
            "latency_ms": sum(int(c.get("latency_ms", 0)) for c in calls),
            "generator_llm_attempts": self.generator_llm_attempts,
        }

    def to_doc(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "run_id": self.run_id,
            "domain": self.domain,
            "request_id": self.request_id,
            "idempotency_key": self.idempotency_key,
            "state": self.state.value,
            "terminal": self.terminal,
            "reason": self.reason,
            "attempt": self.attempt,
            "revision": self.revision,
            "content_hash": self.content_hash,
            "score": self.score,
            "issues": {"critical": self.critical, "warning": self.warnings, "info": self.infos},
            "dimensions": dict(self.dimensions),
            "findings": list(self.findings),
            "provisional": self.provisional,
            "decisions": list(self.decisions),
            "references": dict(self.references),
            "target": self.target,
            "job_id": self.job_id,
            "reviewer": self.reviewer,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "entered_at": iso(self.entered_at),
            "phases": [
                {
                    "phase": p.name,
                    "attempt": p.attempt,
                    "started_at": iso(p.started_at),
                    "finished_at": iso(p.finished_at),
                    "duration_ms": p.duration_ms,
                }
                for p in self.phases
            ],
            "timeline": list(self.timeline),
            "llm": {**self.llm_totals(), "calls_detail": list(self.llm_calls)},
            "completed": self.completed,
        }


def _summary(fact: Fact) -> str:  # noqa: PLR0911 - one line per event type
    d = fact.data
    t = fact.event_type
    if t == RequestAccepted.EVENT_TYPE:
        return f"accepted as revision {d.get('revision')}"
    if t == RequestRejected.EVENT_TYPE:
        return f"rejected: {d.get('errors')} error(s); {d.get('first', '')}"
    if t == SqlGenerated.EVENT_TYPE:
        return f"attempt {fact.attempt} generated" + (" (LLM)" if d.get("llm_used") else "")
    if t == ValidationScored.EVENT_TYPE:
        return (
            f"attempt {fact.attempt} scored {d.get('score')}: {d.get('critical')} Critical, "
            f"{d.get('warnings')} Warning, {d.get('infos')} Info"
        )
    if t == GateDecided.EVENT_TYPE:
        who = d.get("reviewer") or d.get("rule") or d.get("decided_by")
        return f"{d.get('decision')} by {who}: {d.get('reason')}"
    if t == ErUpdated.EVENT_TYPE:
        return f"knowledge version {d.get('version')}"
    if t == RunStarted.EVENT_TYPE:
        return f"started on {d.get('target')}" + (f" as job {d['job_id']}" if d.get("job_id") else "")
    if t == RunCompleted.EVENT_TYPE:
        return f"completed {d.get('final_state')}: {d.get('reason')}"
    for key in ("reason", "requested_by"):
        if d.get(key):
            return str(d[key])
    return ""


def _reason_of(fact: Fact) -> str:
    d = fact.data
    t = fact.event_type
    if t == RequestRejected.EVENT_TYPE:
        return f"rejected by ingest: {d.get('errors')} error(s); first: {d.get('first', '')}"
    if t == MessageDeadLettered.EVENT_TYPE:
        return f"a message of the run was dead-lettered from {d.get('source_topic')}: {d.get('reason')}"
    if t == RunCancelRequested.EVENT_TYPE:
        by = f" by {d['requested_by']}" if d.get("requested_by") else ""
        return f"cancelled{by}: {d.get('reason') or 'no reason given'}"
    return str(d.get("reason") or "")


_CONTROL = {
    RunCancelRequested.EVENT_TYPE: RunState.CANCELLED,
    MessageDeadLettered.EVENT_TYPE: RunState.FAILED,
    MARK_TIMED_OUT: RunState.TIMED_OUT,
    MARK_SUPERSEDED: RunState.SUPERSEDED,
}
_GATE_STATES = {
    "approved": RunState.GATED,
    "review": RunState.IN_REVIEW,
    "regenerate": RunState.GENERATING,
    "rejected": RunState.REJECTED,
}
_SIMPLE = {
    RequestAccepted.EVENT_TYPE: RunState.GENERATING,
    RequestRejected.EVENT_TYPE: RunState.REJECTED,
    SqlGenerated.EVENT_TYPE: RunState.VALIDATING,
    GenerationFailed.EVENT_TYPE: RunState.FAILED,
    ValidationScored.EVENT_TYPE: RunState.VALIDATING,
    ErUpdated.EVENT_TYPE: RunState.KB_UPDATED,
    ErCommitFailed.EVENT_TYPE: RunState.FAILED,
    MARK_STARTING: RunState.STARTING,
    RunStarted.EVENT_TYPE: RunState.STARTING,
    RunStartFailed.EVENT_TYPE: RunState.FAILED,
}


def _transition(view: RunView, fact: Fact) -> RunState | None:
    """The state `fact` moves a non-terminal run to (None: no change)."""
    t = fact.event_type
    if t == RequestSubmitted.EVENT_TYPE:
        return None
    if t == GateDecided.EVENT_TYPE:
        state = _GATE_STATES.get(str(fact.data.get("decision")))
        if state is RunState.GENERATING:
            view.attempt = max(view.attempt, (fact.attempt or 1) + 1)
        return state
    if t in _CONTROL:
        return _CONTROL[t]
    return _SIMPLE.get(t)


def _absorb(view: RunView, fact: Fact) -> None:  # noqa: C901, PLR0912 - one branch per fact that carries data
    """Copy the data a fact carries into the view (independent of state changes)."""
    d = fact.data
    t = fact.event_type
    if fact.attempt is not None and t != GateDecided.EVENT_TYPE:
        view.attempt = max(view.attempt, fact.attempt)
    if t == RequestAccepted.EVENT_TYPE:
        view.revision = d.get("revision")
        view.content_hash = d.get("content_hash")
    elif t == SqlGenerated.EVENT_TYPE:
        view.references["artifact_ref"] = str(d.get("artifact_ref"))
        if d.get("revision") and view.revision is None:
            view.revision = d.get("revision")
        if d.get("llm_used"):
            view.generator_llm_attempts += 1
    elif t == ValidationScored.EVENT_TYPE:
        view.score = d.get("score")
        view.critical, view.warnings, view.infos = d.get("critical"), d.get("warnings"), d.get("infos")
        view.dimensions = dict(d.get("dimensions") or {})
        view.findings = list(d.get("findings") or [])
        view.provisional = bool(d.get("provisional"))
        view.references["report_ref"] = str(d.get("report_ref"))
        # The digest of what the latest attempt's validation verified (None: nothing verified).
        if d.get("sql_digest"):
            view.references["sql_digest"] = str(d["sql_digest"])
        else:
            view.references.pop("sql_digest", None)
    elif t == GateDecided.EVENT_TYPE:
        entry = {
            k: d.get(k) for k in ("decision", "reason", "rule", "mode", "decided_by", "reviewer", "score")
        }
        if isinstance(d.get("upgrade"), Mapping):  # the upgrade check the gate decided with
            entry["upgrade"] = dict(d["upgrade"])
        view.decisions.append({"attempt": fact.attempt, **entry, "decided_at": fact.occurred_at.isoformat()})
        if d.get("reviewer"):
            view.reviewer = str(d["reviewer"])
        if isinstance(d.get("llm"), Mapping):
            view.llm_calls.append(dict(d["llm"]))
    elif t == ErUpdated.EVENT_TYPE:
        view.references["er_version"] = str(d.get("version"))
    elif t in (RunStarted.EVENT_TYPE, RunStartFailed.EVENT_TYPE, MARK_STARTING):
        view.target = d.get("target") or view.target
        if d.get("job_id"):
            view.job_id = str(d["job_id"])
        if d.get("deployment_ref"):
            view.references["deployment_ref"] = str(d["deployment_ref"])
        if d.get("sql_digest"):
            view.references["started_sql_digest"] = str(d["sql_digest"])
    elif t == RunCompleted.EVENT_TYPE:
        for key, value in (d.get("references") or {}).items():
            view.references.setdefault(str(key), str(value))


def project(run_id: str, facts: Iterable[Fact]) -> RunView:
    """The view of a run from the set of its facts (order and repeats do not matter)."""
    unique = {f.event_id: f for f in sorted(facts, key=lambda f: (f.occurred_at, f.event_id))}
    ordered = sorted(unique.values(), key=Fact.sort_key)
    view = RunView(run_id=run_id)
    if not ordered:
        return view
    by_time = sorted(unique.values(), key=lambda f: (f.occurred_at, f.sort_key()))
    view.created_at = by_time[0].occurred_at
    view.updated_at = by_time[-1].occurred_at
    view.entered_at = view.created_at
    completed: Fact | None = None
    for fact in ordered:
        _absorb(view, fact)
        if fact.event_type == RunCompleted.EVENT_TYPE:
            completed = completed or fact
            continue
        if view.terminal:
            continue
        state = _transition(view, fact)
        if state is not None:
            if state != view.state:
                view.entered_at = fact.occurred_at
            view.state = state
            if state in TERMINAL or state is RunState.IN_REVIEW or fact.event_type == GateDecided.EVENT_TYPE:
                view.reason = _reason_of(fact)
    if completed is not None:
        final = RunState(str(completed.data["final_state"]))
        if final != view.state:
            view.entered_at = completed.occurred_at
        view.state = final
        view.reason = str(completed.data.get("reason") or view.reason)
        view.completed = True
    view.phases = phases_of(list(unique.values()))
    view.timeline = [
        {
            "event_id": f.event_id,
            "event_type": short_type(f.event_type),
            "occurred_at": f.occurred_at.isoformat(),
            "producer": f.producer,
            "attempt": f.attempt,
            "summary": _summary(f)[:300],
        }
        for f in by_time
    ]
    return view


def phases_of(facts: list[Fact]) -> list[Phase]:
    """Per-phase timings from the facts' own timestamps (a phase with no start is left out)."""

    def first(event_type: str, attempt: int | None = None, **match: Any) -> Fact | None:
        found = [
            f
            for f in facts
            if f.event_type == event_type
            and (attempt is None or f.attempt == attempt)
            and all(f.data.get(k) == v for k, v in match.items())
        ]
        return min(found, key=lambda f: (f.occurred_at, f.event_id)) if found else None

    def earliest(*candidates: Fact | None) -> Fact | None:
        present = [c for c in candidates if c is not None]
        return min(present, key=lambda f: f.occurred_at) if present else None

    phases: list[Phase] = []

    def add(name: str, attempt: int | None, start: Fact | None, end: Fact | None) -> None:
        if start is not None:
            finish = end.occurred_at if end is not None else None
            phases.append(Phase(name, attempt, start.occurred_at, finish))

    submitted = first(RequestSubmitted.EVENT_TYPE)
    accepted = first(RequestAccepted.EVENT_TYPE)
    add("ingest", None, submitted, earliest(accepted, first(RequestRejected.EVENT_TYPE)))
    attempts = sorted({f.attempt for f in facts if f.attempt is not None})
    for a in attempts:
        gen_start = accepted if a == 1 else first(GateDecided.EVENT_TYPE, a - 1, decision="regenerate")
        generated = first(SqlGenerated.EVENT_TYPE, a)
        add("generate", a, gen_start, earliest(generated, first(GenerationFailed.EVENT_TYPE, a)))
        scored = first(ValidationScored.EVENT_TYPE, a)
        add("validate", a, generated, scored)
        gate_decisions = [
            f
            for f in facts
            if f.event_type == GateDecided.EVENT_TYPE
            and f.attempt == a
            and f.data.get("decided_by") != "reviewer"
        ]
        add("gate", a, scored, earliest(*gate_decisions))
        review = first(GateDecided.EVENT_TYPE, a, decision="review")
        reviewed = first(GateDecided.EVENT_TYPE, a, decided_by="reviewer")
        add("review", a, review, reviewed)
    approvals = [
        f for f in facts if f.event_type == GateDecided.EVENT_TYPE and f.data.get("decision") == "approved"
    ]
    approved = max(approvals, key=lambda f: f.occurred_at) if approvals else None
    er = earliest(first(ErUpdated.EVENT_TYPE), first(ErCommitFailed.EVENT_TYPE))
    add("knowledge", None, approved, er)
    start_begin = earliest(first(MARK_STARTING), first(ErUpdated.EVENT_TYPE))
    start_end = earliest(first(RunCompleted.EVENT_TYPE), first(RunStartFailed.EVENT_TYPE))
    if start_begin is not None and first(RunStarted.EVENT_TYPE) is not None and start_end is None:
        start_end = first(RunStarted.EVENT_TYPE)
    if start_begin is not None and (start_end is None or start_end.occurred_at >= start_begin.occurred_at):
        add("start", None, start_begin, start_end)
    return phases


@dataclass(frozen=True, slots=True)
class RunIdentity:
    """The envelope fields every event the router makes for this run carries."""

    run_id: str
    request_id: str
    domain: str
    idempotency_key: str | None = None
    traceparent: str | None = None


@dataclass
class RunRecord:
    """The stored aggregate: identity, facts, and the outbox of events the router made."""

    identity: RunIdentity
    facts: dict[str, Fact] = field(default_factory=dict)
    # event_id -> {"cause": event id or None, "event": the event as JSON}
    outbox: dict[str, dict[str, Any]] = field(default_factory=dict)
    version: int = 0

    @property
    def run_id(self) -> str:
        return self.identity.run_id

    def add(self, fact: Fact) -> bool:
        """Add a fact; False when its event id is already there (a duplicate)."""
        if fact.event_id in self.facts:
            return False
        self.facts[fact.event_id] = fact
        return True

    def view(self) -> RunView:
        view = project(self.run_id, self.facts.values())
        view.domain = self.identity.domain
        view.request_id = self.identity.request_id
        view.idempotency_key = self.identity.idempotency_key
        return view

    def has(self, event_type: str, *, attempt: int | None = None, **match: Any) -> Fact | None:
        for fact in sorted(self.facts.values(), key=lambda f: (f.occurred_at, f.event_id)):
            if fact.event_type != event_type or (attempt is not None and fact.attempt != attempt):
                continue
            if all(fact.data.get(k) == v for k, v in match.items()):
                return fact
        return None

    def latest_fact(self) -> Fact | None:
        if not self.facts:
            return None
        return max(self.facts.values(), key=lambda f: (f.occurred_at, f.event_id))

    def outputs_of(self, cause_ids: Iterable[str]) -> list[dict[str, Any]]:
        """Outbox events caused (transitively) by `cause_ids`, in causal order."""
        wanted = set(cause_ids)
        found: list[dict[str, Any]] = []
        changed = True
        seen: set[str] = set()
        while changed:
            changed = False
            for event_id, entry in self.outbox.items():
                if event_id not in seen and entry.get("cause") in wanted:
                    seen.add(event_id)
                    wanted.add(event_id)
                    found.append(entry["event"])
                    changed = True
        return found


def adopt_identity(identity: RunIdentity | None, event: Event) -> RunIdentity:
    """The run identity, with the authoritative domain once ingest checked the request."""
    env = event.envelope
    if identity is None:
        return RunIdentity(env.run_id, env.request_id, env.domain, env.idempotency_key, env.traceparent)
    domain = identity.domain
    if env.event_type not in (RequestSubmitted.EVENT_TYPE, MessageDeadLettered.EVENT_TYPE):
        domain = env.domain
    return RunIdentity(
        identity.run_id,
        identity.request_id,
        domain,
        identity.idempotency_key or env.idempotency_key,
        identity.traceparent or env.traceparent,
    )


def overdue(view: RunView, timeouts: Timeouts, now: datetime) -> str | None:
    """Why a non-final run is past a deadline (phase, review or whole run), or None."""
    if view.terminal or view.created_at is None or view.entered_at is None:
        return None
    in_state = now - view.entered_at
    if view.state is RunState.IN_REVIEW:
        limit = timedelta(minutes=timeouts.review_minutes)
        if in_state > limit:
            return f"waited for review longer than {timeouts.review_minutes:g} min"
        return None
    phase = STATE_PHASE.get(view.state)
    if phase is not None:
        minutes = timeouts.phase_minutes.get(phase)
        if minutes is not None and in_state > timedelta(minutes=minutes):
            return f"phase {phase} ({view.state.value}) took longer than {minutes:g} min"
    working = now - view.created_at - timedelta(milliseconds=view.review_ms())
    if working > timedelta(minutes=timeouts.workflow_minutes):
        return f"the run took longer than {timeouts.workflow_minutes:g} min (workflow timeout)"
    return None
