"""The knowledge search scenarios of tests/integration/knowledge/test_kb_qdrant_search.py,
on a Qdrant server (`QdrantSchemaIndex.open(url=...)`, as STREAMWRIGHT_QDRANT_URL selects)
instead of local mode.

The ranking and re-indexing tests are imported unchanged; this module's `index` fixture opens
the adapter on the Qdrant container, each test in its own collection. Skipped as a whole where
no Docker engine answers.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.knowledge.adapters.qdrant_index import QdrantSchemaIndex

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "knowledge"))
from test_kb_qdrant_search import (
    FakeEmbedder,
    _filled,
    test_expected_table_comes_first,
    test_reindexing_a_domain_replaces_its_points,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

__all__ = ["test_expected_table_comes_first", "test_reindexing_a_domain_replaces_its_points"]


def _collection() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def index(qdrant_url: str) -> AsyncIterator[QdrantSchemaIndex]:
    opened = await _filled(QdrantSchemaIndex.open(url=qdrant_url, collection=_collection()))
    yield opened
    await opened.close()


async def test_server_mode_allows_several_clients_and_hybrid_mode_fuses(qdrant_url: str) -> None:
    """It shares one server collection between clients (no local lock), and fuses sparse + dense."""
    collection = _collection()
    writer = await _filled(QdrantSchemaIndex.open(url=qdrant_url, collection=collection))
    reader = QdrantSchemaIndex.open(url=qdrant_url, collection=collection)
    try:
        hits = await reader.search("merchant blacklist", limit=5, domain=None)
        assert hits and hits[0].table == "dim_merchant"
    finally:
        await reader.close()
        await writer.close()
    hybrid = await _filled(
        QdrantSchemaIndex.open(url=qdrant_url, collection=_collection(), embedder=FakeEmbedder())
    )
    try:
        hits = await hybrid.search("商户结算周期", limit=5, domain=None)
        assert hits[0].table == "dim_merchant"
    finally:
        await hybrid.close()
