"""One-hop latency through the real runtime over the embedded broker.

    .venv/bin/python benchmarks/hop_latency.py [--events 1000] [--concurrency 1]

Publisher (Avro, idempotent producer, awaited ack) -> Tansu -> consumer wrapper (decode,
dedupe lookup, handler, processed marker in SQLite, manual commit) -> handler. The latency
of one event is handler time minus the publish start; events are sent one at a time by
default, so it is the latency of an idle mesh, not of a saturated one.
"""

from __future__ import annotations

import argparse
import asyncio
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


async def run(events: int, concurrency: int, home: Path, bootstrap: str) -> list[float]:
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

    def build(ctx: ServiceContext) -> ServiceParts:
        async def on_event(event: Event) -> None:
            start = sent.get(event.envelope.event_id)
            if start is None:  # the warm-up event
                ready.set()
                return
            latencies.append(time.perf_counter() - start)
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker(Path(tmp)) as broker:
        latencies = asyncio.run(run(args.events, args.concurrency, Path(tmp), broker.bootstrap_servers))
    ms = sorted(x * 1000 for x in latencies)
    p50 = statistics.median(ms)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(f"events={len(ms)} concurrency={args.concurrency}")
    print(f"hop latency ms: p50={p50:.2f} p99={p99:.2f} min={ms[0]:.2f} max={ms[-1]:.2f}")
    print(f"target p50 < 10 ms: {'met' if p50 < 10 else 'NOT met'}")


if __name__ == "__main__":
    main()
