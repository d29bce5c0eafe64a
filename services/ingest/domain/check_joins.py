"""join_relationships (request-format.md §4): alias rule, sources, targets, key types, cascades."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from services.flinksql.expr import Binary, Expr
from services.flinksql.expr import Column as ExprColumn
from services.flinksql.spec import Dimension, Expression, Join, PayloadClass
from services.flinksql.sqltypes import FlinkType, join_key_compatible
from services.ingest.domain.check_expressions import Scope, Where, check_expression, is_boolean
from services.ingest.domain.errors import Issues
from services.ingest.domain.parse import RawDocument, YamlPart
from services.ingest.domain.payload_class import IDENTIFIER

BLOCK = "join_relationships"
_ENTRY_KEYS = {
    "source_table",
    "source_field",
    "target_table",
    "target_field",
    "join_type",
    "additional_condition",
    "alias",
    "description",
}
_JOIN_TYPES: dict[str, Literal["LEFT", "INNER"]] = {
    "LEFT JOIN": "LEFT",
    "LEFT OUTER JOIN": "LEFT",
    "LEFT": "LEFT",
    "INNER JOIN": "INNER",
    "INNER": "INNER",
}


@dataclass
class _Side:
    kind: Literal["event", "dimension"]
    alias: str | None
    field: str
    type: FlinkType | None


class JoinChecker:
    """Walks the entries in block order, growing the scope of joined aliases."""

    def __init__(
        self,
        part: YamlPart,
        payload: PayloadClass | None,
        dimensions: list[Dimension],
        issues: Issues,
        broken: set[str],
    ) -> None:
        self.part = part
        self.payload = payload
        self.dimensions = {d.table.name: d for d in dimensions}
        self.issues = issues
        self.scope = Scope(payload, {}, {d.table.name: d.alias for d in dimensions}, set(broken))
        self.joins: list[Join] = []
        self.joined_tables: dict[str, list[str]] = {}  # table name -> aliases, in join order
        entries = part.value if isinstance(part.value, dict) else {}
        self.target_counts = _count_targets(entries)
        self.lost_target = False  # an entry failed before naming a declared target_table

    def run(self) -> list[Join]:
        if not isinstance(self.part.value, dict):
            self._error(
                "joins.not_mapping",
                "join_relationships must map entry names to entries",
                (),
                BLOCK,
                "write `join_relationships:` then `<entry_name>:` with source_table, source_field, ...",
            )
            return []
        for name, entry in self.part.value.items():
            errors_before = len(self.issues.errors)
            self._entry(name, entry)
            if len(self.issues.errors) > errors_before or self._event_side_without_payload(entry):
                self._mark_failed(entry)
        if self.lost_target:
            # An entry whose target is unknown was meant for some dimension: the ones no entry
            # joins are its likeliest, and their `dimN.x` references are follow-ons, not news.
            for dimension in self.dimensions.values():
                if dimension.table.name not in self.joined_tables:
                    self.scope.broken.update((dimension.table.name, dimension.alias))
        return self.joins

    def _event_side_without_payload(self, entry: Any) -> bool:
        """An event-side entry cannot be built when the payload class failed (reported there)."""
        return (
            self.payload is None and isinstance(entry, dict) and entry.get("source_table") == "BusinessEvent"
        )

    def _mark_failed(self, entry: Any) -> None:
        """An entry with a reported error: what it would have joined must not cause more errors."""
        if not isinstance(entry, dict):
            self.lost_target = True
            return
        target = entry.get("target_table")
        dimension = self.dimensions.get(_last_part(target.strip())) if isinstance(target, str) else None
        if dimension is None:
            self.lost_target = True
        else:
            self.scope.broken.add(dimension.table.name)
            if dimension.table.name not in self.joined_tables:
                self.scope.broken.add(dimension.alias)
        alias = entry.get("alias")
        if isinstance(alias, str) and alias not in self.scope.aliases:
            self.scope.broken.add(alias)

    def _entry(self, name: str, entry: Any) -> None:
        if not isinstance(entry, dict):
            self._error(
                "joins.not_mapping",
                "join entry must be a mapping",
                (name,),
                name,
                "give source_table, source_field, target_table, target_field, join_type",
            )
            return
        for key in entry:
            if key not in _ENTRY_KEYS:
                self.issues.warning(
                    "joins.unknown_key",
                    f"unknown join entry key {key!r} is ignored",
                    block=BLOCK,
                    line=self.part.line_of(name, key),
                    name=key,
                    hint=f"known keys: {', '.join(sorted(_ENTRY_KEYS))}",
                )
        errors_before = len(self.issues.errors)
        dimension = self._target(name, entry)
        alias = self._alias(name, entry, dimension)
        source = self._source(name, entry)
        join_type = self._join_type(name, entry)
        target_type = self._target_field(name, entry, dimension)
        if dimension is None or alias is None:
            return
        self.scope = self.scope.with_alias(alias, dimension.table)
        self.joined_tables.setdefault(dimension.table.name, []).append(alias)
        condition = self._condition(name, entry)
        description = entry.get("description")
        if len(self.issues.errors) > errors_before or source is None or join_type is None:
            return
        self._key_types(name, source, target_type)
        self.joins.append(
            Join(
                name=name,
                source_kind=source.kind,
                source_table=str(entry["source_table"]),
                source_alias=source.alias,
                source_field=source.field,
                source_type=source.type,
                target_table=dimension.table.name,
                target_field=str(entry["target_field"]),
                target_type=target_type,
                dimension_number=dimension.number,
                alias=alias,
                join_type=join_type,
                additional_condition=condition.expression if condition else None,
                description=description if isinstance(description, str) else None,
                line=self.part.line_of(name),
            )
        )
        self._primary_key_warning(name, entry, dimension, alias, condition.expression if condition else None)

    # ------------------------------------------------------------------ target and alias

    def _target(self, name: str, entry: dict[str, Any]) -> Dimension | None:
        target = self._required_text(name, entry, "target_table")
        if target is None:
            return None
        dimension = self.dimensions.get(_last_part(target))
        if dimension is None and _last_part(target) in self.scope.broken:
            self._mark_broken(entry)
        elif dimension is None:
            self._error(
                "joins.unknown_target_table",
                f"target_table {target!r} is not a declared dimension table",
                (name, "target_table"),
                target,
                f"declare it under `### Dimension N: {target}` or use a declared one",
            )
        return dimension

    def _mark_broken(self, entry: dict[str, Any]) -> None:
        """A join on a dimension whose DDL failed: its alias must not cause follow-up errors."""
        alias = entry.get("alias")
        if isinstance(alias, str):
            self.scope.broken.add(alias)

    def _alias(self, name: str, entry: dict[str, Any], dimension: Dimension | None) -> str | None:
        explicit = entry.get("alias")
        if explicit is None:
            if dimension is None:
                return None
            if self.target_counts.get(dimension.table.name, 0) > 1:
                self._error(
                    "joins.alias_required",
                    f"{dimension.table.name} is joined more than once, so each entry needs an alias",
                    (name,),
                    dimension.table.name,
                    "add `alias: <name>` to every entry joining this table (e.g. origin_city, dest_city)",
                )
                return None
            alias = dimension.alias
        elif not isinstance(explicit, str) or not IDENTIFIER.match(explicit):
            self._error(
                "names.invalid_identifier",
                "alias is not a valid identifier",
                (name, "alias"),
                str(explicit)[:80],
                "use letters, digits and underscores, starting with a letter or underscore",
            )
            return None
        else:
            alias = explicit
        return alias if self._alias_is_free(name, alias, dimension) else None

    def _alias_is_free(self, name: str, alias: str, dimension: Dimension | None) -> bool:
        reserved = {"payload", "businessevent"}
        if self.payload is not None:
            reserved.add(self.payload.name.lower())
        other_tables = {t.lower() for t in self.dimensions if dimension is None or t != dimension.table.name}
        if alias.lower() in reserved or alias.lower() in other_tables:
            self._error(
                "joins.reserved_alias",
                f"alias {alias!r} is reserved (payload, the source, or another dimension's table name)",
                (name, "alias"),
                alias,
                "choose another alias",
            )
            return False
        if any(j.lower() == alias.lower() for j in self.scope.aliases):
            self._error(
                "joins.duplicate_alias",
                f"alias {alias!r} is used by an earlier join",
                (name, "alias"),
                alias,
                "give each join entry a unique alias",
            )
            return False
        return True

    # ------------------------------------------------------------------ source side

    def _source(self, name: str, entry: dict[str, Any]) -> _Side | None:
        source = self._required_text(name, entry, "source_table")
        field_text = self._required_text(name, entry, "source_field")
        if source is None or field_text is None:
            return None
        if self.payload is not None and source in ("BusinessEvent", self.payload.name):
            return self._event_source(name, field_text)
        if self.payload is None and source == "BusinessEvent":
            return None
        return self._dimension_source(name, source, field_text)

    def _event_source(self, name: str, field_text: str) -> _Side | None:
        assert self.payload is not None
        prefix, _, field_name = field_text.partition(".")
        if prefix != "payload" or not field_name:
            self._error(
                "joins.bad_source_field",
                "an event-side source_field must be payload.<field>",
                (name, "source_field"),
                field_text,
                f"write `source_field: payload.{field_text.rsplit('.', maxsplit=1)[-1]}`",
            )
            return None
        payload_field = self.payload.field(field_name)
        if payload_field is None or payload_field.flink_type is None:
            what = "is not a field of" if payload_field is None else "has an unsupported type in"
            self._error(
                "joins.unknown_source_field",
                f"source_field {field_name!r} {what} {self.payload.name}",
                (name, "source_field"),
                field_text,
                f"use a declared payload field ({', '.join(f.name for f in self.payload.fields)[:200]})",
            )
            return None
        return _Side("event", None, field_name, payload_field.flink_type)

    def _dimension_source(self, name: str, source: str, field_text: str) -> _Side | None:
        alias = self._resolve_source_alias(name, source)
        if alias is None:
            return None
        table = self.scope.aliases[alias]
        field_name = field_text
        if "." in field_text:
            prefix, _, field_name = field_text.rpartition(".")
            if prefix not in (alias, source, table.name):
                field_name = field_text
        column = table.column(field_name)
        if column is None:
            self._error(
                "joins.unknown_source_field",
                f"source_field {field_text!r} is not a column of {table.name}",
                (name, "source_field"),
                field_text,
                f"use a column of {table.name} ({', '.join(c.name for c in table.columns)[:200]})",
            )
            return None
        return _Side("dimension", alias, column.name, column.type)

    def _resolve_source_alias(self, name: str, source: str) -> str | None:
        if source in self.scope.aliases:
            return source
        table = _last_part(source)
        if table in self.scope.broken or source in self.scope.broken:
            return None
        aliases = self.joined_tables.get(table, [])
        if len(aliases) == 1:
            return aliases[0]
        if len(aliases) > 1:
            self._error(
                "joins.ambiguous_source_table",
                f"{table} is joined more than once; name the alias of the one to cascade from",
                (name, "source_table"),
                source,
                f"use one of the aliases {', '.join(aliases)} as source_table",
            )
        elif table in self.dimensions or source in {d.alias for d in self.dimensions.values()}:
            self._error(
                "joins.source_not_yet_joined",
                f"source_table {source!r} is not joined before this entry",
                (name, "source_table"),
                source,
                "move this entry after the entry that joins its source table",
            )
        else:
            payload_name = self.payload.name if self.payload else "the payload class"
            self._error(
                "joins.unknown_source_table",
                f"source_table {source!r} is neither BusinessEvent, {payload_name} nor a joined dimension",
                (name, "source_table"),
                source,
                f"use BusinessEvent, {payload_name} or an earlier joined dimension table/alias",
            )
        return None

    # ------------------------------------------------------------------ the rest

    def _target_field(
        self, name: str, entry: dict[str, Any], dimension: Dimension | None
    ) -> FlinkType | None:
        field_text = self._required_text(name, entry, "target_field")
        if field_text is None or dimension is None:
            return None
        column = dimension.table.column(field_text.rpartition(".")[2] if "." in field_text else field_text)
        if column is None or (
            "." in field_text and field_text.split(".")[0] not in _owner_names(entry, dimension)
        ):
            self._error(
                "joins.unknown_target_field",
                f"target_field {field_text!r} is not a column of {dimension.table.name}",
                (name, "target_field"),
                field_text,
                f"use a column of {dimension.table.name}, normally its primary key",
            )
            return None
        entry["target_field"] = column.name
        return column.type

    def _join_type(self, name: str, entry: dict[str, Any]) -> Literal["LEFT", "INNER"] | None:
        value = entry.get("join_type")
        normalized = " ".join(value.upper().split()) if isinstance(value, str) else ""
        if normalized in _JOIN_TYPES:
            return _JOIN_TYPES[normalized]
        self._error(
            "joins.invalid_join_type",
            f"join_type {value!r} is not LEFT JOIN or INNER JOIN"
            if value is not None
            else "join_type is missing",
            (name, "join_type"),
            str(value) if value is not None else "join_type",
            "write `join_type: LEFT JOIN` or `join_type: INNER JOIN`",
        )
        return None

    def _condition(self, name: str, entry: dict[str, Any]) -> Any:
        value = entry.get("additional_condition")
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        where = Where(BLOCK, self.part.line_of(name, "additional_condition"), name, multiline=True)
        checked = check_expression(value, where, self.scope, self.issues)
        if checked is None:
            return None
        if checked.has_aggregate:
            self._error(
                "aggregation.in_condition",
                "aggregates are not allowed in a join condition",
                (name, "additional_condition"),
                name,
                "move the aggregate into field_mapping; join conditions see single rows",
            )
            return None
        if not is_boolean(checked.expression.type):
            self._error(
                "expressions.not_boolean",
                "additional_condition must be a boolean expression",
                (name, "additional_condition"),
                name,
                "compare values, e.g. `dim1.status = 1`",
            )
            return None
        return checked

    def _key_types(self, name: str, source: _Side, target: FlinkType | None) -> None:
        if source.type is None or target is None or join_key_compatible(source.type, target):
            return
        self._error(
            "joins.incompatible_key_types",
            f"join keys have incompatible types {source.type.sql()} and {target.sql()}",
            (name, "target_field"),
            name,
            "join strings with strings and numbers with numbers; CAST on one side is not supported",
        )

    def _primary_key_warning(
        self, name: str, entry: dict[str, Any], dimension: Dimension, alias: str, condition: Expression | None
    ) -> None:
        key = tuple(dimension.table.primary_key)
        field = entry["target_field"]
        matched = {field} | (_equated_columns(condition.ast, alias) if condition is not None else set())
        if key and set(key) <= matched:
            return
        table = dimension.table.name
        if not key:
            message = f"{table} declares no primary key; target_field {field!r} may match several rows"
            hint = "declare `PRIMARY KEY (<column>) NOT ENFORCED` on the dimension if the column is unique"
        elif field in key:
            others = [k for k in key if k not in matched]
            message = (
                f"target_field {field!r} is only part of the primary key ({', '.join(key)}) of {table}: "
                "one event may match several rows"
            )
            hint = (
                "match the other key column(s) too, in additional_condition "
                f"(e.g. `{alias}.{others[0]} = payload.<field>`)"
            )
        else:
            message = f"target_field {field!r} is not the primary key ({', '.join(key)}) of {table}"
            hint = "lookup joins are fastest and return one row on the primary key"
        self.issues.warning(
            "joins.target_not_primary_key",
            message,
            block=BLOCK,
            line=self.part.line_of(name, "target_field"),
            name=str(field),
            hint=hint,
        )

    def _required_text(self, name: str, entry: dict[str, Any], key: str) -> str | None:
        value = entry.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        self._error(
            "joins.missing_key",
            f"join entry needs {key}" if value is None else f"{key} must be a non-empty string",
            (name, key),
            key,
            f"add `{key}: <value>` to the entry",
        )
        return None

    def _error(self, code: str, message: str, path: tuple[str, ...], name: str, hint: str) -> None:
        self.issues.error(code, message, block=BLOCK, line=self.part.line_of(*path), name=name, hint=hint)


def check_joins(
    raw: RawDocument, payload: PayloadClass | None, dimensions: list[Dimension], issues: Issues
) -> tuple[list[Join], Scope]:
    """Check the entries in block order; the scope returned holds every joined alias."""
    built = {d.heading_line: d for d in dimensions}
    failed = [h for h in raw.dimension_headings if h.heading.line not in built]
    broken = {h.table for h in failed} | {f"dim{h.number}" for h in failed}
    for heading in raw.dimension_headings:
        built_from = built.get(heading.heading.line)
        if built_from is not None and built_from.table.name != heading.table:
            # heading/DDL mismatch (reported): a join or reference by the heading's name is a follow-on
            broken.update((heading.table, built_from.alias))
    if BLOCK in raw.unreadable:  # the block did not load (reported): nothing is known about joins
        broken.update(name for d in dimensions for name in (d.table.name, d.alias))
    part = raw.yaml.get(BLOCK)
    scope = Scope(payload, {}, {d.table.name: d.alias for d in dimensions}, broken)
    if part is None:
        return [], scope
    checker = JoinChecker(part, payload, dimensions, issues, broken)
    joins = checker.run()
    return joins, checker.scope


def _count_targets(entries: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in entries.values():
        if isinstance(entry, dict) and isinstance(entry.get("target_table"), str):
            table = _last_part(entry["target_table"].strip())
            counts[table] = counts.get(table, 0) + 1
    return counts


def _last_part(name: str) -> str:
    return name.rsplit(".", maxsplit=1)[-1].strip("`")


def _owner_names(entry: dict[str, Any], dimension: Dimension) -> set[str]:
    return {dimension.table.name, dimension.alias, str(entry.get("alias"))}


def _equated_columns(ast: Expr, alias: str) -> set[str]:
    """Columns of `alias` that a top-level AND of the condition sets equal to something."""
    if isinstance(ast, Binary) and ast.op == "AND":
        return _equated_columns(ast.left, alias) | _equated_columns(ast.right, alias)
    if isinstance(ast, Binary) and ast.op in ("=", "IS NOT DISTINCT FROM"):
        return {
            side.name
            for side in (ast.left, ast.right)
            if isinstance(side, ExprColumn) and side.qualifier == alias
        }
    return set()
