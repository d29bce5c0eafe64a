"""RequestRepository over the mesh DocumentStore (SQLite by default, MongoDB in deployments)."""

from __future__ import annotations

from services.ingest.domain.intake import DomainHead, RequestRecord, RequestState
from services.mesh.store import DocumentStore, VersionConflict

REQUESTS = "requests"
KEYS = "idempotency_keys"
HEADS = "domain_heads"


class StoreRequestRepository:
    def __init__(self, store: DocumentStore) -> None:
        self._store = store

    async def claim_key(self, idempotency_key: str, request_id: str, run_id: str) -> tuple[str, str, bool]:
        if await self._store.insert(KEYS, idempotency_key, {"request_id": request_id, "run_id": run_id}):
            return request_id, run_id, True
        stored = await self._store.get(KEYS, idempotency_key)
        if stored is None:  # deleted in between: nothing deletes keys, so treat as a fresh claim
            return await self.claim_key(idempotency_key, request_id, run_id)
        return str(stored.doc["request_id"]), str(stored.doc["run_id"]), False

    async def get(self, request_id: str) -> RequestRecord | None:
        stored = await self._store.get(REQUESTS, request_id)
        return None if stored is None else RequestRecord.model_validate(stored.doc)

    async def save(self, record: RequestRecord) -> None:
        await self._store.put(REQUESTS, record.request_id, record.model_dump(mode="json"))

    async def list(
        self, *, domain: str | None, state: RequestState | None, limit: int, offset: int
    ) -> list[RequestRecord]:
        where: dict[str, str] = {}
        if domain is not None:
            where["domain"] = domain
        if state is not None:
            where["state"] = state
        rows = await self._store.find(
            REQUESTS, where=where, order_by="submitted_at", descending=True, limit=limit, offset=offset
        )
        return [RequestRecord.model_validate(row.doc) for row in rows]

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
