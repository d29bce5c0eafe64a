"""The consumer runtime every service handler goes through.

    sub = subscribe(kafka, RequestAccepted, on_request_accepted, group_id="generator",
                    service="generator", store=store, codec=codec, publisher=publisher,
                    settings=settings)
    ...
    await sub.drain()   # on shutdown, before kafka.stop()

For each record, `RecordProcessor.process`:

1. decodes it; bytes that do not decode go straight to `<topic>.dlq` with the reason
   (never dropped, never retried);
2. skips it when `processed_events/<group>:<event_id>` exists in the service's store (a
   redelivered event changes nothing);
3. runs the handler, retrying `handler_retries` times with exponential backoff, then
   dead-letters it with the error; after the handler succeeds it writes the
   `processed_events` marker;
4. dead letters keep the original value bytes, key and headers, plus `dlq.*` headers; when
   the run is known a `MessageDeadLettered` event is also published, so the router can end
   the run.

Handlers must be idempotent: a crash between the handler's state change and the marker
re-runs the handler on redelivery. Output events carry ids derived from the input id
(`Envelope.caused_by`), so the re-run publishes the same events and consumers drop them.

`MeshSubscription` feeds records to the processor and commits offsets by hand, only after
a record's outcome (handled, duplicate, dead-lettered) is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from confluent_kafka import Message, TopicPartition
from opentelemetry.trace import get_current_span

from services.mesh.avro import DecodeError, EventCodec
from services.mesh.events import Envelope, Event, MessageDeadLettered, dlq_topic
from services.mesh.kafka import HEADER_EVENT_ID, HEADER_EVENT_TYPE, KafkaClients
from services.mesh.logging import bound_event, get_logger
from services.mesh.metrics import MeshMetrics, default_metrics
from services.mesh.run_phases import phase_of
from services.mesh.settings import MeshSettings
from services.mesh.store.base import DocumentStore
from services.mesh.topic_consumer import TopicConsumer
from services.mesh.tracing import (
    AttributeValue,
    ServiceTracing,
    Span,
    SpanKind,
    Status,
    StatusCode,
    envelope_attributes,
    extract,
    root_context,
)

Handler = Callable[[Event], Awaitable[None]]

PROCESSED_EVENTS = "processed_events"
MAX_BACKOFF_S = 30.0
COMMIT_INTERVAL_S = 0.2
# Headers of a dead-letter record (the original record's headers are kept as well).
H_REASON = "dlq.reason"
H_KIND = "dlq.kind"  # "decode" or "handler"
H_SOURCE_TOPIC = "dlq.source.topic"
H_SOURCE_PARTITION = "dlq.source.partition"
H_SOURCE_OFFSET = "dlq.source.offset"
H_GROUP = "dlq.consumer.group"
H_ATTEMPTS = "dlq.attempts"
H_SERVICE = "dlq.service"

log = get_logger(__name__)


class EventPublisher(Protocol):
    """What the consumer needs to publish (services.mesh.kafka.Publisher is one)."""

    async def publish(self, event: Event) -> None: ...

    async def publish_raw(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None,
        headers: Mapping[str, str],
        event_type: str = ...,
    ) -> None: ...


class Outcome(enum.Enum):
    HANDLED = "handled"
    DUPLICATE = "duplicate"
    DEAD_LETTERED = "dead_lettered"


@dataclass(frozen=True)
class Record:
    """One Kafka record, as the processor sees it."""

    topic: str
    partition: int
    offset: int
    value: bytes
    key: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_message(cls, message: Message) -> Record:
        headers = {
            name: raw.decode(errors="replace") if isinstance(raw, bytes) else raw
            for name, raw in (message.headers() or [])
            if raw is not None
        }
        return cls(
            topic=message.topic() or "",
            partition=message.partition() or 0,
            offset=message.offset() or 0,
            value=message.value() or b"",
            key=message.key(),
            headers=headers,
        )


class RecordProcessor:
    """Decode, dedupe, handle with retries, or dead-letter one record. No Kafka client inside."""

    def __init__(
        self,
        handler: Handler,
        *,
        group_id: str,
        service: str,
        store: DocumentStore,
        codec: EventCodec,
        publisher: EventPublisher,
        settings: MeshSettings,
        expected: type[Event] | None = None,
        metrics: MeshMetrics | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        tracing: ServiceTracing | None = None,
    ) -> None:
        self._handler = handler
        self._group_id = group_id
        self._service = service
        self._store = store
        self._codec = codec
        self._publisher = publisher
        self._retries = settings.handler_retries
        self._backoff_s = settings.retry_backoff_ms / 1000
        self._expected = expected
        self._metrics = metrics or default_metrics()
        self._sleep = sleep
        self._tracing = tracing or ServiceTracing.disabled(service)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt `attempt` (1-based): base * 2^(attempt-1), capped."""
        return float(min(self._backoff_s * 2 ** (attempt - 1), MAX_BACKOFF_S))

    async def process(self, record: Record) -> Outcome:
        """Handle one record; with tracing on, in a `process <event type>` span (tracing.py)."""
        reason = ""
        try:
            event: Event | None = self._codec.decode(record.value)
        except DecodeError as error:
            event, reason = None, error.reason
        if not self._tracing.enabled:
            return await self._process(record, event, reason)
        with self._span(record, event) as span:
            outcome = await self._process(record, event, reason)
            span.set_attribute("streamwright.outcome", outcome.value)
            if outcome is Outcome.DEAD_LETTERED:
                span.set_status(Status(StatusCode.ERROR, "dead-lettered"))
            return outcome

    def _span(self, record: Record, event: Event | None) -> contextlib.AbstractContextManager[Span]:
        """The record's CONSUMER span, child of the send that produced it (headers, else envelope)."""
        event_type = event.envelope.event_type if event is not None else record.headers.get(HEADER_EVENT_TYPE)
        parent = extract(
            record.headers, traceparent=event.envelope.traceparent if event is not None else None
        )
        attributes: dict[str, AttributeValue] = {
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.operation.name": "process",
            "messaging.destination.name": record.topic,
            "messaging.destination.partition.id": str(record.partition),
            "messaging.kafka.offset": record.offset,
            "messaging.consumer.group.name": self._group_id,
            **(envelope_attributes(event.envelope) if event is not None else {}),
        }
        if record.key is not None:
            attributes["messaging.kafka.message.key"] = record.key.decode(errors="replace")
        return self._tracing.span(
            f"process {event_type or record.topic}",
            kind=SpanKind.CONSUMER,
            context=parent or root_context(),
            attributes=attributes,
        )

    async def _process(self, record: Record, event: Event | None, reason: str = "") -> Outcome:
        if event is None:
            return await self._dead_letter(record, kind="decode", reason=reason, attempts=0, event=None)
        env = event.envelope
        with bound_event(run_id=env.run_id, event_id=env.event_id, event_type=env.event_type):
            if self._expected is not None and not isinstance(event, self._expected):
                reason = f"{env.event_type} on a subscription for {self._expected.EVENT_TYPE}"
                return await self._dead_letter(record, kind="decode", reason=reason, attempts=0, event=event)
            marker = f"{self._group_id}:{env.event_id}"
            if await self._store.get(PROCESSED_EVENTS, marker) is not None:
                self._metrics.duplicates.labels(self._service, record.topic, env.event_type).inc()
                log.info("duplicate event skipped", offset=record.offset)
                return Outcome.DUPLICATE
            return await self._handle(record, event, marker)

    async def _handle(self, record: Record, event: Event, marker: str) -> Outcome:
        event_type = event.envelope.event_type
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._attempt(event, attempt)
                await self._store.insert(PROCESSED_EVENTS, marker, _marker_doc(record, self._group_id))
            except Exception as error:
                self._metrics.failed.labels(self._service, record.topic, event_type).inc()
                get_current_span().record_exception(
                    error, attributes={"streamwright.handler_attempt": attempt}
                )
                log.warning("handler failed", attempt=attempt, error=f"{type(error).__name__}: {error}")
                if attempt > self._retries:
                    reason = f"handler failed {attempt} times; last error {type(error).__name__}: {error}"
                    return await self._dead_letter(
                        record, kind="handler", reason=reason, attempts=attempt, event=event
                    )
                await self._sleep(self.backoff(attempt))
            else:
                return Outcome.HANDLED

    async def _attempt(self, event: Event, attempt: int) -> None:
        """One handler attempt; the phase of its run it does (run_phases.py) gets its own span."""
        phase = phase_of(self._service, event) if self._tracing.enabled else None
        if phase is None:
            await self._handler(event)
            return
        attributes: dict[str, AttributeValue] = {
            "streamwright.phase": phase.name,
            "streamwright.handler_attempt": attempt,
            **envelope_attributes(event.envelope),
        }
        if phase.attempt is not None:
            attributes["streamwright.attempt"] = phase.attempt
        with self._tracing.span(f"phase {phase.name}", attributes=attributes):
            await self._handler(event)

    async def _dead_letter(
        self, record: Record, *, kind: str, reason: str, attempts: int, event: Event | None
    ) -> Outcome:
        event_type = event.envelope.event_type if event is not None else "unknown"
        headers = {
            **record.headers,
            H_REASON: reason,
            H_KIND: kind,
            H_SOURCE_TOPIC: record.topic,
            H_SOURCE_PARTITION: str(record.partition),
            H_SOURCE_OFFSET: str(record.offset),
            H_GROUP: self._group_id,
            H_ATTEMPTS: str(attempts),
            H_SERVICE: self._service,
        }
        await self._until_delivered(
            lambda: self._publisher.publish_raw(
                dlq_topic(record.topic), record.value, key=record.key, headers=headers, event_type=event_type
            )
        )
        self._metrics.dead_lettered.labels(self._service, record.topic, event_type).inc()
        log.error("dead-lettered", reason=reason, kind=kind, offset=record.offset, partition=record.partition)
        if event is not None:
            notice = self.dead_lettered_event(record, event, reason=reason, attempts=attempts)
            await self._until_delivered(lambda: self._publisher.publish(notice))
        return Outcome.DEAD_LETTERED

    def dead_lettered_event(
        self, record: Record, event: Event, *, reason: str, attempts: int
    ) -> MessageDeadLettered:
        """The notice for the router; its id is derived, so a redelivery publishes the same one."""
        return MessageDeadLettered(
            envelope=Envelope.caused_by(
                event,
                event_type=MessageDeadLettered.EVENT_TYPE,
                producer=self._service,
                discriminator=self._group_id,
            ),
            source_topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            consumer_group=self._group_id,
            reason=reason,
            attempts=attempts,
            event_type=event.envelope.event_type,
        )

    async def _until_delivered(self, send: Callable[[], Awaitable[None]]) -> None:
        """Keep trying: the offset is not committed until the dead letter is stored in Kafka."""
        attempt = 0
        while True:
            attempt += 1
            try:
                await send()
            except Exception as error:
                log.error("dead-letter publish failed; retrying", attempt=attempt, error=str(error))
                await self._sleep(min(self._backoff_s * 2 ** min(attempt, 10), MAX_BACKOFF_S) or 0.1)
            else:
                return


def _marker_doc(record: Record, group_id: str) -> dict[str, Any]:
    return {
        "group": group_id,
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "processed_at": time.time(),
    }


class OffsetTracker:
    """Per partition, the offset that is safe to commit: everything below it is finished.

    Records of one partition may finish out of order (different keys run concurrently); the
    committable offset is the lowest offset still in flight, or one past the highest taken.
    """

    def __init__(self) -> None:
        self._pending: dict[tuple[str, int], set[int]] = defaultdict(set)
        self._next: dict[tuple[str, int], int] = {}
        self._committed: dict[tuple[str, int], int] = {}

    def begin(self, topic: str, partition: int, offset: int) -> None:
        tp = (topic, partition)
        self._pending[tp].add(offset)
        self._next[tp] = max(self._next.get(tp, 0), offset + 1)

    def finish(self, topic: str, partition: int, offset: int) -> int | None:
        """Mark one record done; the new offset to commit, or None if it did not move."""
        tp = (topic, partition)
        pending = self._pending[tp]
        pending.discard(offset)
        safe = min(pending) if pending else self._next[tp]
        if safe <= self._committed.get(tp, -1):
            return None
        self._committed[tp] = safe
        return safe

    def committed(self) -> dict[tuple[str, int], int]:
        return dict(self._committed)


class MeshSubscription:
    """Feeds one topic's records to a RecordProcessor, bounded and in key order; commits by hand.

    What bounds the work: `on_message` is the TopicConsumer's `on_record`, and its fetch loop
    awaits it before it polls the next record. It returns only once one of `max_in_flight`
    slots is free, so when every slot is busy the loop stops polling, and librdkafka's
    prefetch queue (bounded by queued.max.messages.kbytes) fills and stops fetching. Nothing
    queues without limit. Records with the same key (domain) run one after another, in
    offset order; different keys run concurrently.
    """

    def __init__(
        self,
        processor: RecordProcessor,
        *,
        topic: str,
        group_id: str,
        service: str,
        max_in_flight: int,
        metrics: MeshMetrics | None = None,
    ) -> None:
        self.topic = topic
        self.group_id = group_id
        self._processor = processor
        self._service = service
        self._metrics = metrics or default_metrics()
        self._slots = asyncio.Semaphore(max_in_flight)
        self._tails: dict[tuple[int, bytes | None], asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._offsets = OffsetTracker()
        self._closing = False
        self._uncommitted: dict[tuple[str, int], int] = {}
        self._flush_handle: asyncio.TimerHandle | None = None
        self.source: TopicConsumer | None = None  # the Kafka consumer feeding it (set by `subscribe`)

    async def on_message(self, message: Message) -> None:
        if self._closing:
            return  # neither handled nor committed: whoever consumes next gets it again
        await self._slots.acquire()
        record = Record.from_message(message)
        self._offsets.begin(record.topic, record.partition, record.offset)
        event_type = record.headers.get(HEADER_EVENT_TYPE, "unknown")
        self._metrics.consumed.labels(self._service, record.topic, event_type).inc()
        self._metrics.in_flight.labels(self._service, record.topic).inc()
        self._observe_lag(record)
        lane = (record.partition, record.key)
        task = asyncio.create_task(self._run(record, event_type, self._tails.get(lane)))
        self._tails[lane] = task
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._forget(lane, t))

    async def _run(self, record: Record, event_type: str, before: asyncio.Task[None] | None) -> None:
        started = time.perf_counter()
        try:
            if before is not None:
                await asyncio.wait([before])
            with bound_event(event_id=record.headers.get(HEADER_EVENT_ID)):
                await self._processor.process(record)
            self._commit(record)
        finally:
            self._slots.release()
            self._metrics.in_flight.labels(self._service, record.topic).dec()
            self._metrics.handler_seconds.labels(self._service, record.topic, event_type).observe(
                time.perf_counter() - started
            )

    def _forget(self, lane: tuple[int, bytes | None], task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._tails.get(lane) is task:
            del self._tails[lane]
        if not task.cancelled() and task.exception() is not None:
            log.error("record left uncommitted", error=repr(task.exception()))

    def _commit(self, record: Record) -> None:
        """Schedule a commit of the partition's safe offset; commits go out in batches.

        One commit per record doubles the broker round trips of a hop (Tansu serves commits
        slowly), so finished offsets are committed together COMMIT_INTERVAL_S after the first
        of them; a crash in that window only means redeliveries, which are deduplicated.
        """
        offset = self._offsets.finish(record.topic, record.partition, record.offset)
        if offset is None:
            return
        self._uncommitted[record.topic, record.partition] = offset
        if self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_later(COMMIT_INTERVAL_S, self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        offsets = [TopicPartition(t, p, o) for (t, p), o in self._uncommitted.items()]
        self._uncommitted.clear()
        source = self.source
        if offsets and source is not None and source.consumer is not None:
            # Asynchronous: librdkafka sends it in the background; drain() commits synchronously.
            # On the consumer's own thread (TopicConsumer.call), so the event loop never waits
            # for the poll in progress.
            commit = partial(source.consumer.commit, offsets=offsets, asynchronous=True)
            try:
                done = asyncio.ensure_future(source.call(commit))
            except RuntimeError as error:  # the consumer's thread is gone: it was stopped
                log.warning("offset commit failed", error=str(error))
            else:
                done.add_done_callback(_log_commit_error)

    def _observe_lag(self, record: Record) -> None:
        consumer = self.source.consumer if self.source is not None else None
        if consumer is None:
            return
        try:
            _, high = consumer.get_watermark_offsets(
                TopicPartition(record.topic, record.partition), cached=True
            )
        except Exception:  # a metric must never stop consumption
            return
        if high >= 0:
            self._metrics.consumer_lag.labels(
                self._service, record.topic, str(record.partition), self.group_id
            ).set(max(0, high - record.offset - 1))

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def drain(self, grace: float = 30.0) -> None:
        """Take no new records, let those in flight finish (cancel after `grace` s), commit."""
        self._closing = True
        if self.source is not None:
            await self.source.stop_fetching()
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self._uncommitted.clear()
        committed = self._offsets.committed()
        source = self.source
        if committed and source is not None and source.consumer is not None:
            offsets = [TopicPartition(t, p, o) for (t, p), o in committed.items()]
            try:
                await source.call(partial(source.consumer.commit, offsets=offsets, asynchronous=False))
            except Exception as error:  # e.g. partitions revoked meanwhile
                log.warning("final commit failed", error=str(error))


def _log_commit_error(done: asyncio.Future[Any]) -> None:
    if not done.cancelled() and done.exception() is not None:
        log.warning("offset commit failed", error=str(done.exception()))


def subscribe(
    kafka: KafkaClients,
    source: type[Event] | str,
    handler: Handler,
    *,
    group_id: str,
    service: str,
    store: DocumentStore,
    codec: EventCodec,
    publisher: EventPublisher,
    settings: MeshSettings,
    metrics: MeshMetrics | None = None,
    tracing: ServiceTracing | None = None,
) -> MeshSubscription:
    """Route every record of `source` (an event class, or a topic name) through `handler`.

    Call before `kafka.start()`. With an event class, records of another type on that
    topic are dead-lettered; with a topic name, any event type is handed to the handler.
    Topic and consumer group both get settings.topic_prefix, so meshes (and tests) sharing a
    cluster never join each other's groups.
    """
    topic = settings.topic_prefix + (source if isinstance(source, str) else source.TOPIC)
    group_id = settings.topic_prefix + group_id
    expected = None if isinstance(source, str) else source
    processor = RecordProcessor(
        handler,
        group_id=group_id,
        service=service,
        store=store,
        codec=codec,
        publisher=publisher,
        settings=settings,
        expected=expected,
        metrics=metrics,
        tracing=tracing,
    )
    subscription = MeshSubscription(
        processor,
        topic=topic,
        group_id=group_id,
        service=service,
        max_in_flight=settings.max_in_flight,
        metrics=metrics,
    )
    subscription.source = kafka.consumer(topic, group_id=group_id, on_record=subscription.on_message)
    return subscription
