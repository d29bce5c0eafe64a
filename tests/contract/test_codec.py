"""The wire format: Confluent framing, reading older versions, malformed bytes, the registries."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fixtures.contract_samples import sample

from services.mesh import events as ev
from services.mesh.avro import (
    DecodeError,
    EmbeddedRegistry,
    EventCodec,
    HttpRegistry,
    RegistryError,
    SchemaCatalog,
    codec_from_settings,
    read_ids,
    subject_for,
)
from services.mesh.settings import MeshSettings

V1_ID = read_ids()["RequestSubmitted/v1"]["id"]
V2_ID = read_ids()["RequestSubmitted/v2"]["id"]


@pytest.fixture(scope="module")
def codec() -> EventCodec:
    return EventCodec(EmbeddedRegistry.load())


def frame(schema_id: int, body: bytes) -> bytes:
    return b"\x00" + schema_id.to_bytes(4, "big") + body


def avro_body(schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    schemaless_writer(out, parse_schema(schema), record)
    return out.getvalue()


def test_frame_is_what_confluent_writes(codec: EventCodec) -> None:
    """It writes magic byte 0, the schema id as 4 big-endian bytes, then the plain Avro body."""
    event = sample(ev.RequestSubmitted)
    data = codec.encode(event)
    assert (V1_ID, V2_ID) == (1, 15)  # ids are checked in; they never change
    assert data[:5] == b"\x00\x00\x00\x00\x0f"
    assert codec.schema_id(ev.RequestSubmitted) == 15
    # A Confluent deserializer fetches the schema by id and reads the rest as Avro binary.
    writer = json.loads(EmbeddedRegistry.load().schema_by_id(int.from_bytes(data[1:5], "big")))
    body = io.BytesIO(data[5:])
    record = schemaless_reader(body, parse_schema(writer), None)
    assert body.tell() == len(data) - 5
    assert record["submitted_by"] == "alice"
    assert record["envelope"]["occurred_at"] == event.envelope.occurred_at


def test_reads_data_written_with_an_older_version(codec: EventCodec) -> None:
    """It decodes RequestSubmitted written with v1 (schema id 1) into the v2 model, defaults filled."""
    v1 = SchemaCatalog.load().get("RequestSubmitted/v1").schema
    record = sample(ev.RequestSubmitted).model_dump(exclude={"submitted_by"})
    record["envelope"]["schema_version"] = 1
    data = frame(V1_ID, avro_body(v1, record))
    event = codec.decode(data)
    assert isinstance(event, ev.RequestSubmitted)
    assert event.submitted_by is None
    assert event.envelope.schema_version == 2  # the model is the latest shape
    assert event.document == record["document"] and event.source is ev.Source.GRPC
    assert codec.decode(codec.encode(event)) == event


def _good(codec: EventCodec) -> bytes:
    return codec.encode(sample(ev.RunCancelRequested))


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda good: b"", "empty message"),
        (lambda good: None, "empty message"),
        (lambda good: b"\x00\x00\x01", "message too short: 3 bytes"),
        (lambda good: b"\x01" + good[1:], "wrong magic byte 0x01"),
        (lambda good: b"\x00\x00\x00\x03\xe7" + good[5:], "unknown schema id 999"),
        (lambda good: good[:5], "body does not parse as RunCancelRequested (schema id 12)"),
        (lambda good: good[:40], "body does not parse as RunCancelRequested"),
        (lambda good: good + b"\x00\x00", "2 trailing bytes after the RunCancelRequested"),
        (
            # the 26-character event id, overwritten with characters a ULID never holds
            lambda good: good[:6] + b"u" * 26 + good[32:],
            "RunCancelRequested (schema id 12) fails validation (1 errors): envelope.event_id",
        ),
    ],
    ids=["empty", "none", "short", "magic", "unknown-id", "no-body", "truncated", "trailing", "invalid"],
)
def test_malformed_bytes_raise_decode_error(codec: EventCodec, mangle: Any, reason: str) -> None:
    """It turns every kind of malformed message into DecodeError with a precise reason."""
    with pytest.raises(DecodeError) as caught:
        codec.decode(mangle(_good(codec)))
    assert reason in caught.value.reason


def test_record_that_fails_model_validation(codec: EventCodec) -> None:
    """It reports a well-formed Avro record that breaks the model's rules as a validation failure."""
    schema = SchemaCatalog.load().latest("RunCompleted").schema
    record = sample(ev.RunCompleted).model_dump()
    record["envelope"]["event_id"] = "not-a-ulid"
    with pytest.raises(
        DecodeError, match=r"RunCompleted \(schema id 13\) fails validation.*envelope\.event_id"
    ):
        codec.decode(frame(13, avro_body(schema, record)))


def test_random_bodies_only_ever_raise_decode_error(codec: EventCodec) -> None:
    """It raises nothing but DecodeError for random bodies behind every known schema id."""
    rng = random.Random(7)
    good = _good(codec)
    for number in range(1, 16):
        for _ in range(40):
            body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 60)))
            if rng.random() < 0.5:
                body = good[5 : 5 + rng.randrange(len(good))] + body
            with contextlib.suppress(DecodeError):
                codec.decode(frame(number, body))


@dataclass
class FakeRegistry:
    """A registry holding arbitrary schemas, to reach the codec's schema checks."""

    schemas: dict[int, str] = field(default_factory=dict)

    def register(self, subject: str, schema: str) -> int:
        raise AssertionError("not used")

    def schema_by_id(self, schema_id: int) -> str:
        return self.schemas[schema_id]


@pytest.mark.parametrize(
    ("schema", "reason"),
    [
        ({"type": "record", "name": "other.Thing", "fields": []}, "is other.Thing, not a known event type"),
        ({"type": "record", "name": "streamwright.events.Nope", "fields": []}, "not a known event type"),
        ("not json", "is not an Avro record schema"),
        ({"type": "string"}, "is not an Avro record schema"),
        (
            {
                "type": "record",
                "name": "streamwright.events.RunStartFailed",
                "fields": [{"name": "x", "type": "int"}],
            },
            "cannot be read as RunStartFailed/v1: RunStartFailed.envelope: reader field missing",
        ),
        (
            {"type": "record", "name": "streamwright.events.RunStartFailed", "fields": [{"name": "x"}]},
            "schema id 5 is not a valid Avro schema",
        ),
    ],
    ids=["foreign", "unknown-event", "not-json", "not-record", "incompatible", "invalid"],
)
def test_schemas_that_are_not_our_events(schema: Any, reason: str) -> None:
    """It raises DecodeError when the writer schema is not one of our events or cannot be resolved."""
    text = schema if isinstance(schema, str) else json.dumps(schema)
    codec = EventCodec(FakeRegistry({5: text}), SchemaCatalog.load())
    with pytest.raises(DecodeError) as caught:
        codec.decode(frame(5, b"\x00"))
    assert reason in caught.value.reason


def test_embedded_registry_refuses_unknown_schemas_and_wrong_subjects() -> None:
    """It registers only checked-in schemas, each under its TopicNameStrategy subject."""
    registry = EmbeddedRegistry.load()
    latest = registry.catalog.latest("GateDecided")
    assert subject_for(ev.GateDecided) == "sw.gate.decided-value"
    assert registry.register("sw.gate.decided-value", latest.text) == read_ids()["GateDecided/v1"]["id"]
    with pytest.raises(RegistryError, match=r"belongs to subject sw\.gate\.decided-value"):
        registry.register("sw.run.started-value", latest.text)
    with pytest.raises(RegistryError, match="holds only the schemas in schemas/"):
        registry.register("sw.gate.decided-value", latest.text.replace("review", "maybe"))


# --- HttpRegistry against a stand-in -----------------------------------------------------------


@dataclass
class StandIn:
    """State of the in-process stand-in for Confluent Schema Registry."""

    url: str
    ids: dict[str, int] = field(default_factory=dict)
    subjects: dict[str, list[int]] = field(default_factory=dict)
    calls: list[tuple[str, str, str | None]] = field(default_factory=list)
    fail_with: int | None = None


@pytest.fixture
def standin() -> Iterator[StandIn]:
    """A stand-in for Confluent Schema Registry: POST /subjects/{s}/versions, GET /schemas/ids/{id}."""
    state = StandIn(url="")

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            state.calls.append(("POST", self.path, self.headers.get("Authorization")))
            if state.fail_with:
                return self._reply(state.fail_with, {"error_code": 50001, "message": "store error"})
            parts = self.path.split("/")
            if len(parts) != 4 or parts[1] != "subjects" or parts[3] != "versions":
                return self._reply(404, {"error_code": 404, "message": "HTTP 404 Not Found"})
            schema = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["schema"]
            number = state.ids.setdefault(schema, 100 + len(state.ids))  # same schema, same id
            state.subjects.setdefault(parts[2], []).append(number)
            return self._reply(200, {"id": number})

        def do_GET(self) -> None:
            state.calls.append(("GET", self.path, self.headers.get("Authorization")))
            if state.fail_with:
                return self._reply(state.fail_with, {"error_code": 50001, "message": "store error"})
            by_id = {number: schema for schema, number in state.ids.items()}
            number = int(self.path.rsplit("/", 1)[-1])
            if not self.path.startswith("/schemas/ids/") or number not in by_id:
                return self._reply(404, {"error_code": 40403, "message": "Schema not found"})
            return self._reply(200, {"schema": by_id[number]})

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_http_registry_registers_and_a_second_codec_fetches_by_id(standin: StandIn) -> None:
    """It registers through the stand-in for Confluent Schema Registry and decodes by fetching the id."""
    producer = EventCodec(HttpRegistry(standin.url), SchemaCatalog.load())
    event = sample(ev.ValidationScored)
    data = producer.encode(event)
    producer.encode(event)  # cached: no second POST
    assert data[:5] == b"\x00" + (100).to_bytes(4, "big")
    assert standin.subjects == {"sw.validation.scored-value": [100]}

    consumer = EventCodec(HttpRegistry(standin.url + "/"), SchemaCatalog.load())
    assert consumer.decode(data) == event
    assert consumer.decode(data) == event  # cached: no second GET
    assert [c[:2] for c in standin.calls] == [
        ("POST", "/subjects/sw.validation.scored-value/versions"),
        ("GET", "/schemas/ids/100"),
    ]
    with pytest.raises(DecodeError, match="unknown schema id 7"):
        consumer.decode(b"\x00\x00\x00\x00\x07\x00")


def test_http_registry_errors_name_url_and_status(standin: StandIn) -> None:
    """It raises RegistryError naming the URL and HTTP status, and keeps credentials out of it."""
    host = standin.url.removeprefix("http://")
    registry = HttpRegistry(f"http://svc:s3cret@{host}")
    standin.fail_with = 500
    with pytest.raises(RegistryError) as caught:
        registry.register("sw.run.started-value", '"string"')
    message = str(caught.value)
    assert f"POST {standin.url}/subjects/sw.run.started-value/versions answered HTTP 500" in message
    assert "s3cret" not in message
    expected_auth = "Basic " + base64.b64encode(b"svc:s3cret").decode()
    assert standin.calls[-1][2] == expected_auth
    with pytest.raises(RegistryError, match=r"GET .*/schemas/ids/3 answered HTTP 500"):
        registry.schema_by_id(3)


def test_http_registry_unreachable_is_a_registry_error_not_a_decode_error() -> None:
    """It reports an unreachable registry as RegistryError, so consumers retry instead of dead-lettering."""
    with socket_free_port() as port:
        codec = EventCodec(HttpRegistry(f"http://127.0.0.1:{port}", timeout=2), SchemaCatalog.load())
    with pytest.raises(RegistryError, match=rf"GET http://127.0.0.1:{port}/schemas/ids/1 unreachable"):
        codec.decode(b"\x00\x00\x00\x00\x01\x00")
    with pytest.raises(ValueError, match="must be http"):
        HttpRegistry("file:///etc/passwd")


class socket_free_port:
    """A port nothing listens on (bound, then released)."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        return None


def test_codec_from_settings_picks_the_registry(standin: StandIn) -> None:
    """It uses the embedded registry by default and the HTTP one when a registry URL is set."""
    embedded = codec_from_settings(MeshSettings(schema_registry_url=None))
    assert isinstance(embedded.registry, EmbeddedRegistry)
    remote = codec_from_settings(MeshSettings(schema_registry_url=standin.url))
    assert isinstance(remote.registry, HttpRegistry)
    event = sample(ev.RunStarted)
    assert embedded.decode(embedded.encode(event)) == event
    assert remote.decode(remote.encode(event)) == event
    assert standin.subjects == {"sw.run.started-value": [100]}
