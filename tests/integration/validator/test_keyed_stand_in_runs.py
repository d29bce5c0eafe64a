"""Case runs on the real engine where the JDBC stand-in for the result table must keep the job's
meaning: a keyed `print` result (no ON CONFLICT in the job: Flink refuses it there), insert-only
or grouped by its key; and a DATE Flink writes past year 9999, read back as what it is.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.generator.adapters.profiles_fs import load_profile
from services.generator.domain import compile_job
from services.ingest.domain.checks import check_document
from services.validator.adapters.connector_jars import default_jar_dir, ensure_connector_jars
from services.validator.adapters.flink_engine import FlinkEngine
from services.validator.adapters.postgres import PrivatePostgres
from services.validator.domain.cases import CaseResult

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "requests"
ODPS = """    'connector' = 'odps',
    'project' = 'trade_dw',
    'tableName' = 'dwd_order_wide',
    'sink.operation' = 'upsert'
);"""

SOURCE = """CREATE TEMPORARY TABLE `BusinessEvent` (`domain` STRING, `type` STRING, `payload` STRING,
  `create_time` BIGINT, `proc_time` AS PROCTIME())
  WITH ('connector' = 'kafka', 'topic' = 'be', 'properties.bootstrap.servers' = 'k:9092', 'format' = 'json');
"""
# grouped by exactly the key: the upsert key is the primary key, and the stand-in's clause is harmless
GROUPED_TO_PRINT = (
    SOURCE
    + """CREATE TEMPORARY TABLE `totals` (`k` STRING NOT NULL, `n` BIGINT, PRIMARY KEY (`k`) NOT ENFORCED)
  WITH ('connector' = 'print');
INSERT INTO `totals`
SELECT JSON_VALUE(`payload`, '$.k') AS `k`, COUNT(*) AS `n` FROM `BusinessEvent`
WHERE `domain` = 'd' AND `type` = 't' AND JSON_VALUE(`payload`, '$.k') IS NOT NULL
GROUP BY JSON_VALUE(`payload`, '$.k')
"""
)
DATES_TO_JDBC = (
    SOURCE
    + """CREATE TEMPORARY TABLE `days` (`id` STRING NOT NULL, `d` DATE, PRIMARY KEY (`id`) NOT ENFORCED)
  WITH ('connector' = 'jdbc', 'url' = 'jdbc:postgresql://db:5432/x', 'table-name' = 'days');
INSERT INTO `days`
SELECT JSON_VALUE(`payload`, '$.id'), TO_DATE(JSON_VALUE(`payload`, '$.t'), 'yyyy-MM-dd HH:mm:ss')
FROM `BusinessEvent` WHERE `domain` = 'd' AND `type` = 't'
ON CONFLICT DO DEDUPLICATE
"""
)


def _event(**payload: Any) -> dict[str, Any]:
    return {"domain": "d", "type": "t", "payload": payload}


@pytest.fixture(scope="module")
def engine() -> FlinkEngine:
    jars = default_jar_dir()
    ensure_connector_jars(jars)
    return FlinkEngine(jar_dir=jars).start()


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    with PrivatePostgres() as pg:
        yield pg


def _orders_to_print() -> tuple[str, list[dict[str, Any]]]:
    """The orders example with its keyed result table on `print`, as the generator compiles it."""
    text = (FIXTURES / "orders-request-v3.md").read_text(encoding="utf-8")
    assert ODPS in text
    text = text.replace(ODPS, "    'connector' = 'print'\n);")
    cases_text = (FIXTURES / "orders.cases.yaml").read_text(encoding="utf-8")
    spec = check_document(text, cases_text=cases_text).spec
    assert spec is not None
    sql = compile_job(spec, profile=load_profile("dev"), revision=1, generator_version="test").sql
    assert "ON CONFLICT" not in sql and "'connector' = 'print'" in sql
    return sql, [c.model_dump(mode="json") for c in spec.cases]


def _conflict_swaps(result: CaseResult) -> list[str | None]:
    return [s.to_value for s in result.swaps if s.option == "ON CONFLICT"]


def test_a_keyed_print_result_runs_exact_batched_and_alone(
    engine: FlinkEngine, postgres: PrivatePostgres
) -> None:
    """Planning accepts the job as written; the exact runs (one batched job, and one case alone)
    run on the upsert JDBC stand-in with ON CONFLICT DO DEDUPLICATE and the request's cases pass."""
    sql, cases = _orders_to_print()
    batched = engine.run_cases(sql, cases, postgres=postgres)
    assert [r.fidelity for r in batched] == ["exact"] * len(cases)
    assert [(r.name, r.error) for r in batched if not r.passed] == []
    assert all(r.batch_size == len(cases) and r.note is None for r in batched)
    assert all(_conflict_swaps(r) == ["DO DEDUPLICATE"] for r in batched)
    alone = engine.run_case(sql, cases[0], postgres=postgres)
    assert alone.passed and alone.fidelity == "exact" and _conflict_swaps(alone) == ["DO DEDUPLICATE"]


def test_a_print_result_grouped_by_its_key_keeps_the_last_count(
    engine: FlinkEngine, postgres: PrivatePostgres
) -> None:
    """Grouped by exactly the key, the added clause is accepted, and the row per key is the last."""
    case = {
        "name": "grouped",
        "events": [_event(k="a"), _event(k="b"), _event(k="a"), _event(k=None)],
        "expected": [{"k": "a", "n": 2}, {"k": "b", "n": 1}],
    }
    result = engine.run_case(GROUPED_TO_PRINT, case, postgres=postgres, fidelity="exact")
    assert (result.error, result.missing, result.unexpected) == (None, (), ())
    assert result.passed and _conflict_swaps(result) == ["DO DEDUPLICATE"]


def test_a_date_past_year_9999_is_read_as_text_not_a_failed_job(
    engine: FlinkEngine, postgres: PrivatePostgres
) -> None:
    """Flink's TO_DATE on text that does not parse writes a date PostgreSQL keeps and Python
    cannot: the case runs, fails on that row, and says what the job wrote (batched and alone)."""
    case = {
        "name": "far_date",
        "events": [_event(id="ok", t="2025-01-06 10:00:00"), _event(id="bad", t="not a time")],
        "expected": [{"id": "ok", "d": "2025-01-06"}, {"id": "bad", "d": None}],
    }
    other = copy.deepcopy(case) | {"name": "only_ok"}
    other["events"], other["expected"] = other["events"][:1], other["expected"][:1]
    for result in [
        engine.run_case(DATES_TO_JDBC, case, postgres=postgres, fidelity="exact"),
        engine.run_cases(DATES_TO_JDBC, [case, other], postgres=postgres)[0],
    ]:
        assert result.error is None and result.fidelity == "exact", result.error
        assert not result.passed
        rows = {r["id"]: r["d"] for r in result.rows}
        assert str(rows["ok"]) == "2025-01-06"
        bad = rows["bad"]
        assert isinstance(bad, str) and int(bad.split("-")[0]) > 9999, bad
        print(f"\nTO_DATE('not a time') on Flink: {bad}")
