"""OpenLineage emission: the RunEvent START of a job the router started, to a Marquez-compatible
endpoint (`POST {url}/api/v1/lineage`, JSON), when STREAMWRIGHT_ROUTER_OPENLINEAGE_URL is set.

The event is the generator's static lineage (`job/<domain>/lineage/openlineage.json` under the
run's artifact_ref, a JobEvent) made a run: eventType START, the run's id as a UUID, the time of
RunStarted (services/flinksql/openlineage.py `run_start_event`). A run whose artifacts hold no
lineage file (generated before it existed, or on a host whose files the router cannot read) is
skipped with a log line and counted.

Like the webhook (adapters/webhook.py), it can never hold the router's event handling; both deliver
through adapters/http_delivery.py:
- `run_started` only puts the run on a bounded in-memory queue and returns; a background task
  reads the artifact, builds the event and delivers it. A full queue drops and counts.
- One total deadline per event covers connecting, sending and reading the answer over every
  attempt (a few, with exponential backoff; 5xx, 408, 425 and 429 are retried).
- A redirect is never followed: a 3xx answer is a failed delivery.
- Logs name the host only, never the URL's path or query; the API key (`Authorization: Bearer`,
  STREAMWRIGHT_ROUTER_OPENLINEAGE_API_KEY) is never logged.

HTTP/1.1 over asyncio's streams, `Connection: close`, only the status line of the answer is read.
Counters: `delivered`, `retried`, `dropped` (queue_full, failed, no_lineage, shutdown), also
Prometheus counters `streamwright_openlineage_*` when a registry is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from prometheus_client import CollectorRegistry

from services.flinksql.artifacts import ArtifactLayout, BadDomain
from services.flinksql.openlineage import producer_uri, run_start_event
from services.mesh.events import RunStarted
from services.mesh.logging import get_logger
from services.router.adapters.http_delivery import (
    HttpDelivery,
    Target,
    delivery_counters,
    describe,
    parse_target,
)

log = get_logger(__name__)

LINEAGE_PATH = "/api/v1/lineage"
_MAX_ARTIFACT_BYTES = 8 * 1024 * 1024


def endpoint(url: str) -> Target:
    """The lineage endpoint of a Marquez-compatible base URL (`{url}/api/v1/lineage`); ValueError
    (never quoting the URL) when it is not usable."""
    base = parse_target(url, "OpenLineage URL")
    path, _, query = base.target.partition("?")
    return replace(base, target=path.rstrip("/") + LINEAGE_PATH + (f"?{query}" if query else ""))


@dataclass(frozen=True)
class _Start:
    run_id: str
    domain: str
    artifact_ref: str | None
    at: datetime


class OpenLineageEmitter:
    """Sends each started run's START event in the background; `run_started` never waits."""

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        deadline: float = 5.0,
        queue_size: int = 100,
        attempts: int = 3,
        backoff: float = 0.25,
        registry: CollectorRegistry | None = None,
        service: str = "router",
        producer: str | None = None,
    ) -> None:
        if deadline <= 0 or queue_size < 1 or attempts < 1 or backoff < 0:
            raise ValueError("OpenLineage deadline, queue size, attempts and backoff must be positive")
        if api_key is not None and any(c.isspace() or ord(c) < 0x20 for c in api_key):
            raise ValueError("the OpenLineage API key holds whitespace or control characters")
        self._target = endpoint(url)
        self._http = HttpDelivery(self._target, deadline=deadline, attempts=attempts, backoff=backoff)
        self._api_key = api_key or None
        self._deadline = deadline
        self._queue_size = queue_size
        self._service = service
        self._producer = producer or producer_uri("router", "unknown")
        self._metrics = (
            delivery_counters(
                registry,
                "openlineage",
                sender="OpenLineage",
                items="events",
                reasons="queue_full, failed, no_lineage, shutdown",
            )
            if registry is not None
            else None
        )
        self._queue: asyncio.Queue[_Start] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._worker: asyncio.Task[None] | None = None
        self._closed = False
        self.delivered = 0
        self.retried = 0
        self.dropped = 0

    @property
    def host(self) -> str:
        return self._target.shown

    # -- the event path: enqueue and return ------------------------------------------------------

    async def run_started(self, event: RunStarted, artifact_ref: str | None) -> None:
        """Queue the run's START event; never waits on the endpoint or the disk, never raises."""
        env = event.envelope
        if self._closed:
            self._drop("shutdown", env.run_id)
            return
        queue = self._ensure_worker()
        try:
            queue.put_nowait(_Start(env.run_id, env.domain, artifact_ref, env.occurred_at))
        except asyncio.QueueFull:
            self._drop("queue_full", env.run_id)

    def _ensure_worker(self) -> asyncio.Queue[_Start]:
        loop = asyncio.get_running_loop()
        if self._queue is None or self._loop is not loop:
            self._queue = asyncio.Queue(maxsize=self._queue_size)
            self._loop = loop
            self._worker = None
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._drain(self._queue), name="openlineage-delivery")
        return self._queue

    # -- the background task ---------------------------------------------------------------------

    async def _drain(self, queue: asyncio.Queue[_Start]) -> None:
        while True:
            item = await queue.get()
            try:
                body = await asyncio.to_thread(self._event, item)
                if body is not None:
                    await self._deliver(item, body)
            except asyncio.CancelledError:
                self._drop("shutdown", item.run_id)
                raise
            except Exception as error:  # a bug here must not stop later deliveries
                self._drop("failed", item.run_id, error=type(error).__name__)
            finally:
                queue.task_done()

    def _event(self, item: _Start) -> bytes | None:
        """The START event's JSON, from the run's lineage artifact; None (dropped) without one."""
        try:
            relative = ArtifactLayout(item.domain).lineage
        except BadDomain:
            self._drop("no_lineage", item.run_id, error="not a valid domain name")
            return None
        if not item.artifact_ref:
            self._drop("no_lineage", item.run_id, error="the run has no artifact_ref")
            return None
        path = Path(item.artifact_ref) / relative
        try:
            with path.open("rb") as handle:
                raw = handle.read(_MAX_ARTIFACT_BYTES + 1)
            if len(raw) > _MAX_ARTIFACT_BYTES:
                raise ValueError(f"larger than {_MAX_ARTIFACT_BYTES} bytes")
            static = json.loads(raw)
            if not isinstance(static, dict):
                raise ValueError("not a JSON object")
            event = run_start_event(static, run_id=item.run_id, at=item.at, producer=self._producer)
        except FileNotFoundError:
            self._drop("no_lineage", item.run_id, error=f"no {relative} in the run's artifacts")
            return None
        except (OSError, ValueError) as error:  # json.JSONDecodeError is a ValueError
            self._drop("no_lineage", item.run_id, error=f"{relative}: {describe(error)}")
            return None
        return json.dumps(event, ensure_ascii=False).encode("utf-8")

    async def _deliver(self, item: _Start, body: bytes) -> None:
        headers = [f"Authorization: Bearer {self._api_key}"] if self._api_key is not None else []

        def retrying(attempt: int, error: str) -> None:
            self._count("retried")
            log.info(
                "OpenLineage attempt failed, retrying",
                host=self.host,
                run_id=item.run_id,
                attempt=attempt,
                error=error,
            )

        undelivered = await self._http.deliver(body, headers=headers, on_retry=retrying)
        if undelivered is None:
            self._count("delivered")
            log.info("OpenLineage START delivered", host=self.host, run_id=item.run_id, domain=item.domain)
        else:
            self._drop("failed", item.run_id, error=undelivered.error, attempts=undelivered.attempts)

    # -- counting and shutdown -------------------------------------------------------------------

    def _count(self, what: str) -> None:
        if what == "delivered":
            self.delivered += 1
        else:
            self.retried += 1
        if self._metrics is not None:
            self._metrics[what].labels(service=self._service).inc()

    def _drop(self, reason: str, run_id: str, **details: object) -> None:
        self.dropped += 1
        if self._metrics is not None:
            self._metrics["dropped"].labels(service=self._service, reason=reason).inc()
        message = {
            "queue_full": "OpenLineage queue full, event dropped",
            "shutdown": "OpenLineage event dropped at shutdown",
            "no_lineage": "OpenLineage event not sent: no lineage artifact",
        }.get(reason, "OpenLineage delivery failed")
        log.warning(message, host=self.host, run_id=run_id, reason=reason, **details)

    async def join(self) -> None:
        """Wait until every queued event is delivered or dropped (tests; shutdown)."""
        if self._queue is not None and self._loop is asyncio.get_running_loop():
            await self._queue.join()

    async def aclose(self, grace: float | None = None) -> None:
        """Stop taking events, give queued ones `grace` seconds (default: one deadline), then drop
        what is left and log the counters."""
        self._closed = True
        worker, queue = self._worker, self._queue
        if worker is not None and queue is not None and not worker.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(queue.join(), self._deadline if grace is None else grace)
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        if queue is not None:
            while not queue.empty():
                item = queue.get_nowait()
                queue.task_done()
                self._drop("shutdown", item.run_id)
        self._worker = None
        log.info(
            "OpenLineage emitter closed",
            host=self.host,
            delivered=self.delivered,
            retried=self.retried,
            dropped=self.dropped,
        )


class NoLineage:
    """No OpenLineage endpoint configured."""

    async def run_started(self, event: RunStarted, artifact_ref: str | None) -> None:
        return None

    async def aclose(self, grace: float | None = None) -> None:
        return None
