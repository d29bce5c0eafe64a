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

The client is asyncio's streams (no third-party HTTP client; the router needs none): HTTP/1.1,
`Connection: close`, only the status line of the answer is read. Proxy settings (HTTP(S)_PROXY) are
not used. Counters: `delivered`, `retried` and `dropped` (queue full, attempts exhausted or a
non-retryable answer, or still queued at shutdown), also exported as Prometheus counters when a
registry is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import ssl
import threading
import weakref
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Counter

from services.mesh.logging import get_logger
from services.router.domain.runs import RunView

log = get_logger(__name__)

SIGNATURE_HEADER = "X-Streamwright-Signature"
# Retry an answer that says "try again"; any other 4xx (and every 3xx) will not change by retrying.
_RETRY_STATUS = frozenset({408, 425, 429})
_MAX_STATUS_LINE = 8192


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


class _Failed(Exception):
    """One failed attempt; the message never holds the URL's path or query."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str
    port: int
    host_header: str
    target: str  # path and query: secret, never logged

    @property
    def shown(self) -> str:
        """What logs may name: the host (and a port given in the URL)."""
        return self.host_header


def _target(url: str) -> _Target:
    """The parts of a webhook URL; ValueError (which never quotes the URL) when it is not usable."""
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise ValueError("webhook URL holds whitespace or control characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError("webhook URL must start with http:// or https://")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("webhook URL has an invalid port") from None
    host = parts.hostname
    if not host:
        raise ValueError("webhook URL has no host")
    shown_host = f"[{host}]" if ":" in host else host
    host_header = f"{shown_host}:{port}" if port is not None else shown_host
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default_port = 443 if parts.scheme == "https" else 80
    return _Target(parts.scheme, host, port or default_port, host_header, target)


_COUNTERS: weakref.WeakKeyDictionary[CollectorRegistry, dict[str, Any]] = weakref.WeakKeyDictionary()
_COUNTERS_LOCK = threading.Lock()


def _counters(registry: CollectorRegistry) -> dict[str, Any]:
    """The webhook's Prometheus counters in `registry`, registered once per registry."""
    with _COUNTERS_LOCK:
        found = _COUNTERS.get(registry)
        if found is None:
            found = {
                "delivered": Counter(
                    "streamwright_webhook_delivered",
                    "Webhook notifications the endpoint accepted (2xx).",
                    ("service",),
                    registry=registry,
                ),
                "retried": Counter(
                    "streamwright_webhook_retries",
                    "Webhook delivery attempts repeated after a failed one.",
                    ("service",),
                    registry=registry,
                ),
                "dropped": Counter(
                    "streamwright_webhook_dropped",
                    "Webhook notifications never delivered (queue_full, failed, shutdown).",
                    ("service", "reason"),
                    registry=registry,
                ),
            }
            _COUNTERS[registry] = found
        return found


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
        self._target = _target(url)
        self._deadline = deadline
        self._secret = secret.encode() if isinstance(secret, str) else secret
        self._queue_size = queue_size
        self._attempts = attempts
        self._backoff = backoff
        self._service = service
        self._metrics = _counters(registry) if registry is not None else None
        self._ssl = ssl.create_default_context() if self._target.scheme == "https" else None
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
        loop = asyncio.get_running_loop()
        end = loop.time() + self._deadline
        attempt = 0
        while True:
            attempt += 1
            try:
                async with asyncio.timeout_at(end):
                    status = await self._post(item.body)
                failure = self._judge(status)
            except TimeoutError:
                failure = _Failed(f"no answer within the {self._deadline:g} s deadline", retry=False)
            except _Failed as error:
                failure = error
            except (OSError, ssl.SSLError, EOFError) as error:
                failure = _Failed(_describe(error), retry=True)
            if failure is None:
                self._count("delivered")
                return
            delay = self._backoff * 2 ** (attempt - 1)
            if not failure.retry or attempt >= self._attempts or loop.time() + delay >= end:
                self._drop("failed", item.kind, item.run_id, error=str(failure), attempts=attempt)
                return
            self._count("retried")
            log.info(
                "webhook attempt failed, retrying",
                host=self.host,
                kind=item.kind,
                run_id=item.run_id,
                attempt=attempt,
                error=str(failure),
            )
            await asyncio.sleep(delay)

    @staticmethod
    def _judge(status: int) -> _Failed | None:
        if 200 <= status < 300:
            return None
        if 300 <= status < 400:
            return _Failed(f"HTTP {status}: redirect not followed", retry=False)
        return _Failed(f"HTTP {status}", retry=status >= 500 or status in _RETRY_STATUS)

    async def _post(self, body: bytes) -> int:
        """One POST; the status code of the answer. The caller bounds it with the deadline."""
        t = self._target
        reader, writer = await asyncio.open_connection(
            t.host,
            t.port,
            ssl=self._ssl,
            server_hostname=t.host if self._ssl is not None else None,
            limit=_MAX_STATUS_LINE,
        )
        try:
            headers = [
                f"POST {t.target} HTTP/1.1",
                f"Host: {t.host_header}",
                "User-Agent: streamwright-router",
                "Content-Type: application/json",
                "Accept: */*",
                f"Content-Length: {len(body)}",
                "Connection: close",
            ]
            if self._secret is not None:
                headers.append(f"{SIGNATURE_HEADER}: {signature(self._secret, body)}")
            writer.write(("\r\n".join(headers) + "\r\n\r\n").encode("ascii") + body)
            await writer.drain()
            try:
                line = await reader.readline()
            except ValueError:  # longer than the stream's limit
                raise _Failed("the answer's status line is too long", retry=False) from None
            return _status(line)
        finally:
            writer.transport.abort()

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


def _status(line: bytes) -> int:
    if not line:
        raise _Failed("connection closed without an answer", retry=True)
    parts = line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise _Failed("the answer is not HTTP", retry=False)
    return int(parts[1])


def _describe(error: BaseException) -> str:
    """An error's kind and message; OSError messages name at most the address, never the path."""
    text = getattr(error, "strerror", None) or str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class NoNotifier:
    async def notify(self, kind: str, view: RunView, domain: str) -> None:
        return None

    async def aclose(self, grace: float | None = None) -> None:
        return None
