"""The mesh runtime over the real Tansu broker: two small services exchange events.

Service A consumes RequestSubmitted and publishes the RequestAccepted derived from it;
service B consumes RequestAccepted and records it in its store.
"""

from __future__ import annotations

import asyncio
import os
import struct
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from confluent_kafka import Message, Producer

from services.mesh.avro import codec_from_settings
from services.mesh.consumer import (
    H_ATTEMPTS,
    H_GROUP,
    H_KIND,
    H_REASON,
    H_SOURCE_OFFSET,
    H_SOURCE_PARTITION,
    H_SOURCE_TOPIC,
)
from services.mesh.events import (
    Envelope,
    Event,
    MessageDeadLettered,
    RequestAccepted,
    RequestSubmitted,
    Source,
    dlq_topic,
)
from services.mesh.grpc_client import check_health
from services.mesh.kafka import client_config
from services.mesh.metrics import MeshMetrics
from services.mesh.service import ServiceContext, ServiceParts, ServiceRunner
from services.mesh.settings import MeshSettings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

RECORDED = "recorded"
TopicReader = Callable[..., list[Message]]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def submitted(domain: str | None = None) -> RequestSubmitted:
    return RequestSubmitted(
        envelope=Envelope.new(
            event_type=RequestSubmitted.EVENT_TYPE,
            producer="test",
            run_id=unique("run"),
            request_id=unique("req"),
            domain=domain or unique("domain"),
        ),
        document="# request\n",
        source=Source.CLI,
    )


def accepted_from(event: Event) -> RequestAccepted:
    return RequestAccepted(
        envelope=Envelope.caused_by(event, event_type=RequestAccepted.EVENT_TYPE, producer="svc-a"),
        revision=1,
        content_hash="sha256:0",
        spec_version="v3",
        spec_json="{}",
    )


@dataclass
class Mesh:
    settings: MeshSettings
    metrics: MeshMetrics
    runners: list[ServiceRunner]

    async def start(
        self, name: str, wire: Callable[[ServiceContext], None], *, group: str | None = None
    ) -> ServiceRunner:
        def build(ctx: ServiceContext) -> ServiceParts:
            wire(ctx)
            return ServiceParts()

        runner = ServiceRunner(name, build, settings=self.settings, metrics=self.metrics)
        self.runners.append(runner)
        await runner.start()
        return runner

    def sample(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def mesh(mesh_settings: MeshSettings) -> AsyncIterator[Mesh]:
    m = Mesh(mesh_settings, MeshMetrics(), [])
    yield m
    for runner in reversed(m.runners):
        await runner.stop(grace=2.0)


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def start_a_and_b(mesh: Mesh) -> tuple[ServiceRunner, ServiceRunner]:
    def wire_a(ctx: ServiceContext) -> None:
        async def on_submitted(event: Event) -> None:
            await ctx.publisher.publish(accepted_from(event))

        ctx.subscribe(RequestSubmitted, on_submitted, group_id=unique("svc-a"))

    def wire_b(ctx: ServiceContext) -> None:
        async def on_accepted(event: Event) -> None:
            await ctx.store.put(RECORDED, event.envelope.event_id, {"run_id": event.envelope.run_id})

        ctx.subscribe(RequestAccepted, on_accepted, group_id=unique("svc-b"))

    return await mesh.start("svc_a", wire_a), await mesh.start("svc_b", wire_b)


async def test_events_flow_end_to_end_and_redeliveries_change_nothing(mesh: Mesh) -> None:
    """It carries an event from A to B once, however often it or its derived output is redelivered."""
    a, b = await start_a_and_b(mesh)
    assert b.context is not None and a.context is not None
    store = b.context.store
    event = submitted()
    expected_id = accepted_from(event).envelope.event_id

    await a.context.publisher.publish(event)
    await eventually(lambda: _exists(store, expected_id))

    # The same input again, then A's output again (as if A re-ran after a crash).
    await a.context.publisher.publish(event)
    await a.context.publisher.publish(accepted_from(event))
    topic_a = mesh.settings.topic_prefix + RequestSubmitted.TOPIC
    topic_b = mesh.settings.topic_prefix + RequestAccepted.TOPIC

    async def both_dropped() -> bool:
        dup_a = mesh.sample(
            "streamwright_events_duplicate_total",
            service="svc_a",
            topic=topic_a,
            event_type=RequestSubmitted.EVENT_TYPE,
        )
        dup_b = mesh.sample(
            "streamwright_events_duplicate_total",
            service="svc_b",
            topic=topic_b,
            event_type=RequestAccepted.EVENT_TYPE,
        )
        return dup_a == 1 and dup_b == 1

    await eventually(both_dropped)
    assert await store.count(RECORDED, where={"run_id": event.envelope.run_id}) == 1
    handled_b = mesh.sample(
        "streamwright_events_consumed_total",
        service="svc_b",
        topic=topic_b,
        event_type=RequestAccepted.EVENT_TYPE,
    )
    assert handled_b == 2  # delivered twice, recorded once


async def _exists(store: object, key: str) -> bool:
    return await store.get(RECORDED, key) is not None  # type: ignore[attr-defined]


async def test_a_failing_handler_is_retried_then_dead_lettered(mesh: Mesh, topic_reader: TopicReader) -> None:
    """It retries a failing handler handler_retries times, then dead-letters the original bytes."""
    calls: list[str] = []
    group = unique("failing")

    def wire(ctx: ServiceContext) -> None:
        async def always_fails(event: Event) -> None:
            calls.append(event.envelope.event_id)
            raise RuntimeError("database on fire")

        ctx.subscribe(RequestSubmitted, always_fails, group_id=group)

    runner = await mesh.start("svc_fail", wire)
    assert runner.context is not None
    event = submitted()
    codec = codec_from_settings(mesh.settings)
    await runner.context.publisher.publish(event)
    topic = mesh.settings.topic_prefix + RequestSubmitted.TOPIC

    [letter] = await asyncio.to_thread(topic_reader, mesh.settings, dlq_topic(topic), count=1)
    headers = {k: v.decode() for k, v in letter.headers() or []}
    assert letter.value() == codec.encode(event)
    assert letter.key() == event.envelope.domain.encode()
    assert "RuntimeError: database on fire" in headers[H_REASON]
    assert headers[H_KIND] == "handler"
    assert headers[H_ATTEMPTS] == str(mesh.settings.handler_retries + 1)
    assert headers[H_SOURCE_TOPIC] == topic
    assert headers[H_GROUP] == mesh.settings.topic_prefix + group  # groups carry the prefix too
    assert int(headers[H_SOURCE_PARTITION]) >= 0 and int(headers[H_SOURCE_OFFSET]) >= 0
    assert calls == [event.envelope.event_id] * (mesh.settings.handler_retries + 1)

    notice_topic = mesh.settings.topic_prefix + MessageDeadLettered.TOPIC
    [raw_notice] = await asyncio.to_thread(topic_reader, mesh.settings, notice_topic, count=1)
    notice = codec.decode(raw_notice.value())
    assert isinstance(notice, MessageDeadLettered)
    assert notice.envelope.run_id == event.envelope.run_id
    assert notice.envelope.causation_id == event.envelope.event_id
    assert (notice.source_topic, notice.consumer_group) == (topic, mesh.settings.topic_prefix + group)
    assert notice.attempts == mesh.settings.handler_retries + 1


@pytest.mark.parametrize(
    ("value", "reason_part"),
    [
        (b"\x7f" + os.urandom(40), "magic"),
        (b"\x00" + struct.pack(">I", 987_654) + b"\x02abc", "987654"),
    ],
    ids=["random-bytes", "unknown-schema-id"],
)
async def test_malformed_records_reach_the_dlq_with_their_decode_reason(
    mesh: Mesh, topic_reader: TopicReader, value: bytes, reason_part: str
) -> None:
    """It dead-letters bytes that do not decode, with the reason, without calling the handler."""
    calls: list[Event] = []

    def wire(ctx: ServiceContext) -> None:
        async def record(event: Event) -> None:
            calls.append(event)

        ctx.subscribe(RequestSubmitted, record, group_id=unique("strict"))

    await mesh.start("svc_strict", wire)
    topic = mesh.settings.topic_prefix + RequestSubmitted.TOPIC
    producer = Producer(client_config(mesh.settings))
    producer.produce(topic, value=value, key=b"k1")
    assert producer.flush(10) == 0

    [letter] = await asyncio.to_thread(topic_reader, mesh.settings, dlq_topic(topic), count=1)
    headers = {k: v.decode() for k, v in letter.headers() or []}
    assert letter.value() == value
    assert letter.key() == b"k1"
    assert headers[H_KIND] == "decode"
    assert reason_part in headers[H_REASON].lower()
    assert headers[H_ATTEMPTS] == "0"
    assert calls == []


async def test_health_is_serving_while_running_and_not_after_stop(mesh: Mesh) -> None:
    """It reports gRPC health SERVING once consumers are subscribed, and stops serving on stop."""

    def wire(ctx: ServiceContext) -> None:
        async def ignore(event: Event) -> None:
            return None

        ctx.subscribe(RequestSubmitted, ignore, group_id=unique("health"))

    runner = await mesh.start("svc_health", wire)
    target = f"127.0.0.1:{runner.grpc_port}"
    assert await check_health(target, mesh.settings)
    await runner.stop(grace=1.0)
    mesh.runners.remove(runner)
    assert not await check_health(target, mesh.settings, timeout=1.0)


async def test_offsets_are_committed_after_handling(mesh: Mesh) -> None:
    """It commits handled records, so a restarted member of the group does not see them again."""
    group = unique("restart")
    seen: list[str] = []

    def wire(ctx: ServiceContext) -> None:
        async def record(event: Event) -> None:
            seen.append(event.envelope.event_id)

        ctx.subscribe(RequestSubmitted, record, group_id=group)

    first = await mesh.start("svc_restart", wire)
    assert first.context is not None
    one, two = submitted(), submitted()
    await first.context.publisher.publish(one)
    await eventually(lambda: _truthy(seen == [one.envelope.event_id]))
    await first.stop(grace=2.0)
    mesh.runners.remove(first)

    mesh.metrics = MeshMetrics()  # count only what the second member consumes
    second = await mesh.start("svc_restart", wire)
    assert second.context is not None
    await second.context.publisher.publish(two)
    await eventually(lambda: _truthy(len(seen) == 2))
    topic = mesh.settings.topic_prefix + RequestSubmitted.TOPIC
    consumed = mesh.sample(
        "streamwright_events_consumed_total",
        service="svc_restart",
        topic=topic,
        event_type=RequestSubmitted.EVENT_TYPE,
    )
    assert seen == [one.envelope.event_id, two.envelope.event_id]
    assert consumed == 1  # the first record was committed, not redelivered


async def _truthy(value: bool) -> bool:
    return value
