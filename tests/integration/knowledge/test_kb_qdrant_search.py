"""Search through the Qdrant adapter (local mode): natural-language queries find the expected table."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from services.ingest.domain.checks import check_document
from services.knowledge.adapters.qdrant_index import QdrantBusy, QdrantSchemaIndex
from services.knowledge.domain.model import build_model

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "requests"
QUERIES = [
    ("shop name and status", "dim_shop"),
    ("store opening status", "dim_shop"),
    ("merchant blacklist", "dim_merchant"),
    ("商户结算周期", "dim_merchant"),
    ("城市等级", "dim_city"),
    ("province of the city", "dim_city"),
    ("支付渠道名称", "dwd_payment_wide"),
    ("test account users", "dim_user_account"),
    ("订单明细宽表", "dwd_order_wide"),
    ("order discount amount", "dwd_order_wide"),
    ("注册城市", "dim_user_profile"),
    ("session count per user per day", "dws_user_activity_daily"),
    ("last action time", "dws_user_activity_daily"),
]


class FakeEmbedder:
    """A deterministic stand-in for a dense model: bag of hashed characters (keeps the port's contract)."""

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = []
        for text in texts:
            vector = [0.0] * 32
            for char in text.lower():
                vector[ord(char) % 32] += 1.0
            vectors.append(vector)
        return vectors


async def _filled(index: QdrantSchemaIndex) -> QdrantSchemaIndex:
    for name in ("orders", "payments", "user-activity"):
        spec = check_document((FIXTURES / f"{name}-request-v3.md").read_text(encoding="utf-8")).spec
        assert spec is not None
        model = build_model(spec)
        await index.replace_domain(model.domain, model)
    return index


@pytest.fixture
async def index(tmp_path: Path) -> AsyncIterator[QdrantSchemaIndex]:
    opened = await _filled(QdrantSchemaIndex.open(path=tmp_path / "qdrant", collection="t"))
    yield opened
    await opened.close()


@pytest.mark.parametrize(("query", "table"), QUERIES)
async def test_expected_table_comes_first(index: QdrantSchemaIndex, query: str, table: str) -> None:
    """It ranks the table a natural-language query (English or Chinese) describes first."""
    hits = await index.search(query, limit=5, domain=None)
    assert hits and hits[0].table == table, [(h.table, h.column, round(h.score, 2)) for h in hits]


async def test_reindexing_a_domain_replaces_its_points(index: QdrantSchemaIndex) -> None:
    """It forgets a domain's old points when the domain is re-indexed or removed."""
    await index.replace_domain("orders", None)
    hits = await index.search("shop name", limit=10, domain=None)
    assert all(h.domain != "orders" for h in hits)
    assert {h.domain for h in await index.search("user level", limit=10, domain="payments")} == {"payments"}


async def test_local_mode_is_exclusive_and_hybrid_mode_fuses(tmp_path: Path) -> None:
    """It reports a busy local directory, and ranks with sparse + dense vectors when an embedder is set."""
    first = QdrantSchemaIndex.open(path=tmp_path / "q", collection="t")
    try:
        with pytest.raises(QdrantBusy):
            QdrantSchemaIndex.open(path=tmp_path / "q", collection="t")
    finally:
        await first.close()
    hybrid = await _filled(
        QdrantSchemaIndex.open(path=tmp_path / "h", collection="t", embedder=FakeEmbedder())
    )
    try:
        hits = await hybrid.search("商户结算周期", limit=5, domain=None)
        assert hits[0].table == "dim_merchant"
    finally:
        await hybrid.close()
