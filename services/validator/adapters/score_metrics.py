"""The validator's score metrics, in the service's Prometheus registry (served on its /metrics).

    streamwright_validation_score{service,dimension}              histogram of every published score,
                                                                  per dimension and `total` (0-100)
    streamwright_validation_last_score{service,domain,dimension}  gauge: the last score of each domain

`dimension` is bounded: the four scoring dimensions (services/validator/domain/model.py) and
`total`. `domain` is user input, so the gauge keeps at most `max_domains` domains
(STREAMWRIGHT_VALIDATOR_METRICS_MAX_DOMAINS, default 100; 0 turns the gauge off): scoring one
more drops the series of the domain scored least recently. It is this process's view: empty after
a restart until each domain is scored again, and with several validator replicas a domain's
series is in the replica that scored it (after a rebalance the previous one keeps its older value
until evicted). The run's own score is authoritative in the router (GetRun, `streamwright status`).
Provisional scores (knowledge not checked) count like the others.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, Histogram

from services.mesh.events import ValidationScored
from services.validator.domain.model import DIMENSIONS

TOTAL = "total"
# Tens below the gate's usual thresholds, finer where they are (85-100).
SCORE_BUCKETS = (10, 20, 30, 40, 50, 60, 70, 80, 85, 90, 95, 100)

_INSTRUMENTS: weakref.WeakKeyDictionary[CollectorRegistry, dict[str, Any]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _instruments(registry: CollectorRegistry) -> dict[str, Any]:
    """The score metrics of `registry`, registered once per registry (tests share one)."""
    with _LOCK:
        found = _INSTRUMENTS.get(registry)
        if found is None:
            found = {
                "score": Histogram(
                    "streamwright_validation_score",
                    "Published validation scores (0-100), per dimension and total.",
                    ("service", "dimension"),
                    buckets=SCORE_BUCKETS,
                    registry=registry,
                ),
                "last": Gauge(
                    "streamwright_validation_last_score",
                    "The last published score of each domain (at most max_domains domains).",
                    ("service", "domain", "dimension"),
                    registry=registry,
                ),
            }
            _INSTRUMENTS[registry] = found
        return found


class ScoreMetrics:
    """Observes each published score (services.validator.ports.ScoreObserver)."""

    def __init__(
        self, registry: CollectorRegistry, *, service: str = "validator", max_domains: int = 100
    ) -> None:
        found = _instruments(registry)
        self._score = found["score"]
        self._last = found["last"]
        self._service = service
        self._max_domains = max_domains
        self._lock = threading.Lock()
        # domain -> the dimensions it has series for, least recently scored first
        self._domains: OrderedDict[str, set[str]] = OrderedDict()
        for dimension in (*DIMENSIONS, TOTAL):  # every bucket series exists from the start
            self._score.labels(service, dimension)

    def observe(self, event: ValidationScored) -> None:
        scores = {d.name: d.score for d in event.dimensions}
        scores[TOTAL] = event.score
        for dimension, score in scores.items():
            self._score.labels(self._service, dimension).observe(score)
        if self._max_domains > 0:
            self._remember(event.envelope.domain, scores)

    def _remember(self, domain: str, scores: dict[str, float]) -> None:
        with self._lock:
            previous = self._domains.pop(domain, set())
            for dimension in previous - set(scores):
                self._last.remove(self._service, domain, dimension)
            for dimension, score in scores.items():
                self._last.labels(self._service, domain, dimension).set(score)
            self._domains[domain] = set(scores)
            while len(self._domains) > self._max_domains:
                evicted, dimensions = self._domains.popitem(last=False)
                for dimension in dimensions:
                    self._last.remove(self._service, evicted, dimension)

    def domains(self) -> list[str]:
        """The domains with a last-score series, least recently scored first."""
        with self._lock:
            return list(self._domains)
