"""A request whose filters no row can pass: the interpreter gives no row on any spec-derived
input (built on both sides of every filter boundary), so the report warns that the result
table can never get a row and names the filters (docs/validator-oracle.md)."""

from __future__ import annotations

import pytest
from oracle_support import expression, fixture_spec

from services.flinksql.spec import RequestSpec
from services.validator.domain import Inputs, assess
from services.validator.domain.model import OracleSummary, PlanFacts
from services.validator.domain.oracle.verdict import judge_oracle, prepare_oracle

NOW = "2026-01-01T00:00:00Z"


def with_filters(*texts: str) -> RequestSpec:
    spec = fixture_spec("orders")
    return spec.model_copy(update={"filters": (*spec.filters, *(expression(t) for t in texts))})


def findings(spec: RequestSpec) -> tuple[OracleSummary, list[object]]:
    summary = judge_oracle(spec, prepare_oracle(spec), actual=[])
    report = assess(
        Inputs(spec=spec, sql="", plan=PlanFacts(ran=True), cases_ran=True, oracle=summary), created_at=NOW
    )
    return summary, [f for f in report.findings if f.code == "accuracy.oracle_no_rows"]


@pytest.mark.parametrize(
    "text",
    [
        "payload.orderAmount > 5 AND payload.orderAmount < 3",  # h57
        "1 = 0",  # h59
        "payload.channel NOT IN ('a', NULL)",  # h86: never TRUE, only FALSE or NULL
    ],
)
def test_a_filter_no_row_passes_is_a_warning_naming_it(text: str) -> None:
    summary, found = findings(with_filters(text))
    assert summary.expected_rows == 0 and summary.no_rows is not None
    (f,) = found
    assert f.severity == "warning" and f.points_lost == 10  # type: ignore[attr-defined]
    assert f"`{text}`" in f.message and "TRUE on none" in f.message  # type: ignore[attr-defined]
    assert "payload.orderStatus IN (1, 2, 3)" not in f.message  # type: ignore[attr-defined]


def test_filters_that_hold_alone_but_not_together_are_named_together() -> None:
    """h58: two filters, each satisfiable, contradicting each other."""
    summary, (f,) = findings(with_filters("payload.orderAmount > 5", "payload.orderAmount < 3"))
    assert summary.no_rows is not None and "contradict each other" in summary.no_rows
    assert "`payload.orderAmount > 5`" in f.message and "`payload.orderAmount < 3`" in f.message  # type: ignore[attr-defined]


def test_a_request_with_rows_gets_no_such_warning() -> None:
    summary, found = findings(fixture_spec("orders"))
    assert summary.expected_rows and summary.no_rows is None and found == []
