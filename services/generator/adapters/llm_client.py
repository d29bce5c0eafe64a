"""LlmClient over litellm: one chat completion, temperature 0, bounded in time, no retries.

litellm is imported only when a model is configured (bootstrap builds this client then), with
LITELLM_LOCAL_MODEL_COST_MAP=True set first so that the import does not fetch the price list
from the network. Retries belong to the router's repair budget, so litellm's and the provider
SDK's are switched off here.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

from services.generator.domain.repair import ChatMessage
from services.generator.ports import LlmAnswer, LlmError
from services.mesh.extras import require


def import_litellm() -> ModuleType:
    """litellm, imported with the local cost map (no network at import)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    return require(
        "litellm",
        package="litellm",
        extra="llm",
        what="the generator's LLM (STREAMWRIGHT_GENERATOR_LLM_MODEL)",
    )


class LitellmClient:
    def __init__(
        self,
        *,
        model: str,
        timeout_s: float = 60.0,
        max_tokens: int = 8192,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """`extra` goes to every `acompletion` call as keyword arguments (api_base, mock_response ...)."""
        self._model = model
        self._timeout_s = timeout_s
        self._max_tokens = max_tokens
        self._extra = dict(extra or {})
        self._litellm = import_litellm()

    @property
    def model(self) -> str:
        return self._model

    async def complete(self, messages: Sequence[ChatMessage]) -> LlmAnswer:
        started = time.monotonic()
        try:
            response = await asyncio.wait_for(
                self._litellm.acompletion(
                    model=self._model,
                    messages=[{"role": m.role, "content": m.content} for m in messages],
                    temperature=0,
                    max_tokens=self._max_tokens,
                    timeout=self._timeout_s,
                    num_retries=0,
                    max_retries=0,
                    **self._extra,
                ),
                timeout=self._timeout_s + 1.0,
            )
        except TimeoutError as exc:
            raise LlmError(f"{self._model}: no answer within {self._timeout_s:g} s") from exc
        except Exception as exc:  # litellm maps providers' errors onto many classes
            raise LlmError(f"{self._model}: {type(exc).__name__}: {exc}") from exc
        latency_ms = int((time.monotonic() - started) * 1000)
        text = _text_of(response)
        if text is None:
            raise LlmError(f"{self._model}: the answer has no text")
        usage = getattr(response, "usage", None)
        return LlmAnswer(
            text=text,
            model=str(getattr(response, "model", None) or self._model),
            prompt_tokens=_int_or_none(getattr(usage, "prompt_tokens", None)),
            completion_tokens=_int_or_none(getattr(usage, "completion_tokens", None)),
            cost_usd=self._cost(response),
            latency_ms=latency_ms,
        )

    def _cost(self, response: object) -> float | None:
        try:
            cost = self._litellm.completion_cost(completion_response=response)
        except Exception:  # unknown model or no price: the cost is simply not known
            return None
        return float(cost) if isinstance(cost, int | float) else None


def _text_of(response: object) -> str | None:
    choices = getattr(response, "choices", None) or []
    if not choices:
        return None
    message = getattr(choices[0], "message", None)
    content = getattr(message, "content", None)
    return content if isinstance(content, str) and content.strip() else None


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) else None
