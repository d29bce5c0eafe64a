"""The score: documented, reproducible, and explained by the points each finding cost.

    points_lost(f)  = the rule's points (configurable), except that the findings of one rule
                      together lose at most the rule's cap; findings are charged in a fixed
                      order (severity, then as found), so the same findings give the same points
    dimension score = max(0, 100 - Σ points_lost of the findings in that dimension)
    total           = Σ weight(d) × score(d), weights 0.25 / 0.35 / 0.20 / 0.20 (seed 000)
    grade           = EXCELLENT ≥ 90 > GOOD ≥ 80 > FAIR ≥ 60 > POOR
    strict gate     = total ≥ 85 and no Critical finding

Scores are rounded to one decimal place after summing, never before.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.validator.domain.model import (
    DIMENSIONS,
    SEVERITY_ORDER,
    WEIGHTS,
    DimensionName,
    DimensionResult,
    Finding,
    Language,
)
from services.validator.domain.rules import Rule

GATE_MIN_SCORE = 85.0

TITLES: dict[DimensionName, tuple[str, str]] = {
    "sql_standards": ("SQL standards", "SQL标准性"),
    "data_accuracy": ("Data accuracy", "数据准确性"),
    "performance": ("Performance", "性能表现"),
    "business_compliance": ("Business compliance", "业务合规性"),
}


def grade(score: float) -> str:
    if score >= 90:
        return "EXCELLENT"
    if score >= 80:
        return "GOOD"
    if score >= 60:
        return "FAIR"
    return "POOR"


def charge(findings: Sequence[Finding], rules: Mapping[str, Rule]) -> list[Finding]:
    """The findings in report order (severity, then as found), with caps applied to points_lost."""
    ordered = sorted(enumerate(findings), key=lambda p: (SEVERITY_ORDER[p[1].severity], p[0]))
    used: dict[str, float] = {}
    out: list[Finding] = []
    for _, f in ordered:
        rule = rules.get(f.code)
        points = f.points_lost
        if rule is not None and rule.cap is not None:
            points = max(0.0, min(points, rule.cap - used.get(f.code, 0.0)))
        used[f.code] = used.get(f.code, 0.0) + points
        out.append(f.model_copy(update={"points_lost": points}))
    return out


@dataclass(frozen=True, slots=True)
class Score:
    dimensions: tuple[DimensionResult, ...]
    total: float
    grade: str
    gate_passed: bool
    critical: int
    warning: int
    info: int


def score(
    findings: Sequence[Finding],
    runs: Mapping[str, int],
    rules: Mapping[str, Rule],
    language: Language = "en",
) -> Score:
    """Score already-charged findings; `runs` counts the check instances per rule."""
    dims: list[DimensionResult] = []
    total = 0.0
    for name in DIMENSIONS:
        lost = sum(f.points_lost for f in findings if f.dimension == name)
        value = max(0.0, 100.0 - lost)
        checks = sum(
            n for rule_id, n in runs.items() if rule_id in rules and rules[rule_id].dimension == name
        )
        failed = sum(1 for f in findings if f.dimension == name)
        passed = max(0, checks - failed)
        weight = WEIGHTS[name]
        title = TITLES[name][1 if language == "zh" else 0]
        summary = (
            f"{failed} 个问题, 扣 {lost:g} 分; {passed}/{checks} 项检查通过"
            if language == "zh"
            else f"{failed} finding(s), {lost:g} point(s) lost; {passed}/{checks} checks passed"
        )
        dims.append(
            DimensionResult(
                name=name,
                title=title,
                score=round(value, 1),
                weight=weight,
                weighted=round(weight * value, 2),
                grade=grade(value),
                checks_total=checks,
                checks_passed=passed,
                summary=summary,
            )
        )
        total += weight * value
    total = round(total, 1)
    counts = Counter(f.severity for f in findings)
    return Score(
        dimensions=tuple(dims),
        total=total,
        grade=grade(total),
        gate_passed=total >= GATE_MIN_SCORE and counts["critical"] == 0,
        critical=counts["critical"],
        warning=counts["warning"],
        info=counts["info"],
    )
