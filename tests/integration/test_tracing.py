"""Tracing with the OpenTelemetry SDK, without a broker: spans, W3C context, logs, gRPC, OTLP export.

The consumer runtime (RecordProcessor), the Publisher, the Avro codec, the SQLite store and the
gRPC server and client are the real ones; Kafka is replaced by a recorder of published records,
spans go to the SDK's InMemorySpanExporter, and the OTLP export goes to a stand-in collector (a
local http.server that decodes the protobuf bodies with opentelemetry-proto). Seconds in all.
The whole mesh, one run across the five services: test_tracing_mesh.py.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from services.mesh.avro import EventCodec, codec_from_settings
from services.mesh.consumer import Outcome, Record, RecordProcessor
from services.mesh.events import Envelope, Event, RequestAccepted, RequestSubmitted, Source
from services.mesh.grpc_client import open_channel
from services.mesh.grpc_server import create_server
from services.mesh.kafka import Publisher
from services.mesh.logging import configure_logging, get_logger
from services.mesh.rpc.streamwright.v1 import ingest_pb2, ingest_pb2_grpc, router_pb2, router_pb2_grpc
from services.mesh.settings import MeshSettings, SettingsError
from services.mesh.store import open_store
from services.mesh.tracing import ServiceTracing, exporters_from_environment
from services.version import package_version

pytestmark = pytest.mark.integration

OTEL_VARIABLES = (
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "STREAMWRIGHT_OTLP_ENDPOINT",
)


@pytest.fixture(autouse=True)
def clean_otel_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


class RecordingBroker:
    """Takes the place of the service's Kafka clients: keeps what is produced, headers included."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []

    async def produce(self, topic: str, value: bytes, *, headers: Mapping[str, str], **_: Any) -> None:
        self.sent.append((topic, value, dict(headers)))


def _submitted(traceparent: str | None = None) -> RequestSubmitted:
    return RequestSubmitted(
        envelope=Envelope.new(
            event_type=RequestSubmitted.EVENT_TYPE,
            producer="ingest",
            run_id="run-trace-1",
            request_id="req-trace-1",
            domain="orders",
            traceparent=traceparent,
        ),
        document="# doc",
        source=Source.CLI,
    )


def _accepted(cause: Event) -> RequestAccepted:
    return RequestAccepted(
        envelope=Envelope.caused_by(cause, event_type=RequestAccepted.EVENT_TYPE, producer="ingest"),
        revision=1,
        content_hash="h",
        spec_version="3",
        spec_json="{}",
    )


async def _one_hop(
    settings: MeshSettings, tracing: ServiceTracing, codec: EventCodec, *, strip_headers: bool = False
) -> tuple[RecordingBroker, list[str]]:
    """Publish a RequestSubmitted and let "ingest" handle it: its handler publishes a RequestAccepted.

    Returns the broker and the log lines the handler wrote.
    """
    broker = RecordingBroker()
    publisher = Publisher(broker, codec, service="ingest", tracing=tracing)  # type: ignore[arg-type]
    logs = io.StringIO()
    configure_logging(settings.model_copy(update={"log_format": "json"}), service="ingest", stream=logs)

    async def handler(event: Event) -> None:
        get_logger("test").info("handling")
        await publisher.publish(_accepted(event))

    store = open_store(settings, "ingest")
    processor = RecordProcessor(
        handler,
        group_id="ingest.g",
        service="ingest",
        store=store,
        codec=codec,
        publisher=publisher,
        settings=settings,
        tracing=tracing,
    )
    try:
        await publisher.publish(_submitted())
        topic, value, headers = broker.sent[0]
        record = Record(
            topic=topic,
            partition=0,
            offset=0,
            value=value,
            key=b"orders",
            headers={} if strip_headers else headers,
        )
        assert await processor.process(record) is Outcome.HANDLED
    finally:
        await store.close()
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    return broker, [line for line in lines if line.get("event") == "handling"]


def _by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, ReadableSpan]:
    named = {span.name: span for span in spans}
    assert len(named) == len(spans), [span.name for span in spans]
    return named


def _hex(value: int, digits: int) -> str:
    return format(value, f"0{digits}x")


def _traceparent(span: ReadableSpan) -> str:
    ctx = span.get_span_context()
    assert ctx is not None
    return f"00-{_hex(ctx.trace_id, 32)}-{_hex(ctx.span_id, 16)}-{_hex(ctx.trace_flags, 2)}"


async def test_the_trace_context_goes_from_send_to_process_to_send(tmp_path: Path) -> None:
    """send -> process -> phase -> send, one trace; the context in the headers and the envelope; logs."""
    exporter = InMemorySpanExporter()
    tracing = ServiceTracing.with_exporter("ingest", exporter)
    settings = MeshSettings(home=tmp_path)
    codec = codec_from_settings(settings)
    broker, handler_logs = await _one_hop(settings, tracing, codec)

    spans = _by_name(exporter.get_finished_spans())
    assert set(spans) == {
        "send sw.request.submitted",
        "process sw.request.submitted",
        "phase ingest",
        "send sw.request.accepted",
    }
    send1, process, phase, send2 = (
        spans["send sw.request.submitted"],
        spans["process sw.request.submitted"],
        spans["phase ingest"],
        spans["send sw.request.accepted"],
    )
    assert len({span.context.trace_id for span in spans.values()}) == 1
    assert send1.parent is None  # nothing current: the run's trace starts at its first send
    assert process.parent is not None and process.parent.span_id == send1.context.span_id
    assert process.parent.is_remote  # it came through the record's headers
    assert phase.parent is not None and phase.parent.span_id == process.context.span_id
    assert send2.parent is not None and send2.parent.span_id == phase.context.span_id
    assert (send1.kind, process.kind, phase.kind, send2.kind) == (
        SpanKind.PRODUCER,
        SpanKind.CONSUMER,
        SpanKind.INTERNAL,
        SpanKind.PRODUCER,
    )
    assert process.attributes is not None and phase.attributes is not None
    assert process.attributes["messaging.destination.name"] == "sw.request.submitted"
    assert process.attributes["messaging.consumer.group.name"] == "ingest.g"
    assert process.attributes["streamwright.run_id"] == "run-trace-1"
    assert process.attributes["streamwright.outcome"] == "handled"
    assert phase.attributes["streamwright.phase"] == "ingest"
    assert phase.attributes["streamwright.request_id"] == "req-trace-1"
    assert send1.resource.attributes["service.name"] == "streamwright-ingest"
    assert send1.resource.attributes["service.version"] == package_version()

    # Each record names the send that produced it: in its headers and in its envelope.
    for (_, value, headers), send in zip(broker.sent, (send1, send2), strict=True):
        assert headers["traceparent"] == _traceparent(send)
        assert codec.decode(value).envelope.traceparent == _traceparent(send)
    # The handler's log line carries the phase span's ids.
    [line] = handler_logs
    assert line["trace_id"] == _hex(phase.context.trace_id, 32)
    assert line["span_id"] == _hex(phase.context.span_id, 16)


async def test_a_record_without_trace_headers_continues_the_envelope_trace(tmp_path: Path) -> None:
    """Records from producers that set no headers: the envelope's traceparent is the parent."""
    exporter = InMemorySpanExporter()
    tracing = ServiceTracing.with_exporter("ingest", exporter)
    settings = MeshSettings(home=tmp_path)
    await _one_hop(settings, tracing, codec_from_settings(settings), strip_headers=True)
    spans = _by_name(exporter.get_finished_spans())
    send1, process = spans["send sw.request.submitted"], spans["process sw.request.submitted"]
    assert process.parent is not None and process.parent.span_id == send1.context.span_id
    assert process.context.trace_id == send1.context.trace_id


async def test_tracing_off_records_nothing_and_changes_nothing(tmp_path: Path) -> None:
    """No OTEL_* exporter: the no-op tracer; no trace headers, no envelope traceparent, no log ids."""
    tracing = ServiceTracing.from_environment("ingest")
    assert not tracing.enabled and tracing.flush(1.0)
    settings = MeshSettings(home=tmp_path)
    codec = codec_from_settings(settings)
    broker, handler_logs = await _one_hop(settings, tracing, codec)
    for _, value, headers in broker.sent:
        assert set(headers) == {"event_type", "event_id"}
        assert codec.decode(value).envelope.traceparent is None
    [line] = handler_logs
    assert "trace_id" not in line and "span_id" not in line


async def test_an_event_of_another_run_stays_in_its_own_trace_linked_to_the_current_span() -> None:
    """Published inside a span of another trace (the router serving a review call): parent = the
    event's traceparent, with a link to the span it was published from."""
    exporter = InMemorySpanExporter()
    tracing = ServiceTracing.with_exporter("router", exporter)
    run_trace = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"
    broker = RecordingBroker()
    publisher = Publisher(broker, codec_from_settings(MeshSettings()), service="router", tracing=tracing)  # type: ignore[arg-type]
    with tracing.span("streamwright.v1.RouterService/Review", kind=SpanKind.SERVER) as review:
        await publisher.publish(_submitted(traceparent=run_trace))
    send = _by_name(exporter.get_finished_spans())["send sw.request.submitted"]
    assert _hex(send.context.trace_id, 32) == "ab" * 16
    assert send.parent is not None and _hex(send.parent.span_id, 16) == "cd" * 8
    assert [link.context.span_id for link in send.links] == [review.get_span_context().span_id]


async def test_a_dead_lettered_record_is_an_error_span(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    tracing = ServiceTracing.with_exporter("generator", exporter)
    settings = MeshSettings(home=tmp_path, handler_retries=1, retry_backoff_ms=0)
    codec = codec_from_settings(settings)
    broker = RecordingBroker()
    publisher = Publisher(broker, codec, service="generator", tracing=tracing)  # type: ignore[arg-type]

    async def failing(event: Event) -> None:
        raise RuntimeError("boom")

    store = open_store(settings, "generator")
    processor = RecordProcessor(
        failing,
        group_id="generator.g",
        service="generator",
        store=store,
        codec=codec,
        publisher=publisher,
        settings=settings,
        tracing=tracing,
    )
    try:
        accepted = _accepted(_submitted())
        record = Record(topic="sw.request.accepted", partition=0, offset=3, value=codec.encode(accepted))
        assert await processor.process(record) is Outcome.DEAD_LETTERED
    finally:
        await store.close()
    spans = exporter.get_finished_spans()
    [process] = [s for s in spans if s.name == "process sw.request.accepted"]
    assert process.status.status_code is StatusCode.ERROR
    assert [e.attributes["streamwright.handler_attempt"] for e in process.events if e.attributes] == [1, 2]
    phases = [s for s in spans if s.name == "phase generate"]  # one per attempt, each failed
    assert len(phases) == 2 and all(s.status.status_code is StatusCode.ERROR for s in phases)
    [notice] = [s for s in spans if s.name == "send sw.mesh.dead-lettered"]
    assert notice.parent is not None and notice.parent.span_id == process.context.span_id


# --- gRPC ------------------------------------------------------------------------------------


class FakeIngest(ingest_pb2_grpc.IngestServiceServicer):
    async def GetRequest(self, request: ingest_pb2.GetRequestRequest, context: Any) -> ingest_pb2.Request:
        if request.request_id == "missing":
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such request")
        if request.request_id == "broken":
            raise RuntimeError("broken handler")
        get_logger("test").info("serving")
        return ingest_pb2.Request(request_id=request.request_id)


async def test_grpc_calls_are_client_and_server_spans_with_the_context_in_metadata(tmp_path: Path) -> None:
    """A call made inside a generator span: CLIENT span (generator) -> SERVER span (ingest), one trace;
    status codes recorded; only server failures are errors; health checks and refused calls untraced."""
    client_spans, server_spans = InMemorySpanExporter(), InMemorySpanExporter()
    generator = ServiceTracing.with_exporter("generator", client_spans)
    ingest = ServiceTracing.with_exporter("ingest", server_spans)
    settings = MeshSettings(home=tmp_path, grpc_token="t0ken")  # auth on
    server, port = create_server(
        [(ingest_pb2_grpc.add_IngestServiceServicer_to_server, FakeIngest())],
        settings=settings,
        service_names=["streamwright.v1.IngestService"],
        tracing=ingest,
    )
    await server.start()
    target = f"127.0.0.1:{port}"
    codes: dict[str, grpc.StatusCode] = {}
    try:
        async with open_channel(target, settings) as channel:
            stub = ingest_pb2_grpc.IngestServiceStub(channel)  # type: ignore[no-untyped-call]
            with generator.span("phase generate"):
                for request_id in ("r-1", "missing", "broken"):
                    try:
                        await stub.GetRequest(ingest_pb2.GetRequestRequest(request_id=request_id), timeout=5)
                        codes[request_id] = grpc.StatusCode.OK
                    except grpc.aio.AioRpcError as error:
                        codes[request_id] = error.code()
        # Refused by auth (no token): no span. Outside any span: no client span either.
        no_token = settings.model_copy(update={"grpc_auth": "off", "grpc_token": None})
        async with open_channel(target, no_token) as bare:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await ingest_pb2_grpc.IngestServiceStub(bare).GetRequest(  # type: ignore[no-untyped-call]
                    ingest_pb2.GetRequestRequest(request_id="r-2"), timeout=5
                )
            assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
    finally:
        await server.stop(None)
    assert codes == {
        "r-1": grpc.StatusCode.OK,
        "missing": grpc.StatusCode.NOT_FOUND,
        "broken": grpc.StatusCode.UNKNOWN,
    }

    clients = [s for s in client_spans.get_finished_spans() if s.kind is SpanKind.CLIENT]
    servers = list(server_spans.get_finished_spans())
    assert [s.name for s in clients] == ["streamwright.v1.IngestService/GetRequest"] * 3
    assert [s.name for s in servers] == [
        "streamwright.v1.IngestService/GetRequest"
    ] * 3  # no health, no refused
    for client, served in zip(clients, servers, strict=True):
        assert served.kind is SpanKind.SERVER
        assert served.parent is not None and served.parent.span_id == client.context.span_id
        assert served.context.trace_id == client.context.trace_id
        assert served.resource.attributes["service.name"] == "streamwright-ingest"
        assert client.resource.attributes["service.name"] == "streamwright-generator"
    statuses = [
        (s.attributes["rpc.grpc.status_code"] if s.attributes else None, s.status.status_code)
        for s in servers
    ]
    # NOT_FOUND is the caller's problem (OpenTelemetry's RPC conventions); UNKNOWN is the server's.
    assert statuses == [(0, StatusCode.UNSET), (5, StatusCode.UNSET), (2, StatusCode.ERROR)]
    assert [s.status.status_code for s in clients] == [StatusCode.UNSET, StatusCode.ERROR, StatusCode.ERROR]


class FakeRouter(router_pb2_grpc.RouterServiceServicer):
    async def WatchRun(
        self, request: router_pb2.WatchRunRequest, context: Any
    ) -> AsyncIterator[router_pb2.RunUpdate]:
        for state in ("GENERATING", "RUNNING"):
            yield router_pb2.RunUpdate(run=router_pb2.Run(run_id=request.run_id, state_name=state))


async def test_a_server_stream_is_one_span_that_ends_with_the_stream(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    router = ServiceTracing.with_exporter("router", exporter)
    settings = MeshSettings(home=tmp_path, grpc_auth="off")
    server, port = create_server(
        [(router_pb2_grpc.add_RouterServiceServicer_to_server, FakeRouter())],
        settings=settings,
        service_names=["streamwright.v1.RouterService"],
        tracing=router,
    )
    await server.start()
    try:
        async with open_channel(f"127.0.0.1:{port}", settings) as channel:
            stub = router_pb2_grpc.RouterServiceStub(channel)  # type: ignore[no-untyped-call]
            states = [u.run.state_name async for u in stub.WatchRun(router_pb2.WatchRunRequest(run_id="r-1"))]
    finally:
        await server.stop(None)
    assert states == ["GENERATING", "RUNNING"]
    [span] = exporter.get_finished_spans()
    assert (span.name, span.kind) == ("streamwright.v1.RouterService/WatchRun", SpanKind.SERVER)
    assert (
        span.parent is None and span.attributes is not None and span.attributes["rpc.grpc.status_code"] == 0
    )


# --- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, ()),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ("otlp",)),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, ("otlp",)),
        ({"OTEL_TRACES_EXPORTER": "console"}, ("console",)),
        ({"OTEL_TRACES_EXPORTER": "otlp,console"}, ("otlp", "console")),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, ()),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, ()),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
            ("otlp",),
        ),
        ({"STREAMWRIGHT_OTLP_ENDPOINT": "http://c:4318"}, ()),  # no longer read
    ],
)
def test_which_exporters_the_environment_asks_for(environ: dict[str, str], expected: tuple[str, ...]) -> None:
    assert exporters_from_environment(environ) == expected


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"},
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        ),
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER"),
    ],
)
def test_an_exporter_this_build_lacks_is_a_settings_error(environ: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        exporters_from_environment(environ)


def test_the_resource_names_the_service_unless_otel_variables_do(monkeypatch: pytest.MonkeyPatch) -> None:
    exporter = InMemorySpanExporter()
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=staging")
    named = ServiceTracing.with_exporter("router", exporter).provider
    assert named is not None
    assert named.resource.attributes["service.name"] == "streamwright-router"
    assert named.resource.attributes["service.namespace"] == "streamwright"
    assert named.resource.attributes["deployment.environment"] == "staging"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "router-eu-1")
    renamed = ServiceTracing.with_exporter("router", exporter).provider
    assert renamed is not None and renamed.resource.attributes["service.name"] == "router-eu-1"


def test_the_sampler_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    exporter = InMemorySpanExporter()
    tracing = ServiceTracing.with_exporter("ingest", exporter)
    with tracing.span("work") as span:
        assert not span.is_recording()
    assert exporter.get_finished_spans() == ()


# --- OTLP export -------------------------------------------------------------------------------


class StandInCollector:
    """A stand-in OTLP/HTTP collector: decodes the protobuf ExportTraceServiceRequest bodies."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, ExportTraceServiceRequest]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                collector.requests.append((self.path, self.headers.get("Content-Type", ""), request))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def spans(self) -> list[tuple[str, Any]]:
        """(service.name, span) of every span received."""
        found = []
        for _, _, request in self.requests:
            for resource_spans in request.resource_spans:
                names = [
                    a.value.string_value
                    for a in resource_spans.resource.attributes
                    if a.key == "service.name"
                ]
                for scope in resource_spans.scope_spans:
                    found.extend((names[0], span) for span in scope.spans)
        return found


@pytest.fixture
def collector() -> Iterator[StandInCollector]:
    stand_in = StandInCollector()
    stand_in.thread.start()
    try:
        yield stand_in
    finally:
        stand_in.server.shutdown()
        stand_in.server.server_close()


def test_spans_are_exported_as_otlp_http_protobuf_to_the_configured_endpoint(
    collector: StandInCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint)
    tracing = ServiceTracing.from_environment("validator")
    assert tracing.enabled
    try:
        with tracing.span("phase validate", attributes={"streamwright.run_id": "r-1"}), tracing.span("inner"):
            pass
        assert tracing.flush(5.0)
    finally:
        tracing.shutdown()
    assert {(path, kind) for path, kind, _ in collector.requests} == {
        ("/v1/traces", "application/x-protobuf")
    }
    spans = {span.name: (service, span) for service, span in collector.spans()}
    assert set(spans) == {"phase validate", "inner"}
    (service, outer), (_, inner) = spans["phase validate"], spans["inner"]
    assert service == "streamwright-validator"
    assert inner.parent_span_id == outer.span_id and inner.trace_id == outer.trace_id
    assert {a.key: a.value.string_value for a in outer.attributes} == {"streamwright.run_id": "r-1"}


def test_a_dead_collector_never_fails_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing listens on port 9: the export fails on the exporter's thread, the spans are lost.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
    tracing = ServiceTracing.from_environment("ingest")
    try:
        for _ in range(5):
            with tracing.span("work") as span:
                assert span.is_recording()
        tracing.flush(3.0)
    finally:
        tracing.shutdown()


def test_the_legacy_variable_is_named_in_a_warning(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import services.mesh.tracing as tracing_module

    monkeypatch.setattr(tracing_module, "_legacy_warned", False)
    monkeypatch.setenv("STREAMWRIGHT_OTLP_ENDPOINT", "http://collector:4318")
    logs = io.StringIO()
    configure_logging(MeshSettings(home=tmp_path, log_format="json"), service="ingest", stream=logs)
    assert not ServiceTracing.from_environment("ingest").enabled
    [line] = [json.loads(text) for text in logs.getvalue().splitlines()]
    assert line["level"] == "warning" and "OTEL_EXPORTER_OTLP_ENDPOINT" in line["event"]


def test_log_lines_outside_a_span_carry_no_trace_ids(tmp_path: Path) -> None:
    logs = io.StringIO()
    configure_logging(MeshSettings(home=tmp_path, log_format="json"), service="ingest", stream=logs)
    tracing = ServiceTracing.with_exporter("ingest", InMemorySpanExporter())
    get_logger("test").info("before")
    with tracing.span("work") as span:
        import logging

        logging.getLogger("some.library").warning("inside")  # the standard library's loggers too
    lines = {line["event"]: line for line in map(json.loads, logs.getvalue().splitlines())}
    assert "trace_id" not in lines["before"]
    assert lines["inside"]["trace_id"] == _hex(span.get_span_context().trace_id, 32)
    assert trace.get_current_span() is trace.INVALID_SPAN
