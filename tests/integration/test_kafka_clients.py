"""The runtime's own Kafka clients (services/mesh/kafka.py, topic_consumer.py) on the real Tansu.

What the rest of the mesh tests take for granted: a produce is awaited until the broker
acknowledged it, the fetch loop hands records over one at a time and polls again only after
the handover returned (back-pressure), a record whose handover fails does not stop the loop,
commits go through the consumer's own thread, and stop() leaves the group so another member
takes the partitions from the committed offsets.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest
from confluent_kafka import Message, TopicPartition

from services.mesh.kafka import KafkaClients, provision_topics
from services.mesh.settings import MeshSettings
from tests.integration.conftest import unique

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


async def until(check: Callable[[], bool], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def one_partition(settings: MeshSettings) -> tuple[MeshSettings, str]:
    settings = settings.model_copy(update={"topic_partitions": 1})
    topic = settings.topic_prefix + "clients"
    provision_topics(settings, ["clients"])
    return settings, topic


async def started(
    settings: MeshSettings, topic: str, group: str, on_record: Callable[[Message], Awaitable[None]]
) -> KafkaClients:
    clients = KafkaClients(settings, client_id=unique("client"))
    clients.consumer(topic, group_id=group, on_record=on_record)
    await clients.start()
    return clients


async def test_records_are_handed_over_in_order_and_the_next_poll_waits_for_the_handover(
    mesh_settings: MeshSettings,
) -> None:
    settings, topic = one_partition(mesh_settings)
    seen: list[bytes] = []
    release = asyncio.Event()

    async def on_record(message: Message) -> None:
        seen.append(message.value() or b"")
        if len(seen) == 1:
            await release.wait()  # the loop must not take record 2 while record 1 is held

    clients = await started(settings, topic, unique("g"), on_record)
    try:
        for i in range(3):
            await clients.produce(topic, f"r{i}".encode(), key=b"k", headers={"h": str(i)})
        await until(lambda: len(seen) == 1)
        await asyncio.sleep(0.5)
        assert seen == [b"r0"]
        release.set()
        await until(lambda: len(seen) == 3)
        assert seen == [b"r0", b"r1", b"r2"]
    finally:
        await clients.stop()


async def test_a_failing_handover_does_not_stop_the_loop(mesh_settings: MeshSettings) -> None:
    settings, topic = one_partition(mesh_settings)
    seen: list[bytes] = []

    async def on_record(message: Message) -> None:
        seen.append(message.value() or b"")
        if message.value() == b"bad":
            raise ValueError("a bug in the handover")

    clients = await started(settings, topic, unique("g"), on_record)
    try:
        for value in (b"bad", b"good"):
            await clients.produce(topic, value, key=None, headers={})
        await until(lambda: seen == [b"bad", b"good"])
    finally:
        await clients.stop()


async def test_committed_offsets_survive_a_stop_and_the_next_member_resumes_after_them(
    mesh_settings: MeshSettings,
) -> None:
    settings, topic = one_partition(mesh_settings)
    group = unique("g")
    first: list[int] = []
    clients = KafkaClients(settings, client_id="first")

    async def take(message: Message) -> None:
        first.append(message.offset() or 0)
        if message.value() == b"r1":  # commit after the second record only
            source = clients.consumers[0]
            assert source.consumer is not None
            commit = source.consumer.commit
            offsets = [TopicPartition(topic, 0, (message.offset() or 0) + 1)]
            await source.call(lambda: commit(offsets=offsets, asynchronous=False))

    clients.consumer(topic, group_id=group, on_record=take)
    await clients.start()
    for i in range(3):
        await clients.produce(topic, f"r{i}".encode(), key=None, headers={})
    await until(lambda: len(first) == 3)
    assert clients.consumers[0].assignment == {(topic, 0)}
    await clients.stop()
    assert clients.consumers[0].consumer is None

    second: list[bytes] = []

    async def take_again(message: Message) -> None:
        second.append(message.value() or b"")

    again = await started(settings, topic, group, take_again)
    try:
        await until(lambda: second == [b"r2"])  # r0 and r1 were committed, r2 was not
    finally:
        await again.stop()


async def test_producing_before_start_or_after_stop_is_refused(mesh_settings: MeshSettings) -> None:
    settings, topic = one_partition(mesh_settings)
    clients = KafkaClients(settings, client_id="p")
    with pytest.raises(RuntimeError, match="not started"):
        await clients.produce(topic, b"v", key=None, headers={})
    await clients.start()
    await clients.produce(topic, b"v", key=None, headers={})  # acknowledged
    await clients.stop()
    with pytest.raises(RuntimeError, match="not started"):
        await clients.produce(topic, b"v", key=None, headers={})
