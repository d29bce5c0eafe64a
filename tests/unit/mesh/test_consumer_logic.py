"""The consumer's per-record logic and offset bookkeeping, without Kafka."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.mesh.avro import codec_from_settings
from services.mesh.consumer import (
    H_ATTEMPTS,
    H_KIND,
    H_REASON,
    PROCESSED_EVENTS,
    OffsetTracker,
    Outcome,
    Record,
    RecordProcessor,
)
from services.mesh.events import Envelope, Event, MessageDeadLettered, RequestSubmitted, Source
from services.mesh.metrics import MeshMetrics
from services.mesh.settings import MeshSettings
from services.mesh.store import SQLiteDocumentStore
from tests.fakes import RecordingPublisher


def event() -> RequestSubmitted:
    return RequestSubmitted(
        envelope=Envelope.new(
            event_type=RequestSubmitted.EVENT_TYPE,
            producer="t",
            run_id="run-1",
            request_id="req-1",
            domain="d",
        ),
        document="# x\n",
        source=Source.CLI,
    )


@pytest.fixture
def settings(tmp_path: Path) -> MeshSettings:
    return MeshSettings(home=tmp_path, handler_retries=2, retry_backoff_ms=100)


def processor(settings: MeshSettings, handler: Any, store: Any, sleeps: list[float]) -> RecordProcessor:
    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return RecordProcessor(
        handler,
        group_id="g",
        service="svc",
        store=store,
        codec=codec_from_settings(settings),
        publisher=RecordingPublisher(),
        settings=settings,
        expected=RequestSubmitted,
        metrics=MeshMetrics(),
        sleep=fake_sleep,
    )


def test_offsets_commit_only_below_the_lowest_record_in_flight() -> None:
    """It never commits past a record that is still being handled, even if later ones finished."""
    tracker = OffsetTracker()
    for offset in (10, 11, 12):
        tracker.begin("t", 0, offset)
    assert tracker.finish("t", 0, 12) == 10
    assert tracker.finish("t", 0, 11) is None
    assert tracker.finish("t", 0, 10) == 13


async def test_a_redelivered_event_runs_the_handler_once(settings: MeshSettings, tmp_path: Path) -> None:
    """It records the event id after the handler succeeds and skips the same event afterwards."""
    calls: list[str] = []

    async def handler(e: Event) -> None:
        calls.append(e.envelope.event_id)

    store = SQLiteDocumentStore(tmp_path / "s.sqlite3")
    proc = processor(settings, handler, store, [])
    e = event()
    record = Record("topic", 0, 5, codec_from_settings(settings).encode(e), b"d")
    assert await proc.process(record) is Outcome.HANDLED
    assert await proc.process(record) is Outcome.DUPLICATE
    assert calls == [e.envelope.event_id]
    assert await store.get(PROCESSED_EVENTS, f"g:{e.envelope.event_id}") is not None
    await store.close()


async def test_failures_back_off_exponentially_then_dead_letter(
    settings: MeshSettings, tmp_path: Path
) -> None:
    """It retries with doubling backoff, dead-letters with the error, and announces it for the run."""

    async def handler(e: Event) -> None:
        raise ValueError("nope")

    sleeps: list[float] = []
    store = SQLiteDocumentStore(tmp_path / "s.sqlite3")
    proc = processor(settings, handler, store, sleeps)
    e = event()
    value = codec_from_settings(settings).encode(e)
    assert await proc.process(Record("topic", 1, 7, value, b"d", {"event_type": e.EVENT_TYPE})) is (
        Outcome.DEAD_LETTERED
    )
    assert sleeps == [0.1, 0.2]
    publisher = proc._publisher
    assert isinstance(publisher, RecordingPublisher)
    [(topic, raw, key, headers)] = publisher.raw
    assert (topic, raw, key) == ("topic.dlq", value, b"d")
    assert (
        headers[H_KIND] == "handler"
        and headers[H_ATTEMPTS] == "3"
        and "ValueError: nope" in headers[H_REASON]
    )
    assert headers["event_type"] == e.EVENT_TYPE  # the original headers are kept
    [notice] = publisher.events
    assert isinstance(notice, MessageDeadLettered)
    assert (
        notice.envelope.event_id
        == proc.dead_lettered_event(Record("topic", 1, 7, value), e, reason="", attempts=3).envelope.event_id
    )  # derived: a redelivery announces the same event
    assert await store.get(PROCESSED_EVENTS, f"g:{e.envelope.event_id}") is None
    await store.close()


async def test_undecodable_bytes_are_dead_lettered_without_retry(
    settings: MeshSettings, tmp_path: Path
) -> None:
    """It sends bytes that are not an event straight to the DLQ and never calls the handler."""
    calls: list[Event] = []

    async def handler(e: Event) -> None:
        calls.append(e)

    sleeps: list[float] = []
    store = SQLiteDocumentStore(tmp_path / "s.sqlite3")
    proc = processor(settings, handler, store, sleeps)
    assert await proc.process(Record("topic", 0, 1, b"\x01garbage")) is Outcome.DEAD_LETTERED
    publisher = proc._publisher
    assert isinstance(publisher, RecordingPublisher)
    [(_, raw, _, headers)] = publisher.raw
    assert raw == b"\x01garbage" and headers[H_KIND] == "decode" and "magic" in headers[H_REASON]
    assert (calls, sleeps, publisher.events) == ([], [], [])
    await store.close()
