"""Safe upgrades on a real local Flink session cluster (issue 18 item 4): the classifier's verdict
against what Flink's restore really does, and the automatic rollback of a restore that fails.

A standalone session cluster from the PyFlink distribution (as in test_flink_session_deployer.py);
the router (its handlers on a SQLite store) deploys through the flink-session deployer, which runs
the project's SQL runner against the cluster; the validator's engine (EngineRunner.plan, what every
validation calls) computes each job's state fingerprint, which ValidationScored carries to the gate.
The job is a GROUP BY aggregate over a generator source (tests/integration/upgrade_jobs.py):

1. revision 1 runs; the operator ids the validator predicted are the ids of the job's vertices;
2. a compatible change (the projection after the aggregate): approved, stopped with a savepoint and
   restored from it (Flink reports the restore);
3. an incompatible change (GROUP BY another column of another type, same position): the gate sends
   it to review saying why; approved anyway, Flink fails the restore (StateMigrationException: the
   key serializer), and the router restarts revision 2 from the same savepoint on its own;
4. a change that drops the aggregate: review; approved, it starts with allowNonRestoredState.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.flinksql.artifacts import ArtifactLayout
from services.flinksql.state_fingerprint import from_json
from services.flinksql.statements import script_digest
from services.router.adapters.flink_rest import FlinkRest
from services.router.adapters.flink_session import FlinkSessionDeployer
from services.router.handlers import RouterHandlers
from services.validator.adapters.connector_jars import default_jar_dir
from services.validator.adapters.engine_runner import EngineRunner
from tests.fakes import RecordingPublisher
from tests.integration.router.test_flink_session_deployer import SessionCluster
from tests.integration.upgrade_jobs import COMPATIBLE, DROP, INCOMPATIBLE, RUNNING
from tests.unit.router.router_events import OPS, RunEvents, make_handlers, write_artifacts

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.system, pytest.mark.timeout(900)]

DOMAIN = "orders"


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SessionCluster]:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java runtime for the Flink session cluster")
    session = SessionCluster(tmp_path_factory.mktemp("flink-upgrades"))
    try:
        session.start()
        yield session
    finally:
        session.stop()


@pytest.fixture(scope="module")
def validator() -> EngineRunner:
    return EngineRunner(default_jar_dir(), use_postgres=False)


class Router:
    """The router's handlers deploying to the cluster, fed the events one revision's run makes."""

    def __init__(self, tmp: Path, cluster: SessionCluster, validator: EngineRunner) -> None:
        self.tmp, self.validator = tmp, validator
        self.publisher = RecordingPublisher()
        deployer = FlinkSessionDeployer(
            cluster.rest_url,
            rest=FlinkRest(cluster.rest_url, poll_interval=0.5),
            stable_seconds=5.0,
            savepoint_dir=(tmp / "savepoints").as_uri(),
            submit_timeout_s=180.0,
        )
        self.handlers: RouterHandlers = make_handlers(tmp, deployer, publisher=self.publisher)

    def artifacts(self, run: RunEvents) -> str:
        root = write_artifacts(self.tmp / f"art-{run.run_id}", DOMAIN)
        config = root / ArtifactLayout(DOMAIN).job_config
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(yaml.safe_dump({"job": {"domain": DOMAIN}, "secrets": []}), encoding="utf-8")
        return str(root)

    async def submit(self, revision: int, sql: str, *, commit: bool = True) -> tuple[RunEvents, str | None]:
        """Validate (the fingerprint), gate and, with `commit`, start; the run and its fingerprint."""
        planned = self.validator.plan(sql)
        assert all(s.ok for s in planned.statements), planned
        run = RunEvents(DOMAIN)
        generated = run.generated(1, self.artifacts(run), revision).model_copy(update={"sql": sql})
        for event in (
            run.submitted(),
            run.accepted(revision, f"h{revision}"),
            generated,
            run.scored(
                1, score=95, sql_digest=script_digest(sql), state_fingerprint=planned.state_fingerprint
            ),
        ):
            await self.handlers.on_event(event)
        if commit:
            await self.handlers.on_event(run.er_updated())
        return run, planned.state_fingerprint

    async def view(self, run: RunEvents) -> Any:
        record = await self.handlers.runs.get(run.run_id)
        assert record is not None
        return record.view()

    async def deployment(self) -> dict[str, Any]:
        return await self.handlers.runs.deployment(DOMAIN) or {}


def restored_from(cluster: SessionCluster, job_id: str) -> str | None:
    """The savepoint Flink says the job restored (GET /jobs/:id/checkpoints: latest.restored)."""
    restored = (_get(f"{cluster.rest_url}/jobs/{job_id}/checkpoints").get("latest") or {}).get("restored")
    return str(restored["external_path"]) if restored else None


def _same_path(a: str | None, b: str | None) -> bool:
    norm = lambda p: (p or "").replace("file:///", "/").replace("file:/", "/").rstrip("/")  # noqa: E731
    return bool(a and b) and norm(a) == norm(b)


async def test_upgrades_are_classified_as_flink_restores_them_and_a_failed_restore_rolls_back(
    cluster: SessionCluster, validator: EngineRunner, tmp_path: Path
) -> None:
    router = Router(tmp_path, cluster, validator)

    # 1. Revision 1 runs; the ids the validator predicted are its vertices' ids.
    first, fp1 = await router.submit(1, RUNNING)
    assert (await router.view(first)).state == "RUNNING", (await router.view(first)).reason
    job1 = (await router.deployment())["job_id"]
    vertices = {v["id"]: v["name"] for v in _get(f"{cluster.rest_url}/jobs/{job1}")["vertices"]}
    predicted = {h.uid: h.operator for h in from_json(fp1 or "").holders}
    assert set(predicted) <= set(vertices), (predicted, vertices)  # source and aggregate head vertices
    assert any("GroupAggregate" in vertices[uid] for uid in predicted)

    # 2. Compatible: approved, stopped with a savepoint, restored from it.
    second, _ = await router.submit(2, COMPATIBLE)
    state = await router.view(second)
    assert state.state == "RUNNING", state.reason
    assert (
        state.decisions[-1]["decision"] == "approved"
        and state.decisions[-1]["upgrade"]["verdict"] == "compatible"
    )
    record = await router.deployment()
    savepoint2 = record["savepoint_restored"]
    assert savepoint2 and _same_path(restored_from(cluster, record["job_id"]), savepoint2)
    assert _get(f"{cluster.rest_url}/jobs/{job1}")["state"] == "FINISHED"  # stopped with the savepoint
    job2 = record["job_id"]
    print(f"\ncompatible: {state.decisions[-1]['upgrade']['summary']}; restored from {savepoint2}")

    # 3. Incompatible: review with the explanation; approved anyway, the restore fails in Flink,
    #    and revision 2 is restarted from the same savepoint on its own.
    third, _ = await router.submit(3, INCOMPATIBLE, commit=False)
    state = await router.view(third)
    assert state.state == "IN_REVIEW"
    assert "its key changed (k VARCHAR(2147483647) -> i INT)" in state.reason, state.reason
    assert _get(f"{cluster.rest_url}/jobs/{job2}")["state"] == "RUNNING"  # nothing stopped yet
    print(f"incompatible, gate: {state.reason}")
    await router.handlers.review(third.run_id, approve=True, by=OPS, comment="try it")
    await router.handlers.on_event(third.er_updated())
    failed = await router.view(third)
    assert failed.state == "FAILED"
    assert "key serializer" in failed.reason or "StateMigrationException" in failed.reason, failed.reason
    assert "revision 2 was restarted from that savepoint automatically" in failed.reason
    print(f"incompatible, start: {failed.reason}")
    record = await router.deployment()
    assert (record["state"], record["revision"], record["rolled_back_from"]) == ("RUNNING", 2, 3)
    savepoint3 = record["savepoint_restored"]
    assert record["job_id"] != job2 and _same_path(restored_from(cluster, record["job_id"]), savepoint3)
    assert _get(f"{cluster.rest_url}/jobs/{record['job_id']}")["state"] == "RUNNING"
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    actions = [(a["action"], a["revision"]) for a in audit if "action" in a]  # reviews have none
    assert actions == [("restore-failed", 3), ("auto-rollback", 2)]

    # 4. Drop: review naming the loss; approved, the start skips the aggregate's state.
    fourth, _ = await router.submit(4, DROP, commit=False)
    state = await router.view(fourth)
    assert state.state == "IN_REVIEW" and "groupAggregateState is lost" in state.reason, state.reason
    print(f"drop, gate: {state.reason}")
    await router.handlers.review(fourth.run_id, approve=True, by=OPS, comment="counts restart")
    await router.handlers.on_event(fourth.er_updated())
    state = await router.view(fourth)
    assert state.state == "RUNNING", state.reason
    record = await router.deployment()
    assert record["revision"] == 4 and record["upgrade"]["verdict"] == "drop"
    assert _same_path(restored_from(cluster, record["job_id"]), record["savepoint_restored"])
    await router.handlers.stop(DOMAIN, by=OPS, reason="end of test")
