"""Table-driven gate and routing: modes, thresholds, rule order, the LLM deciding, failing or absent."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from services.mesh.events import DecidedBy, Decision, GateMode
from services.router.domain.config import config_from
from services.router.domain.decide import (
    Classification,
    ClassifierError,
    LlmCall,
    RoutingConfig,
    decide,
)
from services.router.domain.expr import Value
from services.router.domain.facts import FindingFact, RunFacts
from services.router.domain.gate import ConfigError, GateInput, GatePolicy, GateSettings, evaluate_gate
from services.router.domain.repair import RepairPolicy
from services.router.domain.rules import rules_from
from services.router.domain.upgrade import UpgradeCheck, Verdict

A, RV, RG, RJ = Decision.APPROVED, Decision.REVIEW, Decision.REGENERATE, Decision.REJECTED


@pytest.mark.parametrize(
    ("policy", "run", "passed", "blocks"),
    [
        (GatePolicy(), GateInput(score=85, critical=0, warnings=0), True, False),
        (GatePolicy(), GateInput(score=84.9, critical=0, warnings=0), False, True),
        (GatePolicy(), GateInput(score=99, critical=1, warnings=0), False, True),
        (GatePolicy(critical_issues_threshold=1), GateInput(score=99, critical=1, warnings=0), True, False),
        (GatePolicy(allow_warnings=False), GateInput(score=99, critical=0, warnings=1), False, True),
        (GatePolicy(max_warnings=2), GateInput(score=99, critical=0, warnings=3), False, True),
        (GatePolicy(max_warnings=2), GateInput(score=99, critical=0, warnings=2), True, False),
        (GatePolicy(), GateInput(score=99, critical=0, warnings=0, provisional=True), False, True),
        # permissive: only Critical/provisional block rules and the LLM
        (GatePolicy(mode=GateMode.PERMISSIVE), GateInput(score=70, critical=0, warnings=0), False, False),
        (GatePolicy(mode=GateMode.PERMISSIVE), GateInput(score=99, critical=2, warnings=0), False, True),
        # advisory never blocks
        (GatePolicy(mode=GateMode.ADVISORY), GateInput(score=10, critical=5, warnings=9), False, False),
    ],
)
def test_gate_verdicts(policy: GatePolicy, run: GateInput, passed: bool, blocks: bool) -> None:
    """It passes exactly the runs that meet every requirement, and blocks approval by mode."""
    verdict = evaluate_gate(run, policy)
    assert verdict.passed is passed
    assert verdict.blocks_approval() is blocks
    assert bool(verdict.blockers) is not passed


def facts(
    score: float = 92, critical: int = 0, warnings: int = 0, attempt: int = 1, **kw: object
) -> RunFacts:
    return RunFacts(
        score=score, critical=critical, warnings=warnings, infos=0, domain="orders", attempt=attempt, **kw
    )  # type: ignore[arg-type]


def config(
    mode: str = "strict", rules: list[dict[str, object]] | None = None, **extra: object
) -> RoutingConfig:
    doc: dict[str, object] = {"quality_gate": {"mode": mode}, "routing": {"rules": rules or []}, **extra}
    return config_from(doc).routing


class FakeClassifier:
    def __init__(self, route: Decision | None, *, fail: bool = False) -> None:
        self.route = route
        self.fail = fail
        self.seen: list[Mapping[str, Value]] = []

    async def classify(self, facts: Mapping[str, Value], allowed: tuple[Decision, ...]) -> Classification:
        self.seen.append(facts)
        if self.fail:
            raise ClassifierError("timeout", LlmCall(model="fake", ok=False))
        assert self.route is not None
        return Classification(
            self.route, "looks fine", LlmCall(model="fake", prompt_tokens=10, completion_tokens=5)
        )


RULES = [
    {"name": "dup", "priority": 1, "when": "duplicate", "route": "reject", "reason": "already deployed"},
    {
        "name": "slow",
        "priority": 5,
        "when": "dimension.data_accuracy < 50",
        "route": "review",
        "reason": "accuracy",
    },
    {"name": "approve_all", "priority": 9, "when": "true", "route": "approve", "reason": "yolo"},
]


@pytest.mark.parametrize(
    ("name", "cfg", "run", "classifier", "expected", "by"),
    [
        ("gate passes", config(), facts(), None, A, DecidedBy.GATE),
        ("strict: below min, no llm repair -> review", config(), facts(score=80), None, RV, DecidedBy.GATE),
        (
            "strict: below min, llm repair -> regenerate",
            config(),
            facts(score=80, llm_repair=True),
            None,
            RG,
            DecidedBy.GATE,
        ),
        (
            "strict: repair budget spent -> review",
            config(),
            facts(score=80, llm_repair=True, attempt=3),
            None,
            RV,
            DecidedBy.GATE,
        ),
        (
            "without_llm: reject",
            config(repair={"without_llm": "reject"}),
            facts(score=80),
            None,
            RJ,
            DecidedBy.GATE,
        ),
        (
            "strict: a rule cannot approve below min",
            config(rules=RULES),
            facts(score=80),
            None,
            RV,
            DecidedBy.RULE,
        ),
        (
            "permissive: a rule may approve below min",
            config("permissive", RULES),
            facts(score=80),
            None,
            A,
            DecidedBy.RULE,
        ),
        (
            "permissive: never with a Critical",
            config("permissive", RULES),
            facts(score=95, critical=1),
            None,
            RV,
            DecidedBy.RULE,
        ),
        (
            "advisory: approve a failing run",
            config("advisory"),
            facts(score=30, critical=2),
            None,
            A,
            DecidedBy.GATE,
        ),
        ("rule order: priority 1 wins", config(rules=RULES), facts(duplicate=True), None, RJ, DecidedBy.RULE),
        (
            "rule order: dimension rule before approve_all",
            config(rules=RULES),
            facts(dimensions={"Data Accuracy": 40.0}),
            None,
            RV,
            DecidedBy.RULE,
        ),
        ("llm decides reject", config(), facts(score=60), FakeClassifier(RJ), RJ, DecidedBy.LLM),
        (
            "llm fails -> default route",
            config(),
            facts(score=60),
            FakeClassifier(None, fail=True),
            RV,
            DecidedBy.GATE,
        ),
        (
            "strict: llm approve is not offered/allowed",
            config(),
            facts(score=60),
            FakeClassifier(A),
            RV,
            DecidedBy.GATE,
        ),
        (
            "permissive: llm may approve",
            config("permissive"),
            facts(score=60),
            FakeClassifier(A),
            A,
            DecidedBy.LLM,
        ),
        ("passing run never asks the llm", config(), facts(score=99), FakeClassifier(RJ), A, DecidedBy.GATE),
    ],
)
async def test_routing_table(
    name: str,
    cfg: RoutingConfig,
    run: RunFacts,
    classifier: FakeClassifier | None,
    expected: Decision,
    by: DecidedBy,
) -> None:
    """It routes each case as the table says, and names the decider."""
    result = await decide(run, cfg, classifier)
    assert (result.decision, result.decided_by) == (expected, by), (name, result.reason)
    assert result.reason


async def test_strict_approval_guard_explains_itself() -> None:
    """It says which requirement stopped a rule's approval in strict mode."""
    result = await decide(facts(score=70), config(rules=RULES), None)
    assert result.rule == "approve_all" and result.decision is RV
    assert "strict gate forbids approval" in result.reason and "score 70 < minimum 85" in result.reason


async def test_rule_with_type_error_is_skipped_and_reported() -> None:
    """It skips a rule whose condition meets a type error and reports it with the decision."""
    cfg = config(rules=[{"name": "bad", "when": "domain > 3", "route": "reject"}])
    result = await decide(facts(), cfg, None)
    assert result.decision is A and result.rule_errors and "bad" in result.rule_errors[0]


def test_per_domain_overrides_and_seed_document() -> None:
    """It reads seed 000's workflow document and per-domain overrides."""
    cfg = config_from(
        {
            "workflow": {
                "global": {"workflow_timeout_minutes": 20, "max_retries_per_phase": 1},
                "quality_gate": {
                    "mode": "permissive",
                    "min_overall_score": 80,
                    "allow_warnings": False,
                    "critical_issues_threshold": 0,
                    "domains": {"payments": {"min_overall_score": 95}},
                },
                "phases": {"data_validation": {"timeout_minutes": 3}},
            }
        }
    )
    gate: GateSettings = cfg.routing.gate
    assert gate.policy_for("orders").min_overall_score == 80
    assert gate.policy_for("payments").min_overall_score == 95
    assert gate.policy_for("payments").mode is GateMode.PERMISSIVE
    assert cfg.routing.repair == RepairPolicy(max_attempts=1)
    assert cfg.timeouts.workflow_minutes == 20 and cfg.timeouts.phase_minutes["validate"] == 3


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"quality_gate": {"mode": "lenient"}}, "strict, permissive or advisory"),
        ({"quality_gate": {"min_overall_score": 120}}, "outside 0-100"),
        ({"routing": {"rules": [{"when": "scor > 1", "route": "approve"}]}}, "unknown fact"),
        ({"routing": {"rules": [{"when": "true", "route": "deploy"}]}}, "not one of"),
        ({"gate": {}}, "unknown top-level"),
    ],
)
def test_bad_config_fails_loudly(doc: dict[str, object], message: str) -> None:
    """It names the offending key instead of running with a half-understood config."""
    with pytest.raises(ConfigError, match=message):
        config_from(doc)


def test_rules_keep_file_order_on_equal_priority() -> None:
    """It tries rules by priority, then in file order."""
    rules = rules_from(
        [
            {"name": "b", "priority": 5, "when": "true", "route": "review"},
            {"name": "a", "priority": 5, "when": "true", "route": "reject"},
            {"name": "c", "priority": 1, "when": "false", "route": "reject"},
        ]
    )
    assert [r.name for r in rules.rules] == ["c", "b", "a"]
    match = rules.first_match({}).match
    assert match is not None and match.rule.name == "b"


def test_change_risk_from_conflict_findings() -> None:
    """It derives change risk from knowledge-conflict findings only."""
    low = facts(findings=(FindingFact("SQL_STAR", "critical", "sql_standards"),))
    high = facts(findings=(FindingFact("ER_TYPE_NARROWED", "critical", "business_compliance"),))
    assert low.change_risk == "none" and high.change_risk == "high"


INCOMPATIBLE = UpgradeCheck(
    Verdict.INCOMPATIBLE,
    "state of revision 1 cannot be restored into the new job (GroupAggregate[4]: its key changed)",
    incompatible=("GroupAggregate[4] (GroupAggregate(groupBy=[k])) -> GroupAggregate[4]: its key changed",),
)
DROP = UpgradeCheck(
    Verdict.DROP,
    "state of revision 1 must be dropped (GroupAggregate[4]: groupAggregateState is lost)",
    lost=("GroupAggregate[4]: groupAggregateState is lost", "Source: src[1]: its read positions are lost"),
)


async def test_an_incompatible_upgrade_goes_to_review_whatever_approved_it() -> None:
    """It turns the gate's and a rule's approval of an upgrade that cannot keep its state into a
    review that says why; the fact is there for rules."""
    for cfg in (config(), config(rules=[{"name": "yes", "when": "true", "route": "approve"}])):
        result = await decide(facts(upgrade="incompatible"), cfg, None, INCOMPATIBLE)
        assert result.decision is RV, result.reason
        assert "cannot be restored" in result.reason and "its key changed" in result.reason
    rule = [{"name": "no_drops", "when": "upgrade == 'drop'", "route": "reject", "reason": "no drops here"}]
    assert (await decide(facts(upgrade="drop"), config(rules=rule), None, DROP)).decision is RJ


async def test_a_state_drop_is_reviewed_unless_configured_to_be_approved() -> None:
    """It sends an upgrade that drops state to review by default, naming the loss; with
    upgrades.state_drop: approve it approves and records the loss in the reason."""
    reviewed = await decide(facts(upgrade="drop"), config(), None, DROP)
    assert reviewed.decision is RV and "groupAggregateState is lost" in reviewed.reason
    assert "[all 2: " in reviewed.reason and "its read positions are lost" in reviewed.reason
    approved = await decide(facts(upgrade="drop"), config(upgrades={"state_drop": "approve"}), None, DROP)
    assert (
        approved.decision is A
        and "must be dropped" in approved.reason
        and "state_drop: approve" in approved.reason
    )
    compatible = UpgradeCheck(Verdict.COMPATIBLE, "maps completely")
    assert (await decide(facts(upgrade="compatible"), config(), None, compatible)).decision is A
    failing = await decide(
        facts(score=20, upgrade="incompatible", llm_repair=True), config(), None, INCOMPATIBLE
    )
    assert failing.decision is RG  # a regenerate is not an approval: nothing starts yet


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"upgrades": {"state_drop": "reject"}}, "not one of review, approve"),
        ({"upgrades": {"drop": "approve"}}, "unknown key"),
        ({"upgrades": "approve"}, "expected a mapping"),
    ],
)
def test_bad_upgrade_config_fails_loudly(doc: dict[str, object], message: str) -> None:
    """It refuses an upgrades section it does not understand."""
    with pytest.raises(ConfigError, match=message):
        config_from(doc)
