"""The three example requests pass, and their specs hold what a compiler needs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.flinksql.spec import SPEC_VERSION, RequestSpec, content_hash
from services.ingest.domain.checks import check_document

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "requests"
NAMES = ("orders", "payments", "user-activity")


def _spec(name: str, *, with_cases: bool = True) -> RequestSpec:
    text = (FIXTURES / f"{name}-request-v3.md").read_text(encoding="utf-8")
    cases = (FIXTURES / f"{name}.cases.yaml").read_text(encoding="utf-8") if with_cases else None
    result = check_document(text, cases_text=cases)
    assert result.errors == [], [e.render() for e in result.errors]
    assert result.spec is not None
    return result.spec


@pytest.mark.parametrize("name", NAMES)
def test_example_passes_without_warnings(name: str) -> None:
    """It accepts every example document, with its sidecar cases, and no warnings."""
    spec = _spec(name)
    assert spec.spec_version == SPEC_VERSION
    assert spec.warnings == ()
    assert spec.cases


@pytest.mark.parametrize("name", NAMES)
def test_spec_round_trips_through_json(name: str) -> None:
    """It serialises the spec deterministically and reads it back unchanged."""
    spec = _spec(name)
    again = RequestSpec.model_validate_json(spec.to_json())
    assert again == spec
    assert again.to_json() == spec.to_json()
    json.loads(spec.to_json())


def test_orders_joins_aliases_and_cascade() -> None:
    """It resolves dimN aliases, the event-side join and the cascade from dim_shop, in block order."""
    spec = _spec("orders")
    assert spec.job.time_zone == "Asia/Shanghai"
    assert [(d.number, d.alias, d.table.name) for d in spec.dimensions] == [
        (1, "dim1", "dim_shop"),
        (2, "dim2", "dim_city"),
    ]
    first, second = spec.joins
    assert (first.name, first.source_kind, first.source_field, first.alias, first.join_type) == (
        "order_to_shop",
        "event",
        "shopId",
        "dim1",
        "LEFT",
    )
    assert (
        first.additional_condition is not None and first.additional_condition.text == "dim1.shop_status = 1"
    )
    assert (second.source_kind, second.source_alias, second.source_field, second.alias) == (
        "dimension",
        "dim1",
        "city_id",
        "dim2",
    )
    assert spec.result.name == "dwd_order_wide" and spec.result.primary_key == ("order_id",)
    assert [m.column for m in spec.mappings] == [c.name for c in spec.result.columns]
    assert not spec.aggregation.is_aggregate
    assert len(spec.filters) == 3 and spec.business_rules == ()
    assert spec.performance_hints and spec.er_diagram is not None
    assert spec.payload.field("orderAmount") is not None
    assert spec.payload.field("orderAmount").flink_type.sql() == "DECIMAL(38, 18)"  # type: ignore[union-attr]


def test_orders_mapping_types_and_casts() -> None:
    """It infers each mapping's type and marks where the INSERT needs a CAST."""
    mappings = {m.column: m for m in _spec("orders").mappings}
    assert mappings["order_time"].needs_cast  # TIMESTAMP_LTZ(3) into TIMESTAMP(3)
    assert not mappings["order_id"].needs_cast
    assert mappings["pay_amount"].expression.type is not None


def test_payments_inner_join_and_rules() -> None:
    """It keeps INNER/LEFT join types and both business rules with their conditions."""
    spec = _spec("payments")
    assert [j.join_type for j in spec.joins] == ["INNER", "LEFT"]
    assert [r.name for r in spec.business_rules] == ["exclude_test_account", "exclude_blacklisted_merchant"]
    assert spec.payload.field("clientIp") is not None
    er = spec.er_diagram
    assert er is not None and er.relationships[1].right_cardinality == "zero_or_one"


def test_user_activity_is_an_aggregation() -> None:
    """It flags aggregate mappings and groups by the other columns; the PK is grouped."""
    spec = _spec("user-activity")
    assert spec.aggregation.is_aggregate
    assert spec.aggregation.group_by == ("stat_date", "user_id", "member_level")
    aggregates = [m.column for m in spec.mappings if m.is_aggregate]
    assert aggregates == ["action_count", "view_count", "session_count", "total_stay_ms", "last_action_time"]
    assert set(spec.result.primary_key) <= set(spec.aggregation.group_by)


def test_content_hash_identifies_the_document() -> None:
    """It hashes the normalised text: line endings and trailing blanks do not matter, content does."""
    text = (FIXTURES / "orders-request-v3.md").read_text(encoding="utf-8")
    spec = _spec("orders", with_cases=False)
    assert spec.content_hash == content_hash(text)
    assert content_hash(text.replace("\n", "\r\n") + "\n\n") == spec.content_hash
    assert content_hash(text.replace("订单", "定单")) != spec.content_hash


def test_primary_key_columns_are_not_null_in_the_spec() -> None:
    """It marks primary-key columns NOT NULL even where the DDL does not say so."""
    text = (FIXTURES / "orders-request-v3.md").read_text(encoding="utf-8")
    text = text.replace("`order_id` STRING NOT NULL COMMENT '订单号'", "`order_id` STRING COMMENT '订单号'")
    spec = check_document(text).spec
    assert spec is not None
    column = spec.result.column("order_id")
    assert column is not None and column.not_null and not column.type.nullable


def test_english_headings_and_explicit_aliases() -> None:
    """It reads English headings and uses an explicit alias for a table joined twice."""
    text = (FIXTURES / "orders-request-v3.md").read_text(encoding="utf-8")
    text = (
        text.replace("### 维表1: dim_shop", "### Dimension 1: dim_shop")
        .replace("### 维表2: dim_city", "### Dimension table 2: dim_city")
        .replace("## 🎯 结果表配置", "## 🎯 Result table")
        .replace("### 表名: dwd_order_wide", "### Table: dwd_order_wide")
    )
    text = text.replace(
        '    target_table: "dim_city"\n', '    target_table: "dim_city"\n    alias: "shop_city"\n'
    )
    text = text.replace("dim2.", "shop_city.")
    result = check_document(text)
    assert result.errors == [], [e.render() for e in result.errors]
    assert result.spec is not None
    assert [j.alias for j in result.spec.joins] == ["dim1", "shop_city"]
