"""A parser for one Flink `CREATE TABLE` statement with physical columns only.

Accepted: `CREATE [TEMPORARY] TABLE [IF NOT EXISTS] [cat.][db.]name (columns, [constraint])
[COMMENT '...'] [PARTITIONED BY (cols)] [WITH ('k' = 'v', ...)] [;]`, backquoted identifiers
(`` ` `` doubled inside), case-insensitive keywords, `--` and `/* */` comments.

Rejected with a message, a 1-based line and the offending name: other statements, more than
one statement, computed / METADATA columns, WATERMARK, LIKE, DISTRIBUTED BY, AS SELECT,
duplicate columns (case-insensitive, as Flink) or option keys, a primary key without
NOT ENFORCED or naming an unknown column, and any name outside `^[A-Za-z_][A-Za-z0-9_]{0,127}$`
(even backquoted: names are never spliced raw into SQL or paths).

PARTITIONED BY is accepted and kept (`partitioned_by`): the physical-columns rule is about
columns, and partition keys must name declared columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from services.mesh.sqltypes import FlinkType, TypeSyntaxError, parse_type_at

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


class DdlError(ValueError):
    """A DDL fault: `line` is 1-based within the parsed text; `name` is the offending name."""

    def __init__(self, message: str, line: int, name: str | None = None) -> None:
        super().__init__(f"line {line}: {message}")
        self.message = message
        self.line = line
        self.name = name


class ColumnDef(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    type: FlinkType
    not_null: bool = False
    comment: str | None = None
    line: int = 1


class CreateTable(BaseModel):
    model_config = ConfigDict(frozen=True)

    name_parts: list[str]
    name: str
    columns: list[ColumnDef]
    primary_key: list[str] = []
    options: dict[str, str] = {}
    comment: str | None = None
    if_not_exists: bool = False
    temporary: bool = False
    partitioned_by: list[str] = []

    def column(self, name: str) -> ColumnDef | None:
        """The column of that name (case-insensitive, as Flink resolves it), or None."""
        low = name.lower()
        return next((c for c in self.columns if c.name.lower() == low), None)


@dataclass(frozen=True)
class _Tok:
    kind: str  # word, qident, string, number, punct, eof
    text: str  # the value (unquoted for qident/string); upper-cased for words in `upper`
    offset: int

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""


_SPACE_OR_COMMENTS = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.S)
_WORD = re.compile(r"[^\W\d][\w$]*")
_NUMBER = re.compile(r"\d[\w.]*")
_QUOTED = {"`": re.compile(r"`((?:[^`]|``)*)`"), "'": re.compile(r"'((?:[^']|'')*)'")}


class _Lexer:
    """Tokens on demand; parsers backtrack by resetting `pos`, so tokens are cached by offset."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self._cache: dict[int, tuple[_Tok, int]] = {}

    def line(self, offset: int) -> int:
        return self.text.count("\n", 0, offset) + 1

    def fail(self, message: str, offset: int, name: str | None = None) -> DdlError:
        return DdlError(message, self.line(offset), name)

    def skip(self) -> None:
        end = _SPACE_OR_COMMENTS.match(self.text, self.pos)
        self.pos = end.end() if end else self.pos
        if self.text.startswith("/*", self.pos):
            raise self.fail("unterminated /* comment", self.pos)

    def next(self) -> _Tok:
        cached = self._cache.get(self.pos)
        if cached is not None:
            tok, self.pos = cached
            return tok
        origin = self.pos
        tok = self._scan()
        self._cache[origin] = (tok, self.pos)
        return tok

    def _scan(self) -> _Tok:
        self.skip()
        text, start = self.text, self.pos
        if start >= len(text):
            return _Tok("eof", "", start)
        ch = text[start]
        if ch in "`'":
            value, self.pos = self._quoted(start, ch)
            return _Tok("qident" if ch == "`" else "string", value, start)
        for kind, pattern in (("word", _WORD), ("number", _NUMBER)):
            found = pattern.match(text, start)
            if found:
                self.pos = found.end()
                return _Tok(kind, found.group(), start)
        self.pos = start + 1
        return _Tok("punct", ch, start)

    def _quoted(self, start: int, quote: str) -> tuple[str, int]:
        found = _QUOTED[quote].match(self.text, start)
        if found is None:
            what = "identifier" if quote == "`" else "string literal"
            raise self.fail(f"unterminated {what} starting here", start)
        return found.group(1).replace(quote * 2, quote), found.end()

    def peek(self) -> _Tok:
        save = self.pos
        tok = self.next()
        self.pos = save
        return tok


class _DdlParser:
    def __init__(self, text: str) -> None:
        self.lex = _Lexer(text)
        self.table_name: str | None = None

    # -- helpers
    def fail(self, message: str, tok: _Tok, name: str | None = None) -> DdlError:
        return self.lex.fail(message, tok.offset, name if name is not None else self.table_name)

    def describe(self, tok: _Tok) -> str:
        if tok.kind == "eof":
            return "end of text"
        if tok.kind == "string":
            return "a string literal"
        return repr(tok.text)

    def accept_word(self, *words: str) -> bool:
        save = self.lex.pos
        for word in words:
            if self.lex.next().upper != word:
                self.lex.pos = save
                return False
        return True

    def expect_word(self, *words: str) -> None:
        for word in words:
            tok = self.lex.next()
            if tok.upper != word:
                raise self.fail(f"expected {word}, found {self.describe(tok)}", tok)

    def accept_punct(self, ch: str) -> bool:
        tok = self.lex.peek()
        if tok.kind == "punct" and tok.text == ch:
            self.lex.next()
            return True
        return False

    def expect_punct(self, ch: str) -> _Tok:
        tok = self.lex.next()
        if tok.kind != "punct" or tok.text != ch:
            raise self.fail(f"expected '{ch}', found {self.describe(tok)}", tok)
        return tok

    def identifier(self, what: str) -> tuple[str, _Tok]:
        tok = self.lex.next()
        if tok.kind not in ("word", "qident"):
            raise self.fail(f"expected {what}, found {self.describe(tok)}", tok)
        if not NAME_RE.fullmatch(tok.text):
            raise self.fail(
                f"invalid {what} {tok.text!r}: names must match ^[A-Za-z_][A-Za-z0-9_]{{0,127}}$",
                tok,
                tok.text,
            )
        return tok.text, tok

    def string(self, what: str) -> str:
        tok = self.lex.next()
        if tok.kind != "string":
            raise self.fail(f"expected {what} as a quoted string, found {self.describe(tok)}", tok)
        return tok.text

    def name_list(self, what: str) -> list[tuple[str, _Tok]]:
        self.expect_punct("(")
        names = [self.identifier(what)]
        while self.accept_punct(","):
            names.append(self.identifier(what))
        self.expect_punct(")")
        return names

    # -- grammar
    def parse(self) -> CreateTable:
        first = self.lex.next()
        if first.upper != "CREATE":
            raise self.fail(f"not a CREATE TABLE statement (starts with {self.describe(first)})", first)
        temporary = self.accept_word("TEMPORARY")
        tok = self.lex.next()
        if tok.upper != "TABLE":
            raise self.fail(f"not a CREATE TABLE statement (CREATE {self.describe(tok)})", tok)
        if_not_exists = self.accept_word("IF", "NOT", "EXISTS")
        parts = [self.identifier("table name")[0]]
        while self.accept_punct("."):
            parts.append(self.identifier("table name part")[0])
        self.table_name = parts[-1]
        if len(parts) > 3:
            raise self.fail("a table name has at most 3 parts (catalog.database.table)", tok)
        tok = self.lex.peek()
        if tok.upper in ("AS", "LIKE"):
            raise self.fail(f"CREATE TABLE ... {tok.upper} is not supported: declare the columns", tok)
        self.expect_punct("(")
        columns, primary_key = self.body()
        comment, partitioned, options = self.tail()
        self.end()
        return self.build(
            parts=parts,
            columns=columns,
            primary_key=primary_key,
            comment=comment,
            partitioned=partitioned,
            options=options,
            if_not_exists=if_not_exists,
            temporary=temporary,
        )

    def body(self) -> tuple[list[ColumnDef], list[tuple[str, _Tok]] | None]:
        columns: list[ColumnDef] = []
        primary_key: list[tuple[str, _Tok]] | None = None
        if self.lex.peek().text == ")" and self.lex.peek().kind == "punct":
            raise self.fail("a table needs at least one column", self.lex.peek())
        while True:
            tok = self.lex.peek()
            kw = tok.upper
            if kw in ("PRIMARY", "CONSTRAINT") and tok.kind == "word":
                if primary_key is not None:
                    raise self.fail("more than one PRIMARY KEY", tok)
                self.constraint_name()
                self.expect_word("PRIMARY", "KEY")
                primary_key = self.name_list("primary key column")
                self.not_enforced()
            elif kw == "WATERMARK" and tok.kind == "word":
                raise self.fail("WATERMARK is not supported: physical columns only", tok)
            elif kw in ("UNIQUE", "FOREIGN", "CHECK") and tok.kind == "word":
                raise self.fail(f"{kw} constraints are not supported by Flink", tok)
            else:
                column, pk = self.column()
                if pk:
                    if primary_key is not None:
                        raise self.fail("more than one PRIMARY KEY", tok, column.name)
                    primary_key = [(column.name, tok)]
                columns.append(column)
            if self.accept_punct(")"):
                return columns, primary_key
            self.expect_punct(",")

    def constraint_name(self) -> None:
        if self.accept_word("CONSTRAINT"):
            self.identifier("constraint name")

    def not_enforced(self) -> None:
        tok = self.lex.peek()
        if not self.accept_word("NOT", "ENFORCED"):
            raise self.fail("PRIMARY KEY must be declared NOT ENFORCED (Flink does not enforce keys)", tok)

    def column(self) -> tuple[ColumnDef, bool]:
        name, name_tok = self.identifier("column name")
        tok = self.lex.peek()
        if tok.upper == "AS":
            raise self.fail(f"computed column {name!r} is not supported: physical columns only", tok, name)
        self.lex.skip()
        start = self.lex.pos
        try:
            ftype, self.lex.pos = parse_type_at(self.lex.text, start, allow_nullability=False)
        except TypeSyntaxError as exc:
            raise self.lex.fail(f"column {name!r}: {exc.message}", exc.offset, name) from exc
        not_null = False
        primary = False
        comment: str | None = None
        while True:
            tok = self.lex.peek()
            kw = tok.upper
            if kw == "NOT" and self.accept_word("NOT", "NULL"):
                not_null = True
            elif kw == "NULL":
                self.lex.next()
            elif kw in ("PRIMARY", "CONSTRAINT"):
                self.constraint_name()
                self.expect_word("PRIMARY", "KEY")
                self.not_enforced()
                primary = True
            elif kw == "COMMENT":
                self.lex.next()
                comment = self.string("column comment")
            elif kw in ("METADATA", "VIRTUAL"):
                raise self.fail(
                    f"METADATA column {name!r} is not supported: physical columns only", tok, name
                )
            elif kw == "AS":
                raise self.fail(
                    f"computed column {name!r} is not supported: physical columns only", tok, name
                )
            elif tok.kind == "punct" and tok.text in ",)":
                break
            else:
                raise self.fail(f"unexpected {self.describe(tok)} in column {name!r}", tok, name)
        if primary:
            not_null = True
        line = self.lex.line(name_tok.offset)
        column = ColumnDef(
            name=name, type=ftype.with_nullable(not not_null), not_null=not_null, comment=comment, line=line
        )
        return column, primary

    def tail(self) -> tuple[str | None, list[tuple[str, _Tok]], list[tuple[str, str, _Tok]]]:
        comment: str | None = None
        partitioned: list[tuple[str, _Tok]] = []
        options: list[tuple[str, str, _Tok]] = []
        seen: set[str] = set()
        while True:
            tok = self.lex.peek()
            kw = tok.upper if tok.kind == "word" else ""
            if kw in seen:
                raise self.fail(f"duplicate {kw} clause", tok)
            seen.add(kw)
            if kw == "COMMENT":
                self.lex.next()
                comment = self.string("table comment")
            elif kw == "PARTITIONED":
                self.lex.next()
                self.expect_word("BY")
                partitioned = self.name_list("partition column")
            elif kw == "WITH":
                self.lex.next()
                options = self.options()
            elif kw in ("LIKE", "DISTRIBUTED", "AS", "WATERMARK"):
                raise self.fail(f"{kw} clause is not supported", tok)
            else:
                return comment, partitioned, options

    def options(self) -> list[tuple[str, str, _Tok]]:
        self.expect_punct("(")
        result: list[tuple[str, str, _Tok]] = []
        if self.accept_punct(")"):
            return result
        while True:
            tok = self.lex.peek()
            key = self.string("option key")
            self.expect_punct("=")
            value = self.string(f"value of option {key!r}")
            result.append((key, value, tok))
            if self.accept_punct(")"):
                return result
            self.expect_punct(",")

    def end(self) -> None:
        tok = self.lex.next()
        if tok.kind == "punct" and tok.text == ";":
            tok = self.lex.next()
            if tok.kind == "eof":
                return
            raise self.fail("more than one statement: only one CREATE TABLE is allowed", tok)
        if tok.kind != "eof":
            raise self.fail(f"unexpected {self.describe(tok)} after the CREATE TABLE statement", tok)

    def build(
        self,
        *,
        parts: list[str],
        columns: list[ColumnDef],
        primary_key: list[tuple[str, _Tok]] | None,
        comment: str | None,
        partitioned: list[tuple[str, _Tok]],
        options: list[tuple[str, str, _Tok]],
        if_not_exists: bool,
        temporary: bool,
    ) -> CreateTable:
        by_name: dict[str, ColumnDef] = {}
        for col in columns:
            low = col.name.lower()
            if low in by_name:
                raise DdlError(f"duplicate column {col.name!r}", col.line, col.name)
            by_name[low] = col
        pk_names: list[str] = []
        for name, tok in primary_key or []:
            pk_col = by_name.get(name.lower())
            if pk_col is None:
                raise self.fail(f"primary key column {name!r} is not a column of the table", tok, name)
            if pk_col.name in pk_names:
                raise self.fail(f"primary key names column {name!r} twice", tok, name)
            pk_names.append(pk_col.name)
        # Flink makes primary-key columns NOT NULL.
        columns = [
            c.model_copy(update={"not_null": True, "type": c.type.with_nullable(False)})
            if c.name in pk_names
            else c
            for c in columns
        ]
        part_names: list[str] = []
        for name, tok in partitioned:
            part_col = by_name.get(name.lower())
            if part_col is None:
                raise self.fail(f"partition column {name!r} is not a column of the table", tok, name)
            part_names.append(part_col.name)
        opts: dict[str, str] = {}
        for key, value, tok in options:
            if key in opts:
                raise self.fail(f"duplicate option key {key!r}", tok, key)
            opts[key] = value
        if not columns:
            raise DdlError("a table needs at least one column", 1, parts[-1])
        return CreateTable(
            name_parts=parts,
            name=parts[-1],
            columns=columns,
            primary_key=pk_names,
            options=opts,
            comment=comment,
            if_not_exists=if_not_exists,
            temporary=temporary,
            partitioned_by=part_names,
        )


def parse_create_table(sql: str) -> CreateTable:
    """Parse exactly one Flink `CREATE TABLE` statement; raise `DdlError` on any fault."""
    if not sql.strip():
        raise DdlError("empty DDL: expected a CREATE TABLE statement", 1)
    return _DdlParser(sql).parse()
