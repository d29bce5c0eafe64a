"""The score formula: per-dimension deductions, caps, weights, grades and the strict gate."""

from __future__ import annotations

import pytest

from services.validator.domain.model import Finding
from services.validator.domain.rules import RULES, RuleConfig
from services.validator.domain.score import charge, grade, score


def _finding(code: str, severity: str | None = None) -> Finding:
    rule = RULES[code]
    return Finding(
        code=code,
        severity=severity or rule.severity,  # type: ignore[arg-type]
        dimension=rule.dimension,
        message="m",
        points_lost=rule.points,
    )


def test_no_findings_scores_100_and_passes() -> None:
    """It gives 100 in every dimension and passes the gate when nothing is found."""
    result = score([], {"sql.engine_rejected": 3}, RULES)
    assert result.total == 100.0 and result.gate_passed and result.grade == "EXCELLENT"
    assert [d.score for d in result.dimensions] == [100.0] * 4
    assert [d.weight for d in result.dimensions] == [0.25, 0.35, 0.20, 0.20]


def test_total_is_the_weighted_sum_of_dimension_deductions() -> None:
    """It subtracts each finding's points from its dimension and weights the dimensions."""
    findings = charge([_finding("perf.lookup_cache_missing"), _finding("accuracy.cast_missing")], RULES)
    result = score(findings, {}, RULES)
    by_name = {d.name: d.score for d in result.dimensions}
    assert by_name == {
        "sql_standards": 100.0,
        "data_accuracy": 85.0,
        "performance": 90.0,
        "business_compliance": 100.0,
    }
    assert result.gate_passed  # 92.75 -> 92.8, warnings only
    assert result.total == 92.8


def test_a_critical_finding_fails_the_gate_even_with_a_high_total() -> None:
    """It fails the strict gate on any Critical finding, whatever the total."""
    findings = charge([_finding("sql.credentials_in_ddl")], RULES)
    result = score(findings, {}, RULES)
    assert result.total == pytest.approx(92.5)
    assert result.critical == 1 and not result.gate_passed


def test_low_total_fails_the_gate_without_criticals() -> None:
    """It fails the gate when the total is under 85, even with warnings only."""
    findings = charge(
        [_finding("accuracy.cast_missing")] * 3 + [_finding("accuracy.mapping_mismatch")] * 3, RULES
    )
    result = score(findings, {}, RULES)
    assert result.critical == 0 and result.total < 85 and not result.gate_passed


def test_caps_limit_one_rules_points_and_dimensions_floor_at_zero() -> None:
    """It stops charging a capped rule at its cap, and never scores a dimension below 0."""
    findings = charge([_finding("perf.repeated_json_parse")] * 5, RULES)
    assert [f.points_lost for f in findings] == [5, 5, 5, 0, 0]
    many = charge([_finding("accuracy.case_failed")] * 6, RULES)
    result = score(many, {}, RULES)
    assert next(d for d in result.dimensions if d.name == "data_accuracy").score == 0.0
    assert result.total == 65.0


def test_charging_is_reproducible_and_orders_by_severity() -> None:
    """It charges findings in severity order, so the same findings always give the same report."""
    a = [_finding("sql.naming_convention"), _finding("sql.engine_rejected"), _finding("sql.select_star")]
    first, second = charge(a, RULES), charge(list(a), RULES)
    assert first == second
    assert [f.severity for f in first] == ["critical", "warning", "info"]


@pytest.mark.parametrize(
    ("value", "label"),
    [(100, "EXCELLENT"), (90, "EXCELLENT"), (89.9, "GOOD"), (80, "GOOD"), (60, "FAIR"), (59.9, "POOR")],
)
def test_grades(value: float, label: str) -> None:
    """It grades by the documented thresholds."""
    assert grade(value) == label


def test_rule_config_turns_rules_off_changes_severity_and_versions() -> None:
    """It applies global then per-domain overrides, and records a versioned rule set."""
    config = RuleConfig.from_mapping(
        {
            "rules": {
                "perf.parallelism_unset": "off",
                "sql.select_star": {"severity": "critical", "points": 30},
            },
            "domains": {
                "payments": {"compliance.sensitive_unmasked": "critical", "perf.parallelism_unset": "on"}
            },
        }
    )
    orders, payments = config.resolve("orders"), config.resolve("payments")
    assert "perf.parallelism_unset" not in orders and "perf.parallelism_unset" in payments
    assert orders["sql.select_star"].severity == "critical" and orders["sql.select_star"].points == 30
    assert payments["compliance.sensitive_unmasked"].severity == "critical"
    assert orders["compliance.sensitive_unmasked"].severity == "warning"
    assert (
        config.version().startswith("sw-rules-1.5+cfg.") and RuleConfig.default().version() == "sw-rules-1.5"
    )
    with pytest.raises(ValueError, match="unknown rule"):
        RuleConfig.from_mapping({"rules": {"no.such_rule": "off"}})
