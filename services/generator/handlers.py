"""Generator use cases: compile an accepted spec (again on regenerate) and publish the result.

With an LLM client (STREAMWRIGHT_GENERATOR_LLM_MODEL), a regenerate asks the model to repair
the previous attempt's SQL from the validator's findings (kept from ValidationScored). Its
answer is published (llm_used=True) only when it passes every check of domain/repair.py;
otherwise the attempt carries the deterministic SQL with llm_used=False and the reason in
the stored attempt (`llm.reason`). GenerationFailed stays for specs that do not compile: a
bad LLM answer is not a failed attempt, because a correct job exists, and the router's
repair budget bounds how often it asks again.
"""

from __future__ import annotations

from services.flinksql.openlineage import ulid_time
from services.flinksql.spec import RequestSpec
from services.generator.domain.compile import CompiledJob, compile_job
from services.generator.domain.lower import CompileError
from services.generator.domain.profiles import Profile
from services.generator.domain.repair import (
    DEFAULT_MAX_SQL_BYTES,
    RepairRejected,
    accept_answer,
    build_repair_request,
    repaired_files,
)
from services.generator.domain.target import UnknownTargetError
from services.generator.ports import (
    ArtifactRepository,
    GeneratedAttempt,
    LlmClient,
    LlmError,
    LlmUse,
    Publisher,
    RunSpec,
)
from services.generator.version import GENERATOR_VERSION
from services.mesh.events import (
    Artifact,
    Decision,
    Envelope,
    Event,
    GateDecided,
    GenerationFailed,
    RequestAccepted,
    SqlGenerated,
    ValidationScored,
)
from services.mesh.logging import get_logger

PRODUCER = "generator"
log = get_logger(__name__)


class GeneratorHandlers:
    def __init__(
        self,
        *,
        artifacts: ArtifactRepository,
        publisher: Publisher,
        profile: Profile,
        target: str,
        llm: LlmClient | None = None,
        llm_max_sql_bytes: int = DEFAULT_MAX_SQL_BYTES,
    ) -> None:
        self._artifacts = artifacts
        self._publisher = publisher
        self._profile = profile
        self._target = target
        self._llm = llm
        self._llm_max_sql_bytes = llm_max_sql_bytes

    async def on_request_accepted(self, event: RequestAccepted) -> None:
        run = RunSpec(run_id=event.envelope.run_id, revision=event.revision, spec_json=event.spec_json)
        await self._artifacts.save_run(run)
        await self._generate(event, run, attempt=1)

    async def on_validation_scored(self, event: ValidationScored) -> None:
        """Keep the attempt's findings: a later GateDecided(regenerate) only carries a reason."""
        await self._artifacts.save_findings(event.envelope.run_id, event.attempt, event.findings)

    async def on_gate_decided(self, event: GateDecided) -> None:
        """Regenerate: the next attempt, repaired by the LLM when one is configured.

        Without an LLM the compiler is deterministic, so the SQL is the same; the router knows
        this and normally routes to review instead of asking.
        """
        if event.decision != Decision.REGENERATE:
            return
        attempt = event.attempt + 1
        run = await self._artifacts.run(event.envelope.run_id)
        if run is None:
            await self._fail(event, attempt, None, "no accepted spec is known for this run")
            return
        if self._llm is None:
            await self._generate(event, run, attempt=attempt)
            return
        done = await self._artifacts.attempt(run.run_id, attempt)
        if done is not None and done.ok:
            # A redelivery: the model would answer differently, so publish what was stored.
            await self._publish(event, done)
            return
        await self._repair(event, run, attempt=attempt, llm=self._llm)

    async def compile_spec(self, spec_json: str, target: str | None) -> str:
        """Ad hoc compile (gRPC Compile): the SQL, or CompileError / UnknownTargetError / ValueError."""
        spec = RequestSpec.model_validate_json(spec_json)
        job = compile_job(
            spec,
            target=target or self._target,
            profile=self._profile,
            revision=1,
            generator_version=GENERATOR_VERSION,
        )
        return job.sql

    def _compile(self, run: RunSpec) -> tuple[RequestSpec, CompiledJob]:
        spec = RequestSpec.model_validate_json(run.spec_json)
        job = compile_job(
            spec,
            target=self._target,
            profile=self._profile,
            revision=run.revision,
            generator_version=GENERATOR_VERSION,
            # The run's creation time (its ULID's): every attempt of a run writes the same lineage.
            lineage_time=ulid_time(run.run_id),
        )
        return spec, job

    async def _generate(self, cause: Event, run: RunSpec, *, attempt: int) -> None:
        try:
            _, job = self._compile(run)
        except (CompileError, UnknownTargetError, ValueError) as exc:
            await self._fail(cause, attempt, run.revision, f"{type(exc).__name__}: {exc}")
            return
        await self._save_and_publish(
            cause, run, attempt=attempt, job=job, sql=job.sql, files=job.files, llm=None
        )

    async def _repair(self, cause: GateDecided, run: RunSpec, *, attempt: int, llm: LlmClient) -> None:
        """Ask the model for a repaired script; publish it only when every check passes."""
        try:
            spec, job = self._compile(run)
        except (CompileError, UnknownTargetError, ValueError) as exc:
            await self._fail(cause, attempt, run.revision, f"{type(exc).__name__}: {exc}")
            return
        previous = await self._artifacts.attempt(run.run_id, cause.attempt)
        current_sql = previous.sql if previous is not None and previous.ok and previous.sql else job.sql
        findings = await self._artifacts.findings(run.run_id, cause.attempt) or ()
        request = build_repair_request(
            spec_json=run.spec_json,
            current_sql=current_sql,
            reference_sql=job.sql,
            findings=findings,
            gate_reason=cause.reason,
            target=job.target,
        )
        use = LlmUse(model=llm.model, used=False, findings=request.findings)
        try:
            answer = await llm.complete(request.messages)
        except LlmError as exc:
            use = use.model_copy(update={"reason": f"LLM call failed: {exc}"})
        else:
            use = use.model_copy(
                update={
                    "model": answer.model,
                    "prompt_tokens": answer.prompt_tokens,
                    "completion_tokens": answer.completion_tokens,
                    "cost_usd": answer.cost_usd,
                    "latency_ms": answer.latency_ms,
                }
            )
            try:
                sql = accept_answer(
                    answer.text,
                    reference_sql=job.sql,
                    current_sql=current_sql,
                    max_bytes=self._llm_max_sql_bytes,
                )
            except RepairRejected as exc:
                use = use.model_copy(update={"reason": f"LLM answer rejected: {exc}"})
            else:
                files = repaired_files(
                    files=job.files,
                    sql_path=job.paths.sql,
                    deployment_path=job.paths.deployment,
                    readme_path=job.paths.readme,
                    sql=sql,
                    ir=job.ir,
                    spec=spec,
                    profile=self._profile,
                    target=job.target,
                    revision=run.revision,
                    generator_version=GENERATOR_VERSION,
                    note={"model": answer.model, "finding_codes": sorted({f.code for f in findings})},
                )
                use = use.model_copy(update={"used": True})
                await self._save_and_publish(
                    cause, run, attempt=attempt, job=job, sql=sql, files=files, llm=use
                )
                return
        log.warning(
            "LLM repair not used; publishing the deterministic SQL", attempt=attempt, reason=use.reason
        )
        await self._save_and_publish(
            cause, run, attempt=attempt, job=job, sql=job.sql, files=job.files, llm=use
        )

    async def _save_and_publish(
        self,
        cause: Event,
        run: RunSpec,
        *,
        attempt: int,
        job: CompiledJob,
        sql: str,
        files: dict[str, str],
        llm: LlmUse | None,
    ) -> None:
        saved = await self._artifacts.save_attempt(
            GeneratedAttempt(
                run_id=run.run_id,
                attempt=attempt,
                revision=run.revision,
                ok=True,
                sql=sql,
                target_flink=job.target,
                profile=job.profile,
                llm=llm,
            ),
            files,
        )
        await self._publish(cause, saved)

    async def _publish(self, cause: Event, saved: GeneratedAttempt) -> None:
        if saved.revision is None:  # an ok attempt always has its revision
            raise ValueError(f"attempt {saved.attempt} of run {saved.run_id} has no revision")
        await self._publisher.publish(
            SqlGenerated(
                envelope=Envelope.caused_by(
                    cause, event_type=SqlGenerated.EVENT_TYPE, producer=PRODUCER, discriminator=saved.attempt
                ),
                attempt=saved.attempt,
                revision=saved.revision,
                sql=saved.sql,
                artifacts=tuple(
                    Artifact(path=a.path, sha256=a.sha256, media_type=a.media_type) for a in saved.artifacts
                ),
                artifact_ref=saved.artifact_ref,
                generator_version=GENERATOR_VERSION,
                target_flink=saved.target_flink,
                llm_used=saved.llm is not None and saved.llm.used,
            )
        )

    async def _fail(self, cause: Event, attempt: int, revision: int | None, reason: str) -> None:
        log.warning("generation failed", attempt=attempt, reason=reason)
        await self._artifacts.save_attempt(
            GeneratedAttempt(
                run_id=cause.envelope.run_id, attempt=attempt, revision=revision, ok=False, reason=reason
            ),
            {},
        )
        await self._publisher.publish(
            GenerationFailed(
                envelope=Envelope.caused_by(
                    cause, event_type=GenerationFailed.EVENT_TYPE, producer=PRODUCER, discriminator=attempt
                ),
                attempt=attempt,
                reason=reason,
            )
        )
