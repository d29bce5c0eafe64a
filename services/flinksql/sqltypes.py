"""Flink SQL data types: a JSON-serialisable model, a parser for type text, and type rules.

`FlinkType` is the one canonical form of a type. Aliases are normalised when parsed:
INTEGER -> INT, DEC/NUMERIC -> DECIMAL, REAL -> FLOAT, DOUBLE PRECISION -> DOUBLE,
VARCHAR(2147483647) -> STRING, VARBINARY(2147483647) -> BYTES,
`TIMESTAMP(p) WITH LOCAL TIME ZONE` -> TIMESTAMP_LTZ(p), `TIMESTAMP WITHOUT TIME ZONE` -> TIMESTAMP.

The rules (`can_cast`, `insert_assignable`, `common_type`, the arithmetic helpers) follow
Flink 2.x (`LogicalTypeCasts`, `LogicalTypeMerging` and the cast matrix of the data-types
page). Where the documentation leaves a point open the choice is the conservative one and is
written next to the rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from services.flinksql.lexer import LexError, Token, TokenKind, significant, tokenize
from services.flinksql.quoting import quote_identifier, quote_string

TypeRoot = Literal[
    "STRING",
    "VARCHAR",
    "CHAR",
    "BOOLEAN",
    "TINYINT",
    "SMALLINT",
    "INT",
    "BIGINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
    "DATE",
    "TIME",
    "TIMESTAMP",
    "TIMESTAMP_LTZ",
    "INTERVAL_YEAR_MONTH",
    "INTERVAL_DAY_TIME",
    "BYTES",
    "BINARY",
    "VARBINARY",
    "ARRAY",
    "MAP",
    "MULTISET",
    "ROW",
    "NULL",
]

MAX_LENGTH = 2147483647
MAX_DECIMAL_PRECISION = 38
MAX_TIME_PRECISION = 9

INTEGER_ROOTS = ("TINYINT", "SMALLINT", "INT", "BIGINT")
# Decimal digits an integer type needs (Flink's implicit DECIMAL of an integer type).
INTEGER_DIGITS = {"TINYINT": 3, "SMALLINT": 5, "INT": 10, "BIGINT": 19}


class TypeSyntaxError(ValueError):
    """Type text that is not a supported Flink data type; `offset` is 0-based in the text."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} (at offset {offset})")
        self.message = message
        self.offset = offset


class RowField(BaseModel):
    """One field of a ROW type."""

    model_config = ConfigDict(frozen=True)

    name: str
    type: FlinkType
    description: str | None = None


class FlinkType(BaseModel):
    """A Flink logical type. Build with `parse_type` or the constructors below."""

    model_config = ConfigDict(frozen=True)

    root: TypeRoot
    nullable: bool = True
    length: int | None = None  # CHAR, VARCHAR, BINARY, VARBINARY
    precision: int | None = None  # DECIMAL, TIME, TIMESTAMP, TIMESTAMP_LTZ
    scale: int | None = None  # DECIMAL
    element: FlinkType | None = None  # ARRAY, MULTISET
    key: FlinkType | None = None  # MAP
    value: FlinkType | None = None  # MAP
    fields: tuple[RowField, ...] = ()  # ROW

    def sql(self) -> str:
        """Canonical Flink SQL text of the type, with ` NOT NULL` when not nullable."""
        text = self._base_sql()
        return text if self.nullable else text + " NOT NULL"

    def _base_sql(self) -> str:  # noqa: PLR0911
        root = self.root
        if root in ("CHAR", "VARCHAR", "BINARY", "VARBINARY"):
            return f"{root}({self.length})"
        if root == "DECIMAL":
            return f"DECIMAL({self.precision}, {self.scale})"
        if root in ("TIME", "TIMESTAMP", "TIMESTAMP_LTZ"):
            return f"{root}({self.precision})"
        if root == "INTERVAL_YEAR_MONTH":
            return "INTERVAL YEAR TO MONTH"
        if root == "INTERVAL_DAY_TIME":
            return f"INTERVAL DAY TO SECOND({3 if self.precision is None else self.precision})"
        if root in ("ARRAY", "MULTISET"):
            assert self.element is not None
            return f"{root}<{self.element.sql()}>"
        if root == "MAP":
            assert self.key is not None and self.value is not None
            return f"MAP<{self.key.sql()}, {self.value.sql()}>"
        if root == "ROW":
            parts = []
            for f in self.fields:
                part = f"{quote_identifier(f.name)} {f.type.sql()}"
                if f.description is not None:
                    part += " " + quote_string(f.description)
                parts.append(part)
            return "ROW<" + ", ".join(parts) + ">"
        return root

    def with_nullable(self, nullable: bool) -> FlinkType:
        """The same type with the given nullability."""
        return self if self.nullable == nullable else self.model_copy(update={"nullable": nullable})

    def __str__(self) -> str:
        return self.sql()


RowField.model_rebuild()
FlinkType.model_rebuild()


# ---------------------------------------------------------------- constructors


def simple(root: TypeRoot, nullable: bool = True) -> FlinkType:
    """A type without parameters (STRING, INT, BOOLEAN, DATE, ...)."""
    return FlinkType(root=root, nullable=nullable)


def decimal(precision: int, scale: int, nullable: bool = True) -> FlinkType:
    return FlinkType(root="DECIMAL", precision=precision, scale=scale, nullable=nullable)


def timestamp(precision: int = 6, nullable: bool = True) -> FlinkType:
    return FlinkType(root="TIMESTAMP", precision=precision, nullable=nullable)


def timestamp_ltz(precision: int = 6, nullable: bool = True) -> FlinkType:
    return FlinkType(root="TIMESTAMP_LTZ", precision=precision, nullable=nullable)


def varchar(length: int, nullable: bool = True) -> FlinkType:
    if length >= MAX_LENGTH:
        return FlinkType(root="STRING", nullable=nullable)
    return FlinkType(root="VARCHAR", length=length, nullable=nullable)


def char(length: int, nullable: bool = True) -> FlinkType:
    return FlinkType(root="CHAR", length=length, nullable=nullable)


STRING = simple("STRING")
BOOLEAN = simple("BOOLEAN")
TINYINT = simple("TINYINT")
SMALLINT = simple("SMALLINT")
INT = simple("INT")
BIGINT = simple("BIGINT")
FLOAT = simple("FLOAT")
DOUBLE = simple("DOUBLE")
DATE = simple("DATE")
BYTES = simple("BYTES")
NULL = simple("NULL")

# request-format.md §2. A payload field reads as TRY_CAST(JSON_VALUE(...)), so every mapped type
# is nullable, the primitive Java types included (Flink would make `long` BIGINT NOT NULL).
JAVA_TO_FLINK: dict[str, FlinkType] = {
    "String": STRING,
    "Long": BIGINT,
    "long": BIGINT,
    "Boolean": BOOLEAN,
    "boolean": BOOLEAN,
    "Float": FLOAT,
    "float": FLOAT,
    "Byte": TINYINT,
    "byte": TINYINT,
    "Double": DOUBLE,
    "double": DOUBLE,
    "Short": SMALLINT,
    "short": SMALLINT,
    "BigDecimal": decimal(38, 18),
    "Integer": INT,
    "int": INT,
}


# ---------------------------------------------------------------- families

_FAMILY: dict[str, str] = {
    "STRING": "character",
    "VARCHAR": "character",
    "CHAR": "character",
    "BYTES": "binary",
    "BINARY": "binary",
    "VARBINARY": "binary",
    "TINYINT": "exact_numeric",
    "SMALLINT": "exact_numeric",
    "INT": "exact_numeric",
    "BIGINT": "exact_numeric",
    "DECIMAL": "exact_numeric",
    "FLOAT": "approx_numeric",
    "DOUBLE": "approx_numeric",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIME": "time",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP_LTZ": "timestamp",
    "INTERVAL_YEAR_MONTH": "interval",
    "INTERVAL_DAY_TIME": "interval",
    "ARRAY": "collection",
    "MAP": "collection",
    "MULTISET": "collection",
    "ROW": "row",
    "NULL": "null",
}


def family(t: FlinkType) -> str:
    """One of character, binary, exact_numeric, approx_numeric, boolean, date, time, timestamp,
    interval, collection, row, null."""
    return _FAMILY[t.root]


def is_numeric(t: FlinkType) -> bool:
    return family(t) in ("exact_numeric", "approx_numeric")


def is_character(t: FlinkType) -> bool:
    return family(t) == "character"


def char_length(t: FlinkType) -> int:
    """Length of a character or binary type (STRING and BYTES: the maximum)."""
    return MAX_LENGTH if t.root in ("STRING", "BYTES") else (t.length or 0)


def same_type(a: FlinkType, b: FlinkType) -> bool:
    """Equal types, ignoring the top-level nullability."""
    return a.with_nullable(True) == b.with_nullable(True)


def as_decimal(t: FlinkType) -> FlinkType | None:
    """The DECIMAL that holds every value of an exact numeric type."""
    if t.root == "DECIMAL":
        return t
    if t.root in INTEGER_DIGITS:
        return decimal(INTEGER_DIGITS[t.root], 0, t.nullable)
    return None


# ---------------------------------------------------------------- casts

# Flink 2.x cast matrix (docs: Data Types > Casting). Y and "!" (may fail at run time) both
# count as castable; N is not. Every type casts to a character string. Numeric <-> TIMESTAMP
# and numeric <-> TIMESTAMP_LTZ are N (use TO_TIMESTAMP_LTZ). BOOLEAN <-> numeric is Y.
# INT -> INTERVAL YEAR TO MONTH and BIGINT -> INTERVAL DAY TO SECOND are Y (and back).
_NUMERIC_ROOTS = frozenset({"TINYINT", "SMALLINT", "INT", "BIGINT", "DECIMAL", "FLOAT", "DOUBLE"})
_TEMPORAL_TARGETS: dict[str, frozenset[str]] = {
    "DATE": frozenset({"DATE", "TIMESTAMP", "TIMESTAMP_LTZ"}),
    "TIME": frozenset({"TIME", "TIMESTAMP", "TIMESTAMP_LTZ"}),
    "TIMESTAMP": frozenset({"DATE", "TIME", "TIMESTAMP", "TIMESTAMP_LTZ"}),
    "TIMESTAMP_LTZ": frozenset({"DATE", "TIME", "TIMESTAMP", "TIMESTAMP_LTZ"}),
}


def can_cast(src: FlinkType, dst: FlinkType) -> bool:  # noqa: PLR0911
    """True when `CAST(<src> AS <dst>)` passes Flink's planner (it may still fail at run time)."""
    s, d = src.root, dst.root
    sf, df = family(src), family(dst)
    if s == "NULL":
        return True
    if df == "character":
        return True
    if sf == "character":
        return df not in ("interval", "collection", "row", "null")
    if df == "binary":
        return sf == "binary"
    if sf == "binary":
        return False
    if s in _NUMERIC_ROOTS or s == "BOOLEAN":
        if d in _NUMERIC_ROOTS or d == "BOOLEAN":
            return True
        return (s, d) in (("INT", "INTERVAL_YEAR_MONTH"), ("BIGINT", "INTERVAL_DAY_TIME"))
    if s in _TEMPORAL_TARGETS:
        return d in _TEMPORAL_TARGETS[s]
    if sf == "interval":
        return s == d or (s, d) in (("INTERVAL_YEAR_MONTH", "INT"), ("INTERVAL_DAY_TIME", "BIGINT"))
    return _can_cast_constructed(src, dst)


def _can_cast_constructed(src: FlinkType, dst: FlinkType) -> bool:
    if src.root != dst.root:
        return False
    if src.root in ("ARRAY", "MULTISET"):
        assert src.element is not None and dst.element is not None
        return can_cast(src.element, dst.element)
    if src.root == "MAP":
        assert src.key and src.value and dst.key and dst.value
        return can_cast(src.key, dst.key) and can_cast(src.value, dst.value)
    if src.root == "ROW":
        return len(src.fields) == len(dst.fields) and all(
            can_cast(a.type, b.type) for a, b in zip(src.fields, dst.fields, strict=True)
        )
    return False


_INT_RANK = {"TINYINT": 1, "SMALLINT": 2, "INT": 3, "BIGINT": 4}


def insert_assignable(src: FlinkType, dst: FlinkType) -> bool:  # noqa: PLR0911
    """True when INSERT takes a `src` value into a `dst` column without an explicit CAST.

    Conservative on purpose: only value-preserving widening is accepted (a redundant CAST is
    harmless, a missing one fails the planner or changes values). Flink itself accepts some
    narrowing implicit casts (it compares type roots only), which are answered False here.
    Nullability is ignored: NULL into a NOT NULL column is handled by the sink's not-null
    enforcer (request-format.md §5).
    """
    if src.root == "NULL" or same_type(src, dst):
        return True
    s, d = src.root, dst.root
    if s in _INT_RANK and d in _INT_RANK:
        return _INT_RANK[s] <= _INT_RANK[d]
    if d == "DECIMAL" and s in INTEGER_DIGITS | {"DECIMAL": 0}:
        sd = as_decimal(src)
        assert sd is not None and sd.precision is not None and sd.scale is not None
        assert dst.precision is not None and dst.scale is not None
        return dst.scale >= sd.scale and dst.precision - dst.scale >= sd.precision - sd.scale
    if d == "DOUBLE":
        return s in _NUMERIC_ROOTS
    if d == "FLOAT":
        return s in _INT_RANK
    if family(src) == "character" and d in ("VARCHAR", "STRING"):
        return char_length(src) <= char_length(dst)
    if family(src) == "binary" and d in ("VARBINARY", "BYTES"):
        return char_length(src) <= char_length(dst)
    if s == d and s in ("TIME", "TIMESTAMP", "TIMESTAMP_LTZ"):
        assert src.precision is not None and dst.precision is not None
        return src.precision <= dst.precision
    return False


def join_key_compatible(a: FlinkType, b: FlinkType) -> bool:
    """Join keys: both character strings, both numeric, or equal types (format §4)."""
    if is_character(a) and is_character(b):
        return True
    if is_numeric(a) and is_numeric(b):
        return True
    return same_type(a, b)


# ---------------------------------------------------------------- merging


def adjust_decimal(precision: int, scale: int, nullable: bool = True) -> FlinkType:
    """Flink's precision/scale adjustment when a DECIMAL result exceeds 38 digits."""
    if precision <= MAX_DECIMAL_PRECISION:
        return decimal(max(precision, 1), scale, nullable)
    int_digits = precision - scale
    min_scale = min(scale, 6)
    scale = max(MAX_DECIMAL_PRECISION - int_digits, min_scale)
    return decimal(MAX_DECIMAL_PRECISION, scale, nullable)


def _merge_numeric(types: list[FlinkType], nullable: bool) -> FlinkType:
    roots = {t.root for t in types}
    if "DOUBLE" in roots or ("FLOAT" in roots and "DECIMAL" in roots):
        return simple("DOUBLE", nullable)
    if "FLOAT" in roots:
        return simple("FLOAT", nullable)
    if "DECIMAL" in roots:
        decs = [as_decimal(t) for t in types]
        scale = max(d.scale or 0 for d in decs if d)
        digits = max((d.precision or 0) - (d.scale or 0) for d in decs if d)
        return adjust_decimal(digits + scale, scale, nullable)
    best = max(types, key=lambda t: _INT_RANK[t.root])
    return simple(best.root, nullable)


def common_type(types: list[FlinkType]) -> FlinkType | None:  # noqa: PLR0911
    """The least restrictive type of `types` (COALESCE, CASE, IN); None when incompatible."""
    if not types:
        return None
    nullable = any(t.nullable or t.root == "NULL" for t in types)
    real = [t for t in types if t.root != "NULL"]
    if not real:
        return NULL
    families = {family(t) for t in real}
    if families <= {"exact_numeric", "approx_numeric"}:
        return _merge_numeric(real, nullable)
    if len(families) != 1:
        if families == {"date", "timestamp"}:
            families = {"timestamp"}
            real = [t if t.root != "DATE" else timestamp(0) for t in real]
        else:
            return None
    fam = families.pop()
    if fam in ("character", "binary"):
        roots = {t.root for t in real}
        length = max(char_length(t) for t in real)
        fixed = "CHAR" if fam == "character" else "BINARY"
        if roots == {fixed} and len({t.length for t in real}) == 1:
            return real[0].with_nullable(nullable)
        # Flink converts ragged CHAR unions to VARCHAR (shouldConvertRaggedUnionTypesToVarying).
        if fam == "character":
            return varchar(length, nullable)
        if length >= MAX_LENGTH:
            return simple("BYTES", nullable)
        return FlinkType(root="VARBINARY", length=length, nullable=nullable)
    if fam in ("time", "timestamp"):
        root = "TIMESTAMP_LTZ" if any(t.root == "TIMESTAMP_LTZ" for t in real) else real[0].root
        precision = max(t.precision or 0 for t in real)
        return FlinkType(root=root, precision=precision, nullable=nullable)
    first = real[0]
    if all(same_type(first, t) for t in real):
        return first.with_nullable(nullable)
    return None


# ---------------------------------------------------------------- parsing


def parse_type(text: str) -> FlinkType:
    """Parse Flink type text such as `DECIMAL(12, 2) NOT NULL` or `ARRAY<ROW<a INT>>`."""
    try:
        tokens = significant(tokenize(text))
    except LexError as exc:
        raise TypeSyntaxError(exc.message, exc.offset) from exc
    result, i = read_type(tokens, 0, allow_nullability=True, text_end=len(text))
    if i < len(tokens):
        raise TypeSyntaxError(
            f"unexpected text after type: {text[tokens[i].start :][:20]!r}", tokens[i].start
        )
    return result


def read_type(
    tokens: Sequence[Token], i: int, *, allow_nullability: bool, text_end: int = 0
) -> tuple[FlinkType, int]:
    """Read one type from the kernel lexer's significant `tokens`, starting at index `i`;
    return it and the index just after it.

    With `allow_nullability=False` a trailing `NOT NULL` / `NULL` is left unread (a DDL column
    constraint); nested types always read their own nullability.
    """
    parser = _TypeParser(tokens, i, text_end)
    return parser.parse_type(allow_nullability=allow_nullability), parser.i


_INTERVAL_UNITS = ("YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND")
_MAX_TYPE_DEPTH = 32
_SIMPLE_WORDS: dict[str, TypeRoot] = {
    "STRING": "STRING",
    "BYTES": "BYTES",
    "BOOLEAN": "BOOLEAN",
    "TINYINT": "TINYINT",
    "SMALLINT": "SMALLINT",
    "INT": "INT",
    "INTEGER": "INT",
    "BIGINT": "BIGINT",
    "FLOAT": "FLOAT",
    "REAL": "FLOAT",
    "DATE": "DATE",
    "NULL": "NULL",
}


class _TypeParser:
    """Recursive descent over the kernel lexer's tokens (no lexing of its own)."""

    def __init__(self, tokens: Sequence[Token], i: int, text_end: int) -> None:
        self.tokens = tokens
        self.i = i
        self.depth = 0
        self.text_end = tokens[-1].end if tokens else text_end

    # -- tokens
    @property
    def offset(self) -> int:
        return self.tokens[self.i].start if self.i < len(self.tokens) else self.text_end

    def found(self) -> str:
        return repr(self.tokens[self.i].text) if self.i < len(self.tokens) else "end of text"

    def peek_word(self, ahead: int = 0) -> str:
        k = self.i + ahead
        return self.tokens[k].upper if k < len(self.tokens) else ""

    def accept_word(self, *words: str) -> bool:
        if all(self.peek_word(k) == w for k, w in enumerate(words)):
            self.i += len(words)
            return True
        return False

    def accept(self, symbol: str) -> bool:
        if self.i < len(self.tokens) and self.tokens[self.i].is_symbol(symbol):
            self.i += 1
            return True
        return False

    def expect(self, symbol: str) -> None:
        if not self.accept(symbol):
            raise TypeSyntaxError(f"expected {symbol!r} in type, found {self.found()}", self.offset)

    def number(self) -> int:
        tok = self.tokens[self.i] if self.i < len(self.tokens) else None
        if tok is None or tok.kind is not TokenKind.NUMBER or not tok.text.isdigit():
            raise TypeSyntaxError("expected a number in type parameters", self.offset)
        if len(tok.text) > 10:
            raise TypeSyntaxError(f"type parameter {tok.text[:12]} is out of range", tok.start)
        self.i += 1
        return int(tok.text)

    def optional_params(self, count: int) -> list[int]:
        if not self.accept("("):
            return []
        values = [self.number()]
        while len(values) < count and self.accept(","):
            values.append(self.number())
        self.expect(")")
        return values

    # -- grammar
    def parse_type(self, *, allow_nullability: bool) -> FlinkType:
        self.depth += 1
        if self.depth > _MAX_TYPE_DEPTH:
            raise TypeSyntaxError("type is nested too deeply", self.offset)
        result = self.base()
        while True:
            if allow_nullability:
                result = self.nullability(result)
            word = self.peek_word()
            nxt = self.tokens[self.i + 1] if self.i + 1 < len(self.tokens) else None
            if word in ("ARRAY", "MULTISET") and not (nxt is not None and nxt.is_symbol("<", "<>")):
                self.i += 1
                result = FlinkType(root="ARRAY" if word == "ARRAY" else "MULTISET", element=result)
                continue
            break
        self.depth -= 1
        return result

    def nullability(self, t: FlinkType) -> FlinkType:
        if self.accept_word("NOT", "NULL"):
            return t.with_nullable(False)
        if self.accept_word("NULL"):
            return t.with_nullable(True)
        return t

    def base(self) -> FlinkType:  # noqa: PLR0911, C901 - one branch per type family
        start = self.offset
        word = self.peek_word()
        if not word:
            raise TypeSyntaxError(f"expected a type name, found {self.found()}", start)
        self.i += 1
        if word in ("CHAR", "CHARACTER", "VARCHAR", "BINARY", "VARBINARY"):
            return self.sized(word, start)
        if word in _SIMPLE_WORDS:
            return simple(_SIMPLE_WORDS[word])
        if word == "DOUBLE":
            self.accept_word("PRECISION")
            return DOUBLE
        if word in ("DECIMAL", "DEC", "NUMERIC"):
            params = self.optional_params(2)
            precision = params[0] if params else 10
            scale = params[1] if len(params) > 1 else 0
            if not 1 <= precision <= MAX_DECIMAL_PRECISION:
                raise TypeSyntaxError("DECIMAL precision must be between 1 and 38", start)
            if not 0 <= scale <= precision:
                raise TypeSyntaxError(
                    f"DECIMAL scale must be between 0 and the precision ({precision})", start
                )
            return decimal(precision, scale)
        if word in ("TIME", "TIMESTAMP", "TIMESTAMP_LTZ"):
            return self.temporal(word, start)
        if word == "INTERVAL":
            return self.interval(start)
        if word in ("ARRAY", "MULTISET"):
            self.expect("<")
            element = self.parse_type(allow_nullability=True)
            self.expect(">")
            return FlinkType(root="ARRAY" if word == "ARRAY" else "MULTISET", element=element)
        if word == "MAP":
            self.expect("<")
            key = self.parse_type(allow_nullability=True)
            self.expect(",")
            value = self.parse_type(allow_nullability=True)
            self.expect(">")
            return FlinkType(root="MAP", key=key, value=value)
        if word == "ROW":
            return self.row()
        raise TypeSyntaxError(f"unknown type {word}", start)

    def sized(self, word: str, start: int) -> FlinkType:
        root = {"CHARACTER": "CHAR"}.get(word, word)
        if root in ("CHAR", "BINARY") and self.accept_word("VARYING"):
            root = "VAR" + root
        params = self.optional_params(1)
        length = params[0] if params else 1
        if not 1 <= length <= MAX_LENGTH:
            raise TypeSyntaxError(f"{root} length must be between 1 and {MAX_LENGTH}", start)
        if length == MAX_LENGTH and root in ("VARCHAR", "VARBINARY"):
            return simple("STRING" if root == "VARCHAR" else "BYTES")
        return FlinkType(root=root, length=length)

    def temporal(self, word: str, start: int) -> FlinkType:
        params = self.optional_params(1)
        default = 0 if word == "TIME" else 6
        precision = params[0] if params else default
        if not 0 <= precision <= MAX_TIME_PRECISION:
            raise TypeSyntaxError(f"{word} precision must be between 0 and 9", start)
        root: TypeRoot = (
            "TIME" if word == "TIME" else ("TIMESTAMP_LTZ" if word == "TIMESTAMP_LTZ" else "TIMESTAMP")
        )
        if word != "TIMESTAMP_LTZ":
            if self.accept_word("WITHOUT", "TIME", "ZONE"):
                pass
            elif word == "TIMESTAMP" and self.accept_word("WITH", "LOCAL", "TIME", "ZONE"):
                root = "TIMESTAMP_LTZ"
            elif self.accept_word("WITH", "TIME", "ZONE"):
                raise TypeSyntaxError(f"{word} WITH TIME ZONE is not supported by Flink", start)
        return FlinkType(root=root, precision=precision)

    def interval(self, start: int) -> FlinkType:
        unit = self.peek_word()
        if unit not in _INTERVAL_UNITS:
            raise TypeSyntaxError("expected an interval unit (YEAR ... SECOND)", self.offset)
        self.i += 1
        self.optional_params(2)
        units = [unit]
        if self.accept_word("TO"):
            end_unit = self.peek_word()
            if end_unit not in _INTERVAL_UNITS or _INTERVAL_UNITS.index(end_unit) <= _INTERVAL_UNITS.index(
                unit
            ):
                raise TypeSyntaxError("invalid interval range", self.offset)
            self.i += 1
            self.optional_params(1)
            units.append(end_unit)
        if all(u in ("YEAR", "MONTH") for u in units):
            return simple("INTERVAL_YEAR_MONTH")
        if any(u in ("YEAR", "MONTH") for u in units):
            raise TypeSyntaxError("invalid interval range", start)
        return FlinkType(root="INTERVAL_DAY_TIME", precision=3)

    def row(self) -> FlinkType:
        if self.accept("<>"):  # the lexer reads an empty `<>` as one operator
            return FlinkType(root="ROW", fields=())
        if self.accept("<"):
            close = ">"
        elif self.accept("("):
            close = ")"
        else:
            raise TypeSyntaxError("expected '<' or '(' after ROW", self.offset)
        fields: list[RowField] = []
        if self.accept(close):
            return FlinkType(root="ROW", fields=())
        while True:
            name = self.field_name()
            ftype = self.parse_type(allow_nullability=True)
            description = self.string_literal()
            fields.append(RowField(name=name, type=ftype, description=description))
            if self.accept(close):
                break
            self.expect(",")
        names = [f.name.lower() for f in fields]
        if len(set(names)) != len(names):
            raise TypeSyntaxError("duplicate ROW field name", self.offset)
        return FlinkType(root="ROW", fields=tuple(fields))

    def field_name(self) -> str:
        tok = self.tokens[self.i] if self.i < len(self.tokens) else None
        if tok is not None and tok.kind is TokenKind.IDENT and tok.text.startswith("`"):
            if not tok.terminated:
                raise TypeSyntaxError("unterminated quoted identifier in ROW", tok.start)
            self.i += 1
            return tok.value
        if tok is None or tok.kind is not TokenKind.WORD:
            raise TypeSyntaxError("expected a ROW field name", self.offset)
        self.i += 1
        return tok.text

    def string_literal(self) -> str | None:
        tok = self.tokens[self.i] if self.i < len(self.tokens) else None
        if tok is None or tok.kind is not TokenKind.STRING:
            return None
        if not tok.terminated:
            raise TypeSyntaxError("unterminated string in ROW field description", tok.start)
        self.i += 1
        return tok.value
