"""Over the event budget the spec-derived data keeps the most telling inputs: the typical
events, the events of another domain and event type (the job's most basic filter), then every
filter and rule boundary and every join miss, NULL key and join-condition boundary, before
CASE branches, repeats, NULL fields and type edges."""

from __future__ import annotations

import pytest
from oracle_support import NAMES, fixture_spec

from services.validator.domain.oracle.datagen import _Generator, derive_data

BASIC = ("another event type", "another domain")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("budget", [10, 20, 30])
def test_domain_and_event_type_inputs_survive_any_budget(name: str, budget: int) -> None:
    data = derive_data(fixture_spec(name), max_events=budget)
    for basic in BASIC:
        assert any(p.startswith(basic) for p in data.purposes), (basic, data.dropped)
        assert not any(d.startswith(basic) for d in data.dropped)


@pytest.mark.parametrize("name", NAMES)
def test_boundaries_and_joins_are_kept_before_lower_value_inputs(name: str) -> None:
    plans = {p.purpose: p.tier for p in _Generator(fixture_spec(name), 0).plans()}

    def tier_of(purpose: str) -> int:  # an event's purpose starts with its plan's (then "; " merged ones)
        return plans[max((p for p in plans if purpose.startswith(p)), key=len)]

    full = derive_data(fixture_spec(name), max_events=1000)
    first = full.purposes
    tiers = {p: tier_of(p) for p in first}
    assert {tiers[p] for p in first} >= {0, 1, 2, 3}  # the spec has every kind, so the order matters
    # a budget just big enough for the typical events, the basic two and every boundary/join input
    budget = sum(tiers[p] <= 1 for p in first)
    data = derive_data(fixture_spec(name), max_events=budget)
    assert [p for p in first if tiers[p] <= 1] == list(data.purposes)
    assert all(tier_of(d.split(": over the budget")[0]) >= 2 for d in data.dropped if "over the budget" in d)
