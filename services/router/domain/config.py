"""The router's configuration document (config/gate.yaml), with every default built in.

Accepts the router's own shape and seed 000's `workflow:` document (§5.1.2) alike:

    quality_gate:            # or workflow.quality_gate
      mode: strict           # strict | permissive | advisory
      min_overall_score: 85
      critical_issues_threshold: 0
      allow_warnings: true
      max_warnings: null
      domains:
        payments: {min_overall_score: 90}
    routing:
      default_route: regenerate
      rules: [...]           # see services.router.domain.rules
    repair:
      max_attempts: 2        # or workflow.global.max_retries_per_phase
      without_llm: review    # review | reject
    upgrades:
      state_drop: review     # review | approve: an upgrade that must drop state (docs/operations.md)
    timeouts:                # or workflow.global.workflow_timeout_minutes + workflow.phases.*
      workflow_minutes: 15
      review_minutes: 1440
      phases: {ingest: 5, generate: 5, validate: 8, knowledge: 5, start: 10}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.mesh.events import Decision
from services.router.domain.decide import RoutingConfig
from services.router.domain.gate import ConfigError, gate_settings_from
from services.router.domain.repair import repair_policy_from
from services.router.domain.rules import parse_route, rules_from

# seed 000 phase names -> the router's phases
_SEED_PHASES = {"sql_generation": "generate", "data_validation": "validate", "er_knowledge_base": "knowledge"}
PHASES = ("ingest", "generate", "validate", "gate", "knowledge", "start")
DEFAULT_PHASE_MINUTES: dict[str, float] = {
    "ingest": 5,
    "generate": 5,
    "validate": 8,
    "gate": 5,
    "knowledge": 5,
    "start": 10,
}


@dataclass(frozen=True, slots=True)
class Timeouts:
    workflow_minutes: float = 15
    review_minutes: float = 1440
    phase_minutes: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_PHASE_MINUTES))


@dataclass(frozen=True, slots=True)
class RouterConfig:
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    timeouts: Timeouts = field(default_factory=Timeouts)


def config_from(raw: Mapping[str, Any] | None) -> RouterConfig:
    """The configuration from a parsed YAML document; None or {} gives the defaults."""
    if not raw:
        return RouterConfig()
    if not isinstance(raw, Mapping):
        raise ConfigError("the router configuration must be a mapping")
    doc = dict(raw)
    seed = doc.pop("workflow", None)
    glob: Mapping[str, Any] = {}
    seed_phases: Mapping[str, Any] = {}
    if seed is not None:
        if not isinstance(seed, Mapping):
            raise ConfigError("workflow: expected a mapping")
        doc.setdefault("quality_gate", seed.get("quality_gate"))
        glob = seed.get("global") or {}
        seed_phases = seed.get("phases") or {}
    known = {"quality_gate", "routing", "repair", "timeouts", "upgrades"}
    unknown = set(doc) - known
    if unknown:
        raise ConfigError(
            f"unknown top-level key(s) {sorted(unknown)}; known: {sorted(known | {'workflow'})}"
        )
    routing_raw = doc.get("routing") or {}
    if not isinstance(routing_raw, Mapping):
        raise ConfigError("routing: expected a mapping")
    retries = glob.get("max_retries_per_phase")
    routing = RoutingConfig(
        gate=gate_settings_from(doc.get("quality_gate")),
        rules=rules_from(routing_raw.get("rules")),
        repair=repair_policy_from(
            doc.get("repair"), max_retries_per_phase=retries if isinstance(retries, int) else None
        ),
        default_route=parse_route(routing_raw.get("default_route", "regenerate"), "routing.default_route"),
        state_drop=_state_drop(doc.get("upgrades")),
    )
    return RouterConfig(routing=routing, timeouts=_timeouts(doc.get("timeouts"), glob, seed_phases))


def _state_drop(raw: Any) -> Decision:
    """`upgrades.state_drop`: review (default) or approve."""
    if raw is None:
        return Decision.REVIEW
    if not isinstance(raw, Mapping):
        raise ConfigError("upgrades: expected a mapping")
    unknown = set(raw) - {"state_drop"}
    if unknown:
        raise ConfigError(f"upgrades: unknown key(s) {sorted(unknown)}")
    route = parse_route(raw.get("state_drop", "review"), "upgrades.state_drop")
    if route not in (Decision.REVIEW, Decision.APPROVED):
        raise ConfigError(f"upgrades.state_drop: {route.value} is not one of review, approve")
    return route


def _minutes(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"{where}: expected a positive number of minutes, got {value!r}")
    return float(value)


def _timeouts(raw: Any, glob: Mapping[str, Any], seed_phases: Mapping[str, Any]) -> Timeouts:
    phases = dict(DEFAULT_PHASE_MINUTES)
    workflow = 15.0
    review = 1440.0
    if "workflow_timeout_minutes" in glob:
        workflow = _minutes(glob["workflow_timeout_minutes"], "workflow.global.workflow_timeout_minutes")
    for seed_name, phase in _SEED_PHASES.items():
        entry = seed_phases.get(seed_name)
        if isinstance(entry, Mapping) and "timeout_minutes" in entry:
            phases[phase] = _minutes(entry["timeout_minutes"], f"workflow.phases.{seed_name}.timeout_minutes")
    if raw is not None:
        if not isinstance(raw, Mapping):
            raise ConfigError("timeouts: expected a mapping")
        unknown = set(raw) - {"workflow_minutes", "review_minutes", "phases"}
        if unknown:
            raise ConfigError(f"timeouts: unknown key(s) {sorted(unknown)}")
        if "workflow_minutes" in raw:
            workflow = _minutes(raw["workflow_minutes"], "timeouts.workflow_minutes")
        if "review_minutes" in raw:
            review = _minutes(raw["review_minutes"], "timeouts.review_minutes")
        for name, value in (raw.get("phases") or {}).items():
            if name not in PHASES:
                raise ConfigError(f"timeouts.phases.{name}: unknown phase; known: {list(PHASES)}")
            phases[name] = _minutes(value, f"timeouts.phases.{name}")
    return Timeouts(workflow_minutes=workflow, review_minutes=review, phase_minutes=phases)
