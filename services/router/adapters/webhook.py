"""Webhook notifications: a JSON POST (Slack/Mattermost-compatible `text`) when a run needs review or fails.

A webhook that cannot hurt the router:
- `notify` only puts the notification on a bounded in-memory queue and returns; a background task
  delivers it. When the queue is full the notification is dropped and counted, nothing waits.
- One total deadline per notification covers connecting, sending and reading the answer, over
  every attempt: a few attempts with exponential backoff, each within what is left of the budget.
- A redirect is never followed: a 3xx answer is a failed delivery.
- Logs name the host only. The URL's path and query (where chat webhooks keep their token) never
  reach a log line, an error message or a metric.
- With a secret, each POST carries `X-Streamwright-Signature: sha256=<hex HMAC-SHA256 of the body>`.

The HTTP client, its deadline, retries and redirect rule are adapters/http_delivery.py, shared
with the OpenLineage emitter. Counters: `delivered`, `retried` and `dropped` (queue full, attempts exhausted or a
non-retryable answer, or still queued at shutdown), also exported as Prometheus counters when a
registry is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from services.mesh.logging import get_logger
from services.router.adapters.http_delivery import HttpDelivery, delivery_counters, parse_target
from services.router.domain.runs import RunView

log = get_logger(__name__)

SIGNATURE_HEADER = "X-Streamwright-Signature"


def payload(kind: str, view: RunView, domain: str) -> dict[str, object]:
    headline = {
        "review": f"Run {view.run_id} ({domain}) needs review",
        "failed": f"Run {view.run_id} ({domain}) ended {view.state.value}",
    }.get(kind, f"Run {view.run_id} ({domain}): {kind}")
    score = f"score {view.score:g}" if view.score is not None else "not scored"
    return {
        "text": f"{headline}: {view.reason} ({score}, attempt {view.attempt})",
        "kind": kind,
        "run_id": view.run_id,
        "domain": domain,
        "state": view.state.value,
        "reason": view.reason,
        "score": view.score,
        "attempt": view.attempt,
        "review_command": f"streamwright review {view.run_id} --approve|--reject"
        if kind == "review"
        else None,
    }


def signature(secret: bytes, body: bytes) -> str:
    """The value of the signature header: `sha256=` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class _Notification:
    kind: str
    run_id: str
    body: bytes


class WebhookNotifier:
    """Delivers notifications in the background; `notify` never waits on the endpoint."""

    def __init__(
        self,
        url: str,
        *,
        deadline: float = 5.0,
        secret: str | bytes | None = None,
        queue_size: int = 100,
        attempts: int = 3,
        backoff: float = 0.25,
        registry: CollectorRegistry | None = None,
        service: str = "router",
    ) -> None:
        if deadline <= 0 or queue_size < 1 or attempts < 1 or backoff < 0:
            raise ValueError("webhook deadline, queue size, attempts and backoff must be positive")
        self._target = parse_target(url, "webhook URL")
        self._http = HttpDelivery(self._target, deadline=deadline, attempts=attempts, backoff=backoff)
        self._deadline = deadline
        self._secret = secret.encode() if isinstance(secret, str) else secret
        self._queue_size = queue_size
        self._service = service
        self._metrics = (
            delivery_counters(
                registry,
                "webhook",
                sender="Webhook",
                items="notifications",
                reasons="queue_full, failed, shutdown",
            )
            if registry is not None
            else None
        )
        self._queue: asyncio.Queue[_Notification] | None = None
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

    async def notify(self, kind: str, view: RunView, domain: str) -> None:
        """Queue the notification for delivery; never waits on the endpoint, never raises."""
        if self._closed:
            self._drop("shutdown", kind, view.run_id)
            return
        body = json.dumps(payload(kind, view, domain), default=str).encode()
        queue = self._ensure_worker()
        try:
            queue.put_nowait(_Notification(kind, view.run_id, body))
        except asyncio.QueueFull:
            self._drop("queue_full", kind, view.run_id)

    def _ensure_worker(self) -> asyncio.Queue[_Notification]:
        loop = asyncio.get_running_loop()
        if self._queue is None or self._loop is not loop:
            self._queue = asyncio.Queue(maxsize=self._queue_size)
            self._loop = loop
            self._worker = None
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._drain(self._queue), name="webhook-delivery")
        return self._queue

    # -- the background task ---------------------------------------------------------------------

    async def _drain(self, queue: asyncio.Queue[_Notification]) -> None:
        while True:
            item = await queue.get()
            try:
                await self._deliver(item)
            except asyncio.CancelledError:
                self._drop("shutdown", item.kind, item.run_id)
                raise
            except Exception as error:  # a bug here must not stop later deliveries
                self._drop("failed", item.kind, item.run_id, error=type(error).__name__)
            finally:
                queue.task_done()

    async def _deliver(self, item: _Notification) -> None:
        secret = self._secret
        headers = [f"{SIGNATURE_HEADER}: {signature(secret, item.body)}"] if secret is not None else []

        def retrying(attempt: int, error: str) -> None:
            self._count("retried")
            log.info(
                "webhook attempt failed, retrying",
                host=self.host,
                kind=item.kind,
                run_id=item.run_id,
                attempt=attempt,
                error=error,
            )

        undelivered = await self._http.deliver(item.body, headers=headers, on_retry=retrying)
        if undelivered is None:
            self._count("delivered")
        else:
            self._drop(
                "failed",
                item.kind,
                item.run_id,
                error=undelivered.error,
                attempts=undelivered.attempts,
            )

    # -- counting and shutdown -------------------------------------------------------------------

    def _count(self, what: str) -> None:
        if what == "delivered":
            self.delivered += 1
        else:
            self.retried += 1
        if self._metrics is not None:
            self._metrics[what].labels(service=self._service).inc()

    def _drop(self, reason: str, kind: str, run_id: str, **details: object) -> None:
        self.dropped += 1
        if self._metrics is not None:
            self._metrics["dropped"].labels(service=self._service, reason=reason).inc()
        message = {
            "queue_full": "webhook queue full, notification dropped",
            "shutdown": "webhook notification dropped at shutdown",
        }.get(reason, "webhook delivery failed")
        log.warning(
            message,
            host=self.host,
            kind=kind,
            run_id=run_id,
            reason=reason,
            queue_size=self._queue_size,
            **details,
        )

    async def join(self) -> None:
        """Wait until every queued notification is delivered or dropped (tests; shutdown)."""
        if self._queue is not None and self._loop is asyncio.get_running_loop():
            await self._queue.join()

    async def aclose(self, grace: float | None = None) -> None:
        """Stop taking notifications, give queued ones `grace` seconds (default: one deadline), then
        drop what is left and log the counters."""
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
                self._drop("shutdown", item.kind, item.run_id)
        self._worker = None
        log.info(
            "webhook notifier closed",
            host=self.host,
            delivered=self.delivered,
            retried=self.retried,
            dropped=self.dropped,
        )


class NoNotifier:
    async def notify(self, kind: str, view: RunView, domain: str) -> None:
        return None

    async def aclose(self, grace: float | None = None) -> None:
        return None
