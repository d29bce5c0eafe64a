"""The quality gate of seed 000 §3.1 / §5.1.2: mode, minimum score, Critical threshold, warnings.

    policy = GatePolicy()                       # strict, 85, 0 Critical, warnings allowed
    verdict = evaluate_gate(facts, policy)      # passed? and, if not, the blockers

Modes decide what the verdict means for routing (services.router.domain.decide):

- strict: a run that misses any requirement is never approved by a rule or the LLM; they
  can only choose review, regenerate or reject. Only a human reviewer can approve it.
- permissive: a rule or the LLM may approve a run that misses the score or the warnings
  policy, never one over the Critical threshold or with a provisional (incomplete) score.
- advisory: the gate reports, it does not block; without a rule a run is approved and the
  failed requirements are stated in the reason.

The warnings policy: `allow_warnings: false` (seed 000's value) makes any Warning a blocker;
`max_warnings: N` allows at most N. The built-in default allows warnings: they already cost
points in the score, and seed 000's own sample report passes a run with 2 Warnings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from services.mesh.events import GateMode

DEFAULT_MIN_SCORE = 85.0
DEFAULT_CRITICAL_THRESHOLD = 0


class ConfigError(ValueError):
    """A gate or routing configuration that cannot be used; the message names the key."""


@dataclass(frozen=True, slots=True)
class GatePolicy:
    mode: GateMode = GateMode.STRICT
    min_overall_score: float = DEFAULT_MIN_SCORE
    critical_issues_threshold: int = DEFAULT_CRITICAL_THRESHOLD
    allow_warnings: bool = True
    max_warnings: int | None = None


@dataclass(frozen=True, slots=True)
class GateInput:
    """The numbers the gate looks at (a subset of the run's facts)."""

    score: float
    critical: int
    warnings: int
    provisional: bool = False


@dataclass(frozen=True, slots=True)
class GateVerdict:
    passed: bool
    mode: GateMode
    # Every requirement the run misses, in words.
    blockers: tuple[str, ...] = ()
    # The blockers no rule or LLM may override in permissive mode (Critical, provisional).
    hard_blockers: tuple[str, ...] = ()

    def blocks_approval(self) -> bool:
        """True when neither a rule nor the LLM may approve the run."""
        if self.mode is GateMode.STRICT:
            return not self.passed
        if self.mode is GateMode.PERMISSIVE:
            return bool(self.hard_blockers)
        return False

    def summary(self) -> str:
        return "passed" if self.passed else "; ".join(self.blockers)


def evaluate_gate(run: GateInput, policy: GatePolicy) -> GateVerdict:
    """The gate's verdict on one scored attempt."""
    soft: list[str] = []
    hard: list[str] = []
    if run.score < policy.min_overall_score:
        soft.append(f"score {run.score:g} < minimum {policy.min_overall_score:g}")
    if run.critical > policy.critical_issues_threshold:
        hard.append(f"{run.critical} Critical issue(s) > threshold {policy.critical_issues_threshold}")
    if run.warnings and not policy.allow_warnings:
        soft.append(f"{run.warnings} Warning(s) and warnings are not allowed")
    elif policy.max_warnings is not None and run.warnings > policy.max_warnings:
        soft.append(f"{run.warnings} Warning(s) > maximum {policy.max_warnings}")
    if run.provisional:
        hard.append("the score is provisional (validation incomplete)")
    blockers = tuple(hard + soft)
    return GateVerdict(passed=not blockers, mode=policy.mode, blockers=blockers, hard_blockers=tuple(hard))


@dataclass(frozen=True, slots=True)
class GateSettings:
    """The default policy plus per-domain overrides."""

    default: GatePolicy = field(default_factory=GatePolicy)
    domains: Mapping[str, GatePolicy] = field(default_factory=dict)

    def policy_for(self, domain: str) -> GatePolicy:
        return self.domains.get(domain, self.default)


_POLICY_KEYS = {"mode", "min_overall_score", "critical_issues_threshold", "allow_warnings", "max_warnings"}


def policy_from(raw: Mapping[str, Any], base: GatePolicy, where: str) -> GatePolicy:
    """`base` with the keys of `raw` (seed 000's quality_gate keys) applied."""
    unknown = set(raw) - _POLICY_KEYS - {"domains"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(_POLICY_KEYS)}")
    policy = base
    if "mode" in raw:
        try:
            policy = replace(policy, mode=GateMode(str(raw["mode"]).lower()))
        except ValueError:
            raise ConfigError(
                f"{where}.mode: {raw['mode']!r} is not strict, permissive or advisory"
            ) from None
    if "min_overall_score" in raw:
        score = _number(raw["min_overall_score"], f"{where}.min_overall_score")
        if not 0 <= score <= 100:
            raise ConfigError(f"{where}.min_overall_score: {score} is outside 0-100")
        policy = replace(policy, min_overall_score=score)
    if "critical_issues_threshold" in raw:
        policy = replace(
            policy,
            critical_issues_threshold=_count(
                raw["critical_issues_threshold"], where, "critical_issues_threshold"
            ),
        )
    if "allow_warnings" in raw:
        if not isinstance(raw["allow_warnings"], bool):
            raise ConfigError(f"{where}.allow_warnings: expected true or false")
        policy = replace(policy, allow_warnings=raw["allow_warnings"])
    if "max_warnings" in raw:
        value = raw["max_warnings"]
        policy = replace(policy, max_warnings=None if value is None else _count(value, where, "max_warnings"))
    return policy


def gate_settings_from(raw: Mapping[str, Any] | None) -> GateSettings:
    """GateSettings from the `quality_gate` mapping of the config file (None: built-in defaults)."""
    if raw is None:
        return GateSettings()
    if not isinstance(raw, Mapping):
        raise ConfigError("quality_gate: expected a mapping")
    default = policy_from(raw, GatePolicy(), "quality_gate")
    domains_raw = raw.get("domains") or {}
    if not isinstance(domains_raw, Mapping):
        raise ConfigError("quality_gate.domains: expected a mapping of domain -> overrides")
    domains: dict[str, GatePolicy] = {}
    for domain, overrides in domains_raw.items():
        if not isinstance(overrides, Mapping):
            raise ConfigError(f"quality_gate.domains.{domain}: expected a mapping")
        domains[str(domain)] = policy_from(overrides, default, f"quality_gate.domains.{domain}")
    return GateSettings(default=default, domains=domains)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    return float(value)


def _count(value: Any, where: str, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{where}.{key}: expected a non-negative integer, got {value!r}")
    return value
