"""Ordered routing rules (seed 002's ai_router): priority, condition, route, reason.

    rules:
      - name: duplicate_job
        priority: 1
        when: "duplicate"
        route: reject
        reason: "the same content is already deployed for this domain"
      - name: risky_schema_change
        priority: 10
        when: "change_risk in ['medium', 'high']"
        route: review
        reason: "the ER change conflicts with the knowledge base"

Rules are tried by ascending priority (ties keep file order); the first whose condition holds
decides. A condition that fails to evaluate (a type error) does not match; the error is
reported with the decision so it can be fixed. Conditions use services.router.domain.expr.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.mesh.events import Decision
from services.router.domain.expr import Condition, ExprError, Value, compile_condition
from services.router.domain.facts import is_known_fact
from services.router.domain.gate import ConfigError

ROUTES: dict[str, Decision] = {
    "approve": Decision.APPROVED,
    "approved": Decision.APPROVED,
    "review": Decision.REVIEW,
    "regenerate": Decision.REGENERATE,
    "reject": Decision.REJECTED,
    "rejected": Decision.REJECTED,
}


def parse_route(value: object, where: str) -> Decision:
    route = ROUTES.get(str(value).lower()) if isinstance(value, str) else None
    if route is None:
        raise ConfigError(f"{where}: {value!r} is not one of approve, review, regenerate, reject")
    return route


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    priority: int
    condition: Condition
    route: Decision
    reason: str


@dataclass(frozen=True, slots=True)
class RuleMatch:
    rule: Rule

    @property
    def reason(self) -> str:
        return self.rule.reason


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    match: RuleMatch | None
    # "rule-name: error" for every rule whose condition could not be evaluated.
    errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RuleSet:
    rules: tuple[Rule, ...] = ()

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.rules, key=lambda r: r.priority))  # sorted() is stable
        object.__setattr__(self, "rules", ordered)

    def first_match(self, facts: Mapping[str, Value]) -> RuleOutcome:
        errors: list[str] = []
        for rule in self.rules:
            try:
                if rule.condition.evaluate(facts):
                    return RuleOutcome(RuleMatch(rule), tuple(errors))
            except ExprError as error:
                errors.append(f"{rule.name}: {error}")
        return RuleOutcome(None, tuple(errors))


def rule_from(raw: Mapping[str, Any], index: int) -> Rule:
    where = f"routing.rules[{index}]"
    unknown = set(raw) - {"name", "priority", "when", "condition", "route", "destination", "reason"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}")
    name = raw.get("name") or f"rule_{index + 1}"
    if not isinstance(name, str):
        raise ConfigError(f"{where}.name: expected a string")
    priority = raw.get("priority", 100)
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise ConfigError(f"{where}.priority: expected an integer")
    source = raw.get("when", raw.get("condition"))
    if not isinstance(source, str):
        raise ConfigError(f"{where}: 'when' (the condition) is required and must be a string")
    try:
        condition = compile_condition(source, is_known_fact)
    except ExprError as error:
        raise ConfigError(f"{where} ({name}): {error}") from None
    route = parse_route(raw.get("route", raw.get("destination")), f"{where}.route")
    reason = raw.get("reason") or f"rule {name}"
    if not isinstance(reason, str):
        raise ConfigError(f"{where}.reason: expected a string")
    return Rule(name=name, priority=priority, condition=condition, route=route, reason=reason)


def rules_from(raw: Sequence[Any] | None) -> RuleSet:
    if raw is None:
        return RuleSet()
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise ConfigError("routing.rules: expected a list")
    rules = []
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise ConfigError(f"routing.rules[{index}]: expected a mapping")
        rules.append(rule_from(item, index))
    names = [r.name for r in rules]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"routing.rules: duplicate rule name(s) {duplicates}")
    return RuleSet(tuple(rules))
