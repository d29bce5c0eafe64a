"""The runs read-model: shuffled and repeated events reach the same view; timings; timeouts."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from router_events import RunEvents

from services.mesh.events import (
    DecidedBy,
    Decision,
    Envelope,
    FinalState,
    MessageDeadLettered,
    RunCompleted,
    RunStarted,
)
from services.mesh.ids import derive
from services.router.domain.config import Timeouts
from services.router.domain.runs import RunState, fact_of, overdue, project


def happy_path() -> list:  # type: ignore[type-arg]
    run = RunEvents()
    events = [
        run.submitted(),
        run.accepted(),
        run.generated(1),
        run.scored(1, score=70),
        run.gate(1, Decision.REGENERATE),
        run.generated(2),
        run.scored(2, score=80),
        run.gate(2, Decision.REVIEW),
        run.gate(2, Decision.APPROVED, DecidedBy.REVIEWER),
        run.er_updated(),
    ]
    started = RunStarted(
        envelope=run.envelope(RunStarted.EVENT_TYPE, "router"),
        target="manifest",
        deployment_ref="/out",
        revision=1,
    )
    return [*events, started]


def completed(run_events: list, state: FinalState) -> RunCompleted:  # type: ignore[type-arg]
    last = run_events[-1].envelope
    env = Envelope.caused_by(last, event_type=RunCompleted.EVENT_TYPE, producer="router")
    return RunCompleted(
        envelope=env.model_copy(update={"event_id": derive(last.run_id, "done")}),
        final_state=state,
        reason="x",
    )


HAPPY = happy_path()
BASELINE = project("r", [fact_of(e) for e in HAPPY])


def test_happy_path_view() -> None:
    """It folds a repaired, reviewed, started run into STARTING with attempts, decisions and phases."""
    view = BASELINE
    assert view.state is RunState.STARTING
    assert view.attempt == 2 and view.score == 80 and view.reviewer == "alice"
    assert [d["decision"] for d in view.decisions] == ["regenerate", "review", "approved"]
    phases = {(p.name, p.attempt): p.duration_ms for p in view.phases}
    assert phases[("ingest", None)] == 1000
    assert phases[("generate", 2)] == 1000 and phases[("validate", 1)] == 1000
    assert phases[("review", 2)] == 1000 and phases[("knowledge", None)] == 1000
    assert view.references["artifact_ref"] == "/tmp/none"


@settings(max_examples=150, deadline=None)
@given(st.permutations(HAPPY), st.lists(st.integers(0, len(HAPPY) - 1), max_size=6))
def test_shuffled_and_duplicated_events_give_the_same_view(order: list, repeats: list[int]) -> None:  # type: ignore[type-arg]
    """It reaches the same state, attempt, score, decisions and phases whatever the delivery order."""
    delivered = list(order) + [HAPPY[i] for i in repeats]
    view = project("r", [fact_of(e) for e in delivered])
    assert view.state is BASELINE.state
    assert (view.attempt, view.score, view.revision) == (BASELINE.attempt, BASELINE.score, BASELINE.revision)
    assert view.decisions == BASELINE.decisions
    assert view.phases == BASELINE.phases
    assert [t["event_id"] for t in view.timeline] == [t["event_id"] for t in BASELINE.timeline]


FINAL = [*HAPPY, completed(HAPPY, FinalState.RUNNING)]
DLQ_RUN = RunEvents()
DLQ = [DLQ_RUN.submitted(), DLQ_RUN.accepted(), DLQ_RUN.generated(1)]
DLQ.append(
    MessageDeadLettered(
        envelope=DLQ_RUN.envelope(MessageDeadLettered.EVENT_TYPE, "validator"),
        source_topic="sw.sql.generated",
        partition=0,
        offset=3,
        consumer_group="validator",
        reason="boom",
        attempts=3,
    )
)
DLQ.append(DLQ_RUN.scored(1))  # a late event after the run failed changes nothing


@settings(max_examples=100, deadline=None)
@given(st.permutations(FINAL), st.permutations(DLQ))
def test_final_states_are_order_independent(final: list, dlq: list) -> None:  # type: ignore[type-arg]
    """It ends RUNNING (RunCompleted is authoritative) and FAILED on a dead letter, in any order."""
    assert project("r", [fact_of(e) for e in final]).state is RunState.RUNNING
    view = project("r", [fact_of(e) for e in dlq])
    assert view.state is RunState.FAILED and "dead-lettered" in view.reason and "boom" in view.reason


def test_rejections_and_failures() -> None:
    """It ends REJECTED on a gate rejection and ignores events after a final state."""
    run = RunEvents()
    events = [
        run.submitted(),
        run.accepted(),
        run.generated(1),
        run.scored(1, score=20),
        run.gate(1, Decision.REJECTED),
    ]
    events.append(run.er_updated())  # cannot happen, must not move a rejected run
    view = project("r", [fact_of(e) for e in events])
    assert view.state is RunState.REJECTED and view.terminal


def test_timeouts_per_phase_review_and_workflow() -> None:
    """It times out a stuck phase, a long review, and a whole run, with the reason."""
    run = RunEvents()
    events = [run.submitted(), run.accepted()]
    view = project("r", [fact_of(e) for e in events])
    timeouts = Timeouts(workflow_minutes=15, review_minutes=60, phase_minutes={"generate": 5})
    assert overdue(view, timeouts, run.at + timedelta(minutes=4)) is None
    assert "phase generate" in (overdue(view, timeouts, run.at + timedelta(minutes=6)) or "")
    events += [run.generated(1), run.scored(1, score=50), run.gate(1, Decision.REVIEW)]
    review = project("r", [fact_of(e) for e in events])
    assert review.state is RunState.IN_REVIEW
    assert (
        overdue(review, timeouts, run.at + timedelta(minutes=30)) is None
    )  # review time is not workflow time
    assert "review" in (overdue(review, timeouts, run.at + timedelta(minutes=61)) or "")
    long = Timeouts(workflow_minutes=15, review_minutes=60, phase_minutes={})
    assert "workflow timeout" in (overdue(view, long, run.at + timedelta(minutes=16)) or "")
