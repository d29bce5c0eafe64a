"""The validator's hot Flink cluster (issue #17): one MiniCluster for the engine's lifetime.

Checked in a fresh process, so the engine launches the JVM itself (as in the service) and no
other test's JVM counts: the connector jars are on the JVM's class path (no pipeline.jars, and a
planner call from a new thread finds them), every case job is submitted to the one cluster (its
REST API lists them), and two validations' jobs run side by side on its slots.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

PROBE = """
import json, sys, threading, time, urllib.request
sys.path[:0] = [{root!r}, {tests!r}]
from test_flink_engine import CASE, ORDERS_JOB
from services.validator.adapters.connector_jars import default_jar_dir, ensure_connector_jars
from services.validator.adapters.flink_engine import FlinkEngine
from services.validator.adapters.postgres import PrivatePostgres

def jobs(engine):
    url = f"http://{{engine._cluster.host}}:{{engine._cluster.port}}/jobs/overview"
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)["jobs"]

engine = FlinkEngine(ensure_connector_jars(default_jar_dir())).start()
out = {{"hot": engine.hot, "cluster_error": engine.cluster_error}}
env = engine.new_env(streaming=True)
out["pipeline_jars"] = env.get_config().get("pipeline.jars", "")
planned = {{}}
thread = threading.Thread(target=lambda: planned.update(report=engine.plan(ORDERS_JOB.replace("'mysql-cdc'", "'jdbc'"))))
thread.start(); thread.join()
out["plan_ok_on_new_thread"] = all(s.ok for s in planned["report"].statements)
with PrivatePostgres() as pg:
    before = len(jobs(engine))
    results = engine.run_cases(ORDERS_JOB, [CASE, CASE], postgres=pg)
    out["passed"] = [r.passed for r in results]
    out["jobs_for_one_batch"] = len(jobs(engine)) - before
    outcome = {{}}
    def validate(name):
        outcome[name] = [r.passed for r in engine.run_cases(ORDERS_JOB, [CASE, CASE], postgres=pg)]
    threads = [threading.Thread(target=validate, args=(n,)) for n in ("a", "b")]
    [t.start() for t in threads]; [t.join() for t in threads]
    out["concurrent_passed"] = outcome
clients = []
for n in range(2):  # two jobs that never end on their own, from two table environments
    env = engine.new_env(streaming=True)
    env.execute_sql(f"CREATE TEMPORARY TABLE s{{n}} (x INT) WITH ('connector' = 'datagen', 'rows-per-second' = '5')")
    env.execute_sql(f"CREATE TEMPORARY TABLE k{{n}} (x INT) WITH ('connector' = 'blackhole')")
    clients.append(env.execute_sql(f"INSERT INTO k{{n}} SELECT x FROM s{{n}}").get_job_client())
deadline, both = time.time() + 60, False
while time.time() < deadline and not both:
    both = sum(j["state"] == "RUNNING" for j in jobs(engine)) >= 2
    time.sleep(0.2)
out["side_by_side"] = both
for client in clients:
    client.cancel().result()
print("PROBE " + json.dumps(out))
"""


# The fresh-process probe takes ~25 s: system tier (the default tier is at its 10-minute budget).
@pytest.fixture(scope="module")
def probe() -> dict[str, object]:
    script = PROBE.format(root=str(ROOT), tests=str(ROOT / "tests" / "integration" / "validator"))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=280, cwd=ROOT, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("PROBE ")]
    assert lines, f"probe failed (exit {done.returncode}):\n{done.stderr[-3000:]}"
    result: dict[str, object] = json.loads(lines[-1].removeprefix("PROBE "))
    return result


@pytest.mark.system
def test_the_engine_starts_one_hot_cluster_with_the_jars_on_the_class_path(probe: dict[str, object]) -> None:
    """The cluster runs; the connectors need no pipeline.jars, and a plan from a new thread finds them."""
    assert probe["hot"] is True and probe["cluster_error"] is None
    assert probe["pipeline_jars"] in ("", None)
    assert probe["plan_ok_on_new_thread"] is True


@pytest.mark.system
def test_a_batch_of_cases_is_one_job_on_the_hot_cluster(probe: dict[str, object]) -> None:
    """Both cases pass, as ONE job that the cluster's REST API lists."""
    assert probe["passed"] == [True, True]
    assert probe["jobs_for_one_batch"] == 1


@pytest.mark.system
def test_two_validations_run_side_by_side(probe: dict[str, object]) -> None:
    """Two threads' batched jobs both pass, and the cluster runs two jobs at the same time."""
    assert probe["concurrent_passed"] == {"a": [True, True], "b": [True, True]}
    assert probe["side_by_side"] is True


def test_without_a_hot_cluster_jobs_run_on_their_own_minicluster(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A cluster that cannot start is reported, and the engine falls back to per-job MiniClusters."""
    from services.validator.adapters import flink_engine
    from services.validator.adapters.connector_jars import default_jar_dir, ensure_connector_jars

    def refuse() -> None:
        raise RuntimeError("no slots for you")

    monkeypatch.setattr(flink_engine, "shared_cluster", refuse)
    engine = flink_engine.FlinkEngine(ensure_connector_jars(default_jar_dir())).start()
    assert not engine.hot and "no slots for you" in (engine.cluster_error or "")
    assert engine.warm_up() > 0  # a job still runs (locally)
    config = engine.new_env(streaming=True).get_config()
    assert config.get("execution.target", "local") != "remote"


def test_warm_up_plans_and_runs_a_job_of_the_generators_shape() -> None:
    """`EngineRunner.warm()` plans the warm-up job (JSON payload, JDBC lookup, JDBC upsert sink)
    and runs its exact case, so the first request finds those code paths loaded."""
    from services.validator.adapters.engine_runner import EngineRunner

    runner = EngineRunner()
    try:
        out = runner.warm()
        assert runner.warm_up_problem is None
        assert out["warm_plan"] > 0 and out["warm_case"] > 0
    finally:
        runner.close()
