"""Faults in a running mesh: poison records, a frozen broker, every service killed and restarted.

One mesh serves the module; each test leaves it healthy for the next.

- A record that is not Confluent-framed Avro, on a topic two services consume, lands in the
  dead-letter topic once per consumer group (shown by `streamwright dlq show`), and a request
  submitted after it still completes.
- The broker frozen with SIGSTOP for 10 s mid-flow, then SIGCONT: no service restarts, and
  every run completes.
- Each service SIGKILLed in turn while requests are in flight (and one request submitted while
  it is down), then restarted: every request ends in exactly one final state, RUNNING, with one
  RunStarted and one RunCompleted, and none is lost.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer
from meshkit import (
    SETTLED,
    Example,
    MeshClient,
    completions,
    events_of,
    example,
    manifest_record,
    read_topic,
    running_mesh,
)

from services.mesh.consumer import H_GROUP, H_KIND
from services.mesh.events import RequestSubmitted, RunStarted, dlq_topic
from services.mesh.kafka import client_config
from services.mesh.supervisor import Supervisor

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.system]

# Not Confluent-framed at all, and framed (magic byte, schema id 42) around bytes that are not Avro.
POISON = (b"plain text, no magic byte", b"\x00\x00\x00\x00\x2a definitely not Avro")
STREAMWRIGHT = Path(sys.executable).parent / "streamwright"
# What a request passes through on its way to RUNNING, in order.
KILL_ORDER = ("ingest", "generator", "validator", "knowledge", "router")


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervisor]:
    home = tmp_path_factory.mktemp("mesh")
    with running_mesh(home, {"STREAMWRIGHT_ROUTER_OUTPUT_DIR": str(home / "out")}) as supervisor:
        yield supervisor


def jobs(tag: str, count: int) -> list[Example]:
    """`count` example jobs, each in its own domain `<example>_<tag><i>`."""
    names = ("orders", "payments", "user-activity")
    return [example(names[i % 3]).renamed(f"{names[i % 3].replace('-', '_')}_{tag}{i}") for i in range(count)]


async def assert_all_ran_once(
    client: MeshClient, mesh: Supervisor, run_ids: list[str], limit_s: float
) -> None:
    """Every run RUNNING with its manifests, exactly one RunStarted and one RunCompleted (by event id)."""
    runs = await client.all_settled(run_ids, limit_s)
    states = {runs[r].domain: f"{runs[r].state_name}: {runs[r].reason}" for r in run_ids}
    assert all(state.startswith("RUNNING:") for state in states.values()), "\n".join(
        f"{domain}: {state}" for domain, state in states.items()
    )
    for run in runs.values():
        assert manifest_record(mesh.settings.home / "out", run.domain)["run_id"] == run.run_id
    completed = await completions(client.wire, run_ids)
    # A redelivery may publish an event again under the same id (consumers drop it); another id or
    # another final state would be a second completion.
    finals = {r: sorted({(e.envelope.event_id, str(e.final_state)) for e in completed[r]}) for r in run_ids}
    assert all(len(f) == 1 and f[0][1] == "RUNNING" for f in finals.values()), finals
    started = events_of(client.wire, RunStarted, run_ids)
    assert {r: len({e.envelope.event_id for e in started[r]}) for r in run_ids} == dict.fromkeys(
        run_ids, 1
    ), started


@pytest.mark.timeout(600)
async def test_a_poison_record_is_dead_lettered_and_the_mesh_carries_on(mesh: Supervisor) -> None:
    async with MeshClient(mesh) as client:
        wire = client.wire
        topic = wire.topic_prefix + RequestSubmitted.TOPIC
        producer = Producer({**client_config(wire), "enable.idempotence": True, "acks": "all"})
        for value in POISON:
            producer.produce(topic, value=value, key=b"poison")
        assert producer.flush(15) == 0

        # Both consumers of the topic (ingest checks requests, router records every event) dead-letter each.
        groups = [
            f"{wire.topic_prefix}{service}.{RequestSubmitted.TOPIC}" for service in ("ingest", "router")
        ]
        wanted = sorted((group, value) for group in groups for value in POISON)
        deadline = time.monotonic() + 60
        letters: list[tuple[str, bytes]] = []
        while time.monotonic() < deadline:
            records = [r for r in read_topic(wire, dlq_topic(topic)) if r.value in POISON]
            letters = sorted((r.headers.get(H_GROUP, ""), r.value) for r in records)
            if letters == wanted:
                break
            await asyncio.sleep(0.5)
        assert letters == wanted
        assert {r.headers.get(H_KIND) for r in records} == {"decode"}

        shown = subprocess.run(
            [str(STREAMWRIGHT), "dlq", "show", RequestSubmitted.TOPIC + ".dlq"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "STREAMWRIGHT_BOOTSTRAP_SERVERS": wire.bootstrap_servers},
        )
        assert shown.returncode == 0, shown.stderr
        for group in groups:
            assert f"group:    {group}" in shown.stdout, shown.stdout
        assert "undecodable" in shown.stdout and "kind:     decode" in shown.stdout, shown.stdout

        [job] = jobs("poison", 1)
        sub = await client.submit(job)
        await assert_all_ran_once(client, mesh, [sub.run_id], 480)
    assert all(child.process.poll() is None for child in mesh.children)


@pytest.mark.timeout(900)
async def test_the_mesh_carries_on_after_the_broker_is_frozen_for_10_s(mesh: Supervisor) -> None:
    assert mesh.broker is not None and mesh.broker.pid is not None
    pids = {child.name: child.process.pid for child in mesh.children}
    async with MeshClient(mesh) as client:
        subs = [await client.submit(job) for job in jobs("pause", 2)]
        run_ids = [s.run_id for s in subs]
        # Mid-flow: the first run has left ingest (being generated or validated).
        await client.until(run_ids[0], {"GENERATING", "VALIDATING", *SETTLED}, 120)
        os.kill(mesh.broker.pid, signal.SIGSTOP)
        try:
            # The router answers from its store while the broker is frozen: work was interrupted.
            frozen = [await client.get(r) for r in run_ids]
            await asyncio.sleep(10)  # the fault itself: the broker answers nothing for 10 s
        finally:
            os.kill(mesh.broker.pid, signal.SIGCONT)
        states = [run.state_name if run is not None else "?" for run in frozen]
        assert any(state not in SETTLED for state in states), states
        await assert_all_ran_once(client, mesh, run_ids, 720)
    assert {child.name: child.process.pid for child in mesh.children} == pids
    assert all(child.process.poll() is None for child in mesh.children)


@pytest.mark.timeout(1500)
async def test_each_service_killed_mid_burst_and_restarted_loses_and_repeats_nothing(
    mesh: Supervisor,
) -> None:
    """SIGKILL ingest, generator, validator, knowledge and router in turn, each while requests are in
    flight and one more is submitted; restart it; every request ends RUNNING exactly once."""
    pending = jobs("kill", 2 + len(KILL_ORDER))
    async with MeshClient(mesh) as client:
        subs = [await client.submit(job, key=f"kill-{job.domain}") for job in pending[:2]]
        for name, job in zip(KILL_ORDER, pending[2:], strict=True):
            # The validator dies mid-validation; the others while some run is anywhere in flight.
            busy = {"VALIDATING"} if name == "validator" else None
            await until_in_flight(client, [s.run_id for s in subs], busy)
            code = mesh.kill(name)
            assert code == -signal.SIGKILL, (name, code)
            # A request submitted while `name` is down (ingest: the client retries until it is back).
            submitted, _ = await asyncio.gather(
                client.submit(job, key=f"kill-{job.domain}"), mesh.restart(name)
            )
            subs.append(submitted)
        run_ids = [s.run_id for s in subs]
        assert len(set(run_ids)) == len(pending)
        await assert_all_ran_once(client, mesh, run_ids, 1200)


async def until_in_flight(
    client: MeshClient, run_ids: list[str], states: set[str] | None = None, limit_s: float = 300
) -> None:
    """Until some run is in one of `states` (default: any state but a settled one)."""
    deadline = time.monotonic() + limit_s
    seen: list[str] = []
    while time.monotonic() < deadline:
        runs = [await client.get(r) for r in run_ids]
        seen = [run.state_name if run is not None else "?" for run in runs]
        if any(s in states if states else s not in SETTLED for s in seen):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"no run in {states or 'flight'} to interrupt: {seen}")
