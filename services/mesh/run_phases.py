"""Which handler does which phase of a run, for the `phase <name>` spans (services/mesh/tracing.py).

The phases are the router's (services/router/domain/config.py PHASES; it times them from the
run's facts in services/router/domain/runs.py `phases_of`). A phase is the work one service does
when it handles one event of the run:

    ingest     ingest     RequestSubmitted                check the document, accept or reject
    generate   generator  RequestAccepted                 attempt 1
               generator  GateDecided(regenerate)         attempt n + 1
    validate   validator  SqlGenerated                    plan, rules, cases: ValidationScored
    gate       router     ValidationScored                route: GateDecided
    knowledge  knowledge  GateDecided(approved)           commit the ER model: ErUpdated
    start      router     ErUpdated                       start the job: RunStarted

(`review` is the router's Review call: its gRPC span.) Everything else a service handles is
bookkeeping (the router recording a fact, the knowledge service remembering an accepted spec)
and has only its `process` span.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.mesh.events import (
    Decision,
    ErUpdated,
    Event,
    GateDecided,
    RequestAccepted,
    RequestSubmitted,
    SqlGenerated,
    ValidationScored,
)

INGEST, GENERATE, VALIDATE, GATE, KNOWLEDGE, START = (
    "ingest",
    "generate",
    "validate",
    "gate",
    "knowledge",
    "start",
)
PHASES = (INGEST, GENERATE, VALIDATE, GATE, KNOWLEDGE, START)


@dataclass(frozen=True)
class _Rule:
    phase: str
    decision: Decision | None = None  # only a GateDecided with this decision


_RULES: dict[tuple[str, str], _Rule] = {
    ("ingest", RequestSubmitted.EVENT_TYPE): _Rule(INGEST),
    ("generator", RequestAccepted.EVENT_TYPE): _Rule(GENERATE),
    ("generator", GateDecided.EVENT_TYPE): _Rule(GENERATE, Decision.REGENERATE),
    ("validator", SqlGenerated.EVENT_TYPE): _Rule(VALIDATE),
    ("router", ValidationScored.EVENT_TYPE): _Rule(GATE),
    ("knowledge", GateDecided.EVENT_TYPE): _Rule(KNOWLEDGE, Decision.APPROVED),
    ("router", ErUpdated.EVENT_TYPE): _Rule(START),
}


@dataclass(frozen=True)
class RunPhase:
    name: str
    attempt: int | None  # the generation attempt the phase works on, when it has one


def phase_of(service: str, event: Event) -> RunPhase | None:
    """The phase of its run that `service` does by handling `event`, or None."""
    rule = _RULES.get((service, event.envelope.event_type))
    if rule is None:
        return None
    if rule.decision is not None and not (isinstance(event, GateDecided) and event.decision == rule.decision):
        return None
    attempt: int | None = None
    if isinstance(event, RequestAccepted):
        attempt = 1
    elif isinstance(event, GateDecided):
        attempt = event.attempt + 1 if rule.phase == GENERATE else event.attempt
    elif isinstance(event, SqlGenerated | ValidationScored):
        attempt = event.attempt
    return RunPhase(rule.phase, attempt)
