"""A wrong spec makes the oracle's rows differ from the case's expected rows: the comparison can
fail. Each test double changes one thing the case covers (a mapping, a join type, a join
condition, a filter, a rule, an aggregate) and the case that covers it no longer matches."""

from __future__ import annotations

import pytest
from oracle_support import expression, fixture_spec, remap

from services.flinksql.spec import RequestSpec
from services.validator.domain.oracle import judge_case


def _judged(spec: RequestSpec, case_name: str) -> tuple[bool, str]:
    case = next(c for c in spec.cases if c.name == case_name)
    diff = judge_case(spec, case)
    return diff.equal, f"missing {diff.missing}, unexpected {diff.unexpected}"


def _without_filter(spec: RequestSpec, text: str) -> RequestSpec:
    kept = tuple(f for f in spec.filters if f.text != text)
    assert len(kept) == len(spec.filters) - 1
    return spec.model_copy(update={"filters": kept})


def _join(spec: RequestSpec, name: str, **update: object) -> RequestSpec:
    joins = tuple(j.model_copy(update=update) if j.name == name else j for j in spec.joins)
    return spec.model_copy(update={"joins": joins})


def _left_merchant_without_blacklist_rule(spec: RequestSpec) -> RequestSpec:
    # The blacklist rule alone drops merchant misses too (NULL is not FALSE), so the join type
    # only shows once that rule is gone.
    spec = _join(spec, "payment_to_merchant", join_type="LEFT")
    return spec.model_copy(update={"business_rules": spec.business_rules[:1]})


WRONG = {
    "a mapping swapped to another column": (
        "orders",
        "enriched_orders",
        lambda s: remap(s, "user_id", "payload.shopId"),
    ),
    "a LEFT join made INNER": (
        "payments",
        "business_rules_and_inner_join",
        lambda s: _join(s, "payment_to_user", join_type="INNER"),
    ),
    "an INNER join made LEFT": (
        "payments",
        "business_rules_and_inner_join",
        _left_merchant_without_blacklist_rule,
    ),
    "a join condition dropped": (
        "orders",
        "dimension_misses_and_closed_shop",
        lambda s: _join(s, "order_to_shop", additional_condition=None),
    ),
    "a data filter dropped": (
        "orders",
        "filters",
        lambda s: _without_filter(s, "payload.orderStatus IN (1, 2, 3)"),
    ),
    "a business rule dropped": (
        "payments",
        "business_rules_and_inner_join",
        lambda s: s.model_copy(update={"business_rules": s.business_rules[:1]}),
    ),
    "a DISTINCT dropped": (
        "user-activity",
        "daily_rollup",
        lambda s: remap(s, "session_count", "COUNT(payload.sessionId)"),
    ),
    "MAX made MIN": (
        "user-activity",
        "daily_rollup",
        lambda s: remap(s, "last_action_time", "MIN(TO_TIMESTAMP_LTZ(payload.actionTime, 3))"),
    ),
    "a time zone changed": (
        "payments",
        "time_conversion_and_filters",
        lambda s: s.model_copy(update={"job": s.job.model_copy(update={"time_zone": "UTC"})}),
    ),
    "a primary key dropped": (
        "user-activity",
        "daily_rollup",
        lambda s: s.model_copy(
            update={"result": s.result.model_copy(update={"primary_key": ("stat_date",)})}
        ),
    ),
}


@pytest.mark.parametrize("what", list(WRONG))
def test_a_wrong_spec_fails_the_case(what: str) -> None:
    """It gives rows that differ from the expected ones when the spec is wrong."""
    name, case_name, wrong = WRONG[what]
    right = fixture_spec(name)
    assert _judged(right, case_name)[0]
    equal, detail = _judged(wrong(right), case_name)
    assert not equal, f"{what}: the wrong spec still matched ({detail})"


def test_a_changed_expression_changes_a_value() -> None:
    """It rounds a CAST to DECIMAL half-up; a mapping that rounds down instead misses O-R1."""
    right = fixture_spec("orders")
    wrong = remap(
        right, "order_amount", "CAST(CAST(payload.orderAmount * 100 AS BIGINT) / 100 AS DECIMAL(12, 2))"
    )
    equal, detail = _judged(wrong, "amount_rounding")
    assert not equal
    assert "O-R1" in detail


def test_an_inner_join_made_left_alone_changes_nothing_here() -> None:
    """It follows three-valued logic: `dim1.is_blacklisted = FALSE` is NULL on a merchant miss,
    so the rule already drops what the INNER JOIN drops (the same rows either way)."""
    right = fixture_spec("payments")
    wrong = _join(right, "payment_to_merchant", join_type="LEFT", additional_condition=None)
    assert _judged(wrong, "business_rules_and_inner_join")[0]
    assert expression("TRUE").text == "TRUE"
