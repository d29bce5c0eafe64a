"""Spec-derived test data (services.validator.domain.oracle.datagen).

The data of every example and fixture request is checked against the interpreter: each filter,
rule, join and join condition visibly changes the result when removed or flipped, the result is
not empty, and the data stays within its budget. Unusual and hostile specs still yield data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest
from oracle_support import EXAMPLES, NAMES, example_spec, expression, fixture_spec, remap

from services.flinksql import expr as ast
from services.flinksql.spec import RequestSpec
from services.ingest.domain.checks import check_document
from services.validator.domain.oracle import DerivedData, Unsupported, derive_data, interpret, judge_case
from services.validator.domain.values import compare_rows, render_value

SOURCES: dict[str, Callable[[str], RequestSpec]] = {"examples": example_spec, "fixtures": fixture_spec}
ALL = [(source, name) for source in SOURCES for name in NAMES]
_DATA: dict[tuple[str, str], DerivedData] = {}


def _spec(source: str, name: str) -> RequestSpec:
    return SOURCES[source](name)


def _data(source: str, name: str) -> DerivedData:
    if (source, name) not in _DATA:
        _DATA[(source, name)] = derive_data(_spec(source, name))
    return _DATA[(source, name)]


def _segments(data: DerivedData) -> list[str]:
    """Every purpose, one per thing exercised (an event exercising several lists them with `; `)."""
    return [part for p in data.purposes for part in p.split("; ")]


def _run(spec: RequestSpec, data: DerivedData) -> list[dict[str, object]]:
    return interpret(spec, data.events, data.dimensions)


def _loose(spec: RequestSpec) -> RequestSpec:
    """The spec without a primary key or NOT NULL columns: every row that passes is written."""
    columns = tuple(c.model_copy(update={"not_null": False}) for c in spec.result.columns)
    return spec.model_copy(
        update={"result": spec.result.model_copy(update={"columns": columns, "primary_key": ()})}
    )


def _differs(spec: RequestSpec, a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]]) -> bool:
    columns = [(c.name, c.type) for c in spec.result.columns]
    return not compare_rows(a, b, columns).equal


def _aliases(expr: ast.Expr) -> set[str]:
    return {c.qualifier for c in ast.columns(expr)}


def _without_alias_predicates(spec: RequestSpec, alias: str) -> RequestSpec:
    filters = tuple(f for f in spec.filters if alias not in _aliases(f.ast))
    rules = tuple(r for r in spec.business_rules if alias not in _aliases(r.condition.ast))
    return spec.model_copy(update={"filters": filters, "business_rules": rules})


# ---------------------------------------------------------------- determinism and shape


@pytest.mark.parametrize("name", NAMES)
def test_same_spec_and_seed_give_equal_data(name: str) -> None:
    """It derives equal data twice from one spec and seed; some other seed gives other data."""
    spec = example_spec(name)
    assert derive_data(spec, seed=7) == derive_data(spec, seed=7)
    assert derive_data(spec, seed=7).seed == 7
    assert any(derive_data(spec, seed=s).events != derive_data(spec, seed=7).events for s in range(3))


@pytest.mark.parametrize(("source", "name"), ALL)
def test_data_has_case_shape_and_stays_in_budget(source: str, name: str) -> None:
    """It writes events and dimension rows as a case YAML holds them: JSON values only."""
    spec, data = _spec(source, name), _data(source, name)
    assert 0 < len(data.events) <= 60
    assert len(data.purposes) == len(data.events)
    for event in data.events:
        assert set(event) <= {"domain", "type", "create_time", "payload"}
        assert isinstance(event["payload"], dict | str)
    json.dumps([data.events, data.dimensions])  # no Decimal, datetime or other non-JSON value
    assert set(data.dimensions) == {d.table.name for d in spec.dimensions}
    for table, rows in data.dimensions.items():
        assert len(data.dimension_purposes[table]) == len(rows)
    case = data.as_case("derived")
    assert case.name == "derived" and case.line == 0 and len(case.events) == len(data.events)


@pytest.mark.parametrize(("source", "name"), ALL)
def test_the_interpreter_gives_a_sizeable_result(source: str, name: str) -> None:
    """It yields data on which the interpreter sees no job failure and writes at least 5 rows,
    and most events reach the result on their own."""
    spec, data = _spec(source, name), _data(source, name)
    assert data.dropped == ()
    assert len(_run(spec, data)) >= 5
    loose = _loose(spec)
    alone = sum(bool(interpret(loose, [e], data.dimensions)) for e in data.events)
    assert alone * 2 >= len(data.events)


def test_max_events_caps_the_data_and_says_what_was_left_out() -> None:
    """It keeps the first `max_events` events (typical ones first) and lists the rest."""
    data = derive_data(example_spec("payments"), max_events=10)
    assert len(data.events) == 10
    assert all(p.startswith("typical") for p in data.purposes[:6])
    assert any("over the budget of 10 events" in d for d in data.dropped)


# ---------------------------------------------------------------- predicates


def _predicates(spec: RequestSpec) -> list[tuple[str, ast.Expr, RequestSpec]]:
    """(purpose prefix, expression, the spec without it) for every filter and rule."""
    out = []
    for i, f in enumerate(spec.filters):
        rest = spec.filters[:i] + spec.filters[i + 1 :]
        out.append((f"filter `{f.text}`", f.ast, spec.model_copy(update={"filters": rest})))
    for i, r in enumerate(spec.business_rules):
        rest_rules = spec.business_rules[:i] + spec.business_rules[i + 1 :]
        out.append(
            (f"rule {r.name} ", r.condition.ast, spec.model_copy(update={"business_rules": rest_rules}))
        )
    return out


@pytest.mark.parametrize(("source", "name"), ALL)
def test_every_filter_and_rule_has_events_at_and_beside_its_boundary(source: str, name: str) -> None:
    """It names an event at each predicate's boundary (and beside it, unless an IS test)."""
    spec, data = _spec(source, name), _data(source, name)
    for prefix, pred, _ in _predicates(spec):
        mine = [p for p in _segments(data) if p.startswith(prefix)]
        assert any("at the boundary" in p for p in mine), prefix
        if not isinstance(pred, ast.IsTest):
            assert any("beside the boundary" in p for p in mine), prefix
        assert any(p.endswith(": holds") for p in mine) or isinstance(pred, ast.IsTest), prefix
        assert any(p.endswith((": fails", ": is NULL")) for p in mine), prefix


@pytest.mark.parametrize(("source", "name"), ALL)
def test_every_filter_and_rule_drops_some_events(source: str, name: str) -> None:
    """It makes each predicate matter: without it the (key-less) result has more rows, or other
    rows for an aggregate; with it the result is not empty."""
    spec, data = _spec(source, name), _data(source, name)
    for prefix, _, without in _predicates(spec):
        kept, more = _run(_loose(spec), data), _run(_loose(without), data)
        assert kept, prefix
        if spec.aggregation.is_aggregate:
            assert _differs(spec, kept, more), prefix
        else:
            assert len(more) > len(kept), prefix


# ---------------------------------------------------------------- joins


@pytest.mark.parametrize(("source", "name"), ALL)
def test_every_join_has_a_hit_a_miss_and_a_null_key(source: str, name: str) -> None:
    """It gives each join a typical hit row, a missing key and a NULL key."""
    spec, data = _spec(source, name), _data(source, name)
    for join in spec.joins:
        assert any(p.startswith(f"join {join.name}: hit") for p in data.dimension_purposes[join.target_table])
        assert any(p.startswith(f"join {join.name}: miss") for p in _segments(data))
        assert any(p.startswith(f"join {join.name}: NULL key") for p in _segments(data))


@pytest.mark.parametrize(("source", "name"), ALL)
def test_flipping_a_join_type_changes_the_result(source: str, name: str) -> None:
    """It makes LEFT and INNER differ on the data for every join (once the predicates that read
    the alias, which would drop a miss either way, are set aside)."""
    spec, data = _spec(source, name), _data(source, name)
    for join in spec.joins:
        base = _loose(_without_alias_predicates(spec, join.alias))
        other = "INNER" if join.join_type == "LEFT" else "LEFT"
        joins = tuple(
            j.model_copy(update={"join_type": other}) if j.name == join.name else j for j in spec.joins
        )
        flipped = base.model_copy(update={"joins": joins})
        assert _differs(spec, _run(base, data), _run(flipped, data)), join.name


@pytest.mark.parametrize(("source", "name"), ALL)
def test_every_join_condition_is_true_and_false_for_a_hit(source: str, name: str) -> None:
    """It gives each additional condition a dimension row that fails it: without the condition
    the result changes."""
    spec, data = _spec(source, name), _data(source, name)
    for join in [j for j in spec.joins if j.additional_condition is not None]:
        mine = [p for p in _segments(data) if p.startswith(f"join {join.name} condition")]
        assert any(p.endswith(": holds") for p in mine) and any(p.endswith(": fails") for p in mine)
        joins = tuple(
            j.model_copy(update={"additional_condition": None}) if j.name == join.name else j
            for j in spec.joins
        )
        assert _differs(spec, _run(spec, data), _run(spec.model_copy(update={"joins": joins}), data))


# ---------------------------------------------------------------- mappings and values


@pytest.mark.parametrize(("source", "name"), ALL)
def test_every_case_branch_is_taken(source: str, name: str) -> None:
    """It reaches each WHEN of each CASE in the mappings, and its ELSE."""
    spec, data = _spec(source, name), _data(source, name)
    for m in spec.mappings:
        for node in ast.walk(m.expression.ast):
            if isinstance(node, ast.Case):
                taken = " ".join(p for p in _segments(data) if p.startswith(f"mapping {m.column}: CASE "))
                assert taken.count("CASE WHEN") >= len(node.whens), m.column
                assert "CASE ELSE" in taken, m.column


@pytest.mark.parametrize(("source", "name"), ALL)
def test_every_referenced_payload_field_is_null_somewhere(source: str, name: str) -> None:
    """It sends NULL in each payload field the spec reads (one event per field)."""
    spec, data = _spec(source, name), _data(source, name)
    payloads = [e["payload"] for e in data.events if isinstance(e["payload"], dict)]
    read = {c.name for m in spec.mappings for c in ast.columns(m.expression.ast) if c.qualifier == "payload"}
    for field in read:
        assert any(p.get(field, "absent") is None for p in payloads), field


@pytest.mark.parametrize(("source", "name"), [a for a in ALL if a[1] != "user-activity"])
def test_a_primary_key_repeats_with_other_values(source: str, name: str) -> None:
    """It writes two different rows for one primary key; the upsert keeps the later one."""
    spec, data = _spec(source, name), _data(source, name)
    pk = spec.result.primary_key
    rows = [
        r
        for e in data.events
        for r in interpret(spec.model_copy(update={"result": spec.result}), [e], data.dimensions)
    ]
    keys = [tuple(r[k] for k in pk) for r in rows]
    repeated = {k for k in keys if keys.count(k) > 1}
    assert repeated
    assert (
        len(
            {
                json.dumps({c: render_value(v) for c, v in r.items()}, default=str)
                for r in rows
                if tuple(r[k] for k in pk) in repeated
            }
        )
        > 1
    )


def test_aggregate_groups_hold_several_events_and_a_duplicate_distinct_value() -> None:
    """It puts several events in a group, one repeating a COUNT(DISTINCT) input."""
    spec = example_spec("user-activity")
    rows = _run(spec, _data("examples", "user-activity"))
    assert max(int(r["action_count"]) for r in rows) >= 2  # type: ignore[call-overload]
    assert any(int(r["session_count"]) < int(r["action_count"]) for r in rows)  # type: ignore[call-overload]
    assert any(r["total_stay_ms"] is not None and int(r["total_stay_ms"]) < 0 for r in rows)  # type: ignore[call-overload]


@pytest.mark.parametrize(("source", "name"), ALL)
def test_decimal_and_time_zone_edges(source: str, name: str) -> None:
    """It sends DECIMAL values half a unit beyond the cast's scale and at the largest magnitude,
    and times one unit before and at local midnight, which fall on different local dates."""
    spec, data = _spec(source, name), _data(source, name)
    purposes = " | ".join(data.purposes)
    if name != "user-activity":
        assert "rounds half-up" in purposes and "the largest value DECIMAL(" in purposes
        half = [e for e, p in zip(data.events, data.purposes, strict=True) if "rounds half-up" in p]
        assert all(
            re.fullmatch(r"\d+\.\d{2}5", str(v))
            for e in half
            for v in e["payload"].values()
            if isinstance(v, str) and v.endswith("5") and "." in v
        )  # type: ignore[union-attr]
    before, at = (
        next(e for e, p in zip(data.events, data.purposes, strict=True) if label in p)
        for label in ("one unit before local midnight", "at local midnight")
    )
    loose = _loose(spec)
    assert _differs(
        spec, interpret(loose, [before], data.dimensions), interpret(loose, [at], data.dimensions)
    )
    assert "year end, Dec 31 23:59:59.999 local" in purposes


# ---------------------------------------------------------------- failures, unusual and hostile specs


def test_events_on_which_flink_fails_are_dropped_with_the_reason() -> None:
    """It leaves out an event that divides by zero (Flink fails the job) and says why."""
    spec = remap(example_spec("orders"), "item_count", "100 / payload.itemCount")
    spec = spec.model_copy(update={"filters": (*spec.filters, expression("payload.itemCount >= 0"))})
    data = derive_data(spec)
    assert any("payload.itemCount = 0" in d and "fail the job" in d for d in data.dropped)
    assert all(e["payload"]["itemCount"] != 0 for e in data.events if isinstance(e["payload"], dict))  # type: ignore[index]
    assert len(_run(spec, data)) >= 5


def test_an_unsupported_spec_still_gets_data() -> None:
    """It derives data for a spec the interpreter cannot run, without screening it."""
    spec = remap(example_spec("orders"), "channel", "UUID()")
    with pytest.raises(Unsupported):
        interpret(spec, derive_data(example_spec("orders")).events, {})
    data = derive_data(spec)
    assert len(data.events) > 20 and data.dropped == ()


def _edited_orders(*edits: tuple[str, str]) -> RequestSpec:
    text = (EXAMPLES / "orders" / "orders-request-v3.md").read_text(encoding="utf-8")
    for pattern, replacement in edits:
        text, count = re.subn(pattern, replacement, text, flags=re.S)
        assert count, pattern
    result = check_document(text)
    assert result.errors == [], [e.render() for e in result.errors]
    assert result.spec is not None
    return result.spec


def test_a_spec_without_filters_or_joins_and_with_a_text_time_gets_data() -> None:
    """It derives data for a request with no dimensions, joins or filters, whose time is text
    read by TO_TIMESTAMP, including text that does not parse."""
    spec = _edited_orders(
        (r"## 🔗 维表配置.*?(?=## 🎯)", ""),
        (r"## 🗺️ ER图定义.*?(?=## 📋 特殊条件配置)", ""),
        (r"## 📋 特殊条件配置.*?(?=## 💬)", ""),
        (r"COALESCE\(dim1\.shop_name, '未知店铺'\)", "'未知店铺'"),
        (r"COALESCE\(dim2\.city_name, '未知城市'\)", "'未知城市'"),
        (r'"dim2\.province_name"', '"payload.channel"'),
        (r"private Long createdAt;", "private String createdAt;"),
        (r"TO_TIMESTAMP_LTZ\(payload\.createdAt, 3\)", "TO_TIMESTAMP(payload.createdAt)"),
    )
    assert not spec.joins and not spec.filters and not spec.dimensions
    data = derive_data(spec)
    times = [e["payload"]["createdAt"] for e in data.events if isinstance(e["payload"], dict)]  # type: ignore[index]
    assert "not a time" in times and "2025-01-07 00:00:00" in times and "2024-12-31 23:59:59" in times
    rows = _run(spec, data)
    assert len(rows) >= 5 and any(r["order_time"] is None for r in rows)


def test_hostile_values_and_reserved_word_fields_are_just_data() -> None:
    """It carries quotes, backticks and unicode in literals, and reserved-word field names,
    into the data unchanged (no SQL is built), and the case it makes judges equal."""
    spec = _edited_orders(
        (r"private String channel;", "private String value;"),
        (r'channel: "payload\.channel"', 'channel: "payload.value"'),
    )
    hostile = "payload.value IN ('it''s', '`tick`', '名字\"x')"
    spec = spec.model_copy(update={"filters": (*spec.filters, expression(hostile))})
    data = derive_data(spec)
    values = {e["payload"].get("value") for e in data.events if isinstance(e["payload"], dict)}  # type: ignore[union-attr]
    assert {"it's", "`tick`", '名字"x'} <= values
    assert any("'it''s'" in p for p in data.purposes)
    rows = _run(spec, data)
    assert len(rows) >= 5
    expected = [{k: render_value(v) for k, v in r.items()} for r in rows]
    assert judge_case(spec, data.as_case(expected=expected)).equal
