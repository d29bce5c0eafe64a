"""The oracle's scalar semantics equal Flink's: constant expressions evaluated by PyFlink (batch,
job time zone Asia/Shanghai) and by the oracle's evaluator give the same text, and the ones
Flink fails at run time are the ones the oracle calls a job failure."""

from __future__ import annotations

import pytest

from services.flinksql.expr_parse import parse_expression
from services.flinksql.spec import RequestSpec
from services.ingest.domain.checks import check_document
from services.validator.adapters.connector_jars import default_jar_dir
from services.validator.adapters.flink_engine import FlinkEngine
from services.validator.domain.oracle import JobFailure
from services.validator.domain.oracle.evaluate import Evaluator, Scope
from services.validator.domain.oracle.scalars import to_text
from tests.integration.validator.test_oracle_vs_flink import FIXTURES

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXPRESSIONS = [
    "CAST(-0.005 AS DECIMAL(3, 2))",
    "CAST(0.125 AS DECIMAL(3, 2))",
    "CAST(12345 AS DECIMAL(3, 1)) IS NULL",
    "1.0 / 3",
    "CAST(1 AS DECIMAL(38, 18)) / 3",
    "CAST(99.995 AS DECIMAL(38, 18)) - CAST(0.005 AS DECIMAL(38, 18))",
    "12.345 * 1.1",
    "2147483647 + 1",
    "7 / 2",
    "-7 / 2",
    "-7 % 3",
    "5.5 % 2",
    "CAST(TRUE AS STRING)",
    "CAST(2.5E0 AS DECIMAL(5, 2))",
    "CAST(0.1E0 AS DECIMAL(20, 18))",
    "CAST(2.7 AS INT)",
    "CAST(-2.7 AS INT)",
    "CAST(3000000000 AS INT)",
    "CAST(1.5E10 AS INT)",
    "CAST(CAST(300 AS INT) AS TINYINT)",
    "CAST(1.0E7 AS STRING)",
    "CAST(0.001E0 AS STRING)",
    "CAST(CAST('2025-01-06 10:00:00.5' AS TIMESTAMP(3)) AS STRING)",
    "CASE WHEN 1 = 1 THEN 'ab' ELSE 'abcd' END || '|'",
    "TRY_CAST('1e3' AS DECIMAL(10, 2))",
    "TRY_CAST('yes' AS BOOLEAN)",
    "TRY_CAST(' true ' AS BOOLEAN)",
    "TRY_CAST('2025-1-6' AS DATE)",
    "TRY_CAST(' 2.5 ' AS INT)",
    "TRY_CAST('.' AS INT)",
    "TRY_CAST('1.7361791999E9' AS BIGINT)",
    "DATE_FORMAT(TO_TIMESTAMP_LTZ(0, 3), 'yyyy-MM-dd HH:mm:ss.SSS')",
    "CAST(TO_TIMESTAMP_LTZ(1736179199, 0) AS DATE)",
    "CAST(TO_TIMESTAMP_LTZ(1736179199999, 3) AS TIMESTAMP(3))",
    "SUBSTRING('abcdef', 2, 3)",
    "CHAR_LENGTH('中文')",
    "POSITION('c' IN 'abc')",
    "TO_TIMESTAMP('2025-01-06 10:00')",
    "TO_TIMESTAMP('2025-01-06 10:00:00')",
    "NULLIF(1, 1)",
    "1 = 1.0",
    "0.1E0 + 0.2E0 = 0.3E0",
    "CAST(NULL AS BOOLEAN) AND FALSE",
    "3 IN (1, NULL)",
    "'APP' LIKE 'A_P%'",
    "COALESCE(CAST(NULL AS INT), 0) + 1",
]
FAILING = ["CAST('abc' AS INT)", "1 / 0"]


@pytest.fixture(scope="module")
def engine() -> FlinkEngine:
    return FlinkEngine(jar_dir=default_jar_dir()).start()


@pytest.fixture(scope="module")
def evaluator() -> Evaluator:
    text = (FIXTURES / "orders-request-v3.md").read_text(encoding="utf-8")
    spec: RequestSpec | None = check_document(text).spec
    assert spec is not None and spec.job.time_zone == "Asia/Shanghai"
    return Evaluator(spec)


def _oracle(evaluator: Evaluator, text: str) -> str | None:
    value, vtype = evaluator.eval(parse_expression(text), Scope(payload=None))
    return None if value is None else to_text(value, vtype, evaluator.zone)


def test_constant_expressions_agree_with_flink(engine: FlinkEngine, evaluator: Evaluator) -> None:
    """It gives Flink's text for every expression (one batch query, CAST to STRING on both)."""
    env = engine.new_env(streaming=False)
    env.get_config().set("table.local-time-zone", "Asia/Shanghai")
    columns = ", ".join(f"CAST(({e}) AS STRING) AS c{i}" for i, e in enumerate(EXPRESSIONS))
    with env.execute_sql(f"SELECT {columns}").collect() as rows:
        (row,) = list(rows)
    flink = dict(zip(EXPRESSIONS, row, strict=True))
    ours = {e: _oracle(evaluator, e) for e in EXPRESSIONS}
    assert {e: (flink[e], ours[e]) for e in EXPRESSIONS if flink[e] != ours[e]} == {}


@pytest.mark.parametrize("text", FAILING)
def test_run_time_failures_agree_with_flink(text: str, engine: FlinkEngine, evaluator: Evaluator) -> None:
    """It calls a job failure what fails the Flink job."""
    env = engine.new_env(streaming=False)
    with pytest.raises(Exception), env.execute_sql(f"SELECT CAST(({text}) AS STRING)").collect() as rows:  # noqa: B017
        list(rows)
    with pytest.raises(JobFailure):
        _oracle(evaluator, text)
