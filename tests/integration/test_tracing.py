"""OTLP export of handler and publish spans, against a stand-in collector (a local http.server).

The consumer runtime (RecordProcessor), the Publisher, the Avro codec and the SQLite store are
the real ones; only Kafka is replaced by a recorder of published bytes, so the test needs no
broker and runs in well under a second.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from services.mesh.avro import EventCodec, codec_from_settings
from services.mesh.consumer import Outcome, Record, RecordProcessor
from services.mesh.events import Envelope, Event, RequestAccepted, RequestSubmitted, Source
from services.mesh.kafka import Publisher
from services.mesh.settings import MeshSettings
from services.mesh.store import open_store
from services.mesh.tracing import Tracer, parse_traceparent, tracer_for


class StandInCollector:
    """A stand-in OTLP/HTTP collector: records the JSON bodies POSTed to /v1/traces."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                collector.paths.append(self.path)
                collector.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def spans(self) -> list[dict[str, Any]]:
        return [
            span
            for body in self.bodies
            for resource in body["resourceSpans"]
            for scope in resource["scopeSpans"]
            for span in scope["spans"]
        ]

    def services(self) -> set[str]:
        return {
            attr["value"]["stringValue"]
            for body in self.bodies
            for resource in body["resourceSpans"]
            for attr in resource["resource"]["attributes"]
            if attr["key"] == "service.name"
        }


@pytest.fixture
def collector() -> Iterator[StandInCollector]:
    stand_in = StandInCollector()
    stand_in.thread.start()
    try:
        yield stand_in
    finally:
        stand_in.server.shutdown()
        stand_in.server.server_close()


class RecordingBroker:
    """Takes the place of the FastStream broker: keeps what is published."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def publish(self, value: bytes, topic: str, **_: Any) -> None:
        self.sent.append((topic, value))


def _submitted() -> RequestSubmitted:
    return RequestSubmitted(
        envelope=Envelope.new(
            event_type=RequestSubmitted.EVENT_TYPE,
            producer="ingest",
            run_id="run-trace-1",
            request_id="req-trace-1",
            domain="orders",
        ),
        document="# doc",
        source=Source.CLI,
    )


async def _one_hop(settings: MeshSettings, tracer: Tracer, codec: EventCodec) -> list[Event]:
    """Publish a RequestSubmitted, consume it with a handler that publishes a RequestAccepted."""
    broker = RecordingBroker()
    publisher = Publisher(broker, codec, service="ingest", tracer=tracer)  # type: ignore[arg-type]

    async def handler(event: Event) -> None:
        await publisher.publish(
            RequestAccepted(
                envelope=Envelope.caused_by(event, event_type=RequestAccepted.EVENT_TYPE, producer="ingest"),
                revision=1,
                content_hash="h",
                spec_version="3",
                spec_json="{}",
            )
        )

    store = open_store(settings, "ingest")
    processor = RecordProcessor(
        handler,
        group_id="ingest.g",
        service="ingest",
        store=store,
        codec=codec,
        publisher=publisher,
        settings=settings,
    )
    try:
        await publisher.publish(_submitted())
        topic, value = broker.sent[0]
        outcome = await processor.process(
            Record(topic=topic, partition=0, offset=0, value=value, key=b"orders")
        )
        assert outcome is Outcome.HANDLED
    finally:
        await store.close()
    return [codec.decode(value) for _, value in broker.sent]


async def test_spans_follow_the_envelope_traceparent(tmp_path: Path, collector: StandInCollector) -> None:
    settings = MeshSettings(home=tmp_path, otlp_endpoint=collector.endpoint)
    tracer = Tracer("ingest", collector.endpoint)
    submitted, accepted = await _one_hop(settings, tracer, codec_from_settings(settings))
    # The consumer's tracer (tracer_for) is a different object: flush both.
    assert tracer.flush(5.0)
    assert tracer_for(settings, "ingest").flush(5.0)

    assert set(collector.paths) == {"/v1/traces"}
    assert collector.services() == {"ingest"}
    spans = {span["name"]: span for span in collector.spans()}
    assert set(spans) == {
        "publish sw.request.submitted",
        "handle sw.request.submitted",
        "publish sw.request.accepted",
    }
    pub1, handle, pub2 = (
        spans["publish sw.request.submitted"],
        spans["handle sw.request.submitted"],
        spans["publish sw.request.accepted"],
    )

    first = parse_traceparent(submitted.envelope.traceparent)
    second = parse_traceparent(accepted.envelope.traceparent)
    assert first is not None and second is not None
    # One trace, carried by the envelopes from hop to hop.
    assert {pub1["traceId"], handle["traceId"], pub2["traceId"]} == {first.trace_id}
    assert second.trace_id == first.trace_id
    # publish (root) -> handle -> publish; each envelope names the span that sent it.
    assert "parentSpanId" not in pub1
    assert first.span_id == pub1["spanId"]
    assert handle["parentSpanId"] == pub1["spanId"]
    assert pub2["parentSpanId"] == handle["spanId"]
    assert second.span_id == pub2["spanId"]
    assert handle["kind"] == 5 and pub1["kind"] == 4
    assert int(handle["endTimeUnixNano"]) >= int(handle["startTimeUnixNano"])
    attrs = {a["key"]: a["value"] for a in handle["attributes"]}
    assert attrs["messaging.destination.name"] == {"stringValue": "sw.request.submitted"}
    assert attrs["streamwright.run_id"] == {"stringValue": "run-trace-1"}


async def test_no_endpoint_exports_nothing_and_changes_nothing(
    tmp_path: Path, collector: StandInCollector
) -> None:
    settings = MeshSettings(home=tmp_path)
    tracer = Tracer("ingest", None)
    submitted, accepted = await _one_hop(settings, tracer, codec_from_settings(settings))
    assert not tracer.enabled and tracer.flush(1.0)
    assert submitted.envelope.traceparent is None and accepted.envelope.traceparent is None
    assert collector.bodies == []


def test_a_dead_collector_never_fails_the_caller() -> None:
    # Nothing listens on port 9; the exporter waits 30 s before its first batch unless flushed.
    tracer = Tracer("ingest", "http://127.0.0.1:9", max_queue=2, flush_interval=30.0)
    for _ in range(5):
        with tracer.span("work") as span:
            assert span is not None
    assert tracer.dropped == 3  # the queue holds 2: the rest are dropped, not waited for
    assert tracer.flush(5.0)
    assert tracer.exported == 0 and tracer.failed_exports == 1
