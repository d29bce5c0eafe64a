"""Spans for handler runs and publishes, exported as OTLP/HTTP JSON when an endpoint is set.

No OpenTelemetry SDK: a span is a small record, finished spans go to a bounded queue, and one
daemon thread per tracer posts them in batches to `<otlp_endpoint>/v1/traces` as the OTLP
JSON encoding of ExportTraceServiceRequest (ids hex-encoded, times as decimal strings).

    tracer = tracer_for(settings, "generator")     # a no-op unless settings.otlp_endpoint is set
    with tracer.span("handle sw.request.accepted", parent=envelope.traceparent, kind=SpanKind.CONSUMER):
        ...                                        # spans opened in here are its children

Context: the current span is a contextvar, so a publish inside a handler is the handler span's
child; the W3C traceparent of the envelope carries the context from one service to the next.
Nothing here may block or fail a handler: a full queue drops the span (counted in `dropped`),
an unreachable collector loses the batch.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import enum
import json
import queue
import re
import secrets
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version

from services.mesh.logging import get_logger
from services.mesh.settings import MeshSettings

SCOPE = "streamwright.mesh"
MAX_QUEUE = 2048
MAX_BATCH = 256
FLUSH_INTERVAL_S = 1.0
EXPORT_TIMEOUT_S = 3.0
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_INVALID_TRACE = "0" * 32
_INVALID_SPAN = "0" * 16

AttrValue = str | int | float | bool

log = get_logger(__name__)


class SpanKind(enum.IntEnum):
    """OTLP Span.SpanKind."""

    INTERNAL = 1
    SERVER = 2
    CLIENT = 3
    PRODUCER = 4
    CONSUMER = 5


class StatusCode(enum.IntEnum):
    """OTLP Status.StatusCode."""

    UNSET = 0
    OK = 1
    ERROR = 2


@dataclass(frozen=True)
class SpanContext:
    trace_id: str  # 32 lowercase hex digits
    span_id: str  # 16 lowercase hex digits
    flags: str = "01"

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"


def parse_traceparent(value: str | None) -> SpanContext | None:
    """The context in a W3C traceparent header, or None when absent or invalid."""
    if not value:
        return None
    match = _TRACEPARENT.match(value)
    if match is None or match[1] == "ff" or match[2] == _INVALID_TRACE or match[3] == _INVALID_SPAN:
        return None
    return SpanContext(match[2], match[3], match[4])


@dataclass
class Span:
    name: str
    context: SpanContext
    parent_span_id: str | None
    kind: SpanKind
    start_ns: int
    attributes: dict[str, AttrValue] = field(default_factory=dict)
    end_ns: int = 0
    status: StatusCode = StatusCode.UNSET
    status_message: str = ""

    @property
    def traceparent(self) -> str:
        return self.context.traceparent

    def set_attribute(self, key: str, value: AttrValue) -> None:
        self.attributes[key] = value

    def set_error(self, error: BaseException) -> None:
        self.status = StatusCode.ERROR
        self.status_message = f"{type(error).__name__}: {error}"


_current: contextvars.ContextVar[Span | None] = contextvars.ContextVar("streamwright_span", default=None)


def current_span() -> Span | None:
    """The span opened by the innermost `Tracer.span` block of this task, if any."""
    return _current.get()


class Tracer:
    """Makes spans; with an endpoint, exports them from a background thread. Thread-safe."""

    def __init__(
        self,
        service: str,
        endpoint: str | None,
        *,
        max_queue: int = MAX_QUEUE,
        flush_interval: float = FLUSH_INTERVAL_S,
    ) -> None:
        self.service = service
        self.endpoint = endpoint.rstrip("/") + "/v1/traces" if endpoint else None
        self.dropped = 0
        self.exported = 0
        self.failed_exports = 0
        self._queue: queue.Queue[Span] = queue.Queue(maxsize=max_queue)
        self._flush_interval = flush_interval
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Condition(self._lock)
        self._busy = 0
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return self.endpoint is not None

    @contextlib.contextmanager
    def span(
        self,
        name: str,
        *,
        parent: str | SpanContext | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, AttrValue] | None = None,
    ) -> Iterator[Span | None]:
        """A span around the block; None (and nothing recorded) when the tracer is disabled.

        Parent: the given context (a traceparent string or SpanContext), else the current span,
        else a new trace. An exception leaving the block marks the span as failed and propagates.
        """
        if not self.enabled:
            yield None
            return
        span = self.start_span(name, parent=parent, kind=kind, attributes=attributes)
        token = _current.set(span)
        try:
            yield span
        except BaseException as error:
            span.set_error(error)
            raise
        finally:
            _current.reset(token)
            self.end_span(span)

    def start_span(
        self,
        name: str,
        *,
        parent: str | SpanContext | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, AttrValue] | None = None,
    ) -> Span:
        """A started span (not made current); finish it with `end_span`."""
        ctx = parse_traceparent(parent) if isinstance(parent, str) else parent
        if ctx is None:
            enclosing = current_span()
            ctx = enclosing.context if enclosing is not None else None
        trace_id = ctx.trace_id if ctx is not None else secrets.token_hex(16)
        flags = ctx.flags if ctx is not None else "01"
        return Span(
            name=name,
            context=SpanContext(trace_id, secrets.token_hex(8), flags),
            parent_span_id=ctx.span_id if ctx is not None else None,
            kind=kind,
            start_ns=time.time_ns(),
            attributes=dict(attributes or {}),
        )

    def end_span(self, span: Span) -> None:
        span.end_ns = time.time_ns()
        if not self.enabled:
            return
        try:
            self._queue.put_nowait(span)
        except queue.Full:
            self.dropped += 1  # never block a handler for the sake of a trace
            return
        self._ensure_thread()
        if self._queue.qsize() >= MAX_BATCH:
            self._wake.set()

    def flush(self, timeout: float = 5.0) -> bool:
        """Export what is queued now; True if the queue drained within `timeout` seconds."""
        if not self.enabled:
            return True
        deadline = time.monotonic() + timeout
        self._ensure_thread()
        self._wake.set()
        with self._idle:
            while not (self._queue.empty() and self._busy == 0):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(min(left, 0.05))
                self._wake.set()
        return True

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._export_loop, name=f"otlp-export-{self.service}", daemon=True
                )
                self._thread.start()

    def _export_loop(self) -> None:
        while True:
            self._wake.wait(self._flush_interval)
            self._wake.clear()
            while True:
                with self._lock:
                    batch = _take(self._queue, MAX_BATCH)
                    self._busy += 1 if batch else 0
                if not batch:
                    break
                try:
                    self._export(batch)
                finally:
                    with self._idle:
                        self._busy -= 1
                        self._idle.notify_all()
            with self._idle:
                self._idle.notify_all()

    def _export(self, batch: list[Span]) -> None:
        assert self.endpoint is not None
        body = json.dumps(encode_request(self.service, batch)).encode()
        request = urllib.request.Request(  # noqa: S310 - the operator configures the URL
            self.endpoint, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=EXPORT_TIMEOUT_S) as response:  # noqa: S310
                response.read()
            self.exported += len(batch)
        except Exception as error:  # a collector outage loses spans, never a record
            self.failed_exports += 1
            if self.failed_exports == 1 or self.failed_exports % 100 == 0:
                log.warning("OTLP export failed", endpoint=self.endpoint, error=str(error), spans=len(batch))


def _take(source: queue.Queue[Span], limit: int) -> list[Span]:
    batch: list[Span] = []
    while len(batch) < limit:
        try:
            batch.append(source.get_nowait())
        except queue.Empty:
            break
    return batch


def _any_value(value: AttrValue) -> dict[str, object]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}  # int64 is a decimal string in OTLP JSON
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": value}


def _attributes(values: Mapping[str, AttrValue]) -> list[dict[str, object]]:
    return [{"key": key, "value": _any_value(value)} for key, value in values.items()]


def _scope_version() -> str:
    try:
        return version("streamwright")
    except PackageNotFoundError:
        return "0"


def encode_span(span: Span) -> dict[str, object]:
    encoded: dict[str, object] = {
        "traceId": span.context.trace_id,
        "spanId": span.context.span_id,
        "name": span.name,
        "kind": int(span.kind),
        "startTimeUnixNano": str(span.start_ns),
        "endTimeUnixNano": str(span.end_ns),
        "attributes": _attributes(span.attributes),
        "status": {
            "code": int(span.status),
            **({"message": span.status_message} if span.status_message else {}),
        },
    }
    if span.parent_span_id is not None:
        encoded["parentSpanId"] = span.parent_span_id
    return encoded


def encode_request(service: str, spans: list[Span]) -> dict[str, object]:
    """The OTLP JSON ExportTraceServiceRequest for one service's spans."""
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": _attributes({"service.name": service, "service.namespace": "streamwright"})
                },
                "scopeSpans": [
                    {
                        "scope": {"name": SCOPE, "version": _scope_version()},
                        "spans": [encode_span(span) for span in spans],
                    }
                ],
            }
        ]
    }


_tracers: dict[tuple[str, str | None], Tracer] = {}
_by_service: dict[str, Tracer] = {}
_registry_lock = threading.Lock()


def tracer_for(settings: MeshSettings, service: str) -> Tracer:
    """The process's tracer for `service` under these settings (one per service and endpoint)."""
    key = (service, settings.otlp_endpoint)
    with _registry_lock:
        tracer = _tracers.get(key)
        if tracer is None:
            tracer = _tracers[key] = Tracer(service, settings.otlp_endpoint)
        _by_service[service] = tracer
        return tracer


def registered_tracer(service: str) -> Tracer:
    """The tracer last configured for `service` in this process, else a disabled one."""
    with _registry_lock:
        tracer = _by_service.get(service)
        if tracer is None:
            tracer = _by_service[service] = Tracer(service, None)
        return tracer


@atexit.register
def _flush_all() -> None:
    for tracer in list(_tracers.values()):
        tracer.flush(timeout=1.0)
