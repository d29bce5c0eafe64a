"""One routing decision: gate, rules, optional LLM classifier, strict-mode guard, repair policy.

Order: (1) the gate's verdict; (2) the first matching rule; (3) no rule: a passing run is
approved by the gate; a failing one goes to the classifier when configured, and when it is
absent or fails, to the documented default route (`routing.default_route`, regenerate by
default). (4) In strict mode an approval of a run that fails the gate becomes a review (in
permissive mode, only with a Critical issue or a provisional score); advisory never blocks.
(5) The repair policy turns a regenerate that cannot help, or is over budget, into review
or reject. (6) The upgrade guard: an approval of a job whose savepoint upgrade cannot keep the
running job's state (`upgrade: incompatible`) becomes a review, with the explanation, whatever
decided it; one that must drop state (`upgrade: drop`) too, unless `upgrades.state_drop:
approve` (docs/safe-upgrades.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from services.mesh.events import DecidedBy, Decision, GateMode
from services.router.domain.expr import Value
from services.router.domain.facts import RunFacts
from services.router.domain.gate import GateInput, GateSettings, GateVerdict, evaluate_gate
from services.router.domain.repair import RepairPolicy, apply_repair_policy
from services.router.domain.rules import RuleSet
from services.router.domain.upgrade import UpgradeCheck, Verdict


@dataclass(frozen=True, slots=True)
class LlmCall:
    """One LLM call's accounting (from litellm's response)."""

    model: str
    purpose: str = "classify"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: int = 0
    ok: bool = True
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Classification:
    route: Decision
    rationale: str
    call: LlmCall


class ClassifierError(Exception):
    """The classifier could not decide (unreachable, malformed answer, a route not allowed)."""

    def __init__(self, message: str, call: LlmCall | None = None) -> None:
        super().__init__(message)
        self.call = call


class Classifier(Protocol):
    """Chooses a route from facts only (numbers, enumerations, finding codes)."""

    async def classify(self, facts: Mapping[str, Value], allowed: tuple[Decision, ...]) -> Classification: ...


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    gate: GateSettings = field(default_factory=GateSettings)
    rules: RuleSet = field(default_factory=RuleSet)
    repair: RepairPolicy = field(default_factory=RepairPolicy)
    # Where a failing run goes when no rule decides and no classifier does.
    default_route: Decision = Decision.REGENERATE
    # Where an approved upgrade that must drop state goes: review (default) or approved.
    state_drop: Decision = Decision.REVIEW


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    decision: Decision
    reason: str
    decided_by: DecidedBy
    mode: GateMode
    verdict: GateVerdict
    rule: str | None = None
    llm: LlmCall | None = None
    rule_errors: tuple[str, ...] = ()


async def decide(
    facts: RunFacts,
    config: RoutingConfig,
    classifier: Classifier | None = None,
    upgrade: UpgradeCheck | None = None,
) -> RoutingDecision:
    policy = config.gate.policy_for(facts.domain)
    verdict = evaluate_gate(
        GateInput(
            score=facts.score, critical=facts.critical, warnings=facts.warnings, provisional=facts.provisional
        ),
        policy,
    )
    values = facts.as_values(gate_passed=verdict.passed)
    outcome = config.rules.first_match(values)
    llm: LlmCall | None = None
    rule: str | None = None
    if outcome.match is not None:
        route, reason, by = outcome.match.rule.route, outcome.match.reason, DecidedBy.RULE
        rule = outcome.match.rule.name
    elif verdict.passed:
        route, reason, by = Decision.APPROVED, f"quality gate passed: score {facts.score:g}", DecidedBy.GATE
    elif policy.mode is GateMode.ADVISORY:
        route, reason, by = (
            Decision.APPROVED,
            f"advisory gate, would fail: {verdict.summary()}",
            DecidedBy.GATE,
        )
    else:
        route, reason, by, llm = await _fallback(values, config, verdict, classifier)
    if route is Decision.APPROVED and by is not DecidedBy.GATE and verdict.blocks_approval():
        route = Decision.REVIEW
        reason = f"{reason} — but the {policy.mode.value} gate forbids approval ({verdict.summary()}): review"
    route, reason = _upgrade_guard(route, reason, upgrade, config)
    repair = apply_repair_policy(
        route, attempt=facts.attempt, llm_repair=facts.llm_repair, policy=config.repair
    )
    if repair.note is not None:
        reason = f"{reason} — {repair.note}: {repair.route.value}"
    return RoutingDecision(
        decision=repair.route,
        reason=reason,
        decided_by=by,
        mode=policy.mode,
        verdict=verdict,
        rule=rule,
        llm=llm,
        rule_errors=outcome.errors,
    )


def _upgrade_guard(
    route: Decision, reason: str, upgrade: UpgradeCheck | None, config: RoutingConfig
) -> tuple[Decision, str]:
    """An approval that would start the job from state it cannot keep goes to a human."""
    if route is not Decision.APPROVED or upgrade is None:
        return route, reason
    if upgrade.verdict is Verdict.INCOMPATIBLE:
        return Decision.REVIEW, f"{reason} — but {upgrade.summary}: review{_all(upgrade.incompatible)}"
    if upgrade.verdict is Verdict.DROP and config.state_drop is Decision.REVIEW:
        return Decision.REVIEW, (
            f"{reason} — but {upgrade.summary}: review (approving starts it without that state)"
            f"{_all(upgrade.lost)}"
        )
    if upgrade.verdict is Verdict.DROP:
        return route, f"{reason} — {upgrade.summary}; dropped as configured (upgrades.state_drop: approve)"
    return route, reason


def _all(items: tuple[str, ...]) -> str:
    """Every item when there is more than the one the summary names."""
    return f" [all {len(items)}: {'; '.join(items)}]" if len(items) > 1 else ""


async def _fallback(
    values: Mapping[str, Value], config: RoutingConfig, verdict: GateVerdict, classifier: Classifier | None
) -> tuple[Decision, str, DecidedBy, LlmCall | None]:
    default_reason = f"quality gate failed ({verdict.summary()}); default route"
    if classifier is None:
        return config.default_route, default_reason, DecidedBy.GATE, None
    allowed: tuple[Decision, ...] = (Decision.REVIEW, Decision.REGENERATE, Decision.REJECTED)
    if not verdict.blocks_approval():
        allowed = (Decision.APPROVED, *allowed)
    try:
        result = await classifier.classify(values, allowed)
    except ClassifierError as error:
        return (
            config.default_route,
            f"{default_reason} (LLM classifier failed: {error})",
            DecidedBy.GATE,
            error.call,
        )
    if result.route not in allowed:
        return (
            config.default_route,
            f"{default_reason} (LLM chose {result.route.value}, which is not allowed here)",
            DecidedBy.GATE,
            result.call,
        )
    return result.route, f"LLM: {result.rationale}", DecidedBy.LLM, result.call
