"""The validator's pure data: what the checks read (facts) and what they produce (findings, report).

Facts come from adapters (the Flink engine, the knowledge service, artifact files) converted
into these plain models, so the domain never touches an engine, a socket or a file.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DimensionName = Literal["sql_standards", "data_accuracy", "performance", "business_compliance"]
SeverityName = Literal["critical", "warning", "info"]
Language = Literal["en", "zh"]

DIMENSIONS: tuple[DimensionName, ...] = (
    "sql_standards",
    "data_accuracy",
    "performance",
    "business_compliance",
)
# Seed 000 §3.2 phase 2: the four dimensions and their weights.
WEIGHTS: dict[DimensionName, float] = {
    "sql_standards": 0.25,
    "data_accuracy": 0.35,
    "performance": 0.20,
    "business_compliance": 0.20,
}
SEVERITY_ORDER: dict[SeverityName, int] = {"critical": 0, "warning": 1, "info": 2}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---------------------------------------------------------------- facts (inputs)


class EngineStatement(_Model):
    """One statement as Flink's planner saw it (adapters convert the engine's result)."""

    index: int
    kind: str
    line: int
    end_line: int
    ok: bool
    error: str | None = None
    error_class: str | None = None
    error_line: int | None = None
    error_column: int | None = None
    advice: tuple[str, ...] = ()


class Swap(_Model):
    """An option the validator changed to plan or run the job here (never in artifacts)."""

    table: str
    option: str
    from_value: str | None = None
    to_value: str | None = None
    why: str


class PlanFacts(_Model):
    """The planner's verdict; `ran` is False when no engine was available (score provisional)."""

    ran: bool
    statements: tuple[EngineStatement, ...] = ()
    swaps: tuple[Swap, ...] = ()
    jars_loaded: bool = False
    seconds: float = 0.0
    notes: tuple[str, ...] = ()
    # The job's state fingerprint, compact JSON (services.flinksql.state_fingerprint); None when
    # the job did not compile (the notes say why).
    state_fingerprint: str | None = None


class CaseFacts(_Model):
    """One data-accuracy run: a request case or the generated edge cases (`source`)."""

    name: str
    source: Literal["request", "edge_cases"] = "request"
    fidelity: Literal["exact", "rewritten"] = "exact"
    passed: bool
    not_run: bool = False  # the case was refused (invalid) rather than run
    missing: tuple[dict[str, Any], ...] = ()
    unexpected: tuple[dict[str, Any], ...] = ()
    rows: tuple[dict[str, Any], ...] = ()
    error: str | None = None
    fallback_reason: str | None = None
    swaps: tuple[Swap, ...] = ()
    seconds: float = 0.0  # in a batched job: own set-up and read-back + an equal share of the job
    violations: tuple[str, ...] = ()  # edge-case invariants broken
    note: str | None = None  # how it ran, when worth saying (e.g. alone after a failed batched job)


class Conflict(_Model):
    kind: str
    severity: str
    table: str
    column: str | None = None
    detail: str


class KnowledgeFacts(_Model):
    """ER conflicts from the knowledge service; `available` False when it could not be asked."""

    available: bool
    compatible: bool = True
    conflicts: tuple[Conflict, ...] = ()
    note: str | None = None


class JobConfig(_Model):
    """Deployment settings that matter for performance (from the job config / manifest)."""

    parallelism: int | None = None
    checkpoint_interval: str | None = None
    source: str | None = None  # where it was read from


class RunArtifacts(_Model):
    """What the validator reads of a run's generated artifacts besides the SQL."""

    test_data: dict[str, Any] | None = None  # the edge-case test data
    job_config: JobConfig | None = None
    missing: tuple[str, ...] = ()  # layout paths that should exist and do not (or do not read)


# ---------------------------------------------------------------- outputs


class Finding(_Model):
    code: str
    severity: SeverityName
    dimension: DimensionName
    message: str
    location: str | None = None
    line: int | None = None
    name: str | None = None
    suggestion: str | None = None
    points_lost: float = 0.0


class DimensionResult(_Model):
    name: DimensionName
    title: str
    score: float
    weight: float
    weighted: float
    grade: str
    checks_total: int
    checks_passed: int
    summary: str


class CoverageItem(_Model):
    """A filter, business rule or join of the request: traced in the SQL, exercised by a test."""

    kind: Literal["filter", "business_rule", "join", "join_miss"]
    name: str
    text: str
    traced: bool
    tested_by: tuple[str, ...] = ()


class OracleInput(_Model):
    """One spec-derived input row, as the report shows it: the table, why it is there, the row."""

    table: str  # "events" or a dimension table
    purpose: str
    row: dict[str, Any]


class OracleDifference(_Model):
    """How the job's rows differ from the oracle's on the spec-derived data.

    `kind` "column": `column`'s values differ in `rows` rows paired by key; "missing_rows" /
    "extra_rows": rows the oracle has and the job has not (or the other way round).
    """

    kind: Literal["column", "missing_rows", "extra_rows"]
    column: str | None = None
    rows: int
    of_rows: int  # rows the oracle expects (the denominator of `rows`)
    first_input: str | None = None  # the input that shows it: "event #3 (why it is there): {...}"
    expected: str | None = None  # the first differing value / row, as text
    actual: str | None = None
    cause: str | None = None  # the likely cause, when it can be told


class OracleSummary(_Model):
    """The oracle's verdict on one job: which oracle gave the expected rows, the data, the differences."""

    oracle: Literal["interpreter", "compiler job", "interpreter and compiler job", "none"]
    note: str | None = None  # why an oracle did not judge, or how the two disagreed
    seed: int = 0
    inputs: tuple[OracleInput, ...] = ()
    dropped: tuple[str, ...] = ()  # inputs left out (Flink would fail the job on them) and why
    expected_rows: int | None = None
    actual_rows: int | None = None
    fidelity: str | None = None
    job_error: str | None = None  # the job failed on the data
    data_screened: bool = False  # the interpreter checked that no input makes Flink fail the job
    no_rows: str | None = None  # the interpreter gives no row on any input: why (filters no row passes)
    differences: tuple[OracleDifference, ...] = ()
    disagreement: tuple[OracleDifference, ...] = ()  # the interpreter vs the compiler's job
    seconds: float = 0.0


class CaseSummary(_Model):
    name: str
    source: str
    fidelity: str
    passed: bool
    seconds: float
    detail: str = ""
    fallback_reason: str | None = None
    note: str | None = None


class Report(_Model):
    """The whole validation report: the JSON form is `model_dump_json()`; markdown is rendered."""

    schema_version: int = 1
    run_id: str
    attempt: int
    domain: str
    job_name: str
    sql_file: str
    created_at: str
    language: Language
    rule_set_version: str
    # SHA-256 of the normalised statement list verified (services.flinksql.statements): the
    # router starts only SQL with this digest.
    sql_digest: str | None = None
    # The job's state fingerprint (compact JSON), which the router compares before an upgrade.
    state_fingerprint: str | None = None
    score: float
    grade: str
    gate_passed: bool
    provisional: bool
    provisional_reasons: tuple[str, ...] = ()
    dimensions: tuple[DimensionResult, ...]
    findings: tuple[Finding, ...]
    passed_checks: tuple[str, ...] = ()
    coverage: tuple[CoverageItem, ...] = ()
    cases: tuple[CaseSummary, ...] = ()
    swaps: tuple[Swap, ...] = ()
    engine_notes: tuple[str, ...] = ()
    deployment_advice: tuple[str, ...] = ()
    timings: dict[str, float] = Field(default_factory=dict)
    oracle: OracleSummary | None = None  # the spec-derived data run (None: it did not run)

    def count(self, severity: SeverityName) -> int:
        return sum(1 for f in self.findings if f.severity == severity)
