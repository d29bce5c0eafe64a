"""The supervisor's process plan: replicas of a service, their names, their ports and peers."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from services.mesh.service import DEFAULT_PORTS
from services.mesh.settings import MeshSettings
from services.mesh.supervisor import Instance, Supervisor, plan_instances

SERVICES = {name: f"services.{name}.entrypoints.main" for name in DEFAULT_PORTS}


def test_one_instance_per_service_by_default_named_after_it() -> None:
    plan = plan_instances(SERVICES)
    assert [(i.name, i.service) for i in plan] == [(name, name) for name in SERVICES]
    assert plan_instances(SERVICES, {}) == plan


def test_replicas_follow_their_service_as_service_2_3() -> None:
    plan = plan_instances(
        {"generator": "g", "validator": "v", "router": "r"}, {"validator": 3, "generator": 1}
    )
    assert plan == [
        Instance("generator", "generator", "g"),
        Instance("validator", "validator", "v"),
        Instance("validator-2", "validator", "v"),
        Instance("validator-3", "validator", "v"),
        Instance("router", "router", "r"),
    ]


@pytest.mark.parametrize(
    ("replicas", "message"),
    [
        ({"validatr": 2}, "unknown service(s) validatr"),
        ({"validator": 0}, "at least 1 (got validator=0)"),
    ],
)
def test_a_replica_count_that_cannot_be_run_is_refused(replicas: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        plan_instances(SERVICES, replicas)
    with pytest.raises(ValueError, match=re.escape(message)):
        Supervisor(MeshSettings(home=Path("/nonexistent")), services=SERVICES, replicas=replicas)


def test_further_replicas_get_free_ports_and_peers_name_the_first_instance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the default ports a second process could not bind them: replicas always get free ports."""
    spawned: dict[str, tuple[int, int]] = {}
    supervisor = Supervisor(
        MeshSettings(home=tmp_path), services=SERVICES, replicas={"validator": 2}, free_ports=False
    )
    ports = {i.name: supervisor._ports(i) for i in supervisor.instances}
    assert ports["validator"] == DEFAULT_PORTS["validator"]
    assert ports["validator-2"][0] not in {p for pair in DEFAULT_PORTS.values() for p in pair}
    assert ports["validator-2"][0] != ports["validator-2"][1]

    def fake_spawn(instance: Instance, pair: tuple[int, int]) -> None:
        spawned[instance.name] = pair

    async def healthy(_: object) -> None:
        return None

    monkeypatch.setattr(supervisor, "_spawn", fake_spawn)
    monkeypatch.setattr(supervisor, "_wait_healthy", healthy)
    monkeypatch.setattr(supervisor, "_external", True)
    monkeypatch.setattr("services.mesh.supervisor.kafka_ready", lambda *a, **k: True)
    asyncio.run(supervisor.start())
    assert sorted(spawned) == sorted([*SERVICES, "validator-2"])
    peers = json.loads(supervisor._peers)
    assert peers == {name: f"127.0.0.1:{spawned[name][0]}" for name in SERVICES}
