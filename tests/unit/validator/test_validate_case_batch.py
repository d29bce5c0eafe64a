"""`ValidationUseCase.validate` hands the engine every case in one call (one Flink job).

A fake engine (no Flink) records its calls: the request's cases and the edge case arrive in one
`run_all_cases` call, and the timings say how the time was shared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from services.flinksql.spec import RequestSpec
from services.ingest.domain.checks import check_document
from services.validator.domain.model import CaseFacts, EngineStatement, PlanFacts
from services.validator.domain.report import render_markdown
from services.validator.handlers import ValidationUseCase

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "requests"
TEST_DATA: dict[str, Any] = {"events": [], "dimensions": {}}
# Any script the statement policy lets through (a bare word would be refused before the engine).
SQL = "INSERT INTO `dwd_order_wide` SELECT * FROM `BusinessEvent`"
PLAN = PlanFacts(ran=True, statements=(EngineStatement(index=0, kind="INSERT", line=1, end_line=1, ok=True),))


def _spec() -> RequestSpec:
    text = (FIXTURES / "orders-request-v3.md").read_text(encoding="utf-8")
    cases = (FIXTURES / "orders.cases.yaml").read_text(encoding="utf-8")
    spec = check_document(text, cases_text=cases).spec
    assert spec is not None and spec.cases
    return spec


class BatchingEngine:
    """Answers every case with `rows` (default: none), the edge case with a pass."""

    def __init__(self, rows: Mapping[str, list[dict[str, Any]]] | None = None) -> None:
        self.calls: list[str] = []
        self.sent: list[tuple[str, list[str]]] = []  # (sql, case names) per call
        self.rows = rows or {}

    def plan(self, sql: str) -> PlanFacts:
        return PLAN

    def run_all_cases(
        self,
        sql: str,
        cases: Iterable[Mapping[str, Any]],
        *,
        test_data: Mapping[str, Any] | None,
        is_aggregate: bool,
    ) -> list[CaseFacts]:
        self.calls.append("run_all_cases")
        cases = list(cases)
        self.sent.append((sql, [str(c["name"]) for c in cases]))
        out = [
            CaseFacts(name=str(c["name"]), passed=True, seconds=0.5, rows=tuple(self.rows.get(sql, [])))
            for c in cases
        ]
        if test_data is not None:
            out.append(
                CaseFacts(
                    name="generated_edge_cases",
                    source="edge_cases",
                    passed=True,
                    seconds=0.25,
                    note="ran alone: the batched job of 6 cases failed (boom)",
                )
            )
        return out


async def test_a_batching_engine_gets_every_case_in_one_call() -> None:
    """Request cases + edge case in one call; cases_s is that call, edge_cases_s the edge
    case's share of it; a note on how a case ran reaches the report."""
    spec = _spec()
    engine = BatchingEngine()
    use_case = ValidationUseCase(engine=engine, knowledge=None, run_oracle=False)
    report = await use_case.validate(spec, SQL, test_data=TEST_DATA)
    assert engine.calls == ["run_all_cases"]
    names = [c.name for c in report.cases]
    assert names == [*(c.name for c in spec.cases), "generated_edge_cases"]
    assert report.cases[-1].source == "edge_cases"
    assert report.timings["edge_cases_s"] == 0.25
    assert "cases_s" in report.timings
    assert report.cases[-1].note is not None
    assert "the batched job of 6 cases failed" in render_markdown(report)


async def test_edge_cases_off_sends_no_test_data() -> None:
    engine = BatchingEngine()
    use_case = ValidationUseCase(engine=engine, knowledge=None, run_edge_cases=False, run_oracle=False)
    report = await use_case.validate(_spec(), SQL, test_data=TEST_DATA)
    assert engine.calls == ["run_all_cases"]
    assert all(c.source == "request" for c in report.cases)
    assert "edge_cases_s" not in report.timings


async def test_the_oracle_case_rides_in_the_same_call_and_is_judged_apart() -> None:
    """The spec-derived data is one more case in the one call (after the request's, before the
    edge case); it is not a request case in the report, its verdict is the report's `oracle`."""
    spec = _spec()
    engine = BatchingEngine()
    report = await ValidationUseCase(engine=engine, knowledge=None).validate(spec, SQL, test_data=TEST_DATA)
    assert [names for _, names in engine.sent] == [[*(c.name for c in spec.cases), "oracle"]]
    assert [c.name for c in report.cases] == [*(c.name for c in spec.cases), "generated_edge_cases"]
    assert report.oracle is not None and report.oracle.oracle == "interpreter"
    # the fake job wrote no rows: every expected row is missing, a Critical finding
    assert report.oracle.actual_rows == 0
    assert [d.kind for d in report.oracle.differences] == ["missing_rows"]
    assert "accuracy.oracle_rows" in {f.code for f in report.findings if f.severity == "critical"}
    assert {"oracle_s", "oracle_prepare_s", "oracle_judge_s"} <= set(report.timings)


async def test_other_sql_runs_the_compilers_job_as_the_second_oracle() -> None:
    """With a reference job the engine gets a second call: the reference on the oracle's data
    alone. The same job as the reference is not run twice."""
    spec = _spec()
    reference = SQL + " WHERE TRUE"
    engine = BatchingEngine()
    use_case = ValidationUseCase(engine=engine, knowledge=None)
    report = await use_case.validate(spec, SQL, reference_sql=reference)
    assert engine.sent[1] == (reference, ["oracle"])
    assert report.oracle is not None and report.oracle.oracle == "interpreter and compiler job"
    assert "oracle_reference_s" in report.timings
    again = BatchingEngine()
    await ValidationUseCase(engine=again, knowledge=None).validate(spec, SQL, reference_sql=f"  {SQL} ;")
    assert len(again.sent) == 1


async def test_a_job_equal_to_the_interpreter_costs_no_second_job() -> None:
    """The compiler's job runs only when the interpreter cannot decide alone: a job whose rows
    equal the interpreter's is not run against the reference."""
    from services.validator.domain.oracle.verdict import prepare_oracle

    spec = _spec()
    expected = prepare_oracle(spec).expected
    assert expected is not None
    engine = BatchingEngine(rows={SQL: [dict(r) for r in expected]})
    report = await ValidationUseCase(engine=engine, knowledge=None).validate(
        spec, SQL, reference_sql=SQL + " WHERE TRUE"
    )
    assert len(engine.sent) == 1
    assert report.oracle is not None and report.oracle.oracle == "interpreter"
    assert report.oracle.differences == () and "oracle_reference_s" not in report.timings


async def test_a_defect_in_the_oracle_costs_nothing_else(monkeypatch: pytest.MonkeyPatch) -> None:
    """The oracle failing to derive its data is said in the report (the Warning of any
    validation the oracle did not judge), and the request's cases still run and count."""
    import services.validator.handlers as handlers

    def broken(spec: RequestSpec, *, seed: int = 0) -> None:
        raise KeyError("boom")

    monkeypatch.setattr(handlers, "prepare_oracle", broken)
    spec = _spec()
    engine = BatchingEngine()
    report = await ValidationUseCase(engine=engine, knowledge=None).validate(spec, SQL)
    assert [names for _, names in engine.sent] == [[c.name for c in spec.cases]]
    assert report.oracle is not None and report.oracle.oracle == "none"
    assert report.oracle.note is not None and "KeyError" in report.oracle.note
    (f,) = [f for f in report.findings if f.code == "accuracy.oracle_unavailable"]
    assert f.severity == "warning" and "defect" in f.message
    assert [c.name for c in report.cases] == [c.name for c in spec.cases]
