"""The router's run metrics against a real runs store (SQLite) holding runs in several states.

The gauges (streamwright_runs, streamwright_runs_oldest_active_seconds) come from the store, so
the same numbers come back from a new repository and registry (a restarted router); the phase
histogram and the ended counter count each saved change once, redeliveries included.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from services.mesh.events import GenerationFailed
from services.mesh.store import SQLiteDocumentStore
from services.router.adapters.audit_log import JsonlAuditLog
from services.router.adapters.run_metrics import RunMetrics
from services.router.adapters.runs_store import RUNS, StoreRunRepository
from services.router.adapters.webhook import NoNotifier
from services.router.domain.config import RouterConfig
from services.router.domain.run_stats import FINAL_STATES, OPEN_STATES
from services.router.handlers import RouterHandlers
from tests.fakes import FakeDeployer, RecordingPublisher
from tests.unit.router.router_events import RunEvents

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=10)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _handlers(path: Path, metrics: RunMetrics) -> RouterHandlers:
    return RouterHandlers(
        runs=StoreRunRepository(SQLiteDocumentStore(path / "router.sqlite3")),
        publisher=RecordingPublisher(),
        config=RouterConfig(),
        deployer=FakeDeployer(),
        audit=JsonlAuditLog(path / "audit.jsonl"),
        notifier=NoNotifier(),
        observer=metrics.observe,
        clock=lambda: T0,
    )


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, {"service": "router", **labels})


def _gauges(registry: CollectorRegistry) -> dict[str, tuple[float | None, float | None]]:
    return {
        s.value: (
            _value(registry, "streamwright_runs", state=s.value),
            _value(registry, "streamwright_runs_oldest_active_seconds", state=s.value),
        )
        for s in OPEN_STATES
    }


async def _populate(handlers: RouterHandlers) -> dict[str, RunEvents]:
    """Runs in PENDING (two), GENERATING, VALIDATING, GATED, FAILED; each event 1 s after the last."""
    runs = {
        name: RunEvents(f"dom_{name}", start=T0) for name in ("p1", "p2", "gen", "val", "gated", "failed")
    }
    runs["p2"].at = T0 + timedelta(minutes=3)  # a younger PENDING run: the age is the older one's
    sequences = {
        "p1": lambda r: [r.submitted()],
        "p2": lambda r: [r.submitted()],
        "gen": lambda r: [r.submitted(), r.accepted()],
        "val": lambda r: [r.submitted(), r.accepted(), r.generated(1)],
        "gated": lambda r: [r.submitted(), r.accepted(), r.generated(1), r.scored(1, score=95)],
        "failed": lambda r: [
            r.submitted(),
            r.accepted(),
            GenerationFailed(
                envelope=r.envelope(GenerationFailed.EVENT_TYPE, "generator"), attempt=1, reason="x"
            ),
        ],
    }
    for name, events in sequences.items():
        for event in events(runs[name]):
            await handlers.on_event(event)
    return runs


async def test_gauges_count_open_runs_per_state_and_age_the_longest_waiting(tmp_path: Path) -> None:
    """It reports every non-final state (zero when empty), with the age of its longest wait."""
    registry = CollectorRegistry()
    metrics = RunMetrics(registry, clock=Clock(NOW))
    handlers = _handlers(tmp_path, metrics)
    await _populate(handlers)
    views = {v.domain: v for v in await handlers.runs.list_runs(limit=20)}
    assert {d: v.state.value for d, v in views.items()} == {
        "dom_p1": "PENDING",
        "dom_p2": "PENDING",
        "dom_gen": "GENERATING",
        "dom_val": "VALIDATING",
        "dom_gated": "GATED",
        "dom_failed": "FAILED",
    }
    assert _value(registry, "streamwright_runs", state="PENDING") is None  # absent before the first read

    repo = StoreRunRepository(SQLiteDocumentStore(tmp_path / "router.sqlite3"))
    await metrics.refresh(repo.open_run_states)

    # Entered: p1 at T0+1 s, gen at T0+2 s (accepted), val at T0+3 s, gated at T0+5 s (the gate's decision).
    gated_at = views["dom_gated"].entered_at
    assert gated_at is not None
    assert _gauges(registry) == {
        "PENDING": (2, 599.0),
        "GENERATING": (1, 598.0),
        "VALIDATING": (1, 597.0),
        "GATED": (1, (NOW - gated_at).total_seconds()),
        "IN_REVIEW": (0, 0.0),
        "KB_UPDATED": (0, 0.0),
        "STARTING": (0, 0.0),
    }
    assert (
        _value(registry, "streamwright_runs", state="FAILED") is None
    )  # final states are counted, not gauged


async def test_a_restarted_router_reports_the_same_from_the_store(tmp_path: Path) -> None:
    """A new repository and registry on the same store file: the same gauges after one refresh,
    and the ages keep growing between refreshes (computed when scraped)."""
    before = CollectorRegistry()
    first = RunMetrics(before, clock=Clock(NOW))
    await _populate(_handlers(tmp_path, first))
    await first.refresh(StoreRunRepository(SQLiteDocumentStore(tmp_path / "router.sqlite3")).open_run_states)

    clock = Clock(NOW)
    registry = CollectorRegistry()
    restarted = RunMetrics(registry, clock=clock)
    repo = StoreRunRepository(SQLiteDocumentStore(tmp_path / "router.sqlite3"))
    await restarted.refresh(repo.open_run_states)
    assert _gauges(registry) == _gauges(before)
    assert _gauges(registry)["PENDING"] == (2, 599.0)
    clock.now = NOW + timedelta(seconds=30)
    assert _value(registry, "streamwright_runs_oldest_active_seconds", state="PENDING") == 629.0
    restarted.close()
    assert _value(registry, "streamwright_runs", state="PENDING") is None


async def test_a_run_stored_before_entered_at_was_kept_is_still_counted(tmp_path: Path) -> None:
    """Older documents have no entered_at: the run's facts give it."""
    store = SQLiteDocumentStore(tmp_path / "router.sqlite3")
    metrics = RunMetrics(CollectorRegistry(), clock=Clock(NOW))
    handlers = _handlers(tmp_path, metrics)
    run = RunEvents("legacy", start=T0)
    for event in (run.submitted(), run.accepted()):
        await handlers.on_event(event)
    stored = await store.get(RUNS, run.run_id)
    assert stored is not None
    doc = {k: v for k, v in stored.doc.items() if k != "entered_at"}
    await store.put(RUNS, run.run_id, doc)
    assert await StoreRunRepository(store).open_run_states() == [
        (next(s for s in OPEN_STATES if s.value == "GENERATING"), T0 + timedelta(seconds=2))
    ]


async def test_phases_and_final_states_are_counted_once(tmp_path: Path) -> None:
    """Each finished phase is observed once with its duration, redeliveries change nothing, and
    the ended counter starts at zero for every final state."""
    registry = CollectorRegistry()
    metrics = RunMetrics(registry, clock=Clock(NOW))
    handlers = _handlers(tmp_path, metrics)
    for state in FINAL_STATES:
        assert _value(registry, "streamwright_runs_ended_total", state=state.value) == 0.0
    runs = await _populate(handlers)

    def phase(name: str) -> tuple[float | None, float | None]:
        return (
            _value(registry, "streamwright_run_phase_seconds_count", phase=name),
            _value(registry, "streamwright_run_phase_seconds_sum", phase=name),
        )

    # ingest: accepted 1 s after submitted (gen, val, gated, failed); generate: 1 s (val, gated,
    # and failed's GenerationFailed); validate: 1 s (gated); gate: decided at the scored time.
    assert phase("ingest") == (4, 4.0)
    assert phase("generate") == (3, 3.0)
    assert phase("validate") == (1, 1.0)
    assert phase("gate") is not None and phase("gate")[0] == 1
    assert _value(registry, "streamwright_runs_ended_total", state="FAILED") == 1.0

    again = RunEvents("dom_val", run_id=runs["val"].run_id, start=T0)
    again.request_id = runs["val"].request_id
    for event in (again.submitted(), again.accepted(), again.generated(1)):  # the same event ids
        await handlers.on_event(event)
    assert phase("ingest") == (4, 4.0) and phase("generate") == (3, 3.0)
    assert _value(registry, "streamwright_runs_ended_total", state="FAILED") == 1.0


async def test_a_failed_refresh_keeps_the_last_numbers(tmp_path: Path) -> None:
    """The store failing does not blank the gauges (the ages keep growing), and the error says why."""
    clock = Clock(NOW)
    registry = CollectorRegistry()
    metrics = RunMetrics(registry, clock=clock)
    handlers = _handlers(tmp_path, metrics)
    await _populate(handlers)
    repo = StoreRunRepository(SQLiteDocumentStore(tmp_path / "router.sqlite3"))
    await metrics.refresh(repo.open_run_states)

    async def broken() -> list[tuple[object, datetime | None]]:
        raise OSError("store down")

    with pytest.raises(OSError, match="store down"):
        await metrics.refresh(broken)  # type: ignore[arg-type]
    clock.now = NOW + timedelta(minutes=1)
    assert _value(registry, "streamwright_runs", state="PENDING") == 2
    assert _value(registry, "streamwright_runs_oldest_active_seconds", state="PENDING") == 659.0
