"""The event models: round trips through Avro, the envelope helpers, the topic registry."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fixtures.contract_samples import BUILDERS, ROOT_ID, root, sample
from pydantic import BaseModel, ValidationError

from services.mesh import events as ev
from services.mesh.avro import EmbeddedRegistry, EventCodec, SchemaCatalog
from services.mesh.events import EVENTS, Envelope, Event
from services.mesh.ids import derive, is_ulid

EVENT_CLASSES = list(EVENTS.values())


@pytest.fixture(scope="module")
def codec() -> EventCodec:
    return EventCodec(EmbeddedRegistry.load())


def test_samples_cover_every_event_type() -> None:
    """It has a sample for every registered event type, so the round trip below misses none."""
    assert set(BUILDERS) == set(EVENT_CLASSES)
    assert len(EVENTS) == 14


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
def test_round_trip_is_lossless(codec: EventCodec, cls: type[Event]) -> None:
    """It turns every event into Avro bytes and back into an equal model of the same class."""
    event = sample(cls)
    decoded = codec.decode(codec.encode(event))
    assert type(decoded) is cls
    assert decoded == event
    assert decoded.envelope.occurred_at.tzinfo is not None


def _avro_fields(node: Any, names: dict[str, Any]) -> dict[str, Any]:
    return {f["name"]: f["type"] for f in node["fields"]}


def _record_of(avro_type: Any, names: dict[str, Any]) -> dict[str, Any] | None:
    """The record definition an Avro field type holds (directly, in an array or map, or by name)."""
    if isinstance(avro_type, list):
        found = [_record_of(t, names) for t in avro_type]
        return next((r for r in found if r), None)
    if isinstance(avro_type, str):
        named: dict[str, Any] | None = names.get(avro_type)
        return named
    if avro_type.get("type") == "record":
        record: dict[str, Any] = avro_type
        names[f"{record.get('namespace', '')}.{record['name']}".lstrip(".")] = record
        return record
    return _record_of(avro_type.get("items") or avro_type.get("values") or avro_type["type"], names)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next((m for m in map(_model_of, getattr(annotation, "__args__", ())) if m), None)


def _assert_same_shape(model: type[BaseModel], record: dict[str, Any], names: dict[str, Any]) -> None:
    fields = _avro_fields(record, names)
    assert list(model.model_fields) == list(fields), f"{model.__name__} vs Avro {record['name']}"
    for name, info in model.model_fields.items():
        sub_model = _model_of(info.annotation)
        if sub_model is not None:
            sub_record = _record_of(fields[name], names)
            assert sub_record is not None, f"{model.__name__}.{name} is a model but not an Avro record"
            _assert_same_shape(sub_model, sub_record, names)


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
def test_model_matches_latest_schema(cls: type[Event]) -> None:
    """It keeps each model's fields, nested records included, in step with its latest schema file."""
    catalog = SchemaCatalog.load()
    latest = catalog.latest(cls.__name__)
    assert latest.version == cls.SCHEMA_VERSION
    _assert_same_shape(cls, latest.schema, {})


def test_caused_by_is_deterministic_and_propagates_the_run() -> None:
    """It derives the same event id when a handler re-runs, and copies the run's correlation fields."""
    cause = sample(ev.RequestAccepted)
    first = Envelope.caused_by(
        cause, event_type=ev.SqlGenerated.EVENT_TYPE, producer="generator", discriminator=1
    )
    again = Envelope.caused_by(
        cause.envelope, event_type=ev.SqlGenerated.EVENT_TYPE, producer="generator", discriminator=1
    )
    retry = Envelope.caused_by(
        cause, event_type=ev.SqlGenerated.EVENT_TYPE, producer="generator", discriminator=2
    )
    assert first.event_id == again.event_id == derive(cause.envelope.event_id, "sw.sql.generated", "1")
    assert retry.event_id != first.event_id
    assert is_ulid(first.event_id)
    assert first.causation_id == cause.envelope.event_id
    assert first.schema_version == ev.SqlGenerated.SCHEMA_VERSION
    for field in ("run_id", "request_id", "domain", "idempotency_key", "traceparent"):
        assert getattr(first, field) == getattr(cause.envelope, field), field
    assert first.idempotency_key == "upstream-42"


def test_new_envelope_starts_a_chain() -> None:
    """It gives a new envelope a fresh ULID, the latest schema version and a UTC millisecond timestamp."""
    one = Envelope.new(
        event_type="sw.request.submitted", producer="cli", run_id="r", request_id="q", domain="d"
    )
    two = Envelope.new(
        event_type="sw.request.submitted", producer="cli", run_id="r", request_id="q", domain="d"
    )
    assert one.event_id != two.event_id and is_ulid(one.event_id)
    assert one.schema_version == 2 and one.causation_id is None
    assert one.occurred_at.utcoffset() == timedelta(0) and one.occurred_at.microsecond % 1000 == 0
    with pytest.raises(ValueError, match="unknown event type"):
        Envelope.new(event_type="sw.nope", producer="cli", run_id="r", request_id="q", domain="d")


def test_envelope_normalises_time_to_utc_millis() -> None:
    """It stores occurred_at in UTC truncated to milliseconds and refuses naive datetimes."""
    local = datetime(2025, 1, 1, 8, 0, 0, 999999, tzinfo=timezone(timedelta(hours=8)))
    env = root().model_copy(update={"occurred_at": local})  # model_copy skips validation
    checked = Envelope.model_validate(env.model_dump())
    assert checked.occurred_at == datetime(2025, 1, 1, 0, 0, 0, 999000, tzinfo=UTC)
    assert checked.occurred_at.tzinfo == UTC
    with pytest.raises(ValidationError, match="timezone-aware"):
        Envelope.model_validate({**env.model_dump(), "occurred_at": datetime(2025, 1, 1)})


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("event_id", "not-a-ulid", "not a ULID"),
        ("causation_id", "x", "not a ULID"),
        ("traceparent", "00-xyz", "W3C traceparent"),
        ("domain", "", "at least 1 character"),
    ],
)
def test_envelope_rejects_bad_fields(field: str, value: str, message: str) -> None:
    """It refuses envelopes whose ids, trace context or key are malformed."""
    with pytest.raises(ValidationError, match=message):
        Envelope.model_validate({**root().model_dump(), field: value})


def test_event_must_match_its_envelope() -> None:
    """It refuses an event whose envelope names another event type or schema version."""
    data = sample(ev.RunCancelRequested).model_dump()
    with pytest.raises(ValidationError, match="event_type"):
        ev.RunCancelRequested.model_validate({**data, "envelope": {**data["envelope"], "event_type": "sw.x"}})
    with pytest.raises(ValidationError, match="schema_version"):
        ev.RunCancelRequested.model_validate({**data, "envelope": {**data["envelope"], "schema_version": 7}})


def test_topics_keys_and_dead_letter_topics() -> None:
    """It maps every event type to its own topic, keys messages by domain and names DLQ topics."""
    assert tuple(EVENTS) == ev.ALL_TOPICS
    assert len(set(ev.ALL_TOPICS)) == len(ev.ALL_TOPICS)
    assert ev.topic_of("sw.run.completed") == "sw.run.completed"
    assert ev.dlq_topic("sw.sql.generated") == "sw.sql.generated.dlq"
    with pytest.raises(KeyError, match=r"sw\.nope"):
        ev.topic_of("sw.nope")
    assert sample(ev.GateDecided).kafka_key == "orders"
    assert sample(ev.RequestSubmitted).envelope.event_id == ROOT_ID


def test_events_module_stays_pure_pydantic() -> None:
    """It imports services.mesh.events without pulling in fastavro or a Kafka client."""
    code = (
        "import sys, services.mesh.events\n"
        "bad = [m for m in ('fastavro', 'confluent_kafka') if m in sys.modules]\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
