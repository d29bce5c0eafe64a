"""Search over tables and columns: tokenising, sparse lexical vectors, BM25 and hybrid fusion.

Documents: one per table (name, role words, comment, every column name and comment) and one
per column (table name, column name, comment). Tokens: ASCII words split at `_` and camelCase,
lower-cased, light plural folding, a few synonyms; Chinese runs as characters plus bigrams,
so `店铺名称` finds a column commented `店铺名称`.

Sparse vectors carry the BM25 term part (k1, b, a fixed average length); the index applies
IDF (Qdrant's `Modifier.IDF`, or `LexicalIndex` here), so both rank alike. With dense
vectors too, rankings are fused by reciprocal rank (`rrf`).
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from services.knowledge.domain.model import DomainModel, KbTable

K1, B, AVERAGE_LENGTH = 1.2, 0.75, 12.0
RRF_K = 60
_WORD = re.compile(r"[a-z]+|\d+|[\u3400-\u9fff\uf900-\ufaff]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "for",
        "to",
        "in",
        "on",
        "by",
        "with",
        "which",
        "what",
        "where",
        "who",
        "is",
        "are",
        "was",
        "be",
        "do",
        "does",
        "show",
        "find",
        "me",
        "my",
        "i",
        "we",
        "our",
        "that",
        "this",
        "these",
        "those",
        "and",
        "or",
        "per",
        "each",
        "all",
        "any",
        "table",
        "tables",
        "column",
        "columns",
        "field",
        "fields",
        "has",
        "have",
        "hold",
        "holds",
        "keep",
        "kept",
        "contain",
        "contains",
        "的",
        "了",
        "和",
        "与",
        "及",
        "哪",
        "个",
        "张",
        "表里",
    ]
)
_SYNONYMS = {
    "store": "shop", "stores": "shop", "customer": "user", "customers": "user", "client": "user",
    "vendor": "merchant", "seller": "merchant", "town": "city", "province": "province",
    "blacklist": "blacklisted", "blocked": "blacklisted", "paid": "pay", "payment": "payment",
    "session": "session", "sessions": "session", "duration": "stay", "dwell": "stay",
    "tier": "level", "grade": "level", "rank": "level", "date": "date", "daily": "daily",
}  # fmt: skip
_ROLE_WORDS = {
    "source": "source payload event 源表 事件",
    "dimension": "dimension lookup 维表",
    "result": "result sink wide 结果表 宽表",
}


def _fold(word: str) -> str:
    word = _SYNONYMS.get(word, word)
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return _SYNONYMS.get(word[:-1], word[:-1])
    return word


def tokenize(text: str) -> list[str]:
    """Search tokens of `text` (see the module docstring); stop words dropped."""
    text = unicodedata.normalize("NFKC", text)
    text = _CAMEL.sub(" ", text).lower()
    tokens: list[str] = []
    for run in _WORD.findall(text):
        if _CJK.match(run):
            tokens += [c for c in run if c not in _STOP]
            tokens += [run[i : i + 2] for i in range(len(run) - 1)]
        elif run not in _STOP:
            tokens.append(_fold(run))
    return [t for t in tokens if t not in _STOP]


def token_id(token: str) -> int:
    """A stable 31-bit index for a token (the sparse vector's dimension)."""
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=4).digest(), "big") & 0x7FFFFFFF


@dataclass(frozen=True)
class SparseVector:
    indices: tuple[int, ...]
    values: tuple[float, ...]


def document_vector(tokens: Sequence[str]) -> SparseVector:
    """BM25 term weights (saturated tf, length-normalised) of a document."""
    counts = Counter(token_id(t) for t in tokens)
    norm = K1 * (1 - B + B * len(tokens) / AVERAGE_LENGTH)
    items = sorted(counts.items())
    return SparseVector(tuple(i for i, _ in items), tuple(n * (K1 + 1) / (n + norm) for _, n in items))


def query_vector(query: str) -> SparseVector:
    ids = sorted({token_id(t) for t in tokenize(query)})
    return SparseVector(tuple(ids), tuple(1.0 for _ in ids))


@dataclass(frozen=True)
class SearchDoc:
    key: str
    domain: str
    table: str
    column: str | None
    text: str

    @property
    def tokens(self) -> list[str]:
        return tokenize(self.text)


@dataclass(frozen=True)
class SearchHit:
    domain: str
    table: str
    column: str | None
    score: float


def _table_doc(domain: str, table: KbTable) -> SearchDoc:
    # The table's own name and comment count twice: they describe the whole table.
    parts = [table.name, table.name, _ROLE_WORDS[table.role], table.comment or "", table.comment or ""]
    parts += [f"{c.name} {c.comment or ''}" for c in table.columns]
    return SearchDoc(f"{domain}/{table.name}", domain, table.name, None, " ".join(parts))


def documents(model: DomainModel) -> list[SearchDoc]:
    """The search documents of one domain version."""
    docs: list[SearchDoc] = []
    for table in model.tables:
        docs.append(_table_doc(model.domain, table))
        docs += [
            SearchDoc(
                f"{model.domain}/{table.name}/{c.name}",
                model.domain,
                table.name,
                c.name,
                f"{table.name} {c.name} {c.comment or ''}",
            )
            for c in table.columns
        ]
    return docs


def idf(total: int, containing: int) -> float:
    """Qdrant's (and BM25's) inverse document frequency."""
    return math.log(1 + (total - containing + 0.5) / (containing + 0.5))


@dataclass
class LexicalIndex:
    """An in-memory BM25 index over `SearchDoc`s, ranking exactly as the Qdrant sparse index does."""

    docs: dict[str, tuple[SearchDoc, SparseVector]] = field(default_factory=dict)

    def add(self, docs: Iterable[SearchDoc]) -> None:
        for doc in docs:
            self.docs[doc.key] = (doc, document_vector(doc.tokens))

    def remove_domain(self, domain: str) -> None:
        self.docs = {k: v for k, v in self.docs.items() if v[0].domain != domain}

    def search(self, query: str, limit: int = 10, domain: str | None = None) -> list[SearchHit]:
        q = query_vector(query)
        if not q.indices:
            return []
        frequency = Counter(i for _, vec in self.docs.values() for i in set(vec.indices))
        weights = {i: idf(len(self.docs), frequency.get(i, 0)) for i in q.indices}
        scored: list[SearchHit] = []
        for doc, vec in self.docs.values():
            if domain is not None and doc.domain != domain:
                continue
            score = sum(weights[i] * v for i, v in zip(vec.indices, vec.values, strict=True) if i in weights)
            if score > 0:
                scored.append(SearchHit(doc.domain, doc.table, doc.column, score))
        scored.sort(key=lambda h: (-h.score, h.domain, h.table, h.column or ""))
        return scored[:limit]


def rrf(rankings: Sequence[Sequence[str]], k: int = RRF_K) -> list[tuple[str, float]]:
    """Reciprocal-rank fusion of several rankings of keys (best first)."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking):
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank + 1)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))
