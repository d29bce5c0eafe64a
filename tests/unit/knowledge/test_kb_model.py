"""The model built from a spec: tables, relationships, jobs, cross-checks, drift, diagrams, impact."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from knowledge_fakes import EXAMPLES, document, edit_column, example_model, spec_of

from services.knowledge.domain.checking import Baseline, check
from services.knowledge.domain.conflicts import Mode
from services.knowledge.domain.diagrams import (
    conflict_report,
    domain_documents,
    domain_mermaid,
    global_mermaid,
)
from services.knowledge.domain.drift import cross_domain, name_style, naming_drift
from services.knowledge.domain.impact import impact, parse_target
from services.knowledge.domain.model import KbColumn, build_model

NOW = datetime(2025, 1, 6, tzinfo=UTC)


def test_orders_model_has_roles_keys_and_diagram_cardinalities() -> None:
    """It builds source, dimension and result tables, and takes cardinalities from the ER diagram."""
    model = example_model("orders")
    roles = {t.name: t.role for t in model.tables}
    assert roles == {
        "OrderPayload": "source",
        "dim_shop": "dimension",
        "dim_city": "dimension",
        "dwd_order_wide": "result",
    }
    result = model.table("dwd_order_wide")
    assert result is not None and result.primary_key == ("order_id",)
    order_id = result.column("order_id")
    assert order_id is not None and not order_id.nullable and order_id.type == "STRING"
    amount = result.column("order_amount")
    assert amount is not None and amount.type == "DECIMAL(12, 2)" and amount.comment == "订单原价金额"
    shop, city = model.relationships
    assert (shop.from_table, shop.from_columns, shop.to_table, shop.to_columns) == (
        "OrderPayload",
        ("shopId",),
        "dim_shop",
        ("shop_id",),
    )
    assert (city.from_table, city.to_table) == ("dim_shop", "dim_city")
    assert shop.to_cardinality == "exactly_one" and shop.in_diagram and shop.in_joins
    assert model.findings == ()


@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_cross_check_cleanly(name: str) -> None:
    """It finds no disagreement between the diagram, the DDL and the joins of the examples."""
    assert build_model(spec_of(document(name))).findings == ()


def test_cross_check_reports_diagram_without_join_and_type_mismatch() -> None:
    """It flags a drawn relationship with no join and a diagram type that differs from the DDL."""
    text = (
        document("orders")
        .replace(
            '    dim_shop }o--|| dim_city : "city_id = city_id"',
            '    dim_shop }o--|| dim_city : "city_id = city_id"\n    OrderPayload }o--|| dim_city : "x"',
        )
        .replace('        int shop_status "店铺状态"', '        string shop_status "店铺状态"')
    )
    findings = build_model(spec_of(text)).findings
    kinds = {(f.kind, f.table, f.column) for f in findings}
    assert ("er.relationship_without_join", "OrderPayload", None) in kinds
    assert ("er.type_mismatch", "dim_shop", "shop_status") in kinds
    assert all(f.severity != "critical" for f in findings)


def test_job_reads_and_writes_columns_it_uses() -> None:
    """It records the columns a job reads (joins, mappings, conditions) and writes."""
    (job,) = example_model("orders").jobs
    assert set(job.reads["dim_shop"]) == {"shop_id", "city_id", "shop_name", "shop_status"}
    assert "city_tier" not in job.reads["dim_city"]
    assert job.writes["dwd_order_wide"][0] == "order_id"


def test_impact_names_the_jobs_of_a_table_or_column() -> None:
    """It lists readers and writers, and narrows to jobs that use the column."""
    models = {n: example_model(n) for n in ("orders", "payments", "user-activity")}
    assert [(j.domain, j.access, j.usage) for j in impact(models, "dwd_order_wide")] == [
        ("orders", "writes", "result")
    ]
    assert [j.domain for j in impact(models, "dim_shop", "shop_status")] == ["orders"]
    assert impact(models, "dim_city", "city_tier") == []
    assert parse_target("dim_shop.shop_id") == ("dim_shop", "shop_id")
    with pytest.raises(ValueError, match="TABLE"):
        parse_target("a.b.c")


def test_same_table_defined_differently_in_two_domains_is_critical() -> None:
    """It flags a dimension another domain declares with another key type, naming that job."""
    orders = example_model("orders")
    other = edit_column(orders, "dim_city", "city_id", type="BIGINT").model_copy(
        update={"domain": "logistics"}
    )
    found = cross_domain(orders, {"logistics": other})
    redefined = [c for c in found if c.kind == "table_redefined"]
    assert redefined and redefined[0].table == "dim_city" and "订单实时宽表" in redefined[0].detail
    result = check(orders, Baseline(others={"logistics": other}), Mode.BACKWARD)
    assert not result.compatible
    assert {c.kind for c in check(orders, Baseline(others={"logistics": other}), Mode.NONE).critical} == set()


def test_two_jobs_writing_one_result_is_a_conflict() -> None:
    """It refuses a second writer of a result table another domain's job writes."""
    orders = example_model("orders")
    copy = orders.model_copy(update={"domain": "orders-copy"})
    kinds = {c.kind for c in cross_domain(copy, {"orders": orders})}
    assert "result_written_elsewhere" in kinds


def test_naming_drift_flags_new_names_against_the_convention() -> None:
    """It flags a camelCase column in snake_case tables and a dimension without the dim_ prefix."""
    orders = example_model("orders")
    payments = example_model("payments")
    drifted = edit_column(payments, "dwd_payment_wide", "amount_level", name="amountLevel")
    shop = drifted.table("dim_merchant")
    assert shop is not None
    renamed = drifted.model_copy(
        update={
            "tables": tuple(
                t.model_copy(update={"name": "merchant_info"}) if t.name == "dim_merchant" else t
                for t in drifted.tables
            )
        }
    )
    found = {(c.table, c.column) for c in naming_drift(renamed, None, [orders])}
    assert ("dwd_payment_wide", "amountLevel") in found
    assert ("merchant_info", None) in found
    assert naming_drift(example_model("payments"), None, [orders]) == []
    assert (name_style("shop_id"), name_style("shopId"), name_style("Shop-Id")) == ("snake", "camel", "other")


def test_mermaid_renders_entities_keys_and_relationships() -> None:
    """It renders an erDiagram with PK/FK markers, exact types in comments and mermaid cardinalities."""
    text = domain_mermaid(example_model("orders"))
    assert text.startswith("erDiagram\n")
    assert '        string shop_id PK "店铺ID - STRING NOT NULL"' in text
    assert '        string shopId FK "店铺ID - STRING"' in text
    assert '    OrderPayload }o--|| dim_shop : "shopId = shop_id"' in text
    assert '        decimal order_amount "订单原价金额 - DECIMAL(12, 2)"' in text
    merged = global_mermaid({n: example_model(n) for n in ("orders", "payments")})
    assert "dim_merchant {" in merged and "dim_city {" in merged


def test_knowledge_base_documents_follow_seed_layout() -> None:
    """It renders the four per-domain documents, with the diagram and conflict counts."""
    model = example_model("payments")
    changes = [
        c.model_copy(update={"severity": "warning"})
        for c in check(
            model.model_copy(update={"tables": model.tables[:-1]}), Baseline(history=[(1, model)]), Mode.NONE
        ).changes
    ]
    docs = domain_documents(model, 3, generated_at=NOW, changes=changes)
    assert set(docs) == {
        "source-payload.md",
        "dimension-tables.md",
        "relationships.md",
        "generated-er-diagram-v3.md",
    }
    assert "PaymentPayload" in docs["source-payload.md"] and "dim_merchant" in docs["dimension-tables.md"]
    assert (
        "| PaymentPayload | merchantId | dim_merchant | merchant_id | `}o--||` | INNER |"
        in docs["relationships.md"]
    )
    er = docs["generated-er-diagram-v3.md"]
    assert 'domain: "payments"' in er and "```mermaid\nerDiagram" in er and "- **Warning**: 1" in er
    report = conflict_report(
        domain="payments",
        run_id="R1",
        outcome="rejected",
        mode="FULL",
        base_version=3,
        changes=changes,
        generated_at=NOW,
        reason="moved",
    )
    assert "- **Warning**: 1" in report and "`table_removed` dwd_payment_wide" in report


def test_payload_field_types_in_sources() -> None:
    """It keeps the payload's Flink types (BigDecimal as DECIMAL(38, 18)) on the source entity."""
    source = example_model("orders").table("OrderPayload")
    assert source is not None
    assert source.column("orderAmount") == KbColumn(
        name="orderAmount", type="DECIMAL(38, 18)", comment="订单原价金额(元)"
    )
    assert source.primary_key == ("orderId",)
