"""Scale-out: two generators and two validators share their consumer groups and split the work.

The mesh runs two processes each of generator and validator (same consumer groups
`<service>.<topic>`, same stores) and one of every other service, on topics of 2 partitions.
A burst of 6 requests over 6 domains, spread over both partitions, must end with every run
RUNNING and exactly one RunCompleted each; every SqlGenerated and ValidationScored is
published once per (run, attempt), no record is taken by both instances of a group, and both
instances of each scaled service did part of the work (their own metrics say so).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from meshkit import (
    EXAMPLE_NAMES,
    MeshClient,
    completions,
    events_of,
    example,
    manifest_record,
    metric_sum,
    partition_of,
    per_attempt,
    read_topic,
    running_mesh,
    scrape,
    spread_domains,
    wait_groups_stable,
)

from services.mesh.events import RequestAccepted, SqlGenerated, ValidationScored
from services.mesh.supervisor import Supervisor

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.system]

PARTITIONS = 2
REPLICAS = {"generator": 2, "validator": 2}
# What each scaled service consumes (its consumer groups are <service>.<topic>).
WORK = {"generator": RequestAccepted.TOPIC, "validator": SqlGenerated.TOPIC}


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervisor]:
    home = tmp_path_factory.mktemp("mesh")
    env = {
        "STREAMWRIGHT_ROUTER_OUTPUT_DIR": str(home / "out"),
        "STREAMWRIGHT_TOPIC_PARTITIONS": str(PARTITIONS),
    }
    with running_mesh(home, env, replicas=REPLICAS) as supervisor:
        yield supervisor


@pytest.mark.timeout(1200)
async def test_two_generators_and_two_validators_split_a_burst_without_handling_anything_twice(
    mesh: Supervisor,
) -> None:
    names = sorted(c.name for c in mesh.children)
    assert names == sorted(
        ["ingest", "generator", "generator-2", "validator", "validator-2", "knowledge", "router"]
    )
    async with MeshClient(mesh) as client:
        # Every instance has subscribed (healthy); wait until the groups have settled their members,
        # so the burst is not redelivered by a rebalance still under way.
        await wait_groups_stable(
            client.wire,
            [f"{service}.{topic}" for service, topic in WORK.items()]
            + ["generator.sw.gate.decided", "validator.sw.request.accepted"],
        )
        bases = [name.replace("-", "_") for name in EXAMPLE_NAMES] * 2
        domains = spread_domains(bases, PARTITIONS)
        assert sorted(partition_of(d, PARTITIONS) for d in domains) == [0, 0, 0, 1, 1, 1]
        jobs = [
            example(name).renamed(domain) for name, domain in zip(EXAMPLE_NAMES * 2, domains, strict=True)
        ]
        subs = [await client.submit(job, key=f"scale-{job.domain}") for job in jobs]
        run_ids = [s.run_id for s in subs]
        runs = await client.all_settled(run_ids, 1000)

    states = {runs[r].domain: (runs[r].state_name, runs[r].reason) for r in run_ids}
    not_running = {d: s for d, s in states.items() if s[0] != "RUNNING"}
    assert not_running == {}, not_running  # only the runs that did not reach RUNNING, with why
    for job, sub in zip(jobs, subs, strict=True):
        assert manifest_record(mesh.settings.home / "out", job.domain)["run_id"] == sub.run_id
    completed = await completions(client.wire, run_ids)
    assert {r: [str(e.final_state) for e in completed[r]] for r in run_ids} == {
        r: ["RUNNING"] for r in run_ids
    }

    # Each (run, attempt) published once: no request was compiled or validated twice.
    for event_cls in (SqlGenerated, ValidationScored):
        found = events_of(client.wire, event_cls, run_ids)
        published = per_attempt(e for events in found.values() for e in events)
        assert sorted(published) == sorted((r, 1) for r in run_ids), (event_cls.__name__, published)
        assert all(len(ids) == 1 for ids in published.values()), (event_cls.__name__, published)

    # Per group, the instances together took each record of the topic once, and each took some.
    for service, topic in WORK.items():
        records = read_topic(client.wire, client.wire.topic_prefix + topic)
        ours = [r for r in records if r.event is not None and r.event.envelope.run_id in run_ids]
        assert {r.partition for r in ours} == {0, 1}, [(r.partition, r.key) for r in ours]
        taken = {
            child.name: metric_sum(
                scrape(child.metrics_port),
                "streamwright_events_consumed_total",
                service=service,
                topic=f"*{topic}",
            )
            for child in mesh.children
            if child.service == service
        }
        assert sorted(taken) == [service, f"{service}-2"]
        assert all(count >= 1 for count in taken.values()), (service, taken)
        assert sum(taken.values()) == len(records), (service, taken, len(records))
        skipped = sum(
            metric_sum(scrape(c.metrics_port), "streamwright_events_duplicate_total", service=service)
            for c in mesh.children
            if c.service == service
        )
        assert skipped == 0, (service, skipped)
