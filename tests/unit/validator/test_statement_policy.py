"""Issue 14 item 5, door 4: `validate --sql` / gRPC `ValidateSql` refuse statement kinds outside
CREATE [TEMPORARY] TABLE, CREATE [TEMPORARY] VIEW, SET, INSERT and EXECUTE STATEMENT SET, before
anything reaches the engine; hints get a warning naming them.

Before, `ValidationUseCase.validate` handed any script to `Engine.plan`, which executes each DDL
and SET on the validator's Flink engine (a DROP, an ADD JAR, a CREATE FUNCTION, a CTAS that runs
a job), and then ran the cases on it. A fake engine records its calls: a refused script never
reaches it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from services.flinksql.spec import RequestSpec
from services.generator.adapters.profiles_fs import load_profile
from services.generator.domain import compile_job
from services.ingest.domain.checks import check_document
from services.validator.domain.model import CaseFacts, EngineStatement, PlanFacts, Report
from services.validator.domain.rules import RULES
from services.validator.domain.statement_policy import hints, refused_statements
from services.validator.handlers import ValidationUseCase

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ("orders", "payments", "user-activity")


def _spec(name: str) -> RequestSpec:
    folder = ROOT / "examples" / name
    text = (folder / f"{name}-request-v3.md").read_text(encoding="utf-8")
    spec = check_document(text, cases_text=(folder / "cases.yaml").read_text(encoding="utf-8")).spec
    assert spec is not None
    return spec


@pytest.fixture(scope="module")
def jobs() -> dict[str, tuple[RequestSpec, str]]:
    out = {}
    for name in EXAMPLES:
        spec = _spec(name)
        for profile in ("dev", "test", "prod"):
            sql = compile_job(spec, profile=load_profile(profile), revision=1, generator_version="t").sql
            out[f"{name}/{profile}"] = (spec, sql)
    return out


class RecordingEngine:
    """An engine that plans everything as accepted and records each call (no Flink)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def plan(self, sql: str) -> PlanFacts:
        self.calls.append(("plan", sql))
        return PlanFacts(
            ran=True, statements=(EngineStatement(index=0, kind="INSERT", line=1, end_line=1, ok=True),)
        )

    def run_all_cases(
        self,
        sql: str,
        cases: Iterable[Mapping[str, Any]],
        *,
        test_data: Mapping[str, Any] | None,
        is_aggregate: bool,
    ) -> list[CaseFacts]:
        self.calls.append(("run_all_cases", sql))
        return [CaseFacts(name=str(c["name"]), passed=True) for c in cases]


async def _validate(spec: RequestSpec, sql: str) -> tuple[Report, RecordingEngine]:
    engine = RecordingEngine()
    report = await ValidationUseCase(engine=engine, knowledge=None).validate(spec, sql)
    return report, engine


# (id, text appended to the orders job, refused kind, statement number offset from the job's end)
ESCAPES = [
    ("drop", "DROP TABLE `dim_shop`;", "DROP"),
    ("alter", "ALTER TABLE `dim_shop` SET ('connector' = 'blackhole');", "ALTER"),
    ("add jar", "ADD JAR '/tmp/evil.jar';", "ADD_JAR"),
    ("create function", "CREATE TEMPORARY FUNCTION f AS 'com.evil.F';", "CREATE_FUNCTION"),
    ("create catalog", "CREATE CATALOG c WITH ('type' = 'jdbc');", "CREATE_CATALOG"),
    ("create database", "CREATE DATABASE d;", "CREATE_DATABASE"),
    ("load module", "LOAD MODULE hive;", "LOAD_MODULE"),
    ("use", "USE CATALOG c;", "USE"),
    ("reset", "RESET;", "RESET"),
    ("select", "SELECT * FROM `dim_shop`;", "QUERY"),
    ("explain", "EXPLAIN SELECT 1;", "EXPLAIN"),
    ("show", "SHOW TABLES;", "SHOW"),
    (
        "create table as select",
        "CREATE TABLE `copy` WITH ('connector' = 'print') AS SELECT * FROM `dim_shop`;",
        "CREATE_TABLE AS",
    ),
    (
        "statement set member",
        "EXECUTE STATEMENT SET\nBEGIN\nINSERT INTO `dwd_order_wide` SELECT * FROM `dwd_order_wide`;\n"
        "DROP TABLE `dim_city`;\nEND;",
        "STATEMENT_SET member DROP",
    ),
    ("sql client statement set", "BEGIN STATEMENT SET;", "BEGIN_STATEMENT_SET"),
    ("hidden after a carriage return", "-- note\rDROP TABLE `dim_city`;", "DROP"),
    # Planning a SET applies it to the validator's engine: these would load code into it.
    ("set pipeline.jars", "SET 'pipeline.jars' = 'file:///tmp/evil.jar';", "SET pipeline.jars"),
    ("set python files", "SET 'python.files' = '/tmp/evil.py';", "SET python.files"),
    ("set classpaths", "SET pipeline.classpaths = 'file:///tmp/';", "SET pipeline.classpaths"),
]


@pytest.mark.parametrize(("mutation", "extra", "kind"), ESCAPES, ids=[e[0] for e in ESCAPES])
async def test_a_refused_statement_never_reaches_the_engine(
    mutation: str, extra: str, kind: str, jobs: dict[str, tuple[RequestSpec, str]]
) -> None:
    spec, job = jobs["orders/dev"]
    sql = job + extra + "\n"
    report, engine = await _validate(spec, sql)
    assert engine.calls == []
    [finding] = [f for f in report.findings if f.code == "sql.statement_kind_refused"]
    [refusal] = refused_statements(sql)
    assert finding.severity == "critical" and finding.dimension == "sql_standards"
    assert finding.name == kind == refusal.kind
    assert finding.line == refusal.line and refusal.line > job.count("\n")
    assert (
        f"第 {refusal.number} 条语句 ({kind}, 第 {refusal.line} 行" in finding.message
    )  # the job is Chinese
    assert not report.gate_passed and report.provisional
    assert any("refused" in reason for reason in report.provisional_reasons)
    assert report.cases == ()


async def test_the_same_job_without_the_statement_is_planned_and_run(
    jobs: dict[str, tuple[RequestSpec, str]],
) -> None:
    spec, job = jobs["orders/dev"]
    report, engine = await _validate(spec, job)
    assert [call for call, _ in engine.calls] == ["plan", "run_all_cases"]
    assert not [f for f in report.findings if f.code in ("sql.statement_kind_refused", "sql.query_hint")]


@pytest.mark.parametrize("name", [f"{e}/{p}" for e in EXAMPLES for p in ("dev", "test", "prod")])
def test_the_generators_own_jobs_are_never_refused(
    name: str, jobs: dict[str, tuple[RequestSpec, str]]
) -> None:
    _, sql = jobs[name]
    assert refused_statements(sql) == []
    assert hints(sql) == []


def test_allowed_kinds() -> None:
    sql = "\n".join(
        [
            "SET 'table.local-time-zone' = 'UTC';",
            "CREATE TABLE a (x INT, y AS x + 1) WITH ('connector' = 'datagen');",
            "CREATE TEMPORARY TABLE IF NOT EXISTS b (x INT) WITH ('connector' = 'print');",
            "CREATE TABLE c WITH ('connector' = 'print') LIKE a;",
            "CREATE TEMPORARY VIEW v AS SELECT x FROM a;",
            "CREATE VIEW w AS SELECT x FROM a;",
            "INSERT INTO b SELECT x FROM v;",
            "INSERT OVERWRITE b SELECT x FROM v;",
            "EXECUTE INSERT INTO b SELECT x FROM a;",
            "EXECUTE STATEMENT SET BEGIN INSERT INTO b SELECT x FROM a; INSERT INTO b SELECT 1; END;",
        ]
    )
    assert refused_statements(sql) == []


async def test_a_hint_gets_a_warning_naming_it(jobs: dict[str, tuple[RequestSpec, str]]) -> None:
    spec, job = jobs["orders/dev"]
    hint = "/*+ OPTIONS('connector' = 'blackhole') */"
    sql = job.replace("INSERT INTO `dwd_order_wide`", f"INSERT INTO `dwd_order_wide` {hint}")
    assert sql != job
    report, engine = await _validate(spec, sql)
    assert [call for call, _ in engine.calls] == ["plan", "run_all_cases"]  # a hint is not refused
    [finding] = [f for f in report.findings if f.code == "sql.query_hint"]
    assert finding.severity == "warning" and finding.name == hint and hint in finding.message
    assert "OPTIONS hint" in finding.message
    assert finding.line == sql[: sql.index(hint)].count("\n") + 1
    lookup = job.replace("LEFT JOIN", "LEFT JOIN /*+ LOOKUP('table'='dim_shop') */", 1)
    [other] = hints(lookup)
    assert not other.options and other.text == "/*+ LOOKUP('table'='dim_shop') */"


def test_the_rules_are_catalogued_bilingually() -> None:
    refused, hint = RULES["sql.statement_kind_refused"], RULES["sql.query_hint"]
    assert (refused.severity, refused.dimension) == ("critical", "sql_standards")
    assert (hint.severity, hint.dimension) == ("warning", "sql_standards")
    for rule in (refused, hint):
        assert rule.title_en and rule.title_zh and rule.fix_en and rule.fix_zh
        assert rule.title_zh != rule.title_en
