"""The one `CREATE TABLE` reader of the code base, in two modes over the kernel's lexer.

Grammar: `CREATE [TEMPORARY] TABLE [IF NOT EXISTS] [cat.][db.]name (elements) [COMMENT '...']
[PARTITIONED BY (cols)] [WITH ('k' = 'v', ...)] [;]`, case-insensitive keywords, comments
anywhere.

- **strict** (ingest: what a request document may declare). Physical columns only. Rejected
  with a message, a 1-based line and the offending name: other statements, more than one
  statement, computed / METADATA columns, WATERMARK, LIKE, DISTRIBUTED BY, AS SELECT,
  UNIQUE / FOREIGN / CHECK constraints, duplicate columns (case-insensitive) or option keys,
  a primary key without NOT ENFORCED or naming an unknown column, a type the type system does
  not know, and any name outside `^[A-Za-z_][A-Za-z0-9_]{0,127}$` (even backquoted: names are
  never spliced raw into SQL or paths).
- **lenient** (validator: any job a person or a model wrote). Computed and METADATA columns,
  WATERMARK and other table constraints, LIKE / DISTRIBUTED BY / AS tails are read or skipped,
  unknown types are kept as text; only a shape it cannot read at all raises `DdlError`. The
  result keeps the WITH clause's span, so `rewrite_options` swaps the options and keeps every
  other character (and line) where it was.

Primary-key columns are NOT NULL, as Flink makes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from services.flinksql.lexer import LexError, Positions, Token, TokenKind, significant, tokenize
from services.flinksql.quoting import NAME_RE, quote_string
from services.flinksql.sqltypes import FlinkType, TypeSyntaxError, parse_type, read_type


class DdlError(ValueError):
    """A DDL fault: `line` is 1-based within the read text; `name` is the offending name."""

    def __init__(self, message: str, line: int, name: str | None = None) -> None:
        super().__init__(f"line {line}: {message}")
        self.message = message
        self.line = line
        self.name = name


@dataclass(frozen=True, slots=True)
class Option:
    key: str
    value: str
    line: int = 1


@dataclass(frozen=True, slots=True)
class ColumnDef:
    name: str
    type_text: str  # as written, without NOT NULL; empty for a computed column
    type: FlinkType | None  # None when computed or (lenient) a type the type system does not know
    not_null: bool = False
    comment: str | None = None
    computed: str | None = None  # expression text of `name AS expr`
    metadata: bool = False
    line: int = 1

    @property
    def physical(self) -> bool:
        return self.computed is None and not self.metadata


@dataclass(frozen=True, slots=True)
class CreateTable:
    name_parts: tuple[str, ...]
    columns: tuple[ColumnDef, ...]
    primary_key: tuple[str, ...] = ()
    options: tuple[Option, ...] = ()
    with_span: tuple[int, int] | None = None  # offsets of WITH .. its closing ')' in the text
    comment: str | None = None
    if_not_exists: bool = False
    temporary: bool = False
    partitioned_by: tuple[str, ...] = ()
    extras: tuple[str, ...] = field(default=())  # WATERMARK / other constraints, as text (lenient)

    @property
    def name(self) -> str:
        return self.name_parts[-1]

    @property
    def option_map(self) -> dict[str, str]:
        return {o.key: o.value for o in self.options}

    def column(self, name: str) -> ColumnDef | None:
        """The column of that name: exactly, else case-insensitively; None when absent."""
        exact = next((c for c in self.columns if c.name == name), None)
        if exact is not None:
            return exact
        low = name.lower()
        return next((c for c in self.columns if c.name.lower() == low), None)


_EOF = Token(TokenKind.SYMBOL, "", "", -1, -1, 0, 0)
_COLUMN_STOP = frozenset({"NOT", "NULL", "COMMENT", "METADATA", "PRIMARY", "CONSTRAINT", "VIRTUAL"})


class _Reader:
    def __init__(self, text: str, *, strict: bool) -> None:
        self.text = text
        self.strict = strict
        try:
            self.tokens = significant(tokenize(text, strict=strict))
        except LexError as exc:
            raise DdlError(exc.message, exc.line) from exc
        self.i = 0
        self.table_name: str | None = None
        last_line = self.tokens[-1].line if self.tokens else 1
        self.eof = replace(_EOF, start=len(text), end=len(text), line=last_line)

    # -- tokens
    @property
    def tok(self) -> Token:
        return self.tokens[self.i] if self.i < len(self.tokens) else self.eof

    def peek(self, ahead: int = 1) -> Token:
        k = self.i + ahead
        return self.tokens[k] if k < len(self.tokens) else self.eof

    def advance(self) -> Token:
        tok = self.tok
        self.i += 1
        return tok

    def at_eof(self) -> bool:
        return self.i >= len(self.tokens)

    def fail(self, message: str, tok: Token, name: str | None = None) -> DdlError:
        return DdlError(message, tok.line, name if name is not None else self.table_name)

    @staticmethod
    def describe(tok: Token) -> str:
        if tok.text == "":
            return "end of text"
        if tok.kind is TokenKind.STRING:
            return "a string literal"
        return repr(tok.value)

    def accept_word(self, *words: str) -> bool:
        if all(self.peek(k).upper == w for k, w in enumerate(words)):
            self.i += len(words)
            return True
        return False

    def expect_word(self, *words: str) -> None:
        for word in words:
            tok = self.advance()
            if tok.upper != word:
                raise self.fail(f"expected {word}, found {self.describe(tok)}", tok)

    def accept_symbol(self, symbol: str) -> bool:
        if self.tok.is_symbol(symbol):
            self.i += 1
            return True
        return False

    def expect_symbol(self, symbol: str) -> Token:
        tok = self.advance()
        if not tok.is_symbol(symbol):
            raise self.fail(f"expected '{symbol}', found {self.describe(tok)}", tok)
        return tok

    def identifier(self, what: str) -> tuple[str, Token]:
        tok = self.advance()
        if not tok.is_name:
            raise self.fail(f"expected {what}, found {self.describe(tok)}", tok)
        if self.strict and not NAME_RE.fullmatch(tok.value):
            raise self.fail(
                f"invalid {what} {tok.value!r}: names must match ^[A-Za-z_][A-Za-z0-9_]{{0,127}}$",
                tok,
                tok.value,
            )
        return tok.value, tok

    def closing(self, open_at: int) -> int:
        """Index of the `)` closing the `(` at token index `open_at` (the end when unbalanced)."""
        depth = 0
        for j in range(open_at, len(self.tokens)):
            tok = self.tokens[j]
            if tok.is_symbol("("):
                depth += 1
            elif tok.is_symbol(")"):
                depth -= 1
                if depth == 0:
                    return j
        if self.strict:
            raise self.fail("unbalanced parentheses: missing ')'", self.eof)
        return len(self.tokens)

    def name_list(self, what: str) -> list[tuple[str, Token]]:
        self.expect_symbol("(")
        names = [self.identifier(what)]
        while self.accept_symbol(","):
            names.append(self.identifier(what))
        self.expect_symbol(")")
        return names

    # -- grammar
    def read(self) -> CreateTable:
        first = self.advance()
        if first.upper != "CREATE":
            raise self.fail(f"not a CREATE TABLE statement (starts with {self.describe(first)})", first)
        temporary = self.accept_word("TEMPORARY")
        if not self.strict:
            while self.tok.upper in ("TEMPORARY", "OR", "REPLACE"):
                temporary = temporary or self.advance().upper == "TEMPORARY"
        tok = self.advance()
        if tok.upper != "TABLE":
            raise self.fail(f"not a CREATE TABLE statement (CREATE {self.describe(tok)})", tok)
        if_not_exists = self.accept_word("IF", "NOT", "EXISTS")
        parts = [self.identifier("table name")[0]]
        while self.accept_symbol("."):
            parts.append(self.identifier("table name part")[0])
        self.table_name = parts[-1]
        if self.strict and len(parts) > 3:
            raise self.fail("a table name has at most 3 parts (catalog.database.table)", tok)
        if self.strict and self.tok.upper in ("AS", "LIKE"):
            raise self.fail(
                f"CREATE TABLE ... {self.tok.upper} is not supported: declare the columns", self.tok
            )
        columns: list[ColumnDef] = []
        primary_key: list[tuple[str, Token]] | None = None
        extras: list[str] = []
        if self.strict or self.tok.is_symbol("("):
            self.expect_symbol("(")
            columns, primary_key, extras = self.body()
        comment, partitioned, options, with_span = self.tail()
        self.end()
        return self.build(
            parts=parts,
            columns=columns,
            primary_key=primary_key or [],
            options=options,
            with_span=with_span,
            comment=comment,
            partitioned=partitioned,
            if_not_exists=if_not_exists,
            temporary=temporary,
            extras=extras,
        )

    def body(self) -> tuple[list[ColumnDef], list[tuple[str, Token]] | None, list[str]]:  # noqa: C901, PLR0912
        columns: list[ColumnDef] = []
        primary_key: list[tuple[str, Token]] | None = None
        extras: list[str] = []
        if self.tok.is_symbol(")"):
            if self.strict:
                raise self.fail("a table needs at least one column", self.tok)
            self.advance()
            return columns, primary_key, extras
        while True:
            tok = self.tok
            kw = tok.upper
            if kw in ("PRIMARY", "CONSTRAINT"):
                if primary_key is not None:
                    raise self.fail("more than one PRIMARY KEY", tok)
                if self.accept_word("CONSTRAINT"):
                    self.identifier("constraint name")
                self.expect_word("PRIMARY", "KEY")
                primary_key = self.name_list("primary key column")
                self.not_enforced()
            elif kw in ("WATERMARK", "PERIOD"):
                if self.strict:
                    raise self.fail("WATERMARK is not supported: physical columns only", tok)
                extras.append(self.skip_element())
            elif kw in ("UNIQUE", "FOREIGN", "CHECK"):
                if self.strict:
                    raise self.fail(f"{kw} constraints are not supported by Flink", tok)
                extras.append(self.skip_element())
            else:
                column, pk = self.column()
                if pk:
                    if primary_key is not None:
                        raise self.fail("more than one PRIMARY KEY", tok, column.name)
                    primary_key = [(column.name, tok)]
                columns.append(column)
            if self.accept_symbol(")"):
                return columns, primary_key, extras
            self.expect_symbol(",")

    def skip_element(self) -> str:
        """The text of one column-list element, up to the top-level `,` or `)` (lenient)."""
        first = self.tok
        last = first
        depth = 0
        while not self.at_eof():
            tok = self.tok
            if depth == 0 and tok.is_symbol(",", ")"):
                break
            depth += 1 if tok.is_symbol("(") else -1 if tok.is_symbol(")") else 0
            last = self.advance()
        return self.text[first.start : last.end]

    def not_enforced(self) -> None:
        tok = self.tok
        if not self.accept_word("NOT", "ENFORCED") and self.strict:
            raise self.fail("PRIMARY KEY must be declared NOT ENFORCED (Flink does not enforce keys)", tok)

    def column(self) -> tuple[ColumnDef, bool]:  # noqa: C901, PLR0912 - one branch per column clause
        name, name_tok = self.identifier("column name")
        if self.tok.upper == "AS":
            if self.strict:
                raise self.fail(
                    f"computed column {name!r} is not supported: physical columns only", self.tok, name
                )
            return self.computed_column(name, name_tok), False
        type_text, ftype = self.column_type(name)
        not_null = primary = metadata = False
        comment: str | None = None
        while True:
            tok = self.tok
            kw = tok.upper
            if kw == "NOT" and self.accept_word("NOT", "NULL"):
                not_null = True
            elif kw == "NULL":
                self.advance()
            elif kw in ("PRIMARY", "CONSTRAINT"):
                if self.accept_word("CONSTRAINT"):
                    self.identifier("constraint name")
                self.expect_word("PRIMARY", "KEY")
                self.not_enforced()
                primary = True
            elif kw == "COMMENT":
                self.advance()
                comment = self.string("column comment")
            elif kw in ("METADATA", "VIRTUAL"):
                if self.strict:
                    raise self.fail(
                        f"METADATA column {name!r} is not supported: physical columns only", tok, name
                    )
                metadata = True
                self.advance()
                if self.accept_word("FROM"):
                    self.advance()
            elif tok.is_symbol(",", ")") or (not self.strict and self.at_eof()):
                break
            else:
                raise self.fail(f"unexpected {self.describe(tok)} in column {name!r}", tok, name)
        if primary:
            not_null = True
        if ftype is not None:
            ftype = ftype.with_nullable(not not_null)
        column = ColumnDef(
            name=name,
            type_text=type_text,
            type=ftype,
            not_null=not_null,
            comment=comment,
            metadata=metadata,
            line=name_tok.line,
        )
        return column, primary

    def computed_column(self, name: str, name_tok: Token) -> ColumnDef:
        """`name AS expr [COMMENT '...']` (lenient only)."""
        self.advance()
        first = self.tok
        last: Token | None = None
        depth = 0
        while not self.at_eof():
            tok = self.tok
            if depth == 0 and (tok.is_symbol(",", ")") or tok.upper == "COMMENT"):
                break
            depth += 1 if tok.is_symbol("(") else -1 if tok.is_symbol(")") else 0
            last = self.advance()
        expr = self.text[first.start : last.end] if last is not None else ""
        comment = None
        if self.accept_word("COMMENT"):
            comment = self.string("column comment")
        return ColumnDef(
            name=name, type_text="", type=None, computed=expr, comment=comment, line=name_tok.line
        )

    def column_type(self, name: str) -> tuple[str, FlinkType | None]:
        """The column's type text and type; the type system reads it from the token's offset."""
        start_tok = self.tok
        if self.at_eof():
            raise self.fail(f"column {name!r} has no type", start_tok, name)
        try:
            ftype, j = read_type(self.tokens, self.i, allow_nullability=False, text_end=len(self.text))
        except TypeSyntaxError as exc:
            if self.strict:
                line = Positions(self.text).line_column(exc.offset)[0]
                raise DdlError(f"column {name!r}: {exc.message}", line, name) from exc
            return self.type_by_tokens(name), None
        self.i = j
        return self.text[start_tok.start : self.tokens[j - 1].end], ftype

    def type_by_tokens(self, name: str) -> str:
        """Lenient: the type text up to a column keyword or the element's end, unparsed."""
        first = self.tok
        last: Token | None = None
        depth = 0
        while not self.at_eof():
            tok = self.tok
            if tok.is_symbol("(", "<"):
                depth += 1
            elif tok.is_symbol(")", ">"):
                if depth == 0:
                    break
                depth -= 1
            elif depth == 0 and (tok.upper in _COLUMN_STOP or tok.is_symbol(",")):
                break
            last = self.advance()
        if last is None:
            raise self.fail(f"column {name!r} has no type", first, name)
        return self.text[first.start : last.end]

    def string(self, what: str) -> str:
        tok = self.advance()
        if tok.kind is not TokenKind.STRING:
            raise self.fail(f"expected {what} as a quoted string, found {self.describe(tok)}", tok)
        return tok.value

    def tail(
        self,
    ) -> tuple[str | None, list[tuple[str, Token]], list[tuple[str, str, Token]], tuple[int, int] | None]:
        comment: str | None = None
        partitioned: list[tuple[str, Token]] = []
        options: list[tuple[str, str, Token]] = []
        with_span: tuple[int, int] | None = None
        seen: set[str] = set()
        while not self.at_eof():
            tok = self.tok
            kw = tok.upper
            if kw in seen and kw:
                raise self.fail(f"duplicate {kw} clause", tok)
            seen.add(kw)
            if kw == "COMMENT":
                self.advance()
                comment = self.string("table comment")
            elif kw == "PARTITIONED":
                self.advance()
                self.expect_word("BY")
                partitioned = self.name_list("partition column")
            elif kw == "WITH":
                self.advance()
                options, close = self.options()
                with_span = (tok.start, close.end)
            elif kw in ("LIKE", "DISTRIBUTED", "AS", "WATERMARK") and self.strict:
                raise self.fail(f"{kw} clause is not supported", tok)
            elif self.strict or tok.is_symbol(";"):
                return comment, partitioned, options, with_span
            else:
                self.skip_clause()
        return comment, partitioned, options, with_span

    def skip_clause(self) -> None:
        """Lenient: step over one token (a parenthesised group at once) of an unread clause."""
        if self.tok.is_symbol("("):
            self.i = self.closing(self.i) + 1
        else:
            self.advance()

    def options(self) -> tuple[list[tuple[str, str, Token]], Token]:
        self.expect_symbol("(")
        result: list[tuple[str, str, Token]] = []
        if self.tok.is_symbol(")"):
            return result, self.advance()
        while True:
            tok = self.tok
            key = self.string("option key") if self.strict else self.loose_text(stop="=")
            self.expect_symbol("=")
            value = self.string(f"value of option {key!r}") if self.strict else self.loose_text(stop=",)")
            result.append((key, value, tok))
            if self.tok.is_symbol(")"):
                return result, self.advance()
            self.expect_symbol(",")

    def loose_text(self, stop: str) -> str:
        """Lenient option key or value: the unquoted values of the tokens up to a stop symbol."""
        parts: list[str] = []
        while not self.at_eof() and not (self.tok.kind is TokenKind.SYMBOL and self.tok.text in stop):
            parts.append(self.advance().value)
        if not parts:
            raise self.fail("a WITH option must read 'key' = 'value'", self.tok)
        return "".join(parts)

    def end(self) -> None:
        if self.at_eof():
            return
        tok = self.advance()
        if not tok.is_symbol(";"):
            raise self.fail(f"unexpected {self.describe(tok)} after the CREATE TABLE statement", tok)
        if not self.at_eof() and self.strict:
            raise self.fail("more than one statement: only one CREATE TABLE is allowed", self.tok)

    def build(
        self,
        *,
        parts: list[str],
        columns: list[ColumnDef],
        primary_key: list[tuple[str, Token]],
        options: list[tuple[str, str, Token]],
        with_span: tuple[int, int] | None,
        comment: str | None,
        partitioned: list[tuple[str, Token]],
        if_not_exists: bool,
        temporary: bool,
        extras: list[str],
    ) -> CreateTable:
        by_name: dict[str, ColumnDef] = {}
        for col in columns:
            low = col.name.lower()
            if low in by_name and self.strict:
                raise DdlError(f"duplicate column {col.name!r}", col.line, col.name)
            by_name.setdefault(low, col)
        pk_names = self.known_columns(primary_key, by_name, "primary key column")
        if self.strict and len(set(pk_names)) != len(pk_names):
            twice = next(n for n in pk_names if pk_names.count(n) > 1)
            raise self.fail(f"primary key names column {twice!r} twice", primary_key[0][1], twice)
        pk = set(pk_names)
        columns = [_not_null(c) if c.name in pk else c for c in columns]
        part_names = self.known_columns(partitioned, by_name, "partition column")
        seen: set[str] = set()
        for key, _, tok in options:
            if key in seen and self.strict:
                raise self.fail(f"duplicate option key {key!r}", tok, key)
            seen.add(key)
        if not columns and self.strict:
            raise DdlError("a table needs at least one column", 1, parts[-1])
        return CreateTable(
            name_parts=tuple(parts),
            columns=tuple(columns),
            primary_key=tuple(pk_names),
            options=tuple(Option(k, v, tok.line) for k, v, tok in options),
            with_span=with_span,
            comment=comment,
            if_not_exists=if_not_exists,
            temporary=temporary,
            partitioned_by=tuple(part_names),
            extras=tuple(extras),
        )

    def known_columns(
        self, names: list[tuple[str, Token]], by_name: dict[str, ColumnDef], what: str
    ) -> list[str]:
        """The declared spelling of each name; strict rejects a name that is not a column."""
        out: list[str] = []
        for name, tok in names:
            col = by_name.get(name.lower())
            if col is None:
                if self.strict:
                    raise self.fail(f"{what} {name!r} is not a column of the table", tok, name)
                out.append(name)
            else:
                out.append(col.name)
        return out


def _not_null(col: ColumnDef) -> ColumnDef:
    return replace(col, not_null=True, type=None if col.type is None else col.type.with_nullable(False))


def read_create_table(text: str, *, strict: bool = True) -> CreateTable:
    """Read exactly one `CREATE TABLE` statement; raise `DdlError` on a fault (see the modes above)."""
    if not text.strip():
        raise DdlError("empty DDL: expected a CREATE TABLE statement", 1)
    return _Reader(text, strict=strict).read()


def physical_columns(table: CreateTable) -> list[tuple[str, FlinkType, bool]]:
    """(name, type, not null) of the physical columns; a column of unknown type raises DdlError."""
    pk = set(table.primary_key)
    out = []
    for col in table.columns:
        if not col.physical:
            continue
        ftype = col.type
        if ftype is None:
            try:
                ftype = parse_type(col.type_text)
            except TypeSyntaxError as exc:
                raise DdlError(f"column {col.name!r}: {exc.message}", col.line, col.name) from exc
        out.append((col.name, ftype, col.not_null or not ftype.nullable or col.name in pk))
    return out


def render_options(options: Sequence[Option] | Sequence[tuple[str, str]]) -> str:
    pairs = [(o.key, o.value) if isinstance(o, Option) else o for o in options]
    return "WITH (" + ", ".join(f"{quote_string(k)} = {quote_string(v)}" for k, v in pairs) + ")"


def rewrite_options(text: str, table: CreateTable, options: Sequence[Option]) -> str:
    """The statement with its WITH clause replaced (appended when it had none).

    The new clause is written on one line, padded with the line breaks of the old one, so the
    lines of everything else stay where they were.
    """
    clause = render_options(options)
    if table.with_span is None:
        return text + "\n" + clause
    begin, end = table.with_span
    newlines = text.count("\n", begin, end)
    return text[:begin] + clause[:-1] + "\n" * newlines + ")" + text[end:]
