"""The ports the router's use cases depend on; adapters implement them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from services.mesh.events import Event, RunStarted, Target
from services.router.domain.runs import RunRecord, RunView


class Publisher(Protocol):
    async def publish(self, event: Event) -> None: ...


class RunRepository(Protocol):
    async def get(self, run_id: str) -> RunRecord | None: ...

    async def save(self, record: RunRecord) -> bool:
        """Compare-and-set on record.version; True (and record.version bumped) when written."""
        ...

    async def list_runs(
        self,
        *,
        domain: str | None = None,
        state: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[RunView]:
        """Runs, newest first."""
        ...

    async def open_runs(self, *, domain: str | None = None, limit: int = 1000) -> list[RunRecord]:
        """Runs not yet in a final state."""
        ...

    async def save_sql(self, run_id: str, attempt: int, sql: str) -> None: ...

    async def get_sql(self, run_id: str, attempt: int) -> str | None: ...

    async def domain_head(self, domain: str) -> tuple[int, int]:
        """The highest revision accepted for the domain and the head's store version (0, 0 if none)."""
        ...

    async def save_domain_head(self, domain: str, revision: int, expected_version: int) -> bool: ...

    async def deployment(self, domain: str) -> dict[str, Any] | None: ...

    async def save_deployment(self, domain: str, deployment: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True, slots=True)
class StartRequest:
    run_id: str
    domain: str
    revision: int
    attempt: int
    sql: str | None
    artifact_ref: str | None
    content_hash: str | None = None
    # The domain's current deployment (to upgrade: stop with savepoint, start from it).
    previous: Mapping[str, Any] | None = None
    # Start from this savepoint (the domain's job was already stopped with it: stop, rollback).
    restore_from: str | None = None
    # Manifest texts by file name to write instead of reading them from artifact_ref (rollback).
    manifests: Mapping[str, str] | None = None
    # The digest of the statement list the validator verified (services.flinksql.statements):
    # the router starts only SQL with this digest, and the runner checks it again.
    sql_digest: str | None = None
    # Start even when some savepoint state maps to no operator of the new job (Flink's
    # allowNonRestoredState): only for an upgrade whose dropped state was approved
    # (docs/safe-upgrades.md).
    allow_non_restored_state: bool = False


@dataclass(frozen=True, slots=True)
class StartResult:
    target: Target
    deployment_ref: str
    job_id: str | None = None
    savepoint_restored: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    # The manifest texts written (manifest deployer), kept in the deployment record for rollback.
    manifests: Mapping[str, str] = field(default_factory=dict)


class DeployError(Exception):
    """The engine refused or failed the start; the message is the engine's error."""


class RestoreFailed(DeployError):
    """An upgrade stopped the previous job with a savepoint, then the new job did not start from it.

    `savepoint` is where the previous job's state now is: the router restarts the previous
    revision from it (services.router.deployments).
    """

    def __init__(self, message: str, *, savepoint: str) -> None:
        super().__init__(message)
        self.savepoint = savepoint


class Deployer(Protocol):
    target: Target

    async def start(self, request: StartRequest) -> StartResult: ...

    async def stop(self, deployment: Mapping[str, Any], *, savepoint: bool = True) -> str | None:
        """Stop the domain's job; returns the savepoint location when one was taken.

        Raises DeployError (with the engine's error) when the job cannot be stopped.
        """
        ...


class AuditLog(Protocol):
    async def append(self, entry: Mapping[str, Any]) -> None: ...

    async def entries(self) -> list[dict[str, Any]]: ...


class LineageEmitter(Protocol):
    async def run_started(self, event: RunStarted, artifact_ref: str | None) -> None:
        """Best effort, in the background (OpenLineage START): never waits, never raises."""
        ...


class Notifier(Protocol):
    async def notify(self, kind: str, view: RunView, domain: str) -> None:
        """Best effort: never raises."""
        ...


class ReportWriter(Protocol):
    async def write(self, domain: str, relative_path: str, text: str) -> str:
        """Write the report; returns where it went."""
        ...
