"""The validator's engine port: one warm `FlinkEngine` and one `PrivatePostgres` per process.

Both start lazily on first use (or on `warm()`), stay up, and are shared by every validation
in the process; the engine serialises jobs itself. Results are converted into the domain's
plain facts (`PlanFacts`, `CaseFacts`), so nothing above this module sees PyFlink types. When
the engine cannot start (no Java, no PyFlink) `plan` says so (`ran=False`) instead of failing,
and the report is marked provisional.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from services.flinksql.state_fingerprint import to_json
from services.mesh.logging import get_logger
from services.validator.adapters.connector_jars import (
    ConnectorJarError,
    default_jar_dir,
    ensure_connector_jars,
)
from services.validator.adapters.flink_engine import FlinkEngine
from services.validator.adapters.postgres import PostgresError, PostgresUnavailable, PrivatePostgres
from services.validator.domain.cases import Case, CaseResult
from services.validator.domain.checks_accuracy import check_invariants
from services.validator.domain.connector_swap import OptionSwap
from services.validator.domain.engine_report import PlanReport, trim
from services.validator.domain.model import CaseFacts, EngineStatement, PlanFacts, Swap

log = get_logger(__name__)

EDGE_CASE_NAME = "generated_edge_cases"
# The fingerprint travels in ValidationScored and the router's run record: bounded.
MAX_FINGERPRINT_CHARS = 256_000

# The first validation after start paid ~5-10 s more than the next ones: the planner's rules, code
# generation, JSON format, the JDBC connector and the PostgreSQL driver all load and JIT on first
# use. Warming up with a job of the shape the generator emits (event payload read with JSON_VALUE,
# a JDBC lookup join, a JDBC upsert sink) and one exact case of it pays that at service start.
WARM_UP_JOB = """SET 'table.exec.sink.require-on-conflict' = 'false';
CREATE TABLE `BusinessEvent` (
  `domain` STRING, `type` STRING, `payload` STRING, `create_time` BIGINT, `proc_time` AS PROCTIME()
) WITH ('connector' = 'kafka', 'topic' = 'warm', 'properties.bootstrap.servers' = 'localhost:9092',
  'properties.group.id' = 'warm', 'scan.startup.mode' = 'latest-offset',
  'format' = 'json');
CREATE TABLE `sw_warm_dim` (`k` STRING, `v` STRING, PRIMARY KEY (`k`) NOT ENFORCED)
  WITH ('connector' = 'jdbc', 'url' = 'jdbc:postgresql://localhost:5432/warm', 'table-name' = 'sw_warm_dim');
CREATE TABLE `sw_warm_result` (`id` STRING, `v` STRING, `n` DECIMAL(10, 2), PRIMARY KEY (`id`) NOT ENFORCED)
  WITH ('connector' = 'jdbc', 'url' = 'jdbc:postgresql://localhost:5432/warm', 'table-name' = 'sw_warm_result');
INSERT INTO `sw_warm_result`
SELECT JSON_VALUE(e.`payload`, '$.id'), d.`v`, CAST(JSON_VALUE(e.`payload`, '$.n') AS DECIMAL(10, 2))
FROM `BusinessEvent` AS e
LEFT JOIN `sw_warm_dim` FOR SYSTEM_TIME AS OF e.`proc_time` AS d ON JSON_VALUE(e.`payload`, '$.k') = d.`k`
WHERE e.`domain` = 'warm' AND e.`type` = 'w';
"""
WARM_UP_CASE = {
    "name": "warm_up",
    "events": [
        {"domain": "warm", "type": "w", "create_time": 0, "payload": {"id": "1", "k": "a", "n": 1.5}},
        {"domain": "warm", "type": "w", "create_time": 0, "payload": {"id": "2", "k": "b", "n": 2}},
    ],
    "dimensions": {"sw_warm_dim": [{"k": "a", "v": "A"}]},
    "expected": [{"id": "1", "v": "A", "n": "1.50"}, {"id": "2", "v": None, "n": "2.00"}],
}


def _swap(s: OptionSwap) -> Swap:
    return Swap(table=s.table, option=s.option, from_value=s.from_value, to_value=s.to_value, why=s.why)


def plan_facts(report: PlanReport) -> PlanFacts:
    statements = tuple(
        EngineStatement(
            index=s.index,
            kind=s.kind,
            line=s.line,
            end_line=s.end_line,
            ok=s.ok,
            error=None if s.error is None else s.error.message,
            error_class=None if s.error is None else s.error.exception,
            error_line=None if s.error is None else s.error.line,
            error_column=None if s.error is None else s.error.column,
            advice=s.advice,
        )
        for s in report.statements
    )
    return PlanFacts(
        ran=True,
        statements=statements,
        swaps=tuple(_swap(s) for s in report.swaps),
        jars_loaded=report.jars_loaded,
        seconds=report.seconds,
        notes=report.notes,
    )


def state_fingerprint(engine: FlinkEngine, sql: str) -> tuple[str | None, str | None]:
    """The job's state fingerprint as compact JSON, or None and why (never fails a validation)."""
    try:
        text = to_json(engine.state_fingerprint(sql))
    except Exception as exc:  # the fingerprint only informs upgrades: the validation goes on
        log.warning("no state fingerprint", error=str(exc)[:300])
        return None, f"no state fingerprint (upgrades of this job are not checked): {trim(str(exc), 300)}"
    if len(text) > MAX_FINGERPRINT_CHARS:
        return None, f"no state fingerprint: {len(text)} characters, more than {MAX_FINGERPRINT_CHARS}"
    return text, None


def case_facts(result: CaseResult, source: Literal["request", "edge_cases"] = "request") -> CaseFacts:
    not_run = bool(result.error and result.error.startswith("case not run"))
    return CaseFacts(
        name=result.name,
        source=source,
        fidelity=result.fidelity,
        passed=result.passed,
        not_run=not_run,
        missing=result.missing,
        unexpected=result.unexpected,
        rows=result.rows,
        error=result.error,
        fallback_reason=result.fallback_reason,
        swaps=tuple(_swap(s) for s in result.swaps),
        seconds=result.seconds,
        note=result.note,
    )


def _case_name(case: Mapping[str, Any] | Case) -> str:
    return case.name if isinstance(case, Case) else str(case.get("name"))


def _edge_facts(result: CaseResult, test_data: Mapping[str, Any], *, is_aggregate: bool) -> CaseFacts:
    """The edge case judged by the generator's invariants instead of expected rows."""
    facts = case_facts(result, "edge_cases")
    if result.error:
        return facts.model_copy(update={"passed": False})
    violations = check_invariants(test_data, result.rows, is_aggregate=is_aggregate)
    return facts.model_copy(
        update={
            "passed": not violations,
            "violations": tuple(violations),
            "missing": (),
            "unexpected": (),
        }
    )


def edge_case_mapping(test_data: Mapping[str, Any]) -> dict[str, Any]:
    """The generator's edge-case data as a §8 case without expected rows (invariants judge it)."""
    events = [e["event"] for e in test_data.get("events") or [] if isinstance(e, Mapping) and "event" in e]
    return {
        "name": EDGE_CASE_NAME,
        "events": events,
        "dimensions": dict(test_data.get("dimensions") or {}),
        "expected": [],
    }


class EngineRunner:
    """Plans and runs jobs on a warm engine; thread-safe, blocking (call it from a worker thread)."""

    def __init__(self, jar_dir: Path | None = None, *, use_postgres: bool = True) -> None:
        self.jar_dir = jar_dir or default_jar_dir()
        self.use_postgres = use_postgres
        self._engine: FlinkEngine | None = None
        self._postgres: PrivatePostgres | None = None
        self._postgres_note: str | None = None
        self._engine_error: str | None = None
        self.warm_up_problem: str | None = None  # why `warm()` did not warm everything, if so
        self._lock = threading.Lock()

    # ---- lifecycle

    def engine(self) -> FlinkEngine | None:
        with self._lock:
            if self._engine is None and self._engine_error is None:
                try:
                    try:  # first use on this machine: download and verify the connector jars
                        ensure_connector_jars(self.jar_dir)
                    except ConnectorJarError as exc:  # plans without them, and the report says so
                        log.warning("connector jars unavailable", error=str(exc)[:300])
                    engine = FlinkEngine(jar_dir=self.jar_dir)
                    engine.start()
                    self._engine = engine
                except Exception as exc:  # no Java / PyFlink: validation goes on, provisional
                    self._engine_error = f"{type(exc).__name__}: {exc}"[:500]
            return self._engine

    def postgres(self) -> PrivatePostgres | None:
        with self._lock:
            if self._postgres is None and self._postgres_note is None and self.use_postgres:
                try:
                    self._postgres = PrivatePostgres().start()
                except (PostgresUnavailable, PostgresError, OSError) as exc:
                    self._postgres_note = str(exc)[:300]
            return self._postgres

    def warm(self) -> dict[str, float]:
        """Start the JVM, the hot cluster and PostgreSQL, then plan and run a job of the generator's
        shape on one exact case (`WARM_UP_JOB`), so the first request does not pay for class
        loading and JIT; each step's seconds."""
        began = time.perf_counter()
        engine = self.engine()
        out = {"jvm_start": (engine.jvm_start_seconds or 0.0) if engine else 0.0}
        out["cluster_start"] = (engine.cluster_start_seconds or 0.0) if engine else 0.0
        out["engine_ready"] = time.perf_counter() - began
        pg = self.postgres()
        out["postgres_start"] = pg.start_seconds if pg else 0.0
        if engine is not None:
            try:
                out["first_job"] = engine.warm_up()
                began = time.perf_counter()
                planned = engine.plan(WARM_UP_JOB)
                out["warm_plan"] = time.perf_counter() - began
                if pg is not None:
                    began = time.perf_counter()
                    (result,) = engine.run_cases(WARM_UP_JOB, [WARM_UP_CASE], postgres=pg)
                    out["warm_case"] = time.perf_counter() - began
                    if not result.passed:
                        self.warm_up_problem = f"warm-up case did not pass: {result.error or result.missing}"
                failed = [s for s in planned.statements if not s.ok]
                if failed:
                    self.warm_up_problem = f"warm-up job did not plan: {failed[0].error}"
            except Exception as exc:  # only a head start: the real job reports its own failure
                self.warm_up_problem = f"warm-up job failed: {exc}"
            if self.warm_up_problem:
                log.warning("warm-up incomplete", error=self.warm_up_problem[:300])
        return out

    @property
    def jvm_start_seconds(self) -> float | None:
        return None if self._engine is None else self._engine.jvm_start_seconds

    @property
    def unavailable_reason(self) -> str | None:
        return self._engine_error

    def close(self) -> None:
        with self._lock:  # the JVM and its hot cluster are the process's: they end with it
            if self._postgres is not None:
                self._postgres.stop()
                self._postgres = None

    # ---- work

    def plan(self, sql: str) -> PlanFacts:
        """The planner's verdict, and (when every statement planned) the job's state fingerprint."""
        engine = self.engine()
        if engine is None:
            return PlanFacts(ran=False, notes=(f"engine unavailable: {self._engine_error}",))
        facts = plan_facts(engine.plan(sql))
        if not facts.statements or not all(s.ok for s in facts.statements):
            return facts
        if not any(s.kind in ("INSERT", "STATEMENT_SET") for s in facts.statements):
            return facts
        fingerprint, note = state_fingerprint(engine, sql)
        notes = (*facts.notes, note) if note else facts.notes
        return facts.model_copy(update={"state_fingerprint": fingerprint, "notes": notes})

    def run_all_cases(
        self,
        sql: str,
        cases: Iterable[Mapping[str, Any] | Case],
        *,
        test_data: Mapping[str, Any] | None = None,
        is_aggregate: bool = False,
        fidelity: Literal["auto", "exact", "rewritten"] = "auto",
    ) -> list[CaseFacts]:
        """The request's cases, then (given `test_data`) the generated edge case, in one call.

        One call lets the engine run them all as one Flink job (`FlinkEngine.run_cases`). The
        edge case has no expected rows: its invariants judge it (`check_invariants`).
        """
        wanted = list(cases)
        edge = None if test_data is None else edge_case_mapping(test_data)
        engine = self.engine()
        if engine is None:
            error = f"engine unavailable: {self._engine_error}"
            out = [
                CaseFacts(name=_case_name(case), passed=False, not_run=True, error=error) for case in wanted
            ]
            if edge is not None:
                out.append(
                    CaseFacts(
                        name=EDGE_CASE_NAME, source="edge_cases", passed=False, not_run=True, error=error
                    )
                )
            return out
        pg = self.postgres() if fidelity != "rewritten" else None
        results = engine.run_cases(
            sql, [*wanted, *([edge] if edge is not None else [])], postgres=pg, fidelity=fidelity
        )
        out = [case_facts(r) for r in results[: len(wanted)]]
        if edge is not None and test_data is not None:
            out.append(_edge_facts(results[-1], test_data, is_aggregate=is_aggregate))
        return out

    def note(self) -> Sequence[str]:
        notes = []
        if self._postgres_note:
            notes.append(f"PostgreSQL unavailable, cases run rewritten: {self._postgres_note}")
        return notes
