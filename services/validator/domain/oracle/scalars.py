"""Typed scalar values of the oracle: casts, comparison and arithmetic as Flink 2.x does them.

A value is a Python object typed by a `FlinkType` that travels beside it: STRING/VARCHAR/CHAR
are `str`, BOOLEAN `bool`, the integer types `int`, DECIMAL `Decimal`, FLOAT/DOUBLE `float`,
DATE `date`, TIME `time`, TIMESTAMP a naive `datetime` (wall clock), TIMESTAMP_LTZ an aware
`datetime` in UTC (an instant). `None` is SQL NULL. Choices are written in
docs/request-format-decisions.md, "The validator's interpreter". Pure: no engine, no I/O.
"""

from __future__ import annotations

import math
import re
import struct
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from services.flinksql.sqltypes import (
    FlinkType,
    adjust_decimal,
    as_decimal,
    decimal,
    family,
    simple,
)

WIDE = Context(prec=120)
_BITS = {"TINYINT": 8, "SMALLINT": 16, "INT": 32, "BIGINT": 64}


class Unsupported(Exception):
    """A construct the oracle does not interpret: the case cannot be judged by it."""

    def __init__(self, construct: str) -> None:
        super().__init__(f"the oracle cannot interpret {construct}")
        self.construct = construct


class Unpredictable(Unsupported):
    """An input on which the oracle cannot predict Flink's value (Flink gives one, but by rules
    nobody has reproduced): the data generator leaves such an input out and says why; anywhere
    else it is an `Unsupported` construct."""


class JobFailure(Exception):
    """Flink would fail the job at run time here (a failing CAST, an integer division by zero)."""


class CastFailure(Exception):
    """A CAST that Flink refuses at run time (TRY_CAST turns it into NULL)."""


# ---------------------------------------------------------------- numbers


def wrap(value: int, root: str) -> int:
    """Java's two's-complement overflow of an integer type."""
    bits = _BITS[root]
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >= 1 << (bits - 1) else value


def fits(value: int, root: str) -> bool:
    bits = _BITS[root]
    return -(1 << (bits - 1)) <= value < 1 << (bits - 1)


def fit_decimal(value: Decimal, precision: int, scale: int) -> Decimal | None:
    """HALF_UP to `scale`; None when the integer digits overflow `precision` (Flink: NULL)."""
    if not value.is_finite():
        return None
    rounded = value.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP, context=WIDE)
    if rounded != 0 and rounded.adjusted() + 1 > precision - scale:
        return None
    return rounded


def java_double_text(value: float, *, single: bool = False) -> str:
    """Java's `Double.toString` (`Float.toString` when `single`): shortest digits, E-notation
    outside [1e-3, 1e7)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1, value) < 0 else "0.0"
    digits = repr(value) if not single else _shortest_float32(value)
    d = Decimal(digits)
    if 1e-3 <= abs(value) < 1e7:
        text = format(d, "f")
        return text if "." in text else text + ".0"
    sign, nums, exp = d.as_tuple()
    assert isinstance(exp, int)
    mantissa = "".join(map(str, nums)).rstrip("0") or "0"
    power = exp + len(nums) - 1
    head, tail = mantissa[0], mantissa[1:] or "0"
    return f"{'-' if sign else ''}{head}.{tail}E{power}"


def _shortest_float32(value: float) -> str:
    for digits in range(1, 10):
        text = f"{value:.{digits}g}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == value:
            return text
    return repr(value)


def to_float32(value: float) -> float:
    try:
        return float(struct.unpack("f", struct.pack("f", value))[0])
    except OverflowError:
        return math.copysign(math.inf, value)


# ---------------------------------------------------------------- text


_LONG = re.compile(r"[+-]?(\d+\.?\d*|\.\d*)")
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_DOUBLE = re.compile(r"[+-]?(NaN|Infinity|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[dDfF]?)")
_TRUE = frozenset({"t", "true", "y", "yes", "1"})
_FALSE = frozenset({"f", "false", "n", "no", "0"})
_DATE = re.compile(r"(\d{1,4})-(\d{1,2})-(\d{1,2})")
_TIMESTAMP = re.compile(
    r"(\d{1,4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,9}))?)?)?"
)
_TIME = re.compile(r"(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,9}))?)?")


def _fraction(text: str | None) -> int:
    return int((text or "0")[:6].ljust(6, "0"))


def parse_timestamp(text: str) -> datetime:
    match = _TIMESTAMP.fullmatch(text.strip())
    if not match:
        raise CastFailure(f"{text!r} is not a TIMESTAMP")
    y, mo, d, h, mi, s, f = match.groups()
    try:
        return datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), _fraction(f))
    except ValueError as err:
        raise CastFailure(str(err)) from err


def timestamp_text(value: datetime, precision: int) -> str:
    """Flink's text of a TIMESTAMP(p): the fraction has exactly p digits (micro at most)."""
    text = value.strftime("%Y-%m-%d %H:%M:%S")
    if precision > 0:
        text += "." + f"{value.microsecond:06d}".ljust(9, "0")[:precision]
    return text


def to_text(value: object, src: FlinkType, zone: ZoneInfo) -> str:  # noqa: PLR0911
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return java_double_text(value, single=src.root == "FLOAT")
    if isinstance(value, datetime):
        local = value.astimezone(zone).replace(tzinfo=None) if value.tzinfo else value
        return timestamp_text(local, src.precision if src.precision is not None else 6)
    if isinstance(value, date | time):
        return value.isoformat()
    raise Unsupported(f"text of a {src.sql()} value")


# ---------------------------------------------------------------- casts


def cast(value: object, src: FlinkType, dst: FlinkType, zone: ZoneInfo) -> object:  # noqa: C901, PLR0911, PLR0912, PLR0915
    """`CAST(value AS dst)`; raises CastFailure where Flink fails the cast at run time."""
    if value is None:
        return None
    d = dst.root
    if family(dst) == "character":
        text = to_text(value, src, zone)
        if d == "VARCHAR" and dst.length is not None:
            return text[: dst.length]
        if d == "CHAR" and dst.length is not None:
            return text[: dst.length].ljust(dst.length)
        return text
    if d == "BOOLEAN":
        if isinstance(value, bool):
            return value
        if isinstance(value, int | Decimal | float):
            return value != 0
        if isinstance(value, str):
            word = value.lower()  # not trimmed: Flink reads ' true ' as no BOOLEAN
            if word in _TRUE:
                return True
            if word in _FALSE:
                return False
            raise CastFailure(f"{value!r} is not a BOOLEAN")
    elif d in _BITS:
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return wrap(value, d)
        if isinstance(value, Decimal):
            return wrap(wrap(int(value.to_integral_value(rounding=ROUND_DOWN)), "BIGINT"), d)
        if isinstance(value, float):
            if math.isnan(value):
                return 0
            limit = "BIGINT" if d == "BIGINT" else "INT"  # Java (int)/(long) saturate, then narrow
            lo, hi = -(1 << (_BITS[limit] - 1)), (1 << (_BITS[limit] - 1)) - 1
            return wrap(int(max(lo, min(hi, math.trunc(value) if math.isfinite(value) else value))), d)
        if isinstance(value, str):
            text = value.strip()
            if not _LONG.fullmatch(text):
                raise CastFailure(f"{value!r} is not a {d}")
            head = text.split(".")[0]
            whole = int(head.lstrip("+-") or "0") * (-1 if head.startswith("-") else 1)
            if not fits(whole, d):
                raise CastFailure(f"{value!r} overflows {d}")
            return whole
    elif d == "DECIMAL":
        assert dst.precision is not None and dst.scale is not None
        number: Decimal
        if isinstance(value, bool):
            number = Decimal(int(value))
        elif isinstance(value, int | Decimal):
            number = Decimal(value)
        elif isinstance(value, float):
            if not math.isfinite(value):
                return None
            number = Decimal(java_double_text(value, single=src.root == "FLOAT").replace("E", "e"))
        elif isinstance(value, str):
            text = value.strip()
            if not _DECIMAL.fullmatch(text):
                raise CastFailure(f"{value!r} is not a DECIMAL")
            number = Decimal(text)
        else:
            raise Unsupported(f"CAST from {src.sql()} to DECIMAL")
        return fit_decimal(number, dst.precision, dst.scale)
    elif d in ("DOUBLE", "FLOAT"):
        out: float
        if isinstance(value, bool | int | Decimal | float):
            out = float(value)
        elif isinstance(value, str):
            text = value.strip()
            if not _DOUBLE.fullmatch(text):
                raise CastFailure(f"{value!r} is not a {d}")
            out = float(text.rstrip("dDfF").replace("Infinity", "inf"))
        else:
            raise Unsupported(f"CAST from {src.sql()} to {d}")
        return to_float32(out) if d == "FLOAT" else out
    elif d == "DATE":
        if isinstance(value, datetime):
            return (value.astimezone(zone) if value.tzinfo else value).date()
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            match = _DATE.fullmatch(value.strip())
            try:
                if match:
                    return date(*(int(g) for g in match.groups()))
            except ValueError:
                pass
            raise CastFailure(f"{value!r} is not a DATE")
    elif d in ("TIMESTAMP", "TIMESTAMP_LTZ"):
        precision = dst.precision if dst.precision is not None else 6
        stamp: datetime
        if isinstance(value, datetime):
            stamp = value
        elif isinstance(value, date):
            stamp = datetime(value.year, value.month, value.day)
        elif isinstance(value, str):
            stamp = parse_timestamp(value)
        else:
            raise Unsupported(f"CAST from {src.sql()} to {d}")
        if d == "TIMESTAMP":
            stamp = stamp.astimezone(zone).replace(tzinfo=None) if stamp.tzinfo else stamp
        elif stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=zone).astimezone(UTC)
        return truncate(stamp, precision)
    elif d == "TIME":
        # Flink's TIME holds milliseconds: TIME(p) keeps min(p, 3) digits, truncated (TIME is TIME(0))
        digits = min(dst.precision if dst.precision is not None else 0, 3)
        if isinstance(value, datetime):
            local = value.astimezone(zone) if value.tzinfo else value
            return truncate_time(local.time().replace(tzinfo=None), digits)
        if isinstance(value, time):
            return truncate_time(value, digits)
        if isinstance(value, str):
            return truncate_time(_time_text(value), digits)
    raise Unsupported(f"CAST from {src.sql()} to {dst.sql()}")


def _time_text(value: str) -> time:
    """A text as Flink reads a TIME: the fraction rounded half-up to milliseconds, carrying into
    the seconds (`09:17:10.9995` is 09:17:11); a carry into 24:00:00 is not covered."""
    match = _TIME.fullmatch(value.strip())
    if not match:
        raise CastFailure(f"{value!r} is not a TIME")
    h, mi, s, f = match.groups()
    fraction = (f or "").ljust(3, "0")
    millis = int(fraction[:3]) + (len(fraction) > 3 and fraction[3] >= "5")
    try:
        base = datetime.combine(date(2000, 1, 1), time(int(h), int(mi), int(s or 0)))
    except ValueError as err:
        raise CastFailure(f"{value!r} is not a TIME") from err
    stamp = base + timedelta(milliseconds=millis)
    if stamp.date() != base.date():
        raise Unsupported(f"CAST of {value!r} to TIME (Flink gives 24:00:00)")
    return stamp.time()


def truncate_time(value: time, digits: int) -> time:
    """The time with `digits` (0 to 6) fraction digits, the rest cut off."""
    unit = 10 ** (6 - digits)
    return value.replace(microsecond=value.microsecond // unit * unit)


def truncate(stamp: datetime, precision: int) -> datetime:
    if precision >= 6:
        return stamp
    unit = 10 ** (6 - precision)
    return stamp.replace(microsecond=stamp.microsecond // unit * unit)


# ---------------------------------------------------------------- comparison


def _rank(t: FlinkType) -> str:
    fam = family(t)
    if fam in ("exact_numeric", "approx_numeric"):
        return "number"
    if fam in ("date", "timestamp"):
        return "timestamp"
    return fam


def compare(a: object, ta: FlinkType, b: object, tb: FlinkType, zone: ZoneInfo) -> int | None:
    """-1, 0 or 1; None when either side is NULL."""
    if a is None or b is None:
        return None
    ra, rb = _rank(ta), _rank(tb)
    if "null" in (ra, rb):
        return None
    if ra != rb:
        raise Unsupported(f"a comparison of {ta.sql()} with {tb.sql()} (implicit coercion)")
    if ra == "number":
        if isinstance(a, float) or isinstance(b, float):
            x, y = float(a), float(b)  # type: ignore[arg-type]
            return (x > y) - (x < y)
        da, db = Decimal(a), Decimal(b)  # type: ignore[arg-type]
        return (da > db) - (da < db)
    if ra == "timestamp":
        a, b = _instant(a, zone), _instant(b, zone)
    if ra in ("character", "boolean", "timestamp", "time"):
        return int((a > b) - (a < b))  # type: ignore[operator]
    raise Unsupported(f"a comparison of {ta.sql()} values")


def _instant(value: object, zone: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone).astimezone(UTC)
    assert isinstance(value, date)
    return datetime(value.year, value.month, value.day, tzinfo=zone).astimezone(UTC)


# ---------------------------------------------------------------- arithmetic


def arithmetic_type(op: str, ta: FlinkType, tb: FlinkType) -> FlinkType:  # noqa: PLR0911
    """The result type of `a op b` (Flink's LogicalTypeMerging rules for DECIMAL)."""
    roots = {ta.root, tb.root}
    if not roots <= {*_BITS, "DECIMAL", "FLOAT", "DOUBLE", "NULL"}:
        raise Unsupported(f"arithmetic {op} on {ta.sql()} and {tb.sql()}")
    if "DOUBLE" in roots or ("FLOAT" in roots and "DECIMAL" in roots):
        return simple("DOUBLE")
    if "FLOAT" in roots:
        return simple("FLOAT")
    if "DECIMAL" in roots:
        da = as_decimal(ta) if ta.root != "NULL" else decimal(1, 0)
        db = as_decimal(tb) if tb.root != "NULL" else decimal(1, 0)
        assert da and db and da.precision is not None and db.precision is not None
        p1, s1, p2, s2 = da.precision, da.scale or 0, db.precision, db.scale or 0
        if op in ("+", "-"):
            scale = max(s1, s2)
            return adjust_decimal(max(p1 - s1, p2 - s2) + scale + 1, scale)
        if op == "*":
            return adjust_decimal(p1 + p2 + 1, s1 + s2)  # Flink: DECIMAL(10,3) * DECIMAL(10,3) is (21, 6)
        if op == "/":
            scale = max(6, s1 + p2 + 1)
            return adjust_decimal(p1 - s1 + s2 + scale, scale)
        scale = max(s1, s2)  # %
        return adjust_decimal(min(p1 - s1, p2 - s2) + scale, scale)
    ints = [r for r in roots if r in _BITS] or ["INT"]
    return simple(max(ints, key=lambda r: _BITS[r]))


def arithmetic(op: str, a: object, b: object, rtype: FlinkType) -> object:  # noqa: C901, PLR0912
    if a is None or b is None:
        return None
    root = rtype.root
    if root in ("DOUBLE", "FLOAT"):
        x, y = float(a), float(b)  # type: ignore[arg-type]
        if op == "/":
            out = (
                x / y
                if y != 0
                else (
                    math.nan if x == 0 or math.isnan(x) else math.copysign(math.inf, x) * math.copysign(1, y)
                )
            )
        elif op == "%":
            out = math.fmod(x, y) if y != 0 else math.nan
        else:
            out = {"+": x + y, "-": x - y, "*": x * y}[op]
        return to_float32(out) if root == "FLOAT" else out
    if root in _BITS:
        x, y = int(a), int(b)  # type: ignore[call-overload]
        if op in ("/", "%") and y == 0:
            raise JobFailure(f"integer {'division' if op == '/' else 'modulo'} by zero")
        if op == "/":
            out_i = abs(x) // abs(y) * (1 if (x >= 0) == (y >= 0) else -1)
        elif op == "%":
            out_i = int(math.fmod(x, y))
        else:
            out_i = {"+": x + y, "-": x - y, "*": x * y}[op]
        return wrap(out_i, root)
    assert rtype.precision is not None and rtype.scale is not None
    x_d, y_d = Decimal(a), Decimal(b)  # type: ignore[arg-type]
    if op in ("/", "%") and y_d == 0:
        raise JobFailure("DECIMAL division by zero")
    try:
        if op == "/":
            exact = WIDE.divide(x_d, y_d)
        elif op == "%":
            exact = WIDE.remainder(x_d, y_d)
        else:
            exact = {"+": WIDE.add, "-": WIDE.subtract, "*": WIDE.multiply}[op](x_d, y_d)
    except InvalidOperation as err:
        raise JobFailure(str(err)) from err
    return fit_decimal(exact, rtype.precision, rtype.scale)


def literal_number(text: str) -> tuple[object, FlinkType]:
    """An exact numeric literal: INT, BIGINT or DECIMAL(p, s) as Flink types it."""
    if re.fullmatch(r"[+-]?\d+", text):
        number = int(text)
        for root in ("INT", "BIGINT"):
            if fits(number, root):
                return number, simple(root)
        digits = len(text.lstrip("+-"))
        return Decimal(number), decimal(min(digits, 38), 0)
    if "e" in text.lower():
        return float(text), simple("DOUBLE")
    value = Decimal(text)
    body = text.lstrip("+-")
    whole, _, frac = body.partition(".")
    scale = len(frac)
    precision = max(len(whole.lstrip("0")) + scale, scale, 1)
    return value, decimal(min(precision, 38), scale)


# ---------------------------------------------------------------- rounding (checked on Flink 2.x)


def round_type(t: FlinkType, digits: int) -> FlinkType:
    """The type of `ROUND(x, digits)`: the argument's, except for DECIMAL(p, s) with digits < s:
    DECIMAL(1 + p - s + digits, digits), and DECIMAL(min(38, 1 + p - s), 0) for negative digits
    (Flink's LogicalTypeMerging.findRoundDecimalType)."""
    if t.root == "NULL":
        return simple("INT")
    if t.root not in (*_BITS, "DECIMAL", "FLOAT", "DOUBLE"):
        raise Unsupported(f"ROUND of {t.sql()}")
    if t.root != "DECIMAL":
        return t.with_nullable(True)
    assert t.precision is not None and t.scale is not None
    p, s = t.precision, t.scale
    if digits >= s:
        return t.with_nullable(True)
    if digits < 0:
        return decimal(min(38, 1 + p - s), 0)
    return decimal(1 + p - s + digits, digits)


def _half_up(number: Decimal, digits: int) -> Decimal:
    """Java's `movePointRight(digits).setScale(0, HALF_UP).movePointLeft(digits)`."""
    return number.scaleb(digits).quantize(Decimal(1), rounding=ROUND_HALF_UP, context=WIDE).scaleb(-digits)


def round_value(value: object, t: FlinkType, digits: int) -> object:
    """`ROUND(value, digits)` as Flink computes it: HALF_UP on the decimal digits; a DOUBLE (and a
    FLOAT, widened to DOUBLE first) goes through `BigDecimal.valueOf`, i.e. its shortest text, so
    ROUND(0.285E0, 2) is 0.29; integers wrap on overflow as Java's narrowing does; NaN and
    infinities fail the job (BigDecimal refuses them)."""
    if value is None:
        return None
    rtype = round_type(t, digits)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise JobFailure(f"ROUND of {java_double_text(value)} (BigDecimal.valueOf refuses it)")
        out = float(_half_up(Decimal(java_double_text(value).replace("E", "e")), digits)) + 0.0  # no -0.0
        return to_float32(out) if t.root == "FLOAT" else out
    if isinstance(value, int) and not isinstance(value, bool):
        if digits >= 0:
            return value
        return wrap(int(_half_up(Decimal(value), digits)), t.root)
    if isinstance(value, Decimal):
        assert rtype.precision is not None and rtype.scale is not None
        if digits >= (t.scale or 0):
            return value
        rounded = fit_decimal(_half_up(value, digits), rtype.precision, rtype.scale)
        return rounded.copy_abs() if rounded is not None and rounded.is_zero() else rounded  # no -0
    raise Unsupported(f"ROUND of {t.sql()}")


def floor_ceil_type(t: FlinkType) -> FlinkType:
    """FLOOR / CEIL keep the argument's type; DECIMAL(p, s) becomes DECIMAL(p, 0)."""
    if t.root not in (*_BITS, "DECIMAL", "FLOAT", "DOUBLE"):
        raise Unsupported(f"FLOOR / CEIL of {t.sql()}")
    if t.root == "DECIMAL":
        assert t.precision is not None
        return decimal(t.precision, 0)
    return t.with_nullable(True)


def floor_ceil(value: object, t: FlinkType, *, up: bool) -> object:
    if value is None:
        return None
    floor_ceil_type(t)
    if isinstance(value, float):
        if not math.isfinite(value):
            return value
        out = float(math.ceil(value) if up else math.floor(value))
        return math.copysign(out, value) if out == 0 else out  # Java keeps -0.0 (CEIL(-0.5) is -0.0)
    if isinstance(value, Decimal):
        whole = value.to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR)
        return whole.copy_abs() if whole.is_zero() else whole  # BigDecimal has no -0
    return value
