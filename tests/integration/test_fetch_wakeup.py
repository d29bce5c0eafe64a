"""Fetch wake-ups on the real Tansu broker: idle consumers park, producers wake them.

With `fetch_wakeup=on` (what `streamwright up` sets for the embedded broker) an idle consumer
pauses its partitions and stops polling; a Publisher's hint after each acknowledged record
wakes the consumers of that topic in every process of the installation, and a probe every
`fetch_wakeup_probe_ms` finds the records whose hint was lost. Each runner here has its own
wake-up socket, as separate service processes do.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from confluent_kafka import Producer

from services.mesh.embedded_broker import EmbeddedBroker, free_port, kafka_ready
from services.mesh.events import Envelope, Event, RequestAccepted, RequestSubmitted, Source
from services.mesh.kafka import HEADER_EVENT_ID, HEADER_EVENT_TYPE, client_config
from services.mesh.parking import Parking
from services.mesh.service import ServiceContext, ServiceParts, ServiceRunner
from services.mesh.settings import MeshSettings
from services.mesh.wakeup import available

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(60),
    pytest.mark.skipif(not available(), reason="wake-up hints are Linux-only"),
]

KAFKA_FETCH = 1  # the Fetch request's api key


def submitted(domain: str) -> RequestSubmitted:
    return RequestSubmitted(
        envelope=Envelope.new(
            event_type=RequestSubmitted.EVENT_TYPE,
            producer="test",
            run_id=f"run-{uuid.uuid4().hex[:12]}",
            request_id=f"req-{uuid.uuid4().hex[:12]}",
            domain=domain,
        ),
        document="# request\n",
        source=Source.CLI,
    )


Wire = Callable[[ServiceContext], None]


async def start(name: str, settings: MeshSettings, wire: Wire, runners: list[ServiceRunner]) -> ServiceRunner:
    def build(ctx: ServiceContext) -> ServiceParts:
        wire(ctx)
        return ServiceParts()

    runner = ServiceRunner(name, build, settings=settings)
    runners.append(runner)
    await runner.start()
    return runner


@pytest.fixture
async def runners() -> AsyncIterator[list[ServiceRunner]]:
    started: list[ServiceRunner] = []
    yield started
    for runner in reversed(started):
        await runner.stop(grace=2.0)


def consumers(runner: ServiceRunner) -> list[Parking]:
    """The parking state of each of `runner`'s consumers (all of them park with wake-ups on)."""
    assert runner.context is not None
    found = [s.source.parking if s.source is not None else None for s in runner.context.subscriptions]
    return (
        [parking for parking in found if parking is not None]
        if all(found)
        else pytest.fail("a consumer without parking")
    )


async def until(check: Callable[[], bool | Awaitable[bool]], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while True:
        result = check()
        if await result if not isinstance(result, bool) else result:
            return
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def wakeup_settings(settings: MeshSettings, *, probe_ms: int) -> MeshSettings:
    return settings.model_copy(update={"fetch_wakeup": "on", "fetch_wakeup_probe_ms": probe_ms})


async def all_parked(runner: ServiceRunner) -> None:
    """Until every consumer of `runner` has parked: it has partitions (only then it parks) and
    nothing to do. (Not consumer.assignment(): from the event loop, that waits for the poll.)"""
    await until(lambda: all(c.parked for c in consumers(runner)))


async def test_a_parked_consumer_handles_an_event_promptly_after_another_process_publishes_it(
    mesh_settings: MeshSettings, runners: list[ServiceRunner]
) -> None:
    # A probe every 30 s: only the publisher's hint can make the consumer fetch in time.
    settings = wakeup_settings(mesh_settings, probe_ms=30_000)
    handled: dict[str, float] = {}

    def wire(ctx: ServiceContext) -> None:
        async def record(event: Event) -> None:
            handled[event.envelope.event_id] = time.monotonic()

        ctx.subscribe(RequestSubmitted, record, group_id="wakeup-b")

    receiver = await start("svc_b", settings, wire, runners)
    sender = await start("svc_a", settings, lambda ctx: None, runners)
    assert sender.context is not None
    await all_parked(receiver)
    [consumer] = consumers(receiver)

    for attempt in range(3):  # each time from parked
        await all_parked(receiver)
        polls_before = consumer.counts["polls"]
        event = submitted(f"domain-{attempt}")
        published = time.monotonic()
        await sender.context.publisher.publish(event)
        await until(lambda event=event: event.envelope.event_id in handled, within=10.0)  # type: ignore[misc]
        assert handled[event.envelope.event_id] - published < 5.0  # the probe would take 30 s
        assert consumer.counts["polls"] > polls_before
    assert consumer.counts["wakeups"] >= 3
    assert consumer.counts["unparks"] >= 3


async def test_nothing_is_lost_when_hints_are_lost_or_consumers_park_between_records(
    mesh_settings: MeshSettings, runners: list[ServiceRunner]
) -> None:
    settings = wakeup_settings(mesh_settings, probe_ms=300)
    seen: list[tuple[str, str]] = []  # (domain, event id) in the order handled

    def wire(ctx: ServiceContext) -> None:
        async def record(event: Event) -> None:
            seen.append((event.envelope.domain, event.envelope.event_id))

        ctx.subscribe(RequestSubmitted, record, group_id="wakeup-lossless")

    receiver = await start("svc_b", settings, wire, runners)
    sender = await start("svc_a", settings, lambda ctx: None, runners)
    assert sender.context is not None and receiver.context is not None
    await all_parked(receiver)
    # A plain producer sends no hints (like a client outside the mesh, or a lost datagram).
    raw = Producer({**client_config(settings), "enable.idempotence": True, "linger.ms": 0})
    codec = receiver.context.codec
    sent: dict[str, list[str]] = {}
    rng = random.Random(17)
    try:
        for i in range(24):
            hinted = i % 2 == 0
            event = submitted(f"{'hinted' if hinted else 'silent'}-{i % 3}")
            sent.setdefault(event.envelope.domain, []).append(event.envelope.event_id)
            if hinted:
                await sender.context.publisher.publish(event)
            else:
                raw.produce(
                    settings.topic_prefix + RequestSubmitted.TOPIC,
                    codec.encode(event),
                    key=event.envelope.domain.encode(),
                    headers={
                        HEADER_EVENT_TYPE: event.envelope.event_type,
                        HEADER_EVENT_ID: event.envelope.event_id,
                    },
                )
                await asyncio.to_thread(raw.flush, 10)
            await asyncio.sleep(rng.choice([0.0, 0.0, 0.01, 0.05, 0.35]))  # parks in between
    finally:
        await asyncio.to_thread(raw.flush, 10)
    await until(lambda: len(seen) >= 24, within=20.0)
    await asyncio.sleep(0.5)  # any duplicate would show up now

    assert len(seen) == 24 and len({event_id for _, event_id in seen}) == 24
    for domain, ids in sent.items():
        assert [event_id for d, event_id in seen if d == domain] == ids  # in order per key
    [consumer] = consumers(receiver)
    assert consumer.counts["parks"] >= 3


class FetchCounter:
    """A TCP proxy in front of the broker that counts the Fetch requests passing through."""

    def __init__(self, broker_port: int) -> None:
        self.broker_port = broker_port
        self.fetches = 0

    async def serve(self, client: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        broker, broker_out = await asyncio.open_connection("127.0.0.1", self.broker_port)

        async def requests() -> None:  # size-prefixed frames: int32 size, int16 api key, ...
            try:
                while True:
                    size = await client.readexactly(4)
                    body = await client.readexactly(int.from_bytes(size, "big"))
                    if int.from_bytes(body[:2], "big") == KAFKA_FETCH:
                        self.fetches += 1
                    broker_out.write(size + body)
                    await broker_out.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                broker_out.close()

        async def responses() -> None:
            try:
                while data := await broker.read(65536):
                    client_out.write(data)
                    await client_out.drain()
            except ConnectionError:
                pass
            finally:
                client_out.close()

        await asyncio.gather(requests(), responses())


@pytest.fixture
async def counted_broker(tmp_path: Path) -> AsyncIterator[tuple[str, FetchCounter]]:
    """A broker of its own that every client reaches through a FetchCounter."""
    proxy_port = free_port()
    broker = EmbeddedBroker(tmp_path / "counted", advertised_port=proxy_port)
    await asyncio.to_thread(broker.start)
    counter = FetchCounter(broker.port)
    server = await asyncio.start_server(counter.serve, "127.0.0.1", proxy_port)
    bootstrap = f"127.0.0.1:{proxy_port}"
    try:
        assert await asyncio.to_thread(kafka_ready, bootstrap, timeout=10.0)
        yield bootstrap, counter
    finally:
        server.close()
        await asyncio.to_thread(broker.stop)


async def test_idle_parked_consumers_send_almost_no_fetches(
    mesh_settings: MeshSettings,
    counted_broker: tuple[str, FetchCounter],
    runners: list[ServiceRunner],
) -> None:
    bootstrap, counter = counted_broker
    settings = wakeup_settings(mesh_settings, probe_ms=1000).model_copy(
        update={"bootstrap_servers": bootstrap}
    )
    handled: list[str] = []

    def wire(ctx: ServiceContext) -> None:
        async def record(event: Event) -> None:
            handled.append(event.envelope.event_id)

        ctx.subscribe(RequestSubmitted, record, group_id="idle-1")
        ctx.subscribe(RequestAccepted, record, group_id="idle-2")

    runner = await start("svc", settings, wire, runners)
    assert runner.context is not None
    await all_parked(runner)
    idle_s = 2.0
    fetches, polls = counter.fetches, [c.counts["polls"] for c in consumers(runner)]
    await asyncio.sleep(idle_s)
    idle_fetches = counter.fetches - fetches
    idle_polls = [c.counts["polls"] - p for c, p in zip(consumers(runner), polls, strict=True)]

    # Awake, each consumer would fetch every 5 ms (fetch_wakeup_wait_ms): ~800 fetches here.
    # Parked, each probes once a second, a few short fetches each.
    probes = 2 * (idle_s / 1.0 + 1)
    assert idle_fetches <= probes * 8, f"{idle_fetches} fetches in {idle_s} s idle"
    assert all(p <= idle_s / 1.0 + 1 for p in idle_polls), idle_polls
    # And it still consumes, at once.
    event = submitted("domain-idle")
    await runner.context.publisher.publish(event)
    await until(lambda: event.envelope.event_id in handled, within=5.0)
