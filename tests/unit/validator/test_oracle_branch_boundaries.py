"""Boundaries of predicates that decide only inside a CASE or IF branch (oracle datagen).

A bound inside `CASE payload.sensorType WHEN 'TEMP' THEN payload.reading BETWEEN -40 AND ...`
only matters on events that take that branch: the derived inputs at and beside it must also
satisfy the branch's WHEN (and no earlier WHEN), or every wrong bound gives the same rows. The
request is the testers' IoT one (a CASE business rule, a LEFT join with a condition, aggregates).
"""

from __future__ import annotations

import pytest
from iot_request import iot_spec
from oracle_support import expression, remap

from services.flinksql.spec import RequestSpec
from services.validator.domain.oracle import DerivedData, derive_data, interpret
from services.validator.domain.values import compare_rows

RULE = """CASE payload.sensorType
  WHEN 'TEMP' THEN payload.reading BETWEEN -40 AND COALESCE(dim1.max_temp, 125)
  WHEN 'HUM' THEN payload.reading BETWEEN 0 AND 100
  ELSE TRUE
END"""


def _spec() -> RequestSpec:
    return iot_spec()


def _with_rule(spec: RequestSpec, name: str, text: str) -> RequestSpec:
    rules = tuple(
        r.model_copy(update={"condition": expression(text)}) if r.name == name else r
        for r in spec.business_rules
    )
    return spec.model_copy(update={"business_rules": rules})


def _with_filter(spec: RequestSpec, text: str) -> RequestSpec:
    return spec.model_copy(update={"filters": (*spec.filters, expression(text))})


def _differs(spec: RequestSpec, other: RequestSpec, data: DerivedData) -> bool:
    columns = [(c.name, c.type) for c in spec.result.columns]
    mine = interpret(spec, data.events, data.dimensions)
    theirs = interpret(other, data.events, data.dimensions)
    return not compare_rows(mine, theirs, columns).equal


def _segments(data: DerivedData) -> list[str]:
    return [part for p in data.purposes for part in p.split("; ")]


def test_the_rule_is_as_the_testers_wrote_it() -> None:
    assert _spec().business_rules[0].condition.text.split() == RULE.split()


@pytest.mark.parametrize(
    ("mutant", "old", "new"),
    [
        ("c_temp_low", "BETWEEN -40", "BETWEEN -50"),
        ("b_temp_fixed_max", "COALESCE(dim1.max_temp, 125)", "125"),
        ("j_max_temp_swap", "COALESCE(dim1.max_temp, 125)", "COALESCE(dim1.max_temp, 100)"),
        ("h_hum_open", "payload.reading BETWEEN 0 AND 100", "payload.reading > 0 AND payload.reading < 100"),
    ],
)
def test_a_wrong_bound_inside_a_case_branch_changes_the_rows(mutant: str, old: str, new: str) -> None:
    """The four jobs the testers found passing (0 differences): each bound of the rule's TEMP and
    HUM branches, changed, gives other rows on the spec-derived data."""
    spec = _spec()
    data = derive_data(spec)
    assert old in RULE, mutant
    wrong = _with_rule(spec, "plausible_reading", RULE.replace(old, new))
    assert _differs(spec, wrong, data), mutant


def test_inputs_at_a_branch_bound_take_the_branch_and_say_so() -> None:
    """Each input at or beside the TEMP bounds has sensorType 'TEMP' and says so in its purpose
    (`…, where payload.sensorType = 'TEMP': fails`), keeping the wording the compliance checks read."""
    data = derive_data(_spec())
    title = "rule plausible_reading ("
    below = [
        (e, p)
        for e, p in zip(data.events, data.purposes, strict=True)
        for s in p.split("; ")
        if s.startswith(title) and "below the low end (payload.reading = -40.001)" in s
    ]
    assert below, data.purposes
    event, purpose = below[0]
    assert event["payload"]["sensorType"] == "TEMP"  # type: ignore[index]
    assert "(payload.reading = -40.001), where payload.sensorType = 'TEMP': fails" in purpose
    humid = [s for s in _segments(data) if s.startswith(title) and "where payload.sensorType = 'HUM'" in s]
    assert any(s.endswith(": fails") for s in humid) and any(s.endswith(": holds") for s in humid)


def test_a_bound_read_from_a_column_with_a_fallback_is_met_both_ways() -> None:
    """`reading <= COALESCE(dim1.max_temp, 125)`: inputs at and above the dimension's value, and
    at and above 125 where max_temp is NULL."""
    segments = _segments(derive_data(_spec()))
    assert any(
        "(payload.reading = dim1.max_temp + 1 unit), where" in s and s.endswith(": fails") for s in segments
    )
    assert any(
        "(payload.reading = 125.0, dim1.max_temp = NULL), where" in s and s.endswith(": holds")
        for s in segments
    )
    assert any(
        "(payload.reading = 125.001, dim1.max_temp = NULL)" in s and s.endswith(": fails") for s in segments
    )


def test_a_filter_bound_inside_an_if_branch_changes_the_rows() -> None:
    """A filter's IF: its THEN bound is met on events whose IF condition holds."""
    spec = _with_filter(_spec(), "IF(payload.sensorType = 'PRESS', payload.batteryPct >= 20, TRUE)")
    wrong = _with_filter(_spec(), "IF(payload.sensorType = 'PRESS', payload.batteryPct > 20, TRUE)")
    assert _differs(spec, wrong, derive_data(spec))


def test_a_mapping_if_inside_a_case_branch_changes_the_rows() -> None:
    """A mapping's IF inside a CASE branch: its boundary inputs take that branch."""
    text = "CASE WHEN payload.sensorType = 'VIB' THEN IF(payload.channel > 4, 'high', 'low') ELSE 'n/a' END"
    spec = remap(_spec(), "sensor_family", text)
    wrong = remap(_spec(), "sensor_family", text.replace("> 4", "> 5"))
    assert _differs(spec, wrong, derive_data(spec))


def test_a_later_when_is_met_where_the_earlier_whens_do_not_hold() -> None:
    """A searched CASE's second WHEN decides only where the first is not TRUE: its boundary
    inputs make the first fail (here: a NULL battery)."""
    text = "CASE WHEN payload.batteryPct IS NOT NULL THEN 'battery' WHEN payload.errorCode > 0 THEN 'degraded' ELSE 'ok' END"
    spec = remap(_spec(), "sensor_family", text)
    wrong = remap(_spec(), "sensor_family", text.replace("> 0", ">= 0"))
    assert _differs(spec, wrong, derive_data(spec))
