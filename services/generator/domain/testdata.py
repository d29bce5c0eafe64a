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
from services.flinksql.sqltypes import FlinkType, char_length
from services.generator.domain.ir import JobIR

BASE_TIME = 1736208000000  # 2025-01-07T00:00:00Z, fixed: the same spec gives the same data


_INT_MAX: dict[str, int] = {"TINYINT": 2**7 - 1, "SMALLINT": 2**15 - 1, "INT": 2**31 - 1, "BIGINT": 2**63 - 1}
_INT_BITS = {"TINYINT": 8, "SMALLINT": 16, "INT": 32, "BIGINT": 64}
_TEXT = ("STRING", "VARCHAR", "CHAR")
_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _base36(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _DIGITS[r] + out
        if n == 0:
            return out


def _text(n: int, types: list[FlinkType]) -> str:
    """`K0001`-like text that fits every one of `types` (a CHAR(L) gets exactly L characters)."""
    text = f"K{n:04d}"
    limit = min(char_length(t) for t in types)
    if len(text) > limit:
        text = _base36(n).rjust(limit, "0")[-limit:]
    chars = [t.length for t in types if t.root == "CHAR" and t.length]
    if chars and len(text) < min(chars):
        text = text.ljust(min(chars), "x")
    return text


def _int_room(t: FlinkType) -> int | None:
    """The largest integer the numeric type holds (None: not numeric)."""
    if t.root in _INT_MAX:
        return _INT_MAX[t.root]
    if t.root == "DECIMAL":
        return int(10 ** ((t.precision or 38) - (t.scale or 0))) - 1
    if t.root == "FLOAT":
        return 2**24
    if t.root == "DOUBLE":
        return 2**53
    return None


def _happy(t: FlinkType, n: int) -> Any:  # noqa: PLR0911 - one return per type family
    """A typical value valid for the type (a dimension column's DDL type holds it)."""
    root = t.root
    if root in _TEXT:
        return _text(n, [t])
    if root == "BOOLEAN":
        return True
    if root in ("TINYINT", "SMALLINT", "INT"):
        return 1 + (n - 1) % _INT_MAX[root]
    if root == "BIGINT":
        return BASE_TIME + n
    if root == "DECIMAL":
        room = _int_room(t) or 0
        whole = n % (room + 1)
        scale = t.scale or 0
        return f"{whole}.25" if scale >= 2 else f"{whole}.5" if scale == 1 else str(whole)
    if root in ("FLOAT", "DOUBLE"):
        return n + 0.5
    return None


def _key(types: list[FlinkType], n: int) -> Any:
    """A join key value valid for every type of `types` (the source key's and the targets') and
    equal in each of them: an integer within the narrowest numeric range, or text within the
    shortest length. `n` > 0 picks it; `-n` gives a negative one."""
    sign = -1 if n < 0 else 1
    n = abs(n)
    if types and all(t.root in _TEXT for t in types):
        text = _text(n, types)
        bounded = [char_length(t) for t in types if t.root != "STRING"]
        if bounded and len(text) < min(bounded) <= 64:  # as long as the shortest key type allows
            text = text.ljust(min(bounded), "x")
        return text
    rooms = [_int_room(t) for t in types]
    if types and all(r is not None for r in rooms):
        room = min(r for r in rooms if r is not None)
        if room >= 1:
            return sign * (1 + (n - 1) % room)
    return _happy(types[0], n) if types else None


def _fresh(types: list[FlinkType], start: int, taken: list[Any]) -> Any:
    """A key value as `_key` gives, different from every value in `taken`."""
    step = -1 if start < 0 else 1
    for m in range(start, start + step * 100_000, step):
        value = _key(types, m)
        if value not in taken:
            return value
    return _key(types, start)  # pragma: no cover - 100000 values of one type all taken


def _near_miss(key: Any, source: FlinkType, target: FlinkType) -> Any:
    """A source value that is not `key` but that a lossy conversion to `target` would turn into
    it (BIGINT key + 2**32 wraps to the INT key, a fraction truncates, a longer text is cut), or
    None when the source type cannot hold such a value."""
    if isinstance(key, str) and source.root in _TEXT and target.root in _TEXT:
        fits = len(key) == char_length(target) < char_length(source)
        return key + "X" if fits else None
    if not isinstance(key, int) or target.root not in _INT_BITS:
        return None
    if source.root in _INT_BITS and _INT_BITS[source.root] > _INT_BITS[target.root]:
        return key + 2 ** _INT_BITS[target.root]
    if source.root == "DECIMAL" and (source.scale or 0) >= 1:
        return f"{key}.6"
    if source.root in ("FLOAT", "DOUBLE"):
        return key + 0.6
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
    if root in _TEXT:
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
            return col.name, ("__not_in_list__" if t.root in _TEXT else -987654)
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


def _dimension_rows(spec: RequestSpec, happy: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Per join, a row its happy key hits and a row with NULL in every nullable column; each value
    valid for its column's DDL type. A cascade's source column holds a key valid for the cascade's
    target key type too, so the cascade hits as well."""
    dims: dict[str, list[dict[str, Any]]] = {}
    alias_row: dict[str, dict[str, Any]] = {}
    for n, j in enumerate(spec.joins, 1):
        dim = spec.dimension(j.target_table)
        if dim is None:
            continue
        cascades = {
            k.source_field: k.target_type
            for k in spec.joins
            if k.source_kind != "event" and k.source_alias == j.alias and k.target_type is not None
        }
        row = {
            c.name: (
                _key([c.type, cascades[c.name]], 100 * n + i)
                if c.name in cascades and c.name != j.target_field
                else _happy(c.type, 100 * n + i)
            )
            for i, c in enumerate(dim.table.columns)
        }
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
        pk = dim.table.primary_key
        null_row = {c.name: (row[c.name] if c.not_null or c.name in pk else None) for c in dim.table.columns}
        by_name = {c.name: c for c in dim.table.columns}
        fresh = [j.target_field] + (
            [c for c in pk if c != j.target_field] if j.target_field not in pk else []
        )
        for name in fresh:
            if name in by_name:
                null_row[name] = _fresh([by_name[name].type], 700 + n, [key, *(r.get(name) for r in rows)])
        if null_row not in rows:
            rows.append(null_row)
    return dims


def edge_cases(spec: RequestSpec, ir: JobIR) -> dict[str, Any]:  # noqa: C901, PLR0912 - one recipe
    fields = {f.name: f.flink_type for f in spec.payload.fields if f.flink_type is not None}
    used = [e.field for e in ir.events.extractions]
    # A join key field's value is valid in its own type and in every dimension key type it is
    # compared with, so the dimension rows below hold it as it is and it matches them exactly.
    key_types: dict[str, list[FlinkType]] = {}
    for j in spec.joins:
        if j.source_kind == "event" and j.source_field in fields and j.target_type is not None:
            key_types.setdefault(j.source_field, [fields[j.source_field]]).append(j.target_type)
    happy = {
        name: _key(key_types[name], i + 1) if name in key_types else _happy(fields[name], i + 1)
        for i, name in enumerate(used)
    }
    dims = _dimension_rows(spec, happy)
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
        if fields[name].root not in _TEXT:
            add(f"payload.{name} does not convert", "no_failure", {**happy, name: "abc"})
        add(f"payload.{name} is an object", "no_failure", {**happy, name: {"nested": 1}})
        for label, value in _boundaries(fields[name]):
            add(f"payload.{name} boundary {label}", "no_failure", {**happy, name: value})
    for n, j in enumerate(spec.joins, 1):
        if j.source_kind != "event":
            continue
        expect = "dropped" if j.join_type == "INNER" else "kept_with_null_dimension_columns"
        key = happy.get(j.source_field)
        taken = [key, *(r.get(j.target_field) for r in dims.get(j.target_table, []))]
        if j.source_type is not None and j.target_type is not None:
            miss = _fresh([j.source_type, j.target_type], -(900 + n), taken)
        else:
            miss = "MISS-0001" if j.source_type is None or j.source_type.root in _TEXT else -1
        add(f"lookup {j.name} misses ({j.join_type})", expect, {**happy, j.source_field: miss})
        if j.source_type is None or j.target_type is None or key is None:
            continue
        near = _near_miss(key, j.source_type, j.target_type)
        if near is not None and near not in taken:
            add(
                f"lookup {j.name} near miss ({j.join_type}): {near!r} is not the key {key!r} "
                f"(a lossy conversion to {j.target_type.with_nullable(True).sql()} would make it so)",
                expect,
                {**happy, j.source_field: near},
            )
    for pred in (*spec.filters, *(r.condition for r in spec.business_rules)):
        drop = _drop_value(pred.ast, fields)
        if drop is not None:
            name, value = drop
            payload = (
                {k: v for k, v in happy.items() if k != name} if value is None else {**happy, name: value}
            )
            add(f"fails predicate {pred.text.strip()}", "dropped", payload)

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
