"""The AST of a Flink SQL scalar expression and its canonical SQL renderer.

Nodes are pydantic models; `Expr` is a union discriminated by `kind`, so a spec holding
expressions round-trips through JSON. `render` gives deterministic Flink SQL text: every
binary and unary operation is parenthesised, string literals double their quotes, function
names and keywords come from checked sets, and column references are rendered by the caller.

Special-syntax functions are normalised to calls whose keyword arguments are `Symbol`s:
`EXTRACT(DAY FROM x)` is `Call("EXTRACT", [Symbol("DAY"), x])`, `TRIM(LEADING 'x' FROM s)` is
`Call("TRIM", [Symbol("LEADING"), 'x', s])`, `POSITION(a IN b)` is `Call("POSITION", [a, b])`,
`SUBSTRING(s FROM 2 FOR 3)` is `Call("SUBSTRING", [s, 2, 3])`, `FLOOR(x TO DAY)` is
`Call("FLOOR", [x, Symbol("DAY")])`, `TIMESTAMPADD(DAY, 1, t)` keeps `Symbol("DAY")` first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.flinksql.quoting import quote_string
from services.flinksql.sqltypes import FlinkType

AGGREGATES = frozenset({"SUM", "COUNT", "MAX", "MIN", "AVG"})

# Flink 2.3's built-in functions that are not scalar, by SQL name, read from PyFlink 2.3's
# planner (FlinkSqlOperatorTable.getOperatorList(): isAggregator() and the window, table and
# MATCH_RECOGNIZE operators) and BuiltInFunctionDefinitions (kinds AGGREGATE, TABLE,
# PROCESS_TABLE). A request supports the five AGGREGATES only (request format §3); the parser
# refuses every other name here, which Flink would otherwise reject at planning time
# ("Expression ... is not being grouped") or the generator would miscompile.
OTHER_AGGREGATES = frozenset(
    {
        "APPROX_COUNT_DISTINCT",
        "ARRAY_AGG",
        "BITMAP_AND_AGG",
        "BITMAP_AND_CARDINALITY_AGG",
        "BITMAP_BUILD_AGG",
        "BITMAP_BUILD_CARDINALITY_AGG",
        "BITMAP_OR_AGG",
        "BITMAP_OR_CARDINALITY_AGG",
        "BITMAP_XOR_AGG",
        "BITMAP_XOR_CARDINALITY_AGG",
        "COLLECT",
        "FIRST_VALUE",
        "JSON_ARRAYAGG",
        "JSON_ARRAYAGG_ABSENT_ON_NULL",
        "JSON_ARRAYAGG_NULL_ON_NULL",
        "JSON_OBJECTAGG",
        "JSON_OBJECTAGG_ABSENT_ON_NULL",
        "JSON_OBJECTAGG_NULL_ON_NULL",
        "LAST_VALUE",
        "LISTAGG",
        "PERCENTILE",
        "SINGLE_VALUE",
        "STDDEV",
        "STDDEV_POP",
        "STDDEV_SAMP",
        "VARIANCE",
        "VAR_POP",
        "VAR_SAMP",
    }
)
GROUPING_FUNCTIONS = frozenset({"GROUPING", "GROUPING_ID", "GROUP_ID"})
OVER_FUNCTIONS = frozenset(
    {"ROW_NUMBER", "RANK", "DENSE_RANK", "PERCENT_RANK", "CUME_DIST", "NTILE", "LAG", "LEAD"}
)
GROUP_WINDOW_FUNCTIONS = frozenset(
    {
        f"{window}{part}"
        for window in ("TUMBLE", "HOP", "SESSION")
        for part in ("_START", "_END", "_ROWTIME", "_PROCTIME")
    }
)
TABLE_FUNCTIONS = frozenset(
    {
        "TUMBLE",
        "HOP",
        "SESSION",
        "CUMULATE",
        "DESCRIPTOR",
        "UNNEST",
        "FROM_CHANGELOG",
        "TO_CHANGELOG",
        "ML_PREDICT",
        "ML_EVALUATE",
        "VECTOR_SEARCH",
    }
)
MATCH_FUNCTIONS = frozenset(
    {"PREV", "NEXT", "FIRST", "LAST", "CLASSIFIER", "MATCH_ROWTIME", "MATCH_PROCTIME"}
)

SUPPORTED_AGGREGATES_TEXT = "SUM, COUNT, MAX, MIN and AVG"


def non_scalar_function(name: str) -> str | None:
    """Why Flink's built-in `name` (upper case) cannot be called in a request, or None."""
    if name in OTHER_AGGREGATES:
        what = "an aggregate function"
    elif name in GROUPING_FUNCTIONS:
        what = "a grouping-set function"
    elif name in OVER_FUNCTIONS:
        what = "a window function that needs OVER (...)"
    elif name in GROUP_WINDOW_FUNCTIONS:
        what = "a group-window function"
    elif name in TABLE_FUNCTIONS:
        what = "a table-valued function"
    elif name in MATCH_FUNCTIONS:
        what = "a MATCH_RECOGNIZE function"
    else:
        return None
    return (
        f"{name} is {what} in Flink and is not supported in a request (request format §3: "
        f"the aggregates are {SUPPORTED_AGGREGATES_TEXT}; everything else must be a scalar function)"
    )


# Value constructors written with square brackets (`ARRAY[a, b]`, `MAP[k, v]`) and element
# access (`a[1]`, `m['k']`), kept as calls of these names. `ROW(a, b)` is an ordinary call.
CONSTRUCTORS = frozenset({"ARRAY", "MAP"})
ITEM_ACCESS = "ITEM"

# Functions written without parentheses (CURRENT_TIMESTAMP, not CURRENT_TIMESTAMP()).
NILADIC = frozenset(
    {
        "CURRENT_TIMESTAMP",
        "CURRENT_DATE",
        "CURRENT_TIME",
        "LOCALTIMESTAMP",
        "LOCALTIME",
        "CURRENT_ROW_TIMESTAMP",
    }
)
# Rendered bare only when called without arguments; CURRENT_ROW_TIMESTAMP() needs parentheses.
_BARE_NILADIC = NILADIC - {"CURRENT_ROW_TIMESTAMP"}

TIME_UNITS = frozenset(
    {
        "MILLENNIUM",
        "CENTURY",
        "DECADE",
        "YEAR",
        "QUARTER",
        "MONTH",
        "WEEK",
        "DAY",
        "HOUR",
        "MINUTE",
        "SECOND",
        "MILLISECOND",
        "MICROSECOND",
        "NANOSECOND",
        "DOW",
        "DOY",
        "EPOCH",
        "ISODOW",
        "ISOYEAR",
    }
)
TRIM_FLAGS = frozenset({"BOTH", "LEADING", "TRAILING"})
SYMBOLS = TIME_UNITS | TRIM_FLAGS
INTERVAL_UNITS = ("YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND")

BinaryOp = Literal[
    "+",
    "-",
    "*",
    "/",
    "||",
    "=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "AND",
    "OR",
    "IS DISTINCT FROM",
    "IS NOT DISTINCT FROM",
]
COMPARISONS = frozenset({"=", "<>", "<", "<=", ">", ">=", "IS DISTINCT FROM", "IS NOT DISTINCT FROM"})
ARITHMETIC = frozenset({"+", "-", "*", "/"})

_FUNCTION_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")


class _Node(BaseModel):
    model_config = ConfigDict(frozen=True)


class StringLit(_Node):
    kind: Literal["string"] = "string"
    value: str


class NumberLit(_Node):
    """An exact numeric literal kept as its text (`12`, `-3.50`), so no float drift."""

    kind: Literal["number"] = "number"
    text: str


class ApproxLit(_Node):
    """An approximate numeric literal (`1.5E3`), kept as text; it is a DOUBLE."""

    kind: Literal["approx"] = "approx"
    text: str


class BoolLit(_Node):
    kind: Literal["boolean"] = "boolean"
    value: bool


class NullLit(_Node):
    kind: Literal["null"] = "null"


class IntervalLit(_Node):
    """`INTERVAL '<value>' <unit> [TO <end_unit>]`."""

    kind: Literal["interval"] = "interval"
    value: str
    unit: str
    end_unit: str | None = None


class TypedLit(_Node):
    """`DATE '2025-01-01'`, `TIME '10:00:00'`, `TIMESTAMP '2025-01-01 10:00:00'`."""

    kind: Literal["typed"] = "typed"
    type_name: Literal["DATE", "TIME", "TIMESTAMP"]
    value: str


class Column(_Node):
    """`<qualifier>.<name>`: qualifier is `payload` or a join alias."""

    kind: Literal["column"] = "column"
    qualifier: str
    name: str


class Symbol(_Node):
    """A keyword argument of a special-syntax function (a time unit or a TRIM flag)."""

    kind: Literal["symbol"] = "symbol"
    name: str


class Call(_Node):
    kind: Literal["call"] = "call"
    name: str
    args: tuple[Expr, ...] = ()
    distinct: bool = False
    star: bool = False


class Cast(_Node):
    """`CAST(expr AS type)`, or `TRY_CAST` when `safe`."""

    kind: Literal["cast"] = "cast"
    expr: Expr
    type: FlinkType
    safe: bool = False


class When(_Node):
    condition: Expr
    result: Expr


class Case(_Node):
    """Simple CASE when `operand` is set, searched CASE otherwise."""

    kind: Literal["case"] = "case"
    operand: Expr | None = None
    whens: tuple[When, ...]
    default: Expr | None = None


class Unary(_Node):
    kind: Literal["unary"] = "unary"
    op: Literal["NOT", "-", "+"]
    operand: Expr


class Binary(_Node):
    kind: Literal["binary"] = "binary"
    op: BinaryOp
    left: Expr
    right: Expr


class IsTest(_Node):
    """`x IS [NOT] NULL|TRUE|FALSE|UNKNOWN`."""

    kind: Literal["is"] = "is"
    operand: Expr
    test: Literal["NULL", "TRUE", "FALSE", "UNKNOWN"]
    negated: bool = False


class Between(_Node):
    kind: Literal["between"] = "between"
    operand: Expr
    low: Expr
    high: Expr
    negated: bool = False
    symmetric: bool = False


class InList(_Node):
    kind: Literal["in"] = "in"
    operand: Expr
    items: tuple[Expr, ...]
    negated: bool = False


class Like(_Node):
    kind: Literal["like"] = "like"
    op: Literal["LIKE", "SIMILAR TO"] = "LIKE"
    operand: Expr
    pattern: Expr
    escape: Expr | None = None
    negated: bool = False


Expr = Annotated[
    StringLit
    | NumberLit
    | ApproxLit
    | BoolLit
    | NullLit
    | IntervalLit
    | TypedLit
    | Column
    | Symbol
    | Call
    | Cast
    | Case
    | Unary
    | Binary
    | IsTest
    | Between
    | InList
    | Like,
    Field(discriminator="kind"),
]

for _model in (Call, Cast, When, Case, Unary, Binary, IsTest, Between, InList, Like):
    _model.model_rebuild()


class ExprHolder(BaseModel):
    """A wrapper that (de)serialises one `Expr`: `ExprHolder(expr=e).model_dump_json()`."""

    model_config = ConfigDict(frozen=True)

    expr: Expr


# ---------------------------------------------------------------- traversal


def children(expr: Expr) -> list[Expr]:  # noqa: PLR0911
    """Direct sub-expressions, in source order."""
    if isinstance(expr, Call):
        return list(expr.args)
    if isinstance(expr, Cast):
        return [expr.expr]
    if isinstance(expr, Case):
        out: list[Expr] = [] if expr.operand is None else [expr.operand]
        for when in expr.whens:
            out += [when.condition, when.result]
        return out if expr.default is None else [*out, expr.default]
    if isinstance(expr, Unary):
        return [expr.operand]
    if isinstance(expr, Binary):
        return [expr.left, expr.right]
    if isinstance(expr, IsTest):
        return [expr.operand]
    if isinstance(expr, Between):
        return [expr.operand, expr.low, expr.high]
    if isinstance(expr, InList):
        return [expr.operand, *expr.items]
    if isinstance(expr, Like):
        return [expr.operand, expr.pattern] + ([] if expr.escape is None else [expr.escape])
    return []


def walk(expr: Expr) -> Iterator[Expr]:
    """Every node of the tree, pre-order (iterative: no recursion limit)."""
    stack: list[Expr] = [expr]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(children(node)))


def columns(expr: Expr) -> list[Column]:
    """Column references in source order (repeats kept)."""
    return [node for node in walk(expr) if isinstance(node, Column)]


def is_aggregate(expr: Expr) -> bool:
    return isinstance(expr, Call) and expr.name in AGGREGATES


def aggregate_calls(expr: Expr) -> list[Call]:
    """Aggregate calls (SUM, COUNT, MAX, MIN, AVG), outermost first, nested ones included."""
    return [node for node in walk(expr) if isinstance(node, Call) and node.name in AGGREGATES]


# ---------------------------------------------------------------- rendering


class RenderError(ValueError):
    """An AST that cannot be rendered safely (a function name or keyword outside the allowed sets)."""


def render(expr: Expr, column_sql: Callable[[Column], str]) -> str:
    """Canonical Flink SQL text of `expr`; `column_sql` renders each column reference."""
    return _Renderer(column_sql).render(expr)


class _Renderer:
    def __init__(self, column_sql: Callable[[Column], str]) -> None:
        self.column_sql = column_sql

    def render(self, expr: Expr) -> str:  # noqa: PLR0911, PLR0912, C901
        r = self.render
        if isinstance(expr, StringLit):
            return quote_string(expr.value)
        if isinstance(expr, NumberLit | ApproxLit):
            if not re.fullmatch(r"-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", expr.text):
                raise RenderError(f"invalid numeric literal {expr.text!r}")
            return expr.text
        if isinstance(expr, BoolLit):
            return "TRUE" if expr.value else "FALSE"
        if isinstance(expr, NullLit):
            return "NULL"
        if isinstance(expr, IntervalLit):
            units = [expr.unit] if expr.end_unit is None else [expr.unit, expr.end_unit]
            if any(u not in INTERVAL_UNITS for u in units):
                raise RenderError(f"invalid interval unit {units}")
            return f"INTERVAL {quote_string(expr.value)} {' TO '.join(units)}"
        if isinstance(expr, TypedLit):
            return f"{expr.type_name} {quote_string(expr.value)}"
        if isinstance(expr, Column):
            return self.column_sql(expr)
        if isinstance(expr, Symbol):
            if expr.name not in SYMBOLS:
                raise RenderError(f"invalid keyword {expr.name!r}")
            return expr.name
        if isinstance(expr, Call):
            return self.call(expr)
        if isinstance(expr, Cast):
            return f"{'TRY_CAST' if expr.safe else 'CAST'}({r(expr.expr)} AS {expr.type.sql()})"
        if isinstance(expr, Case):
            parts = ["CASE"]
            if expr.operand is not None:
                parts.append(r(expr.operand))
            for when in expr.whens:
                parts += ["WHEN", r(when.condition), "THEN", r(when.result)]
            if expr.default is not None:
                parts += ["ELSE", r(expr.default)]
            parts.append("END")
            return " ".join(parts)
        if isinstance(expr, Unary):
            operand = r(expr.operand)
            if isinstance(expr.operand, NumberLit | ApproxLit):
                operand = f"({operand})"  # keeps -(2) a negation, not the literal -2
            return f"({expr.op} {operand})"
        if isinstance(expr, Binary):
            return f"({r(expr.left)} {expr.op} {r(expr.right)})"
        if isinstance(expr, IsTest):
            return f"({r(expr.operand)} IS {'NOT ' if expr.negated else ''}{expr.test})"
        if isinstance(expr, Between):
            words = ("NOT " if expr.negated else "") + "BETWEEN" + (" SYMMETRIC" if expr.symmetric else "")
            return f"({r(expr.operand)} {words} {r(expr.low)} AND {r(expr.high)})"
        if isinstance(expr, InList):
            items = ", ".join(r(item) for item in expr.items)
            return f"({r(expr.operand)} {'NOT ' if expr.negated else ''}IN ({items}))"
        if isinstance(expr, Like):
            text = f"({r(expr.operand)} {'NOT ' if expr.negated else ''}{expr.op} {r(expr.pattern)}"
            if expr.escape is not None:
                text += f" ESCAPE {r(expr.escape)}"
            return text + ")"
        raise RenderError(f"unknown expression node {type(expr).__name__}")

    def call(self, call: Call) -> str:  # noqa: PLR0911
        name = call.name
        if not _FUNCTION_NAME.fullmatch(name):
            raise RenderError(f"invalid function name {name!r}")
        args = call.args
        r = self.render
        if call.star:
            return f"{name}(*)"
        if name in CONSTRUCTORS and args:
            return f"{name}[{', '.join(r(a) for a in args)}]"
        if name == ITEM_ACCESS and len(args) == 2:
            return f"({r(args[0])})[{r(args[1])}]"
        if not args and name in _BARE_NILADIC:
            return name
        if name == "EXTRACT" and len(args) == 2 and isinstance(args[0], Symbol):
            return f"EXTRACT({r(args[0])} FROM {r(args[1])})"
        if name == "TRIM" and len(args) == 3 and isinstance(args[0], Symbol):
            return f"TRIM({r(args[0])} {r(args[1])} FROM {r(args[2])})"
        if name == "POSITION" and len(args) == 2:
            return f"POSITION({r(args[0])} IN {r(args[1])})"
        if name == "SUBSTRING" and len(args) in (2, 3):
            tail = f" FOR {r(args[2])}" if len(args) == 3 else ""
            return f"SUBSTRING({r(args[0])} FROM {r(args[1])}{tail})"
        if name in ("FLOOR", "CEIL") and len(args) == 2 and isinstance(args[1], Symbol):
            return f"{name}({r(args[0])} TO {r(args[1])})"
        prefix = "DISTINCT " if call.distinct else ""
        return f"{name}({prefix}{', '.join(r(a) for a in args)})"
