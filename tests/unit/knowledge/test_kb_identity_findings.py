"""Physical identity across domains (issue 18 item 7): the findings it drives.

- one name for two physical tables, one physical table under two names, different column
  sets of one physical table, each with its severity and naming both sides;
- records without options (older stores, connectors without identity) keep name-only findings;
- end to end through the handlers, the store-backed repository, the conflict report and
  CheckConflicts (what the validator asks).
"""

from __future__ import annotations

from typing import Any

import pytest
from knowledge_fakes import document, example_model, make_kb, spec_of

from services.knowledge.domain.checking import Baseline, check
from services.knowledge.domain.conflicts import Mode
from services.knowledge.domain.identity import identity_of
from services.knowledge.domain.model import DomainModel, KbColumn
from services.knowledge.domain.versions import VersionRecord
from services.knowledge.entrypoints.grpc_api import KnowledgeApi
from services.knowledge.handlers import KnowledgeHandlers
from services.mesh.events import (
    DecidedBy,
    Decision,
    Envelope,
    ErUpdated,
    GateDecided,
    GateMode,
    RequestAccepted,
)
from services.mesh.ids import new_ulid
from services.mesh.rpc.streamwright.v1 import common_pb2, knowledge_pb2
from tests.fakes import MemoryStore, RecordingPublisher

IDENTITY_KINDS = {"same_name_other_table", "same_table_other_name", "column_set_drift"}
TRADE = "jdbc:mysql://mysql-trade.internal:3306/trade_dim"
GEO = "jdbc:mysql://mysql-geo.internal:3306/geo_dim"


# ---------------------------------------------------------------- findings across domains


def _edit_table(model: DomainModel, name: str, changes: dict[str, Any]) -> DomainModel:
    changes = dict(changes)
    found = model.table(name)
    assert found is not None
    options = {**found.options, **changes.pop("options", {})}
    table = found.model_copy(update={"options": options, **changes})
    jobs = tuple(
        j.model_copy(
            update={
                "reads": {table.name if t == name else t: c for t, c in j.reads.items()},
                "writes": {table.name if t == name else t: c for t, c in j.writes.items()},
            }
        )
        for j in model.jobs
    )
    return model.model_copy(
        update={"tables": tuple(table if t.name == name else t for t in model.tables), "jobs": jobs}
    )


def logistics(*edits: tuple[str, dict[str, Any]]) -> DomainModel:
    """The orders model as another domain's (logistics/配送宽表), with table edits applied."""
    model = example_model("orders")
    model = model.model_copy(
        update={
            "domain": "logistics",
            "jobs": tuple(
                j.model_copy(update={"domain": "logistics", "job": "配送宽表"}) for j in model.jobs
            ),
        }
    )
    for name, changes in edits:
        model = _edit_table(model, name, changes)
    return model


def _columns(model: DomainModel, table: str, *extra: str, drop: tuple[str, ...] = ()) -> tuple[KbColumn, ...]:
    found = model.table(table)
    assert found is not None
    kept = tuple(c for c in found.columns if c.name not in drop)
    return kept + tuple(KbColumn(name=n, type="STRING") for n in extra)


ORDERS = example_model("orders")
RESULT_ELSEWHERE = {"options": {"tableName": "dwd_delivery_wide"}}


@pytest.mark.parametrize(
    ("other", "expected", "mentions"),
    [
        pytest.param(
            logistics(("dim_city", {"options": {"url": GEO}})),
            {("same_name_other_table", "dim_city", "warning")},
            [
                "in orders (订单实时宽表) the dimension table mysql://mysql-trade.internal:3306 table trade_dim.dim_city",
                "in logistics (配送宽表) the dimension table mysql://mysql-geo.internal:3306 table geo_dim.dim_city",
                "server mysql-trade.internal:3306 vs mysql-geo.internal:3306",
                "table trade_dim.dim_city vs geo_dim.dim_city",
            ],
            id="one-dimension-name-two-databases",
        ),
        pytest.param(
            logistics(
                (
                    "dim_city",
                    {
                        "options": {"url": GEO},
                        "columns": _columns(ORDERS, "dim_city", "region_code", drop=("city_tier",)),
                    },
                )
            ),
            {("same_name_other_table", "dim_city", "warning")},
            ["geo_dim.dim_city"],
            id="other-database-columns-are-not-drift",
        ),
        pytest.param(
            logistics(
                (
                    "dim_city",
                    {
                        "options": {"url": GEO},
                        "columns": tuple(
                            c.model_copy(update={"type": "BIGINT"}) if c.name == "city_id" else c
                            for c in _columns(ORDERS, "dim_city")
                        ),
                    },
                )
            ),
            {("same_name_other_table", "dim_city", "warning")},
            ["geo_dim.dim_city"],
            id="other-database-key-type-is-no-redefinition",
        ),
        pytest.param(
            logistics(("dwd_order_wide", RESULT_ELSEWHERE)),
            {("same_name_other_table", "dwd_order_wide", "critical")},
            ["odps://(default) table trade_dw.dwd_delivery_wide", "both are result tables"],
            id="one-result-name-two-tables",
        ),
        pytest.param(
            logistics(("dim_shop", {"name": "shop_dim"})),
            {("same_table_other_name", "dim_shop", "warning")},
            [
                "dim_shop (dimension) in orders (订单实时宽表) and shop_dim (dimension) in logistics (配送宽表)",
                "mysql://mysql-trade.internal:3306 table trade_dim.dim_shop",
            ],
            id="one-dimension-two-names",
        ),
        pytest.param(
            logistics(("dwd_order_wide", {"name": "dwd_delivery_wide"})),
            {("same_table_other_name", "dwd_order_wide", "critical")},
            [
                "dwd_delivery_wide (result) in logistics",
                "odps://(default) table trade_dw.dwd_order_wide",
                "both jobs write it",
            ],
            id="one-result-two-names",
        ),
        pytest.param(
            logistics(("dwd_order_wide", {"name": "dwd_delivery_wide", "role": "dimension"})),
            {("same_table_other_name", "dwd_order_wide", "warning")},
            ["dwd_delivery_wide (dimension)"],
            id="a-result-read-elsewhere-under-another-name",
        ),
        pytest.param(
            logistics(
                (
                    "dim_city",
                    {
                        "options": {
                            "url": TRADE.replace("mysql-trade.internal:3306", "MYSQL-TRADE.internal")
                            + "?useSSL=false"
                        }
                    },
                )
            ),
            set(),
            [],
            id="same-table-other-url-spelling",
        ),
        pytest.param(
            logistics(
                ("dim_city", {"columns": _columns(ORDERS, "dim_city", "region_code", drop=("city_tier",))})
            ),
            {("column_set_drift", "dim_city", "warning")},
            ["only in orders: city_tier; only in logistics: region_code", "table trade_dim.dim_city"],
            id="one-table-diverging-columns",
        ),
        pytest.param(
            logistics(
                ("dim_city", {"columns": _columns(ORDERS, "dim_city", drop=("city_tier", "province_name"))})
            ),
            {("column_set_drift", "dim_city", "info")},
            ["only in orders: province_name, city_tier"],
            id="one-table-column-subset",
        ),
        pytest.param(
            logistics(
                ("dim_shop", {"name": "shop_dim", "columns": _columns(ORDERS, "dim_shop", "shop_tag")})
            ),
            {("same_table_other_name", "dim_shop", "warning"), ("column_set_drift", "dim_shop", "info")},
            ["only in logistics: shop_tag", "shop_dim in logistics"],
            id="two-names-and-drift",
        ),
    ],
)
def test_identity_findings_across_domains(
    other: DomainModel, expected: set[tuple[str, str, str]], mentions: list[str]
) -> None:
    """It reports each identity finding with its severity under BACKWARD, naming both sides."""
    result = check(ORDERS, Baseline(others={"logistics": other}), Mode.BACKWARD)
    found = {(c.kind, c.table, c.severity) for c in result.changes if c.kind in IDENTITY_KINDS}
    assert found == expected
    text = " | ".join(c.detail for c in result.changes if c.kind in IDENTITY_KINDS)
    for mention in mentions:
        assert mention in text
    # Two different physical tables are not "one table defined differently" nor "written twice".
    collided = {c.table for c in result.changes if c.kind == "same_name_other_table"}
    assert not any(
        c.kind in ("table_redefined", "result_written_elsewhere") and c.table in collided
        for c in result.changes
    )


def test_critical_only_where_the_mode_checks() -> None:
    """It grades a two-results finding Warning under NONE, like the other two-writer findings."""
    other = logistics(("dwd_order_wide", {"name": "dwd_delivery_wide"}))
    assert not check(ORDERS, Baseline(others={"logistics": other}), Mode.BACKWARD).compatible
    lenient = check(ORDERS, Baseline(others={"logistics": other}), Mode.NONE)
    assert lenient.compatible
    assert [c.severity for c in lenient.changes if c.kind == "same_table_other_name"] == ["warning"]


@pytest.mark.parametrize(
    ("table_edit", "duplicate"),
    [
        pytest.param({"name": "dwd_delivery_wide"}, False, id="same-table-is-no-duplicate-job"),
        pytest.param({"name": "dwd_delivery_wide", **RESULT_ELSEWHERE}, True, id="other-table-may-be"),
    ],
)
def test_possible_duplicate_job_only_for_another_table(table_edit: dict[str, Any], duplicate: bool) -> None:
    """It calls a near-copy result a possible duplicate job only when it is another physical table."""
    other = logistics(("dwd_order_wide", table_edit))
    result = check(ORDERS, Baseline(others={"logistics": other}), Mode.BACKWARD)
    assert any(c.kind == "possible_duplicate_job" for c in result.changes) is duplicate


def test_same_table_same_name_keeps_the_name_findings() -> None:
    """It still reports one physical table, one name, written by two jobs, and names the place."""
    result = check(ORDERS, Baseline(others={"logistics": logistics()}), Mode.BACKWARD)
    (written,) = [c for c in result.changes if c.kind == "result_written_elsewhere"]
    assert written.severity == "critical" and "trade_dw.dwd_order_wide" in written.detail
    assert not [c for c in result.changes if c.kind in IDENTITY_KINDS]


def test_each_other_domain_gets_its_own_finding() -> None:
    """It keeps one collision per other domain (they share kind and table, not text)."""
    geo = logistics(("dim_city", {"options": {"url": GEO}}))
    crm = geo.model_copy(update={"domain": "crm"})
    crm = _edit_table(crm, "dim_city", {"options": {"url": "jdbc:mysql://mysql-crm.internal:3306/crm"}})
    result = check(ORDERS, Baseline(others={"logistics": geo, "crm": crm}), Mode.BACKWARD)
    details = [c.detail for c in result.changes if c.kind == "same_name_other_table"]
    assert len(details) == 2
    assert any("mysql-geo.internal" in d for d in details) and any("mysql-crm.internal" in d for d in details)


def _without_options(model: DomainModel) -> DomainModel:
    """A record as an older store may hold it: tables without `options`."""
    raw = model.model_dump(mode="json")
    for table in raw["tables"]:
        del table["options"]
    return DomainModel.model_validate(raw)


@pytest.mark.parametrize(
    ("other", "kinds"),
    [
        pytest.param(
            _without_options(logistics(("dim_city", {"options": {"url": GEO}}))),
            {"result_written_elsewhere"},
            id="moved-dimension-unknowable",
        ),
        pytest.param(
            _without_options(logistics(("dim_shop", {"name": "shop_dim"}))),
            {"result_written_elsewhere"},
            id="renamed-dimension-unknowable",
        ),
        pytest.param(
            _without_options(
                logistics(
                    (
                        "dim_city",
                        {
                            "columns": tuple(
                                c.model_copy(update={"type": "BIGINT"}) if c.name == "city_id" else c
                                for c in _columns(ORDERS, "dim_city")
                            )
                        },
                    )
                )
            ),
            {"result_written_elsewhere", "table_redefined"},
            id="same-name-still-one-table",
        ),
    ],
)
def test_records_without_options_keep_name_only_findings(other: DomainModel, kinds: set[str]) -> None:
    """It makes no identity finding against a record that holds no options, and falls back to names."""
    result = check(ORDERS, Baseline(others={"logistics": other}), Mode.BACKWARD)
    assert {c.kind for c in result.changes} & (
        IDENTITY_KINDS | {"table_redefined", "result_written_elsewhere"}
    ) == kinds


def test_a_stored_record_needs_no_new_field() -> None:
    """It derives the identity from the options a version record already stores (nothing to migrate)."""
    record = VersionRecord.model_validate(
        {
            "domain": "orders",
            "version": 1,
            "created_at": "2025-01-06T09:00:00Z",
            "model": ORDERS.model_dump(mode="json"),
        }
    )
    table = record.model.table("dim_city")
    assert table is not None
    assert str(identity_of(table.options)) == "mysql://mysql-trade.internal:3306 table trade_dim.dim_city"


# ---------------------------------------------------------------- end to end


def _logistics_document() -> str:
    """The orders request as logistics': its own result table, and dim_city in another database."""
    text = (
        document("orders")
        .replace('domain: "orders"', 'domain: "logistics"')
        .replace("domain = 'orders'", "domain = 'logistics'")
        .replace("dwd_order_wide", "dwd_delivery_wide")
    )
    moved = text.replace(
        f"'table-name' = 'dim_city',\n    'url' = '{TRADE}'",
        f"'table-name' = 'dim_city',\n    'url' = '{GEO}'",
    )
    assert moved != text
    return moved


async def _accept(handlers: KnowledgeHandlers, text: str) -> GateDecided:
    """RequestAccepted handled; returns the approval that follows it."""
    spec = spec_of(text)
    env = Envelope.new(
        event_type=RequestAccepted.EVENT_TYPE,
        producer="ingest",
        run_id=new_ulid(),
        request_id=new_ulid(),
        domain=spec.job.domain,
    )
    accepted = RequestAccepted(
        envelope=env, revision=1, content_hash=spec.content_hash, spec_version="1", spec_json=spec.to_json()
    )
    await handlers.on_request_accepted(accepted)
    return GateDecided(
        envelope=Envelope.caused_by(accepted, event_type=GateDecided.EVENT_TYPE, producer="router"),
        attempt=1,
        decision=Decision.APPROVED,
        reason="score 95",
        mode=GateMode.STRICT,
        decided_by=DecidedBy.GATE,
    )


async def test_a_moved_dimension_is_reported_end_to_end() -> None:
    """It reports one name for two physical tables through approval, the store, the report and CheckConflicts."""
    kb, files = make_kb(MemoryStore(), mode=Mode.BACKWARD)
    publisher = RecordingPublisher()
    handlers = KnowledgeHandlers(kb=kb, publisher=publisher)
    await handlers.on_gate_decided(await _accept(handlers, document("orders")))
    await handlers.on_gate_decided(await _accept(handlers, _logistics_document()))

    _, committed = publisher.of(ErUpdated)
    (collision,) = [c for c in committed.changes if c.kind == "same_name_other_table"]
    assert (collision.table, collision.severity) == ("dim_city", "warning")
    assert "mysql://mysql-geo.internal:3306 table geo_dim.dim_city" in collision.detail
    assert (
        "in orders (订单实时宽表) the dimension table mysql://mysql-trade.internal:3306" in collision.detail
    )
    stored = await kb.record("logistics")
    assert stored is not None and any(c.kind == "same_name_other_table" for c in stored.changes)
    (report,) = [text for name, text in files.files.items() if name.startswith("conflict-reports/logistics-")]
    assert "`same_name_other_table` dim_city: dim_city names different physical tables" in report

    # What the validator asks before a third domain writes orders' result table under its own name.
    third = (
        document("orders")
        .replace('domain: "orders"', 'domain: "finance"')
        .replace("domain = 'orders'", "domain = 'finance'")
        .replace("`vvp`.`default`.`dwd_order_wide`", "`vvp`.`default`.`dwd_finance_wide`")
        .replace("### 表名: dwd_order_wide", "### 表名: dwd_finance_wide")
    )
    request = knowledge_pb2.CheckConflictsRequest(domain="finance", spec_json=spec_of(third).to_json())
    answer = await KnowledgeApi(kb).CheckConflicts(request, None)  # type: ignore[arg-type]
    assert not answer.compatible
    aliased = [c for c in answer.conflicts if c.kind == "same_table_other_name"]
    assert [(c.table, c.severity) for c in aliased] == [("dwd_finance_wide", common_pb2.SEVERITY_CRITICAL)]
    assert "dwd_order_wide (result) in orders (订单实时宽表)" in aliased[0].detail
    assert "both jobs write it" in aliased[0].detail
