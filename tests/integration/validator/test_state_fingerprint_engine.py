"""The validator's state fingerprint on the real Flink 2.3 planner: a stateful job and three upgrades
of it classified as the savepoint restore on a cluster treats them (tests/integration/router/
test_safe_upgrades.py shows the cluster doing so); the generated orders job's Kafka source is found
under the name its connector gives it."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.flinksql.state_fingerprint import StateFingerprint, from_json, to_json
from services.flinksql.statements import script_digest
from services.router.domain.upgrade import Verdict, classify
from services.validator.adapters.connector_jars import default_jar_dir, ensure_connector_jars
from services.validator.adapters.flink_engine import FlinkEngine
from tests.integration.upgrade_jobs import COMPATIBLE, DROP, INCOMPATIBLE, RUNNING

pytestmark = [pytest.mark.integration, pytest.mark.slow]

GOLDEN = Path(__file__).resolve().parents[2] / "unit" / "generator" / "golden"


@pytest.fixture(scope="module")
def engine() -> FlinkEngine:
    return FlinkEngine(jars=ensure_connector_jars(default_jar_dir()), hot=False).start()


@pytest.fixture(scope="module")
def running(engine: FlinkEngine) -> StateFingerprint:
    return engine.state_fingerprint(RUNNING)


def test_the_running_job_holds_source_and_aggregate_state(running: StateFingerprint) -> None:
    """It finds the generator source and the aggregate (keyed by k), not the blackhole sink."""
    assert [(h.kind, h.operator) for h in running.holders] == [
        ("source", "Source: src[1]"),
        ("operator", "GroupAggregate[4]"),
    ]
    assert running.holders[1].key == ("k VARCHAR(2147483647)",)
    assert running.sql_digest == script_digest(RUNNING) and running.flink_version == "2.3"
    assert running.parallelism == 2
    assert from_json(to_json(running)) == running


@pytest.mark.parametrize(
    ("sql", "verdict", "detail"),
    [
        (COMPATIBLE, Verdict.COMPATIBLE, "maps completely"),
        (INCOMPATIBLE, Verdict.INCOMPATIBLE, "its key changed (k VARCHAR(2147483647) -> i INT)"),
        (DROP, Verdict.DROP, "groupAggregateState is lost"),
    ],
    ids=["projection", "group-by-key", "aggregate-removed"],
)
def test_upgrades_are_classified_as_the_restore_treats_them(
    engine: FlinkEngine, running: StateFingerprint, sql: str, verdict: Verdict, detail: str
) -> None:
    """It says compatible for a changed projection, incompatible for a changed GROUP BY key at the
    same position, drop for a removed aggregate; and planning the same job again changes nothing."""
    new = engine.state_fingerprint(sql)
    check = classify(running, new, new_digest=script_digest(sql))
    assert check.verdict is verdict, check
    assert detail in " ".join((check.summary, *check.incompatible, *check.lost))
    assert engine.state_fingerprint(RUNNING) == running


def test_the_generated_jobs_kafka_source_is_found_by_its_table(engine: FlinkEngine) -> None:
    """It maps the Kafka connector's own source name to the scan of BusinessEvent, with its topic."""
    fp = engine.state_fingerprint((GOLDEN / "orders.sql").read_text(encoding="utf-8"))
    [source] = [h for h in fp.holders if h.kind == "source"]
    assert source.operator.startswith("Source: KafkaSource-") and source.table == "BusinessEvent"
    assert "connector=kafka" in source.origin and any(o.startswith("topic=") for o in source.origin)
