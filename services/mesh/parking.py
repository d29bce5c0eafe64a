"""Consumers that stop fetching while idle and fetch again when a producer wakes them.

The embedded broker (Tansu) answers a fetch at once when records are already there, but a
record that arrives while a fetch waits is only returned at the fetch's next check point
(at half of fetch.wait.max.ms, then three quarters, ...). A long wait therefore adds up to
half of it to every hop, and a short one makes every idle consumer fetch hundreds of times
a second. A consumer with `Parking` (services/mesh/topic_consumer.py) avoids both:

- awake, it fetches with a short wait (`fetch_wakeup_wait_ms`, 5 ms);
- after PARK_AFTER_S without a record it *parks*: it pauses its partitions (librdkafka then
  sends no fetch at all) and stops polling;
- a wake-up hint for one of its topics (services.mesh.wakeup, sent by the Publisher after a
  produce is acknowledged) or the probe timer (`fetch_wakeup_probe_ms`, for records whose
  hint was lost) unparks it: it resumes its partitions, its first fetch finds the record
  and Tansu answers at once. Woken by a hint it stays awake until a record comes (then
  PARK_AFTER_S more) or WAKE_WINDOW_S passed, so that a slow first fetch is not dropped by
  parking again; after a probe, PARK_AFTER_S.

A hint is never lost between the decision to park and the pause: it sets the gate, and a
parked consumer whose gate is set unparks at once. The gate is cleared only just before a
resume, and every record produced before that is fetched by a fetch started after it.

Why in the consumer's own poll thread: confluent-kafka serialises every call on a consumer
with its poll(), so pause/resume from the event loop would wait for the poll in progress
(and block the loop meanwhile). Here they run between polls, on the consumer's own
thread (its lane), and a parked consumer is not polling at all. librdkafka's fetcher notices
a resume only on its next round (up to a second later), unless a request wakes it, so an
unpark also asks for one partition's high watermark (one ListOffsets round trip).

Kafka semantics are those of pause/resume: records fetched but not yet polled when a
consumer parks are dropped from librdkafka's queue and fetched again after the resume,
from the position of the last record handed to the application; offsets are committed as
before (consumer.MeshSubscription), after each record's outcome is stored. While parked a
consumer serves group events (rebalances) only at its probes, so at most
`fetch_wakeup_probe_ms` late.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, cast

from confluent_kafka import KafkaException, Message

from services.mesh.logging import get_logger

# An awake consumer parks once it polled nothing for this long (several short fetches).
PARK_AFTER_S = 0.025
# After a wake-up hint a consumer stays awake this long unless a record comes first: its first
# fetch after the resume has to come back (slow on a busy machine), or the record waits for a probe.
WAKE_WINDOW_S = 0.25
# A poll is at most this long, so that commits queued on the consumer's thread wait little.
MAX_POLL_S = 0.1
# Without partitions a consumer polls this long at a time (its group join finishes in a poll).
UNASSIGNED_POLL_S = 1.0
# The kick waits for its answer (about a millisecond): a request that times out while in flight
# makes librdkafka drop the broker connection (socket.max.fails=1), and with it every fetch.
KICK_TIMEOUT_S = 5.0

log = get_logger(__name__)


class Parking:
    """When one consumer polls, parks and unparks; Kafka-free (`consumer` is any object with
    confluent_kafka.Consumer's assignment/poll/pause/resume/get_watermark_offsets).

    `await wait()` in the event loop before each poll (returns at once unless parked), then
    `poll(consumer, woken)` on the consumer's own thread. `wake()` in the event loop.
    """

    def __init__(self, *, probe_s: float) -> None:
        self.gate = asyncio.Event()
        self.parked = False
        self.awake_until = 0.0  # monotonic time before which an empty poll does not park
        self.probe_s = probe_s
        # What the tests and the benchmark look at: an idle consumer adds one unpark, one
        # poll (a few fetches) and one park per probe.
        self.counts = {"polls": 0, "parks": 0, "unparks": 0, "wakeups": 0}

    def wake(self) -> None:
        """A record may be waiting in one of the consumer's topics."""
        self.counts["wakeups"] += 1
        self.gate.set()

    async def wait(self) -> bool:
        """While parked, until a hint or the probe time; True when a hint ended the wait."""
        if not self.parked:
            return False
        # Not polling now, so nothing else waits for this consumer. A hint that came while it
        # was awake is kept in the gate and unparks at once.
        if not self.gate.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.probe_s):
                    await self.gate.wait()
        woken = self.gate.is_set()
        self.gate.clear()  # before the resume: a hint from now on unparks again
        return woken

    def poll(self, consumer: Any, woken: bool) -> Message | None:
        """One poll, with the unpark before it and the park after it (the consumer's thread)."""
        if self.parked:
            self._unpark(consumer, WAKE_WINDOW_S if woken else PARK_AFTER_S)
        self.counts["polls"] += 1
        assignment = consumer.assignment()
        if not assignment:
            # Joining the group (or more members than partitions): nothing to fetch, and the
            # join finishes inside poll, so wait in poll, not in the gate.
            return cast(Message | None, consumer.poll(min(self.probe_s, UNASSIGNED_POLL_S)))
        now = time.monotonic()
        message = consumer.poll(min(MAX_POLL_S, max(PARK_AFTER_S, self.awake_until - now)))
        now = time.monotonic()
        if message is not None and message.error() is None:
            # The record a hint announced is here: park once nothing followed it for PARK_AFTER_S.
            self.awake_until = now + PARK_AFTER_S
        elif now >= self.awake_until:
            try:
                consumer.pause(assignment)
            except KafkaException as error:
                log.warning("could not park a consumer", error=str(error))
            else:
                self.parked = True
                self.counts["parks"] += 1
        return cast(Message | None, message)

    def _unpark(self, consumer: Any, awake_s: float) -> None:
        self.parked = False
        self.awake_until = time.monotonic() + awake_s
        self.counts["unparks"] += 1
        assignment = consumer.assignment()
        if not assignment:
            return
        try:
            consumer.resume(assignment)
        except KafkaException as error:
            log.warning("could not unpark a consumer", error=str(error))
            return
        # Any request to the partition's broker makes librdkafka's fetcher look at its
        # partitions now instead of at its next timed round (up to 1 s away).
        try:
            consumer.get_watermark_offsets(assignment[0], timeout=KICK_TIMEOUT_S, cached=False)
        except KafkaException as error:
            log.warning("could not wake the fetcher of an unparked consumer", error=str(error))
