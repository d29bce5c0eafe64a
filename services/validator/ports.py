"""Ports of the validator use cases (adapters implement them; tests fake them)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from services.mesh.events import Event, ValidationScored
from services.validator.domain.model import CaseFacts, KnowledgeFacts, PlanFacts, Report, RunArtifacts


class RunSpec(BaseModel):
    """The spec a run was accepted with (from RequestAccepted)."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    revision: int
    domain: str
    spec_json: str


class StoredReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    report: Report
    markdown: str
    report_ref: str


class ReportRepository(Protocol):
    async def save_spec(self, run: RunSpec) -> None: ...

    async def spec(self, run_id: str) -> RunSpec | None: ...

    async def save_report(self, report: Report, markdown: str) -> StoredReport:
        """Store the report and write its markdown/JSON files; returns it with report_ref."""
        ...

    async def report(self, run_id: str, attempt: int | None) -> StoredReport | None:
        """That attempt's report, or the latest one when `attempt` is None."""
        ...

    async def mark_ended(self, run_id: str, final_state: str) -> None:
        """The run reached a terminal state (RunCompleted)."""
        ...

    async def ended(self, run_id: str) -> str | None:
        """The run's final state, if it has ended."""
        ...


class Engine(Protocol):
    """Blocking: the use case calls it from a worker thread."""

    def plan(self, sql: str) -> PlanFacts: ...

    def run_all_cases(
        self,
        sql: str,
        cases: Iterable[Mapping[str, Any]],
        *,
        test_data: Mapping[str, Any] | None,
        is_aggregate: bool,
    ) -> list[CaseFacts]:
        """The cases' facts in order, then the edge case's when `test_data` is given.

        One call, so the engine can run them all as one Flink job.
        """
        ...


class Knowledge(Protocol):
    async def check_conflicts(self, domain: str, spec_json: str) -> KnowledgeFacts: ...


class Artifacts(Protocol):
    async def read(self, artifact_ref: str, domain: str) -> RunArtifacts:
        """The generator's edge-case test data and job config under `artifact_ref`; the paths of
        those that are missing are listed in `RunArtifacts.missing`, never silently dropped."""
        ...


class PeerError(Exception):
    """A peer service could not answer, or refused the input (the message says which and why)."""


class Compiler(Protocol):
    async def compile(self, spec_json: str) -> str:
        """The compiler's own job for the spec (PeerError when it cannot be had)."""
        ...


class Publisher(Protocol):
    async def publish(self, event: Event) -> None: ...


class ScoreObserver(Protocol):
    def observe(self, event: ValidationScored) -> None:
        """A score is about to be published (once per validation; never for a redelivery)."""
        ...
