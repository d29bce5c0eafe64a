"""Column lineage of a request's job: which input columns each result column is made from.

Computed from the spec alone (the mapping, join, filter, rule and grouping expressions), so the
generator (its OpenLineage artifact, services/flinksql/openlineage.py) and the knowledge base
(`JobRef.lineage`, the transitive `kb impact TABLE.COLUMN`) read one answer.

Names are the request's: a payload field is `(<payload class>, <field>)` with `payload` set, a
dimension column is `(<dimension table>, <column>)` (the join alias resolved). Each use carries
the OpenLineage transformation it is (ColumnLineageDatasetFacet 1-2-0):

- DIRECT, per result column: IDENTITY (the mapping is that column itself, no cast: the same
  type), TRANSFORMATION (any other expression of it, a cast included), AGGREGATION (inside
  SUM/COUNT/MAX/MIN/AVG). `masking` when the value only reaches the result through a hash
  (MD5, SHA1, SHA2 ...).
- INDIRECT, per result column: CONDITIONAL (a CASE condition or operand, IF's condition).
- INDIRECT, for every row of the result (`JobLineage.rows`): FILTER (data filters and business
  rules), JOIN (join keys and extra join conditions), GROUP_BY (the grouping expressions).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from services.flinksql import expr as ex
from services.flinksql.spec import Join, RequestSpec
from services.flinksql.sqltypes import same_type

TransformationType = Literal["DIRECT", "INDIRECT"]
Subtype = Literal["IDENTITY", "TRANSFORMATION", "AGGREGATION", "CONDITIONAL", "FILTER", "JOIN", "GROUP_BY"]
MASKING_FUNCTIONS = frozenset({"MD5", "SHA1", "SHA2", "SHA224", "SHA256", "SHA384", "SHA512"})


@dataclass(frozen=True, slots=True, order=True)
class FieldRef:
    """One input column by the request's names."""

    table: str
    column: str
    payload: bool = False  # a payload field of the source event (`table` is the payload class)

    def __str__(self) -> str:
        return f"{self.table}.{self.column}"


@dataclass(frozen=True, slots=True)
class Use:
    """How one input column takes part: an OpenLineage transformation."""

    ref: FieldRef
    type: TransformationType
    subtype: Subtype
    masking: bool = False


@dataclass(frozen=True, slots=True)
class ColumnLineage:
    column: str
    expression: str  # the mapping as written in the request
    uses: tuple[Use, ...]

    @property
    def direct(self) -> tuple[Use, ...]:
        return tuple(u for u in self.uses if u.type == "DIRECT")


@dataclass(frozen=True, slots=True)
class JobLineage:
    result: str
    payload: str  # the payload class: the table name of payload fields
    columns: tuple[ColumnLineage, ...]
    rows: tuple[Use, ...]  # INDIRECT uses that shape every row: FILTER, JOIN, GROUP_BY

    def column(self, name: str) -> ColumnLineage | None:
        return next((c for c in self.columns if c.column == name), None)


@dataclass(frozen=True, slots=True)
class _Seen:
    column: ex.Column
    conditional: bool
    aggregated: bool
    masked: bool


def _walk(expression: ex.Expr) -> list[_Seen]:
    """Column references with what surrounds them (iterative: deep trees do not recurse)."""
    found: list[_Seen] = []
    stack: list[tuple[ex.Expr, bool, bool, bool]] = [(expression, False, False, False)]
    while stack:
        node, conditional, aggregated, masked = stack.pop()
        if isinstance(node, ex.Column):
            found.append(_Seen(node, conditional, aggregated, masked))
            continue
        parts: list[tuple[ex.Expr, bool, bool, bool]]
        if isinstance(node, ex.Case):
            parts = [] if node.operand is None else [(node.operand, True, aggregated, masked)]
            for when in node.whens:
                parts += [
                    (when.condition, True, aggregated, masked),
                    (when.result, conditional, aggregated, masked),
                ]
            if node.default is not None:
                parts.append((node.default, conditional, aggregated, masked))
        elif isinstance(node, ex.Call):
            agg = aggregated or node.name in ex.AGGREGATES
            mask = masked or node.name in MASKING_FUNCTIONS
            parts = [
                (a, conditional or (node.name == "IF" and i == 0), agg, mask) for i, a in enumerate(node.args)
            ]
        else:
            parts = [(child, conditional, aggregated, masked) for child in ex.children(node)]
        stack.extend(reversed(parts))
    return found


def _unique(uses: Iterable[Use]) -> tuple[Use, ...]:
    """First use of each (column, type, subtype); a masked use stays masked only if every one is."""
    kept: dict[tuple[FieldRef, str, str], Use] = {}
    for use in uses:
        key = (use.ref, use.type, use.subtype)
        if key in kept:
            if kept[key].masking and not use.masking:
                kept[key] = use
        else:
            kept[key] = use
    return tuple(kept.values())


class _Resolver:
    def __init__(self, spec: RequestSpec) -> None:
        self.payload = spec.payload.name
        self.alias_table = {j.alias: j.target_table for j in spec.joins}
        self.spec = spec

    def ref(self, column: ex.Column) -> FieldRef | None:
        if column.qualifier == "payload":
            return FieldRef(self.payload, column.name, payload=True)
        table = self.alias_table.get(column.qualifier)
        return None if table is None else FieldRef(table, column.name)

    def indirect(self, expression: ex.Expr, subtype: Subtype) -> list[Use]:
        return [
            Use(ref, "INDIRECT", subtype)
            for seen in _walk(expression)
            if (ref := self.ref(seen.column)) is not None
        ]

    def join_keys(self, join: Join) -> list[Use]:
        if join.source_kind == "event":
            source = FieldRef(self.payload, join.source_field, payload=True)
        else:
            earlier = self.spec.join_by_alias(join.source_alias or "")
            source = FieldRef(earlier.target_table if earlier else join.source_table, join.source_field)
        uses = [
            Use(source, "INDIRECT", "JOIN"),
            Use(FieldRef(join.target_table, join.target_field), "INDIRECT", "JOIN"),
        ]
        if join.additional_condition is not None:
            uses += self.indirect(join.additional_condition.ast, "JOIN")
        return uses


def job_lineage(spec: RequestSpec) -> JobLineage:
    """The lineage of the job `spec` describes, result columns in the result table's order."""
    resolve = _Resolver(spec)
    by_column = {m.column: m for m in spec.mappings}
    columns: list[ColumnLineage] = []
    for result_column in spec.result.columns:
        mapping = by_column.get(result_column.name)
        if mapping is None:
            continue
        ast = mapping.expression.ast
        same = mapping.expression.type is not None and same_type(mapping.expression.type, mapping.column_type)
        identity = isinstance(ast, ex.Column) and same and not mapping.needs_cast
        uses: list[Use] = []
        for seen in _walk(ast):
            ref = resolve.ref(seen.column)
            if ref is None:
                continue
            if seen.conditional:
                uses.append(Use(ref, "INDIRECT", "CONDITIONAL"))
                continue
            subtype: Subtype = (
                "AGGREGATION" if seen.aggregated else "IDENTITY" if identity else "TRANSFORMATION"
            )
            uses.append(Use(ref, "DIRECT", subtype, masking=seen.masked))
        columns.append(ColumnLineage(result_column.name, mapping.expression.text, _unique(uses)))
    rows: list[Use] = []
    for join in spec.joins:
        rows += resolve.join_keys(join)
    for expression in spec.filters:
        rows += resolve.indirect(expression.ast, "FILTER")
    for rule in spec.business_rules:
        rows += resolve.indirect(rule.condition.ast, "FILTER")
    if spec.aggregation.is_aggregate:
        for name in spec.aggregation.group_by:
            if (mapping := by_column.get(name)) is not None:
                rows += resolve.indirect(mapping.expression.ast, "GROUP_BY")
    return JobLineage(spec.result.name, spec.payload.name, tuple(columns), _unique(rows))
