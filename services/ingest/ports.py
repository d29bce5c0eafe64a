"""The ports the ingest use cases depend on; adapters implement them."""

from __future__ import annotations

from typing import Protocol

from services.ingest.domain.intake import DomainHead, RequestRecord, RequestState
from services.mesh.events import Event


class RequestRepository(Protocol):
    async def claim_key(self, idempotency_key: str, request_id: str, run_id: str) -> tuple[str, str, bool]:
        """Bind a key to ids atomically: the ids bound to it and whether this call bound them."""
        ...

    async def get(self, request_id: str) -> RequestRecord | None: ...

    async def save(self, record: RequestRecord) -> None: ...

    async def list(
        self, *, domain: str | None, state: RequestState | None, limit: int, offset: int
    ) -> list[RequestRecord]: ...

    async def head(self, domain: str) -> tuple[DomainHead, int]:
        """The domain's head and its store version (0 when the domain is new)."""
        ...

    async def save_head(self, head: DomainHead, expected_version: int) -> bool:
        """False when another writer moved the head first."""
        ...


class Publisher(Protocol):
    async def publish(self, event: Event) -> None: ...
