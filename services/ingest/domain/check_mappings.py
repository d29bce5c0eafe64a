"""field_mapping, special_conditions and the aggregation rules (request-format.md §2, §3, §5)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.flinksql.spec import Aggregation, BusinessRule, Expression, Mapping, Table
from services.flinksql.sqltypes import can_cast, insert_assignable
from services.ingest.domain.check_expressions import (
    Checked,
    Scope,
    Where,
    check_expression,
    columns_outside_aggregates,
    is_boolean,
    warn_result_cast,
)
from services.ingest.domain.errors import Issues
from services.ingest.domain.parse import RawDocument, YamlPart
from services.ingest.domain.payload_class import IDENTIFIER

MAPPING_BLOCK = "field_mapping"
CONDITIONS_BLOCK = "special_conditions"
_CONDITION_KEYS = ("data_filters", "business_rules", "performance_hints")


def check_mappings(raw: RawDocument, result: Table | None, scope: Scope, issues: Issues) -> list[Mapping]:
    """Every physical result column mapped exactly once, each mapping a valid expression."""
    part = raw.yaml.get(MAPPING_BLOCK)
    if part is None:
        return []
    if not isinstance(part.value, dict):
        issues.error(
            "mapping.not_mapping",
            "field_mapping must map result columns to expressions",
            block=MAPPING_BLOCK,
            line=part.line_of(),
            name=MAPPING_BLOCK,
            hint='write `field_mapping:` then `<result_column>: "<expression>"` lines',
        )
        return []
    checked: dict[str, Checked] = {}
    for key, value in part.value.items():
        result_checked = _mapping(part, key, value, result=result, scope=scope, issues=issues)
        if result_checked is not None:
            checked[key] = result_checked
    if result is not None:
        _report_unmapped(part, result, issues)
    _check_aggregate_mixing(part, checked, issues)
    return _ordered_mappings(part, checked, result, issues)


def _mapping(
    part: YamlPart, key: str, value: Any, *, result: Table | None, scope: Scope, issues: Issues
) -> Checked | None:
    line = part.line_of(key)
    if not IDENTIFIER.match(key):
        issues.error(
            "names.invalid_identifier",
            "mapping key is not a valid identifier",
            block=MAPPING_BLOCK,
            line=line,
            name=key[:80],
            hint="use the result column name: letters, digits and underscores",
        )
        return None
    if result is not None and result.column(key) is None:
        close = [c.name for c in result.columns if c.name.lower() == key.lower()]
        issues.error(
            "mapping.unknown_column",
            f"{key!r} is not a column of result table {result.name}",
            block=MAPPING_BLOCK,
            line=line,
            name=key,
            hint=f"did you mean {close[0]!r}? names are case-sensitive"
            if close
            else "map only the columns declared in the result CREATE TABLE",
        )
    return check_expression(value, Where(MAPPING_BLOCK, line, key, multiline=True), scope, issues)


def _report_unmapped(part: YamlPart, result: Table, issues: Issues) -> None:
    for column in result.columns:
        if column.name not in part.value:
            issues.error(
                "mapping.unmapped_column",
                f"result column {column.name!r} has no mapping",
                block=MAPPING_BLOCK,
                line=part.line_of(),
                name=column.name,
                hint=f'add `{column.name}: "<expression>"` to field_mapping',
            )


def _check_aggregate_mixing(part: YamlPart, checked: dict[str, Checked], issues: Issues) -> None:
    for key, item in checked.items():
        if not item.has_aggregate:
            continue
        outside = columns_outside_aggregates(item.expression.ast)
        if outside:
            issues.error(
                "aggregation.mixed",
                "mapping mixes an aggregate with column references outside the aggregate",
                block=MAPPING_BLOCK,
                line=part.line_of(key),
                name=key,
                hint=f"move {outside[0].qualifier}.{outside[0].name} into the aggregate or its own column",
            )


def _ordered_mappings(
    part: YamlPart, checked: dict[str, Checked], result: Table | None, issues: Issues
) -> list[Mapping]:
    if result is None:
        return []
    mappings: list[Mapping] = []
    for column in result.columns:
        item = checked.get(column.name)
        if item is None:
            continue
        inferred = item.expression.type
        if inferred is not None and not can_cast(inferred, column.type):
            issues.error(
                "types.no_cast",
                f"mapping type {inferred.sql()} cannot be CAST to column type {column.type.sql()}",
                block=MAPPING_BLOCK,
                line=part.line_of(column.name),
                name=column.name,
                hint="convert explicitly (e.g. UNIX_TIMESTAMP, DATE_FORMAT) or change the column type",
            )
            continue
        needs_cast = inferred is None or not insert_assignable(inferred, column.type)
        if needs_cast:
            where = Where(MAPPING_BLOCK, part.line_of(column.name), column.name)
            warn_result_cast(inferred, column.type, where, issues)
        mappings.append(
            Mapping(
                column=column.name,
                expression=item.expression,
                column_type=column.type,
                is_aggregate=item.has_aggregate,
                needs_cast=needs_cast,
                nondeterministic=item.nondeterministic,
                line=part.line_of(column.name),
            )
        )
        _mapping_warnings(part, column.name, item, issues)
    return mappings


def _mapping_warnings(part: YamlPart, column: str, item: Checked, issues: Issues) -> None:
    if item.nondeterministic:
        issues.warning(
            "mapping.nondeterministic",
            "mapping uses a non-deterministic function; results differ between runs and replays",
            block=MAPPING_BLOCK,
            line=part.line_of(column),
            name=column,
            hint="derive the value from the event (e.g. payload time) instead of the wall clock or RAND",
        )
    if item.unguarded_divisions:
        issues.warning(
            "mapping.unguarded_division",
            "division without a zero guard; a DECIMAL division by zero fails the job",
            block=MAPPING_BLOCK,
            line=part.line_of(column),
            name=column,
            hint="divide by NULLIF(x, 0) or guard with CASE WHEN x <> 0",
        )


def check_aggregation(mappings: list[Mapping], result: Table | None, issues: Issues) -> Aggregation:
    """Group by every non-aggregate column when any mapping aggregates; the PK must be grouped."""
    if not any(m.is_aggregate for m in mappings):
        return Aggregation()
    group_by = tuple(m.column for m in mappings if not m.is_aggregate)
    if result is not None:
        for key in result.primary_key:
            if key not in group_by:
                issues.error(
                    "aggregation.key_not_grouped",
                    f"primary key column {key!r} is an aggregate, not a grouping column",
                    block=MAPPING_BLOCK,
                    line=next((m.line for m in mappings if m.column == key), None),
                    name=key,
                    hint="the result primary key must consist of non-aggregate (grouping) columns",
                )
    return Aggregation(is_aggregate=True, group_by=group_by)


@dataclass
class Conditions:
    filters: list[Expression] = field(default_factory=list)
    rules: list[BusinessRule] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)


def check_conditions(raw: RawDocument, scope: Scope, issues: Issues) -> Conditions:
    conditions = Conditions()
    part = raw.yaml.get(CONDITIONS_BLOCK)
    if part is None or part.value is None:
        return conditions
    if not isinstance(part.value, dict):
        issues.error(
            "conditions.not_mapping",
            "special_conditions must be a mapping",
            block=CONDITIONS_BLOCK,
            line=part.line_of(),
            name=CONDITIONS_BLOCK,
            hint="use the keys data_filters, business_rules and performance_hints",
        )
        return conditions
    for key in part.value:
        if key not in _CONDITION_KEYS:
            issues.warning(
                "conditions.unknown_key",
                f"unknown special_conditions key {key!r} is ignored",
                block=CONDITIONS_BLOCK,
                line=part.line_of(key),
                name=key,
                hint=f"known keys: {', '.join(_CONDITION_KEYS)}",
            )
    conditions.filters = _filters(part, scope, issues)
    conditions.rules = _rules(part, scope, issues)
    conditions.hints = _hints(part.value.get("performance_hints"))
    return conditions


def _filters(part: YamlPart, scope: Scope, issues: Issues) -> list[Expression]:
    value = part.value.get("data_filters")
    items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    if value is not None and not isinstance(value, str | list):
        _not_list(part, issues)
    filters: list[Expression] = []
    for index, item in enumerate(items):
        where = Where(CONDITIONS_BLOCK, part.line_of("data_filters", index), f"data_filters[{index}]", True)
        expression = _predicate(item, where, scope, issues)
        if expression is not None:
            filters.append(expression)
    return filters


def _rules(part: YamlPart, scope: Scope, issues: Issues) -> list[BusinessRule]:
    value = part.value.get("business_rules")
    if value is None:
        return []
    if not isinstance(value, dict):
        issues.error(
            "conditions.not_mapping",
            "business_rules must map rule names to {condition, description}",
            block=CONDITIONS_BLOCK,
            line=part.line_of("business_rules"),
            name="business_rules",
            hint="write `<rule_name>:` with indented `condition:` and `description:`",
        )
        return []
    rules: list[BusinessRule] = []
    for name, rule in value.items():
        line = part.line_of("business_rules", name)
        if not isinstance(rule, dict) or "condition" not in rule:
            issues.error(
                "conditions.rule_without_condition",
                "business rule needs a condition",
                block=CONDITIONS_BLOCK,
                line=line,
                name=name,
                hint='write `condition: "<boolean expression>"` under the rule',
            )
            continue
        where = Where(CONDITIONS_BLOCK, part.line_of("business_rules", name, "condition"), name, True)
        expression = _predicate(rule["condition"], where, scope, issues)
        description = rule.get("description")
        if expression is not None:
            text = description if isinstance(description, str) else None
            rules.append(BusinessRule(name=name, condition=expression, description=text, line=line))
    return rules


def _predicate(value: Any, where: Where, scope: Scope, issues: Issues) -> Expression | None:
    checked = check_expression(value, where, scope, issues)
    if checked is None:
        return None
    if checked.has_aggregate:
        issues.error(
            "aggregation.in_filter",
            "aggregates are not allowed in filters or business rules",
            block=where.block,
            line=where.line,
            name=where.name,
            hint="filters apply to single events before aggregation; move the aggregate to field_mapping",
        )
        return None
    if not is_boolean(checked.expression.type):
        issues.error(
            "expressions.not_boolean",
            "a filter or rule condition must be a boolean expression",
            block=where.block,
            line=where.line,
            name=where.name,
            hint="compare values, e.g. `payload.amount > 0`",
        )
        return None
    return checked.expression


def _hints(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value if v is not None]
    return [str(value)]


def _not_list(part: YamlPart, issues: Issues) -> None:
    issues.error(
        "conditions.not_list",
        "data_filters must be a list of boolean expressions",
        block=CONDITIONS_BLOCK,
        line=part.line_of("data_filters"),
        name="data_filters",
        hint='write `data_filters:` then `- "<boolean expression>"` items',
    )
