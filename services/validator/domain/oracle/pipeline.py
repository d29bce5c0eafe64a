"""The job a request specifies (request-format.md §5), computed from the spec without Flink.

Events are filtered by domain and type, joined in block order (lookup joins against static rows
are regular joins), filtered by the data filters and business rules (only TRUE passes), mapped
(and grouped when a mapping aggregates), cast to the result columns, rid of rows with NULL in a
NOT NULL column, and upserted by the result's primary key in event order. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from services.flinksql import expr as ast
from services.flinksql.spec import Join, RequestSpec
from services.flinksql.sqltypes import FlinkType, decimal, simple
from services.validator.domain.oracle.evaluate import Evaluator, Scope, Typed, payload_json
from services.validator.domain.oracle.scalars import (
    WIDE,
    CastFailure,
    JobFailure,
    Unsupported,
    cast,
    compare,
    fit_decimal,
    wrap,
)
from services.validator.domain.values import payload_text, text_value

Row = dict[str, object]


def dimension_rows(
    spec: RequestSpec, dimensions: Mapping[str, Iterable[Mapping[str, Any]]]
) -> dict[str, list[Row]]:
    """Each dimension table's case rows typed by its DDL columns (a left-out column is NULL)."""
    zone = ZoneInfo(spec.job.time_zone)
    out: dict[str, list[Row]] = {}
    for dim in spec.dimensions:
        rows = []
        for raw in dimensions.get(dim.table.name) or ():
            rows.append({c.name: _typed_cell(raw.get(c.name), c.type, zone) for c in dim.table.columns})
        out[dim.table.name] = rows
    return out


def _typed_cell(value: object, ftype: FlinkType, zone: ZoneInfo) -> object:  # noqa: PLR0911
    """A YAML value as the column type holds it (as the runner's JSON/PostgreSQL load reads it)."""
    if value is None:
        return None
    root = ftype.root
    try:
        if root in ("STRING", "VARCHAR", "CHAR"):
            return text_value(value)
        if root == "BOOLEAN" and isinstance(value, bool):
            return value
        if (
            root in ("TINYINT", "SMALLINT", "INT", "BIGINT")
            and isinstance(value, int)
            and not isinstance(value, bool)
        ):
            return value
        if root == "DECIMAL" and not isinstance(value, bool):
            assert ftype.precision is not None and ftype.scale is not None
            return fit_decimal(Decimal(str(value)), ftype.precision, ftype.scale)
        if root in ("FLOAT", "DOUBLE") and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if root in ("DATE", "TIME", "TIMESTAMP", "TIMESTAMP_LTZ") and isinstance(value, str):
            return cast(value, simple("STRING"), ftype, zone)
    except (CastFailure, ArithmeticError, ValueError) as err:
        raise Unsupported(f"the dimension value {value!r} for {ftype.sql()} ({err})") from err
    raise Unsupported(f"the dimension value {value!r} for {ftype.sql()}")


@dataclass
class _Group:
    scopes: list[Scope] = field(default_factory=list)
    last_event: int = 0


class Interpreter:
    """The oracle: `run(events, dimensions)` gives the result table's content as typed rows."""

    def __init__(self, spec: RequestSpec) -> None:
        self.spec = spec
        self.ev = Evaluator(spec)
        self.columns = [(c.name, c.type) for c in spec.result.columns]
        self.not_null = {c.name for c in spec.result.columns if c.not_null} | set(spec.result.primary_key)
        self.mappings = {m.column: m for m in spec.mappings}
        missing = [name for name, _ in self.columns if name not in self.mappings]
        if missing:
            raise Unsupported(f"result column(s) without a mapping: {missing}")

    # ------------------------------------------------------------ the job

    def run(
        self, events: Sequence[Mapping[str, Any]], dimensions: Mapping[str, Iterable[Mapping[str, Any]]]
    ) -> list[Row]:
        dims = dimension_rows(self.spec, dimensions)
        joined: list[tuple[int, Scope]] = []
        for index, event in enumerate(events):
            if event.get("domain") != self.spec.job.domain or event.get("type") != self.spec.job.event_type:
                continue
            payload = payload_json(payload_text(event.get("payload")))
            for scope in self._join(Scope(payload=payload), dims):
                if self._passes(scope):
                    joined.append((index, scope))
        if self.spec.aggregation.is_aggregate:
            written = self._aggregate(joined)
        else:
            written = [self._row(scope) for _, scope in joined]
        return self._sink(written)

    def reach(
        self, events: Sequence[Mapping[str, Any]], dimensions: Mapping[str, Iterable[Mapping[str, Any]]]
    ) -> tuple[int, int, dict[str, int]]:
        """Why rows reach the result or not: the job's events (its domain and type), their joined
        rows, and on how many joined rows each filter and business rule (by its text) is TRUE."""
        dims = dimension_rows(self.spec, dimensions)
        labels = [(f"`{f.text}`", f.ast) for f in self.spec.filters]
        labels += [(f"{r.name} (`{r.condition.text}`)", r.condition.ast) for r in self.spec.business_rules]
        mine, joined, holds = 0, 0, dict.fromkeys((label for label, _ in labels), 0)
        for event in events:
            if event.get("domain") != self.spec.job.domain or event.get("type") != self.spec.job.event_type:
                continue
            mine += 1
            payload = payload_json(payload_text(event.get("payload")))
            for scope in self._join(Scope(payload=payload), dims):
                joined += 1
                for label, predicate in labels:
                    with suppress(JobFailure, CastFailure, ArithmeticError, ValueError):
                        holds[label] += self.ev.truth(predicate, scope) is True
        return mine, joined, holds

    def _join(self, scope: Scope, dims: Mapping[str, list[Row]]) -> list[Scope]:
        scopes = [scope]
        for join in self.spec.joins:
            scopes = [out for s in scopes for out in self._join_one(join, s, dims[join.target_table])]
        return scopes

    def _join_one(self, join: Join, scope: Scope, rows: list[Row]) -> list[Scope]:
        key = self._join_key(join, scope)
        target = self.ev.alias_types[join.alias][join.target_field]
        matches = []
        if key[0] is not None:
            for row in rows:
                if compare(row.get(join.target_field), target, key[0], key[1], self.ev.zone) != 0:
                    continue
                candidate = Scope(scope.payload, {**scope.rows, join.alias: row}, scope.cache)
                if join.additional_condition is None or self.ev.truth(
                    join.additional_condition.ast, candidate
                ):
                    matches.append(candidate)
        if matches:
            return matches
        if join.join_type == "INNER":
            return []
        return [Scope(scope.payload, {**scope.rows, join.alias: None}, scope.cache)]

    def _join_key(self, join: Join, scope: Scope) -> Typed:
        if join.source_kind == "event":
            return self.ev.eval(ast.Column(qualifier="payload", name=join.source_field), scope)
        assert join.source_alias is not None
        return self.ev.eval(ast.Column(qualifier=join.source_alias, name=join.source_field), scope)

    def _passes(self, scope: Scope) -> bool:
        predicates = [f.ast for f in self.spec.filters] + [r.condition.ast for r in self.spec.business_rules]
        return all(self.ev.truth(p, scope) is True for p in predicates)

    def _row(self, scope: Scope) -> Row:
        return {name: self._column(name, ftype, scope) for name, ftype in self.columns}

    def _column(self, name: str, ftype: FlinkType, scope: Scope) -> object:
        value, vtype = self.ev.eval(self.mappings[name].expression.ast, scope)
        try:  # the INSERT's CAST (or value-preserving implicit widening) to the column type
            return cast(value, vtype, ftype, self.ev.zone)
        except CastFailure as err:
            raise JobFailure(f"column {name}: {err}") from err

    # ------------------------------------------------------------ aggregation

    def _aggregate(self, joined: list[tuple[int, Scope]]) -> list[Row]:
        keys = self.spec.aggregation.group_by
        groups: dict[tuple[object, ...], _Group] = {}
        for index, scope in joined:
            key = tuple(_hashable(self._column(k, dict(self.columns)[k], scope)) for k in keys)
            group = groups.setdefault(key, _Group())
            group.scopes.append(scope)
            group.last_event = index
        rows = []
        for group in sorted(groups.values(), key=lambda g: g.last_event):  # the last update wins
            first = group.scopes[0]
            self.ev.aggregate = lambda call, g=group: self._aggregate_call(call, g.scopes)
            try:
                rows.append(self._row(first))
            finally:
                self.ev.aggregate = None
        return rows

    def _aggregate_call(self, call: ast.Call, scopes: list[Scope]) -> Typed:  # noqa: C901, PLR0911, PLR0912
        name = call.name
        saved, self.ev.aggregate = self.ev.aggregate, None  # no nested aggregates
        try:
            if call.star:
                return len(scopes), simple("BIGINT", nullable=False)
            if len(call.args) != 1:
                raise Unsupported(f"{name} of {len(call.args)} arguments")
            typed = [self.ev.eval(call.args[0], s) for s in scopes]
            atype = self.ev._type(call.args[0])
        finally:
            self.ev.aggregate = saved
        values = [v for v, _ in typed if v is not None]
        if call.distinct:
            unique: list[object] = []
            for v in values:
                if not any(compare(v, atype, u, atype, self.ev.zone) == 0 for u in unique):
                    unique.append(v)
            values = unique
        if name == "COUNT":
            return len(values), simple("BIGINT", nullable=False)
        if name in ("MAX", "MIN"):
            best: object = None
            for v in values:
                if best is None:
                    best = v
                    continue
                c = compare(v, atype, best, atype, self.ev.zone)
                if c is not None and (c > 0 if name == "MAX" else c < 0):
                    best = v
            return best, atype.with_nullable(True)
        if atype.root in ("TINYINT", "SMALLINT", "INT", "BIGINT"):
            total = sum(int(v) for v in values)  # type: ignore[call-overload]
            if name == "SUM":
                return (wrap(total, atype.root) if values else None), atype.with_nullable(True)
            if name == "AVG":  # a long sum divided by the count, truncated, in the argument's type
                if not values:
                    return None, atype.with_nullable(True)
                quotient = abs(total) // len(values) * (1 if total >= 0 else -1)
                return wrap(quotient, atype.root), atype.with_nullable(True)
        if atype.root == "DECIMAL":
            assert atype.scale is not None
            total_d = sum((Decimal(v) for v in values), Decimal(0))  # type: ignore[arg-type]
            if name == "SUM":
                rtype = decimal(38, atype.scale)
                return (fit_decimal(total_d, 38, atype.scale) if values else None), rtype
            if name == "AVG":
                scale = max(6, atype.scale)
                rtype = decimal(38, scale)
                if not values:
                    return None, rtype
                return fit_decimal(WIDE.divide(total_d, Decimal(len(values))), 38, scale), rtype
        if atype.root in ("FLOAT", "DOUBLE"):
            total_f = sum((float(v) for v in values), 0.0)  # type: ignore[arg-type]
            if not values:
                return None, atype.with_nullable(True)
            return (total_f if name == "SUM" else total_f / len(values)), atype.with_nullable(True)
        raise Unsupported(f"{name} of {atype.sql()}")

    # ------------------------------------------------------------ the sink

    def _sink(self, written: list[Row]) -> list[Row]:
        kept = [row for row in written if all(row[c] is not None for c in self.not_null)]
        pk = self.spec.result.primary_key
        if not pk:
            return kept
        latest: dict[tuple[object, ...], Row] = {}
        for row in kept:  # upsert: the last row written per key
            key = tuple(_hashable(row[k]) for k in pk)
            latest.pop(key, None)
            latest[key] = row
        return list(latest.values())


def _hashable(value: object) -> object:
    return value.normalize() if isinstance(value, Decimal) else value


__all__ = ["Interpreter", "Row", "dimension_rows"]
