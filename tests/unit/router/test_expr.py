"""The routing rules' condition language: parsing, evaluation, and refusing anything else."""

from __future__ import annotations

import pytest

from services.router.domain.expr import ExprError, compile_condition
from services.router.domain.facts import is_known_fact

FACTS = {
    "score": 82.5,
    "critical": 0,
    "warnings": 3,
    "codes": ("ER_TYPE_CHANGE", "SQL_SELECT_STAR"),
    "domain": "orders",
    "change_risk": "medium",
    "attempt": 2,
    "duplicate": False,
    "dimension.performance": 55.0,
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("score < 85", True),
        ("score >= 82.5 && critical == 0", True),
        ("score > 90 || warnings > 2", True),
        ("not duplicate and attempt == 2", True),
        ("!(score < 85)", False),
        ("'SQL_SELECT_STAR' in codes", True),
        ("'NOPE' not in codes", True),
        ("change_risk in ['medium', 'high']", True),
        ('domain == "orders" && dimension.performance < 60', True),
        ("dimension.missing < 60", False),  # null compares false
        ("dimension.missing == null", True),
        ("any_prefix(codes, 'ER_')", True),
        ("len(codes) == 2 and starts_with(domain, 'ord')", True),
        ("score == 82.5 and -1 < 0", True),
        ("true", True),
        ("'ord' in domain", True),
    ],
)
def test_conditions_evaluate(source: str, expected: bool) -> None:
    """It evaluates each condition to the expected boolean over the facts."""
    assert compile_condition(source, is_known_fact).evaluate(FACTS) is expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("__import__('os').system('id')", "unknown function"),
        ("score.__class__", "unknown fact"),
        ("scor < 85", "unknown fact"),
        ("score <", "unexpected"),
        ("score < 85 )", "unexpected"),
        ("score ; 1", "unexpected character"),
        ("(" * 40 + "true" + ")" * 40, "nested deeper"),
        ("x" * 2001, "longer than"),
        ("len(codes, codes)", "takes 1 argument"),
        ("'unterminated", "unexpected character"),
        ("", "non-empty"),
    ],
)
def test_bad_conditions_are_refused_at_compile_time(source: str, message: str) -> None:
    """It rejects code, unknown names, bad syntax and oversized input with a located error."""
    with pytest.raises(ExprError, match=message):
        compile_condition(source, is_known_fact)


@pytest.mark.parametrize(
    "source",
    ["score && true", "domain < 5", "'x' in score", "score"],
)
def test_type_errors_raise_when_evaluated(source: str) -> None:
    """It refuses to guess: mixing types is an ExprError, not a silent truthy value."""
    condition = compile_condition(source, is_known_fact)
    with pytest.raises(ExprError):
        condition.evaluate(FACTS)
