"""What the router's run metrics are computed from, as pure functions (the Prometheus side is
services/router/adapters/run_metrics.py).

- `open_state_stats`: per non-final state, how many runs are in it and since when the one that has
  waited longest entered it. Only non-final states: they are the work in progress, few (every one
  ends within the workflow or review timeout), and what a stuck-run alert needs. Final states only
  grow, so counting them would read every run ever stored at each refresh; they are counted as
  transitions instead (`ended_state`).
- `finished_phases`: the phases a change of a run finished (each observed once, when it ends).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from services.router.domain.runs import TERMINAL, Phase, RunState, RunView

# The states a run works or waits in, in flow order (RunState minus the final ones).
OPEN_STATES: tuple[RunState, ...] = tuple(s for s in RunState if s not in TERMINAL)
FINAL_STATES: tuple[RunState, ...] = tuple(s for s in RunState if s in TERMINAL)


@dataclass(frozen=True, slots=True)
class StateStats:
    """The runs in one non-final state: how many, and when the longest-waiting one entered it."""

    count: int = 0
    oldest_entered_at: datetime | None = None

    def age_seconds(self, now: datetime) -> float:
        """How long the longest-waiting run has been in this state (0 when none is)."""
        if self.oldest_entered_at is None:
            return 0.0
        return max(0.0, (now - self.oldest_entered_at).total_seconds())


def open_state_stats(runs: Iterable[tuple[RunState, datetime | None]]) -> dict[RunState, StateStats]:
    """Every non-final state (zero when empty) from (state, entered_at) of the open runs.

    A final state in `runs` (a run that ended between the query and now) is skipped; a run
    without entered_at counts but does not set the age.
    """
    counts = dict.fromkeys(OPEN_STATES, 0)
    oldest: dict[RunState, datetime] = {}
    for state, entered_at in runs:
        if state not in counts:
            continue
        counts[state] += 1
        if entered_at is not None and (state not in oldest or entered_at < oldest[state]):
            oldest[state] = entered_at
    return {state: StateStats(counts[state], oldest.get(state)) for state in OPEN_STATES}


def finished_phases(before: RunView, after: RunView) -> list[Phase]:
    """Phases finished in `after` that were not finished in `before`.

    A phase is its name and attempt: once finished it is never reported again, even if a fact
    delivered late moves its start or end (the run's view folds facts in causal order, not
    arrival order). A phase that never finishes (the run ended in another way) is never reported.
    """
    done = {(p.name, p.attempt) for p in before.phases if p.finished_at is not None}
    return [p for p in after.phases if p.finished_at is not None and (p.name, p.attempt) not in done]


def ended_state(before: RunView, after: RunView) -> RunState | None:
    """The final state a change moved the run into, or None (not final, or final already)."""
    if after.state in TERMINAL and before.state not in TERMINAL:
        return after.state
    return None
