"""The bounded repair loop: when a regenerate is allowed, and what happens instead.

The compiler is deterministic: without an LLM repairing the job, a regenerate would produce
the same SQL and the same score again. So a regenerate is only sent when `llm_repair` is on
and the attempt budget is not spent; otherwise the run goes to `without_llm` (review by
default, or reject) or, once the budget is spent, to `exhausted` (review by default).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.mesh.events import Decision
from services.router.domain.gate import ConfigError

DEFAULT_MAX_ATTEMPTS = 2


@dataclass(frozen=True, slots=True)
class RepairPolicy:
    # How many regenerations a run may have: attempts 1..max_attempts may ask for one.
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    without_llm: Decision = Decision.REVIEW
    exhausted: Decision = Decision.REVIEW


@dataclass(frozen=True, slots=True)
class RepairOutcome:
    route: Decision
    note: str | None  # why a regenerate became something else


def apply_repair_policy(
    route: Decision, *, attempt: int, llm_repair: bool, policy: RepairPolicy
) -> RepairOutcome:
    """`route`, unless it is a regenerate that cannot help or is over budget."""
    if route is not Decision.REGENERATE:
        return RepairOutcome(route, None)
    if not llm_repair:
        return RepairOutcome(
            policy.without_llm,
            "no LLM repairs jobs, so a regenerate would repeat the deterministic compiler's output",
        )
    if attempt > policy.max_attempts:
        return RepairOutcome(
            policy.exhausted, f"repair budget spent: {policy.max_attempts} regeneration(s) already tried"
        )
    return RepairOutcome(route, None)


def repair_policy_from(
    raw: Mapping[str, Any] | None, *, max_retries_per_phase: int | None = None
) -> RepairPolicy:
    policy = RepairPolicy(
        max_attempts=max_retries_per_phase if max_retries_per_phase is not None else DEFAULT_MAX_ATTEMPTS
    )
    if raw is None:
        return policy
    if not isinstance(raw, Mapping):
        raise ConfigError("repair: expected a mapping")
    unknown = set(raw) - {"max_attempts", "without_llm", "exhausted"}
    if unknown:
        raise ConfigError(f"repair: unknown key(s) {sorted(unknown)}")
    max_attempts = raw.get("max_attempts", policy.max_attempts)
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or not 0 <= max_attempts <= 20:
        raise ConfigError("repair.max_attempts: expected an integer 0-20")
    without = _fallback(raw.get("without_llm", "review"), "repair.without_llm")
    exhausted = _fallback(raw.get("exhausted", "review"), "repair.exhausted")
    return RepairPolicy(max_attempts=max_attempts, without_llm=without, exhausted=exhausted)


def _fallback(value: object, where: str) -> Decision:
    mapping = {"review": Decision.REVIEW, "reject": Decision.REJECTED, "rejected": Decision.REJECTED}
    if not isinstance(value, str) or value.lower() not in mapping:
        raise ConfigError(f"{where}: expected review or reject, got {value!r}")
    return mapping[value.lower()]
