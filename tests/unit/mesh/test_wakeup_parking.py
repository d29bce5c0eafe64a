"""Wake-up hints between processes and the parking of consumers, without Kafka.

services/mesh/wakeup.py carries "topic T has a new record" between the processes of one
installation; services/mesh/parking.py decides when a consumer stops fetching (parks) and
when it fetches again. The consumer here is a fake with confluent_kafka.Consumer's methods.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from services.mesh import parking
from services.mesh.parking import Parking
from services.mesh.wakeup import WakeupBus, available

pytestmark = pytest.mark.skipif(not available(), reason="wake-up hints are Linux-only")


async def settle(condition: Any, within: float = 2.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


@pytest.fixture
async def buses(tmp_path: Path) -> AsyncIterator[list[WakeupBus]]:
    """Three processes' buses: two of one installation, one of another (other home)."""
    made = [WakeupBus(tmp_path / "a"), WakeupBus(tmp_path / "a"), WakeupBus(tmp_path / "b")]
    for bus in made:
        bus.start()
    yield made
    for bus in made:
        bus.close()


async def test_a_hint_reaches_the_consumers_of_its_topic_in_every_process_of_the_installation(
    buses: list[WakeupBus],
) -> None:
    sender, peer, other_home = buses
    seen: list[str] = []
    peer.subscribe("t.orders", lambda: seen.append("peer orders"))
    peer.subscribe("t.other", lambda: seen.append("peer other"))
    sender.subscribe("t.orders", lambda: seen.append("sender orders"))  # the sender's own consumers
    other_home.subscribe("t.orders", lambda: seen.append("other installation"))

    sender.notify("t.orders")
    await settle(lambda: "peer orders" in seen)
    await asyncio.sleep(0.05)  # time for any hint that should not come

    assert sorted(seen) == ["peer orders", "sender orders"]
    assert peer.received == 1 and other_home.received == 0


async def test_an_unsubscribed_callback_and_a_closed_process_get_no_more_hints(
    buses: list[WakeupBus],
) -> None:
    sender, peer, _ = buses
    seen: list[str] = []
    unsubscribe = peer.subscribe("t.orders", lambda: seen.append("peer"))
    unsubscribe()
    sender.notify("t.orders")
    await asyncio.sleep(0.05)
    assert seen == []

    peer.close()
    assert sorted(p.name for p in sender.registry.iterdir()) == [sender.name]
    sender.notify("t.orders")  # nobody else to tell: no error


async def test_an_entry_left_by_a_killed_process_is_dropped_on_the_next_hint(tmp_path: Path) -> None:
    sender = WakeupBus(tmp_path)
    sender.start()
    try:
        (sender.registry / "99999999-deadbeef").touch()  # listed, but nothing listens there
        sender.notify("t.orders")
        assert sorted(p.name for p in sender.registry.iterdir()) == [sender.name]
    finally:
        sender.close()


class Record(str):
    """A record as poll() returns it (a confluent_kafka.Message without an error)."""

    def error(self) -> None:
        return None


class FakeConsumer:
    """confluent_kafka.Consumer's methods that parking uses; `records` are handed out by poll."""

    def __init__(self, assignment: list[str]) -> None:
        self._assignment = assignment
        self.records: list[Record] = []
        self.calls: list[str] = []
        self.paused = False

    def assignment(self) -> list[str]:
        return list(self._assignment)

    def poll(self, timeout: float) -> Record | None:
        self.calls.append("poll")
        if self.records and not self.paused:
            return self.records.pop(0)
        return None

    def pause(self, partitions: list[str]) -> None:
        self.calls.append("pause")
        self.paused = True

    def resume(self, partitions: list[str]) -> None:
        self.calls.append("resume")
        self.paused = False

    def get_watermark_offsets(self, partition: str, timeout: float, cached: bool) -> tuple[int, int]:
        self.calls.append("kick")
        return 0, 0


@pytest.fixture(autouse=True)
def short_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    # poll() of the fake does not wait, so "no record for PARK_AFTER_S" is one empty poll.
    monkeypatch.setattr(parking, "PARK_AFTER_S", 0.0)
    monkeypatch.setattr(parking, "WAKE_WINDOW_S", 0.0)


async def test_an_idle_consumer_parks_and_then_neither_polls_nor_fetches_until_a_hint() -> None:
    consumer, park = FakeConsumer(["t-0", "t-1"]), Parking(probe_s=30.0)
    assert not await park.wait()
    assert park.poll(consumer, woken=False) is None
    assert park.parked and consumer.paused  # paused partitions: librdkafka sends no fetch

    waiting = asyncio.create_task(park.wait())
    await asyncio.sleep(0.1)
    assert not waiting.done()  # parked: no poll at all, however long
    consumer.records.append(Record("record"))
    park.wake()
    assert await asyncio.wait_for(waiting, 1.0) is True
    assert park.poll(consumer, woken=True) == "record"
    assert consumer.calls[-4:] == ["pause", "resume", "kick", "poll"]
    assert park.counts == {"polls": 2, "parks": 1, "unparks": 1, "wakeups": 1}


async def test_a_hint_that_comes_while_awake_is_not_lost_when_the_consumer_parks() -> None:
    """The race: a record's hint arrives while the consumer is awake, but its fetch had started
    before the record was there, so the poll comes back empty and the consumer parks."""
    consumer, park = FakeConsumer(["t-0"]), Parking(probe_s=30.0)
    park.wake()  # while awake: nothing to do yet
    assert park.poll(consumer, woken=False) is None  # the record was not fetched...
    assert park.parked  # ...and the consumer parked (its queue dropped)
    consumer.records.append(Record("record"))

    assert await asyncio.wait_for(park.wait(), 1.0) is True  # the kept hint unparks at once
    assert park.poll(consumer, woken=True) == "record"


async def test_a_parked_consumer_still_probes_so_a_record_without_a_hint_is_not_lost() -> None:
    consumer, park = FakeConsumer(["t-0"]), Parking(probe_s=0.05)
    park.poll(consumer, woken=False)
    assert park.parked
    consumer.records.append(Record("record from a producer that sends no hints"))

    started = time.monotonic()
    assert await park.wait() is False  # the probe, not a hint
    assert time.monotonic() - started >= 0.04
    assert park.poll(consumer, woken=False) == "record from a producer that sends no hints"


async def test_a_consumer_without_partitions_waits_in_poll_and_does_not_park() -> None:
    consumer, park = FakeConsumer([]), Parking(probe_s=30.0)
    assert park.poll(consumer, woken=False) is None
    assert not park.parked and consumer.calls == ["poll"]  # the group join finishes inside poll
