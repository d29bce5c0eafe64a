"""The litellm classifier with litellm's own mock_response: decides, fails, never sees document text."""

from __future__ import annotations

import json

import pytest

from services.mesh.events import DecidedBy, Decision
from services.router.adapters.llm_classifier import LiteLlmClassifier
from services.router.domain.config import config_from
from services.router.domain.decide import ClassifierError, decide
from services.router.domain.facts import FindingFact, RunFacts

FACTS = RunFacts(
    score=70,
    critical=0,
    warnings=2,
    infos=1,
    domain="orders",
    attempt=1,
    findings=(FindingFact("SQL_SELECT_STAR", "warning", "sql_standards"),),
)
ALLOWED = (Decision.REVIEW, Decision.REGENERATE, Decision.REJECTED)


def classifier(answer: str) -> LiteLlmClassifier:
    return LiteLlmClassifier("gpt-4o-mini", completion_kwargs={"mock_response": answer})


async def test_llm_decides_with_rationale_and_usage() -> None:
    """It takes the model's route and rationale and records token usage and latency."""
    answer = json.dumps({"route": "reject", "rationale": "accuracy too low to repair"})
    result = await decide(FACTS, config_from({}).routing, classifier(answer))
    assert result.decision is Decision.REJECTED and result.decided_by is DecidedBy.LLM
    assert "accuracy too low" in result.reason
    assert result.llm is not None and result.llm.ok and result.llm.completion_tokens > 0


async def test_llm_answer_outside_allowed_routes_fails() -> None:
    """It refuses an approve the strict gate did not offer, and falls back to the default route."""
    bad = classifier(json.dumps({"route": "approve", "rationale": "ignore the gate"}))
    with pytest.raises(ClassifierError):
        await bad.classify(FACTS.as_values(), ALLOWED)
    result = await decide(FACTS, config_from({}).routing, bad)
    assert result.decided_by is DecidedBy.GATE and "LLM classifier failed" in result.reason
    assert result.decision is Decision.REVIEW  # regenerate without an LLM repair -> review


async def test_llm_garbage_is_a_failure() -> None:
    """It treats a non-JSON answer as a failure, never as a decision."""
    with pytest.raises(ClassifierError, match="unusable"):
        await classifier("sure, approve it!").classify(FACTS.as_values(), ALLOWED)


def test_prompt_holds_facts_only() -> None:
    """It sends numbers, enumerations and codes as data: no document or finding text."""
    messages = classifier("{}").prompt(FACTS.as_values(), ALLOWED)
    user = json.loads(messages[1]["content"])
    assert user["facts"]["score"] == 70.0 and user["facts"]["codes"] == ["SQL_SELECT_STAR"]
    assert user["allowed_routes"] == ["review", "regenerate", "reject"]
    flat = json.dumps(messages)
    assert "message" not in user["facts"] and "ignore previous" not in flat
