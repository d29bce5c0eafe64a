"""Traces of the mesh: OpenTelemetry SDK spans, W3C trace context on every hop, OTLP/HTTP export.

    tracing = ServiceTracing.from_environment("generator")  # off unless OTEL_* asks for an exporter
    with tracing.span("process sw.request.accepted", kind=SpanKind.CONSUMER, context=parent):
        ...                                                 # spans opened in here are its children

The spans (docs/operations.md, "Tracing"):

- Kafka: `send <event type>` (PRODUCER) for each publish (kafka.Publisher) and `process <event
  type>` (CONSUMER) for each record a service consumes (consumer.RecordProcessor), a child of
  the send that produced the record;
- run phases: `phase <name>` (INTERNAL) around the handler attempt that does one phase of a run
  (run_phases.py: ingest, generate, validate, gate, knowledge, start), under its `process` span;
- gRPC: `<package.Service>/<Method>` SERVER spans (grpc_server.py; health checks and reflection
  are not traced) and CLIENT spans for the calls a service makes while it handles something
  (grpc_client.py);
- the CLI: `streamwright submit` / `run` (INTERNAL, service streamwright-cli) as the root of the
  run's trace, its calls CLIENT spans under it (cli_tracing.py).

Context travels as W3C trace context: `traceparent` and `tracestate` in every Kafka record's
headers and in gRPC metadata. The envelope's own `traceparent` field carries it too, so an
event keeps its place in its run's trace wherever its bytes go (dead letters, the router's run
record); a consumer takes the record's headers first, the envelope's field when they have none.
One run is one trace: it starts where the run starts (the SubmitRequest call, or the send of
RequestSubmitted) and every event of the run stays in it, including events the router makes
outside a handler (a timeout) and after a review call (which is its own trace, linked).

Configuration: only the standard OTEL_* variables. Tracing is off (the API's no-op tracer: no
span is recorded, nothing is added to headers or logs) unless an exporter is asked for:
OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT set, or OTEL_TRACES_EXPORTER
naming `otlp` or `console`; OTEL_SDK_DISABLED=true turns it off whatever else is set. The OTLP
exporter speaks HTTP with protobuf bodies (`http/protobuf`, the collector's port 4318) and
reads its own variables (headers, timeout, compression, certificates); the sampler comes from
OTEL_TRACES_SAMPLER(_ARG), the batching from OTEL_BSP_*, extra resource attributes from
OTEL_RESOURCE_ATTRIBUTES. STREAMWRIGHT_OTLP_ENDPOINT is no longer read (a warning says so).

Each service has its own TracerProvider, whose resource names it (service.name =
streamwright-<service> unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES says otherwise,
service.version, service.namespace = streamwright), so five services in one process (tests)
keep their names; a service process also installs its provider as the global one. Those two
variables name one process: `streamwright up` takes a service name out of its children's
environment (`without_service_name`), so its five processes never share one.

Nothing here may block or fail a handler: the SDK's BatchSpanProcessor exports from its own
thread; a full queue drops spans, an unreachable collector loses the batch.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from typing import IO, TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import INVALID_SPAN, Link, Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from services.mesh.logging import get_logger
from services.mesh.settings import SettingsError
from services.version import package_version

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.sdk.trace.sampling import Sampler

    from services.mesh.events import Envelope

__all__ = [
    "INVALID_SPAN",
    "AttributeValue",
    "Link",
    "ServiceTracing",
    "Span",
    "SpanKind",
    "Status",
    "StatusCode",
    "active_tracing",
    "envelope_attributes",
    "exporters_from_environment",
    "extract",
    "inject",
    "publish_parent",
    "root_context",
    "without_service_name",
]

SCOPE = "streamwright.mesh"
SERVICE_NAME_PREFIX = "streamwright-"
TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
LEGACY_ENDPOINT_ENV = "STREAMWRIGHT_OTLP_ENDPOINT"
OTLP_PROTOCOL = "http/protobuf"  # the one exporter installed: opentelemetry-exporter-otlp-proto-http
EXPORTERS = ("otlp", "console")
FLUSH_TIMEOUT_S = 5.0
SERVICE_NAME_ENV = "OTEL_SERVICE_NAME"
RESOURCE_ATTRIBUTES_ENV = "OTEL_RESOURCE_ATTRIBUTES"
_TIMEOUT_ENV = ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT")

Attributes = Mapping[str, AttributeValue]

log = get_logger(__name__)

_PROPAGATOR = TraceContextTextMapPropagator()
# The service whose span is current: gRPC client calls made inside it are traced by its tracer.
_active: contextvars.ContextVar[ServiceTracing | None] = contextvars.ContextVar(
    "streamwright_tracing", default=None
)
_legacy_warned = False


def exporters_from_environment(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The span exporters the OTEL_* variables ask for ("otlp", "console"); () means tracing is off.

    Raises SettingsError (naming the variable) for an exporter or OTLP protocol this build does
    not have, so a service refuses to start rather than run without the traces it was asked for.
    """
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return ()
    raw = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if raw:
        names = tuple(dict.fromkeys(name.strip() for name in raw.split(",") if name.strip()))
        unknown = [name for name in names if name not in (*EXPORTERS, "none")]
        if unknown:
            raise SettingsError(
                f"OTEL_TRACES_EXPORTER={raw!r}: {', '.join(unknown)} is not available here;"
                " use otlp (OTLP over HTTP), console or none"
            )
        names = tuple(name for name in names if name != "none")
    else:
        endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        names = ("otlp",) if endpoint and endpoint.strip() else ()
    if "otlp" in names:
        for variable in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
            protocol = env.get(variable, "").strip().lower()
            if protocol:
                if protocol != OTLP_PROTOCOL:
                    raise SettingsError(
                        f"{variable}={protocol!r}: traces are exported as OTLP over HTTP only"
                        f" ({OTLP_PROTOCOL}; a collector listens for it on port 4318)"
                    )
                break
    return names


def _warn_legacy_endpoint() -> None:
    global _legacy_warned  # noqa: PLW0603 - one warning per process, not one per service
    if os.environ.get(LEGACY_ENDPOINT_ENV) and not _legacy_warned:
        _legacy_warned = True
        log.warning(
            f"{LEGACY_ENDPOINT_ENV} is no longer read: set OTEL_EXPORTER_OTLP_ENDPOINT (the same base"
            " URL; spans now go to <it>/v1/traces as OTLP/HTTP protobuf)",
            value=os.environ[LEGACY_ENDPOINT_ENV],
        )


def without_service_name(environ: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """A copy of `environ` naming no service, and what was taken out (`NAME=value`, for a warning).

    OTEL_SERVICE_NAME goes; so does the `service.name=` entry of OTEL_RESOURCE_ATTRIBUTES (its
    other attributes stay, as written). For an environment several services start from
    (`streamwright up`): each then reports as streamwright-<service>.
    """
    env = dict(environ)
    removed: list[str] = []
    name = env.pop(SERVICE_NAME_ENV, None)
    if name and name.strip():
        removed.append(f"{SERVICE_NAME_ENV}={name}")
    attributes = env.get(RESOURCE_ATTRIBUTES_ENV)
    if attributes is not None:
        # The SDK's reading (OTELResourceDetector): comma-separated key=value, keys stripped.
        items = attributes.split(",")
        kept = [item for item in items if item.partition("=")[0].strip() != "service.name"]
        if len(kept) < len(items):
            removed.extend(f"{RESOURCE_ATTRIBUTES_ENV} {item.strip()}" for item in items if item not in kept)
            if any(item.strip() for item in kept):
                env[RESOURCE_ATTRIBUTES_ENV] = ",".join(kept)
            else:
                del env[RESOURCE_ATTRIBUTES_ENV]
    return env, removed


def _resource(service: str) -> Resource:
    """The service's resource: our names, overridden by OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES."""
    from opentelemetry.sdk.resources import OTELResourceDetector, Resource

    ours: dict[str, AttributeValue] = {
        "service.name": SERVICE_NAME_PREFIX + service,
        "service.namespace": "streamwright",
        "service.version": package_version(),
    }
    return Resource.create({**ours, **OTELResourceDetector().detect().attributes})


def _provider(service: str, processors: Sequence[SpanProcessor], sampler: Sampler | None) -> TracerProvider:
    from opentelemetry.sdk.trace import TracerProvider

    provider = TracerProvider(
        resource=_resource(service), sampler=sampler
    )  # sampler None: OTEL_TRACES_SAMPLER
    for processor in processors:
        provider.add_span_processor(processor)
    return provider


class ServiceTracing:
    """One service's tracer, on its own TracerProvider; a no-op when tracing is off."""

    def __init__(self, service: str, provider: TracerProvider | None = None) -> None:
        self.service = service
        self.provider = provider
        self.tracer: trace.Tracer = (
            provider.get_tracer(SCOPE, package_version()) if provider is not None else trace.NoOpTracer()
        )

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    @classmethod
    def disabled(cls, service: str = "") -> ServiceTracing:
        return cls(service)

    @classmethod
    def from_environment(
        cls,
        service: str,
        *,
        export_timeout_s: float | None = None,
        console_out: IO[str] | None = None,
        legacy_warning: bool = True,
    ) -> ServiceTracing:
        """What the OTEL_* variables ask for (see the module's doc); SettingsError when they cannot work.

        For a short-lived command (the CLI): `export_timeout_s` bounds each OTLP export, retries
        included, unless OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT says otherwise (the SDK's default,
        10 s, is what a dead collector would add to the command's exit); `console_out` takes the
        console exporter's spans (default stdout); `legacy_warning=False` leaves the warning about
        STREAMWRIGHT_OTLP_ENDPOINT to the services (a structlog line the CLI would print on stdout).
        """
        if legacy_warning:
            _warn_legacy_endpoint()
        names = exporters_from_environment()
        if not names:
            return cls(service)
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

        exporters: list[SpanExporter] = []
        for name in names:
            if name == "otlp":
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

                timeout = (
                    None if any(os.environ.get(v, "").strip() for v in _TIMEOUT_ENV) else export_timeout_s
                )
                # endpoint, headers, TLS, timeout: OTEL_EXPORTER_OTLP_*
                exporters.append(OTLPSpanExporter(timeout=timeout))
            elif console_out is not None:
                exporters.append(
                    ConsoleSpanExporter(service_name=SERVICE_NAME_PREFIX + service, out=console_out)
                )
            else:
                exporters.append(ConsoleSpanExporter(service_name=SERVICE_NAME_PREFIX + service))
        return cls(service, _provider(service, [BatchSpanProcessor(e) for e in exporters], None))

    @classmethod
    def with_exporter(
        cls, service: str, exporter: SpanExporter, *, batch: bool = False, sampler: Sampler | None = None
    ) -> ServiceTracing:
        """Spans of `service` go to `exporter` (tests: an InMemorySpanExporter), as each span ends
        unless `batch`. The resource is the one a service process gets."""
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

        processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
        return cls(service, _provider(service, [processor], sampler))

    def install_global(self) -> None:
        """Make this the process's global provider (a service process: one service)."""
        if self.provider is not None:
            trace.set_tracer_provider(self.provider)

    @contextlib.contextmanager
    def span(
        self,
        name: str,
        *,
        kind: SpanKind = SpanKind.INTERNAL,
        context: Context | None = None,
        attributes: Attributes | None = None,
        links: Sequence[Link] = (),
        record_errors: bool = True,
    ) -> Iterator[Span]:
        """A span around the block, current inside it; INVALID_SPAN (records nothing) when off.

        `context`: the parent (None: the current span, else a new trace). With `record_errors`,
        an exception leaving the block is recorded on the span and sets its status to ERROR.
        """
        if self.provider is None:
            yield INVALID_SPAN
            return
        token = _active.set(self)
        try:
            with self.tracer.start_as_current_span(
                name,
                context=context,
                kind=kind,
                attributes=attributes,
                links=links,
                record_exception=record_errors,
                set_status_on_exception=record_errors,
            ) as span:
                yield span
        finally:
            # A generator closed from another context (never in the mesh) cannot reset it.
            with contextlib.suppress(ValueError):
                _active.reset(token)

    def flush(self, timeout_s: float = FLUSH_TIMEOUT_S) -> bool:
        """Export every span ended so far (blocking, up to `timeout_s`); True when all went out."""
        if self.provider is None:
            return True
        return bool(self.provider.force_flush(int(timeout_s * 1000)))

    def shutdown(self) -> None:
        """Flush and stop the exporters (blocking); the tracer records nothing afterwards."""
        if self.provider is not None:
            self.provider.shutdown()


def active_tracing() -> ServiceTracing | None:
    """The tracing of the service whose span is current (opened by `ServiceTracing.span`), if any."""
    return _active.get()


def inject(carrier: MutableMapping[str, str]) -> None:
    """Write the current span's W3C trace context (`traceparent`, `tracestate`) into `carrier`."""
    _PROPAGATOR.inject(carrier)


def _valid(context: Context) -> bool:
    return trace.get_current_span(context).get_span_context().is_valid


def extract(carrier: Mapping[str, str], *, traceparent: str | None = None) -> Context | None:
    """The remote parent in `carrier`'s W3C headers, else in `traceparent` (an envelope's field);
    None when neither holds a valid one."""
    if carrier.get(TRACEPARENT):
        found = _PROPAGATOR.extract(carrier, context=Context())
        if _valid(found):
            return found
    if traceparent:
        found = _PROPAGATOR.extract({TRACEPARENT: traceparent}, context=Context())
        if _valid(found):
            return found
    return None


def root_context() -> Context:
    """An empty context: a span started under it begins a new trace."""
    return Context()


def publish_parent(traceparent: str | None) -> tuple[Context | None, list[Link]]:
    """The parent of a send span, and its links.

    The current span when the event belongs to its trace or has no traceparent (a handler
    publishing what it caused); else the event's own traceparent, so the event stays in its
    run's trace, linked to the current span (the router answering a review call publishes for
    a run that started elsewhere); with neither, a new trace.
    """
    current = trace.get_current_span().get_span_context()
    own = extract({}, traceparent=traceparent)
    if own is None:
        return (None, []) if current.is_valid else (root_context(), [])
    own_trace = trace.get_current_span(own).get_span_context().trace_id
    if current.is_valid and current.trace_id == own_trace:
        return None, []
    return own, ([Link(current)] if current.is_valid else [])


def envelope_attributes(envelope: Envelope) -> dict[str, AttributeValue]:
    """What every span about an event says of it: its id, type and run."""
    return {
        "messaging.message.id": envelope.event_id,
        "streamwright.event_type": envelope.event_type,
        "streamwright.run_id": envelope.run_id,
        "streamwright.request_id": envelope.request_id,
        "streamwright.domain": envelope.domain,
    }
