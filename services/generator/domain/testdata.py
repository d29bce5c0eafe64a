"""Edge-case test data for a generated job: events, dimension rows and invariants to check.

The data is derived from the typed spec only. It does not claim expected result rows (those
are the request's own cases); it states invariants a runner checks on any result: the job
never fails on a bad event, events of other domains/types never reach the result, INNER
misses drop, LEFT misses keep with NULL dimension columns, NOT NULL and primary-key rules hold.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from services.flinksql import expr as ex
from services.flinksql.spec import RequestSpec
from services.flinksql.sqltypes import FlinkType
from services.generator.domain.ir import JobIR

BASE_TIME = 1736208000000  # 2025-01-07T00:00:00Z, fixed: the same spec gives the same data


def _happy(t: FlinkType, n: int) -> Any:  # noqa: PLR0911 - one return per type family
    root = t.root
    if root in ("STRING", "VARCHAR", "CHAR"):
        return f"K{n:04d}"
    if root == "BOOLEAN":
        return True
    if root in ("TINYINT", "SMALLINT", "INT"):
        return n
    if root == "BIGINT":
        return BASE_TIME + n
    if root == "DECIMAL":
        return f"{n}.25"
    if root in ("FLOAT", "DOUBLE"):
        return n + 0.5
    return None


def _boundaries(t: FlinkType) -> list[tuple[str, Any]]:
    root = t.root
    ints = {"TINYINT": 7, "SMALLINT": 15, "INT": 31, "BIGINT": 63}
    if root in ints:
        bits = ints[root]
        return [
            ("max", 2**bits - 1),
            ("min", -(2**bits)),
            ("zero", 0),
            ("numeric_string", "2"),
            ("fraction", 2.5),
        ]
    if root == "DECIMAL":
        digits = (t.precision or 38) - (t.scale or 0)
        big = "9" * min(digits, 20) + "." + "9" * (t.scale or 0)
        return [("large", big), ("negative_half", "-0.005"), ("zero", "0"), ("numeric_string", "12.5")]
    if root in ("FLOAT", "DOUBLE"):
        return [("large", 1.0e300 if root == "DOUBLE" else 3.0e38), ("tiny", 1.0e-7), ("negative_zero", -0.0)]
    if root == "BOOLEAN":
        return [("string_true", "true"), ("false", False)]
    if root in ("STRING", "VARCHAR", "CHAR"):
        return [
            ("empty", ""),
            ("quotes", 'it\'s \\ "quoted" ;-- x'),
            ("unicode", "中文 ✓ \u00e9"),
            ("number", 12),
        ]
    return []


def _json_text(payload: Any) -> str | None:
    """The payload as the exact JSON text the event carries (a string is already raw text)."""
    if payload is None or isinstance(payload, str):
        return payload
    return json.dumps(payload, ensure_ascii=False, separators=(", ", ": "))


def _drop_value(pred: ex.Expr, fields: dict[str, FlinkType]) -> tuple[str, Any] | None:
    """A (payload field, value) that makes a simple predicate false, when its shape is simple."""
    if (  # noqa: SIM102
        isinstance(pred, ex.IsTest)
        and pred.test == "NULL"
        and pred.negated
        and isinstance(pred.operand, ex.Column)
    ):
        if pred.operand.qualifier == "payload":
            return pred.operand.name, None
    if isinstance(pred, ex.InList) and not pred.negated and isinstance(pred.operand, ex.Column):
        col = pred.operand
        if col.qualifier == "payload" and col.name in fields:
            t = fields[col.name]
            return col.name, ("__not_in_list__" if t.root in ("STRING", "VARCHAR", "CHAR") else -987654)
    if (
        isinstance(pred, ex.Binary)
        and isinstance(pred.left, ex.Column)
        and isinstance(pred.right, ex.NumberLit)
    ):
        col, lit = pred.left, Decimal(pred.right.text)
        if col.qualifier != "payload":
            return None
        delta = {">": 0, ">=": -1, "<": 0, "<=": 1, "=": 1, "<>": 0}.get(pred.op)
        if delta is None:
            return None
        return col.name, str(lit + delta)
    return None


def edge_cases(spec: RequestSpec, ir: JobIR) -> dict[str, Any]:  # noqa: C901, PLR0912, PLR0915 - one recipe
    fields = {f.name: f.flink_type for f in spec.payload.fields if f.flink_type is not None}
    used = [e.field for e in ir.events.extractions]
    happy = {name: _happy(fields[name], i + 1) for i, name in enumerate(used)}
    domain, etype = spec.job.domain, spec.job.event_type
    events: list[dict[str, Any]] = []

    def add(purpose: str, expect: str, payload: Any, *, dom: str = domain, typ: str = etype) -> None:
        n = len(events) + 1
        events.append(
            {
                "id": f"e{n:03d}",
                "purpose": purpose,
                "expect": expect,
                "event": {
                    "domain": dom,
                    "type": typ,
                    "create_time": BASE_TIME + n,
                    "payload": _json_text(payload),
                },
            }
        )

    add("every referenced field present, every lookup hits", "kept_unless_filtered", dict(happy))
    add("other domain", "dropped", dict(happy), dom=domain + "_other")
    add("other event type", "dropped", dict(happy), typ=etype + "_other")
    add("unparsable payload text", "no_failure", '{"' + (used[0] if used else "x") + '": ')
    add("NULL payload", "no_failure", None)
    add("empty JSON object", "no_failure", {})
    for name in used:
        add(f"payload.{name} missing", "no_failure", {k: v for k, v in happy.items() if k != name})
        add(f"payload.{name} is JSON null", "no_failure", {**happy, name: None})
        if fields[name].root not in ("STRING", "VARCHAR", "CHAR"):
            add(f"payload.{name} does not convert", "no_failure", {**happy, name: "abc"})
        add(f"payload.{name} is an object", "no_failure", {**happy, name: {"nested": 1}})
        for label, value in _boundaries(fields[name]):
            add(f"payload.{name} boundary {label}", "no_failure", {**happy, name: value})
    for j in spec.joins:
        if j.source_kind == "event":
            miss = (
                "MISS-0001"
                if (j.source_type is None or j.source_type.root in ("STRING", "VARCHAR", "CHAR"))
                else -1
            )
            expect = "dropped" if j.join_type == "INNER" else "kept_with_null_dimension_columns"
            add(f"lookup {j.name} misses ({j.join_type})", expect, {**happy, j.source_field: miss})
    for pred in (*spec.filters, *(r.condition for r in spec.business_rules)):
        drop = _drop_value(pred.ast, fields)
        if drop is not None:
            name, value = drop
            payload = (
                {k: v for k, v in happy.items() if k != name} if value is None else {**happy, name: value}
            )
            add(f"fails predicate {pred.text.strip()}", "dropped", payload)

    # dimension rows: each event-side key value of the happy event hits; cascades chain on
    dims: dict[str, list[dict[str, Any]]] = {}
    alias_row: dict[str, dict[str, Any]] = {}
    for n, j in enumerate(spec.joins, 1):
        dim = spec.dimension(j.target_table)
        if dim is None:
            continue
        row = {c.name: _happy(c.type, 100 * n + i) for i, c in enumerate(dim.table.columns)}
        key = (
            happy.get(j.source_field)
            if j.source_kind == "event"
            else alias_row.get(j.source_alias or "", {}).get(j.source_field)
        )
        if key is not None:
            row[j.target_field] = key
        alias_row[j.alias] = row
        rows = dims.setdefault(dim.table.name, [])
        if row not in rows:
            rows.append(row)
        null_row = {
            c.name: (row[c.name] if c.not_null or c.name in dim.table.primary_key else None)
            for c in dim.table.columns
        }
        null_row[j.target_field] = f"NULLS-{n}" if isinstance(key, str) else -n
        if null_row not in rows:
            rows.append(null_row)

    not_null = [c.name for c in spec.result.columns if c.not_null or c.name in spec.result.primary_key]
    invariants = [
        {"name": "no_failure", "check": "the job processes every event without failing"},
        {"name": "event_filter", "check": "events expected 'dropped' never contribute to a result row"},
        {
            "name": "not_null_columns",
            "columns": not_null,
            "check": "these columns are never NULL in the result",
        },
    ]
    if spec.result.primary_key:
        invariants.append(
            {
                "name": "primary_key_unique",
                "columns": list(spec.result.primary_key),
                "check": "at most one row per key",
            }
        )
    if not ir.is_aggregate:
        invariants.append({"name": "row_count", "check": "result rows <= events expected kept"})
    return {
        "test_data": {
            "domain": domain,
            "event_type": etype,
            "revision": ir.header.revision,
            "content_hash": ir.header.content_hash,
            "events": events,
            "dimensions": dims,
            "invariants": invariants,
        }
    }
