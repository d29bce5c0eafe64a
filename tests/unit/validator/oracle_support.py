"""Shared helpers of the oracle's unit tests: the example specs and spec edits (test doubles)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from services.flinksql.expr_parse import parse_expression
from services.flinksql.spec import Expression, Mapping, RequestSpec
from services.ingest.domain.checks import check_document

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "requests"
EXAMPLES = ROOT / "examples"
NAMES = ("orders", "payments", "user-activity")


def _checked(text: str, cases: str | None) -> RequestSpec:
    result = check_document(text, cases_text=cases)
    assert result.errors == [], [e.render() for e in result.errors]
    assert result.spec is not None
    return result.spec


@cache
def fixture_spec(name: str) -> RequestSpec:
    """A fixture request under tests/fixtures/requests with its `<name>.cases.yaml`."""
    text = (FIXTURES / f"{name}-request-v3.md").read_text(encoding="utf-8")
    return _checked(text, (FIXTURES / f"{name}.cases.yaml").read_text(encoding="utf-8"))


@cache
def example_spec(name: str) -> RequestSpec:
    """An example under examples/<name>/ with its `cases.yaml`."""
    text = (EXAMPLES / name / f"{name}-request-v3.md").read_text(encoding="utf-8")
    return _checked(text, (EXAMPLES / name / "cases.yaml").read_text(encoding="utf-8"))


def expression(text: str) -> Expression:
    return Expression(text=text, ast=parse_expression(text), line=1)


def remap(spec: RequestSpec, column: str, text: str) -> RequestSpec:
    """The spec with one result column mapped to another expression."""
    mappings = tuple(
        m.model_copy(update={"expression": expression(text)}) if m.column == column else m
        for m in spec.mappings
    )
    assert any(m.column == column for m in spec.mappings), column
    return spec.model_copy(update={"mappings": mappings})


__all__ = ["NAMES", "Mapping", "example_spec", "expression", "fixture_spec", "remap"]
