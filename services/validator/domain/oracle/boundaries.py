"""Boundary values of a request's predicates, and how a typed value is written into a case.

A *location* is where a value lives in a case row: `("payload", field)` or `(alias, column)` of a
joined dimension row. `Boundaries` finds the spec's predicates (filters, rules, join conditions)
and, for each atomic predicate (`x > 100`, `x IN (...)`, `x IS NULL`, LIKE, BETWEEN, `a = b`),
candidate values of its location at the literal, one unit beside it, and NULL; `edges` gives the
time-zone, DECIMAL and integer limits of the fields the mappings read. Values are typed as
the oracle holds them (str, int, Decimal, bool, float, date, datetime); `raw` writes one as a case
YAML holds it. Used by `datagen`. Pure: no engine, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal
from random import Random
from zoneinfo import ZoneInfo

from services.flinksql import expr as ast
from services.flinksql.spec import Mapping as Mapping_
from services.flinksql.spec import RequestSpec
from services.flinksql.sqltypes import FlinkType
from services.validator.domain.oracle.evaluate import Evaluator, JavaPattern, Scope, Typed
from services.validator.domain.oracle.scalars import CastFailure, JobFailure, Unsupported, cast

Loc = tuple[str, str]
# Conditions TRUE wherever a node decides: the WHEN of its CASE branch (earlier WHENs not TRUE),
# the condition of its IF branch (or that condition not TRUE, for the else branch)
Guard = tuple[ast.Expr, ...]
INTEGER_BITS = {"TINYINT": 8, "SMALLINT": 16, "INT": 32, "BIGINT": 64}
TEXT_ROOTS = ("STRING", "VARCHAR", "CHAR")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The typical wall-clock time of the data (in the job's zone): a weekday morning, no DST nearby.
BASE_WALL = datetime(2025, 1, 6, 9, 15, 30, 250000)
# What evaluating a candidate may raise; each means "this value tells nothing", never a crash.
EVAL_ERRORS = (JobFailure, Unsupported, CastFailure, ArithmeticError, ValueError, TypeError, OverflowError)
_TRANSPARENT = frozenset({"UPPER", "LOWER", "TRIM", "LTRIM", "RTRIM"})


@dataclass(frozen=True)
class Relative:
    """The value of another location of the same row, moved by `step` units (`a > b`)."""

    loc: Loc
    step: int


@dataclass(frozen=True)
class Candidate:
    loc: Loc
    value: object  # typed, a `Relative`, or None (NULL)
    label: str  # "at the boundary", "beside the boundary, below", "NULL", ...
    # other locations this boundary needs (`x <= COALESCE(d.max, 125)` meets 125 where d.max is NULL)
    also: tuple[tuple[Loc, object], ...] = ()

    def changes(self) -> dict[Loc, object]:
        return {**dict(self.also), self.loc: self.value}


@dataclass(frozen=True)
class TimeField:
    """A payload field read as a time: epoch numbers (`unit_ms` 1 or 1000) or text (`pattern`)."""

    name: str
    unit_ms: int = 1
    pattern: str | None = None


@dataclass(frozen=True)
class Predicate:
    title: str  # "filter `payload.x > 0`", "rule r (`...`)", "join j condition `...`"
    expr: ast.Expr


def not_true(cond: ast.Expr) -> ast.Expr:
    return ast.IsTest(operand=cond, test="TRUE", negated=True)


def when_condition(case: ast.Case, when: ast.When) -> ast.Expr:
    """The condition of a WHEN: a simple CASE's `operand = value`, a searched CASE's condition."""
    if case.operand is None:
        return when.condition
    return ast.Binary(op="=", left=case.operand, right=when.condition)


def guarded(expr: ast.Expr) -> list[tuple[ast.Expr, Guard, bool]]:
    """Every node of `expr` (pre-order) with its guard and whether it sits in a logical position
    (the root, under AND / OR / NOT, a WHEN or IF condition, a branch of a logical CASE / IF).
    A simple CASE's `operand = value` comparisons are listed as nodes of their own."""
    out: list[tuple[ast.Expr, Guard, bool]] = []
    stack: list[tuple[ast.Expr, Guard, bool]] = [(expr, (), True)]
    while stack:
        node, guard, logical = stack.pop()
        out.append((node, guard, logical))
        kids: list[tuple[ast.Expr, Guard, bool]] = []
        if isinstance(node, ast.Case):
            if node.operand is not None:
                kids.append((node.operand, guard, False))
            prior = guard
            for when in node.whens:
                cond = when_condition(node, when)
                if node.operand is not None:
                    out.append((cond, prior, True))
                    kids.append((when.condition, prior, False))
                else:
                    kids.append((cond, prior, True))
                kids.append((when.result, (*prior, cond), logical))
                prior = (*prior, not_true(cond))
            if node.default is not None:
                kids.append((node.default, prior, logical))
        elif isinstance(node, ast.Call) and node.name == "IF" and len(node.args) == 3:
            cond, then, other = node.args
            kids = [
                (cond, guard, True),
                (then, (*guard, cond), logical),
                (other, (*guard, not_true(cond)), logical),
            ]
        elif (isinstance(node, ast.Binary) and node.op in ("AND", "OR")) or (
            isinstance(node, ast.Unary) and node.op == "NOT"
        ):
            kids = [(child, guard, True) for child in ast.children(node)]
        else:
            kids = [(child, guard, False) for child in ast.children(node)]
        stack.extend(reversed(kids))
    return out


def branching(expr: ast.Expr) -> bool:
    """Whether `expr` holds a CASE or an IF (nodes that decide only in a branch)."""
    return any(
        isinstance(n, ast.Case) or (isinstance(n, ast.Call) and n.name == "IF" and len(n.args) == 3)
        for n in ast.walk(expr)
    )


def one_line(text: str) -> str:
    return " ".join(text.split())


def loc_name(loc: Loc) -> str:
    return f"{loc[0]}.{loc[1]}"


def render(expr: ast.Expr) -> str:
    return ast.render(expr, lambda c: f"{c.qualifier}.{c.name}")


def plain(value: Decimal) -> str:
    """A DECIMAL as plain text without trailing zeros (`258`, `12.345`, never `5E+3`)."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def wall_text(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") + f".{value.microsecond // 1000:03d}"


def like_regex(pattern: str, escape: str | None) -> str:
    """The evaluator's reading of a LIKE pattern, as a regular expression."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if escape is not None and ch == escape and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return "".join(out)


class Boundaries:
    """Locations, their types and time readings, predicates and their boundary candidates."""

    def __init__(self, spec: RequestSpec) -> None:
        self.spec = spec
        self.zone = ZoneInfo(spec.job.time_zone)
        try:
            self.ev: Evaluator | None = Evaluator(spec)
        except Unsupported:
            self.ev = None
        self.types: dict[Loc, FlinkType] = {
            ("payload", f.name): f.flink_type.with_nullable(True)
            for f in spec.payload.fields
            if f.flink_type is not None
        }
        self.not_null: set[Loc] = set()
        for join in spec.joins:
            dim = spec.dimension(join.target_table)
            for col in dim.table.columns if dim else ():
                self.types[(join.alias, col.name)] = col.type.with_nullable(True)
                if col.not_null or col.name in dim.table.primary_key:  # type: ignore[union-attr]
                    self.not_null.add((join.alias, col.name))
        self.predicates = [Predicate(f"filter `{one_line(f.text)}`", f.ast) for f in spec.filters]
        self.predicates += [
            Predicate(f"rule {r.name} (`{one_line(r.condition.text)}`)", r.condition.ast)
            for r in spec.business_rules
        ]
        self.join_conditions = {
            j.name: Predicate(
                f"join {j.name} condition `{one_line(j.additional_condition.text)}`",
                j.additional_condition.ast,
            )
            for j in spec.joins
            if j.additional_condition is not None
        }
        self.time = self._time_fields()

    # ------------------------------------------------------------ structure

    def expressions(self) -> list[ast.Expr]:
        return [m.expression.ast for m in self.spec.mappings] + [
            p.expr for p in [*self.predicates, *self.join_conditions.values()]
        ]

    def locs(self, node: ast.Expr) -> list[Loc]:
        found = [(c.qualifier, c.name) for c in ast.columns(node)]
        return [loc for loc in dict.fromkeys(found) if loc in self.types]

    def referenced_payload(self) -> list[Loc]:
        out = [loc for e in self.expressions() for loc in self.locs(e) if loc[0] == "payload"]
        out += [("payload", j.source_field) for j in self.spec.joins if j.source_kind == "event"]
        return [loc for loc in dict.fromkeys(out) if loc in self.types]

    @staticmethod
    def atoms(pred: ast.Expr) -> list[ast.Expr]:
        """The atomic predicates: comparisons, IN, BETWEEN, LIKE, IS tests, bare boolean columns."""
        kinds = (ast.InList, ast.Between, ast.Like, ast.IsTest)
        out: list[ast.Expr] = [
            n
            for n in ast.walk(pred)
            if isinstance(n, kinds) or (isinstance(n, ast.Binary) and n.op in ast.COMPARISONS)
        ]
        stack = [pred]
        while stack:  # bare boolean columns in a logical position
            node = stack.pop()
            if isinstance(node, ast.Binary) and node.op in ("AND", "OR"):
                stack += [node.left, node.right]
            elif isinstance(node, ast.Unary) and node.op == "NOT":
                stack.append(node.operand)
            elif isinstance(node, ast.Column):
                out.append(node)
        return out

    @classmethod
    def guarded_atoms(cls, pred: ast.Expr) -> list[tuple[ast.Expr, Guard]]:
        """The atomic predicates, each with its guard: the conditions that must hold for it to
        decide (the CASE branch or IF branch it sits in). A simple CASE's `operand = value` is an
        atom too. Without CASE or IF: `atoms`, each with an empty guard."""
        if not branching(pred):
            return [(atom, ()) for atom in cls.atoms(pred)]
        kinds = (ast.InList, ast.Between, ast.Like, ast.IsTest)
        return [
            (node, guard)
            for node, guard, logical in guarded(pred)
            if isinstance(node, kinds)
            or (isinstance(node, ast.Binary) and node.op in ast.COMPARISONS)
            or (logical and isinstance(node, ast.Column))
        ]

    def _time_fields(self) -> dict[str, TimeField]:
        out: dict[str, TimeField] = {}
        for expr in self.expressions():
            for node in ast.walk(expr):
                if isinstance(node, ast.Cast) and node.type.root in ("DATE", "TIMESTAMP", "TIMESTAMP_LTZ"):
                    name, args = "CAST", [node.expr]
                elif isinstance(node, ast.Call) and node.args:
                    name, args = node.name, list(node.args)
                else:
                    continue
                col = args[0]
                if not isinstance(col, ast.Column) or col.qualifier != "payload":
                    continue
                ftype = self.types.get(("payload", col.name))
                if ftype is None or col.name in out:
                    continue
                text = ftype.root in TEXT_ROOTS
                if name == "TO_TIMESTAMP_LTZ" and not text:
                    seconds = len(args) > 1 and isinstance(args[1], ast.NumberLit) and args[1].text == "0"
                    out[col.name] = TimeField(col.name, 1000 if seconds else 1)
                elif name == "FROM_UNIXTIME" and not text:
                    out[col.name] = TimeField(col.name, 1000)
                elif text and name in ("TO_TIMESTAMP", "TO_DATE", "DATE_FORMAT", "CAST"):
                    dated = name == "TO_DATE" or (isinstance(node, ast.Cast) and node.type.root == "DATE")
                    pattern = "yyyy-MM-dd" if dated else "yyyy-MM-dd HH:mm:ss"
                    if name != "CAST" and len(args) > 1 and isinstance(args[1], ast.StringLit):
                        pattern = args[1].value
                    try:
                        JavaPattern(pattern)
                    except Unsupported:
                        pattern = "yyyy-MM-dd HH:mm:ss"
                    out[col.name] = TimeField(col.name, 0, pattern)
        return out

    # ------------------------------------------------------------ values

    def time_value_ms(self, wall: datetime) -> int:
        """Epoch milliseconds of a wall-clock time of the job's zone."""
        return (wall.replace(tzinfo=self.zone) - EPOCH) // timedelta(milliseconds=1)

    def time_value(self, name: str, wall: datetime) -> object:
        """A wall-clock time of the job's zone as the time field holds it."""
        tf = self.time[name]
        if tf.pattern is not None:
            return JavaPattern(tf.pattern).format(wall)
        return self.time_value_ms(wall) // tf.unit_ms

    def default(self, loc: Loc, n: int, rng: Random) -> object:  # noqa: PLR0911
        """A typical value of the location (`n` numbers text values; numbers come from `rng`)."""
        if loc[0] == "payload" and loc[1] in self.time:
            return self.time_value(loc[1], BASE_WALL)
        ftype = self.types[loc]
        root = ftype.root
        if root in TEXT_ROOTS:
            return f"{loc[1]}-{n:03d}"
        if root == "BOOLEAN":
            return False
        if root in INTEGER_BITS:
            return rng.randint(1, 99)
        if root == "DECIMAL":
            digits, scale = (ftype.precision or 10) - (ftype.scale or 0), ftype.scale or 0
            whole = rng.randint(1, 10 ** min(digits, 3) - 1) if digits > 0 else 0
            frac = min(scale, 2)
            return Decimal(whole) + Decimal(rng.randint(0, 10**frac - 1)).scaleb(-frac)
        if root in ("FLOAT", "DOUBLE"):
            return rng.randint(1, 999) + 0.25
        if root == "DATE":
            return BASE_WALL.date()
        if root == "TIME":
            return BASE_WALL.time().replace(microsecond=0)
        if root == "TIMESTAMP":
            return BASE_WALL
        if root == "TIMESTAMP_LTZ":
            return BASE_WALL.replace(tzinfo=self.zone).astimezone(UTC)
        return None

    def step(self, loc: Loc, value: object, n: int) -> object | None:  # noqa: PLR0911
        """The value moved by `n` units of the location's type (None: no such neighbour)."""
        if value is None or isinstance(value, bool) or n == 0:
            return value
        ftype = self.types[loc]
        root = ftype.root
        if root in INTEGER_BITS and isinstance(value, int | Decimal):
            return int(value) + n
        if root == "DECIMAL" and isinstance(value, int | Decimal):
            return Decimal(value) + n * Decimal(1).scaleb(-(ftype.scale or 0))
        if root in ("FLOAT", "DOUBLE") and isinstance(value, int | float | Decimal):
            return float(value) + n * (0.001 if abs(float(value)) < 1e4 else abs(float(value)) * 1e-6)
        if root in TEXT_ROOTS and isinstance(value, str):  # code-point order: prefix < s < s + "0"
            return (value[:-1] if value else None) if n < 0 else value + "0"
        if isinstance(value, datetime):
            unit = timedelta(seconds=1) if ftype.precision == 0 else timedelta(milliseconds=1)
            return value + n * unit
        if isinstance(value, date):
            return value + timedelta(days=n)
        return None

    def different(self, loc: Loc, value: object) -> object | None:
        """A value unequal to `value` (case-flipped text, the other boolean, the next number)."""
        if isinstance(value, bool):
            return not value
        if isinstance(value, str):
            flipped = value.swapcase()
            return flipped if flipped != value else value + "_x"
        return self.step(loc, value, 1)

    def raw(self, loc: Loc, value: object) -> object:  # noqa: PLR0911
        """A typed value as a case YAML holds it at this location (JSON value or §8 text)."""
        if value is None:
            return None
        ftype = self.types[loc]
        root = ftype.root
        if root in TEXT_ROOTS:
            text = value if isinstance(value, str) else str(value)
            return text[: ftype.length] if loc[0] != "payload" and ftype.length else text
        if root == "BOOLEAN":
            return bool(value)
        if root in INTEGER_BITS:
            return int(value)  # type: ignore[call-overload]
        if root == "DECIMAL":
            return plain(Decimal(value))  # type: ignore[arg-type]
        if root in ("FLOAT", "DOUBLE"):
            return float(value)  # type: ignore[arg-type]
        if isinstance(value, datetime):
            local = value.astimezone(self.zone).replace(tzinfo=None) if value.tzinfo else value
            return local.date().isoformat() if root == "DATE" else wall_text(local)
        if isinstance(value, date | time):
            return value.isoformat()
        return value

    def show(self, candidate: Candidate) -> str:
        """`loc = value` of the candidate, with the other locations it sets."""
        return ", ".join(
            self.display(loc, v) for loc, v in ((candidate.loc, candidate.value), *candidate.also)
        )

    def display(self, loc: Loc, value: object) -> str:
        if isinstance(value, Relative):
            moved = "" if value.step == 0 else f" {'+' if value.step > 0 else '-'} {abs(value.step)} unit"
            return f"{loc_name(loc)} = {loc_name(value.loc)}{moved}"
        raw = self.raw(loc, value)
        if raw is None:
            shown = "NULL"
        elif isinstance(raw, bool):
            shown = "TRUE" if raw else "FALSE"
        elif isinstance(raw, str) and self.types[loc].root not in ("DECIMAL",):
            shown = "'" + raw.replace("'", "''") + "'"
        else:
            shown = str(raw)
        return f"{loc_name(loc)} = {shown}"

    # ------------------------------------------------------------ limits and time edges

    def edges(self, typical: Mapping[Loc, object]) -> list[tuple[str, Loc, object]]:
        """(purpose, location, value) of the time-zone edges of each time field, the DECIMAL
        rounding and precision limits of fields the mappings cast, and the integer bounds of
        integer fields in arithmetic or SUM/AVG (Flink's overflow wraps)."""
        out: list[tuple[str, Loc, object]] = []
        midnight = datetime.combine(BASE_WALL.date() + timedelta(days=1), time())
        for name, tf in self.time.items():
            loc = ("payload", name)
            unit = timedelta(milliseconds=tf.unit_ms if tf.pattern is None else 1000)
            for wall, label in (
                (midnight - unit, "one unit before local midnight"),
                (midnight, "at local midnight"),
                (
                    datetime(BASE_WALL.year - 1, 12, 31, 23, 59, 59, 999000),
                    "year end, Dec 31 23:59:59.999 local",
                ),
                (datetime(BASE_WALL.year, 1, 1), "year start, Jan 1 00:00 local"),
            ):
                value = self.time_value(name, wall)
                out.append(
                    (f"time zone edge of {loc_name(loc)}: {label} ({self.display(loc, value)})", loc, value)
                )
            if tf.pattern is not None:
                out.append(
                    (f"{loc_name(loc)}: text that does not parse as `{tf.pattern}`", loc, "not a time")
                )
        for loc in self.referenced_payload():
            mapped = [m for m in self.spec.mappings if loc in self.locs(m.expression.ast)]
            if self.types[loc].root == "DECIMAL" and mapped:
                out += self._decimal_limits(loc, mapped, typical[loc])
            bits = INTEGER_BITS.get(self.types[loc].root)
            arithmetic = any(
                (isinstance(n, ast.Binary) and n.op in ast.ARITHMETIC)
                or (isinstance(n, ast.Call) and n.name in ("SUM", "AVG", "MOD"))
                for m in mapped
                for n in ast.walk(m.expression.ast)
                if loc in self.locs(n)
            )
            if bits and arithmetic and loc[1] not in self.time:
                root = self.types[loc].root
                for value, label in ((2 ** (bits - 1) - 1, "largest"), (-(2 ** (bits - 1)), "smallest")):
                    out.append((f"{loc_name(loc)}: the {label} {root} ({value}), for overflow", loc, value))
        return out

    def _decimal_limits(
        self, loc: Loc, mapped: list[Mapping_], typical: object
    ) -> list[tuple[str, Loc, object]]:
        """Half a unit beyond the scale of the narrowest DECIMAL the field is cast to (both signs),
        the largest value that DECIMAL holds, and half a unit more (rounds past its precision)."""
        ftype = self.types[loc]
        targets = [
            (n.type.precision or 38, n.type.scale or 0)
            for m in mapped
            for n in ast.walk(m.expression.ast)
            if isinstance(n, ast.Cast) and n.type.root == "DECIMAL" and loc in self.locs(n.expr)
        ]
        targets += [
            (m.column_type.precision or 38, m.column_type.scale or 0)
            for m in mapped
            if m.column_type.root == "DECIMAL"
        ]
        p, s = min(targets, key=lambda t: t[1], default=(ftype.precision or 38, ftype.scale or 0))
        unit = Decimal(1).scaleb(-s)
        half = Decimal(str(typical)).quantize(unit, rounding=ROUND_DOWN) + unit / 2
        largest = Decimal(10) ** (p - s) - unit
        return [
            (f"{loc_name(loc)}: {label} ({self.display(loc, value)})", loc, value)
            for value, label in (
                (half, f"half a unit beyond DECIMAL({p}, {s})'s scale: rounds half-up"),
                (-half, f"negative, half a unit beyond DECIMAL({p}, {s})'s scale: rounds away from zero"),
                (largest, f"the largest value DECIMAL({p}, {s}) holds"),
                (largest + unit / 2, f"rounds beyond DECIMAL({p}, {s})'s precision"),
            )
        ]

    # ------------------------------------------------------------ candidates

    def constant(self, node: ast.Expr) -> Typed | None:
        if self.ev is None or self.locs(node) or ast.columns(node):
            return None
        try:
            return self.ev.eval(node, Scope(payload=None))
        except EVAL_ERRORS:
            return None

    def target(self, side: ast.Expr) -> tuple[Loc, int] | None:
        """The one location `side` reads through value-preserving wrappers (CAST, COALESCE's first
        argument, UPPER, TRIM...), and 0, or the epoch unit (ms) for `TO_TIMESTAMP_LTZ(col, p)`."""
        node = side
        while True:
            if isinstance(node, ast.Column):
                loc = (node.qualifier, node.name)
                return (loc, 0) if loc in self.types else None
            if isinstance(node, ast.Cast):
                node = node.expr
            elif isinstance(node, ast.Unary) and node.op == "+":
                node = node.operand
            elif isinstance(node, ast.Call) and node.args and node.name in ("COALESCE", "IFNULL"):
                node = node.args[0]
            elif isinstance(node, ast.Call) and node.args and node.name in _TRANSPARENT:
                node = node.args[-1]
            elif isinstance(node, ast.Call) and node.name == "TO_TIMESTAMP_LTZ" and node.args:
                inner = self.target(node.args[0])
                seconds = (
                    len(node.args) > 1
                    and isinstance(node.args[1], ast.NumberLit)
                    and node.args[1].text == "0"
                )
                return None if inner is None else (inner[0], 1000 if seconds else 1)
            else:
                return None

    def literal(self, const: ast.Expr, target: tuple[Loc, int]) -> object | None:
        """The constant as a value of the target location (None: it cannot be one)."""
        typed = self.constant(const)
        if typed is None or typed[0] is None:
            return None
        value, vtype = typed
        loc, unit_ms = target
        if unit_ms:
            if isinstance(value, datetime):
                stamp = value if value.tzinfo else value.replace(tzinfo=self.zone)
            elif isinstance(value, date):
                stamp = datetime(value.year, value.month, value.day, tzinfo=self.zone)
            else:
                return None
            return (stamp - EPOCH) // timedelta(milliseconds=unit_ms)
        try:
            return cast(value, vtype, self.types[loc], self.zone)
        except EVAL_ERRORS:
            return None

    def candidates(self, node: ast.Expr) -> list[Candidate]:
        """Values of the atom's location(s) at and beside its boundary, and NULL."""
        out: list[Candidate] = []
        if isinstance(node, ast.Binary) and node.op in ast.COMPARISONS:
            out = self._comparison(node)
        elif isinstance(node, ast.InList):
            out = self.in_list(node.operand, list(node.items))
        elif isinstance(node, ast.Between):
            out = self._between(node)
        elif isinstance(node, ast.Like):
            out = self._like(node)
        elif isinstance(node, ast.IsTest) and node.test in ("NULL", "UNKNOWN"):
            out = [Candidate(loc, None, "at the boundary") for loc in self.locs(node.operand)]
        elif isinstance(node, ast.IsTest | ast.Column):
            target = self.target(node.operand if isinstance(node, ast.IsTest) else node)
            if target and self.types[target[0]].root == "BOOLEAN":
                out = [
                    Candidate(target[0], True, "at the boundary"),
                    Candidate(target[0], False, "beside the boundary"),
                ]
        nulls = {c.loc for c in out if c.value is None}
        out += [Candidate(loc, None, "NULL") for loc in self.locs(node) if loc not in nulls]
        return [c for c in out if not (c.value is None and c.loc in self.not_null)]

    def _comparison(self, node: ast.Binary) -> list[Candidate]:
        left, right = self.locs(node.left), self.locs(node.right)
        labels = (
            (0, "at the boundary"),
            (-1, "beside the boundary, below"),
            (1, "beside the boundary, above"),
        )
        if left and right:  # column against column: at the other's value and one unit beside it
            a, b = self.target(node.left), self.target(node.right)
            out: list[Candidate] = []
            if a and b and not a[1] and not b[1]:
                out = [Candidate(a[0], Relative(b[0], n), label) for n, label in labels]
            for side, other in ((node.left, node.right), (node.right, node.left)):
                out += self._fallback(side, other, labels)
            return out
        side, const = (node.left, node.right) if left else (node.right, node.left)
        target = self.target(side)
        value = None if target is None else self.literal(const, target)
        if target is None or value is None:
            return []
        loc = target[0]
        out = [Candidate(loc, value, "at the boundary")]
        if isinstance(value, bool | str) and (node.op in ("=", "<>") or "DISTINCT" in node.op):
            out.append(Candidate(loc, self.different(loc, value), "beside the boundary, a different value"))
        else:
            out += [
                Candidate(loc, self.step(loc, value, -1), "beside the boundary, below"),
                Candidate(loc, self.step(loc, value, 1), "beside the boundary, above"),
            ]
        return [c for c in out if c.value is not None]

    def in_list(self, operand: ast.Expr, items: list[ast.Expr]) -> list[Candidate]:
        target = self.target(operand)
        if target is None:
            return []
        loc = target[0]
        values = [v for v in (self.literal(i, target) for i in items) if v is not None]
        if not values:
            return []
        out = [Candidate(loc, v, "at the boundary, in the list") for v in values[:6]]
        numbers = [v for v in values if isinstance(v, int | Decimal | float) and not isinstance(v, bool)]
        if numbers:
            low, high = self.step(loc, min(numbers), -1), self.step(loc, max(numbers), 1)
            out += [
                Candidate(loc, low, "beside the boundary, below the list"),
                Candidate(loc, high, "beside the boundary, above the list"),
            ]
        else:
            other = self.different(loc, values[0])
            while other is not None and other in values and isinstance(other, str):
                other += "_x"
            out.append(Candidate(loc, other, "beside the boundary, outside the list"))
        return [c for c in out if c.value is not None]

    def _between(self, node: ast.Between) -> list[Candidate]:
        target = self.target(node.operand)
        if target is None:
            return []
        loc = target[0]
        out: list[Candidate] = []
        for bound, labels in (
            (node.low, ((-1, "beside the boundary, below the low end"), (0, "at the boundary, the low end"))),
            (
                node.high,
                ((0, "at the boundary, the high end"), (1, "beside the boundary, above the high end")),
            ),
        ):
            value = self.literal(bound, target)
            if value is not None:
                out += [Candidate(loc, self.step(loc, value, n), label) for n, label in labels]
                continue
            other = self.target(bound) if self.locs(bound) else None  # a bound read from a column
            if other is not None and not target[1] and not other[1] and other[0] != loc:
                out += [Candidate(loc, Relative(other[0], n), label) for n, label in labels]
            out += self._fallback(node.operand, bound, labels)
        return [c for c in out if c.value is not None]

    def _fallback(
        self, side: ast.Expr, bound: ast.Expr, labels: tuple[tuple[int, str], ...]
    ) -> list[Candidate]:
        """`side` at and beside the constant of a bound `COALESCE(column, constant)`, where that
        column is NULL (the bound's other boundary: `x <= COALESCE(d.max, 125)` meets 125 too)."""
        node = bound
        while isinstance(node, ast.Cast) or (isinstance(node, ast.Unary) and node.op == "+"):
            node = node.expr if isinstance(node, ast.Cast) else node.operand
        if not (isinstance(node, ast.Call) and node.name in ("COALESCE", "IFNULL") and len(node.args) == 2):
            return []
        target, column = self.target(side), self.target(node.args[0])
        if target is None or column is None or column[1] or column[0] in self.not_null:
            return []
        if column[0] == target[0] or self.constant(node.args[1]) is None:
            return []
        value = self.literal(node.args[1], target)
        if value is None:
            return []
        moved = [(self.step(target[0], value, n), label) for n, label in labels]
        return [
            Candidate(target[0], v, label, also=((column[0], None),)) for v, label in moved if v is not None
        ]

    def _like(self, node: ast.Like) -> list[Candidate]:
        target = self.target(node.operand)
        pattern = self.constant(node.pattern)
        escape = None if node.escape is None else self.constant(node.escape)
        if target is None or target[1] or pattern is None or not isinstance(pattern[0], str):
            return []
        esc = escape[0] if escape is not None and isinstance(escape[0], str) else None
        regex = like_regex(pattern[0], esc)
        match, i, text = [], 0, pattern[0]
        while i < len(text):  # the pattern's shortest match: % is empty, _ is "x"
            if esc is not None and text[i] == esc and i + 1 < len(text):
                match.append(text[i + 1])
                i += 2
                continue
            match.append("" if text[i] == "%" else "x" if text[i] == "_" else text[i])
            i += 1
        hit = "".join(match)
        miss = next(
            (m for m in ("~" + hit, hit + "~", hit[:-1], "", "~") if not re.fullmatch(regex, m, re.DOTALL)),
            None,
        )
        out = [Candidate(target[0], hit, "at the boundary, matching")]
        if miss is not None:
            out.append(Candidate(target[0], miss, "beside the boundary, not matching"))
        return out


__all__ = [
    "BASE_WALL",
    "EVAL_ERRORS",
    "INTEGER_BITS",
    "TEXT_ROOTS",
    "Boundaries",
    "Candidate",
    "Guard",
    "Loc",
    "Predicate",
    "Relative",
    "TimeField",
    "guarded",
    "loc_name",
    "not_true",
    "one_line",
    "plain",
    "render",
    "when_condition",
]
