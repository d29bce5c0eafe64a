"""Ports of the generator use cases."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict

from services.mesh.events import Event


class StoredArtifact(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str
    sha256: str
    media_type: str
    size_bytes: int


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


class DocumentChecker(Protocol):
    async def check(self, document: str) -> tuple[str | None, list[dict[str, object]]]:
        """The spec JSON of a valid document, or None and its errors (ingest does the checking)."""
        ...


class Publisher(Protocol):
    async def publish(self, event: Event) -> None: ...
