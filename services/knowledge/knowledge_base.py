"""Knowledge-base use cases shared by the event handlers, the gRPC API and the CLI.

Commits use optimistic concurrency on the domain head: a writer reads the head, writes its
version record under the next number (an atomic insert), then compare-and-sets the head.
A writer whose base moved — another approval committed first — is re-checked against the
new current version: a Critical conflict fails it, anything else commits on the new base.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from services.knowledge.domain.checking import Baseline, CheckResult, check
from services.knowledge.domain.conflicts import Mode, classify, diff_models, sort_changes
from services.knowledge.domain.diagrams import (
    domain_documents,
    domain_mermaid,
    global_documents,
    global_mermaid,
)
from services.knowledge.domain.impact import ImpactedJob, impact
from services.knowledge.domain.lineage import Downstream, downstream
from services.knowledge.domain.model import Change, DomainModel
from services.knowledge.domain.search import SearchHit
from services.knowledge.domain.versions import (
    DomainHead,
    RollbackError,
    Snapshot,
    VersionRecord,
    VersionState,
    live_history,
    rollback_target,
    summarize,
)
from services.knowledge.ports import KnowledgeFiles, KnowledgeRepository, SchemaIndex
from services.mesh.events import utc_now
from services.mesh.logging import get_logger

GLOBAL = "global"
log = get_logger(__name__)


class CommitRaceError(RuntimeError):
    """The head kept moving for every attempt (more writers than attempts)."""


@dataclass(frozen=True)
class CommitMeta:
    run_id: str | None = None
    request_id: str | None = None
    revision: int | None = None
    content_hash: str | None = None


@dataclass(frozen=True)
class CommitOutcome:
    committed: bool
    result: CheckResult
    record: VersionRecord | None = None
    reason: str | None = None
    rechecked: bool = False


class KnowledgeBase:
    def __init__(
        self,
        *,
        repo: KnowledgeRepository,
        index: SchemaIndex,
        files: KnowledgeFiles | None,
        mode_for: Callable[[str], Mode],
        clock: Callable[[], datetime] = utc_now,
        max_attempts: int = 20,
    ) -> None:
        self.repo = repo
        self.index = index
        self.files = files
        self.mode_for = mode_for
        self._clock = clock
        self._max_attempts = max_attempts

    # ------------------------------------------------------------ reading

    async def current_models(self) -> dict[str, DomainModel]:
        models: dict[str, DomainModel] = {}
        for head in await self.repo.heads():
            if head.current is not None and (record := await self.repo.version(head.domain, head.current)):
                models[head.domain] = record.model
        return models

    async def record(self, domain: str, version: int | None = None) -> VersionRecord | None:
        """A domain's version record (the current one when `version` is None)."""
        if version is None:
            head, _ = await self.repo.head(domain)
            if head.current is None:
                return None
            version = head.current
        return await self.repo.version(domain, version)

    async def baseline(self, domain: str) -> Baseline:
        head, _ = await self.repo.head(domain)
        history = live_history(await self.repo.versions(domain), head.current)
        return Baseline(history=[(v.version, v.model) for v in history], others=await self.current_models())

    async def check(self, candidate: DomainModel, mode: Mode | None = None) -> CheckResult:
        return check(
            candidate, await self.baseline(candidate.domain), mode or self.mode_for(candidate.domain)
        )

    async def diagram(self, domain: str, version: int | None = None) -> tuple[int, str] | None:
        """(version, mermaid) of a domain, or of every current domain for "global" (version 0)."""
        if domain == GLOBAL:
            return 0, global_mermaid(await self.current_models())
        record = await self.record(domain, version)
        return None if record is None else (record.version, domain_mermaid(record.model))

    async def diff(self, domain: str, old: int, new: int) -> list[Change]:
        before, after = await self.repo.version(domain, old), await self.repo.version(domain, new)
        missing = [v for v, r in ((old, before), (new, after)) if r is None]
        if missing or before is None or after is None:
            raise LookupError(f"domain {domain!r} has no version {missing[0]}")
        mode = self.mode_for(domain)
        return sort_changes(classify(c, mode) for c in diff_models(before.model, after.model))

    async def search(self, query: str, *, limit: int, domain: str | None = None) -> list[SearchHit]:
        return await self.index.search(query, limit=limit, domain=domain)

    async def impact(
        self, table: str, column: str | None = None, domain: str | None = None
    ) -> list[ImpactedJob]:
        return impact(await self.current_models(), table, column, domain)

    async def downstream(
        self, table: str, column: str | None = None, domain: str | None = None
    ) -> Downstream:
        """Where the table's (column's) data flows, transitively across jobs and domains."""
        return downstream(await self.current_models(), table, column, domain)

    # ------------------------------------------------------------ committing

    async def commit(
        self, candidate: DomainModel, meta: CommitMeta, *, base_version: int | None, force: bool = False
    ) -> CommitOutcome:
        """Commit `candidate` as the domain's next version (see the module docstring).

        `base_version` is the version the run was checked against when it was accepted;
        `force` commits whatever the re-check finds (seeding from an approval made elsewhere).
        """
        domain = candidate.domain
        mode = self.mode_for(domain)
        rechecked = False
        for _ in range(self._max_attempts):
            head, head_version = await self.repo.head(domain)
            result = await self.check(candidate, mode)
            if head.current != base_version:
                rechecked = True
                if not result.compatible and not force:
                    reason = (
                        f"the knowledge base moved from version {base_version} to {head.current} and the "
                        f"re-check finds {len(result.critical)} critical conflict(s) under {mode.value}"
                    )
                    return CommitOutcome(False, result, reason=reason, rechecked=True)
                base_version = head.current
            record = self._new_record(candidate, meta, head, result, mode)
            if not await self.repo.add_version(record):
                continue  # another writer took the number: reload the head
            now = record.created_at
            moved = head.model_copy(
                update={"current": record.version, "latest": record.version, "updated_at": now}
            )
            if await self.repo.save_head(moved, head_version):
                await self.refresh(domain)
                return CommitOutcome(True, result, record=record, rechecked=rechecked)
            await self.repo.drop_version(domain, record.version)
        raise CommitRaceError(f"could not commit {domain!r}: the head kept moving")

    def _new_record(
        self, candidate: DomainModel, meta: CommitMeta, head: DomainHead, result: CheckResult, mode: Mode
    ) -> VersionRecord:
        return VersionRecord(
            domain=candidate.domain,
            version=head.latest + 1,
            previous_version=head.current,
            model=candidate,
            created_at=self._clock(),
            run_id=meta.run_id,
            request_id=meta.request_id,
            revision=meta.revision,
            content_hash=meta.content_hash,
            summary=summarize(result.changes),
            changes=result.changes,
            mode=mode.value,
        )

    # ------------------------------------------------------------ states and rollback

    async def set_state(self, record: VersionRecord, state: VersionState) -> VersionRecord:
        updated = record.model_copy(update={"state": state})
        await self.repo.save_version(updated)
        return updated

    async def mark_started(self, record: VersionRecord) -> None:
        """The version's job runs; older running versions of the domain are superseded."""
        for other in await self.repo.versions(record.domain):
            if other.state == "running" and other.version < record.version:
                await self.set_state(other, "superseded")
        if record.state == "committed":
            await self.set_state(record, "running")

    async def rollback(
        self, domain: str, to: int | None = None, *, state: VersionState = "rolled_back"
    ) -> tuple[int, int | None]:
        """Make `to` (default: the previous live version) current; mark the left version `state`.

        Returns (left version, new current). Retries when the head moves meanwhile.
        """
        for _ in range(self._max_attempts):
            head, head_version = await self.repo.head(domain)
            history = await self.repo.versions(domain)
            target = rollback_target(history, head, to)
            left = head.current
            assert left is not None
            moved = head.model_copy(update={"current": target, "updated_at": self._clock()})
            if await self.repo.save_head(moved, head_version):
                record = next(v for v in history if v.version == left)
                await self.set_state(record, state)
                await self.refresh(domain)
                return left, target
        raise CommitRaceError(f"could not roll {domain!r} back: the head kept moving")

    async def compensate(self, record: VersionRecord) -> int | None:
        """A failed start: mark the version, and if it is current, roll the domain back from it."""
        head, _ = await self.repo.head(record.domain)
        if head.current != record.version:
            await self.set_state(record, "start_failed")
            log.warning(
                "failed start of a version that is no longer current",
                domain=record.domain,
                version=record.version,
                current=head.current,
            )
            return head.current
        try:
            _, target = await self.rollback(record.domain, state="start_failed")
        except RollbackError:
            await self.set_state(record, "start_failed")
            return head.current
        return target

    # ------------------------------------------------------------ derived views, backup

    async def refresh(self, domain: str) -> None:
        """Re-render the domain's and the global documents, and re-index the domain."""
        record = await self.record(domain)
        await self.index.replace_domain(domain, record.model if record else None)
        if self.files is None:
            return
        now = self._clock()
        if record is None:
            self.files.remove_domain_docs(domain)
        else:
            docs = domain_documents(record.model, record.version, generated_at=now, changes=record.changes)
            self.files.write_domain_docs(domain, docs)
        self.files.write_global_docs(global_documents(await self.current_models(), generated_at=now))

    async def reindex_all(self) -> None:
        for head in await self.repo.heads():
            await self.refresh(head.domain)

    async def export(self) -> Snapshot:
        heads = sorted(await self.repo.heads(), key=lambda h: h.domain)
        versions = [v for h in heads for v in await self.repo.versions(h.domain)]
        return Snapshot(exported_at=self._clock(), heads=tuple(heads), versions=tuple(versions))

    async def restore(self, snapshot: Snapshot) -> list[str]:
        """Replace every domain in the snapshot with its content; returns the domains restored."""
        restored = []
        for head in snapshot.heads:
            versions = [v for v in snapshot.versions if v.domain == head.domain]
            await self.repo.replace_domain(head, versions)
            await self.refresh(head.domain)
            restored.append(head.domain)
        return restored
