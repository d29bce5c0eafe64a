"""SchemaIndex in memory (BM25 over the same sparse vectors): tests, and the CLI when Qdrant is busy."""

from __future__ import annotations

from services.knowledge.domain.model import DomainModel
from services.knowledge.domain.search import LexicalIndex, SearchHit, documents


class MemorySchemaIndex:
    def __init__(self) -> None:
        self._index = LexicalIndex()

    async def replace_domain(self, domain: str, model: DomainModel | None) -> None:
        self._index.remove_domain(domain)
        if model is not None:
            self._index.add(documents(model))

    async def search(self, query: str, *, limit: int, domain: str | None) -> list[SearchHit]:
        return self._index.search(query, limit, domain)

    async def close(self) -> None:
        return None
