"""The router's run metrics, in the service's Prometheus registry (served on its /metrics).

    streamwright_runs{service,state}                          gauge: runs now in each non-final state
    streamwright_runs_oldest_active_seconds{service,state}    gauge: how long the longest-waiting run
                                                              of each non-final state has been in it
    streamwright_runs_ended_total{service,state}              counter: runs this process moved into
                                                              each final state
    streamwright_run_phase_seconds{service,phase}             histogram: duration of each finished
                                                              phase (ingest, generate, validate, gate,
                                                              review, knowledge, start)

The two gauges come from the runs store, not from what this process saw: a background task
(`refresh_forever`, every STREAMWRIGHT_ROUTER_RUN_METRICS_INTERVAL_SECONDS) reads the open runs'
state and entry time, and the collector computes each age when Prometheus scrapes, so a restarted
router reports the right numbers after its first refresh, and an age keeps growing even if a
refresh fails. Before the first refresh the gauges are absent, not zero. Every router replica
reads the same store, so aggregate them with max(), not sum().

The counter and the histogram count what this process did (a run's change is saved by exactly one
process, once), so they start at zero on a restart like any counter: use rate()/increase().
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

from services.mesh.logging import get_logger
from services.router.domain.run_stats import (
    FINAL_STATES,
    StateStats,
    ended_state,
    finished_phases,
    open_state_stats,
)
from services.router.domain.runs import RunState, RunView

log = get_logger(__name__)

# From tenths of a second (ingest, gate) to the review timeout's default day.
PHASE_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600)
RUNS = "streamwright_runs"
OLDEST = "streamwright_runs_oldest_active_seconds"

# (state, entered_at) of every open run: StoreRunRepository.open_run_states.
StatesSource = Callable[[], Awaitable[list[tuple[RunState, datetime | None]]]]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class OpenRunsCollector:
    """Yields the two run gauges from the last snapshot of each router in this registry (a
    prometheus_client custom collector: `collect` runs on the scraping thread)."""

    def __init__(self, clock: Callable[[], datetime] = _utc_now) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshots: dict[str, dict[RunState, StateStats]] = {}

    def update(self, service: str, stats: dict[RunState, StateStats]) -> None:
        with self._lock:
            self._snapshots[service] = dict(stats)

    def forget(self, service: str) -> None:
        with self._lock:
            self._snapshots.pop(service, None)

    def describe(self) -> Iterator[Metric]:
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        runs, oldest = self._families()
        now = self._clock()
        with self._lock:
            snapshots = {service: dict(stats) for service, stats in self._snapshots.items()}
        for service, stats in sorted(snapshots.items()):
            for state, stat in stats.items():
                runs.add_metric([service, state.value], stat.count)
                oldest.add_metric([service, state.value], stat.age_seconds(now))
        yield runs
        yield oldest

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                RUNS,
                "Runs now in each non-final state (from the runs store; every replica reports the same).",
                labels=("service", "state"),
            ),
            GaugeMetricFamily(
                OLDEST,
                "Seconds the longest-waiting run of each non-final state has been in it (0: none).",
                labels=("service", "state"),
            ),
        )


_INSTRUMENTS: weakref.WeakKeyDictionary[CollectorRegistry, dict[str, Any]] = weakref.WeakKeyDictionary()
_INSTRUMENTS_LOCK = threading.Lock()


def _instruments(registry: CollectorRegistry, clock: Callable[[], datetime]) -> dict[str, Any]:
    """The run metrics of `registry`, registered once per registry (tests share one)."""
    with _INSTRUMENTS_LOCK:
        found = _INSTRUMENTS.get(registry)
        if found is None:
            collector = OpenRunsCollector(clock)
            registry.register(collector)
            found = {
                "open": collector,
                "ended": Counter(
                    "streamwright_runs_ended",
                    "Runs this router process moved into each final state.",
                    ("service", "state"),
                    registry=registry,
                ),
                "phase": Histogram(
                    "streamwright_run_phase_seconds",
                    "Duration of each finished phase of a run, from the events' own timestamps.",
                    ("service", "phase"),
                    buckets=PHASE_BUCKETS,
                    registry=registry,
                ),
            }
            _INSTRUMENTS[registry] = found
        return found


class RunMetrics:
    """The router's run metrics: `observe` each saved change, `refresh_forever` the open-run gauges."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        service: str = "router",
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        found = _instruments(registry, clock)
        self.service = service
        self.collector: OpenRunsCollector = found["open"]
        self._ended = found["ended"]
        self._phase = found["phase"]
        for state in FINAL_STATES:  # present from the start, so increase() sees the first one
            self._ended.labels(service, state.value)

    def observe(self, before: RunView, after: RunView) -> None:
        """Count what a saved change of a run finished: phases, and the final state it reached."""
        for phase in finished_phases(before, after):
            if phase.finished_at is not None:
                seconds = max(0.0, (phase.finished_at - phase.started_at).total_seconds())
                self._phase.labels(self.service, phase.name).observe(seconds)
        ended = ended_state(before, after)
        if ended is not None:
            self._ended.labels(self.service, ended.value).inc()

    async def refresh(self, source: StatesSource) -> None:
        """Read the open runs and replace the gauges' snapshot."""
        self.collector.update(self.service, open_state_stats(await source()))

    async def refresh_forever(self, source: StatesSource, interval: float) -> None:
        """Refresh now, then every `interval` seconds; a failed refresh keeps the last snapshot."""
        while True:
            try:
                await self.refresh(source)
            except Exception as error:  # the store may be down for a while: keep trying
                log.warning("run metrics not refreshed", error=f"{type(error).__name__}: {error}")
            await asyncio.sleep(interval)

    def close(self) -> None:
        """Drop this router's gauges (a stopped router reports nothing, not its last numbers)."""
        self.collector.forget(self.service)
