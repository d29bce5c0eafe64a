"""Column lineage in the knowledge base (issue 18 item 3): what a commit records, and `kb impact`
following it transitively across jobs and domains (domain/lineage.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from knowledge_fakes import document, example_model, spec_of
from typer.testing import CliRunner

from services.knowledge.domain.lineage import Node, downstream
from services.knowledge.domain.model import DomainModel, JobRef, KbColumn, KbTable, LineageInput
from services.knowledge.entrypoints.cli import register

ODPS_WIDE = {"connector": "odps", "project": "trade_dw", "tableName": "dwd_order_wide"}


def table(name: str, role: str, columns: tuple[str, ...], options: dict[str, str] | None = None) -> KbTable:
    return KbTable(
        name=name,
        role=role,  # type: ignore[arg-type]
        columns=tuple(KbColumn(name=c, type="STRING") for c in columns),
        options=options or {},
    )


def direct(table_name: str, column: str, subtype: str = "IDENTITY") -> LineageInput:
    return LineageInput(table=table_name, column=column, type="DIRECT", subtype=subtype)


def job_model(
    domain: str,
    reads: dict[str, tuple[str, ...]],
    result: str,
    lineage: dict[str, tuple[LineageInput, ...]],
    *,
    tables: tuple[KbTable, ...] = (),
    row_inputs: tuple[LineageInput, ...] = (),
) -> DomainModel:
    job = JobRef(
        domain=domain,
        job=f"{domain}-job",
        event_type="e",
        reads=reads,
        writes={result: tuple(lineage)},
        lineage=lineage,
        row_inputs=row_inputs,
    )
    return DomainModel(domain=domain, tables=tables, jobs=(job,))


def report_domain(input_name: str = "order_wide", options: dict[str, str] | None = None) -> DomainModel:
    """A domain whose job reads the orders result table (under its own name) as a dimension."""
    return job_model(
        "report",
        {"ShopEvent": ("shopId",), input_name: ("pay_amount", "shop_id")},
        "ads_shop_daily",
        {
            "amount_sum": (direct(input_name, "pay_amount", "AGGREGATION"),),
            "shop_id": (direct("ShopEvent", "shopId"),),
        },
        tables=(
            table(
                input_name, "dimension", ("shop_id", "pay_amount"), ODPS_WIDE if options is None else options
            ),
            table("ads_shop_daily", "result", ("shop_id", "amount_sum"), {"connector": "print"}),
        ),
        row_inputs=(LineageInput(table=input_name, column="shop_id", type="INDIRECT", subtype="JOIN"),),
    )


def test_a_commit_records_each_result_columns_inputs() -> None:
    """build_model keeps the kernel's column lineage on the job: every result column (COUNT(*) with
    no input too) and the columns that shape every row."""
    [orders] = example_model("orders").jobs
    assert orders.lineage["pay_amount"] == (
        direct("OrderPayload", "orderAmount", "TRANSFORMATION"),
        direct("OrderPayload", "discountAmount", "TRANSFORMATION"),
    )
    assert orders.lineage["city_name"] == (direct("dim_city", "city_name", "TRANSFORMATION"),)
    assert (
        LineageInput(table="dim_shop", column="shop_id", type="INDIRECT", subtype="JOIN") in orders.row_inputs
    )
    [activity] = example_model("user-activity").jobs
    assert activity.lineage["action_count"] == ()
    assert set(activity.lineage) == set(activity.writes["dws_user_activity_daily"])


def test_lineage_crosses_domains_by_physical_identity() -> None:
    """A payload field flows into the orders wide table, which the report domain reads under another
    name (the same ODPS table): the chain reaches the report's result column, and the filter use
    reaches every row of both results."""
    models = {"orders": example_model("orders"), "report": report_domain()}
    flow = downstream(models, "OrderPayload", "orderAmount")
    assert flow.start == (Node("orders", "OrderPayload", "orderAmount"),)
    reached = {(h.node, h.kind, h.subtype) for h in flow.hops}
    assert (Node("orders", "dwd_order_wide", "pay_amount"), "DIRECT", "TRANSFORMATION") in reached
    assert (Node("orders", "dwd_order_wide"), "ROWS", "FILTER") in reached  # orderAmount is filtered on
    assert (Node("report", "ads_shop_daily", "amount_sum"), "DIRECT", "AGGREGATION") in reached
    assert (Node("report", "ads_shop_daily"), "ROWS", "INPUT_ROWS") in reached
    index = next(
        i for i, h in enumerate(flow.hops) if h.node == Node("report", "ads_shop_daily", "amount_sum")
    )
    assert flow.hops[index].via == Node("report", "order_wide", "pay_amount")
    assert flow.chain(index) == [
        Node("orders", "OrderPayload", "orderAmount"),
        Node("orders", "dwd_order_wide", "pay_amount"),
        Node("report", "ads_shop_daily", "amount_sum"),
    ]
    assert flow.hops[index].depth == 2 and flow.cycles == ()


def test_one_name_two_physical_tables_is_not_followed() -> None:
    """The report's `dwd_order_wide` is another ODPS project's table: nothing flows into it from
    the orders job, although the names are equal."""
    elsewhere = {**ODPS_WIDE, "project": "other_dw"}
    models = {"orders": example_model("orders"), "report": report_domain("dwd_order_wide", elsewhere)}
    flow = downstream(models, "OrderPayload", "orderAmount")
    assert {h.node.domain for h in flow.hops} == {"orders"}
    # ... and the same name with no identity on one side is one table (the name-only rule).
    models["report"] = report_domain("dwd_order_wide", {})
    assert "report" in {h.node.domain for h in downstream(models, "OrderPayload", "orderAmount").hops}


def test_a_cycle_ends_and_is_reported() -> None:
    """Job x makes t2.b from t1.a, job y makes t1.a from t2.b (tables known by name only): each node
    is reached once, and the edge back to t1.a is kept as a cycle."""
    models = {
        "x": job_model("x", {"t1": ("a",)}, "t2", {"b": (direct("t1", "a"),)}),
        "y": job_model("y", {"t2": ("b",)}, "t1", {"a": (direct("t2", "b"),)}),
    }
    flow = downstream(models, "t1", "a")
    assert flow.start == (Node("x", "t1", "a"), Node("y", "t1", "a"))  # read by x, written by y
    assert [h.node for h in flow.hops] == [Node("x", "t2", "b")]
    assert flow.cycles == ((Node("x", "t2", "b"), Node("y", "t1", "a")),)


def test_a_record_without_lineage_reaches_the_whole_result() -> None:
    """A job committed before column lineage was kept: a column it reads may change every row of
    its result (UNKNOWN), and a column it does not read reaches nothing."""
    old = JobRef(domain="old", job="old-job", event_type="e", reads={"t": ("a",)}, writes={"r": ("x",)})
    models = {"old": DomainModel(domain="old", tables=(table("t", "source", ("a", "b")),), jobs=(old,))}
    [hop] = downstream(models, "t", "a").hops
    assert (hop.node, hop.kind) == (Node("old", "r"), "UNKNOWN")
    assert downstream(models, "t", "b").hops == ()


# ---------------------------------------------------------------- the CLI

runner = CliRunner()


@pytest.fixture
def kb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("STREAMWRIGHT_HOME", str(tmp_path / "home"))
    app = typer.Typer()
    register(app)

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["kb", *args])
        return result.exit_code, result.stdout

    for name in ("orders", "payments"):
        spec = tmp_path / f"{name}.spec.json"
        spec.write_text(spec_of(document(name)).to_json(), encoding="utf-8")
        assert invoke("commit", str(spec))[0] == 0
    return invoke


def test_kb_impact_prints_the_chain(kb) -> None:  # type: ignore[no-untyped-def]
    """Below the direct users, the lineage tree: the column it feeds and the rows it shapes."""
    code, out = kb("impact", "dim_shop.shop_status")
    assert code == 0, out
    assert "reads  orders/" in out and "lineage (downstream, across jobs and domains):" in out
    assert (
        "=> rows of dwd_order_wide (orders)" in out and "ROWS JOIN, from dim_shop.shop_status (orders)" in out
    )
    code, out = kb("impact", "dim_shop.shop_name")
    assert "-> dwd_order_wide.shop_name (orders)" in out and "DIRECT TRANSFORMATION" in out


def test_kb_impact_json_has_the_lineage(kb) -> None:  # type: ignore[no-untyped-def]
    """`--json` adds `lineage`: start nodes, every reached node with its job, kind and chain."""
    code, out = kb("impact", "OrderPayload.discountAmount", "--json")
    doc: dict[str, Any] = json.loads(out)
    assert code == 0 and doc["jobs"] and set(doc) == {"table", "column", "domain", "jobs", "lineage"}
    assert doc["lineage"]["start"] == [
        {"domain": "orders", "table": "OrderPayload", "column": "discountAmount"}
    ]
    reached = {(r["table"], r["column"]): r for r in doc["lineage"]["reached"]}
    pay = reached[("dwd_order_wide", "pay_amount")]
    assert (pay["kind"], pay["subtype"], pay["job"]["domain"]) == ("DIRECT", "TRANSFORMATION", "orders")
    assert pay["chain"] == ["OrderPayload.discountAmount (orders)", "dwd_order_wide.pay_amount (orders)"]
    assert doc["lineage"]["cycles"] == []
