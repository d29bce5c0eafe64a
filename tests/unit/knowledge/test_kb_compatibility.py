"""Each kind of change in each compatibility mode is graded as documented (table-driven)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from knowledge_fakes import add_column, drop_column, edit_column, example_model, replace_table

from services.knowledge.domain.checking import Baseline, check
from services.knowledge.domain.conflicts import (
    RULES,
    Mode,
    cardinality_change,
    classify,
    diff_models,
    type_change,
)
from services.knowledge.domain.model import DomainModel, KbColumn

B, BT, F, FT, FU, FUT, N = (
    Mode.BACKWARD,
    Mode.BACKWARD_TRANSITIVE,
    Mode.FORWARD,
    Mode.FORWARD_TRANSITIVE,
    Mode.FULL,
    Mode.FULL_TRANSITIVE,
    Mode.NONE,
)
ALL_MODES = (B, BT, F, FT, FU, FUT, N)
Edit = Callable[[DomainModel], DomainModel]


def _rel(model: DomainModel, **changes: object) -> DomainModel:
    first, *rest = model.relationships
    return model.model_copy(update={"relationships": (first.model_copy(update=changes), *rest)})


def _result(model: DomainModel, **changes: object) -> DomainModel:
    table = model.table("dwd_order_wide")
    assert table is not None
    return replace_table(model, table.model_copy(update=changes))


def _drop_table(name: str) -> Edit:
    return lambda m: m.model_copy(update={"tables": tuple(t for t in m.tables if t.name != name)})


EDITS: dict[str, tuple[Edit, str, str | None]] = {
    # kind: (edit of the orders model, table, column)
    "column_added": (
        lambda m: add_column(m, "dwd_order_wide", KbColumn(name="coupon_code", type="STRING")),
        "dwd_order_wide",
        "coupon_code",
    ),
    "column_added_required": (
        lambda m: add_column(
            m, "dwd_order_wide", KbColumn(name="coupon_code", type="STRING", nullable=False)
        ),
        "dwd_order_wide",
        "coupon_code",
    ),
    "column_removed": (lambda m: drop_column(m, "dwd_order_wide", "channel"), "dwd_order_wide", "channel"),
    "column_renamed": (
        lambda m: edit_column(m, "dwd_order_wide", "province_name", name="provinceName"),
        "dwd_order_wide",
        "provinceName",
    ),
    "type_widened": (
        lambda m: edit_column(m, "dwd_order_wide", "item_count", type="BIGINT"),
        "dwd_order_wide",
        "item_count",
    ),
    "type_narrowed": (
        lambda m: edit_column(m, "dwd_order_wide", "order_amount", type="DECIMAL(10, 2)"),
        "dwd_order_wide",
        "order_amount",
    ),
    "type_changed": (
        lambda m: edit_column(m, "dwd_order_wide", "order_status", type="STRING"),
        "dwd_order_wide",
        "order_status",
    ),
    "nullability_relaxed": (
        lambda m: edit_column(m, "dim_city", "city_id", nullable=True),
        "dim_city",
        "city_id",
    ),
    "nullability_tightened": (
        lambda m: edit_column(m, "dwd_order_wide", "channel", nullable=False),
        "dwd_order_wide",
        "channel",
    ),
    "key_changed": (lambda m: _result(m, primary_key=("order_id", "shop_id")), "dwd_order_wide", None),
    "table_removed": (_drop_table("dwd_order_wide"), "dwd_order_wide", None),
    "relationship_removed": (
        lambda m: m.model_copy(update={"relationships": m.relationships[:1]}),
        "dim_shop",
        None,
    ),
    "relationship_key_changed": (lambda m: _rel(m, from_columns=("userId",)), "OrderPayload", None),
    "cardinality_relaxed": (lambda m: _rel(m, to_cardinality="zero_or_more"), "OrderPayload", None),
    "cardinality_tightened": (
        lambda m: _rel(_rel(m, to_cardinality="zero_or_more")),
        "OrderPayload",
        None,
    ),
    "join_type_changed": (lambda m: _rel(m, join_type="INNER"), "OrderPayload", None),
    "connector_changed": (
        lambda m: _result(m, options={"connector": "jdbc", "table-name": "dwd_order_wide"}),
        "dwd_order_wide",
        None,
    ),
    "comment_changed": (lambda m: _result(m, comment="订单宽表 v2"), "dwd_order_wide", None),
}

# kind: severity under B, BT, F, FT, FULL, FULL_T, NONE
EXPECTED: dict[str, tuple[str, ...]] = {
    "column_added": ("info",) * 7,
    "column_added_required": (
        "critical",
        "critical",
        "warning",
        "warning",
        "critical",
        "critical",
        "warning",
    ),
    "column_removed": ("warning", "warning", "critical", "critical", "critical", "critical", "warning"),
    "column_renamed": ("critical",) * 6 + ("warning",),
    "type_widened": ("warning", "warning", "critical", "critical", "critical", "critical", "warning"),
    "type_narrowed": ("critical", "critical", "warning", "warning", "critical", "critical", "warning"),
    "type_changed": ("critical",) * 6 + ("warning",),
    "nullability_relaxed": ("warning", "warning", "critical", "critical", "critical", "critical", "warning"),
    "nullability_tightened": (
        "critical",
        "critical",
        "warning",
        "warning",
        "critical",
        "critical",
        "warning",
    ),
    "key_changed": ("critical",) * 6 + ("warning",),
    "table_removed": ("warning", "warning", "critical", "critical", "critical", "critical", "warning"),
    "relationship_removed": ("warning",) * 7,
    "relationship_key_changed": ("critical",) * 6 + ("warning",),
    "cardinality_relaxed": ("warning", "warning", "critical", "critical", "critical", "critical", "warning"),
    "cardinality_tightened": (
        "critical",
        "critical",
        "warning",
        "warning",
        "critical",
        "critical",
        "warning",
    ),
    "join_type_changed": ("warning",) * 7,
    "connector_changed": ("warning",) * 7,
    "comment_changed": ("info",) * 7,
}

CASES = [
    pytest.param(kind, mode, severity, id=f"{kind}-{mode.value}")
    for kind, severities in EXPECTED.items()
    for mode, severity in zip(ALL_MODES, severities, strict=True)
]


def _baseline_for(kind: str) -> tuple[DomainModel, DomainModel]:
    base = example_model("orders")
    edit, _, _ = EDITS[kind]
    if kind == "cardinality_tightened":  # old: to-many; new: the example's to-one
        return _rel(base, to_cardinality="zero_or_more"), base
    return base, edit(base)


@pytest.mark.parametrize(("kind", "mode", "severity"), CASES)
def test_change_is_graded_by_mode(kind: str, mode: Mode, severity: str) -> None:
    """It finds the change kind and grades it as the rules table says for that mode."""
    old, new = _baseline_for(kind)
    _, table, column = EDITS[kind]
    result = check(new, Baseline(history=[(1, old)], others={}), mode)
    found = [
        c
        for c in result.changes
        if c.kind == kind and c.table == table and (column is None or c.column == column)
    ]
    assert found, [(c.kind, c.table, c.column) for c in result.changes]
    assert found[0].severity == severity
    assert result.compatible == (not any(c.severity == "critical" for c in result.changes))


def test_case_table_is_large_and_covers_every_graded_kind() -> None:
    """It has at least 30 cases and every kind in the table has a rule."""
    assert len(CASES) >= 30
    assert set(EXPECTED) <= set(RULES)


def test_unchanged_model_has_no_changes() -> None:
    """It reports nothing when a request is resubmitted unchanged."""
    model = example_model("orders")
    result = check(model, Baseline(history=[(1, model)], others={"orders": model}), Mode.FULL_TRANSITIVE)
    assert result.changes == () and result.compatible


def test_transitive_modes_check_every_live_version() -> None:
    """It flags a change against an older version only in the transitive variant, naming that version."""
    v1 = example_model("orders")
    v2 = drop_column(v1, "dwd_order_wide", "channel")  # v1 -> v2 already dropped it
    v3 = drop_column(v2, "dwd_order_wide", "city_name")
    history = [(1, v1), (2, v2)]
    plain = check(v3, Baseline(history=history), Mode.FORWARD)
    transitive = check(v3, Baseline(history=history), Mode.FORWARD_TRANSITIVE)
    assert {c.column for c in plain.critical} == {"city_name"}
    assert {c.column for c in transitive.critical} == {"city_name", "channel"}
    assert any("(against v1)" in c.detail for c in transitive.critical)


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        ("INT", "BIGINT", "type_widened"),
        ("BIGINT", "INT", "type_narrowed"),
        ("DECIMAL(12, 2)", "DECIMAL(14, 2)", "type_widened"),
        ("DECIMAL(12, 2)", "DECIMAL(14, 1)", "type_changed"),
        ("VARCHAR(10)", "STRING", "type_widened"),
        ("TIMESTAMP(3)", "TIMESTAMP(6)", "type_widened"),
        ("STRING", "INT", "type_changed"),
        ("STRING", "STRING", None),
    ],
)
def test_type_change_direction(old: str, new: str, kind: str | None) -> None:
    """It tells widening from narrowing with Flink's value-preserving assignment rules."""
    assert type_change(old, new) == kind


def test_cardinality_directions() -> None:
    """It reads to-many and optional as relaxed, to-one and mandatory as tightened."""
    assert cardinality_change("exactly_one", "zero_or_one") == "cardinality_relaxed"
    assert cardinality_change("zero_or_one", "exactly_one") == "cardinality_tightened"
    assert cardinality_change("exactly_one", "zero_or_more") == "cardinality_relaxed"
    assert cardinality_change("zero_or_more", "exactly_one") == "cardinality_tightened"
    assert cardinality_change("zero_or_one", "one_or_more") == "cardinality_changed"


def test_rename_heuristic_pairs_similar_names_only() -> None:
    """It calls shop_name -> shopName a rename but a removed and an unrelated added column two changes."""
    base = example_model("orders")
    renamed = edit_column(base, "dwd_order_wide", "shop_name", name="shopName")
    kinds = {c.kind for c in diff_models(base, renamed)}
    assert "column_renamed" in kinds and "column_removed" not in kinds
    swapped = add_column(
        drop_column(base, "dwd_order_wide", "channel"),
        "dwd_order_wide",
        KbColumn(name="gmv_total", type="DECIMAL(12, 2)"),
    )
    kinds = {c.kind for c in diff_models(base, swapped)}
    assert {"column_removed", "column_added"} <= kinds and "column_renamed" not in kinds


def test_classify_keeps_base_severity_of_harmless_changes() -> None:
    """It never raises a change that breaks no direction above its base severity."""
    base = example_model("orders")
    added = add_column(base, "dwd_order_wide", KbColumn(name="note", type="STRING"))
    (found,) = [c for c in diff_models(base, added) if c.kind == "column_added"]
    assert classify(found, Mode.FULL_TRANSITIVE).severity == "info"
