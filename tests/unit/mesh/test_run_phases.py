"""Which handler does which phase of a run (services/mesh/run_phases.py), for the phase spans."""

from __future__ import annotations

import pytest

from services.mesh.events import (
    DecidedBy,
    Decision,
    Envelope,
    ErUpdated,
    Event,
    GateDecided,
    GateMode,
    RequestAccepted,
    RequestSubmitted,
    Source,
    SqlGenerated,
)
from services.mesh.run_phases import PHASES, RunPhase, phase_of
from services.router.domain.config import PHASES as ROUTER_PHASES


def _envelope(event_type: str) -> Envelope:
    return Envelope.new(
        event_type=event_type, producer="t", run_id="run-1", request_id="req-1", domain="orders"
    )


def _decided(decision: Decision, attempt: int = 1) -> GateDecided:
    return GateDecided(
        envelope=_envelope(GateDecided.EVENT_TYPE),
        attempt=attempt,
        decision=decision,
        reason="r",
        mode=GateMode.STRICT,
        decided_by=DecidedBy.GATE,
    )


SUBMITTED = RequestSubmitted(
    envelope=_envelope(RequestSubmitted.EVENT_TYPE), document="# d", source=Source.CLI
)
ACCEPTED = RequestAccepted(
    envelope=_envelope(RequestAccepted.EVENT_TYPE),
    revision=1,
    content_hash="h",
    spec_version="3",
    spec_json="{}",
)
GENERATED = SqlGenerated(
    envelope=_envelope(SqlGenerated.EVENT_TYPE),
    attempt=2,
    revision=1,
    sql="SELECT 1",
    artifact_ref="/tmp/a",
    generator_version="t",
    target_flink="2.3",
)
ER_UPDATED = ErUpdated(envelope=_envelope(ErUpdated.EVENT_TYPE), version=2, previous_version=1, changes=())


@pytest.mark.parametrize(
    ("service", "event", "expected"),
    [
        ("ingest", SUBMITTED, RunPhase("ingest", None)),
        ("router", SUBMITTED, None),  # the router only records it
        ("generator", ACCEPTED, RunPhase("generate", 1)),
        ("knowledge", ACCEPTED, None),
        ("generator", _decided(Decision.REGENERATE, attempt=1), RunPhase("generate", 2)),
        ("generator", _decided(Decision.APPROVED), None),
        ("validator", GENERATED, RunPhase("validate", 2)),
        ("knowledge", _decided(Decision.APPROVED, attempt=2), RunPhase("knowledge", 2)),
        ("knowledge", _decided(Decision.REVIEW), None),
        ("router", ER_UPDATED, RunPhase("start", None)),
    ],
)
def test_the_phase_a_service_does_by_handling_an_event(
    service: str, event: Event, expected: RunPhase | None
) -> None:
    assert phase_of(service, event) == expected


def test_the_phases_are_the_routers() -> None:
    assert set(PHASES) <= set(ROUTER_PHASES)
