"""Type inference and checks for parsed expressions (`analyze`).

Public names are re-exported by `services.ingest.domain.expressions`.

Result types follow Flink 2.x (`LogicalTypeMerging`): integer arithmetic keeps the widest
integer type (INT / INT is INT), DECIMAL arithmetic uses Flink's precision/scale rules,
anything with DOUBLE is DOUBLE; SUM of an integer keeps its type, SUM of DECIMAL(p, s) is
DECIMAL(38, s), AVG of an integer keeps its type, AVG of DECIMAL(p, s) is
DECIMAL(38, max(6, s)), COUNT is BIGINT NOT NULL.

Operand and argument types are checked with the rules of `expression_types` (verified against
Flink 2.3). A function Flink 2.3 does not resolve is an error: a request cannot register a
user-defined function, so the job could never run (`flink_functions`). A Flink built-in outside
this catalog gives type None and an info-level problem: the planner has the last word on it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.flinksql import collection_types as ct
from services.flinksql import sqltypes as st
from services.flinksql.expr import (
    AGGREGATES,
    ARITHMETIC,
    ApproxLit,
    Between,
    Binary,
    BoolLit,
    Call,
    Case,
    Cast,
    Column,
    Expr,
    InList,
    IntervalLit,
    IsTest,
    Like,
    NullLit,
    NumberLit,
    StringLit,
    Symbol,
    TypedLit,
    Unary,
    children,
    columns,
)
from services.flinksql.sqltypes import FlinkType
from services.ingest.domain import expression_types as et
from services.ingest.domain.flink_functions import FLINK_FUNCTION_NAMES

PAYLOAD = "payload"

NONDETERMINISTIC = frozenset(
    {
        "NOW",
        "CURRENT_TIMESTAMP",
        "CURRENT_DATE",
        "CURRENT_TIME",
        "LOCALTIMESTAMP",
        "LOCALTIME",
        "CURRENT_ROW_TIMESTAMP",
        "PROCTIME",
        "RAND",
        "RAND_INTEGER",
        "UUID",
        "UNIX_TIMESTAMP",  # without arguments it reads the clock
    }
)


class TypeEnv(BaseModel):
    """What column references may resolve to.

    `payload`: payload field name -> type, or None for a declared field of an unsupported Java
    type. `aliases`: join alias -> {column name -> type}.
    """

    model_config = ConfigDict(frozen=True)

    payload: dict[str, FlinkType | None] = Field(default_factory=dict)
    aliases: dict[str, dict[str, FlinkType]] = Field(default_factory=dict)


# What a problem is about; `check_expressions` gives each kind its own issue code and hint.
ProblemKind = Literal[
    "type",  # operand or argument types Flink does not accept
    "arity",  # wrong number of arguments
    "unknown_function",  # not a Flink built-in function
    "literal",  # a literal Flink cannot represent
    "reference",  # unknown payload field, alias or column
    "aggregate",  # aggregate rules (§5)
    "cast",  # CAST / TRY_CAST between types Flink cannot convert
    "cast_may_fail",  # a CAST that fails the job at run time on a bad value (warning)
]


class Problem(BaseModel):
    model_config = ConfigDict(frozen=True)

    message: str
    name: str | None = None
    level: Literal["error", "warning", "info"] = "error"
    kind: ProblemKind = "type"


class Analysis(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: FlinkType | None
    problems: list[Problem] = []
    has_aggregate: bool = False
    nondeterministic: list[str] = []  # names of non-deterministic functions called
    unguarded_divisions: list[Binary] = []
    columns: list[Column] = []

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]


def analyze(expr: Expr, env: TypeEnv) -> Analysis:
    """Infer the type of `expr` under `env` and collect its problems."""
    analyzer = _Analyzer(env)
    result_type = analyzer.infer(expr)
    analyzer.check_aggregates(expr)
    analyzer.find_divisions(expr, [])
    return Analysis(
        type=result_type,
        problems=analyzer.problems,
        has_aggregate=analyzer.has_aggregate,
        nondeterministic=sorted(analyzer.nondeterministic),
        unguarded_divisions=analyzer.unguarded,
        columns=columns(expr),
    )


# ---------------------------------------------------------------- literal and arithmetic types


def literal_type(expr: NumberLit) -> FlinkType | None:
    """Flink's type of an exact numeric literal: INT, BIGINT or DECIMAL(p, s), NOT NULL."""
    text = expr.text.lstrip("-+")
    if "." not in text:
        value = int(text)
        if value <= 2**31 - (0 if expr.text.startswith("-") else 1):
            return st.simple("INT", False)
        if value <= 2**63 - (0 if expr.text.startswith("-") else 1):
            return st.simple("BIGINT", False)
        digits = len(text.lstrip("0")) or 1
        return None if digits > st.MAX_DECIMAL_PRECISION else st.decimal(digits, 0, False)
    whole, frac = text.split(".", 1)
    scale = len(frac)
    precision = max(len(whole.lstrip("0")) + scale, scale, 1)
    return None if precision > st.MAX_DECIMAL_PRECISION else st.decimal(precision, scale, False)


def _decimal_parts(t: FlinkType) -> tuple[int, int]:
    d = st.as_decimal(t)
    assert d is not None and d.precision is not None and d.scale is not None
    return d.precision, d.scale


def arithmetic_type(op: str, a: FlinkType, b: FlinkType) -> FlinkType | None:  # noqa: PLR0911
    """Result type of `a <op> b` for + - * / (and MOD as '%'); None when not numeric."""
    nullable = a.nullable or b.nullable
    if not (st.is_numeric(a) and st.is_numeric(b)):
        return _temporal_arithmetic(op, a, b)
    roots = {a.root, b.root}
    if "DOUBLE" in roots or ("FLOAT" in roots and "DECIMAL" in roots):
        return st.simple("DOUBLE", nullable)
    if "FLOAT" in roots:
        return st.simple("FLOAT", nullable)
    if "DECIMAL" not in roots:
        if op == "%":
            return b.with_nullable(nullable)
        return st.simple(max(a.root, b.root, key=st.INTEGER_ROOTS.index), nullable)
    p1, s1 = _decimal_parts(a)
    p2, s2 = _decimal_parts(b)
    if op in ("+", "-"):
        scale = max(s1, s2)
        return st.adjust_decimal(max(p1 - s1, p2 - s2) + scale + 1, scale, nullable)
    if op == "*":
        return st.adjust_decimal(p1 + p2 + 1, s1 + s2, nullable)
    if op == "/":
        scale = max(6, s1 + p2 + 1)
        return st.adjust_decimal(p1 - s1 + s2 + scale, scale, nullable)
    scale = max(s1, s2)
    return st.adjust_decimal(min(p1 - s1, p2 - s2) + scale, scale, nullable)


def _temporal_arithmetic(op: str, a: FlinkType, b: FlinkType) -> FlinkType | None:
    fa, fb = st.family(a), st.family(b)
    nullable = a.nullable or b.nullable
    if op in ("+", "-") and fa in ("date", "time", "timestamp") and fb == "interval":
        return a.with_nullable(nullable)
    if op == "+" and fa == "interval" and fb in ("date", "time", "timestamp"):
        return b.with_nullable(nullable)
    if fa == "interval" and fb == "interval" and a.root == b.root and op in ("+", "-"):
        return a.with_nullable(nullable)
    if fa == "interval" and st.is_numeric(b) and op in ("*", "/"):
        return a.with_nullable(nullable)
    return None


def round_type(t: FlinkType, digits: int) -> FlinkType:
    """ROUND(DECIMAL(p, s), r) per Flink; other numeric types keep their type."""
    if t.root != "DECIMAL":
        return t
    p, s = _decimal_parts(t)
    if digits >= s:
        return t
    if digits < 0:
        return st.decimal(min(st.MAX_DECIMAL_PRECISION, 1 + p - s), 0, t.nullable)
    return st.adjust_decimal(1 + p - s + digits, digits, t.nullable)


def _is_zero_literal(expr: Expr) -> bool:
    if isinstance(expr, NumberLit | ApproxLit):
        try:
            return Decimal(expr.text) == 0
        except InvalidOperation:
            return False
    return False


def _int_literal(expr: Expr) -> int | None:
    if isinstance(expr, NumberLit) and "." not in expr.text:
        return int(expr.text)
    return None


# ---------------------------------------------------------------- function catalog

Args = list[FlinkType | None]
_Rule = Callable[[Args, Call], FlinkType | None]


def _fixed(t: FlinkType) -> _Rule:
    def rule(args: Args, call: Call) -> FlinkType | None:
        del call
        return t.with_nullable(any(a is None or a.nullable for a in args) or t.nullable)

    return rule


def _always(t: FlinkType) -> _Rule:
    return lambda args, call: t


def _first(args: Args, call: Call) -> FlinkType | None:
    return args[0] if args else None


def _coalesce(args: Args, call: Call) -> FlinkType | None:
    if any(a is None for a in args):
        return None
    known = [a for a in args if a is not None]
    merged = st.common_type(known)
    if merged is None:
        return None
    return merged.with_nullable(all(a.nullable or a.root == "NULL" for a in known))


def _merge(args: Args) -> FlinkType | None:
    if any(a is None for a in args):
        return None
    return st.common_type([a for a in args if a is not None])


def _ifnull(args: Args, call: Call) -> FlinkType | None:
    merged = _merge(args)
    if merged is None or args[1] is None:
        return merged
    return merged.with_nullable(args[1].nullable)


def _if(args: Args, call: Call) -> FlinkType | None:
    return _merge(args[1:])


def _nullif(args: Args, call: Call) -> FlinkType | None:
    return None if args[0] is None else args[0].with_nullable(True)


def _greatest(args: Args, call: Call) -> FlinkType | None:
    return _merge(args)


def _round(args: Args, call: Call) -> FlinkType | None:
    if args[0] is None:
        return None
    digits = 0 if len(call.args) == 1 else _int_literal(call.args[1])
    if digits is None:
        return args[0] if args[0].root != "DECIMAL" else None
    return round_type(args[0], digits)


def _floor_ceil(args: Args, call: Call) -> FlinkType | None:
    t = args[0]
    if t is None or len(call.args) == 2:
        return t
    if t.root == "DECIMAL":
        p, s = _decimal_parts(t)
        return st.decimal(min(st.MAX_DECIMAL_PRECISION, p - s + (1 if s else 0)) or 1, 0, t.nullable)
    return t


def _mod(args: Args, call: Call) -> FlinkType | None:
    a, b = args
    if a is None or b is None:
        return None
    return arithmetic_type("%", a, b)


def _timestampadd(args: Args, call: Call) -> FlinkType | None:
    t = args[2]
    return None if t is None else t.with_nullable(any(a is None or a.nullable for a in args[1:]))


def _sum(args: Args, call: Call) -> FlinkType | None:
    t = args[0]
    if t is None:
        return None
    if t.root == "DECIMAL":
        return st.decimal(st.MAX_DECIMAL_PRECISION, t.scale or 0)
    return t.with_nullable(True) if st.is_numeric(t) else None


def _avg(args: Args, call: Call) -> FlinkType | None:
    t = args[0]
    if t is None:
        return None
    if t.root == "DECIMAL":
        return st.decimal(st.MAX_DECIMAL_PRECISION, max(6, t.scale or 0))
    return t.with_nullable(True) if st.is_numeric(t) else None


def _max_min(args: Args, call: Call) -> FlinkType | None:
    return None if args[0] is None else args[0].with_nullable(True)


_S = st.STRING
_INT = st.INT
_BIG = st.BIGINT
_DBL = st.DOUBLE
_INF = 1_000
# name -> (min args, max args, result rule)
FUNCTIONS: dict[str, tuple[int, int, _Rule]] = {
    "COALESCE": (1, _INF, _coalesce),
    "IFNULL": (2, 2, _ifnull),
    "NULLIF": (2, 2, _nullif),
    "IF": (3, 3, _if),
    "GREATEST": (1, _INF, _greatest),
    "LEAST": (1, _INF, _greatest),
    "CONCAT": (1, _INF, _fixed(_S)),
    "CONCAT_WS": (2, _INF, _fixed(_S)),
    "UPPER": (1, 1, _fixed(_S)),
    "LOWER": (1, 1, _fixed(_S)),
    "INITCAP": (1, 1, _fixed(_S)),
    "TRIM": (1, 3, _fixed(_S)),
    "LTRIM": (1, 2, _fixed(_S)),
    "RTRIM": (1, 2, _fixed(_S)),
    "BTRIM": (1, 2, _fixed(_S)),
    "SUBSTRING": (2, 3, _fixed(_S)),
    "SUBSTR": (2, 3, _fixed(_S)),
    "LEFT": (2, 2, _fixed(_S)),
    "RIGHT": (2, 2, _fixed(_S)),
    "REPLACE": (3, 3, _fixed(_S)),
    "REGEXP_REPLACE": (3, 3, _fixed(_S)),
    "REGEXP_EXTRACT": (2, 3, _fixed(_S)),
    "REVERSE": (1, 1, _fixed(_S)),
    "REPEAT": (2, 2, _fixed(_S)),
    "LPAD": (3, 3, _fixed(_S)),
    "RPAD": (3, 3, _fixed(_S)),
    "SPLIT_INDEX": (3, 3, _fixed(_S)),
    "MD5": (1, 1, _fixed(_S)),
    "SHA1": (1, 1, _fixed(_S)),
    "SHA256": (1, 1, _fixed(_S)),
    "CHAR_LENGTH": (1, 1, _fixed(_INT)),
    "CHARACTER_LENGTH": (1, 1, _fixed(_INT)),
    "POSITION": (2, 2, _fixed(_INT)),
    "LOCATE": (2, 3, _fixed(_INT)),
    "REGEXP": (2, 2, _fixed(st.BOOLEAN)),
    "DATE_FORMAT": (2, 2, _fixed(_S)),
    "TO_TIMESTAMP": (1, 2, lambda a, c: st.timestamp(3)),
    "TO_TIMESTAMP_LTZ": (1, 3, lambda a, c: st.timestamp_ltz(3)),  # (string, format, time zone)
    "TO_DATE": (1, 2, lambda a, c: st.DATE),
    "FROM_UNIXTIME": (1, 2, _fixed(_S)),
    "UNIX_TIMESTAMP": (0, 2, lambda a, c: _BIG.with_nullable(bool(a))),
    "CONVERT_TZ": (3, 3, _fixed(_S)),
    "CURRENT_TIMESTAMP": (0, 0, _always(st.timestamp_ltz(3, False))),
    "NOW": (0, 0, _always(st.timestamp_ltz(3, False))),
    "CURRENT_ROW_TIMESTAMP": (0, 0, _always(st.timestamp_ltz(3, False))),
    "PROCTIME": (0, 0, _always(st.timestamp_ltz(3, False))),
    "LOCALTIMESTAMP": (0, 0, _always(st.timestamp(3, False))),
    "CURRENT_DATE": (0, 0, _always(st.simple("DATE", False))),
    "CURRENT_TIME": (0, 0, _always(FlinkType(root="TIME", precision=0, nullable=False))),
    "LOCALTIME": (0, 0, _always(FlinkType(root="TIME", precision=0, nullable=False))),
    "EXTRACT": (2, 2, _fixed(_BIG)),
    "YEAR": (1, 1, _fixed(_BIG)),
    "QUARTER": (1, 1, _fixed(_BIG)),
    "MONTH": (1, 1, _fixed(_BIG)),
    "WEEK": (1, 1, _fixed(_BIG)),
    "DAYOFYEAR": (1, 1, _fixed(_BIG)),
    "DAYOFMONTH": (1, 1, _fixed(_BIG)),
    "DAYOFWEEK": (1, 1, _fixed(_BIG)),
    "HOUR": (1, 1, _fixed(_BIG)),
    "MINUTE": (1, 1, _fixed(_BIG)),
    "SECOND": (1, 1, _fixed(_BIG)),
    "TIMESTAMPADD": (3, 3, _timestampadd),
    "TIMESTAMPDIFF": (3, 3, _fixed(_INT)),
    "ABS": (1, 1, _first),
    "ROUND": (1, 2, _round),
    "TRUNCATE": (1, 2, _round),
    "FLOOR": (1, 2, _floor_ceil),
    "CEIL": (1, 2, _floor_ceil),
    "MOD": (2, 2, _mod),
    "POWER": (2, 2, _fixed(_DBL)),
    "SQRT": (1, 1, _fixed(_DBL)),
    "LN": (1, 1, _fixed(_DBL)),
    "LOG10": (1, 1, _fixed(_DBL)),
    "LOG2": (1, 1, _fixed(_DBL)),
    "LOG": (1, 2, _fixed(_DBL)),
    "EXP": (1, 1, _fixed(_DBL)),
    "SIGN": (1, 1, _first),
    "RAND": (0, 1, _always(st.simple("DOUBLE", False))),
    "RAND_INTEGER": (1, 2, _fixed(_INT)),
    "UUID": (0, 0, _always(st.char(36, False))),
    "JSON_VALUE": (2, 2, lambda a, c: _S),
    "SUM": (1, 1, _sum),
    "COUNT": (0, _INF, _always(st.simple("BIGINT", False))),
    "AVG": (1, 1, _avg),
    "MAX": (1, 1, _max_min),
    "MIN": (1, 1, _max_min),
    # value constructors and element access (ARRAY[...], MAP[...], ROW(...), a[i], m[k])
    "ARRAY": (1, _INF, ct.array_type),
    "MAP": (2, _INF, ct.map_type),
    "ROW": (1, _INF, ct.row_type),
    "ITEM": (2, 2, ct.item_type),
}


# ---------------------------------------------------------------- the analyzer


class _Analyzer:
    def __init__(self, env: TypeEnv) -> None:
        self.env = env
        self.problems: list[Problem] = []
        self.has_aggregate = False
        self.nondeterministic: set[str] = set()
        self.unguarded: list[Binary] = []

    def problem(
        self, message: str, name: str | None = None, level: str = "error", kind: ProblemKind = "type"
    ) -> None:
        item = Problem(message=message, name=name, level=level, kind=kind)
        if item not in self.problems:
            self.problems.append(item)

    def infer(self, expr: Expr) -> FlinkType | None:  # noqa: PLR0911, PLR0912, C901
        if isinstance(expr, StringLit):
            return st.char(len(expr.value), False)
        if isinstance(expr, NumberLit):
            t = literal_type(expr)
            if t is None:
                self.problem(
                    f"numeric literal {expr.text} is out of range: more than {st.MAX_DECIMAL_PRECISION} digits",
                    expr.text,
                    kind="literal",
                )
            return t
        if isinstance(expr, ApproxLit):
            if math.isinf(float(expr.text)):
                self.problem(
                    f"numeric literal {expr.text} is out of range: it overflows DOUBLE"
                    " (largest magnitude about 1.7976931348623157E308)",
                    expr.text,
                    kind="literal",
                )
            return st.simple("DOUBLE", False)
        if isinstance(expr, BoolLit):
            return st.simple("BOOLEAN", False)
        if isinstance(expr, NullLit):
            return st.NULL
        if isinstance(expr, IntervalLit):
            ym = expr.unit in ("YEAR", "MONTH")
            return FlinkType(
                root="INTERVAL_YEAR_MONTH" if ym else "INTERVAL_DAY_TIME",
                precision=None if ym else 3,
                nullable=False,
            )
        if isinstance(expr, TypedLit):
            return self.typed_literal(expr)
        if isinstance(expr, Column):
            return self.column(expr)
        if isinstance(expr, Symbol):
            return None
        if isinstance(expr, Call):
            return self.call(expr)
        if isinstance(expr, Cast):
            return self.cast(expr)
        if isinstance(expr, Case):
            return self.case(expr)
        if isinstance(expr, Unary):
            t = self.infer(expr.operand)
            if expr.op == "NOT":
                self.need_boolean("NOT", expr.operand, t)
                return st.BOOLEAN.with_nullable(t is None or t.nullable)
            if expr.op == "-":
                self.arguments("-", [expr.operand], [t])
            return t
        if isinstance(expr, Binary):
            return self.binary(expr)
        if isinstance(expr, IsTest):
            t = self.infer(expr.operand)
            if expr.test != "NULL":
                self.need_boolean(f"IS {expr.test}", expr.operand, t)
            return st.simple("BOOLEAN", False)
        # Between, InList, Like
        types = [self.infer(child) for child in children(expr)]
        if isinstance(expr, InList):
            self.in_list(expr, types)
        elif isinstance(expr, Between):
            for bound, t in zip((expr.low, expr.high), types[1:], strict=True):
                self.compare("BETWEEN", expr.operand, types[0], bound, t, ordering=True)
        elif isinstance(expr, Like):
            self.arguments(expr.op, [expr.operand, expr.pattern], types[:2])
        return st.BOOLEAN.with_nullable(any(t is None or t.nullable for t in types))

    # -- operand and argument types (rules verified against Flink 2.3: expression_types)
    def need_boolean(self, what: str, operand: Expr, t: FlinkType | None) -> None:
        if t is not None and t.root not in ("BOOLEAN", "NULL") and et.category(t) is not None:
            self.problem(f"{what} needs a BOOLEAN operand, got {_describe(operand)}{t.sql()}")

    def compare(
        self, op: str, left: Expr, a: FlinkType | None, right: Expr, b: FlinkType | None, *, ordering: bool
    ) -> None:
        rejected = et.ordering_rejected(a, b) if ordering else et.equality_rejected(a, b)
        if not rejected or a is None or b is None:
            return
        why = (
            "Flink does not convert between numbers and character strings implicitly"
            if {et.category(a), et.category(b)} & {"C"}
            else "Flink compares values of one type family only"
        )
        self.problem(
            f"{op} cannot compare {_describe(left)}{a.sql()} with {_describe(right)}{b.sql()}: {why}", op
        )

    def common(self, what: str, exprs: list[Expr], types: Args, name: str | None = None) -> bool:
        """Report values without a common type (COALESCE, IF, CASE, IN lists); True when reported."""
        lenient = name in ("COALESCE", "IFNULL", "GREATEST", "LEAST")
        if not et.common_rejected(types, date_with_timestamp=lenient):
            return False
        listed = ", ".join(
            f"{_describe(e)}{t.sql()}" for e, t in zip(exprs, types, strict=True) if t is not None
        )
        self.problem(
            f"{what} values have no common type ({listed}): Flink needs all character strings, "
            "all numbers, all BOOLEAN or compatible date/time types",
            name,
        )
        return True

    def in_list(self, expr: InList, types: Args) -> None:
        word = "NOT IN" if expr.negated else "IN"
        if self.common(f"{word} list", list(expr.items), types[1:], word):
            return
        known = [t for t in types[1:] if t is not None]
        merged = st.common_type(known) if len(known) == len(types) - 1 else None
        if merged is not None and merged.root != "NULL":
            self.compare(word, expr.operand, types[0], expr.items[0], merged, ordering=True)

    def arguments(self, name: str, exprs: list[Expr], types: Args) -> None:
        for pos, t, accepted in et.rejected_arguments(name, types):
            described = _describe(exprs[pos]).rstrip(" ")
            what = f"{name} argument {pos + 1}" + (f" ({described})" if described else "")
            if t.root == "NULL":
                self.problem(
                    f"{what} is an untyped NULL, which Flink rejects here; write CAST(NULL AS <type>)", name
                )
            else:
                note = ""
                if name == "TO_TIMESTAMP_LTZ" and et.category(t) == "C":
                    note = "; text converts with TO_TIMESTAMP_LTZ(<string>, '<format>')"
                self.problem(f"{what} is {t.sql()}, but Flink accepts only {accepted} there{note}", name)

    def typed_literal(self, expr: TypedLit) -> FlinkType:
        if expr.type_name == "DATE":
            return st.simple("DATE", False)
        frac = expr.value.split(".", 1)[1] if "." in expr.value else ""
        precision = min(len(frac.strip()), st.MAX_TIME_PRECISION)
        return FlinkType(root=expr.type_name, precision=precision, nullable=False)

    def column(self, col: Column) -> FlinkType | None:
        ref = f"{col.qualifier}.{col.name}"
        if col.qualifier == PAYLOAD:
            if col.name not in self.env.payload:
                hint = next((k for k in self.env.payload if k.lower() == col.name.lower()), None)
                extra = f" (field names are case-sensitive: did you mean payload.{hint}?)" if hint else ""
                self.problem(f"unknown payload field {ref}{extra}", col.name, kind="reference")
                return None
            t = self.env.payload[col.name]
            if t is None:
                self.problem(
                    f"payload field {ref} has an unsupported Java type and cannot be referenced",
                    col.name,
                    kind="reference",
                )
                return None
            return t.with_nullable(True)
        table = self.env.aliases.get(col.qualifier)
        if table is None:
            known = ", ".join(sorted(self.env.aliases)) or "none"
            self.problem(
                f"unknown alias {col.qualifier!r} in {ref} (known aliases: {known})",
                col.qualifier,
                kind="reference",
            )
            return None
        t = table.get(col.name)
        if t is None:
            self.problem(
                f"unknown column {col.name!r} of alias {col.qualifier!r}", col.name, kind="reference"
            )
            return None
        return t.with_nullable(True)

    def call(self, call: Call) -> FlinkType | None:
        name = call.name
        if name in AGGREGATES:
            self.has_aggregate = True
        if name in NONDETERMINISTIC and not (name == "UNIX_TIMESTAMP" and call.args):
            self.nondeterministic.add(name)
        args: Args = [self.infer(a) for a in call.args]
        entry = FUNCTIONS.get(name)
        if entry is None:
            if name in FLINK_FUNCTION_NAMES:
                self.problem(
                    f"function {name} is not in the checker's catalog; the Flink planner will check it",
                    name,
                    "info",
                )
            else:
                self.problem(
                    f"unknown function {name}: Flink 2.3 has no built-in function of that name,"
                    " and a request cannot register user-defined functions",
                    name,
                    kind="unknown_function",
                )
            return None
        low, high, rule = entry
        count = 1 if call.star else len(call.args)
        if not low <= count <= high:
            expected = str(low) if low == high else f"{low} to {high}" if high < _INF else f"at least {low}"
            self.problem(f"function {name} takes {expected} argument(s), got {count}", name, kind="arity")
            return None
        if call.distinct and name not in AGGREGATES:
            self.problem(
                f"DISTINCT is only allowed in aggregate calls, not in {name}", name, kind="aggregate"
            )
        if not call.star:
            self.call_types(call, args)
        result = rule(args, call)
        if name in ("SUM", "AVG") and result is None and args[0] is not None:
            self.problem(f"{name} needs a numeric argument, got {args[0].sql()}", name)
        return result

    def call_types(self, call: Call, args: Args) -> None:
        name, exprs = call.name, list(call.args)
        if name in ("COALESCE", "IFNULL", "GREATEST", "LEAST"):
            self.common(name, exprs, args, name)
        elif name == "IF":
            self.need_boolean("IF condition", exprs[0], args[0])
            no_common = self.common("IF branch", exprs[1:], args[1:], name)
            if not no_common and any(t is not None and t.root == "NULL" for t in args[1:]):
                self.problem(
                    "IF branch is an untyped NULL, which Flink rejects; write CAST(NULL AS <type>)", name
                )
        elif name == "NULLIF":
            self.compare("NULLIF", exprs[0], args[0], exprs[1], args[1], ordering=False)
        else:
            self.arguments(name, exprs, args)

    def cast(self, expr: Cast) -> FlinkType | None:
        src = self.infer(expr.expr)
        if src is not None and not st.can_cast(src, expr.type):
            word = "TRY_CAST" if expr.safe else "CAST"
            self.problem(
                f"{word} from {src.sql()} to {expr.type.sql()} is not supported by Flink", word, kind="cast"
            )
        elif not expr.safe and not isinstance(expr.expr, StringLit) and et.cast_may_fail(src, expr.type):
            assert src is not None
            self.problem(
                f"CAST({_describe(expr.expr) or '<text> '}AS {expr.type.sql()}) fails the job on text that is not a valid "
                f"{expr.type.sql()} (request-format §3: a job must not fail on a bad event)",
                "CAST",
                "warning",
                kind="cast_may_fail",
            )
        nullable = True if expr.safe or src is None else src.nullable or expr.type.nullable
        return expr.type.with_nullable(nullable)

    def case(self, expr: Case) -> FlinkType | None:
        if expr.operand is not None:
            operand = self.infer(expr.operand)
            for when in expr.whens:
                t = self.infer(when.condition)
                self.compare("CASE", expr.operand, operand, when.condition, t, ordering=False)
        else:
            for when in expr.whens:
                t = self.infer(when.condition)
                if t is not None and t.root not in ("BOOLEAN", "NULL"):
                    self.problem(f"CASE WHEN condition must be BOOLEAN, got {t.sql()}")
        results = [self.infer(w.result) for w in expr.whens]
        results.append(st.NULL if expr.default is None else self.infer(expr.default))
        merged = _merge(results)
        if merged is None and all(r is not None for r in results):
            self.problem("CASE branches have incompatible types: " + ", ".join(r.sql() for r in results if r))
        elif merged is not None:
            branches = [w.result for w in expr.whens] + [NullLit() if expr.default is None else expr.default]
            self.common("CASE branch", branches, results, "CASE")
        return merged

    def binary(self, expr: Binary) -> FlinkType | None:  # noqa: PLR0911
        a, b = self.infer(expr.left), self.infer(expr.right)
        nullable = a is None or b is None or a.nullable or b.nullable
        op = expr.op
        if op in ("AND", "OR"):
            for side in (a, b):
                if side is not None and side.root not in ("BOOLEAN", "NULL"):
                    self.problem(f"{op} needs BOOLEAN operands, got {side.sql()}")
            return st.BOOLEAN.with_nullable(nullable)
        if op == "||":
            self.arguments("||", [expr.left, expr.right], [a, b])
            return st.STRING.with_nullable(nullable)
        if op in ARITHMETIC:
            if a is None or b is None:
                return None
            if a.root == "NULL" or b.root == "NULL":
                other = b if a.root == "NULL" else a
                return other.with_nullable(True) if st.is_numeric(other) else None
            result = arithmetic_type(op, a, b)
            if result is None:
                self.problem(f"operator {op} cannot be applied to {a.sql()} and {b.sql()}")
            return result
        self.compare(op, expr.left, a, expr.right, b, ordering=op in ("<", "<=", ">", ">="))
        if op in ("IS DISTINCT FROM", "IS NOT DISTINCT FROM"):
            return st.simple("BOOLEAN", False)
        return st.BOOLEAN.with_nullable(nullable)

    # -- whole-tree checks
    def check_aggregates(self, expr: Expr) -> None:
        stack: list[tuple[Expr, int]] = [(expr, 0)]
        outside: list[Column] = []
        while stack:
            node, depth = stack.pop()
            if isinstance(node, Call) and node.name in AGGREGATES:
                if depth > 0:
                    self.problem(
                        f"aggregate {node.name} is nested inside another aggregate",
                        node.name,
                        kind="aggregate",
                    )
                depth += 1
            elif isinstance(node, Column) and depth == 0:
                outside.append(node)
            stack.extend((child, depth) for child in children(node))
        if self.has_aggregate and outside:
            refs = ", ".join(sorted({f"{c.qualifier}.{c.name}" for c in outside}))
            self.problem(
                f"an expression may not mix aggregates with column references outside an aggregate ({refs})",
                outside[0].name,
                kind="aggregate",
            )

    def find_divisions(self, expr: Expr, guards: list[Expr]) -> None:
        if isinstance(expr, Binary) and expr.op == "/" and not _guarded(expr.right, guards):
            self.unguarded.append(expr)
        if isinstance(expr, Case) and expr.operand is None:
            for when in expr.whens:
                self.find_divisions(when.condition, guards)
                self.find_divisions(when.result, [*guards, when.condition])
            if expr.default is not None:
                self.find_divisions(expr.default, guards)
            return
        if isinstance(expr, Call) and expr.name == "IF" and len(expr.args) == 3:
            cond, then, other = expr.args
            self.find_divisions(cond, guards)
            self.find_divisions(then, [*guards, cond])
            self.find_divisions(other, guards)
            return
        for child in children(expr):
            self.find_divisions(child, guards)


def _guarded(divisor: Expr, guards: list[Expr]) -> bool:
    if isinstance(divisor, NumberLit | ApproxLit):
        return not _is_zero_literal(divisor)
    if isinstance(divisor, Cast):
        return _guarded(divisor.expr, guards)
    if isinstance(divisor, Call) and divisor.name == "NULLIF" and len(divisor.args) == 2:
        return _is_zero_literal(divisor.args[1])
    # A CASE / IF guard: an enclosing condition that tests the divisor itself.
    for guard in guards:
        for node in _walk(guard):
            if (
                isinstance(node, Binary)
                and node.op in ("<>", ">", "<")
                and divisor in (node.left, node.right)
            ):
                return True
    return False


def _describe(expr: Expr) -> str:
    """A short name of an operand for messages (`payload.qty `, `'x' `), empty for others."""
    if isinstance(expr, Column):
        return f"{expr.qualifier}.{expr.name} "
    if isinstance(expr, StringLit):
        text = expr.value if len(expr.value) <= 20 else expr.value[:20] + "..."
        return "'" + text.replace("'", "''") + "' "
    if isinstance(expr, NumberLit | ApproxLit):
        return f"{expr.text} "
    if isinstance(expr, NullLit):
        return "NULL "
    return ""


def _walk(expr: Expr) -> list[Expr]:
    out: list[Expr] = []
    stack = [expr]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(children(node))
    return out
