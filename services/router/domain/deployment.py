"""A domain's deployment record: what runs now (or was stopped), and the deployments it replaced.

The store keeps it as a plain JSON document. `to_dict` writes exactly the keys, key order and nulls
the router has always written, so a stored record read with `from_dict` and written again is
unchanged; keys this version does not know are kept in `extra` rather than dropped.

Records written before attempts and states were kept (no `attempt`, `artifact_ref`, `state`,
`reason`) still read: the missing values come back as None, RUNNING and "", and are written
as such when the record is written again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any


class DeploymentState(StrEnum):
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"


@dataclass(frozen=True, slots=True)
class DeploymentEntry:
    """An earlier deployment kept in the history: enough to start it again (rollback)."""

    run_id: str
    revision: int
    attempt: int | None
    artifact_ref: str | None
    content_hash: str | None
    target: str
    job_id: str | None
    deployment_ref: str
    savepoint_restored: str | None
    started_at: str
    state: DeploymentState = DeploymentState.RUNNING
    # Set when the deployment was stopped before it was replaced.
    savepoint_path: str | None = None
    stopped_at: str | None = None
    # The manifest texts written (manifest target); empty for Flink targets.
    manifests: Mapping[str, str] = field(default_factory=dict)
    # The job's state fingerprint (compact JSON, services.flinksql.state_fingerprint), if validated with one.
    state_fingerprint: str | None = None

    @property
    def stopped(self) -> bool:
        return self.state is DeploymentState.STOPPED

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> DeploymentEntry:
        return cls(
            run_id=str(doc.get("run_id") or ""),
            revision=int(doc.get("revision") or 0),
            attempt=_int(doc.get("attempt")),
            artifact_ref=_str(doc.get("artifact_ref")),
            content_hash=_str(doc.get("content_hash")),
            target=str(doc.get("target") or ""),
            job_id=_str(doc.get("job_id")),
            deployment_ref=str(doc.get("deployment_ref") or ""),
            savepoint_restored=_str(doc.get("savepoint_restored")),
            started_at=str(doc.get("started_at") or ""),
            state=_state(doc.get("state")),
            savepoint_path=_str(doc.get("savepoint_path")),
            stopped_at=_str(doc.get("stopped_at")),
            manifests=_manifests(doc.get("manifests")),
            state_fingerprint=_str(doc.get("state_fingerprint")),
        )

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "run_id": self.run_id,
            "revision": self.revision,
            "attempt": self.attempt,
            "artifact_ref": self.artifact_ref,
            "content_hash": self.content_hash,
            "target": self.target,
            "job_id": self.job_id,
            "deployment_ref": self.deployment_ref,
            "savepoint_restored": self.savepoint_restored,
        }
        # The stored key order interleaves the stop keys: savepoint_path, started_at, stopped_at, state.
        was_stopped = self.stopped or self.savepoint_path is not None or self.stopped_at is not None
        if was_stopped:
            doc["savepoint_path"] = self.savepoint_path
        doc["started_at"] = self.started_at
        if was_stopped:
            doc["stopped_at"] = self.stopped_at
        doc["state"] = self.state.value
        if self.manifests:
            doc["manifests"] = dict(self.manifests)
        if self.state_fingerprint is not None:
            doc["state_fingerprint"] = self.state_fingerprint
        return doc


@dataclass(frozen=True, slots=True)
class Deployment:
    """The domain's current deployment and, newest last, the ones it replaced."""

    domain: str
    run_id: str
    revision: int
    attempt: int | None
    artifact_ref: str | None
    content_hash: str | None
    target: str
    job_id: str | None
    deployment_ref: str
    savepoint_restored: str | None
    state: DeploymentState
    reason: str
    started_at: str
    history: tuple[DeploymentEntry, ...] = ()
    manifests: Mapping[str, str] = field(default_factory=dict)
    rolled_back_from: int | None = None
    # Set by a stop (a stop always records all three, null when unknown).
    savepoint_path: str | None = None
    stopped_at: str | None = None
    stopped_by: str | None = None
    # Why the start after a stop failed (a failed rollback); cleared by the next stop or start.
    last_error: str | None = None
    # The job's state fingerprint (compact JSON), which the next upgrade is compared with.
    state_fingerprint: str | None = None
    # What the start's upgrade check said (services.router.domain.upgrade.UpgradeCheck.to_dict).
    upgrade: Mapping[str, Any] | None = None
    # Stored keys this version does not know: written back as they were.
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def stopped(self) -> bool:
        return self.state is DeploymentState.STOPPED

    def as_entry(self) -> DeploymentEntry:
        """What the history keeps of this deployment once another one replaces it."""
        return DeploymentEntry(
            run_id=self.run_id,
            revision=self.revision,
            attempt=self.attempt,
            artifact_ref=self.artifact_ref,
            content_hash=self.content_hash,
            target=self.target,
            job_id=self.job_id,
            deployment_ref=self.deployment_ref,
            savepoint_restored=self.savepoint_restored,
            started_at=self.started_at,
            state=self.state,
            savepoint_path=self.savepoint_path,
            stopped_at=self.stopped_at,
            manifests=self.manifests,
            state_fingerprint=self.state_fingerprint,
        )

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Deployment:
        history = tuple(
            DeploymentEntry.from_dict(e) for e in doc.get("history") or [] if isinstance(e, Mapping)
        )
        return cls(
            domain=str(doc.get("domain") or ""),
            run_id=str(doc.get("run_id") or ""),
            revision=int(doc.get("revision") or 0),
            attempt=_int(doc.get("attempt")),
            artifact_ref=_str(doc.get("artifact_ref")),
            content_hash=_str(doc.get("content_hash")),
            target=str(doc.get("target") or ""),
            job_id=_str(doc.get("job_id")),
            deployment_ref=str(doc.get("deployment_ref") or ""),
            savepoint_restored=_str(doc.get("savepoint_restored")),
            state=_state(doc.get("state")),
            reason=str(doc.get("reason") or ""),
            started_at=str(doc.get("started_at") or ""),
            history=history,
            manifests=_manifests(doc.get("manifests")),
            rolled_back_from=_int(doc.get("rolled_back_from")),
            savepoint_path=_str(doc.get("savepoint_path")),
            stopped_at=_str(doc.get("stopped_at")),
            stopped_by=_str(doc.get("stopped_by")),
            last_error=_str(doc.get("last_error")),
            state_fingerprint=_str(doc.get("state_fingerprint")),
            upgrade=dict(doc["upgrade"]) if isinstance(doc.get("upgrade"), Mapping) else None,
            extra={k: v for k, v in doc.items() if k not in _KNOWN},
        )

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "domain": self.domain,
            "run_id": self.run_id,
            "revision": self.revision,
            "attempt": self.attempt,
            "artifact_ref": self.artifact_ref,
            "content_hash": self.content_hash,
            "target": self.target,
            "job_id": self.job_id,
            "deployment_ref": self.deployment_ref,
            "savepoint_restored": self.savepoint_restored,
            "state": self.state.value,
            "reason": self.reason,
            "started_at": self.started_at,
            "history": [e.to_dict() for e in self.history],
        }
        if self.manifests:
            doc["manifests"] = dict(self.manifests)
        if self.rolled_back_from is not None:
            doc["rolled_back_from"] = self.rolled_back_from
        if self.stopped or self.savepoint_path is not None or self.stopped_at is not None:
            doc["savepoint_path"] = self.savepoint_path
            doc["stopped_at"] = self.stopped_at
            doc["stopped_by"] = self.stopped_by
        if self.last_error is not None:
            doc["last_error"] = self.last_error
        if self.state_fingerprint is not None:
            doc["state_fingerprint"] = self.state_fingerprint
        if self.upgrade is not None:
            doc["upgrade"] = dict(self.upgrade)
        return doc | dict(self.extra)


_KNOWN = frozenset(f.name for f in fields(Deployment)) - {"extra"}


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _state(value: Any) -> DeploymentState:
    # As before the record was typed: anything but STOPPED is a running deployment.
    return DeploymentState.STOPPED if value == DeploymentState.STOPPED.value else DeploymentState.RUNNING


def _manifests(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, Mapping) else {}
