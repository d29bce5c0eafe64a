"""Tokenising, sparse vectors, BM25 ranking and reciprocal-rank fusion."""

from __future__ import annotations

import pytest
from knowledge_fakes import EXAMPLES, example_model

from services.knowledge.domain.search import (
    LexicalIndex,
    document_vector,
    documents,
    query_vector,
    rrf,
    token_id,
    tokenize,
)


@pytest.fixture(scope="module")
def index() -> LexicalIndex:
    built = LexicalIndex()
    for name in EXAMPLES:
        built.add(documents(example_model(name)))
    return built


def test_tokenize_splits_snake_camel_and_chinese() -> None:
    """It splits identifiers, folds plurals and synonyms, and cuts Chinese into characters and bigrams."""
    assert tokenize("shop_name shopName") == ["shop", "name", "shop", "name"]
    assert tokenize("Which stores have the cities?") == ["shop", "city"]
    assert tokenize("店铺名称") == ["店", "铺", "名", "称", "店铺", "铺名", "名称"]
    assert tokenize("the of which") == []


def test_vectors_are_stable_and_saturating() -> None:
    """It hashes tokens to stable indices and gives repeated terms diminishing weight."""
    assert token_id("shop") == token_id("shop") != token_id("city")
    vector = document_vector(["shop", "shop", "shop", "city"])
    weights = dict(zip(vector.indices, vector.values, strict=True))
    assert weights[token_id("shop")] < 3 * weights[token_id("city")]
    assert query_vector("the of").indices == ()


@pytest.mark.parametrize(
    ("query", "table"),
    [
        ("shop name and status", "dim_shop"),
        ("城市等级", "dim_city"),
        ("merchant blacklist", "dim_merchant"),
        ("注册城市", "dim_user_profile"),
    ],
)
def test_lexical_index_ranks_expected_table_first(index: LexicalIndex, query: str, table: str) -> None:
    """It ranks the table the query describes first."""
    assert index.search(query, 3)[0].table == table


def test_domain_filter_and_removal(index: LexicalIndex) -> None:
    """It restricts hits to one domain and forgets a removed domain."""
    assert {h.domain for h in index.search("user level", 20, domain="payments")} == {"payments"}
    local = LexicalIndex(dict(index.docs))
    local.remove_domain("orders")
    assert all(h.domain != "orders" for h in local.search("shop name", 20))


def test_rrf_rewards_agreement() -> None:
    """It puts the key both rankings like above keys only one ranking likes."""
    fused = rrf([["a", "b", "c"], ["b", "c", "a"]])
    assert fused[0][0] == "b" and {k for k, _ in fused} == {"a", "b", "c"}
