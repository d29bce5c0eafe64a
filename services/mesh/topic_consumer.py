"""One Kafka consumer per subscription, on a thread of its own, feeding the event loop.

confluent-kafka serialises every call on a consumer with its poll(): a commit, pause or
resume made from the event loop while a poll runs would stall the loop (every handler of
the process) until the poll returns. So each consumer has one thread, its *lane*, and every
call on it goes there: create, subscribe, poll, commit, pause/resume, close. The event loop
only awaits those calls (`call`).

The fetch loop polls one record, awaits `on_record` with it and only then polls again.
`on_record` (consumer.MeshSubscription.on_message) returns once one of its slots is free,
so when every slot is busy nothing is polled and librdkafka's prefetch queue (bounded by
queued.max.messages.kbytes) fills and stops fetching: nothing queues without limit.

With `parking` (services/mesh/parking.py) the consumer stops fetching while idle and a
wake-up hint for its topic (services/mesh/wakeup.py) makes it fetch again.

Why not a framework (FastStream was used before): committing the lowest offset still in
flight per partition, running calls on the consumer's own thread and parking idle consumers
needed its private classes; this is the loop it ran, and nothing else (docs/runtime.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from services.mesh.logging import get_logger
from services.mesh.parking import MAX_POLL_S, Parking
from services.mesh.wakeup import WakeupBus

T = TypeVar("T")
# How long stop() waits for the fetch loop to see it (a poll is at most a second).
STOP_WAIT_S = 3.0

log = get_logger(__name__)
# librdkafka's own log lines (served by poll) go through the standard library, not stderr.
KAFKA_LOG = logging.getLogger("streamwright.librdkafka")


class TopicConsumer:
    """A confluent_kafka.Consumer of one topic in one consumer group, with its fetch loop."""

    def __init__(
        self,
        topic: str,
        config: dict[str, Any],
        on_record: Callable[[Message], Awaitable[None]],
        *,
        parking: Parking | None = None,
        wakeup: WakeupBus | None = None,
    ) -> None:
        self.topic = topic
        self.group_id = str(config.get("group.id", ""))
        self.parking = parking
        self.consumer: Consumer | None = None  # set by start()
        self.assignment: frozenset[tuple[str, int]] = frozenset()  # updated on the lane by rebalances
        self._config = config
        self._on_record = on_record
        self._wakeup = wakeup
        self._lane = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"kafka:{topic}")
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._last_error: int | None = None
        self._unsubscribe: Callable[[], None] | None = None

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the consumer's lane (RuntimeError once the consumer is closed)."""
        return await asyncio.get_running_loop().run_in_executor(self._lane, fn, *args)

    async def start(self) -> None:
        """Create the consumer, subscribe to the topic and start fetching."""
        self.consumer = await self.call(self._open)
        if self.parking is not None and self._wakeup is not None:
            self._unsubscribe = self._wakeup.subscribe(self.topic, self.parking.wake)
        self._task = asyncio.create_task(self._fetch_loop(), name=f"fetch {self.topic} ({self.group_id})")

    def _open(self) -> Consumer:
        consumer = Consumer(self._config, logger=KAFKA_LOG)
        consumer.subscribe(
            [self.topic], on_assign=self._assigned, on_revoke=self._revoked, on_lost=self._revoked
        )
        return consumer

    def _assigned(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.assignment = self.assignment | {(p.topic, p.partition) for p in partitions}

    def _revoked(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.assignment = self.assignment - {(p.topic, p.partition) for p in partitions}

    async def _fetch_loop(self) -> None:
        assert self.consumer is not None
        consumer = self.consumer
        while not self._stopping:
            woken = await self.parking.wait() if self.parking is not None else False
            if self._stopping:  # stop_fetching() ran during the wait
                break  # type: ignore[unreachable]  # mypy keeps the narrowing across the await
            if self.parking is not None:
                message = await self.call(self.parking.poll, consumer, woken)
            else:
                message = await self.call(consumer.poll, MAX_POLL_S)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                self._log_error(error)
                continue
            self._last_error = None
            try:
                await self._on_record(message)
            except Exception as failure:  # the loop must outlive one bad record; it stays uncommitted
                log.error("record not taken", topic=self.topic, offset=message.offset(), error=repr(failure))

    def _log_error(self, error: KafkaError) -> None:
        """Errors the consumer reports in place of a record (broker down, unknown topic, ...).

        librdkafka retries on its own; one line per change of error, not one per poll.
        """
        if error.code() == KafkaError._PARTITION_EOF or error.code() == self._last_error:
            return
        self._last_error = error.code()
        level = log.error if error.fatal() else log.warning
        level("kafka consumer error", topic=self.topic, group=self.group_id, error=error.str())

    async def stop_fetching(self) -> None:
        """Poll no more (the record being handed over, if any, is still taken)."""
        self._stopping = True
        if self.parking is not None:
            self.parking.gate.set()  # a parked loop waits on the gate: let it see the stop
        if self._task is not None:
            _, late = await asyncio.wait([self._task], timeout=STOP_WAIT_S)
            for task in late:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def close(self) -> None:
        """Stop fetching, leave the group and release the consumer's thread."""
        await self.stop_fetching()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.consumer is not None:
            try:
                await self.call(self.consumer.close)
            except Exception as error:  # closing must not stop the service's shutdown
                log.warning("kafka consumer close failed", topic=self.topic, error=str(error))
            self.consumer = None
        self._lane.shutdown(wait=False)
