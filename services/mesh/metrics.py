"""Prometheus metrics of the mesh runtime, and the HTTP endpoint each service exposes them on.

Every metric carries the `service` label, so several services in one process (tests)
share a registry without clashing. `consumer_lag` is computed from the partition high
watermark the consumer last saw; on Tansu that watermark is wrong when one batch holds
several records, so read the gauge as a hint there (it is exact on Apache Kafka).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_EVENT = ("service", "topic", "event_type")


@dataclass(frozen=True)
class MeshMetrics:
    """The runtime's metrics, registered in one registry."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    consumed: Any = field(init=False)
    produced: Any = field(init=False)
    failed: Any = field(init=False)
    dead_lettered: Any = field(init=False)
    duplicates: Any = field(init=False)
    handler_seconds: Any = field(init=False)
    consumer_lag: Any = field(init=False)
    in_flight: Any = field(init=False)

    def __post_init__(self) -> None:
        r = self.registry
        values = {
            "consumed": Counter(
                "streamwright_events_consumed", "Records taken from Kafka by a handler.", _EVENT, registry=r
            ),
            "produced": Counter(
                "streamwright_events_produced", "Events published and acknowledged.", _EVENT, registry=r
            ),
            "failed": Counter(
                "streamwright_handler_failures",
                "Failed handler attempts (each retry counts).",
                _EVENT,
                registry=r,
            ),
            "dead_lettered": Counter(
                "streamwright_events_dead_lettered",
                "Records sent to a dead-letter topic.",
                _EVENT,
                registry=r,
            ),
            "duplicates": Counter(
                "streamwright_events_duplicate", "Redelivered events skipped by event_id.", _EVENT, registry=r
            ),
            "handler_seconds": Histogram(
                "streamwright_handler_seconds",
                "Time from taking a record to committing its outcome.",
                _EVENT,
                buckets=_LATENCY_BUCKETS,
                registry=r,
            ),
            "consumer_lag": Gauge(
                "streamwright_consumer_lag",
                "High watermark minus next offset, per partition (a hint on Tansu).",
                ("service", "topic", "partition", "group"),
                registry=r,
            ),
            "in_flight": Gauge(
                "streamwright_in_flight",
                "Records taken but not yet committed.",
                ("service", "topic"),
                registry=r,
            ),
        }
        for name, metric in values.items():
            object.__setattr__(self, name, metric)

    def prime(self, service: str, topic: str, event_types: Iterable[str]) -> None:
        """Create a subscription's series at zero before its first record.

        A series that first appears with the value 1 has no increase() over any window, so
        without this the first dead letter (or handler failure) of a topic would never fire
        StreamwrightDeadLettersGrowing, and a handler hung on a topic's first record would never
        fire StreamwrightHandlerStuck (no handler_seconds_count series to compare with). Records
        that do not decode are counted under event_type "unknown".
        """
        for event_type in event_types:
            for counter in (self.consumed, self.failed, self.dead_lettered, self.duplicates):
                counter.labels(service, topic, event_type)
            self.handler_seconds.labels(service, topic, event_type)
        self.dead_lettered.labels(service, topic, "unknown")
        self.in_flight.labels(service, topic)


_default: MeshMetrics | None = None
_default_lock = threading.Lock()


def default_metrics() -> MeshMetrics:
    """The process-wide metrics, created on first use (not at import)."""
    global _default  # noqa: PLW0603 - one registry per process is the point
    with _default_lock:
        if _default is None:
            _default = MeshMetrics()
        return _default


class MetricsServer:
    """The `/metrics` HTTP endpoint of one service, on a background thread."""

    def __init__(self, metrics: MeshMetrics, *, host: str, port: int) -> None:
        self._server, self._thread = start_http_server(port, addr=host, registry=metrics.registry)
        self.host = host
        self.port: int = self._server.server_port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
