"""KnowledgeRepository over the mesh DocumentStore (SQLite by default, MongoDB in deployments)."""

from __future__ import annotations

from collections.abc import Sequence

from services.knowledge.domain.versions import DomainHead, RunRecord, VersionRecord
from services.mesh.store import DocumentStore, VersionConflict

HEADS = "kb_heads"
VERSIONS = "kb_versions"
RUNS = "kb_runs"


def version_key(domain: str, version: int) -> str:
    return f"{domain}@{version:010d}"


class StoreKnowledgeRepository:
    def __init__(self, store: DocumentStore) -> None:
        self._store = store

    async def head(self, domain: str) -> tuple[DomainHead, int]:
        stored = await self._store.get(HEADS, domain)
        if stored is None:
            return DomainHead(domain=domain), 0
        return DomainHead.model_validate(stored.doc), stored.version

    async def save_head(self, head: DomainHead, expected_version: int) -> bool:
        try:
            await self._store.put(
                HEADS, head.domain, head.model_dump(mode="json"), expected_version=expected_version
            )
        except VersionConflict:
            return False
        return True

    async def heads(self) -> list[DomainHead]:
        return [DomainHead.model_validate(s.doc) for s in await self._store.find(HEADS)]

    async def version(self, domain: str, version: int) -> VersionRecord | None:
        stored = await self._store.get(VERSIONS, version_key(domain, version))
        return None if stored is None else VersionRecord.model_validate(stored.doc)

    async def add_version(self, record: VersionRecord) -> bool:
        key = version_key(record.domain, record.version)
        return await self._store.insert(VERSIONS, key, record.model_dump(mode="json"))

    async def save_version(self, record: VersionRecord) -> None:
        await self._store.put(
            VERSIONS, version_key(record.domain, record.version), record.model_dump(mode="json")
        )

    async def drop_version(self, domain: str, version: int) -> None:
        await self._store.delete(VERSIONS, version_key(domain, version))

    async def versions(self, domain: str) -> list[VersionRecord]:
        rows = await self._store.find(VERSIONS, where={"domain": domain}, order_by="version")
        return [VersionRecord.model_validate(r.doc) for r in rows]

    async def run(self, run_id: str) -> RunRecord | None:
        stored = await self._store.get(RUNS, run_id)
        return None if stored is None else RunRecord.model_validate(stored.doc)

    async def save_run(self, record: RunRecord) -> None:
        await self._store.put(RUNS, record.run_id, record.model_dump(mode="json"))

    async def version_of_run(self, run_id: str) -> VersionRecord | None:
        rows = await self._store.find(VERSIONS, where={"run_id": run_id}, order_by="version", descending=True)
        return VersionRecord.model_validate(rows[0].doc) if rows else None

    async def replace_domain(self, head: DomainHead, versions: Sequence[VersionRecord]) -> None:
        for old in await self.versions(head.domain):
            await self.drop_version(head.domain, old.version)
        for record in versions:
            await self.save_version(record)
        await self._store.put(HEADS, head.domain, head.model_dump(mode="json"))
