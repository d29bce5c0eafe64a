"""The oracle's evaluator of the spec's expression AST (request-format.md §3), row by row.

`Scope` is one joined row: the event's payload JSON and each join alias's dimension row (None
on a missed LEFT JOIN). `Evaluator.eval` gives `(value, type)`; the type depends only on the
expression, never on the data, so NULLs are typed too. Aggregate calls are answered by the
`aggregate` hook (set when a group is evaluated). Pure: no engine, no I/O.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from services.flinksql import expr as ast
from services.flinksql.spec import RequestSpec
from services.flinksql.sqltypes import FlinkType, char, common_type, family, simple, timestamp, timestamp_ltz
from services.validator.domain.oracle.scalars import (
    CastFailure,
    JobFailure,
    Unpredictable,
    Unsupported,
    arithmetic,
    arithmetic_type,
    cast,
    compare,
    fits,
    floor_ceil,
    floor_ceil_type,
    literal_number,
    parse_timestamp,
    round_type,
    round_value,
    to_text,
    wrap,
)

Typed = tuple[object, FlinkType]
BOOL = simple("BOOLEAN")
STRING = simple("STRING")
DOUBLE = simple("DOUBLE")
NULL_T = simple("NULL")


def payload_json(text: str | None) -> dict[str, Any] | None:
    """The payload as `JSON_VALUE` sees it: an object, else None (every field then NULL).

    Numbers become the text Flink's JSON_VALUE gives (checked on Flink 2.x): integers exactly,
    fractions as Java's `BigDecimal.toString` of the number as written (`258.00` stays `258.00`,
    `1e-07` is `1E-7`, `1.0E10` is `1.0E+10`, no negative zero); text after the first JSON value
    is ignored, as Jackson does."""
    if text is None:
        return None

    def bad_constant(name: str) -> object:
        raise ValueError(name)

    decoder = json.JSONDecoder(
        parse_float=_big_decimal_text,
        parse_int=lambda s: str(int(s)),
        parse_constant=bad_constant,
    )
    try:
        data, _ = decoder.raw_decode(text.strip())
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _big_decimal_text(text: str) -> str:
    """Java's `BigDecimal.toString` (Python's `Decimal` follows the same scientific-string rule;
    Java has no negative zero)."""
    number = Decimal(text)
    return str(number.copy_abs() if number.is_zero() else number)


def json_value_text(data: Mapping[str, Any] | None, name: str) -> str | None:
    """`JSON_VALUE(payload, '$.<name>')`: scalars as text, null/object/array/missing NULL."""
    if data is None:
        return None
    value = data.get(name)
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class Scope:
    """One row: the payload and each joined alias's row (None: a missed LEFT JOIN)."""

    payload: Mapping[str, Any] | None
    rows: dict[str, Mapping[str, object] | None] = field(default_factory=dict)
    cache: dict[str, Typed] = field(default_factory=dict)


class Evaluator:
    def __init__(self, spec: RequestSpec) -> None:
        self.spec = spec
        self.zone = ZoneInfo(spec.job.time_zone)
        self.alias_types: dict[str, dict[str, FlinkType]] = {}
        for join in spec.joins:
            dim = spec.dimension(join.target_table)
            if dim is None:
                raise Unsupported(f"join {join.name!r} to an undeclared table")
            self.alias_types[join.alias] = {c.name: c.type.with_nullable(True) for c in dim.table.columns}
        self.aggregate: Callable[[ast.Call], Typed] | None = None
        self.typing = False  # evaluating over all-NULL inputs for a type only (see _type)

    # ------------------------------------------------------------ entry points

    def truth(self, expr: ast.Expr, scope: Scope) -> bool | None:
        value, vtype = self.eval(expr, scope)
        if value is not None and not isinstance(value, bool):
            raise Unsupported(f"a predicate of type {vtype.sql()}")
        return value

    def eval(self, expr: ast.Expr, scope: Scope) -> Typed:  # noqa: C901, PLR0911, PLR0912
        if isinstance(expr, ast.Column):
            return self.column(expr, scope)
        if isinstance(expr, ast.StringLit):
            return expr.value, char(max(len(expr.value), 1), nullable=False)
        if isinstance(expr, ast.NumberLit):
            return literal_number(expr.text)
        if isinstance(expr, ast.ApproxLit):
            return float(expr.text), simple("DOUBLE")
        if isinstance(expr, ast.BoolLit):
            return expr.value, BOOL
        if isinstance(expr, ast.NullLit):
            return None, NULL_T
        if isinstance(expr, ast.TypedLit):
            ltype = {"DATE": simple("DATE"), "TIME": simple("TIME"), "TIMESTAMP": timestamp(6)}[
                expr.type_name
            ]
            try:
                return cast(expr.value, STRING, ltype, self.zone), ltype
            except CastFailure as err:
                raise JobFailure(str(err)) from err
        if isinstance(expr, ast.Cast):
            value, src = self.eval(expr.expr, scope)
            try:
                return cast(value, src, expr.type, self.zone), expr.type.with_nullable(True)
            except CastFailure as err:
                if expr.safe or self.typing:
                    return None, expr.type.with_nullable(True)
                raise JobFailure(f"CAST failed: {err}") from err
        if isinstance(expr, ast.Unary):
            return self.unary(expr, scope)
        if isinstance(expr, ast.Binary):
            return self.binary(expr, scope)
        if isinstance(expr, ast.IsTest):
            value, _ = self.eval(expr.operand, scope)
            out = value is None if expr.test in {"NULL", "UNKNOWN"} else value is (expr.test == "TRUE")
            return out != expr.negated, BOOL
        if isinstance(expr, ast.InList):
            return self.in_list(expr, scope)
        if isinstance(expr, ast.Between):
            return self.between(expr, scope)
        if isinstance(expr, ast.Case):
            return self.case(expr, scope)
        if isinstance(expr, ast.Like):
            return self.like(expr, scope)
        if isinstance(expr, ast.Call):
            return self.call(expr, scope)
        raise Unsupported(f"the expression node {type(expr).__name__}")

    # ------------------------------------------------------------ references

    def column(self, col: ast.Column, scope: Scope) -> Typed:
        if col.qualifier == "payload":
            key = col.name
            if key in scope.cache:
                return scope.cache[key]
            pfield = self.spec.payload.field(col.name)
            if pfield is None or pfield.flink_type is None:
                raise Unsupported(f"payload field {col.name!r} without a Flink type")
            ftype = pfield.flink_type.with_nullable(True)
            text = json_value_text(scope.payload, col.name)
            try:  # TRY_CAST(JSON_VALUE(payload, '$.f') AS T)
                typed = (cast(text, STRING, ftype, self.zone), ftype)
            except CastFailure:
                typed = (None, ftype)
            scope.cache[key] = typed
            return typed
        types = self.alias_types.get(col.qualifier)
        if types is None or col.name not in types:
            raise Unsupported(f"the column reference {col.qualifier}.{col.name}")
        row = scope.rows.get(col.qualifier)
        return (None if row is None else row.get(col.name)), types[col.name]

    # ------------------------------------------------------------ operators

    def unary(self, expr: ast.Unary, scope: Scope) -> Typed:
        value, vtype = self.eval(expr.operand, scope)
        if expr.op == "NOT":
            return (None if value is None else not value), BOOL
        if expr.op == "+":
            return value, vtype
        zero, ztype = literal_number("0")
        return arithmetic("-", zero, value, arithmetic_type("-", ztype, vtype)), arithmetic_type(
            "-", ztype, vtype
        )

    def binary(self, expr: ast.Binary, scope: Scope) -> Typed:  # noqa: PLR0911
        op = expr.op
        if op in ("AND", "OR"):
            left = self.truth(expr.left, scope)
            if op == "AND" and left is False:
                return False, BOOL
            if op == "OR" and left is True:
                return True, BOOL
            right = self.truth(expr.right, scope)
            if op == "AND":
                return (False if right is False else None if None in (left, right) else True), BOOL
            return (True if right is True else None if None in (left, right) else False), BOOL
        a, ta = self.eval(expr.left, scope)
        b, tb = self.eval(expr.right, scope)
        if op in ast.COMPARISONS:
            if op in ("IS DISTINCT FROM", "IS NOT DISTINCT FROM"):
                same = (a is None and b is None) or (
                    a is not None and b is not None and compare(a, ta, b, tb, self.zone) == 0
                )
                return same == (op == "IS NOT DISTINCT FROM"), BOOL
            c = compare(a, ta, b, tb, self.zone)
            if c is None:
                return None, BOOL
            return {"=": c == 0, "<>": c != 0, "<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0}[op], BOOL
        if op == "||":
            if a is None or b is None:
                return None, STRING
            return to_text(a, ta, self.zone) + to_text(b, tb, self.zone), STRING
        rtype = arithmetic_type(op, ta, tb)
        try:
            return arithmetic(op, a, b, rtype), rtype
        except JobFailure:
            if self.typing:  # only the type is wanted: a branch not taken must not fail
                return None, rtype
            raise

    def in_list(self, expr: ast.InList, scope: Scope) -> Typed:
        value, vtype = self.eval(expr.operand, scope)
        items = [self.eval(item, scope) for item in expr.items]
        if value is None:
            return None, BOOL
        found: bool | None = False
        for item, itype in items:
            c = compare(value, vtype, item, itype, self.zone)
            if c == 0:
                found = True
                break
            if c is None:
                found = None
        return (found if found is None else found != expr.negated), BOOL

    def between(self, expr: ast.Between, scope: Scope) -> Typed:
        x, tx = self.eval(expr.operand, scope)
        lo, tlo = self.eval(expr.low, scope)
        hi, thi = self.eval(expr.high, scope)

        def inside(lo: object, tlo: FlinkType, hi: object, thi: FlinkType) -> bool | None:
            c1, c2 = compare(x, tx, lo, tlo, self.zone), compare(x, tx, hi, thi, self.zone)
            ge = None if c1 is None else c1 >= 0
            le = None if c2 is None else c2 <= 0
            if ge is False or le is False:
                return False
            return None if None in (ge, le) else True

        out = inside(lo, tlo, hi, thi)
        if expr.symmetric and out is not True:
            other = inside(hi, thi, lo, tlo)
            out = True if other is True else (None if None in (out, other) else False)
        return (out if out is None else out != expr.negated), BOOL

    def case(self, expr: ast.Case, scope: Scope) -> Typed:
        results = [when.result for when in expr.whens] + ([expr.default] if expr.default else [])
        rtype = common_type([self._type(r) for r in results] + ([] if expr.default else [NULL_T]))
        if rtype is None:
            raise Unsupported("a CASE whose branches have no common type")
        operand = None if expr.operand is None else self.eval(expr.operand, scope)
        chosen: ast.Expr | None = expr.default
        for when in expr.whens:
            if operand is None:
                hit = self.truth(when.condition, scope) is True
            else:
                w, tw = self.eval(when.condition, scope)
                hit = compare(operand[0], operand[1], w, tw, self.zone) == 0
            if hit:
                chosen = when.result
                break
        if chosen is None:
            return None, rtype.with_nullable(True)
        value, vtype = self.eval(chosen, scope)
        return self._widen(value, vtype, rtype), rtype

    def like(self, expr: ast.Like, scope: Scope) -> Typed:
        if expr.op != "LIKE":
            raise Unsupported("SIMILAR TO")
        value, _ = self.eval(expr.operand, scope)
        pattern, _ = self.eval(expr.pattern, scope)
        escape = None if expr.escape is None else self.eval(expr.escape, scope)[0]
        if value is None or pattern is None or (expr.escape is not None and escape is None):
            return None, BOOL
        regex, i, text = [], 0, str(pattern)
        while i < len(text):
            ch = text[i]
            if escape is not None and ch == escape and i + 1 < len(text):
                regex.append(re.escape(text[i + 1]))
                i += 2
                continue
            regex.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
            i += 1
        hit = re.fullmatch("".join(regex), str(value), re.DOTALL) is not None
        return hit != expr.negated, BOOL

    # ------------------------------------------------------------ helpers

    def _type(self, expr: ast.Expr) -> FlinkType:
        """The type of `expr` without evaluating it on the row (its value over all-NULL inputs),
        so a branch that is not taken cannot fail the job."""
        typing, self.typing = self.typing, True
        try:
            return self.eval(expr, Scope(payload=None))[1]
        except JobFailure as err:
            raise Unsupported(f"the type of an expression that fails on NULL inputs ({err})") from err
        finally:
            self.typing = typing

    def _widen(self, value: object, vtype: FlinkType, rtype: FlinkType) -> object:
        if value is None or (family(vtype) == "character" and family(rtype) == "character"):
            return value
        try:
            return cast(value, vtype, rtype, self.zone)
        except CastFailure as err:
            raise JobFailure(str(err)) from err

    # ------------------------------------------------------------ functions

    def call(self, call: ast.Call, scope: Scope) -> Typed:  # noqa: C901, PLR0911, PLR0912
        name = call.name
        if name in ast.AGGREGATES:
            if self.aggregate is None:
                raise Unsupported(f"the aggregate {name} outside a grouped mapping")
            return self.aggregate(call)
        if name in _NONDETERMINISTIC:
            raise Unsupported(f"the non-deterministic function {name}")
        if name in ("COALESCE", "IFNULL"):
            rtype = common_type([self._type(a) for a in call.args])
            if rtype is None:
                raise Unsupported(f"{name} of incompatible types")
            for arg in call.args:  # lazily, as the CASE Flink rewrites it to
                value, vtype = self.eval(arg, scope)
                if value is not None:
                    return self._widen(value, vtype, rtype), rtype
            return None, rtype
        if name == "NULLIF":
            (a, ta), (b, tb) = (self.eval(x, scope) for x in call.args)
            same = a is not None and b is not None and compare(a, ta, b, tb, self.zone) == 0
            return (None if same else a), ta.with_nullable(True)
        if name == "IF":
            cond = self.truth(call.args[0], scope)
            rtype = common_type([self._type(call.args[1]), self._type(call.args[2])])
            if rtype is None:
                raise Unsupported("IF of incompatible types")
            value, vtype = self.eval(call.args[1] if cond is True else call.args[2], scope)
            return self._widen(value, vtype, rtype), rtype
        args = [self.eval(a, scope) for a in call.args if not isinstance(a, ast.Symbol)]
        symbols = [a.name for a in call.args if isinstance(a, ast.Symbol)]
        if name in _STRING_FUNCTIONS:
            return self.string_function(name, symbols, args)
        if name == "TO_TIMESTAMP_LTZ":
            return self.to_timestamp_ltz(args)
        if name == "TO_TIMESTAMP":
            text, fmt = self._text_args(args, "yyyy-MM-dd HH:mm:ss")
            if text is None or fmt is None:
                return None, timestamp(3)
            return JavaPattern(fmt).parse(text), timestamp(3)
        if name == "TO_DATE":
            return self.to_date(args)
        if name == "DATE_FORMAT":
            return self.date_format(args)
        if name == "FROM_UNIXTIME":
            seconds = args[0][0]
            pattern = args[1][0] if len(args) > 1 else "yyyy-MM-dd HH:mm:ss"
            if seconds is None or pattern is None:
                return None, STRING
            instant = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=int(seconds))  # type: ignore[call-overload]
            return JavaPattern(str(pattern)).format(instant.astimezone(self.zone)), STRING
        if name == "EXTRACT" or name in _FIELD_FUNCTIONS:
            unit = symbols[0] if symbols else _FIELD_FUNCTIONS[name]
            return self.extract(unit, args[0]), simple("BIGINT")
        if name == "MOD":  # `a % b` parses as MOD(a, b): Java's remainder (the dividend's sign)
            (a, ta), (b, tb) = args
            rtype = arithmetic_type("%", ta, tb)
            return arithmetic("%", a, b, rtype), rtype
        if name == "ABS":
            value, vtype = args[0]
            if value is None:
                return None, vtype
            if isinstance(value, int) and not isinstance(value, bool) and vtype.root in _INTEGERS:
                return wrap(abs(value), vtype.root), vtype  # Java: ABS of the minimum overflows
            return abs(value), vtype  # type: ignore[arg-type]
        if name in _NUMERIC_FUNCTIONS:
            return self.numeric_function(call, args, symbols)
        if name == "TIMESTAMPDIFF":
            return _timestamp_diff(symbols, args)
        raise Unsupported(f"the function {name}")

    def numeric_function(self, call: ast.Call, args: list[Typed], symbols: list[str]) -> Typed:
        """ROUND, FLOOR, CEIL, GREATEST, LEAST and POWER, each as Flink 2.x computes it (checked on
        Flink: tests/unit/validator/test_oracle_functions.py)."""
        name = call.name
        if name == "ROUND":
            if len(args) not in (1, 2):
                raise Unsupported(f"ROUND of {len(args)} arguments")
            digits = 0 if len(args) == 1 else _int_literal(call.args[1])
            if digits is None:  # the result type depends on it: Flink wants a literal
                raise Unsupported("ROUND whose digits are not an integer literal")
            (value, vtype) = args[0]
            return round_value(value, vtype, digits), round_type(vtype, digits)
        if name in ("FLOOR", "CEIL"):
            if symbols or len(args) != 1:
                raise Unsupported(f"{name}(… TO unit)")
            (value, vtype) = args[0]
            return floor_ceil(value, vtype, up=name == "CEIL"), floor_ceil_type(vtype)
        if name in ("GREATEST", "LEAST"):
            return self.extreme(name, args)
        # POWER
        (a, ta), (b, tb) = args
        for t in (ta, tb):
            if t.root not in ("TINYINT", "SMALLINT", "INT", "BIGINT", "DECIMAL", "FLOAT", "DOUBLE", "NULL"):
                raise Unsupported(f"POWER of {t.sql()}")
        if a is None or b is None:
            return None, DOUBLE
        return java_pow(float(a), float(b)), DOUBLE  # type: ignore[arg-type]

    def extreme(self, name: str, args: list[Typed]) -> Typed:
        """GREATEST / LEAST: in the arguments' common type; NULL when any argument is NULL."""
        rtype = common_type([t for _, t in args])
        if rtype is None or rtype.root == "NULL":
            raise Unsupported(f"{name} of incompatible types")
        kinds = {"character" if family(t) == "character" else t.sql() for _, t in args if t.root != "NULL"}
        if len({k.removesuffix(" NOT NULL") for k in kinds}) > 1:  # Flink 2.x fails such jobs at run time
            raise Unsupported(f"{name} of arguments of different types")
        if any(v is None for v, _ in args):
            return None, rtype.with_nullable(True)
        best: object = None
        for value, vtype in args:
            widened = self._widen(value, vtype, rtype)
            c = None if best is None else compare(widened, rtype, best, rtype, self.zone)
            if best is None or (c is not None and (c > 0 if name == "GREATEST" else c < 0)):
                best = widened
        return best, rtype

    def _text_args(self, args: list[Typed], default_format: str) -> tuple[str | None, str | None]:
        text = args[0][0]
        fmt = args[1][0] if len(args) > 1 else default_format
        return (None if text is None else to_text(text, args[0][1], self.zone)), (
            None if fmt is None else str(fmt)
        )

    def string_function(self, name: str, symbols: list[str], args: list[Typed]) -> Typed:  # noqa: C901, PLR0911, PLR0912
        values = [v for v, _ in args]
        if name == "CONCAT_WS":
            sep = values[0]
            if sep is None:
                return None, STRING
            parts = [to_text(v, t, self.zone) for v, t in args[1:] if v is not None]
            return str(sep).join(parts), STRING
        if any(v is None for v in values):
            return None, (
                simple("INT") if name in ("CHAR_LENGTH", "CHARACTER_LENGTH", "POSITION") else STRING
            )
        texts = [to_text(v, t, self.zone) for v, t in args]
        if name == "UPPER":
            return texts[0].upper(), STRING
        if name == "LOWER":
            return texts[0].lower(), STRING
        if name == "CONCAT":
            return "".join(texts), STRING
        if name in ("CHAR_LENGTH", "CHARACTER_LENGTH"):
            return len(texts[0]), simple("INT")
        if name == "POSITION":
            return texts[1].find(texts[0]) + 1, simple("INT")
        if name == "REPLACE":
            return texts[0].replace(texts[1], texts[2]), STRING
        if name in ("SUBSTRING", "SUBSTR"):
            start = int(values[1])  # type: ignore[call-overload]
            if start < 1:
                raise Unsupported(f"{name} with a start below 1")
            end = None if len(values) < 3 else start - 1 + int(values[2])  # type: ignore[call-overload]
            if end is not None and end < start - 1:
                raise JobFailure(f"{name} with a negative length")
            return texts[0][start - 1 : end], STRING
        if name in ("LPAD", "RPAD"):
            return _pad(texts[0], int(values[1]), texts[2], left=name == "LPAD"), STRING  # type: ignore[call-overload]
        if name in ("TRIM", "LTRIM", "RTRIM"):
            flag = symbols[0] if symbols else {"TRIM": "BOTH", "LTRIM": "LEADING", "RTRIM": "TRAILING"}[name]
            chars, text = (texts[0], texts[1]) if len(texts) == 2 else (" ", texts[0])
            if flag == "BOTH":
                return text.strip(chars), STRING
            return (text.lstrip(chars) if flag == "LEADING" else text.rstrip(chars)), STRING
        raise Unsupported(f"the function {name}")

    def to_timestamp_ltz(self, args: list[Typed]) -> Typed:
        (number, ntype), (precision, _) = args[0], (args[1] if len(args) > 1 else (3, None))
        if precision not in (0, 3):
            raise Unsupported(f"TO_TIMESTAMP_LTZ with precision {precision}")
        rtype = timestamp_ltz(int(precision))
        if number is None:
            return None, rtype
        if family(ntype) not in ("exact_numeric", "approx_numeric"):
            raise Unsupported(f"TO_TIMESTAMP_LTZ of {ntype.sql()}")
        millis = Decimal(str(number)) * (1000 if precision == 0 else 1)
        try:
            stamp = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(millis))
        except OverflowError:
            return None, rtype
        return stamp, rtype

    def to_date(self, args: list[Typed]) -> Typed:
        text, fmt = self._text_args(args, "yyyy-MM-dd")
        if text is None or fmt is None:
            return None, simple("DATE")
        stamp = JavaPattern(fmt).parse(text)
        if stamp is None and len(args) > 1:  # Flink 2.x: a date such as year 1705471, not NULL
            raise Unpredictable(
                f"TO_DATE of text that does not parse as {fmt!r}: Flink gives some date, not NULL"
            )
        return (None if stamp is None else stamp.date()), simple("DATE")

    def date_format(self, args: list[Typed]) -> Typed:
        (value, vtype), (fmt, _) = args
        if value is None or fmt is None:
            return None, STRING
        if isinstance(value, str):
            try:
                value = parse_timestamp(value)
            except CastFailure:
                return None, STRING
        if isinstance(value, datetime):
            local = value.astimezone(self.zone).replace(tzinfo=None) if value.tzinfo else value
            return JavaPattern(str(fmt)).format(local), STRING
        raise Unsupported(f"DATE_FORMAT of {vtype.sql()}")

    def extract(self, unit: str, arg: Typed) -> int | None:
        value, vtype = arg
        if value is None:
            return None
        if isinstance(value, datetime) and value.tzinfo:
            value = value.astimezone(self.zone).replace(tzinfo=None)
        if not isinstance(value, date):
            raise Unsupported(f"EXTRACT from {vtype.sql()}")
        fields: dict[str, Callable[[Any], int]] = {
            "YEAR": lambda v: v.year,
            "QUARTER": lambda v: (v.month - 1) // 3 + 1,
            "MONTH": lambda v: v.month,
            "DAY": lambda v: v.day,
            "HOUR": lambda v: v.hour,
            "MINUTE": lambda v: v.minute,
            "SECOND": lambda v: v.second,
        }
        if unit not in fields or (unit in ("HOUR", "MINUTE", "SECOND") and not isinstance(value, datetime)):
            raise Unsupported(f"EXTRACT({unit}) from {vtype.sql()}")
        return fields[unit](value)


_INTEGERS = frozenset({"TINYINT", "SMALLINT", "INT", "BIGINT"})
_NUMERIC_FUNCTIONS = frozenset({"ROUND", "FLOOR", "CEIL", "GREATEST", "LEAST", "POWER"})


def _int_literal(expr: ast.Expr) -> int | None:
    """The value of an integer literal (`2`, `-2`), else None."""
    sign = 1
    if isinstance(expr, ast.Unary) and expr.op in ("+", "-"):
        sign = -1 if expr.op == "-" else 1
        expr = expr.operand
    if isinstance(expr, ast.NumberLit) and re.fullmatch(r"[+-]?\d+", expr.text):
        return sign * int(expr.text)
    return None


def _pad(base: str, length: int, pad: str, *, left: bool) -> str | None:
    """Flink's LPAD / RPAD: NULL for a negative length or an empty pad; the text is cut to
    `length` (LPAD keeps its head too); the pad repeats and is cut where the room ends."""
    if any(ord(ch) > 0xFFFF for ch in base + pad):
        raise Unsupported("LPAD / RPAD of text beyond the BMP (Java counts UTF-16 units)")
    if length < 0 or not pad:
        return None
    room = max(length - len(base), 0)
    filler = (pad * (room // len(pad) + 1))[:room]
    head = base[:length]
    return filler + head if left else head + filler


_DIFF_UNITS = {"SECOND": 1_000_000, "MINUTE": 60_000_000, "HOUR": 3_600_000_000, "DAY": 86_400_000_000}


def _timestamp_diff(symbols: list[str], args: list[Typed]) -> Typed:
    """TIMESTAMPDIFF(unit, a, b) of two TIMESTAMPs in SECOND, MINUTE, HOUR or DAY: the whole
    units from a to b, truncated toward zero (checked on Flink 2.x). MONTH and YEAR count
    calendar months in Flink's own way, and TIMESTAMP_LTZ / DATE arguments are not covered."""
    unit = symbols[0] if symbols else ""
    if unit not in _DIFF_UNITS or len(args) != 2 or any(t.root not in ("TIMESTAMP", "NULL") for _, t in args):
        shown = ", ".join(t.sql() for _, t in args)
        raise Unsupported(f"TIMESTAMPDIFF({unit}, {shown})")
    (a, _), (b, _) = args
    if a is None or b is None:
        return None, simple("INT")
    assert isinstance(a, datetime) and isinstance(b, datetime)
    delta = b - a
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    whole = abs(micros) // _DIFF_UNITS[unit] * (1 if micros >= 0 else -1)
    if not fits(whole, "INT"):
        raise Unsupported(f"TIMESTAMPDIFF({unit}) beyond INT")
    return whole, simple("INT")


def java_pow(x: float, y: float) -> float:
    """Java's `Math.pow`: NaN for a NaN exponent, for ±1 to an infinite power and for a negative
    base with a non-integer exponent; ±Infinity on overflow and for 0 to a negative power."""
    if math.isnan(y) or (math.isnan(x) and y != 0) or (abs(x) == 1 and math.isinf(y)):
        return math.nan
    odd = math.isfinite(y) and y == math.floor(y) and math.fmod(y, 2) != 0
    try:
        return math.pow(x, y)
    except ValueError:
        if x == 0:  # 0 to a negative power
            return -math.inf if odd and math.copysign(1, x) < 0 else math.inf
        return math.nan
    except OverflowError:
        return -math.inf if x < 0 and odd else math.inf


_NONDETERMINISTIC = frozenset(
    {*ast.NILADIC, "NOW", "PROCTIME", "RAND", "RAND_INTEGER", "UUID", "UNIX_TIMESTAMP", "CURRENT_WATERMARK"}
)
_STRING_FUNCTIONS = frozenset(
    {
        "UPPER",
        "LOWER",
        "CONCAT",
        "CONCAT_WS",
        "CHAR_LENGTH",
        "CHARACTER_LENGTH",
        "POSITION",
        "REPLACE",
        "SUBSTRING",
        "SUBSTR",
        "TRIM",
        "LTRIM",
        "RTRIM",
        "LPAD",
        "RPAD",
    }
)
_FIELD_FUNCTIONS = {
    "YEAR": "YEAR",
    "QUARTER": "QUARTER",
    "MONTH": "MONTH",
    "DAYOFMONTH": "DAY",
    "HOUR": "HOUR",
    "MINUTE": "MINUTE",
    "SECOND": "SECOND",
}


class JavaPattern:
    """A `java.text.SimpleDateFormat` pattern of the letters y M d H m s S, quotes and literals
    (any other character, `年` too: only ASCII letters are pattern letters in Java)."""

    _FIELDS: ClassVar[dict[str, str]] = {
        "y": "year",
        "M": "month",
        "d": "day",
        "H": "hour",
        "m": "minute",
        "s": "second",
        "S": "milli",
    }

    def __init__(self, pattern: str) -> None:
        self.tokens: list[tuple[str, str | int]] = []
        i = 0
        while i < len(pattern):
            ch = pattern[i]
            if ch == "'":
                end = pattern.find("'", i + 1)
                if end < 0:
                    raise Unsupported(f"the date pattern {pattern!r}")
                self.tokens.append(("lit", pattern[i + 1 : end] or "'"))
                i = end + 1
            elif ch.isascii() and ch.isalpha():  # Java: only A-Z and a-z are pattern letters
                j = i
                while j < len(pattern) and pattern[j] == ch:
                    j += 1
                if ch not in self._FIELDS:
                    raise Unsupported(f"the date pattern letter {ch!r}")
                self.tokens.append((ch, j - i))
                i = j
            else:
                self.tokens.append(("lit", ch))
                i += 1

    def format(self, value: datetime) -> str:
        out = []
        for kind, arg in self.tokens:
            if kind == "lit":
                out.append(str(arg))
                continue
            width = int(arg)
            number = {
                "y": value.year,
                "M": value.month,
                "d": value.day,
                "H": value.hour,
                "m": value.minute,
                "s": value.second,
                "S": value.microsecond // 1000,
            }[kind]
            if kind == "y" and width == 2:
                number %= 100
            out.append(f"{number:0{width}d}")
        return "".join(out)

    def parse(self, text: str) -> datetime | None:
        """The wall-clock time `text` holds, or None when it does not match (Flink: NULL)."""
        parts, names = [], []
        for kind, arg in self.tokens:
            if kind == "lit":
                parts.append(re.escape(str(arg)))
            else:
                width = int(arg)
                parts.append(rf"(\d{{{width},}})" if kind in ("y", "S") else rf"(\d{{1,{max(width, 2)}}})")
                names.append(kind)
        match = re.fullmatch("".join(parts), text.strip())
        if not match:
            return None
        got = dict(zip(names, (int(g) for g in match.groups()), strict=True))
        try:
            return datetime(
                got.get("y", 1970),
                got.get("M", 1),
                got.get("d", 1),
                got.get("H", 0),
                got.get("m", 0),
                got.get("s", 0),
                got.get("S", 0) * 1000,
            )
        except ValueError:
            return None


__all__ = ["Evaluator", "JavaPattern", "Scope", "Typed", "json_value_text", "payload_json"]
