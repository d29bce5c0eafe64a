"""The knowledge-base model: a domain's tables, relationships and jobs, built from a request spec.

A `DomainModel` is what one version of a domain holds. It is built from three parts of a
`RequestSpec` that describe the same things and are cross-checked here:

- the DDL (dimension and result tables) and the payload class (the source entity),
- `join_relationships` (which become relationships with their join fields),
- the mermaid ER diagram (cardinalities; its types and relationships are compared to the other two).

Disagreements are `Change`s of kind `er.*`; they never block a commit (ingest already warned).
Column types are kept as canonical Flink SQL text without NOT NULL; `nullable` says the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict

from services.flinksql import expr as ast
from services.flinksql.lineage import Use, job_lineage
from services.flinksql.spec import Cardinality, ErDiagram, Join, RequestSpec, Table
from services.flinksql.sqltypes import FlinkType, TypeSyntaxError, parse_type
from services.flinksql.sqltypes import family as type_family

TableRole = Literal["source", "dimension", "result"]
SeverityName = Literal["critical", "warning", "info"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}


class KbModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Change(KbModel):
    """One difference or finding; `breaks` lists the compatibility directions it breaks."""

    kind: str
    table: str
    column: str | None = None
    detail: str
    severity: SeverityName = "info"
    breaks: tuple[Literal["backward", "forward"], ...] = ()


class KbColumn(KbModel):
    name: str
    type: str
    nullable: bool = True
    primary_key: bool = False
    comment: str | None = None


class KbTable(KbModel):
    name: str
    role: TableRole
    columns: tuple[KbColumn, ...]
    primary_key: tuple[str, ...] = ()
    comment: str | None = None
    options: dict[str, str] = {}

    def column(self, name: str) -> KbColumn | None:
        return next((c for c in self.columns if c.name == name), None)


class KbRelationship(KbModel):
    """A many-side `from_table` joined to `to_table`; cardinalities use mermaid's vocabulary."""

    from_table: str
    from_columns: tuple[str, ...]
    to_table: str
    to_columns: tuple[str, ...]
    from_cardinality: Cardinality = "zero_or_more"
    to_cardinality: Cardinality = "zero_or_one"
    join_type: Literal["LEFT", "INNER"] | None = None
    label: str | None = None
    in_diagram: bool = False
    in_joins: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.from_table, self.to_table)


class LineageInput(KbModel):
    """An input column of a result column (or of every row) and how it takes part: an
    OpenLineage transformation type and subtype (services/flinksql/lineage.py)."""

    table: str
    column: str
    type: Literal["DIRECT", "INDIRECT"]
    subtype: str
    masking: bool = False


class JobRef(KbModel):
    """The job a request describes and the tables and columns it reads and writes.

    `lineage`: every result column with the input columns it is made from; `row_inputs`: the
    columns that decide which rows there are (filters, join keys, grouping). Both are empty in
    records committed before column lineage was kept: impact then knows only `reads`.
    """

    domain: str
    job: str
    event_type: str
    run_id: str | None = None
    request_id: str | None = None
    revision: int | None = None
    reads: dict[str, tuple[str, ...]] = {}
    writes: dict[str, tuple[str, ...]] = {}
    lineage: dict[str, tuple[LineageInput, ...]] = {}
    row_inputs: tuple[LineageInput, ...] = ()


class DomainModel(KbModel):
    domain: str
    tables: tuple[KbTable, ...] = ()
    relationships: tuple[KbRelationship, ...] = ()
    jobs: tuple[JobRef, ...] = ()
    findings: tuple[Change, ...] = ()

    def table(self, name: str) -> KbTable | None:
        return next((t for t in self.tables if t.name == name), None)


def type_text(flink_type: FlinkType | None, java_type: str) -> str:
    """Canonical SQL text of a type without nullability; unmappable Java types stay opaque."""
    return flink_type.with_nullable(True).sql() if flink_type is not None else f"RAW('{java_type}')"


def _table(table: Table, role: TableRole) -> KbTable:
    keys = set(table.primary_key)
    return KbTable(
        name=table.name,
        role=role,
        columns=tuple(
            KbColumn(
                name=c.name,
                type=type_text(c.type, c.type.root),
                nullable=not (c.not_null or c.name in keys or not c.type.nullable),
                primary_key=c.name in keys,
                comment=c.comment,
            )
            for c in table.columns
        ),
        primary_key=table.primary_key,
        comment=table.comment,
        options=dict(table.options),
    )


def _source_table(spec: RequestSpec) -> KbTable:
    er_keys: set[str] = set()
    if spec.er_diagram is not None and (entity := spec.er_diagram.entity(spec.payload.name)):
        er_keys = {a.name for a in entity.attributes if a.is_primary_key}
    return KbTable(
        name=spec.payload.name,
        role="source",
        columns=tuple(
            KbColumn(
                name=f.name,
                type=type_text(f.flink_type, f.java_type),
                primary_key=f.name in er_keys,
                comment=f.comment,
            )
            for f in spec.payload.fields
        ),
        primary_key=tuple(f.name for f in spec.payload.fields if f.name in er_keys),
        comment=f"payload of BusinessEvent {spec.job.domain}/{spec.job.event_type}",
        options={"event_domain": spec.job.domain, "event_type": spec.job.event_type},
    )


def build_model(
    spec: RequestSpec,
    *,
    run_id: str | None = None,
    request_id: str | None = None,
    revision: int | None = None,
) -> DomainModel:
    """The domain model a spec describes, with the cross-check findings of its three parts."""
    tables = [_source_table(spec)]
    tables += [_table(d.table, "dimension") for d in spec.dimensions]
    tables.append(_table(spec.result, "result"))
    relationships, findings = _relationships(spec)
    if spec.er_diagram is not None:
        findings += _diagram_findings(spec.er_diagram, {t.name: t for t in tables})
    lineage, row_inputs = _lineage(spec)
    job = JobRef(
        domain=spec.job.domain,
        job=spec.job.name,
        event_type=spec.job.event_type,
        run_id=run_id,
        request_id=request_id,
        revision=revision,
        reads=_reads(spec),
        writes={spec.result.name: tuple(c.name for c in spec.result.columns)},
        lineage=lineage,
        row_inputs=row_inputs,
    )
    return DomainModel(
        domain=spec.job.domain,
        tables=tuple(tables),
        relationships=tuple(relationships),
        jobs=(job,),
        findings=tuple(findings),
    )


# ---------------------------------------------------------------- relationships


def _join_source(spec: RequestSpec, join: Join) -> str:
    if join.source_kind == "event":
        return spec.payload.name
    earlier = spec.join_by_alias(join.source_alias or "")
    return earlier.target_table if earlier is not None else join.source_table


def _relationships(spec: RequestSpec) -> tuple[list[KbRelationship], list[Change]]:
    diagram = {
        frozenset((r.left, r.right)): r for r in (spec.er_diagram.relationships if spec.er_diagram else ())
    }
    found: list[KbRelationship] = []
    findings: list[Change] = []
    used: set[frozenset[str]] = set()
    for join in spec.joins:
        source = _join_source(spec, join)
        pair = frozenset((source, join.target_table))
        drawn = diagram.get(pair)
        rel = KbRelationship(
            from_table=source,
            from_columns=(join.source_field,),
            to_table=join.target_table,
            to_columns=(join.target_field,),
            join_type=join.join_type,
            label=f"{join.source_field} = {join.target_field}",
            in_joins=True,
            to_cardinality="exactly_one" if join.join_type == "INNER" else "zero_or_one",
        )
        if drawn is not None:
            used.add(pair)
            forward = drawn.left == source
            rel = rel.model_copy(
                update={
                    "from_cardinality": drawn.left_cardinality if forward else drawn.right_cardinality,
                    "to_cardinality": drawn.right_cardinality if forward else drawn.left_cardinality,
                    "in_diagram": True,
                }
            )
        elif spec.er_diagram is not None and spec.er_diagram.relationships:
            findings.append(
                Change(
                    kind="er.join_without_relationship",
                    table=source,
                    detail=f"join {join.name} ({source} -> {join.target_table}) is not drawn in the ER diagram",
                )
            )
        found.append(rel)
    for pair, drawn in diagram.items():
        if pair not in used:
            findings.append(
                Change(
                    kind="er.relationship_without_join",
                    table=drawn.left,
                    detail=f"ER relationship {drawn.left} - {drawn.right} has no join in join_relationships",
                    severity="warning",
                )
            )
    return found, findings


# ---------------------------------------------------------------- diagram vs DDL

# Mermaid attribute types are free words; these name the Flink type family they stand for.
_MERMAID_FAMILY = {
    "string": "character", "varchar": "character", "char": "character", "text": "character",
    "int": "INT", "integer": "INT", "tinyint": "TINYINT", "smallint": "SMALLINT",
    "bigint": "BIGINT", "long": "BIGINT", "decimal": "DECIMAL", "numeric": "DECIMAL",
    "double": "approx_numeric", "float": "approx_numeric", "real": "approx_numeric",
    "boolean": "boolean", "bool": "boolean", "date": "date", "time": "time",
    "timestamp": "timestamp", "datetime": "timestamp", "timestamp_ltz": "timestamp",
    "bytes": "binary", "binary": "binary",
}  # fmt: skip


def mermaid_type(sql_type: str) -> str:
    """The lower-case word a mermaid attribute uses for a Flink type (`DECIMAL(12, 2)` -> decimal)."""
    word = re.split(r"[(<\s]", sql_type, maxsplit=1)[0].lower()
    return word if word in _MERMAID_FAMILY or word in ("array", "map", "row", "multiset") else "string"


def _ddl_matches(er_type: str, sql_type: str) -> bool | None:
    expected = _MERMAID_FAMILY.get(er_type.lower().split("(")[0])
    if expected is None:
        return None  # a word we do not interpret: no finding
    try:
        parsed = parse_type(sql_type)
    except TypeSyntaxError:
        return None
    return expected in (parsed.root, type_family(parsed))


def _diagram_findings(er: ErDiagram, tables: dict[str, KbTable]) -> list[Change]:
    findings: list[Change] = []
    for entity in er.entities:
        table = tables.get(entity.name)
        if table is None:
            findings.append(
                Change(
                    kind="er.unknown_entity",
                    table=entity.name,
                    detail=f"ER entity {entity.name} is neither the payload class nor a declared table",
                    severity="warning",
                )
            )
            continue
        for attribute in entity.attributes:
            column = table.column(attribute.name)
            if column is None:
                findings.append(
                    Change(
                        kind="er.unknown_attribute",
                        table=table.name,
                        column=attribute.name,
                        detail=f"ER lists {entity.name}.{attribute.name}, which the DDL does not declare",
                        severity="warning",
                    )
                )
            elif _ddl_matches(attribute.type, column.type) is False:
                findings.append(
                    Change(
                        kind="er.type_mismatch",
                        table=table.name,
                        column=column.name,
                        detail=f"ER type {attribute.type!r} differs from the DDL type {column.type}",
                        severity="warning",
                    )
                )
    return findings


# ---------------------------------------------------------------- what a job reads


def _reads(spec: RequestSpec) -> dict[str, tuple[str, ...]]:
    alias_table = {j.alias: j.target_table for j in spec.joins}
    used: dict[str, list[str]] = {spec.payload.name: []}
    for join in spec.joins:
        used.setdefault(join.target_table, []).append(join.target_field)
        source = _join_source(spec, join)
        used.setdefault(source, []).append(join.source_field)
    expressions = [m.expression for m in spec.mappings] + list(spec.filters)
    expressions += [r.condition for r in spec.business_rules]
    expressions += [j.additional_condition for j in spec.joins if j.additional_condition is not None]
    for expression in expressions:
        for ref in ast.columns(expression.ast):
            table = spec.payload.name if ref.qualifier == "payload" else alias_table.get(ref.qualifier)
            if table is not None:
                used.setdefault(table, []).append(ref.name)
    return {table: _unique(columns) for table, columns in used.items()}


def _unique(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def _input(use: Use) -> LineageInput:
    return LineageInput(
        table=use.ref.table, column=use.ref.column, type=use.type, subtype=use.subtype, masking=use.masking
    )


def _lineage(spec: RequestSpec) -> tuple[dict[str, tuple[LineageInput, ...]], tuple[LineageInput, ...]]:
    """`JobRef.lineage` (every result column, an empty tuple for one made of no column) and
    `row_inputs`, from the kernel's column lineage."""
    found = job_lineage(spec)
    return (
        {c.column: tuple(_input(u) for u in c.uses) for c in found.columns},
        tuple(_input(u) for u in found.rows),
    )
