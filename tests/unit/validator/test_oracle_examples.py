"""The oracle (services.validator.domain.oracle) computes every example case's expected rows.

Every case of every example under examples/ and every fixture request under
tests/fixtures/requests/ is interpreted from the spec alone (no Flink, no SQL) and compared with
the case's expected rows by the validator's own comparison (values.compare_rows). A case the
oracle cannot judge must name its construct in UNJUDGED, and that list stays short.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from oracle_support import NAMES, example_spec, fixture_spec

from services.flinksql.spec import RequestSpec
from services.validator.domain.oracle import Unsupported, judge_case

# (request, case) -> the construct the oracle does not interpret; empty: every case is judged.
UNJUDGED: dict[tuple[str, str], str] = {}

SOURCES: dict[str, Callable[[str], RequestSpec]] = {"examples": example_spec, "fixtures": fixture_spec}


def _cases() -> list[tuple[str, str, str]]:
    return [
        (source, name, case.name)
        for source, load in SOURCES.items()
        for name in NAMES
        for case in load(name).cases
    ]


@pytest.mark.parametrize(("source", "name", "case_name"), _cases())
def test_oracle_rows_equal_the_expected_rows(source: str, name: str, case_name: str) -> None:
    """It computes the case's expected rows exactly (as a multiset, §8 normalisation)."""
    spec = SOURCES[source](name)
    case = next(c for c in spec.cases if c.name == case_name)
    try:
        diff = judge_case(spec, case)
    except Unsupported as err:
        assert (name, case_name) in UNJUDGED, f"{name}/{case_name}: the oracle cannot judge {err.construct}"
        assert UNJUDGED[(name, case_name)] == err.construct
        return
    assert (name, case_name) not in UNJUDGED, "a case listed as unjudged is judged now: unlist it"
    assert diff.equal, f"{name}/{case_name}: missing {diff.missing}, unexpected {diff.unexpected}"


def test_every_request_carries_cases_and_few_are_unjudged() -> None:
    """It judges at least one case per request; the unjudged ones are rare."""
    cases = _cases()
    for name in NAMES:
        assert any(n == name for _, n, _ in cases)
    assert len(UNJUDGED) * 10 <= len(cases)
