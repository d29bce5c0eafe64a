"""The oracle's verdict (verdict.judge_oracle): a job's rows on spec-derived data against the
interpreter's and the compiler's job's rows, with the column, the count, the first input and the
likely cause. Each job here is simulated by the interpreter on a spec changed in one place (the
kind of mistake a person or a model makes), or by editing the expected rows directly."""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from oracle_support import fixture_spec, remap

from services.flinksql.spec import RequestSpec
from services.validator.domain import Inputs, assess
from services.validator.domain.model import OracleSummary, PlanFacts
from services.validator.domain.oracle.pipeline import Interpreter
from services.validator.domain.oracle.verdict import OraclePlan, judge_oracle, prepare_oracle
from services.validator.domain.report import render_markdown

NOW = "2026-12-02T00:00:00+00:00"


def _rows_of(spec: RequestSpec, plan: OraclePlan) -> list[dict[str, Any]]:
    return [dict(r) for r in Interpreter(spec).run(plan.data.events, plan.data.dimensions)]


def _join(spec: RequestSpec, name: str, **update: object) -> RequestSpec:
    joins = tuple(j.model_copy(update=update) if j.name == name else j for j in spec.joins)
    assert joins != spec.joins
    return spec.model_copy(update={"joins": joins})


def _judged(spec: RequestSpec, actual: list[dict[str, Any]], **kw: Any) -> tuple[OraclePlan, OracleSummary]:
    plan = prepare_oracle(spec)
    return plan, judge_oracle(spec, plan, actual=actual, fidelity="exact", **kw)


def test_the_specs_own_rows_have_no_difference() -> None:
    spec = fixture_spec("orders")
    plan = prepare_oracle(spec)
    assert plan.expected is not None and len(plan.expected) >= 5
    summary = judge_oracle(spec, plan, actual=[dict(r) for r in plan.expected])
    assert summary.oracle == "interpreter"
    assert summary.differences == ()
    assert summary.expected_rows == summary.actual_rows == len(plan.expected)
    assert summary.data_screened
    assert any(i.table == "events" for i in summary.inputs) and any(
        i.table != "events" for i in summary.inputs
    )


def test_a_left_join_made_inner_is_missing_rows_named_by_the_join() -> None:
    spec = fixture_spec("orders")
    plan = prepare_oracle(spec)
    wrong = _join(spec, "shop_to_city", join_type="INNER")
    _, summary = _judged(spec, _rows_of(wrong, plan))
    rows = [d for d in summary.differences if d.kind == "missing_rows"]
    assert len(rows) == 1 and rows[0].rows > 0
    assert rows[0].cause is not None and "shop_to_city" in rows[0].cause and "INNER" in rows[0].cause
    assert rows[0].first_input is not None and rows[0].first_input.startswith("event #")


def test_a_dropped_filter_gives_extra_rows_named_by_the_filter() -> None:
    spec = fixture_spec("orders")
    plan = prepare_oracle(spec)
    target = spec.filters[-1]
    wrong = spec.model_copy(update={"filters": tuple(f for f in spec.filters if f is not target)})
    _, summary = _judged(spec, _rows_of(wrong, plan))
    extra = [d for d in summary.differences if d.kind == "extra_rows"]
    assert extra and extra[0].cause is not None and target.text in extra[0].cause
    assert extra[0].actual is not None


def test_a_moved_boundary_is_named_with_the_operator() -> None:
    spec = fixture_spec("orders")
    plan = prepare_oracle(spec)
    text = next(f.text for f in spec.filters if ">=" in f.text)
    wrong = spec.model_copy(
        update={
            "filters": tuple(
                f.model_copy(update={"ast": f.ast.model_copy(update={"op": ">"})}) if f.text == text else f
                for f in spec.filters
            )
        }
    )
    _, summary = _judged(spec, _rows_of(wrong, plan))
    assert summary.differences
    assert all(d.cause and text in d.cause and "`>=` is `>`" in d.cause for d in summary.differences)


def test_a_column_shifted_by_whole_hours_is_a_time_zone_cause() -> None:
    spec = fixture_spec("orders")
    plan = prepare_oracle(spec)
    assert plan.expected is not None
    actual = [dict(r) for r in plan.expected]
    for r in actual:
        if r["order_time"] is not None:
            r["order_time"] += timedelta(hours=8)
    _, summary = _judged(spec, actual)
    (d,) = summary.differences
    assert d.kind == "column" and d.column == "order_time"
    assert d.rows == sum(1 for r in plan.expected if r["order_time"] is not None)
    assert d.cause is not None and "+8 h" in d.cause and "time-zone" in d.cause
    assert d.expected != d.actual


def test_a_lost_decimal_scale_is_a_cast_cause() -> None:
    spec = fixture_spec("orders")
    plan = prepare_oracle(spec)
    assert plan.expected is not None
    actual = [dict(r) for r in plan.expected]
    for r in actual:
        if r["pay_amount"] is not None:
            r["pay_amount"] = r["pay_amount"].quantize(Decimal("1"), rounding=ROUND_HALF_UP)  # as Flink casts
    _, summary = _judged(spec, actual)
    (d,) = [d for d in summary.differences if d.column == "pay_amount"]
    assert d.cause is not None and "0 decimal place" in d.cause and "scale" in d.cause


def test_a_column_read_from_another_column_is_named() -> None:
    spec = fixture_spec("orders")
    plan = prepare_oracle(spec)
    wrong = remap(spec, "city_name", "dim2.province_name")
    _, summary = _judged(spec, _rows_of(wrong, plan))
    (d,) = summary.differences
    assert d.column == "city_name"
    assert d.cause is not None and "province_name" in d.cause and "wrong column" in d.cause


def test_count_instead_of_count_distinct_is_named() -> None:
    spec = fixture_spec("user-activity")
    plan = prepare_oracle(spec)
    wrong = remap(spec, "session_count", "COUNT(payload.sessionId)")
    _, summary = _judged(spec, _rows_of(wrong, plan))
    (d,) = summary.differences
    assert d.column == "session_count"
    assert d.cause is not None and "duplicates counted" in d.cause


def test_an_appending_sink_repeats_keys() -> None:
    spec = fixture_spec("orders")
    plan = prepare_oracle(spec)
    assert plan.expected is not None
    unkeyed = spec.model_copy(update={"result": spec.result.model_copy(update={"primary_key": ()})})
    actual = _rows_of(unkeyed, plan)
    assert len(actual) > len(plan.expected)  # the data repeats a key
    _, summary = _judged(spec, actual)
    extra = [d for d in summary.differences if d.kind == "extra_rows"]
    assert extra and extra[0].cause is not None and "does not upsert" in extra[0].cause


def test_two_oracles_agreeing_judge_together() -> None:
    spec = fixture_spec("payments")
    plan = prepare_oracle(spec)
    assert plan.expected is not None
    same = [dict(r) for r in plan.expected]
    summary = judge_oracle(spec, plan, actual=same, reference=same)
    assert summary.oracle == "interpreter and compiler job"
    assert summary.disagreement == () and summary.differences == ()


def test_disagreeing_oracles_never_charge_a_job_matching_either() -> None:
    spec = fixture_spec("orders")
    plan = prepare_oracle(spec)
    assert plan.expected is not None
    interpreted = [dict(r) for r in plan.expected]
    compiler = _rows_of(_join(spec, "shop_to_city", join_type="INNER"), plan)
    as_compiler = judge_oracle(spec, plan, actual=compiler, reference=compiler)
    assert as_compiler.disagreement and as_compiler.differences == ()
    assert as_compiler.note is not None and "disagree" in as_compiler.note
    as_interpreter = judge_oracle(spec, plan, actual=interpreted, reference=compiler)
    assert as_interpreter.differences == ()
    neither = _rows_of(remap(spec, "city_name", "dim2.province_name"), plan)
    judged = judge_oracle(spec, plan, actual=neither, reference=compiler)
    assert judged.differences and any(d.column == "city_name" for d in judged.differences)


def test_a_spec_outside_the_interpreter_falls_back_to_the_compilers_job() -> None:
    spec = remap(fixture_spec("orders"), "channel", "UUID()")
    plan = prepare_oracle(spec)
    assert plan.expected is None and plan.note is not None and "UUID" in plan.note
    alone = judge_oracle(spec, plan, actual=[{"order_id": "x"}])
    assert alone.oracle == "none" and alone.differences == ()
    rows = [{"order_id": "o1", "channel": "a"}]
    judged = judge_oracle(spec, plan, actual=[{"order_id": "o1", "channel": "b"}], reference=rows)
    assert judged.oracle == "compiler job" and not judged.data_screened
    assert [d.column for d in judged.differences if d.kind == "column"] == ["channel"]


def _report(spec: RequestSpec, summary: OracleSummary) -> Any:
    plan = PlanFacts(ran=True)
    return assess(Inputs(spec=spec, sql="", plan=plan, cases_ran=True, oracle=summary), created_at=NOW)


def test_findings_name_the_column_rows_input_values_and_cause() -> None:
    spec = fixture_spec("orders")
    plan = prepare_oracle(spec)
    _, summary = _judged(spec, _rows_of(remap(spec, "city_name", "dim2.province_name"), plan))
    report = _report(spec, summary)
    (f,) = [f for f in report.findings if f.code == "accuracy.oracle_column"]
    assert f.severity == "critical" and f.name == "city_name"
    d = summary.differences[0]
    for part in (f"{d.rows} of {d.of_rows}", d.expected, d.actual, "event #", "province_name"):
        assert part is not None and part in f.message
    assert not report.gate_passed
    markdown = render_markdown(report)
    assert "Oracle: spec-derived data" in markdown or "预言机" in markdown
    assert markdown.count("| events |") == sum(1 for i in summary.inputs if i.table == "events")
    assert report.oracle == summary


def test_a_job_failing_on_the_data_is_critical_when_screened_else_a_warning() -> None:
    spec = fixture_spec("orders")
    plan = prepare_oracle(spec)
    failed = judge_oracle(spec, plan, actual=None, actual_error="ArithmeticException: overflow")
    (f,) = [f for f in _report(spec, failed).findings if f.code == "accuracy.oracle_job_failed"]
    assert f.severity == "critical" and "overflow" in f.message
    unscreened = failed.model_copy(update={"data_screened": False})
    (g,) = [f for f in _report(spec, unscreened).findings if f.code == "accuracy.oracle_job_failed"]
    assert g.severity == "warning"


def test_no_oracle_is_a_warning_that_says_why_and_costs_points() -> None:
    """Accuracy judged without the oracle is never a silent 100 (docs/validator-oracle.md)."""
    spec = remap(fixture_spec("orders"), "channel", "UUID()")
    summary = judge_oracle(spec, prepare_oracle(spec), actual=[])
    report = _report(spec, summary)
    (f,) = [f for f in report.findings if f.code == "accuracy.oracle_unavailable"]
    assert f.severity == "warning" and f.points_lost == 5
    assert f.message.startswith(("Data accuracy was judged without the oracle", "数据准确性未经预言机校验"))
    assert "does not cover the non-deterministic function UUID" in f.message
    assert "cannot interpret" not in f.message  # the construct, not the exception's sentence
    assert report.score < 100


def test_count_distinct_of_another_field_is_caught() -> None:
    """The data repeats the distinct field alone in a group (other fields fresh), so counting
    distinct values of another field gives other counts."""
    spec = fixture_spec("user-activity")
    plan = prepare_oracle(spec)
    wrong = remap(spec, "session_count", "COUNT(DISTINCT payload.pageId)")
    _, summary = _judged(spec, _rows_of(wrong, plan))
    assert [d.column for d in summary.differences] == ["session_count"]


def test_a_sum_without_its_default_is_caught_by_an_all_null_group() -> None:
    spec = fixture_spec("user-activity")
    plan = prepare_oracle(spec)
    assert any("all NULL" in p and "total_stay_ms" in p for p in plan.data.purposes)
    wrong = remap(spec, "total_stay_ms", "SUM(payload.stayMillis)")
    _, summary = _judged(spec, _rows_of(wrong, plan))
    assert summary.differences
    assert all(d.column in (None, "total_stay_ms") for d in summary.differences)


def _keyed(spec: RequestSpec, *key: str) -> RequestSpec:
    return spec.model_copy(update={"result": spec.result.model_copy(update={"primary_key": key})})


def test_a_coarser_key_merges_rows_and_names_the_missing_key_column() -> None:
    spec = fixture_spec("user-activity")
    plan = prepare_oracle(spec)
    _, summary = _judged(spec, _rows_of(_keyed(spec, "user_id"), plan))
    (d,) = [d for d in summary.differences if d.kind == "missing_rows"]
    assert d.cause is not None and "lacks `stat_date`" in d.cause and "one row per (user_id)" in d.cause


def test_another_key_overwrites_rows_and_is_named() -> None:
    spec = fixture_spec("payments")
    plan = prepare_oracle(spec)
    _, summary = _judged(spec, _rows_of(_keyed(spec, "order_id"), plan))
    (d,) = [d for d in summary.differences if d.kind == "missing_rows"]
    assert d.cause is not None and "one row per `order_id`" in d.cause and "(payment_id)" in d.cause
