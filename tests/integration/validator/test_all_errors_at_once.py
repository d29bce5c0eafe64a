"""Issue 15 on the real engine: BOOLEAN results read back exactly, and every error of a job is
its own finding (a JDBC username without a password, a failing CREATE TABLE, a lookup join on a
connector that cannot look up) while the other statements are still planned and checked.

One warm JVM and one private PostgreSQL serve the module.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.flinksql.spec import RequestSpec
from services.ingest.domain.checks import check_document
from services.validator.adapters.connector_jars import default_jar_dir, ensure_connector_jars
from services.validator.adapters.engine_runner import plan_facts
from services.validator.adapters.flink_engine import FlinkEngine
from services.validator.adapters.postgres import PrivatePostgres
from services.validator.domain import Inputs, assess
from services.validator.domain.model import JobConfig, KnowledgeFacts, Report
from tests.unit.validator.test_rules_static import HAND_WRITTEN

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "requests"

# A correct hand-written orders job: both JDBC dimensions carry a username; dim_shop's password
# is a secret reference, dim_city's is left to deployment-time injection (no password option).
# (The unit tier's HAND_WRITTEN is never planned: its legacy cache option needs its ttl here.)
SHOP_WITH = "'lookup.partial-cache.max-rows' = '1000', 'password' = '${secret:shop}')"
CITY_WITH = "'table-name' = 'dim_city', 'lookup.cache.max-rows' = '10')"
NO_PASSWORD_JOB = (
    HAND_WRITTEN.replace("'topic' = 'be',", "'topic' = 'be', 'properties.group.id' = 'orders',")
    .replace(SHOP_WITH, SHOP_WITH[:-1] + ", 'username' = 'reader')")
    .replace(CITY_WITH, CITY_WITH[:-1] + ", 'lookup.cache.ttl' = '10 min', 'username' = 'reader')")
)

# A job whose result has a BOOLEAN column computed TRUE, FALSE and NULL.
BOOLEAN_JOB = """SET 'table.exec.sink.require-on-conflict' = 'false';
CREATE TABLE `BusinessEvent` (
  `domain` STRING,
  `type` STRING,
  `payload` STRING,
  `create_time` BIGINT,
  `proc_time` AS PROCTIME()
) WITH ('connector' = 'kafka', 'topic' = 'be', 'properties.bootstrap.servers' = 'k:9092', 'format' = 'json');
CREATE TABLE `dwd_flags` (
  `order_id` STRING NOT NULL,
  `is_big` BOOLEAN,
  `is_app` BOOLEAN,
  PRIMARY KEY (`order_id`) NOT ENFORCED
) WITH ('connector' = 'print');
INSERT INTO `dwd_flags`
SELECT JSON_VALUE(`payload`, '$.orderId'),
  CAST(JSON_VALUE(`payload`, '$.amount') AS INT) >= 100,
  CASE JSON_VALUE(`payload`, '$.channel') WHEN 'APP' THEN TRUE WHEN 'WEB' THEN FALSE END
FROM `BusinessEvent`;
"""


def _event(order_id: str, amount: int | None, channel: str | None) -> dict[str, Any]:
    payload: dict[str, Any] = {"orderId": order_id, "channel": channel}
    if amount is not None:
        payload["amount"] = amount
    return {"domain": "orders", "type": "order_created", "payload": payload}


BOOLEAN_CASE: dict[str, Any] = {
    "name": "booleans",
    "events": [_event("O1", 150, "APP"), _event("O2", 20, "WEB"), _event("O3", None, "MINI")],
    "dimensions": {},
    "expected": [
        {"order_id": "O1", "is_big": True, "is_app": True},
        {"order_id": "O2", "is_big": False, "is_app": False},
        {"order_id": "O3", "is_big": None, "is_app": None},
    ],
}


@pytest.fixture(scope="module")
def engine() -> FlinkEngine:
    directory = default_jar_dir()
    ensure_connector_jars(directory)
    return FlinkEngine(jar_dir=directory).start()


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    with PrivatePostgres() as pg:
        yield pg


@pytest.fixture(scope="module")
def orders() -> RequestSpec:
    spec = check_document((FIXTURES / "orders-request-v3.md").read_text(encoding="utf-8")).spec
    assert spec is not None
    return spec


def _validate(engine: FlinkEngine, spec: RequestSpec, sql: str) -> Report:
    return assess(
        Inputs(
            spec=spec,
            sql=sql,
            plan=plan_facts(engine.plan(sql)),
            knowledge=KnowledgeFacts(available=True),
            job_config=JobConfig(parallelism=2, checkpoint_interval="30 s"),
            cases_ran=True,
        ),
        created_at="2025-01-01T00:00:00+00:00",
        language="en",
    )


def test_boolean_result_reads_back_true_false_and_null(
    engine: FlinkEngine, postgres: PrivatePostgres
) -> None:
    """An exact run (JDBC sink into PostgreSQL, read back typed) keeps TRUE, FALSE and NULL apart."""
    began = time.perf_counter()
    result = engine.run_case(BOOLEAN_JOB, BOOLEAN_CASE, postgres=postgres, fidelity="exact")
    print(f"\nexact BOOLEAN case: {time.perf_counter() - began:.2f} s")
    assert result.error is None and result.fidelity == "exact"
    assert result.passed, (result.missing, result.unexpected)
    by_id = {r["order_id"]: (r["is_big"], r["is_app"]) for r in result.rows}
    assert by_id == {"O1": (True, True), "O2": (False, False), "O3": (None, None)}
    wrong = {**BOOLEAN_CASE, "expected": [{**r, "is_app": False} for r in BOOLEAN_CASE["expected"]]}
    assert not engine.run_case(BOOLEAN_JOB, wrong, postgres=postgres, fidelity="exact").passed


def test_username_without_password_is_one_finding_and_the_rest_is_checked(
    engine: FlinkEngine, orders: RequestSpec
) -> None:
    """A correct hand-written job with `username` and no `password` gets exactly one credentials
    finding and nothing else Critical: it is planned with a placeholder password."""
    assert NO_PASSWORD_JOB.count("'username' = 'reader'") == 2
    report = _validate(engine, orders, NO_PASSWORD_JOB)
    critical = [f for f in report.findings if f.severity == "critical"]
    assert [(f.code, f.name) for f in critical] == [("sql.jdbc_password_missing", "dim_city")], [
        f.message for f in critical
    ]
    assert ("dim_city", "password", None, "placeholder") in {
        (s.table, s.option, s.from_value, s.to_value) for s in report.swaps
    }
    assert "sql_standards: " + "Flink's planner accepts every statement" in report.passed_checks


def test_a_failing_create_table_hides_no_other_error(engine: FlinkEngine, orders: RequestSpec) -> None:
    """Each engine error is its own finding with the engine's text and line; the statements after
    a failing CREATE TABLE are still planned (the INSERT reading it fails with its own error)."""
    broken = NO_PASSWORD_JOB.replace("city_tier INT,", "city_tier INT, tier_next AS no_such_column + 1,")
    assert broken != NO_PASSWORD_JOB
    plan = engine.plan(broken)
    failed = [s for s in plan.statements if not s.ok]
    assert [s.kind for s in failed] == ["CREATE_TABLE", "INSERT"]
    assert [s.kind for s in plan.statements if s.ok] == [
        "SET",
        "CREATE_TABLE",
        "CREATE_TABLE",
        "CREATE_TABLE",
    ]
    report = _validate(engine, orders, broken)
    rejected = [f for f in report.findings if f.code == "sql.engine_rejected"]
    lines = broken.splitlines()
    city_line = 1 + next(i for i, text in enumerate(lines) if "no_such_column" in text)
    assert len(rejected) == 2, [f.message for f in rejected]
    assert rejected[0].line == city_line and "no_such_column" in rejected[0].message
    assert "dim_city" in rejected[1].message
    # the other checks still ran: the credentials finding is there too
    assert "sql.jdbc_password_missing" in {f.code for f in report.findings}


def test_lookup_join_on_kafka_is_a_finding_naming_the_table(engine: FlinkEngine, orders: RequestSpec) -> None:
    """A FOR SYSTEM_TIME AS OF join on a Kafka table is Critical and names the table."""
    job = NO_PASSWORD_JOB.replace(
        "'connector' = 'jdbc',\n  'url' = 'jdbc:postgresql://db/x', 'table-name' = 'dim_city', "
        "'lookup.cache.max-rows' = '10', 'lookup.cache.ttl' = '10 min', 'username' = 'reader')",
        "'connector' = 'kafka', 'topic' = 'city',\n  'properties.bootstrap.servers' = 'k:9092', "
        "'format' = 'json')",
    )
    assert job != NO_PASSWORD_JOB
    report = _validate(engine, orders, job)
    hits = [f for f in report.findings if f.code == "sql.lookup_unsupported_connector"]
    assert [(f.name, f.severity) for f in hits] == [("dim_city", "critical")]
    assert "'kafka'" in hits[0].message


def test_an_unreadable_create_table_gets_the_engines_own_error(engine: FlinkEngine) -> None:
    """A CREATE TABLE the kernel's lenient reader cannot read goes to Flink as written: the
    finding carries Flink's parser error and position, and the other statements still plan."""
    script = (
        "CREATE TABLE `t_bad` (`a` INT,, `b` INT) WITH ('connector' = 'datagen');\n"
        "CREATE TABLE `t_src` (`a` INT) WITH ('connector' = 'datagen');\n"
        "CREATE TABLE `t_out` (`a` INT) WITH ('connector' = 'blackhole');\n"
        "INSERT INTO `t_out` SELECT `a` FROM `t_src`;\n"
    )
    plan = engine.plan(script)
    assert [s.ok for s in plan.statements] == [False, True, True, True]
    [error] = plan.errors
    assert error.exception == "SqlParserException" and error.line == 1 and error.column is not None
