"""The ports the knowledge use cases depend on; adapters implement them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from services.knowledge.domain.model import DomainModel
from services.knowledge.domain.search import SearchHit
from services.knowledge.domain.versions import DomainHead, RunRecord, VersionRecord
from services.mesh.events import Event


class KnowledgeRepository(Protocol):
    async def head(self, domain: str) -> tuple[DomainHead, int]:
        """The domain's head and its store version (0 when the domain is new)."""
        ...

    async def save_head(self, head: DomainHead, expected_version: int) -> bool:
        """Compare-and-set; False when another writer moved the head first."""
        ...

    async def heads(self) -> list[DomainHead]: ...

    async def version(self, domain: str, version: int) -> VersionRecord | None: ...

    async def add_version(self, record: VersionRecord) -> bool:
        """Create a version record; False when that number is taken."""
        ...

    async def save_version(self, record: VersionRecord) -> None: ...

    async def drop_version(self, domain: str, version: int) -> None: ...

    async def versions(self, domain: str) -> list[VersionRecord]:
        """Every version of a domain, oldest first."""
        ...

    async def run(self, run_id: str) -> RunRecord | None: ...

    async def save_run(self, record: RunRecord) -> None: ...

    async def version_of_run(self, run_id: str) -> VersionRecord | None: ...

    async def replace_domain(self, head: DomainHead, versions: Sequence[VersionRecord]) -> None:
        """Restore: the domain's versions and head become exactly these."""
        ...


class SchemaIndex(Protocol):
    async def replace_domain(self, domain: str, model: DomainModel | None) -> None:
        """Index a domain's current version (None: forget the domain)."""
        ...

    async def search(self, query: str, *, limit: int, domain: str | None) -> list[SearchHit]: ...

    async def close(self) -> None: ...


class KnowledgeFiles(Protocol):
    """seed 000's knowledge-base directory."""

    def write_domain_docs(self, domain: str, documents: Mapping[str, str]) -> None: ...

    def remove_domain_docs(self, domain: str) -> None: ...

    def write_global_docs(self, documents: Mapping[str, str]) -> None: ...

    def write_conflict_report(self, name: str, text: str) -> str:
        """Write a report; returns its path."""
        ...


class Embedder(Protocol):
    """Dense embeddings (optional): configured only when an embedding model is set."""

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class Publisher(Protocol):
    async def publish(self, event: Event) -> None: ...
