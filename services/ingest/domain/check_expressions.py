"""One scalar expression of a request: parse, resolve its references, infer its type (§3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.flinksql.expr import AGGREGATES, Call, Column, Expr, aggregate_calls, children
from services.flinksql.spec import Expression, PayloadClass, Table
from services.flinksql.sqltypes import FlinkType
from services.ingest.domain.errors import Issues
from services.ingest.domain.expression_types import cast_may_fail
from services.ingest.domain.expressions import (
    ExpressionError,
    Problem,
    ProblemKind,
    TypeEnv,
    analyze,
    parse_expression,
)


@dataclass
class Scope:
    """What an expression may reference: payload fields and the aliases joined so far."""

    payload: PayloadClass | None
    aliases: dict[str, Table] = field(default_factory=dict)
    declared_tables: dict[str, str] = field(default_factory=dict)  # table name -> alias-by-rule
    broken: set[str] = field(default_factory=set)  # tables/aliases whose DDL or join already failed

    def with_alias(self, alias: str, table: Table) -> Scope:
        return Scope(self.payload, {**self.aliases, alias: table}, self.declared_tables, self.broken)


@dataclass
class Checked:
    expression: Expression
    has_aggregate: bool
    nondeterministic: bool
    unguarded_divisions: int


@dataclass(frozen=True)
class Where:
    block: str
    line: int
    name: str
    multiline: bool = False


def check_expression(value: Any, where: Where, scope: Scope, issues: Issues) -> Checked | None:
    """Check one expression; every problem goes to `issues` and the result is None then."""
    text = _text(value, where, issues)
    if text is None:
        return None
    try:
        ast = parse_expression(text)
    except ExpressionError as exc:
        issues.error(
            "expressions.invalid",
            f"not one scalar expression: {exc.message}",
            block=where.block,
            line=_line_at(text, exc.offset, where),
            name=exc.name or where.name,
            hint=_parse_hint(exc.message),
        )
        return None
    problems_before = len(issues.errors)
    _check_references(ast, where, scope, issues)
    _check_nested_aggregates(ast, where, issues)
    if len(issues.errors) > problems_before:
        return None
    inferred = _analyze(ast, scope)
    for problem in inferred.problems:
        code, hint = _PROBLEM_KINDS[problem.kind]
        issues.error(
            code,
            problem.message,
            block=where.block,
            line=where.line,
            name=where.name,
            hint=hint,
        )
    for warning in inferred.warnings:
        code, hint = _PROBLEM_KINDS[warning.kind]
        issues.warning(code, warning.message, block=where.block, line=where.line, name=where.name, hint=hint)
    if inferred.problems:
        return None
    return Checked(
        expression=Expression(text=text, ast=ast, type=inferred.type, line=where.line),
        has_aggregate=bool(aggregate_calls(ast)),
        nondeterministic=inferred.nondeterministic,
        unguarded_divisions=inferred.unguarded_divisions,
    )


def warn_result_cast(
    mapping_type: FlinkType | None, column_type: FlinkType, where: Where, issues: Issues
) -> bool:
    """Warn when the CAST the job puts between a mapping and its result column (§5) can fail the job.

    A STRING mapping into a DECIMAL/INT/BOOLEAN/DATE/TIMESTAMP column compiles to CAST, which
    raises on text that does not parse (verified on Flink 2.3: NumberFormatException for
    DECIMAL), against §3's "a job must not fail on a bad event". For check_mappings to call
    where it decides `needs_cast`; True when it warned.
    """
    if not cast_may_fail(mapping_type, column_type):
        return False
    assert mapping_type is not None
    issues.warning(
        "types.cast_may_fail",
        f"mapping type {mapping_type.sql()} is CAST to column type {column_type.sql()}, which fails the job "
        "on a value that does not parse (request-format §3: a job must not fail on a bad event)",
        block=where.block,
        line=where.line,
        name=where.name,
        hint=f"map TRY_CAST(<expression> AS {column_type.sql()}): text it cannot convert becomes NULL",
    )
    return True


def _text(value: Any, where: Where, issues: Issues) -> str | None:
    if isinstance(value, bool) or value is None or not isinstance(value, str | int | float):
        issues.error(
            "expressions.not_text",
            "expression must be a string (or a plain number)",
            block=where.block,
            line=where.line,
            name=where.name,
            hint="write the Flink SQL expression as a quoted YAML string",
        )
        return None
    return value if isinstance(value, str) else str(value)


def _check_references(ast: Expr, where: Where, scope: Scope, issues: Issues) -> None:
    for column in _columns(ast):
        if column.qualifier == "payload":
            _check_payload_field(column, where, scope, issues)
        elif column.qualifier in scope.aliases:
            table = scope.aliases[column.qualifier]
            if table.column(column.name) is None:
                issues.error(
                    "references.unknown_column",
                    f"table {table.name} (alias {column.qualifier}) has no column {column.name!r}",
                    block=where.block,
                    line=where.line,
                    name=f"{column.qualifier}.{column.name}",
                    hint=_suggest([c.name for c in table.columns], column.name, "use one of its columns"),
                )
        elif column.qualifier not in scope.broken:
            issues.error(
                "references.unknown_alias",
                f"unknown alias {column.qualifier!r}",
                block=where.block,
                line=where.line,
                name=column.qualifier,
                hint=_alias_hint(column.qualifier, scope),
            )


def _check_payload_field(column: Column, where: Where, scope: Scope, issues: Issues) -> None:
    if scope.payload is None:
        return
    payload_field = scope.payload.field(column.name)
    if payload_field is None:
        issues.error(
            "references.unknown_payload_field",
            f"payload class {scope.payload.name} has no field {column.name!r}",
            block=where.block,
            line=where.line,
            name=f"payload.{column.name}",
            hint=_suggest([f.name for f in scope.payload.fields], column.name, "declare it in the class"),
        )
    elif payload_field.flink_type is None:
        issues.error(
            "references.unsupported_payload_type",
            f"payload field {column.name!r} has Java type {payload_field.java_type}, which cannot be read",
            block=where.block,
            line=where.line,
            name=f"payload.{column.name}",
            hint="use String, Long, Integer, Short, Byte, Boolean, Float, Double or BigDecimal",
        )


def _check_nested_aggregates(ast: Expr, where: Where, issues: Issues) -> None:
    for call in aggregate_calls(ast):
        if any(aggregate_calls(arg) for arg in call.args):
            issues.error(
                "aggregation.nested",
                f"aggregate {call.name} contains another aggregate",
                block=where.block,
                line=where.line,
                name=where.name,
                hint="aggregates cannot be nested; aggregate the raw values once",
            )
            return


def columns_outside_aggregates(ast: Expr) -> list[Column]:
    """Column references that are not inside an aggregate call."""
    found: list[Column] = []
    stack: list[Expr] = [ast]
    while stack:
        node = stack.pop()
        if isinstance(node, Column):
            found.append(node)
        elif not (isinstance(node, Call) and node.name in AGGREGATES):
            stack.extend(children(node))
    return found


def _columns(ast: Expr) -> list[Column]:
    seen: list[Column] = []
    stack: list[Expr] = [ast]
    while stack:
        node = stack.pop()
        if isinstance(node, Column) and node not in seen:
            seen.append(node)
        stack.extend(reversed(children(node)))
    return seen


def _alias_hint(alias: str, scope: Scope) -> str:
    for table_name, rule_alias in scope.declared_tables.items():
        if alias in (table_name, rule_alias):
            return f"join {table_name} in join_relationships first (joined aliases: {_known(scope)})"
    return f"qualify columns with payload or a joined alias ({_known(scope)})"


def _known(scope: Scope) -> str:
    return ", ".join(["payload", *scope.aliases]) or "payload"


def _suggest(names: list[str], wanted: str, fallback: str) -> str:
    close = [n for n in names if n.lower() == wanted.lower()]
    if close:
        return f"names are case-sensitive: did you mean {close[0]!r}?"
    return f"{fallback} ({', '.join(names[:12])})" if names else fallback


def _line_at(text: str, offset: int, where: Where) -> int:
    if "\n" not in text or not where.multiline:
        return where.line
    return where.line + 1 + text[: max(offset, 0)].count("\n")


def _parse_hint(message: str) -> str:
    lowered = message.lower()
    if "bare column" in lowered:
        return "qualify the column: payload.<field> or <alias>.<column>"
    if ";" in message or "statement" in lowered or "subquer" in lowered:
        return "write a single scalar expression, no statements or subqueries"
    if "comment" in lowered:
        return "remove the SQL comment; put explanations in the description"
    if "unterminated" in lowered:
        return "close the string literal or quoted identifier"
    return "write one Flink SQL scalar expression"


def is_boolean(type_: FlinkType | None) -> bool:
    return type_ is None or type_.root in ("BOOLEAN", "NULL")


_HANDLED_ELSEWHERE = ("an expression may not mix", "is nested inside another aggregate")

# Each kind of analysis problem: its issue code and a hint that fits it.
_PROBLEM_KINDS: dict[ProblemKind, tuple[str, str]] = {
    "type": (
        "expressions.type",
        "Flink converts implicitly only within a type family (numbers with numbers, character "
        "strings with strings): CAST the operand to the type expected, e.g. CAST(payload.x AS STRING)",
    ),
    "arity": (
        "expressions.arity",
        "pass the number of arguments the function takes (see Flink's system functions)",
    ),
    "unknown_function": (
        "expressions.unknown_function",
        "use a Flink built-in function (Flink docs: Functions > System (Built-in) Functions); "
        "check the spelling",
    ),
    "literal": (
        "expressions.literal",
        "write a value the type can hold, or CAST a string literal to DECIMAL",
    ),
    "reference": (
        "references.unresolved",
        "reference payload.<field> of the payload class or <alias>.<column> of a joined dimension",
    ),
    "aggregate": ("aggregation.invalid", "aggregates are SUM, COUNT, MAX, MIN, AVG; see §5 of the format"),
    "cast_may_fail": (
        "expressions.cast_may_fail",
        "use TRY_CAST(... AS <type>): a value it cannot convert becomes NULL instead of failing the job",
    ),
    "cast": (
        "expressions.cast",
        "Flink has no CAST between these types; convert with a function (e.g. TO_TIMESTAMP_LTZ, "
        "UNIX_TIMESTAMP, DATE_FORMAT)",
    ),
}


@dataclass
class _Inferred:
    type: FlinkType | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    nondeterministic: bool = False
    unguarded_divisions: int = 0


def _is_payload_ref(problem: Problem, scope: Scope) -> bool:
    return scope.payload is None and "payload field" in problem.message


def _analyze(ast: Expr, scope: Scope) -> _Inferred:
    payload_types = {f.name: f.flink_type for f in scope.payload.fields} if scope.payload else {}
    alias_types = {alias: {c.name: c.type for c in t.columns} for alias, t in scope.aliases.items()}
    analysis = analyze(ast, TypeEnv(payload=payload_types, aliases=alias_types))
    inferred = _Inferred(
        type=analysis.type,
        nondeterministic=bool(analysis.nondeterministic),
        unguarded_divisions=len(analysis.unguarded_divisions),
    )
    for problem in analysis.problems:
        if any(marker in problem.message for marker in _HANDLED_ELSEWHERE):
            continue
        if problem.kind == "reference" and (problem.name in scope.broken or _is_payload_ref(problem, scope)):
            continue  # its table, join or payload class already failed and was reported there
        if problem.level == "error":
            inferred.problems.append(problem)
        elif problem.level == "warning":
            inferred.warnings.append(problem)
    return inferred
