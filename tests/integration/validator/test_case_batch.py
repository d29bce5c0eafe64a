"""All cases of one validation as ONE Flink job (`FlinkEngine.run_cases`), on the real engine.

The batched job must give each case exactly what the case gets when it runs alone: the
examples' cases (and their generated edge cases) are run both ways and compared; a wrong
expected row fails only its case; a case that breaks the job at run time sends the batch back
to one job per case, and the failure lands on that case; two cases with the same keys and
different data do not see each other's rows. One warm JVM and one PostgreSQL for the module.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.flinksql.artifacts import ArtifactLayout
from services.generator.adapters.profiles_fs import load_profile
from services.generator.domain import compile_job
from services.ingest.domain.checks import check_document
from services.validator.adapters.connector_jars import default_jar_dir, ensure_connector_jars
from services.validator.adapters.engine_runner import EDGE_CASE_NAME, EngineRunner, edge_case_mapping
from services.validator.adapters.flink_engine import FlinkEngine
from services.validator.adapters.postgres import PrivatePostgres
from services.validator.domain.cases import CaseResult

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "requests"
EXAMPLES = ("orders", "payments", "user-activity")


def example(name: str) -> tuple[str, list[dict[str, Any]]]:
    """The example's compiled job and its cases: the request's, then the generated edge case."""
    text = (FIXTURES / f"{name}-request-v3.md").read_text(encoding="utf-8")
    cases_text = (FIXTURES / f"{name}.cases.yaml").read_text(encoding="utf-8")
    spec = check_document(text, cases_text=cases_text).spec
    assert spec is not None
    job = compile_job(spec, profile=load_profile("dev"), revision=1, generator_version="test")
    test_data = yaml.safe_load(job.files[ArtifactLayout(spec.job.domain).test_data])["test_data"]
    cases = [c.model_dump(mode="json") for c in spec.cases]
    return job.sql, [*cases, edge_case_mapping(test_data)]


@pytest.fixture(scope="module")
def engine() -> FlinkEngine:
    jars = default_jar_dir()
    ensure_connector_jars(jars)
    return FlinkEngine(jar_dir=jars).start()


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    with PrivatePostgres() as pg:
        yield pg


def _bag(rows: Sequence[dict[str, Any]]) -> Counter[str]:
    return Counter(json.dumps(r, sort_keys=True, ensure_ascii=False) for r in rows)


def _swaps(result: CaseResult) -> list[tuple[str, str, str | None, str | None]]:
    """The swaps with the random per-case PostgreSQL schema and temp folder names taken out."""

    def plain(value: str | None) -> str | None:
        if value is None:
            return None
        value = re.sub(r"sw-case-[^/]+/(batch|alone)_\d+/", "CASE_DIR/", value)
        return re.sub(r"sw_case_[0-9a-f]{12}", "sw_case_X", value)

    return [(s.table, s.option, plain(s.from_value), plain(s.to_value)) for s in result.swaps]


def _same(batched: CaseResult, alone: CaseResult) -> None:
    assert batched.name == alone.name
    assert (batched.fidelity, batched.passed, batched.error) == (alone.fidelity, alone.passed, alone.error)
    assert _bag(batched.rows) == _bag(alone.rows)
    assert _bag(batched.missing) == _bag(alone.missing)
    assert _bag(batched.unexpected) == _bag(alone.unexpected)
    assert _swaps(batched) == _swaps(alone)


@pytest.mark.parametrize("name", EXAMPLES)
def test_batched_example_cases_equal_their_runs_alone(
    name: str, engine: FlinkEngine, postgres: PrivatePostgres
) -> None:
    """Every case of an example, edge case included, gets the same result batched as alone."""
    sql, cases = example(name)
    began = time.perf_counter()
    batched = engine.run_cases(sql, cases, postgres=postgres)
    batch_s = time.perf_counter() - began
    began = time.perf_counter()
    alone = [engine.run_case(sql, case, postgres=postgres) for case in cases]
    alone_s = time.perf_counter() - began
    print(f"\n{name}: {len(cases)} cases batched {batch_s:.2f} s, one job each {alone_s:.2f} s")
    assert [r.batch_size for r in batched] == [len(cases)] * len(cases)  # one job, no fallback
    assert all(r.note is None for r in batched)
    assert [r.batch_size for r in alone] == [1] * len(cases)
    assert all(r.fidelity == "exact" for r in batched)
    for b, a in zip(batched, alone, strict=True):
        _same(b, a)
    # the request's cases pass; the edge case has no expected rows, so its rows are "unexpected"
    assert all(r.passed for r in batched[:-1]), [(r.name, r.missing, r.unexpected) for r in batched]
    # the batch's seconds add up to its wall time (own set-up and read-back + a share of the job)
    assert sum(r.seconds for r in batched) == pytest.approx(batch_s, rel=0.1)


def test_a_wrong_expected_row_fails_only_its_case(engine: FlinkEngine, postgres: PrivatePostgres) -> None:
    """In one batched job, the case with a wrong expected row fails and the others pass."""
    sql, cases = example("orders")
    cases = copy.deepcopy(cases[:-1])
    wrong = cases[1]["expected"][0]
    wrong["shop_name"] = "no such shop"
    results = engine.run_cases(sql, cases, postgres=postgres)
    assert [r.batch_size for r in results] == [len(cases)] * len(cases)
    assert [r.passed for r in results] == [i != 1 for i in range(len(cases))]
    bad = results[1]
    assert bad.error is None
    assert [r["shop_name"] for r in bad.missing] == ["no such shop"]
    assert [r["order_id"] for r in bad.unexpected] == [wrong["order_id"]]


def test_a_case_that_breaks_the_batched_job_falls_back_and_fails_alone(
    engine: FlinkEngine, postgres: PrivatePostgres
) -> None:
    """A value PostgreSQL refuses (NUL in text) fails the batched job at run time: every case
    then runs alone, the failure is that case's, and the other cases pass."""
    sql, cases = example("orders")
    cases = copy.deepcopy(cases[:3])
    cases[1]["events"][0]["payload"]["userId"] = "U\x00broken"  # an event the job keeps
    results = engine.run_cases(sql, cases, postgres=postgres)
    assert [r.batch_size for r in results] == [1, 1, 1]
    assert all(r.note is not None and "batched job of 3 cases failed" in r.note for r in results)
    assert [r.passed for r in results] == [True, False, True]
    assert results[0].error is None and results[2].error is None
    assert results[1].error is not None and "0x00" in results[1].error
    print(f"\nbatch fell back; the failing case says: {results[1].error[:200]}")


ISOLATED_CASE: dict[str, Any] = {
    "events": [
        {
            "domain": "orders",
            "type": "order_created",
            "payload": {
                "orderId": "O1",
                "userId": "U1",
                "shopId": "S1",
                "orderAmount": 10,
                "itemCount": 1,
                "orderStatus": 1,
                "channel": "APP",
                "createdAt": 1736126130250,
            },
        }
    ],
    "dimensions": {
        "dim_shop": [{"shop_id": "S1", "shop_name": "SHOP", "city_id": "C1", "shop_status": 1}],
        "dim_city": [{"city_id": "C1", "city_name": "CITY", "province_name": "P", "city_tier": 1}],
    },
    "expected": [
        {
            "order_id": "O1",
            "user_id": "U1",
            "shop_id": "S1",
            "shop_name": "SHOP",
            "city_name": "CITY",
            "province_name": "P",
            "order_amount": "10.00",
            "discount_amount": "0.00",
            "pay_amount": "10.00",
            "item_count": 1,
            "order_status": 1,
            "channel": "CHANNEL",
            "order_time": "2025-01-06 09:15:30.250",
        }
    ],
}


def _variant(tag: str) -> dict[str, Any]:
    """The same order, shop and city keys as every other variant; names and channel differ."""
    case = copy.deepcopy(ISOLATED_CASE)
    case["name"] = f"variant_{tag}"
    case["events"][0]["payload"]["channel"] = f"CH_{tag}"
    case["dimensions"]["dim_shop"][0]["shop_name"] = f"shop {tag}"
    case["dimensions"]["dim_city"][0]["city_name"] = f"city {tag}"
    row = case["expected"][0]
    row.update(channel=f"CH_{tag}", shop_name=f"shop {tag}", city_name=f"city {tag}")
    return case


def with_view(sql: str) -> str:
    """The job with its event subquery moved into a temporary view the INSERT reads."""
    match = re.search(r"FROM \(\n(    SELECT\n.*?)\n\) AS `ev`", sql, re.DOTALL)
    assert match is not None
    view = f"CREATE TEMPORARY VIEW `orders_ev` AS\n{match.group(1)};\n\n"
    job = sql[: match.start()] + "FROM `orders_ev` AS `ev`" + sql[match.end() :]
    at = job.index("INSERT INTO")
    return job[:at] + view + job[at:]


@pytest.mark.parametrize("shape", ["plain", "view"])
def test_cases_with_the_same_keys_do_not_see_each_others_rows(
    shape: str, engine: FlinkEngine, postgres: PrivatePostgres
) -> None:
    """Same order id, shop id and city id in three cases with different values: each case reads
    only its own dimension rows and events and gets only its own result row (also when the
    INSERT reads a temporary view, which each case's database holds its own copy of)."""
    sql, _ = example("orders")
    if shape == "view":
        sql = with_view(sql)
        assert "CREATE TEMPORARY VIEW `orders_ev`" in sql and "FROM `orders_ev` AS `ev`" in sql
    variants = [_variant(tag) for tag in ("a", "b", "c")]
    results = engine.run_cases(sql, variants, postgres=postgres)
    assert [r.batch_size for r in results] == [3, 3, 3]
    for tag, result in zip("abc", results, strict=True):
        assert result.passed, (result.name, result.missing, result.unexpected)
        assert [(r["shop_name"], r["city_name"], r["channel"]) for r in result.rows] == [
            (f"shop {tag}", f"city {tag}", f"CH_{tag}")
        ]


def test_the_runner_judges_request_cases_and_edge_case_from_one_batch() -> None:
    """`EngineRunner.run_all_cases`: one engine call for the request's cases and the edge case;
    the request cases by their expected rows, the edge case by the generator's invariants."""
    text = (FIXTURES / "payments-request-v3.md").read_text(encoding="utf-8")
    cases_text = (FIXTURES / "payments.cases.yaml").read_text(encoding="utf-8")
    spec = check_document(text, cases_text=cases_text).spec
    assert spec is not None
    job = compile_job(spec, profile=load_profile("dev"), revision=1, generator_version="test")
    test_data = yaml.safe_load(job.files[ArtifactLayout(spec.job.domain).test_data])["test_data"]
    runner = EngineRunner(default_jar_dir())
    try:
        facts = runner.run_all_cases(
            job.sql,
            [c.model_dump(mode="json") for c in spec.cases],
            test_data=test_data,
            is_aggregate=spec.aggregation.is_aggregate,
        )
    finally:
        runner.close()
    assert [f.name for f in facts] == [*(c.name for c in spec.cases), EDGE_CASE_NAME]
    assert [f.source for f in facts] == ["request"] * len(spec.cases) + ["edge_cases"]
    assert all(f.passed for f in facts), [(f.name, f.error, f.violations) for f in facts]
    assert facts[-1].unexpected == () and facts[-1].violations == ()
    assert all(f.note is None for f in facts)  # one job, no fallback
