"""Flink's non-scalar built-ins (other aggregates, OVER, window and table functions) are refused by
name in a request's expressions, with the supported aggregates in the message (request format §3)."""

from __future__ import annotations

import pytest

from services.flinksql.expr import (
    AGGREGATES,
    OTHER_AGGREGATES,
    OVER_FUNCTIONS,
    TABLE_FUNCTIONS,
    Call,
    non_scalar_function,
)
from services.flinksql.expr_parse import ExpressionError, parse_expression
from services.ingest.domain.checks import check_document
from tests.unit.ingest.test_faults import BASE

REFUSED = [
    "STDDEV_POP(payload.x)",
    "stddev_samp(payload.x)",
    "VAR_POP(payload.x)",
    "VARIANCE(payload.x)",
    "LISTAGG(payload.s, ',')",
    "FIRST_VALUE(payload.x)",
    "LAST_VALUE(payload.x)",
    "COLLECT(payload.x)",
    "ARRAY_AGG(payload.x)",
    "JSON_ARRAYAGG(payload.x)",
    "JSON_OBJECTAGG(KEY payload.s VALUE payload.x)",
    "PERCENTILE(payload.x, 0.5)",
    "APPROX_COUNT_DISTINCT(payload.x)",
    "BITMAP_BUILD_AGG(payload.x)",
    "ROW_NUMBER()",
    "LAG(payload.x, 1)",
    "GROUPING(payload.x)",
    "TUMBLE_START(payload.t, INTERVAL '1' HOUR)",
    "TUMBLE(payload.t, INTERVAL '1' HOUR)",
    "UNNEST(payload.a)",
    "PREV(payload.x)",
]


@pytest.mark.parametrize("text", REFUSED)
def test_non_scalar_builtin_is_refused_by_name(text: str) -> None:
    """It refuses the call, naming the function and the supported aggregates, at the name's offset."""
    name = text.split("(", maxsplit=1)[0].upper()
    with pytest.raises(ExpressionError) as info:
        parse_expression(f"1 + {text}")
    assert info.value.message.startswith(f"{name} is ")
    assert "SUM, COUNT, MAX, MIN and AVG" in info.value.message
    assert info.value.offset == 4
    assert info.value.name is None  # the checker names the field


def test_nested_inside_a_supported_aggregate_is_refused_too() -> None:
    """It refuses a non-scalar call wherever it is nested."""
    with pytest.raises(ExpressionError, match=r"^STDDEV is an aggregate function"):
        parse_expression("COALESCE(SUM(payload.x), STDDEV(payload.x))")


@pytest.mark.parametrize("name", sorted(AGGREGATES))
def test_the_five_supported_aggregates_still_parse(name: str) -> None:
    """It keeps SUM, COUNT, MAX, MIN and AVG (with DISTINCT) as aggregate calls."""
    expr = parse_expression(f"{name}(DISTINCT payload.x)")
    assert isinstance(expr, Call)
    assert (expr.name, expr.distinct) == (name, True)


@pytest.mark.parametrize("name", ["ARRAY_MAX", "STDDEV_X", "LAST_DAY", "FIRST_NAME", "SPLIT"])
def test_scalar_and_unknown_names_are_not_refused(name: str) -> None:
    """It refuses exact built-in names only, not names that merely look alike."""
    assert non_scalar_function(name) is None
    assert isinstance(parse_expression(f"{name}(payload.x)"), Call)


def test_the_catalogue_sets_are_disjoint_from_the_supported_aggregates() -> None:
    """It never refuses one of the five aggregates."""
    assert not (OTHER_AGGREGATES | OVER_FUNCTIONS | TABLE_FUNCTIONS) & AGGREGATES
    assert all(non_scalar_function(name) is None for name in AGGREGATES)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("SUM(payload.x) OVER (PARTITION BY payload.y)", "SUM(...) OVER (...) is a window aggregate"),
        ("COUNT(*) FILTER (WHERE payload.x > 1)", "COUNT(...) FILTER (WHERE ...) is not supported"),
        ("MAX(payload.x) WITHIN GROUP (ORDER BY payload.x)", "MAX(...) WITHIN GROUP (...) is not supported"),
    ],
)
def test_call_suffixes_are_refused_precisely(text: str, fragment: str) -> None:
    """It explains OVER, FILTER and WITHIN GROUP after a call instead of a generic keyword error."""
    with pytest.raises(ExpressionError) as info:
        parse_expression(text)
    assert fragment in info.value.message
    assert info.value.offset == text.index(fragment.split("...) ")[1].split(" ", maxsplit=1)[0])


def _error(text: str, block: str) -> tuple[str, str | None, int | None, str]:
    result = check_document(text)
    assert result.spec is None
    found = [(e.block, e.name, e.line, e.message) for e in result.errors if e.block == block]
    assert len(found) == 1, result.errors
    return found[0]


def _line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


def test_check_rejects_it_in_a_mapping_naming_function_field_and_line() -> None:
    """It rejects STDDEV_POP in a field mapping with the field's name and line (no longer valid, aggregate: no)."""
    text = BASE.replace('item_count: "payload.itemCount"', 'item_count: "STDDEV_POP(payload.itemCount)"')
    _block, name, line, message = _error(text, "field_mapping")
    assert name == "item_count"
    assert line == _line_of(text, "STDDEV_POP")
    assert "STDDEV_POP is an aggregate function" in message
    assert "SUM, COUNT, MAX, MIN and AVG" in message


def test_check_rejects_it_in_a_filter_and_a_join_condition() -> None:
    """It rejects LISTAGG in a data filter and LAST_VALUE in a join's additional condition."""
    text = BASE.replace('"payload.orderAmount >= 0"', "\"LISTAGG(payload.channel) <> ''\"")
    _block, _name, line, message = _error(text, "special_conditions")
    assert line == _line_of(text, "LISTAGG")
    assert message.startswith("not one scalar expression: LISTAGG is an aggregate function")
    text = BASE.replace(
        'additional_condition: "dim1.shop_status = 1"',
        'additional_condition: "LAST_VALUE(dim1.shop_status) = 1"',
    )
    errors = [e for e in check_document(text).errors if "LAST_VALUE is an aggregate function" in e.message]
    assert len(errors) == 1
    assert errors[0].line == _line_of(text, "LAST_VALUE")
