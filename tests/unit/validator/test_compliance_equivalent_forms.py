"""Compliance tracing of predicates written in an equivalent form, and the oracle as the judge
of a predicate the text cannot trace (Critical only when the oracle did not show the job right)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.flinksql.spec import RequestSpec
from services.generator.adapters.profiles_fs import load_profile
from services.generator.domain import compile_job
from services.ingest.domain.checks import check_document
from services.validator.domain import Inputs, assess
from services.validator.domain import sqlview as sv
from services.validator.domain.checks_compliance import normal_form, traced
from services.validator.domain.model import (
    JobConfig,
    KnowledgeFacts,
    OracleDifference,
    OracleInput,
    OracleSummary,
    PlanFacts,
    Report,
)
from services.validator.domain.oracle.datagen import derive_data

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "requests"
BETWEEN = '    - "payload.itemCount BETWEEN 1 AND 99"\n'
RULE = (
    "  business_rules:\n"
    "    known_channel:\n"
    "      condition: \"CASE payload.channel WHEN 'app' THEN payload.orderAmount > 0 "
    "WHEN 'web' THEN payload.orderAmount >= 1 ELSE TRUE END\"\n"
    '      description: "per channel minimum"\n'
    "\n"
)


@pytest.fixture(scope="module")
def spec() -> RequestSpec:
    text = (FIXTURES / "orders-request-v3.md").read_text(encoding="utf-8")
    anchor = '    - "payload.orderAmount >= 0"\n'
    assert anchor in text and "business_rules" not in text
    text = text.replace(anchor, anchor + BETWEEN + "\n" + RULE)
    checked = check_document(text)
    assert checked.spec is not None, checked
    return checked.spec


@pytest.fixture(scope="module")
def same_rows(spec: RequestSpec) -> OracleSummary:
    """The oracle judged the job on the data it derives from the spec and found no difference."""
    data = derive_data(spec)
    inputs = tuple(OracleInput(table="events", purpose=p, row={}) for p in data.purposes)
    return OracleSummary(oracle="interpreter", inputs=inputs, expected_rows=5, actual_rows=5)


@pytest.fixture(scope="module")
def job_sql(spec: RequestSpec) -> str:
    return compile_job(spec, profile=load_profile("dev"), revision=1, generator_version="t").sql


def _report(spec: RequestSpec, sql: str, oracle: OracleSummary | None) -> Report:
    inputs = Inputs(
        spec=spec,
        sql=sql,
        plan=PlanFacts(ran=True),
        knowledge=KnowledgeFacts(available=True),
        job_config=JobConfig(parallelism=2, checkpoint_interval="30 s"),
        cases_ran=True,
        oracle=oracle,
    )
    return assess(inputs, created_at="2025-01-01T00:00:00+00:00", language="en")


def _compliance(report: Report) -> list[tuple[str, str]]:
    return [(f.code, f.severity) for f in report.findings if f.code.startswith("compliance.")]


def _as_between_spelt_out(sql: str) -> str:
    written = "(`ev`.`itemCount` BETWEEN 1 AND 99)"
    assert written in sql
    return sql.replace(written, "(`ev`.`itemCount` >= 1 AND `ev`.`itemCount` <= 99)")


def _as_searched_case(sql: str) -> str:
    simple = "CASE `ev`.`channel` WHEN 'app' THEN"
    assert simple in sql
    return sql.replace(simple, "CASE WHEN `ev`.`channel` = 'app' THEN").replace(
        "WHEN 'web' THEN", "WHEN (`ev`.`channel` = 'web') THEN"
    )


def test_the_generated_job_traces_both(spec: RequestSpec, job_sql: str) -> None:
    """It traces the generated job's BETWEEN filter and simple-CASE rule as written."""
    assert _compliance(_report(spec, job_sql, None)) == []


@pytest.mark.parametrize("rewrite", [_as_between_spelt_out, _as_searched_case])
def test_equivalent_forms_are_traced_without_the_oracle(
    spec: RequestSpec, job_sql: str, rewrite: object
) -> None:
    """BETWEEN written as >= AND <=, a simple CASE as a searched one: traced, no finding at all."""
    assert callable(rewrite)
    report = _report(spec, rewrite(job_sql), None)
    assert _compliance(report) == []
    assert all(c.traced for c in report.coverage if c.kind in ("filter", "business_rule"))


def test_the_reverse_direction_is_traced() -> None:
    """A request's `x >= a AND x <= b` is traced by a job's BETWEEN, and a searched CASE by a simple one."""

    def toks(text: str) -> list[sv.Tok]:
        return sv.canonical_expression(text)

    assert traced(toks("x >= 1 AND x <= 8"), [toks("(x BETWEEN 1 AND 8)")])
    assert traced(
        toks("CASE WHEN t = 'A' THEN r BETWEEN 0 AND 1 ELSE TRUE END"),
        [toks("CASE t WHEN 'A' THEN r >= 0 AND r <= 1 ELSE TRUE END")],
    )
    # not equivalences: other bounds, NOT BETWEEN, a CASE on another operand
    assert not traced(toks("x BETWEEN 1 AND 8"), [toks("x >= 1 AND x < 8")])
    assert not traced(toks("x NOT BETWEEN 1 AND 8"), [toks("x >= 1 AND x <= 8")])
    assert not traced(
        toks("CASE t WHEN 'A' THEN TRUE ELSE FALSE END"), [toks("CASE WHEN u = 'A' THEN TRUE ELSE FALSE END")]
    )


def test_normal_form_spells_out_nested_forms() -> None:
    """Inside function arguments and nested CASEs too; the low bound's AND is not a conjunct."""
    text = " ".join(
        t.text for t in normal_form(sv.canonical_expression("CASE a WHEN 1 THEN f(b BETWEEN 2 AND 3, c) END"))
    )
    assert text == "CASE WHEN A = 1 THEN F ( ( B >= 2 AND B <= 3 ) , C ) END"


def _not_traced(sql: str) -> str:
    """The filter written differently in a way no normal form covers (the bounds swapped round)."""
    written = "(`ev`.`itemCount` BETWEEN 1 AND 99)"
    return sql.replace(written, "(1 <= `ev`.`itemCount` AND 99 >= `ev`.`itemCount`)")


def test_a_textual_mismatch_the_oracle_shows_equal_is_a_warning(
    spec: RequestSpec, job_sql: str, same_rows: OracleSummary
) -> None:
    """The oracle judged the job on data that makes the filter fail at both ends of its range
    and found no difference: Warning, and the gate is not blocked by it."""
    report = _report(spec, _not_traced(job_sql), same_rows)
    [hit] = [f for f in report.findings if f.code == "compliance.filter_missing"]
    assert hit.severity == "warning"
    assert "shows no difference" in hit.message and "BETWEEN 1 AND 99" in hit.message
    assert report.count("critical") == 0


def test_equal_rows_on_data_that_does_not_test_the_rule_stay_critical(
    spec: RequestSpec, job_sql: str, same_rows: OracleSummary
) -> None:
    """The rule's bounds sit inside CASE branches the derived rows do not take (each boundary
    row only 'holds'): equal rows prove nothing, so a rule written otherwise stays Critical."""
    written = "THEN (`ev`.`orderAmount` > 0)"
    assert written in job_sql
    report = _report(spec, job_sql.replace(written, "THEN (`ev`.`orderAmount` > 5)"), same_rows)
    [hit] = [f for f in report.findings if f.code == "compliance.rule_missing"]
    assert hit.severity == "critical" and "cannot vouch" in hit.message
    assert [f.code for f in report.findings if f.code == "compliance.filter_missing"] == []


def test_without_a_failing_boundary_row_the_filter_stays_critical(spec: RequestSpec, job_sql: str) -> None:
    """Only the rows where the filter holds: not exercised, Critical."""
    data = derive_data(spec)
    purposes = [p for p in data.purposes if not p.endswith(": fails")]
    inputs = tuple(OracleInput(table="events", purpose=p, row={}) for p in purposes)
    oracle = OracleSummary(oracle="interpreter", inputs=inputs, expected_rows=5, actual_rows=5)
    [hit] = [
        f
        for f in _report(spec, _not_traced(job_sql), oracle).findings
        if f.code == "compliance.filter_missing"
    ]
    assert hit.severity == "critical"


@pytest.mark.parametrize(
    "oracle",
    [
        None,
        OracleSummary(oracle="none", note="not covered"),
        OracleSummary(oracle="interpreter", expected_rows=5, job_error="boom"),
        OracleSummary(
            oracle="interpreter",
            expected_rows=5,
            actual_rows=6,
            differences=(OracleDifference(kind="extra_rows", rows=1, of_rows=5),),
        ),
        OracleSummary(
            oracle="interpreter and compiler job",
            expected_rows=5,
            actual_rows=5,
            disagreement=(OracleDifference(kind="column", column="x", rows=1, of_rows=5),),
        ),
    ],
    ids=["no-oracle-run", "unavailable", "job-failed", "differences", "oracles-disagree"],
)
def test_without_the_oracles_word_it_stays_critical(
    spec: RequestSpec, job_sql: str, oracle: OracleSummary | None
) -> None:
    """No oracle, no judgement, a failed job, differences or two disagreeing oracles: Critical."""
    report = _report(spec, _not_traced(job_sql), oracle)
    [hit] = [f for f in report.findings if f.code == "compliance.filter_missing"]
    assert hit.severity == "critical" and not report.gate_passed
    assert "is not in the job's WHERE clause." in hit.message
