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

from services.flinksql.spec import RequestSpec
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
from services.validator.domain.model import CaseFacts, JobConfig, KnowledgeFacts, Language, PlanFacts, Report
from services.validator.domain.report import render_markdown
from services.validator.domain.rules import RuleConfig
from services.validator.domain.statement_policy import refused_statements
from services.validator.ports import (
    Artifacts,
    Engine,
    Knowledge,
    Publisher,
    ReportRepository,
    RunSpec,
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
    ) -> None:
        self._engine = engine
        self._knowledge = knowledge
        self.rule_config = rule_config or RuleConfig.default()
        self._language = language
        self.run_cases = run_cases
        self.run_edge_cases = run_edge_cases

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
    ) -> Report:
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

        plan_facts, knowledge = await asyncio.gather(plan(), conflicts())
        cases: list[CaseFacts] = []
        ran = False
        if cases_on and not refused and self._engine is not None and plan_facts.ran and plan_facts.statements:
            cases = await self._run_cases(spec, sql, test_data, timings)
            ran = True
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
    ) -> list[CaseFacts]:
        """The request's cases and the generated edge cases, in one engine call (one Flink job).

        `cases_s` is that whole run, edge cases included; `edge_cases_s` is the edge case's
        share of it (its `seconds`), not time on top.
        """
        engine = self._engine
        assert engine is not None
        mappings = [c.model_dump(mode="json") for c in spec.cases]
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
        if edge_data is not None:
            timings["edge_cases_s"] = round(cases[-1].seconds, 3)
        return cases


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
    ) -> None:
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
        report = await self.use_case.validate(
            spec,
            event.sql,
            run_id=run_id,
            attempt=event.attempt,
            test_data=artifacts.test_data,
            job_config=artifacts.job_config,
            missing_artifacts=artifacts.missing,
            spec_json=run.spec_json,
        )
        stored = await self._reports.save_report(report, render_markdown(report))
        log.info(
            "validated",
            attempt=event.attempt,
            score=report.score,
            critical=report.count("critical"),
            provisional=report.provisional,
        )
        await self._publisher.publish(scored_event(event, stored))
