"""The optional LLM classifier (litellm): picks a route for runs no rule decides.

Requests are untrusted text, so the prompt holds only the run's facts (numbers, booleans,
enumerations, finding codes, as `RunFacts.as_values` builds them) as JSON data, never the
document, the SQL or any message. The answer must be JSON `{"route": ..., "rationale": ...}`
with one of the allowed routes; anything else is a ClassifierError and the router takes its
documented default route. litellm is imported on first use only (it is slow to import).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping
from typing import Any

from services.mesh.events import Decision
from services.mesh.extras import MissingExtra, hint, installed
from services.router.domain.decide import Classification, ClassifierError, LlmCall
from services.router.domain.expr import Value

_ROUTE_WORDS = {
    "approve": Decision.APPROVED,
    "review": Decision.REVIEW,
    "regenerate": Decision.REGENERATE,
    "reject": Decision.REJECTED,
}
_WORD_OF = {v: k for k, v in _ROUTE_WORDS.items()}
_JSON_OBJECT = re.compile(r"\{.*\}", re.S)

SYSTEM_PROMPT = (
    "You route generated Flink SQL jobs after automated validation. You receive only numeric and "
    "enumerated facts as JSON data. Choose exactly one route from the allowed list: approve (deploy), "
    "review (a human decides), regenerate (repair with the issues as feedback), reject (stop). "
    'Answer with one JSON object: {"route": "<route>", "rationale": "<one short sentence>"}.'
)


class LiteLlmClassifier:
    def __init__(
        self, model: str, *, timeout: float = 20.0, completion_kwargs: Mapping[str, Any] | None = None
    ) -> None:
        if not installed("litellm"):  # at start-up, not as a failed classification per run
            raise MissingExtra(
                hint("the router's LLM classifier (STREAMWRIGHT_ROUTER_LLM_MODEL)", "litellm", "llm")
            )
        self._model = model
        self._timeout = timeout
        self._extra = dict(completion_kwargs or {})

    def prompt(self, facts: Mapping[str, Value], allowed: tuple[Decision, ...]) -> list[dict[str, str]]:
        data = {"facts": {k: list(v) if isinstance(v, tuple) else v for k, v in sorted(facts.items())}}
        data["allowed_routes"] = [_WORD_OF[a] for a in allowed]  # type: ignore[assignment]
        return [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": json.dumps(data, sort_keys=True)},
        ]

    async def classify(self, facts: Mapping[str, Value], allowed: tuple[Decision, ...]) -> Classification:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        started = time.monotonic()
        try:
            response = await litellm.acompletion(
                model=self._model,
                messages=self.prompt(facts, allowed),
                timeout=self._timeout,
                temperature=0,
                **self._extra,
            )
        except Exception as error:  # litellm raises many provider-specific types
            call = LlmCall(model=self._model, latency_ms=_ms(started), ok=False, error=type(error).__name__)
            raise ClassifierError(f"{type(error).__name__}: {str(error)[:200]}", call) from None
        call = _accounting(litellm, response, self._model, started)
        text = _content(response)
        route, rationale = _parse(text, allowed)
        if route is None:
            raise ClassifierError(
                f"unusable answer {text[:120]!r}",
                LlmCall(**{**_fields(call), "ok": False, "error": "bad answer"}),
            )
        return Classification(route=route, rationale=rationale, call=call)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _fields(call: LlmCall) -> dict[str, Any]:
    return {k: getattr(call, k) for k in call.__slots__}


def _content(response: Any) -> str:
    try:
        return str(response.choices[0].message.content or "")
    except (AttributeError, IndexError, KeyError, TypeError):
        return ""


def _accounting(litellm: Any, response: Any, model: str, started: float) -> LlmCall:
    usage = getattr(response, "usage", None)
    prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
    try:
        cost = float(litellm.completion_cost(completion_response=response) or 0.0)
    except Exception:  # unknown model price: cost unknown, recorded as 0
        cost = 0.0
    return LlmCall(
        model=model,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost_usd=cost,
        latency_ms=_ms(started),
    )


def _parse(text: str, allowed: tuple[Decision, ...]) -> tuple[Decision | None, str]:
    match = _JSON_OBJECT.search(text)
    if match is None:
        return None, ""
    try:
        answer = json.loads(match.group())
    except ValueError:
        return None, ""
    if not isinstance(answer, dict):
        return None, ""
    route = _ROUTE_WORDS.get(str(answer.get("route", "")).strip().lower())
    if route is None or route not in allowed:
        return None, ""
    rationale = " ".join(str(answer.get("rationale", "")).split())[:300]
    return route, rationale or "no rationale given"
