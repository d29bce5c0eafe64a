"""Warnings of request-format.md §6: unused dimensions, lookup caches, ER diagram disagreements."""

from __future__ import annotations

from services.flinksql.spec import Dimension, ErDiagram, ErEntity, Join, PayloadClass, Table
from services.ingest.domain.check_tables import has_lookup_cache, is_jdbc
from services.ingest.domain.errors import Issues

ER_BLOCK = "ER diagram"


def dimension_warnings(
    dimensions: list[Dimension],
    labels: dict[int, str],
    joins: list[Join],
    issues: Issues,
    broken: set[str] | frozenset[str] = frozenset(),
) -> None:
    """`labels` maps a dimension heading line to the heading text (the block name); `broken` holds
    the tables and aliases of joins that failed with an error (not "unused": meant to be joined)."""
    joined = {j.target_table for j in joins}
    for dimension in dimensions:
        label = labels.get(dimension.heading_line, dimension.table.name)
        meant = dimension.table.name in broken or dimension.alias in broken
        if dimension.table.name not in joined and not meant:
            issues.warning(
                "dimensions.unused",
                "dimension table is not used by any join",
                block=label,
                line=dimension.heading_line,
                name=dimension.table.name,
                hint="join it in join_relationships or remove the dimension",
            )
        if is_jdbc(dimension.table) and not has_lookup_cache(dimension.table):
            issues.warning(
                "dimensions.no_lookup_cache",
                "JDBC dimension has no lookup cache options; every event queries the database",
                block=label,
                line=dimension.table.line,
                name=dimension.table.name,
                hint="add 'lookup.cache' = 'PARTIAL' with lookup.partial-cache.max-rows / expire-after-write",
            )


def er_warnings(
    er: ErDiagram,
    *,
    payload: PayloadClass | None,
    dimensions: list[Dimension],
    result: Table | None,
    joins: list[Join],
    issues: Issues,
) -> None:
    """Compare the ER diagram with the DDL, the payload class and the joins."""
    tables = {d.table.name: d.table for d in dimensions}
    if result is not None:
        tables[result.name] = result
    for entity in er.entities:
        if payload is not None and entity.name == payload.name:
            _compare_payload(entity, payload, issues)
        elif entity.name in tables:
            _compare_table(entity, tables[entity.name], issues)
    if er.relationships:
        _compare_joins(er, payload, joins, issues)


def _compare_payload(entity: ErEntity, payload: PayloadClass, issues: Issues) -> None:
    for attribute in entity.attributes:
        if payload.field(attribute.name) is None:
            _warn(
                "er.unknown_attribute",
                f"ER entity {entity.name} lists {attribute.name!r}, which the payload class does not declare",
                attribute.line,
                f"{entity.name}.{attribute.name}",
                issues,
            )


def _compare_table(entity: ErEntity, table: Table, issues: Issues) -> None:
    for attribute in entity.attributes:
        if table.column(attribute.name) is None:
            _warn(
                "er.unknown_attribute",
                f"ER entity {entity.name} lists {attribute.name!r}, which is not a column of the DDL",
                attribute.line,
                f"{entity.name}.{attribute.name}",
                issues,
            )
        elif attribute.is_primary_key and attribute.name not in table.primary_key:
            _warn(
                "er.primary_key_mismatch",
                f"ER marks {attribute.name!r} as PK; the DDL primary key is ({', '.join(table.primary_key)})",
                attribute.line,
                f"{entity.name}.{attribute.name}",
                issues,
            )
    marked = {a.name for a in entity.attributes if a.is_primary_key}
    missing = [
        k for k in table.primary_key if k not in marked and any(a.name == k for a in entity.attributes)
    ]
    for key in missing:
        _warn(
            "er.primary_key_mismatch",
            f"DDL primary key column {key!r} is not marked PK in the ER diagram",
            entity.line,
            f"{entity.name}.{key}",
            issues,
        )


def _compare_joins(er: ErDiagram, payload: PayloadClass | None, joins: list[Join], issues: Issues) -> None:
    pairs = {frozenset((r.left, r.right)) for r in er.relationships}
    alias_tables = {j.alias: j.target_table for j in joins}
    join_pairs: set[frozenset[str]] = set()
    for join in joins:
        if join.source_kind == "event":
            sources = {payload.name if payload else "", "BusinessEvent"}
        else:
            sources = {alias_tables.get(join.source_alias or "", join.source_table)}
        candidates = {frozenset((s, join.target_table)) for s in sources}
        join_pairs |= candidates
        if not candidates & pairs:
            _warn(
                "er.join_missing",
                f"join {join.name} ({join.source_table} -> {join.target_table}) has no ER relationship",
                er.line,
                join.name,
                issues,
            )
    for relationship in er.relationships:
        if frozenset((relationship.left, relationship.right)) not in join_pairs:
            _warn(
                "er.relationship_without_join",
                f"ER relationship {relationship.left} - {relationship.right} matches no join",
                relationship.line,
                f"{relationship.left}-{relationship.right}",
                issues,
            )


def _warn(code: str, message: str, line: int, name: str, issues: Issues) -> None:
    issues.warning(
        code,
        message,
        block=ER_BLOCK,
        line=line,
        name=name,
        hint="keep the ER diagram in step with the DDL, the payload class and join_relationships",
    )
