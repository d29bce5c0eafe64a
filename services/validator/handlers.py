"""Validator use cases: remember each run's spec, validate generated SQL, publish the score.

`ValidationUseCase.validate` is the one path every entry point takes (Kafka handler, gRPC
ValidateSql, the `streamwright validate` CLI): plan on the engine and ask knowledge for ER
conflicts concurrently, run the request's cases and the generated edge cases, then `assess`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from services.flinksql.lexer import LexError
from services.flinksql.spec import RequestSpec
from services.flinksql.statements import script_digest
from services.mesh.events import (
    DimensionScore,
    Envelope,
    Finding,
    RequestAccepted,
    RunCompleted,
    Severity,
    SqlGenerated,
    ValidationScored,
)
from services.mesh.logging import get_logger
from services.validator.domain.assess import assess
from services.validator.domain.context import Inputs
from services.validator.domain.model import (
    CaseFacts,
    JobConfig,
    KnowledgeFacts,
    Language,
    OracleSummary,
    PlanFacts,
    Report,
)
from services.validator.domain.oracle.verdict import OraclePlan, judge_oracle, prepare_oracle
from services.validator.domain.report import render_markdown
from services.validator.domain.rules import RuleConfig
from services.validator.domain.statement_policy import refused_statements
from services.validator.ports import (
    Artifacts,
    Compiler,
    Engine,
    Knowledge,
    PeerError,
    Publisher,
    ReportRepository,
    RunSpec,
    ScoreObserver,
    StoredReport,
)

PRODUCER = "validator"
MAX_EVENT_FINDINGS = 200
log = get_logger(__name__)


class SpecUnknown(RuntimeError):
    """A SqlGenerated arrived for a run whose RequestAccepted was not seen (retried, then DLQ)."""


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class ValidationUseCase:
    def __init__(
        self,
        *,
        engine: Engine | None,
        knowledge: Knowledge | None,
        rule_config: RuleConfig | None = None,
        language: Language | None = None,
        run_cases: bool = True,
        run_edge_cases: bool = True,
        run_oracle: bool = True,
    ) -> None:
        self._engine = engine
        self._knowledge = knowledge
        self.rule_config = rule_config or RuleConfig.default()
        self._language = language
        self.run_cases = run_cases
        self.run_edge_cases = run_edge_cases
        self.run_oracle = run_oracle

    async def validate(
        self,
        spec: RequestSpec,
        sql: str,
        *,
        run_id: str = "adhoc",
        attempt: int = 1,
        test_data: Mapping[str, Any] | None = None,
        job_config: JobConfig | None = None,
        missing_artifacts: Sequence[str] = (),
        run_cases: bool | None = None,
        spec_json: str | None = None,
        language: Language | None = None,
        reference_sql: str | None = None,
    ) -> Report:
        """Plan, ask knowledge, run the cases and the oracle, and assess.

        `reference_sql` is the compiler's own job for `spec` when `sql` may be another one (a
        hand-written job, an edit, an LLM's answer): run on the same spec-derived data, it is the
        second oracle. Leave it None when `sql` is the compiler's job.
        """
        began = time.perf_counter()
        cases_on = self.run_cases if run_cases is None else run_cases
        timings: dict[str, float] = {}
        # A statement outside the allow-list: nothing reaches the engine (no plan, no case run);
        # the report carries the Critical finding (checks_sql).
        refused = refused_statements(sql)

        async def plan() -> PlanFacts:
            if refused:
                first = refused[0]
                return PlanFacts(
                    ran=False,
                    notes=(
                        f"because {len(refused)} statement(s) were refused, the first: statement "
                        f"{first.number} ({first.kind}, line {first.line})",
                    ),
                )
            if self._engine is None:
                return PlanFacts(ran=False, notes=("no engine configured",))
            t0 = time.perf_counter()
            engine = self._engine
            facts = await asyncio.to_thread(engine.plan, sql)
            timings["plan_s"] = round(time.perf_counter() - t0, 3)
            return facts

        async def conflicts() -> KnowledgeFacts:
            if self._knowledge is None:
                return KnowledgeFacts(available=False, note="no knowledge service configured")
            t0 = time.perf_counter()
            facts = await self._knowledge.check_conflicts(spec.job.domain, spec_json or spec.to_json())
            timings["knowledge_s"] = round(time.perf_counter() - t0, 3)
            return facts

        # the oracle's data and expected rows (pure Python, ~0.2-0.5 s) while Flink plans
        oracle_ready = (
            asyncio.ensure_future(asyncio.to_thread(self._prepare_oracle, spec, timings))
            if cases_on and self.run_oracle and not refused and self._engine is not None
            else None
        )
        plan_facts, knowledge = await asyncio.gather(plan(), conflicts())
        prepared = await oracle_ready if oracle_ready is not None else None
        plan_oracle = prepared if isinstance(prepared, OraclePlan) else None
        cases: list[CaseFacts] = []
        ran = False
        oracle: OracleSummary | None = None
        if cases_on and not refused and self._engine is not None and plan_facts.ran and plan_facts.statements:
            cases, oracle_facts = await self._run_cases(spec, sql, test_data, timings, plan_oracle)
            ran = True
            if isinstance(prepared, str):
                oracle = OracleSummary(oracle="none", note=prepared[:2000])
            if plan_oracle is not None and oracle_facts is not None:
                oracle = await self._judge_oracle(
                    spec, sql, plan_oracle, oracle_facts, reference_sql=reference_sql, timings=timings
                )
        timings["total_s"] = round(time.perf_counter() - began, 3)
        return assess(
            Inputs(
                spec=spec,
                sql=sql,
                plan=plan_facts,
                cases=tuple(cases),
                cases_ran=ran,
                edge_test_data=dict(test_data) if test_data else None,
                knowledge=knowledge,
                job_config=job_config,
                missing_artifacts=tuple(missing_artifacts),
                oracle=oracle,
            ),
            rule_config=self.rule_config,
            run_id=run_id,
            attempt=attempt,
            created_at=now_text(),
            language=language or self._language,
            timings=timings,
        )

    async def _run_cases(
        self,
        spec: RequestSpec,
        sql: str,
        test_data: Mapping[str, Any] | None,
        timings: dict[str, float],
        oracle: OraclePlan | None,
    ) -> tuple[list[CaseFacts], CaseFacts | None]:
        """The request's cases, the generated edge case and the oracle's data, in one engine call
        (one Flink job); the oracle's facts come last.

        `cases_s` is that whole run; `edge_cases_s` and `oracle_s` are those cases' shares of it
        (their `seconds`), not time on top.
        """
        engine = self._engine
        assert engine is not None
        mappings = [c.model_dump(mode="json") for c in spec.cases]
        if oracle is not None:
            mappings.append(oracle.case_mapping())
        edge_data = test_data if self.run_edge_cases and test_data else None
        t0 = time.perf_counter()
        cases = await asyncio.to_thread(
            engine.run_all_cases,
            sql,
            mappings,
            test_data=edge_data,
            is_aggregate=spec.aggregation.is_aggregate,
        )
        timings["cases_s"] = round(time.perf_counter() - t0, 3)
        edge = cases.pop() if edge_data is not None else None
        oracle_facts = cases.pop() if oracle is not None else None
        if edge is not None:
            timings["edge_cases_s"] = round(edge.seconds, 3)
            cases.append(edge)
        if oracle_facts is not None:
            timings["oracle_s"] = round(oracle_facts.seconds, 3)
        return cases, oracle_facts

    @staticmethod
    def _prepare_oracle(spec: RequestSpec, timings: dict[str, float]) -> OraclePlan | str:
        """The oracle's data and expected rows, or why there are none."""
        t0 = time.perf_counter()
        try:
            plan = prepare_oracle(spec)
        except Exception as exc:  # a defect of ours must not cost the user the rest of the validation
            log.exception("the oracle's data could not be derived")
            return (
                f"the oracle's data could not be derived (a Streamwright defect: {type(exc).__name__}: {exc})"
            )
        timings["oracle_prepare_s"] = round(time.perf_counter() - t0, 3)
        return plan

    async def _judge_oracle(
        self,
        spec: RequestSpec,
        sql: str,
        plan: OraclePlan,
        facts: CaseFacts,
        *,
        reference_sql: str | None,
        timings: dict[str, float],
    ) -> OracleSummary:
        """The job's rows on the oracle's data against the interpreter's, then, for SQL that is not
        the compiler's own, against the compiler's job's rows on the same data when the interpreter
        cannot decide alone: it does not cover the spec, or the job differs from it (a charge is
        confirmed by the second oracle, or dropped when the two oracles disagree). A job whose rows
        equal the interpreter's costs no second Flink job."""
        error = facts.error
        actual = None if error else [dict(r) for r in facts.rows]

        async def judged(reference: list[dict[str, Any]] | None, note: str | None) -> OracleSummary:
            t0 = time.perf_counter()
            summary = await asyncio.to_thread(
                judge_oracle,
                spec,
                plan,
                actual=actual,
                actual_error=error,
                fidelity=facts.fidelity,
                reference=reference,
                reference_note=note,
                seconds=facts.seconds + timings.get("oracle_reference_s", 0.0),
            )
            timings["oracle_judge_s"] = round(
                timings.get("oracle_judge_s", 0.0) + time.perf_counter() - t0, 3
            )
            return summary

        first = await judged(None, None)
        needed = plan.expected is None or bool(first.differences)
        if reference_sql is None or error is not None or not needed or _same_job(reference_sql, sql):
            return first
        engine = self._engine
        assert engine is not None
        t0 = time.perf_counter()
        ran = await asyncio.to_thread(
            engine.run_all_cases,
            reference_sql,
            [plan.case_mapping()],
            test_data=None,
            is_aggregate=spec.aggregation.is_aggregate,
        )
        timings["oracle_reference_s"] = round(time.perf_counter() - t0, 3)
        if ran and ran[0].error is None:
            return await judged([dict(r) for r in ran[0].rows], None)
        why = ran[0].error if ran else "no result"
        return await judged(None, f"the compiler's job did not run on the data: {why}")


async def reference_job(compiler: Compiler | None, spec_json: str) -> str | None:
    """The compiler's own job for the spec, or None (logged) when the generator cannot be asked:
    the interpreter alone is then the oracle."""
    if compiler is None:
        return None
    try:
        return await compiler.compile(spec_json)
    except PeerError as exc:
        log.warning("no reference job: the interpreter alone judges", error=str(exc)[:300])
        return None


def _same_job(a: str, b: str) -> bool:
    try:
        return script_digest(a) == script_digest(b)
    except LexError:
        return False


def scored_event(cause: SqlGenerated, stored: StoredReport) -> ValidationScored:
    report = stored.report
    findings = tuple(
        Finding(
            code=f.code,
            severity=Severity(f.severity),
            dimension=f.dimension,
            message=f.message[:2000],
            location=(f"{f.location}, line {f.line}" if f.location and f.line else f.location),
            suggestion=f.suggestion,
            points_lost=f.points_lost,
        )
        for f in report.findings[:MAX_EVENT_FINDINGS]
    )
    return ValidationScored(
        envelope=Envelope.caused_by(
            cause, event_type=ValidationScored.EVENT_TYPE, producer=PRODUCER, discriminator=cause.attempt
        ),
        attempt=cause.attempt,
        score=report.score,
        dimensions=tuple(
            DimensionScore(name=d.name, score=d.score, weight=d.weight) for d in report.dimensions
        ),
        critical_count=report.count("critical"),
        warning_count=report.count("warning"),
        info_count=report.count("info"),
        findings=findings,
        report_ref=stored.report_ref,
        provisional=report.provisional,
        rule_set_version=report.rule_set_version,
        sql_digest=report.sql_digest,
        state_fingerprint=report.state_fingerprint,
    )


class ValidatorHandlers:
    def __init__(
        self,
        *,
        reports: ReportRepository,
        publisher: Publisher,
        use_case: ValidationUseCase,
        artifacts: Artifacts,
        spec_wait_s: float = 15.0,
        compiler: Compiler | None = None,
        scores: ScoreObserver | None = None,
    ) -> None:
        self._compiler = compiler
        self._scores = scores
        self._reports = reports
        self._publisher = publisher
        self.use_case = use_case
        self._artifacts = artifacts
        self._spec_wait_s = spec_wait_s

    async def on_request_accepted(self, event: RequestAccepted) -> None:
        await self._reports.save_spec(
            RunSpec(
                run_id=event.envelope.run_id,
                revision=event.revision,
                domain=event.envelope.domain,
                spec_json=event.spec_json,
            )
        )

    async def _wait_spec(self, run_id: str) -> RunSpec:
        """The run's spec; RequestAccepted is consumed on another subscription, so it may lag."""
        deadline = time.monotonic() + self._spec_wait_s
        while True:
            run = await self._reports.spec(run_id)
            if run is not None:
                return run
            if time.monotonic() >= deadline:
                raise SpecUnknown(f"no RequestAccepted seen for run {run_id!r}")
            await asyncio.sleep(0.2)

    async def on_run_completed(self, event: RunCompleted) -> None:
        await self._reports.mark_ended(event.envelope.run_id, str(event.final_state))

    async def on_sql_generated(self, event: SqlGenerated) -> None:
        run_id = event.envelope.run_id
        existing = await self._reports.report(run_id, event.attempt)
        if existing is not None:  # redelivery: publish the same event again (same id)
            await self._publisher.publish(scored_event(event, existing))
            return
        # A run that already ended (superseded by a newer revision, cancelled, timed out) needs no
        # score: in a burst of revisions this skips seconds of Flink work per stale run. The router
        # ignores scores of ended runs anyway, so nothing waits for one.
        final_state = await self._reports.ended(run_id)
        if final_state is not None:
            log.info("skipped: the run has ended", attempt=event.attempt, final_state=final_state)
            return
        run = await self._wait_spec(run_id)
        spec = RequestSpec.model_validate_json(run.spec_json)
        artifacts = await self._artifacts.read(event.artifact_ref, spec.job.domain)
        # An LLM's answer is not the compiler's job: the compiler's own is the second oracle.
        reference = await reference_job(self._compiler, run.spec_json) if event.llm_used else None
        report = await self.use_case.validate(
            spec,
            event.sql,
            run_id=run_id,
            attempt=event.attempt,
            test_data=artifacts.test_data,
            job_config=artifacts.job_config,
            missing_artifacts=artifacts.missing,
            spec_json=run.spec_json,
            reference_sql=reference,
        )
        stored = await self._reports.save_report(report, render_markdown(report))
        log.info(
            "validated",
            attempt=event.attempt,
            score=report.score,
            critical=report.count("critical"),
            provisional=report.provisional,
        )
        scored = scored_event(event, stored)
        if self._scores is not None:
            # Observed before publishing: a failed publish is retried by the redelivery branch
            # above, which republishes the stored report without counting it again.
            try:
                self._scores.observe(scored)
            except Exception as error:  # metrics must never fail a validation
                log.warning("score not observed", error=str(error))
        await self._publisher.publish(scored)
