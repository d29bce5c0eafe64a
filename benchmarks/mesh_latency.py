"""Hop latency and idle CPU of a mesh-shaped set of consumers over the embedded broker.

    .venv/bin/python benchmarks/mesh_latency.py [--waits 1,5,10,25,50,100] [--wakeup-waits 5]
                                                [--probe-ms 1000] [--repeat 3] [--idle 15] [--pings 150]

Rows: one per fetch wait without wake-ups (`--waits`, STREAMWRIGHT_FETCH_WAIT_MAX_MS) and one
per awake fetch wait with wake-ups on (`--wakeup-waits`, STREAMWRIGHT_FETCH_WAKEUP_WAIT_MS;
parked consumers probe every `--probe-ms`). See docs/runtime.md, "Hop latency on the
embedded broker".

For each row a fresh Tansu and five child processes start, named and subscribed like the
real services (LAYOUT: the topics each bootstrap subscribes, 24 subscriptions in all; every
subscription is its own librdkafka consumer and consumer group). Their handlers do nothing,
except the "ingest" one, which answers each RequestSubmitted with a RequestAccepted, as the
real ingest does. Then:

1. idle CPU: once every consumer has its partitions, the CPU time (user + system, from
   /proc) that the five children and Tansu use over `--idle` seconds with no traffic;
2. hop latency: this process publishes RequestSubmitted, one at a time after a random pause
   (so a record lands at a random point of a waiting fetch), and receives the RequestAccepted
   the "ingest" child publishes: two hops through the real runtime (publish, fetch, decode,
   dedupe lookup, handler, processed marker, commit), across processes. A hop is half of
   that round trip.

CPU time is what each process itself used, so other work on the machine changes it little;
latency is wall time and does feel it. Run it a few times; the spread is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.mesh.consumer import MeshSubscription
from services.mesh.embedded_broker import EmbeddedBroker
from services.mesh.events import (
    EVENTS,
    Envelope,
    Event,
    GateDecided,
    RequestAccepted,
    RequestSubmitted,
    RunCompleted,
    RunStarted,
    RunStartFailed,
    Source,
    SqlGenerated,
)
from services.mesh.logging import configure_logging
from services.mesh.service import ServiceContext, ServiceParts, ServiceRunner
from services.mesh.settings import MeshSettings

# The subscriptions of each service's bootstrap (services/<name>/bootstrap.py); the generator
# subscribes ValidationScored as well when an LLM is configured.
LAYOUT: dict[str, list[type[Event]]] = {
    "ingest": [RequestSubmitted],
    "generator": [RequestAccepted, GateDecided],
    "validator": [RequestAccepted, SqlGenerated, RunCompleted],
    "knowledge": [RequestAccepted, GateDecided, RunStarted, RunStartFailed],
    "router": list(EVENTS.values()),
}
HOP_TARGET_MS = 10.0
READY = "ready"


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _accepted_from(event: Event) -> RequestAccepted:
    return RequestAccepted(
        envelope=Envelope.caused_by(event, event_type=RequestAccepted.EVENT_TYPE, producer="ingest"),
        revision=1,
        content_hash="sha256:0",
        spec_version="v3",
        spec_json="{}",
    )


def _submitted(i: int) -> RequestSubmitted:
    return RequestSubmitted(
        envelope=Envelope.new(
            event_type=RequestSubmitted.EVENT_TYPE,
            producer="bench",
            run_id=f"run-{i}-{uuid.uuid4().hex[:6]}",
            request_id=f"req-{i}",
            domain=f"domain-{i % 16}",
        ),
        document="# bench\n",
        source=Source.CLI,
    )


async def _all_assigned(ctx: ServiceContext, within: float = 180.0) -> None:
    """Until every subscription of `ctx` has partitions assigned (its group join is done)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if all(_assigned(s) for s in ctx.subscriptions):
            return
        await asyncio.sleep(0.2)
    raise TimeoutError("consumer groups not joined in time")


def _assigned(subscription: MeshSubscription) -> bool:
    return subscription.source is not None and bool(subscription.source.assignment)


async def _child(service: str) -> None:
    """One mesh-shaped service process (settings from the environment, as a real one)."""
    settings = MeshSettings()
    configure_logging(settings, service=service)  # to stderr: stdout says when it is ready

    def build(ctx: ServiceContext) -> ServiceParts:
        for event_type in LAYOUT[service]:
            if service == "ingest":

                async def answer(event: Event) -> None:
                    await ctx.publisher.publish(_accepted_from(event))

                ctx.subscribe(event_type, answer)
            else:

                async def ignore(event: Event) -> None:
                    return None

                ctx.subscribe(event_type, ignore)
        return ServiceParts()

    runner = ServiceRunner(service, build, settings=settings)
    await runner.start()
    assert runner.context is not None
    await _all_assigned(runner.context)
    print(READY, flush=True)
    try:
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes it
    finally:
        await runner.stop(grace=2.0)


@dataclass
class Figures:
    wait_ms: int
    wakeup: bool
    hop_ms: list[float]
    idle_cpu: dict[str, float]  # process -> cores (CPU seconds per second)

    @property
    def mesh_cpu(self) -> float:
        return sum(self.idle_cpu.values())

    def hop(self, q: float) -> float:
        ms = sorted(self.hop_ms)
        return ms[min(len(ms) - 1, int(len(ms) * q))]


def _spawn(service: str, env: dict[str, str], log: Path) -> subprocess.Popen[str]:
    with log.open("a") as out:
        return subprocess.Popen(
            [sys.executable, __file__, "--child", service],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=out,
            text=True,
            env=env,
        )


def _wait_ready(service: str, child: subprocess.Popen[str]) -> None:
    """Until the child says it is ready (other lines on its stdout are log lines)."""
    assert child.stdout is not None
    for line in child.stdout:
        if line.strip() == READY:
            return
    raise RuntimeError(f"child {service} exited with {child.wait()} before it was ready")


async def _measure(
    wait_ms: int, wakeup: bool, *, probe_ms: int, idle_s: float, pings: int, pause_ms: float
) -> Figures:
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker(Path(tmp)) as broker:
        home = Path(tmp)
        prefix = f"bench-{uuid.uuid4().hex[:8]}."
        env = {
            **os.environ,
            "STREAMWRIGHT_HOME": str(home),
            "STREAMWRIGHT_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "STREAMWRIGHT_TOPIC_PREFIX": prefix,
            "STREAMWRIGHT_FETCH_WAIT_MAX_MS": str(wait_ms),
            "STREAMWRIGHT_FETCH_WAKEUP": "on" if wakeup else "off",
            "STREAMWRIGHT_FETCH_WAKEUP_WAIT_MS": str(wait_ms),
            "STREAMWRIGHT_FETCH_WAKEUP_PROBE_MS": str(probe_ms),
            "STREAMWRIGHT_GRPC_PORT": "0",
            "STREAMWRIGHT_METRICS_PORT": "0",
            "STREAMWRIGHT_GRPC_AUTH": "off",
            "STREAMWRIGHT_LOG_LEVEL": "WARNING",
        }
        settings = MeshSettings(
            home=home,
            bootstrap_servers=broker.bootstrap_servers,
            topic_prefix=prefix,
            fetch_wait_max_ms=wait_ms,
            fetch_wakeup="on" if wakeup else "off",
            fetch_wakeup_wait_ms=wait_ms,
            fetch_wakeup_probe_ms=probe_ms,
            grpc_port=0,
            metrics_port=0,
            grpc_auth="off",
            log_level="WARNING",
        )
        children = {service: _spawn(service, env, home / f"{service}.log") for service in LAYOUT}
        received: dict[str, float] = {}
        arrived = asyncio.Event()

        def build(ctx: ServiceContext) -> ServiceParts:
            async def on_accepted(event: Event) -> None:
                received[event.envelope.causation_id or ""] = time.perf_counter()
                arrived.set()

            ctx.subscribe(RequestAccepted, on_accepted, group_id="bench")
            return ServiceParts()

        configure_logging(settings, service="bench")
        runner = ServiceRunner("bench", build, settings=settings)
        try:
            for service, child in children.items():
                await asyncio.to_thread(_wait_ready, service, child)
            await runner.start()
            assert runner.context is not None
            await _all_assigned(runner.context)

            async def round_trip(i: int) -> float:
                event = _submitted(i)
                arrived.clear()
                start = time.perf_counter()
                await runner.context.publisher.publish(event)  # type: ignore[union-attr]
                while event.envelope.event_id not in received:
                    await asyncio.wait_for(arrived.wait(), timeout=30)
                    arrived.clear()
                return received[event.envelope.event_id] - start

            for i in range(3):  # warm up: every path once
                await round_trip(-1 - i)
            await asyncio.sleep(2.0)  # the commits of the warm-up settle
            pids = {service: child.pid for service, child in children.items()}
            pids["tansu"] = broker.pid or 0
            before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
            t0 = time.perf_counter()
            await asyncio.sleep(idle_s)
            elapsed = time.perf_counter() - t0
            idle = {name: (_cpu_seconds(pid) - before[name]) / elapsed for name, pid in pids.items()}
            hops = []
            for i in range(pings):
                await asyncio.sleep(random.uniform(0, pause_ms) / 1000)
                hops.append(await round_trip(i) * 1000 / 2)
        finally:
            await runner.stop(grace=2.0)
            for child in children.values():
                if child.stdin is not None:
                    child.stdin.close()
            for child in children.values():
                try:
                    child.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
    return Figures(wait_ms, wakeup, hops, idle)


def _spread(values: list[float], fmt: str = "{:.1f}") -> str:
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument(
        "--waits", default="100", help="fetch waits (ms) without wake-ups to measure, comma-separated"
    )
    parser.add_argument(
        "--wakeup-waits",
        default="5",
        help="fetch waits (ms) of awake consumers with wake-ups on (fetch_wakeup_wait_ms); '' for none",
    )
    parser.add_argument("--probe-ms", type=int, default=1000, help="fetch_wakeup_probe_ms with wake-ups on")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each configuration")
    parser.add_argument("--idle", type=float, default=15.0, help="seconds of idle CPU sampling")
    parser.add_argument("--pings", type=int, default=150, help="round trips for the hop latency")
    parser.add_argument("--pause-ms", type=float, default=200.0, help="random pause before each ping, up to")
    args = parser.parse_args()
    if args.child:
        asyncio.run(_child(args.child))
        return
    rows = [(int(w), False) for w in args.waits.split(",") if w.strip()]
    rows += [(int(w), True) for w in args.wakeup_waits.split(",") if w.strip()]
    print(
        f"{len(LAYOUT)} services, {sum(len(v) for v in LAYOUT.values())} subscriptions (one librdkafka "
        f"consumer and group each), {args.idle:.0f} s idle, {args.pings} pings, "
        f"{args.repeat} run(s) per row: median (min-max)"
    )
    header = (
        f"{'fetch wait':>10} {'wake-up':>14} | {'hop p50 ms':>17} {'hop p99 ms':>17} "
        f"| {'idle mesh cores':>19} {'of it Tansu':>19} {'busiest service':>17}"
    )
    print(header)
    print("-" * len(header))
    results: dict[tuple[int, bool], list[Figures]] = {}
    for wait, wakeup in rows:
        runs = [
            asyncio.run(
                _measure(
                    wait,
                    wakeup,
                    probe_ms=args.probe_ms,
                    idle_s=args.idle,
                    pings=args.pings,
                    pause_ms=args.pause_ms,
                )
            )
            for _ in range(args.repeat)
        ]
        results[wait, wakeup] = runs
        busiest = max(runs[0].idle_cpu.items(), key=lambda kv: kv[1] if kv[0] != "tansu" else -1)
        mode = f"on, probe {args.probe_ms / 1000:g} s" if wakeup else "off"
        print(
            f"{wait:>10} {mode:>14} | {_spread([r.hop(0.5) for r in runs]):>17} "
            f"{_spread([r.hop(0.99) for r in runs]):>17} "
            f"| {_spread([r.mesh_cpu for r in runs], '{:.3f}'):>19} "
            f"{_spread([r.idle_cpu['tansu'] for r in runs], '{:.3f}'):>19} "
            f"{busiest[0] + f' {busiest[1]:.3f}':>17}",
            flush=True,
        )
    baseline = results.get((100, False))
    base_cpu = statistics.median(r.mesh_cpu for r in baseline) if baseline else None
    print(
        f"\ntargets: a hop under {HOP_TARGET_MS:.0f} ms; idle mesh CPU no more than with the old "
        f"default (fetch wait 100 ms, no wake-ups{f': {base_cpu:.3f} cores' if base_cpu else ', not measured'})"
    )
    for (wait, wakeup), runs in results.items():
        p50 = statistics.median(r.hop(0.5) for r in runs)
        p99 = statistics.median(r.hop(0.99) for r in runs)
        cpu = statistics.median(r.mesh_cpu for r in runs)
        idle = "n/a" if base_cpu is None else _verdict(cpu <= base_cpu * 1.1)  # 10 %: the spread of runs
        print(
            f"  {wait} ms, wake-up {'on' if wakeup else 'off'}: hop p50 {p50:.1f} ms {_verdict(p50 < HOP_TARGET_MS)}, "
            f"p99 {p99:.1f} ms {_verdict(p99 < HOP_TARGET_MS)}; idle {cpu:.3f} cores {idle}"
        )


if __name__ == "__main__":
    main()
