"""Change detection between two versions of a domain, and compatibility modes that grade it.

Every change knows which compatibility directions it breaks (`Change.breaks`), in the
Schema Registry sense, with "schema" = a table definition and "data" = its rows:

- backward: the NEW definition must read rows written under the OLD one (existing data,
  existing dimension rows). Adding a NOT NULL column, narrowing a type, tightening
  nullability or a lookup's cardinality break it.
- forward: readers of the OLD definition (other jobs, dashboards) must read rows written
  under the NEW one. Removing a column or a result table, widening a type, relaxing
  nullability or cardinality break it.

A mode picks the directions that make a change Critical: BACKWARD {backward}, FORWARD
{forward}, FULL {both}, NONE {}; the *_TRANSITIVE variants check against every live
version of the domain instead of only the current one. A change that breaks only a
direction the mode does not check is a Warning; one that breaks nothing keeps its base
severity (Info, or Warning for changes worth a look such as a removed join). The full
table is `RULES` below and the knowledge README.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from difflib import SequenceMatcher
from enum import StrEnum
from typing import Literal

from services.flinksql.spec import Cardinality
from services.flinksql.sqltypes import (
    FlinkType,
    TypeSyntaxError,
    family,
    insert_assignable,
    parse_type,
    same_type,
)
from services.knowledge.domain.identity import identity_of, same_place
from services.knowledge.domain.model import (
    SEVERITY_RANK,
    Change,
    DomainModel,
    KbColumn,
    KbRelationship,
    KbTable,
    SeverityName,
)

Direction = Literal["backward", "forward"]
BOTH: tuple[Direction, ...] = ("backward", "forward")


_DIRECTIONS: dict[str, tuple[Direction, ...]] = {
    "BACKWARD": ("backward",),
    "FORWARD": ("forward",),
    "FULL": BOTH,
    "NONE": (),
}


class Mode(StrEnum):
    NONE = "NONE"
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"

    @property
    def directions(self) -> frozenset[Direction]:
        return frozenset(_DIRECTIONS[self.value.removesuffix("_TRANSITIVE")])

    @property
    def transitive(self) -> bool:
        return self.value.endswith("_TRANSITIVE")


# kind -> (directions it breaks, base severity when it breaks nothing the mode checks)
RULES: dict[str, tuple[tuple[Direction, ...], SeverityName]] = {
    "table_added": ((), "info"),
    "table_removed": (("forward",), "warning"),  # result tables; dimension/source: no direction
    "role_changed": (BOTH, "warning"),
    "column_added": ((), "info"),
    "column_added_required": (("backward",), "warning"),
    "column_removed": (("forward",), "warning"),
    "column_renamed": (BOTH, "warning"),
    "type_widened": (("forward",), "info"),
    "type_narrowed": (("backward",), "warning"),
    "type_changed": (BOTH, "warning"),
    "nullability_relaxed": (("forward",), "info"),
    "nullability_tightened": (("backward",), "warning"),
    "key_changed": (BOTH, "warning"),
    "relationship_added": ((), "info"),
    "relationship_removed": ((), "warning"),
    "relationship_key_changed": (BOTH, "warning"),
    "cardinality_relaxed": (("forward",), "info"),
    "cardinality_tightened": (("backward",), "warning"),
    "cardinality_changed": (BOTH, "warning"),
    "join_type_changed": ((), "warning"),
    "comment_changed": ((), "info"),
    "options_changed": ((), "info"),
    "connector_changed": ((), "warning"),
    "naming_drift": ((), "warning"),
    "table_redefined": (BOTH, "warning"),
    "result_written_elsewhere": (BOTH, "warning"),
    "possible_duplicate_job": ((), "warning"),
    # Physical identity across domains (drift.py); both result tables: found with breaks=BOTH.
    "same_name_other_table": ((), "warning"),
    "same_table_other_name": ((), "warning"),
    "column_set_drift": ((), "warning"),  # Info when one column set is a subset of the other
}
_PHYSICAL_OPTIONS = ("connector", "url", "table-name", "tableName", "project", "topic")


def change(
    kind: str, table: str, detail: str, column: str | None = None, breaks: tuple[Direction, ...] | None = None
) -> Change:
    """A change of a known kind with the rule's directions and base severity."""
    rule_breaks, base = RULES[kind]
    return Change(
        kind=kind,
        table=table,
        column=column,
        detail=detail,
        breaks=rule_breaks if breaks is None else breaks,
        severity=base,
    )


def classify(found: Change, mode: Mode) -> Change:
    """The change with its severity under `mode` (see the module docstring)."""
    if set(found.breaks) & mode.directions:
        severity = "critical"
    elif found.breaks:
        severity = "warning"
    else:
        severity = found.severity
    return found if severity == found.severity else found.model_copy(update={"severity": severity})


def worst(changes: Iterable[Change]) -> str:
    return max((c.severity for c in changes), key=SEVERITY_RANK.__getitem__, default="info")


def sort_changes(changes: Iterable[Change]) -> list[Change]:
    return sorted(changes, key=lambda c: (-SEVERITY_RANK[c.severity], c.table, c.column or "", c.kind))


# ---------------------------------------------------------------- diff of two versions


def diff_models(old: DomainModel, new: DomainModel) -> list[Change]:
    """Every change from `old` to `new` (ungraded: base severities, `breaks` set)."""
    found: list[Change] = []
    old_tables = {t.name: t for t in old.tables}
    new_tables = {t.name: t for t in new.tables}
    for name, table in old_tables.items():
        if name not in new_tables:
            breaks: tuple[Direction, ...] = ("forward",) if table.role == "result" else ()
            found.append(change("table_removed", name, f"{table.role} table {name} is gone", breaks=breaks))
    for name, table in new_tables.items():
        if name not in old_tables:
            found.append(change("table_added", name, f"new {table.role} table {name}"))
        else:
            found += diff_tables(old_tables[name], table)
    found += diff_relationships(old.relationships, new.relationships)
    return found


def diff_tables(old: KbTable, new: KbTable) -> list[Change]:
    found: list[Change] = []
    name = new.name
    if old.role != new.role:
        found.append(change("role_changed", name, f"{name} was a {old.role} table, now {new.role}"))
    removed = [c for c in old.columns if new.column(c.name) is None]
    added = [c for c in new.columns if old.column(c.name) is None]
    for before, after in _renames(removed, added):
        found.append(
            change("column_renamed", name, f"{before.name} looks renamed to {after.name}", after.name)
        )
        removed.remove(before)
        added.remove(after)
    found += [change("column_removed", name, f"column {c.name} ({c.type}) is gone", c.name) for c in removed]
    for column in added:
        kind = "column_added" if column.nullable else "column_added_required"
        found.append(
            change(
                kind,
                name,
                f"new column {column.name} {column.type}" + ("" if column.nullable else " NOT NULL"),
                column.name,
            )
        )
    for before in old.columns:
        kept = new.column(before.name)
        if kept is not None:
            found += _diff_column(name, before, kept)
    if old.primary_key != new.primary_key:
        found.append(
            change(
                "key_changed",
                name,
                f"primary key ({', '.join(old.primary_key)}) -> ({', '.join(new.primary_key)})",
            )
        )
    if (old.comment or "") != (new.comment or ""):
        found.append(change("comment_changed", name, f"table comment {old.comment!r} -> {new.comment!r}"))
    found += _diff_options(old, new)
    return found


def _diff_column(table: str, old: KbColumn, new: KbColumn) -> list[Change]:
    found: list[Change] = []
    kind = type_change(old.type, new.type)
    if kind is not None:
        found.append(change(kind, table, f"{new.name}: {old.type} -> {new.type}", new.name))
    if old.nullable != new.nullable:
        kind = "nullability_relaxed" if new.nullable else "nullability_tightened"
        state = "nullable" if new.nullable else "NOT NULL"
        found.append(change(kind, table, f"{new.name} is now {state}", new.name))
    if (old.comment or "") != (new.comment or ""):
        found.append(
            change("comment_changed", table, f"{new.name}: {old.comment!r} -> {new.comment!r}", new.name)
        )
    return found


def _parse(text: str) -> FlinkType | None:
    try:
        return parse_type(text)
    except TypeSyntaxError:
        return None


def type_change(old: str, new: str) -> str | None:
    """None when equal; else type_widened, type_narrowed or type_changed."""
    if old == new:
        return None
    before, after = _parse(old), _parse(new)
    if before is None or after is None:
        return "type_changed"
    if same_type(before, after):
        return None
    if insert_assignable(before, after):
        return "type_widened"
    if insert_assignable(after, before):
        return "type_narrowed"
    return "type_changed"


def _compatible_types(a: str, b: str) -> bool:
    ta, tb = _parse(a), _parse(b)
    return a == b if ta is None or tb is None else family(ta) == family(tb)


def normalized_name(name: str) -> str:
    return name.replace("_", "").lower()


def _rename_score(old: KbColumn, new: KbColumn) -> float:
    if not _compatible_types(old.type, new.type):
        return 0.0
    if normalized_name(old.name) == normalized_name(new.name):
        return 1.0
    if old.comment and old.comment == new.comment:
        return 0.9
    return SequenceMatcher(None, old.name.lower(), new.name.lower()).ratio()


def _renames(removed: Sequence[KbColumn], added: Sequence[KbColumn]) -> list[tuple[KbColumn, KbColumn]]:
    """Heuristic pairs (removed, added): same type family and a near-equal name or equal comment."""
    scored = sorted(
        ((score, r, a) for r in removed for a in added if (score := _rename_score(r, a)) >= 0.75),
        key=lambda item: -item[0],
    )
    pairs: list[tuple[KbColumn, KbColumn]] = []
    for _, before, after in scored:
        if all(before is not p[0] and after is not p[1] for p in pairs):
            pairs.append((before, after))
    return pairs


def _diff_options(old: KbTable, new: KbTable) -> list[Change]:
    keys = sorted(set(old.options) | set(new.options))
    moved = [k for k in keys if old.options.get(k) != new.options.get(k)]
    if not moved:
        return []
    physical = [k for k in moved if k in _PHYSICAL_OPTIONS]
    kind = "connector_changed" if physical else "options_changed"
    note = ""
    before, after = identity_of(old.options), identity_of(new.options)
    if before is not None and after is not None:
        # The physical identity decides: a rewritten URL that reaches the same table is no move,
        # and a move is one whichever option made it (bootstrap servers, path, endpoint).
        if same_place(before, after):
            kind, note = "options_changed", (f" (same physical table, {after})" if physical else "")
        else:
            kind, note = "connector_changed", f" (physical table {before} -> {after})"
    shown = physical or moved
    return [
        change(
            kind,
            new.name,
            "options changed: "
            + ", ".join(f"{k} {old.options.get(k)!r} -> {new.options.get(k)!r}" for k in shown)
            + note,
        )
    ]


# ---------------------------------------------------------------- relationships

_MANY = ("zero_or_more", "one_or_more")
_OPTIONAL = ("zero_or_more", "zero_or_one")


def cardinality_change(old: Cardinality, new: Cardinality) -> str | None:
    """How the number of target rows per source row changed (the lookup side of a join)."""
    if old == new:
        return None
    relaxed = (new in _MANY and old not in _MANY) or (new in _OPTIONAL and old not in _OPTIONAL)
    tightened = (old in _MANY and new not in _MANY) or (old in _OPTIONAL and new not in _OPTIONAL)
    if relaxed and tightened:
        return "cardinality_changed"
    return "cardinality_relaxed" if relaxed else "cardinality_tightened"


def _rel_name(rel: KbRelationship) -> str:
    return f"{rel.from_table}({', '.join(rel.from_columns)}) -> {rel.to_table}({', '.join(rel.to_columns)})"


def diff_relationships(old: Sequence[KbRelationship], new: Sequence[KbRelationship]) -> list[Change]:
    def keyed(rels: Sequence[KbRelationship]) -> dict[tuple[str, ...], KbRelationship]:
        return {(r.from_table, r.to_table, *r.from_columns, "|", *r.to_columns): r for r in rels}

    before, after = keyed(old), keyed(new)
    found: list[Change] = []
    gone = [r for k, r in before.items() if k not in after]
    came = [r for k, r in after.items() if k not in before]
    for rel in list(gone):
        partner = next((r for r in came if r.key == rel.key), None)
        if partner is not None:
            found.append(
                change(
                    "relationship_key_changed",
                    rel.from_table,
                    f"{_rel_name(rel)} now joins as {_rel_name(partner)}",
                )
            )
            gone.remove(rel)
            came.remove(partner)
    found += [change("relationship_removed", r.from_table, f"{_rel_name(r)} is gone") for r in gone]
    found += [change("relationship_added", r.from_table, f"new {_rel_name(r)}") for r in came]
    for key, rel in after.items():
        if key in before:
            found += _diff_relationship(before[key], rel)
    return found


def _diff_relationship(old: KbRelationship, new: KbRelationship) -> list[Change]:
    found: list[Change] = []
    kind = cardinality_change(old.to_cardinality, new.to_cardinality)
    if kind is not None:
        found.append(
            change(
                kind,
                new.from_table,
                f"{_rel_name(new)}: {new.to_table} side {old.to_cardinality} -> {new.to_cardinality}",
            )
        )
    if old.from_cardinality != new.from_cardinality:
        found.append(
            change(
                "cardinality_changed",
                new.from_table,
                f"{_rel_name(new)}: {new.from_table} side {old.from_cardinality} -> {new.from_cardinality}",
                breaks=(),
            )
        )
    if old.join_type != new.join_type and old.join_type and new.join_type:
        found.append(
            change(
                "join_type_changed",
                new.from_table,
                f"{_rel_name(new)}: {old.join_type} JOIN -> {new.join_type} JOIN",
            )
        )
    return found
