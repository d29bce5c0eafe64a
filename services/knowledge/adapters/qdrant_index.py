"""SchemaIndex over Qdrant: local (embedded) mode under `<home>/knowledge/qdrant`, or a server by URL.

Every table and column is a point with a sparse `lexical` vector (BM25 term weights; Qdrant
applies IDF) and, when an embedder is configured, a dense `dense` vector; a query then runs
both and fuses them by reciprocal rank (hybrid). The collection name carries the vector
layout, so switching the embedder builds a fresh collection instead of mixing layouts.
The index is derived data: the service rebuilds it from the store at start-up.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from qdrant_client import AsyncQdrantClient, models

from services.knowledge.domain.model import DomainModel
from services.knowledge.domain.search import SearchDoc, SearchHit, document_vector, documents, query_vector
from services.knowledge.ports import Embedder

LEXICAL, DENSE = "lexical", "dense"
_NAMESPACE = uuid.UUID("5b0f3c3e-8f0e-4d57-9d1f-6b7a1c2e9a10")


class QdrantBusy(RuntimeError):
    """Local mode allows one client per directory; the running service holds it."""


def _sparse(vector: Any) -> models.SparseVector:
    return models.SparseVector(indices=list(vector.indices), values=list(vector.values))


class QdrantSchemaIndex:
    def __init__(self, client: AsyncQdrantClient, collection: str, embedder: Embedder | None = None) -> None:
        self._client = client
        self._base = collection
        self._embedder = embedder
        self._collection: str | None = None

    @classmethod
    def open(
        cls,
        *,
        path: Path | None = None,
        url: str | None = None,
        api_key: str | None = None,
        collection: str,
        embedder: Embedder | None = None,
    ) -> QdrantSchemaIndex:
        """A server client for `url`, else local mode at `path` (QdrantBusy when locked)."""
        if url:
            client = AsyncQdrantClient(url=url, api_key=api_key)
        else:
            assert path is not None
            path.mkdir(parents=True, exist_ok=True)
            try:
                client = AsyncQdrantClient(path=str(path))
            except RuntimeError as error:  # "Storage folder ... is already accessed by another instance"
                raise QdrantBusy(str(error)) from error
        return cls(client, collection, embedder)

    async def _ensure(self) -> str:
        if self._collection is not None:
            return self._collection
        vectors: dict[str, models.VectorParams] = {}
        name = f"{self._base}_lex"
        if self._embedder is not None:
            size = len((await self._embedder.embed(["probe"]))[0])
            vectors[DENSE] = models.VectorParams(size=size, distance=models.Distance.COSINE)
            name = f"{self._base}_hybrid{size}"
        if not await self._client.collection_exists(name):
            await self._client.create_collection(
                name,
                vectors_config=vectors,
                sparse_vectors_config={LEXICAL: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            )
        self._collection = name
        return name

    async def _points(self, docs: list[SearchDoc]) -> list[models.PointStruct]:
        dense = await self._embedder.embed([d.text for d in docs]) if self._embedder and docs else None
        points = []
        for i, doc in enumerate(docs):
            vector: dict[str, Any] = {LEXICAL: _sparse(document_vector(doc.tokens))}
            if dense is not None:
                vector[DENSE] = dense[i]
            payload = {"domain": doc.domain, "table": doc.table, "column": doc.column, "key": doc.key}
            points.append(
                models.PointStruct(id=str(uuid.uuid5(_NAMESPACE, doc.key)), vector=vector, payload=payload)
            )
        return points

    async def replace_domain(self, domain: str, model: DomainModel | None) -> None:
        name = await self._ensure()
        await self._client.delete(name, points_selector=models.FilterSelector(filter=_domain_filter(domain)))
        if model is not None:
            await self._client.upsert(name, points=await self._points(documents(model)))

    async def search(self, query: str, *, limit: int, domain: str | None) -> list[SearchHit]:
        name = await self._ensure()
        sparse = query_vector(query)
        if not sparse.indices:
            return []
        where = _domain_filter(domain) if domain else None
        if self._embedder is None:
            found = await self._client.query_points(
                name, query=_sparse(sparse), using=LEXICAL, limit=limit, query_filter=where, with_payload=True
            )
        else:
            dense = (await self._embedder.embed([query]))[0]
            depth = max(limit * 4, 20)
            found = await self._client.query_points(
                name,
                prefetch=[
                    models.Prefetch(query=_sparse(sparse), using=LEXICAL, limit=depth, filter=where),
                    models.Prefetch(query=dense, using=DENSE, limit=depth, filter=where),
                ],
                query=models.FusionQuery(fusion=models.Fusion.RRF),
                limit=limit,
                with_payload=True,
            )
        return [_hit(p) for p in found.points]

    async def close(self) -> None:
        await self._client.close()


def _domain_filter(domain: str | None) -> models.Filter:
    return models.Filter(
        must=[models.FieldCondition(key="domain", match=models.MatchValue(value=domain or ""))]
    )


def _hit(point: models.ScoredPoint) -> SearchHit:
    payload = point.payload or {}
    column = payload.get("column")
    return SearchHit(
        str(payload.get("domain")),
        str(payload.get("table")),
        None if column is None else str(column),
        float(point.score),
    )
