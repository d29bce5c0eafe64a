"""One-hop latency through the real runtime over the embedded broker.

    .venv/bin/python benchmarks/hop_latency.py [--events 1000] [--concurrency 1] [--pause-ms 0]

Publisher (Avro, idempotent producer, awaited ack) -> Tansu -> consumer wrapper (decode,
dedupe lookup, handler, processed marker in SQLite, manual commit) -> handler. The latency
of one event is handler time minus the publish start. By default each publish waits only for
the previous one's acknowledgement, so events stream in while the consumer is busy fetching.
With --pause-ms P each event is published only after the previous one was handled, after a
random pause of up to P ms: the record meets an idle consumer at a random point of its fetch
wait (or, with STREAMWRIGHT_FETCH_WAKEUP=on, a parked one), as each hop of a pipeline run does.
Settings come from the environment (STREAMWRIGHT_FETCH_WAIT_MAX_MS, STREAMWRIGHT_FETCH_WAKEUP).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from services.mesh.embedded_broker import EmbeddedBroker
from services.mesh.events import Envelope, Event, RequestSubmitted, Source
from services.mesh.service import ServiceContext, ServiceParts, ServiceRunner
from services.mesh.settings import MeshSettings


def make_event(i: int) -> RequestSubmitted:
    return RequestSubmitted(
        envelope=Envelope.new(
            event_type=RequestSubmitted.EVENT_TYPE,
            producer="bench",
            run_id=f"run-{i}",
            request_id=f"req-{i}",
            domain=f"domain-{i % 16}",
        ),
        document="# bench\n",
        source=Source.CLI,
    )


async def run(events: int, concurrency: int, pause_ms: float, home: Path, bootstrap: str) -> list[float]:
    settings = MeshSettings(
        home=home,
        bootstrap_servers=bootstrap,
        topic_prefix=f"bench-{uuid.uuid4().hex[:8]}.",
        grpc_port=0,
        metrics_port=0,
        log_level="WARNING",
    )
    sent: dict[str, float] = {}
    latencies: list[float] = []
    done = asyncio.Event()
    ready = asyncio.Event()
    handled = asyncio.Event()

    def build(ctx: ServiceContext) -> ServiceParts:
        async def on_event(event: Event) -> None:
            start = sent.get(event.envelope.event_id)
            if start is None:  # the warm-up event
                ready.set()
                return
            latencies.append(time.perf_counter() - start)
            handled.set()
            if len(latencies) >= events:
                done.set()

        ctx.subscribe(RequestSubmitted, on_event, group_id="bench")
        return ServiceParts()

    runner = ServiceRunner("bench", build, settings=settings)
    await runner.start()
    assert runner.context is not None
    publisher = runner.context.publisher
    try:
        await publisher.publish(make_event(-1))  # waits out the group join
        await asyncio.wait_for(ready.wait(), timeout=60)
        semaphore = asyncio.Semaphore(concurrency)

        async def send(i: int) -> None:
            async with semaphore:
                event = make_event(i)
                sent[event.envelope.event_id] = time.perf_counter()
                await publisher.publish(event)

        if pause_ms > 0:
            for i in range(events):
                await asyncio.sleep(random.uniform(0, pause_ms) / 1000)
                handled.clear()
                await send(i)
                await asyncio.wait_for(handled.wait(), timeout=30)
        else:
            await asyncio.gather(*(send(i) for i in range(events)))
        await asyncio.wait_for(done.wait(), timeout=120)
    finally:
        await runner.stop()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=1, help="publishes in flight at once")
    parser.add_argument(
        "--pause-ms", type=float, default=0.0, help="one event at a time, after a random pause of up to this"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker(Path(tmp)) as broker:
        latencies = asyncio.run(
            run(args.events, args.concurrency, args.pause_ms, Path(tmp), broker.bootstrap_servers)
        )
    ms = sorted(x * 1000 for x in latencies)
    p50 = statistics.median(ms)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    settings = MeshSettings()
    mode = f"one at a time, pauses up to {args.pause_ms:g} ms" if args.pause_ms > 0 else "streamed"
    wakeup = (
        f"wake-up on (awake fetch wait {settings.fetch_wakeup_wait_ms} ms)"
        if settings.fetch_wakeup == "on"
        else f"fetch wait {settings.fetch_wait_max_ms} ms"
    )
    print(f"events={len(ms)} {mode}, concurrency={args.concurrency}, {wakeup}")
    print(f"hop latency ms: p50={p50:.2f} p99={p99:.2f} min={ms[0]:.2f} max={ms[-1]:.2f}")
    print(f"target < 10 ms: p50 {'met' if p50 < 10 else 'NOT met'}, p99 {'met' if p99 < 10 else 'NOT met'}")


if __name__ == "__main__":
    main()
