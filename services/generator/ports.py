"""Ports of the generator use cases."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from services.generator.domain.repair import ChatMessage
from services.mesh.events import Event, Finding


class StoredArtifact(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str
    sha256: str
    media_type: str
    size_bytes: int


class LlmUse(BaseModel):
    """How an LLM took part in an attempt: `used` only when its answer passed every check."""

    model_config = ConfigDict(frozen=True)

    model: str
    used: bool
    reason: str | None = None  # why its answer was not used (call failed, answer rejected)
    findings: int = 0  # validator findings given to it
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    latency_ms: int | None = None


class GeneratedAttempt(BaseModel):
    """What one attempt of a run produced (or why it failed)."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    attempt: int
    revision: int | None
    ok: bool
    reason: str | None = None
    sql: str = ""
    artifacts: tuple[StoredArtifact, ...] = ()
    artifact_ref: str = ""
    target_flink: str = ""
    profile: str = ""
    llm: LlmUse | None = None  # None: deterministic compile, no LLM asked


class RunSpec(BaseModel):
    """The spec a run was accepted with; regenerations compile it again."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    revision: int
    spec_json: str


class ArtifactRepository(Protocol):
    async def save_run(self, run: RunSpec) -> None: ...

    async def run(self, run_id: str) -> RunSpec | None: ...

    async def save_attempt(self, attempt: GeneratedAttempt, files: dict[str, str]) -> GeneratedAttempt:
        """Store the attempt and its files; returns it with artifact_ref and checksums filled."""
        ...

    async def attempt(self, run_id: str, attempt: int | None) -> GeneratedAttempt | None:
        """That attempt, or the latest one when `attempt` is None."""
        ...

    async def read_file(self, attempt: GeneratedAttempt, path: str) -> bytes: ...

    async def save_findings(self, run_id: str, attempt: int, findings: Sequence[Finding]) -> None:
        """The validator's findings for that attempt (the latest ValidationScored wins)."""
        ...

    async def findings(self, run_id: str, attempt: int) -> tuple[Finding, ...] | None:
        """The stored findings of that attempt, or None when no ValidationScored was seen."""
        ...


class DocumentChecker(Protocol):
    async def check(self, document: str) -> tuple[str | None, list[dict[str, object]]]:
        """The spec JSON of a valid document, or None and its errors (ingest does the checking)."""
        ...


class Publisher(Protocol):
    async def publish(self, event: Event) -> None: ...


@dataclass(frozen=True, slots=True)
class LlmAnswer:
    text: str
    model: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    latency_ms: int = 0


class LlmError(Exception):
    """The model could not be asked or gave no text (timeout, provider error, empty choice)."""


class LlmClient(Protocol):
    @property
    def model(self) -> str: ...

    async def complete(self, messages: Sequence[ChatMessage]) -> LlmAnswer:
        """One completion, no retries (the router's repair budget is the retry loop). Raises LlmError."""
        ...
