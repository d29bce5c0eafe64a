"""Versions of a domain: records, the head, rollback targets, and the export/backup format.

Version numbers grow per domain and are never reused. The head names the `current` version
(None before the first commit or after rolling the only version back) and the `latest`
number handed out. A version's `state` says whether its job runs:

    committed --RunStarted--> running --(a later version starts)--> superseded
    committed --RunStartFailed--> start_failed        (compensation: the head goes back)
    any --kb rollback--> rolled_back

Only live versions (committed, running, superseded) are rollback targets and the history
the transitive compatibility modes check against.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Literal

from pydantic import ValidationError

from services.knowledge.domain.model import Change, DomainModel, KbModel

VersionState = Literal["committed", "running", "start_failed", "rolled_back", "superseded"]
LIVE_STATES: tuple[VersionState, ...] = ("committed", "running", "superseded")
SNAPSHOT_FORMAT: Literal["streamwright-knowledge-base"] = "streamwright-knowledge-base"


class VersionRecord(KbModel):
    domain: str
    version: int
    previous_version: int | None = None
    model: DomainModel
    created_at: datetime
    run_id: str | None = None
    request_id: str | None = None
    revision: int | None = None
    content_hash: str | None = None
    summary: str = ""
    changes: tuple[Change, ...] = ()
    mode: str = "BACKWARD"
    state: VersionState = "committed"

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES


class DomainHead(KbModel):
    domain: str
    current: int | None = None
    latest: int = 0
    updated_at: datetime | None = None


class RunRecord(KbModel):
    """What knowledge remembers of a run between RequestAccepted and its approval."""

    run_id: str
    request_id: str
    domain: str
    revision: int
    content_hash: str
    spec_json: str
    base_version: int | None = None
    outcome: Literal["pending", "committed", "failed"] = "pending"
    committed_version: int | None = None
    reason: str | None = None
    conflicts: tuple[Change, ...] = ()


class RollbackError(ValueError):
    """No version to roll back to, or the requested one is not live."""


class SnapshotError(ValueError):
    """An export file that is not a knowledge-base snapshot this version can read."""


class Snapshot(KbModel):
    format: Literal["streamwright-knowledge-base"] = SNAPSHOT_FORMAT
    format_version: Literal[1] = 1
    exported_at: datetime
    heads: tuple[DomainHead, ...] = ()
    versions: tuple[VersionRecord, ...] = ()


def summarize(changes: Iterable[Change]) -> str:
    """`3 changes (1 critical, 2 info): column_added x2, type_narrowed`."""
    items = list(changes)
    if not items:
        return "no changes"
    severities = Counter(c.severity for c in items)
    kinds = Counter(c.kind for c in items)
    by_severity = ", ".join(f"{n} {s}" for s, n in sorted(severities.items()))
    by_kind = ", ".join(k if n == 1 else f"{k} x{n}" for k, n in sorted(kinds.items()))
    return f"{len(items)} change{'s' if len(items) != 1 else ''} ({by_severity}): {by_kind}"


def rollback_target(history: Sequence[VersionRecord], head: DomainHead, to: int | None) -> int | None:
    """The version `kb rollback` (or a failed start) makes current; None = no version at all.

    Without `to`, the newest live version older than the current one.
    """
    if head.current is None:
        raise RollbackError(f"domain {head.domain!r} has no current version")
    if to is not None:
        found = next((v for v in history if v.version == to), None)
        if found is None:
            raise RollbackError(f"domain {head.domain!r} has no version {to}")
        if not found.live:
            raise RollbackError(f"version {to} of {head.domain!r} is {found.state}; pick a live version")
        if to == head.current:
            raise RollbackError(f"version {to} is already current")
        return to
    older = [v.version for v in history if v.live and v.version < head.current]
    return max(older) if older else None


def live_history(history: Iterable[VersionRecord], up_to: int | None) -> list[VersionRecord]:
    """Live versions up to and including `up_to` (the current one), oldest first."""
    if up_to is None:
        return []
    return sorted((v for v in history if v.live and v.version <= up_to), key=lambda v: v.version)


def parse_snapshot(text: str) -> Snapshot:
    try:
        snapshot = Snapshot.model_validate_json(text)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SnapshotError(f"not a knowledge-base snapshot: {where}: {first['msg']}") from None
    for head in snapshot.heads:
        numbers = {v.version for v in snapshot.versions if v.domain == head.domain}
        if head.current is not None and head.current not in numbers:
            raise SnapshotError(
                f"head of {head.domain!r} names version {head.current}, which is not in the file"
            )
        if numbers and max(numbers) > head.latest:
            raise SnapshotError(f"head of {head.domain!r} says latest {head.latest} but has {max(numbers)}")
    return snapshot
