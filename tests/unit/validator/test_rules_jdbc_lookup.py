"""All errors at once (issue 15): a JDBC username without a password and a lookup join on a
connector that cannot look up are findings of their own, and the plan swaps the missing
password for a placeholder so every other check still runs. Pure, no engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.flinksql.ddl import read_create_table
from services.flinksql.spec import RequestSpec
from services.flinksql.statements import split_statements
from services.ingest.domain.checks import check_document
from services.validator.domain import Inputs, assess
from services.validator.domain.connector_swap import (
    NO_LOOKUP_CONNECTORS,
    SwapPolicy,
    jdbc_password_missing,
    lookup_refused,
    lookup_tables,
    swap_options,
)
from services.validator.domain.model import JobConfig, KnowledgeFacts, PlanFacts, Report
from services.validator.domain.rules import RULES
from tests.unit.validator.test_rules_static import HAND_WRITTEN

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "requests"
CITY_WITH = "'table-name' = 'dim_city', 'lookup.cache.max-rows' = '10')"


@pytest.fixture(scope="module")
def orders() -> RequestSpec:
    spec = check_document((FIXTURES / "orders-request-v3.md").read_text(encoding="utf-8")).spec
    assert spec is not None
    return spec


def _run(spec: RequestSpec, sql: str) -> Report:
    inputs = Inputs(
        spec=spec,
        sql=sql,
        plan=PlanFacts(ran=True),
        knowledge=KnowledgeFacts(available=True),
        job_config=JobConfig(parallelism=2, checkpoint_interval="30 s"),
        cases_ran=True,
    )
    return assess(inputs, created_at="2025-01-01T00:00:00+00:00", language="en")


def test_rules_are_critical_sql_rules() -> None:
    """Both rules are in the catalogue as Critical SQL-standards rules with a fix to follow."""
    for rule_id in ("sql.jdbc_password_missing", "sql.lookup_unsupported_connector"):
        rule = RULES[rule_id]
        assert rule.severity == "critical" and rule.dimension == "sql_standards"
    assert "${secret:<name>}" in RULES["sql.jdbc_password_missing"].fix("en")


def test_username_without_password_is_one_finding_and_nothing_else_critical(orders: RequestSpec) -> None:
    """A hand-written job whose JDBC dimension has `username` and no `password` gets exactly one
    credentials finding, naming the table and its line, and no other Critical finding."""
    sql = HAND_WRITTEN.replace(CITY_WITH, CITY_WITH[:-1] + ", 'username' = 'reader')")
    assert sql != HAND_WRITTEN
    report = _run(orders, sql)
    critical = [f for f in report.findings if f.severity == "critical"]
    assert [f.code for f in critical] == ["sql.jdbc_password_missing"]
    [hit] = critical
    assert hit.name == "dim_city" and "${secret:<name>}" in hit.message and "undeployable" in hit.message
    lines = HAND_WRITTEN.splitlines()
    assert hit.line == 1 + lines.index(next(line for line in lines if "dim_city (" in line))
    assert "sql.jdbc_password_missing" not in {f.code for f in _run(orders, HAND_WRITTEN).findings}


def test_lookup_on_a_connector_that_cannot_look_up_is_critical(orders: RequestSpec) -> None:
    """A FOR SYSTEM_TIME AS OF join on filesystem (or kafka, datagen, ...) names the table."""
    sql = HAND_WRITTEN.replace(
        "'connector' = 'jdbc',\n  'url' = 'jdbc:postgresql://db/x', 'table-name' = 'dim_city'",
        "'connector' = 'filesystem',\n  'path' = '/tmp/dim_city', 'format' = 'json', 'table-name' = 'dim_city'",
    )
    assert sql != HAND_WRITTEN
    report = _run(orders, sql)
    hits = [f for f in report.findings if f.code == "sql.lookup_unsupported_connector"]
    assert [(h.name, h.severity) for h in hits] == [("dim_city", "critical")]
    assert "'filesystem'" in hits[0].message
    assert not [f for f in _run(orders, HAND_WRITTEN).findings if f.code == hits[0].code]


def test_lookup_tables_and_capable_connectors() -> None:
    """Lookups are read from every query statement; only connectors with a lookup source pass."""
    script = """EXECUTE STATEMENT SET BEGIN
INSERT INTO o SELECT a.x FROM s AS a JOIN d FOR SYSTEM_TIME AS OF a.t AS d ON a.x = d.x;
INSERT INTO o2 SELECT a.x FROM s AS a JOIN k FOR SYSTEM_TIME AS OF a.t AS k ON a.x = k.x;
END;"""
    assert [name for _, name in lookup_tables(split_statements(script))] == ["d", "k"]
    assert {"filesystem", "datagen", "print", "blackhole", "kafka", "upsert-kafka"} == NO_LOOKUP_CONNECTORS
    assert lookup_refused(" Kafka ") and not lookup_refused("jdbc") and not lookup_refused("hbase-2.2")


def test_missing_password_is_planned_with_a_placeholder_and_reported() -> None:
    """The plan swaps in a placeholder password (planning only) and records the swap."""
    ddl = read_create_table(
        "CREATE TABLE d (k STRING, PRIMARY KEY (k) NOT ENFORCED) WITH ('connector' = 'jdbc', "
        "'url' = 'jdbc:postgresql://db/x', 'table-name' = 'd', 'username' = 'reader')",
        strict=False,
    )
    assert jdbc_password_missing(ddl)
    options, swaps = swap_options(ddl, "lookup", SwapPolicy())
    assert {o.key: o.value for o in options}["password"] == "placeholder"
    [swap] = swaps
    assert (swap.table, swap.option, swap.from_value, swap.to_value) == ("d", "password", None, "placeholder")
    assert "undeployable" in swap.why
    with_ref = read_create_table(
        "CREATE TABLE d (k STRING) WITH ('connector' = 'jdbc', 'url' = 'jdbc:postgresql://db/x', "
        "'table-name' = 'd', 'username' = 'reader', 'password' = '${secret:db}')",
        strict=False,
    )
    no_user = read_create_table(
        "CREATE TABLE d (k STRING) WITH ('connector' = 'jdbc', 'url' = 'jdbc:postgresql://db/x', "
        "'table-name' = 'd')",
        strict=False,
    )
    assert not jdbc_password_missing(with_ref) and not jdbc_password_missing(no_user)
    assert [s.why for s in swap_options(with_ref, "lookup", SwapPolicy())[1]] == [
        "secret/variable reference: placeholder"
    ]
