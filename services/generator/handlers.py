"""Generator use cases: compile an accepted spec (again on regenerate) and publish the result."""

from __future__ import annotations

from services.generator.domain.compile import compile_job
from services.generator.domain.lower import CompileError
from services.generator.domain.profiles import Profile
from services.generator.domain.target import UnknownTargetError
from services.generator.ports import ArtifactRepository, GeneratedAttempt, Publisher, RunSpec
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
)
from services.mesh.logging import get_logger
from services.mesh.spec import RequestSpec

PRODUCER = "generator"
log = get_logger(__name__)


class GeneratorHandlers:
    def __init__(
        self, *, artifacts: ArtifactRepository, publisher: Publisher, profile: Profile, target: str
    ) -> None:
        self._artifacts = artifacts
        self._publisher = publisher
        self._profile = profile
        self._target = target

    async def on_request_accepted(self, event: RequestAccepted) -> None:
        run = RunSpec(run_id=event.envelope.run_id, revision=event.revision, spec_json=event.spec_json)
        await self._artifacts.save_run(run)
        await self._generate(event, run, attempt=1)

    async def on_gate_decided(self, event: GateDecided) -> None:
        """Regenerate: compile the run's spec again as the next attempt.

        The compiler is deterministic, so without an LLM repair the SQL is the same; the
        router knows this and normally routes to review instead of asking.
        """
        if event.decision != Decision.REGENERATE:
            return
        run = await self._artifacts.run(event.envelope.run_id)
        if run is None:
            await self._fail(event, event.attempt + 1, None, "no accepted spec is known for this run")
            return
        await self._generate(event, run, attempt=event.attempt + 1)

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

    async def _generate(self, cause: Event, run: RunSpec, *, attempt: int) -> None:
        try:
            spec = RequestSpec.model_validate_json(run.spec_json)
            job = compile_job(
                spec,
                target=self._target,
                profile=self._profile,
                revision=run.revision,
                generator_version=GENERATOR_VERSION,
            )
        except (CompileError, UnknownTargetError, ValueError) as exc:
            await self._fail(cause, attempt, run.revision, f"{type(exc).__name__}: {exc}")
            return
        saved = await self._artifacts.save_attempt(
            GeneratedAttempt(
                run_id=run.run_id,
                attempt=attempt,
                revision=run.revision,
                ok=True,
                sql=job.sql,
                target_flink=job.target,
                profile=job.profile,
            ),
            job.files,
        )
        await self._publisher.publish(
            SqlGenerated(
                envelope=Envelope.caused_by(
                    cause, event_type=SqlGenerated.EVENT_TYPE, producer=PRODUCER, discriminator=attempt
                ),
                attempt=attempt,
                revision=run.revision,
                sql=job.sql,
                artifacts=tuple(
                    Artifact(path=a.path, sha256=a.sha256, media_type=a.media_type) for a in saved.artifacts
                ),
                artifact_ref=saved.artifact_ref,
                generator_version=GENERATOR_VERSION,
                target_flink=job.target,
                llm_used=False,
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
