"""Pure text helpers over Flink SQL scripts: no engine, no I/O.

- `split_statements` cuts a script into statements at `;` with the shared lexer
  (services.mesh.sqlsplit, leniently: an unterminated literal runs to the end for the engine
  to report); each statement keeps its 1-based start line and column, so an engine error
  inside it maps back to the script (`Statement.script_position`).
  `EXECUTE STATEMENT SET BEGIN ... END` stays one statement.
- `parse_set` reads `SET 'key' = 'value'`.
- `parse_create_table` finds a `CREATE TABLE`'s name, columns, primary key and WITH options;
  `rewrite_options` replaces the WITH clause and keeps the statement's line count.
- `insert_target`, `table_references` and `strip_for_system_time` read or rewrite the parts
  of an INSERT the validator needs (which tables are looked up, which one is written).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from services.mesh import sqlsplit

TokenKind = Literal["ws", "comment", "string", "quoted", "dquoted", "word", "punct"]
StatementKind = Literal[
    "SET",
    "RESET",
    "CREATE_TABLE",
    "CREATE_VIEW",
    "CREATE_FUNCTION",
    "CREATE_CATALOG",
    "CREATE_DATABASE",
    "INSERT",
    "STATEMENT_SET",
    "BEGIN_STATEMENT_SET",
    "END",
    "EXPLAIN",
    "QUERY",
    "OTHER",
]

_WORD = re.compile(r"[^\W]+|\$+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str
    start: int
    end: int
    terminated: bool = True

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""


def tokenize(text: str) -> list[Token]:
    """Every character of `text` in exactly one token (unterminated literals run to the end)."""
    tokens: list[Token] = []
    pos, n = 0, len(text)
    while pos < n:
        ch = text[pos]
        if ch.isspace():
            end = pos + 1
            while end < n and text[end].isspace():
                end += 1
            tokens.append(Token("ws", text[pos:end], pos, end))
        elif text.startswith("--", pos):
            nl = text.find("\n", pos)
            end = n if nl < 0 else nl
            tokens.append(Token("comment", text[pos:end], pos, end))
        elif text.startswith("/*", pos):
            close = text.find("*/", pos + 2)
            end = n if close < 0 else close + 2
            tokens.append(Token("comment", text[pos:end], pos, end, terminated=close >= 0))
        elif ch in "'`\"":
            end, terminated = _quoted_end(text, pos, ch)
            kind: TokenKind = {"'": "string", "`": "quoted", '"': "dquoted"}[ch]  # type: ignore[assignment]
            tokens.append(Token(kind, text[pos:end], pos, end, terminated))
        else:
            match = _WORD.match(text, pos)
            if match and match.end() > pos:
                tokens.append(Token("word", match.group(), pos, match.end()))
                end = match.end()
            else:
                end = pos + 1
                tokens.append(Token("punct", ch, pos, end))
        pos = end
    return tokens


def _quoted_end(text: str, pos: int, quote: str) -> tuple[int, bool]:
    """End offset of a literal opened at `pos`; a doubled quote is an escaped quote."""
    i = pos + 1
    while True:
        j = text.find(quote, i)
        if j < 0:
            return len(text), False
        if j + 1 < len(text) and text[j + 1] == quote:
            i = j + 2
            continue
        return j + 1, True


def unquote(token_text: str) -> str:
    """The value of a '...', `...` or "..." literal (doubled quotes undone); other text as is."""
    if len(token_text) >= 2 and token_text[0] in "'`\"" and token_text[-1] == token_text[0]:
        q = token_text[0]
        return token_text[1:-1].replace(q + q, q)
    return token_text


def quote_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def quote_identifier(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _significant(tokens: Iterable[Token]) -> list[Token]:
    return [t for t in tokens if t.kind not in ("ws", "comment")]


# ---------------------------------------------------------------- statements


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement of a script: its text (no trailing `;`) and where it starts."""

    index: int
    text: str
    start: int  # offset in the script
    line: int  # 1-based
    column: int  # 1-based
    kind: StatementKind

    @property
    def end_line(self) -> int:
        return self.line + self.text.count("\n")

    def script_position(self, line: int, column: int) -> tuple[int, int]:
        """Map a 1-based (line, column) inside `text` to the script."""
        if line <= 1:
            return self.line, self.column + max(column, 1) - 1
        return self.line + line - 1, column


def _line_starts(text: str) -> list[int]:
    starts = [0]
    starts.extend(m.end() for m in re.finditer("\n", text))
    return starts


def _line_col(starts: Sequence[int], offset: int) -> tuple[int, int]:
    lo, hi = 0, len(starts) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if starts[mid] <= offset:
            lo = mid
        else:
            hi = mid - 1
    return lo + 1, offset - starts[lo] + 1


def split_statements(script: str) -> list[Statement]:
    """Split a script at top-level `;` into statements; empty and comment-only pieces vanish."""
    starts = _line_starts(script)
    statements: list[Statement] = []
    for group in _merge_statement_sets(sqlsplit.split_statements(script, strict=False)):
        begin, end = group[0].start, group[-1].end
        line, column = _line_col(starts, begin)
        statements.append(Statement(len(statements), script[begin:end], begin, line, column, _kind(group)))
    return statements


def _merge_statement_sets(pieces: list[sqlsplit.Statement]) -> list[list[sqlsplit.Token]]:
    """The tokens of each statement; `EXECUTE STATEMENT SET BEGIN ...; ...; END` is one for the engine."""
    merged: list[list[sqlsplit.Token]] = []
    open_set: list[sqlsplit.Token] | None = None
    for piece in pieces:
        if open_set is not None:
            open_set.extend(piece.tokens)
            if len(piece.tokens) == 1 and piece.leading_words(1) == ["END"]:
                merged.append(open_set)
                open_set = None
        elif piece.leading_words(4) == ["EXECUTE", "STATEMENT", "SET", "BEGIN"]:
            open_set = list(piece.tokens)
        else:
            merged.append(list(piece.tokens))
    if open_set is not None:
        merged.append(open_set)
    return merged


_CREATE_KINDS: dict[str, StatementKind] = {
    "TABLE": "CREATE_TABLE",
    "VIEW": "CREATE_VIEW",
    "FUNCTION": "CREATE_FUNCTION",
    "CATALOG": "CREATE_CATALOG",
    "DATABASE": "CREATE_DATABASE",
}


_FIRST_WORD_KINDS: dict[str, StatementKind] = {
    "SET": "SET",
    "RESET": "RESET",
    "INSERT": "INSERT",
    "EXPLAIN": "EXPLAIN",
}


def _kind(tokens: Sequence[sqlsplit.Token]) -> StatementKind:  # noqa: PLR0911
    words = [t.value.upper() if t.kind is sqlsplit.TokenKind.WORD else "" for t in tokens[:5]]
    first = words[0] if words else ""
    if first in _FIRST_WORD_KINDS:
        return _FIRST_WORD_KINDS[first]
    if first == "CREATE":
        for w in words[1:]:
            if w in _CREATE_KINDS:
                return _CREATE_KINDS[w]
            if w not in ("TEMPORARY", "SYSTEM", "OR", "REPLACE"):
                break
        return "OTHER"
    if words[:3] == ["EXECUTE", "STATEMENT", "SET"]:
        return "STATEMENT_SET"
    if words[:3] == ["BEGIN", "STATEMENT", "SET"]:
        return "BEGIN_STATEMENT_SET"
    if words == ["END"]:
        return "END"
    if first in ("SELECT", "WITH", "VALUES") or (tokens and tokens[0].is_symbol("(")):
        return "QUERY"
    return "OTHER"


def parse_set(text: str) -> tuple[str, str] | None:
    """(key, value) of `SET 'key' = 'value'` (quotes optional); None for a bare `SET`."""
    sig = _significant(tokenize(text))
    if not sig or sig[0].upper != "SET" or len(sig) == 1:
        return None
    try:
        eq = next(i for i, t in enumerate(sig) if t.kind == "punct" and t.text == "=")
    except StopIteration as exc:
        raise ValueError(f"SET without '=': {text!r}") from exc
    key = "".join(unquote(t.text) for t in sig[1:eq]) if eq > 2 else unquote(sig[1].text)
    value_tokens = sig[eq + 1 :]
    if len(value_tokens) == 1:
        value = unquote(value_tokens[0].text)
    else:
        value = text[value_tokens[0].start : value_tokens[-1].end] if value_tokens else ""
    return key, value


# ---------------------------------------------------------------- CREATE TABLE


@dataclass(frozen=True, slots=True)
class Option:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type_text: str  # empty for a computed column
    not_null: bool = False
    computed: str | None = None  # expression text of `name AS expr`
    metadata: bool = False
    comment: str | None = None

    @property
    def physical(self) -> bool:
        return self.computed is None and not self.metadata


@dataclass(frozen=True, slots=True)
class CreateTable:
    name_parts: tuple[str, ...]
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    options: tuple[Option, ...]
    with_span: tuple[int, int] | None  # offsets of the WITH keyword .. closing ')', in the text
    temporary: bool = False
    extras: tuple[str, ...] = field(default=())  # WATERMARK / other table constraints, as text

    @property
    def name(self) -> str:
        return self.name_parts[-1]

    @property
    def option_map(self) -> dict[str, str]:
        return {o.key: o.value for o in self.options}

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


class DdlError(ValueError):
    """Text that is not a CREATE TABLE this module can read."""


def _read_name(sig: Sequence[Token], i: int) -> tuple[tuple[str, ...], int]:
    parts: list[str] = []
    while i < len(sig) and sig[i].kind in ("word", "quoted", "dquoted"):
        parts.append(unquote(sig[i].text))
        i += 1
        if i < len(sig) and sig[i].text == "." and sig[i].kind == "punct":
            i += 1
            continue
        break
    if not parts:
        raise DdlError("a table name was expected")
    return tuple(parts), i


def _matching(sig: Sequence[Token], i: int) -> int:
    """Index of the `)` closing the `(` at `i`."""
    depth = 0
    for j in range(i, len(sig)):
        if sig[j].kind != "punct":
            continue
        if sig[j].text == "(":
            depth += 1
        elif sig[j].text == ")":
            depth -= 1
            if depth == 0:
                return j
    raise DdlError("unbalanced parentheses")


def _split_top(sig: Sequence[Token], sep: str = ",") -> list[list[Token]]:
    parts: list[list[Token]] = [[]]
    depth = 0
    for tok in sig:
        if tok.kind == "punct" and tok.text in "(<":
            depth += 1
        elif tok.kind == "punct" and tok.text in ")>":
            depth -= 1
        if depth == 0 and tok.kind == "punct" and tok.text == sep:
            parts.append([])
        else:
            parts[-1].append(tok)
    return [p for p in parts if p]


def parse_create_table(text: str) -> CreateTable:
    """Read one `CREATE [TEMPORARY] TABLE [IF NOT EXISTS] name (...) ... WITH (...)`."""
    sig = _significant(tokenize(text))
    i = 0
    if not sig or sig[0].upper != "CREATE":
        raise DdlError("not a CREATE TABLE statement")
    i = 1
    temporary = False
    while i < len(sig) and sig[i].upper in ("TEMPORARY", "OR", "REPLACE"):
        temporary = temporary or sig[i].upper == "TEMPORARY"
        i += 1
    if i >= len(sig) or sig[i].upper != "TABLE":
        raise DdlError("not a CREATE TABLE statement")
    i += 1
    if [t.upper for t in sig[i : i + 3]] == ["IF", "NOT", "EXISTS"]:
        i += 3
    name_parts, i = _read_name(sig, i)
    columns: list[Column] = []
    primary_key: tuple[str, ...] = ()
    extras: list[str] = []
    if i < len(sig) and sig[i].text == "(" and sig[i].kind == "punct":
        close = _matching(sig, i)
        primary_key = _elements(text, sig[i + 1 : close], columns, extras)
        i = close + 1
    with_span: tuple[int, int] | None = None
    options: list[Option] = []
    depth = 0
    for j in range(i, len(sig)):
        tok = sig[j]
        if tok.kind == "punct" and tok.text in "()":
            depth += 1 if tok.text == "(" else -1
        if depth == 0 and tok.upper == "WITH" and j + 1 < len(sig) and sig[j + 1].text == "(":
            close = _matching(sig, j + 1)
            options = _options(sig[j + 2 : close])
            with_span = (tok.start, sig[close].end)
            break
    return CreateTable(
        name_parts, tuple(columns), primary_key, tuple(options), with_span, temporary, tuple(extras)
    )


def _elements(text: str, sig: Sequence[Token], columns: list[Column], extras: list[str]) -> tuple[str, ...]:
    """Read the column list into `columns`/`extras`; return the primary key."""
    primary_key: tuple[str, ...] = ()
    for element in _split_top(sig):
        head = element[0].upper
        if head in ("PRIMARY", "CONSTRAINT"):
            primary_key = _table_primary_key(element)
        elif head in ("WATERMARK", "PERIOD"):
            extras.append(text[element[0].start : element[-1].end])
        else:
            column, inline_pk = _column(text, element)
            columns.append(column)
            if inline_pk:
                primary_key = (column.name,)
    return primary_key


def _table_primary_key(element: Sequence[Token]) -> tuple[str, ...]:
    start = next((k for k, t in enumerate(element) if t.kind == "punct" and t.text == "("), None)
    if start is None:
        raise DdlError("PRIMARY KEY without a column list")
    close = _matching(element, start)
    return tuple(unquote(t.text) for t in element[start + 1 : close] if t.text != ",")


_COLUMN_STOP = {"NOT", "NULL", "COMMENT", "METADATA", "PRIMARY", "CONSTRAINT", "VIRTUAL"}


def _column(text: str, element: Sequence[Token]) -> tuple[Column, bool]:
    name = unquote(element[0].text)
    rest = list(element[1:])
    if not rest:
        raise DdlError(f"column {name!r} has no type")
    if rest[0].upper == "AS":
        comment_at = next((k for k, t in enumerate(rest) if t.upper == "COMMENT"), len(rest))
        expr = text[rest[1].start : rest[comment_at - 1].end] if comment_at > 1 else ""
        comment = unquote(rest[comment_at + 1].text) if comment_at + 1 < len(rest) else None
        return Column(name, "", computed=expr, comment=comment), False
    depth = 0
    k = 0
    while k < len(rest):
        tok = rest[k]
        if tok.kind == "punct" and tok.text in "(<":
            depth += 1
        elif tok.kind == "punct" and tok.text in ")>":
            depth -= 1
        elif depth == 0 and tok.upper in _COLUMN_STOP:
            break
        k += 1
    if k == 0:
        raise DdlError(f"column {name!r} has no type")
    type_text = text[rest[0].start : rest[k - 1].end]
    tail = [t.upper for t in rest[k:]]
    not_null = any(a == "NOT" and b == "NULL" for a, b in itertools.pairwise(tail))
    comment = None
    for m, tok in enumerate(rest[k:], start=k):
        if tok.upper == "COMMENT" and m + 1 < len(rest):
            comment = unquote(rest[m + 1].text)
    return (
        Column(name, type_text, not_null=not_null, metadata="METADATA" in tail, comment=comment),
        "PRIMARY" in tail,
    )


def _options(sig: Sequence[Token]) -> list[Option]:
    options: list[Option] = []
    for pair in _split_top(sig):
        eq = next((k for k, t in enumerate(pair) if t.kind == "punct" and t.text == "="), None)
        if eq is None or eq == 0 or eq == len(pair) - 1:
            raise DdlError("a WITH option must read 'key' = 'value'")
        key = "".join(unquote(t.text) for t in pair[:eq])
        value = "".join(unquote(t.text) for t in pair[eq + 1 :])
        options.append(Option(key, value))
    return options


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


# ---------------------------------------------------------------- INSERT / queries


@dataclass(frozen=True, slots=True)
class TableRef:
    name_parts: tuple[str, ...]
    lookup: bool  # read with FOR SYSTEM_TIME AS OF

    @property
    def name(self) -> str:
        return self.name_parts[-1]


def insert_target(text: str) -> tuple[str, ...] | None:
    """Name parts of the table an `INSERT INTO|OVERWRITE` writes."""
    sig = _significant(tokenize(text))
    for k, tok in enumerate(sig[:-1]):
        if tok.upper == "INSERT" and sig[k + 1].upper in ("INTO", "OVERWRITE"):
            j = k + 2
            if j < len(sig) and sig[j].upper == "TABLE":
                j += 1
            return _read_name(sig, j)[0]
    return None


_NOT_TABLES = {"LATERAL", "UNNEST", "TABLE", "SELECT"}


def table_references(text: str) -> list[TableRef]:
    """Tables named after FROM / JOIN, in order, marking those read as lookups."""
    sig = _significant(tokenize(text))
    refs: list[TableRef] = []
    for k, tok in enumerate(sig[:-1]):
        if tok.upper not in ("FROM", "JOIN"):
            continue
        nxt = sig[k + 1]
        if nxt.kind not in ("word", "quoted") or nxt.upper in _NOT_TABLES:
            continue
        parts, j = _read_name(sig, k + 1)
        lookup = [t.upper for t in sig[j : j + 4]] == ["FOR", "SYSTEM_TIME", "AS", "OF"]
        refs.append(TableRef(parts, lookup))
    return refs


def strip_for_system_time(text: str) -> tuple[str, int]:
    """Remove every `FOR SYSTEM_TIME AS OF <time expr>` (a lookup becomes a regular join).

    The time expression is a (qualified) name, optionally called: `e.proc_time`, `PROCTIME()`.
    Returns the new text and how many clauses were removed. Line breaks are kept.
    """
    sig = _significant(tokenize(text))
    cuts: list[tuple[int, int]] = []
    k = 0
    while k < len(sig) - 4:
        if [t.upper for t in sig[k : k + 4]] != ["FOR", "SYSTEM_TIME", "AS", "OF"]:
            k += 1
            continue
        j = k + 4
        _, j = _read_name(sig, j)
        if j < len(sig) and sig[j].text == "(":
            j = _matching(sig, j) + 1
        cuts.append((sig[k].start, sig[j - 1].end))
        k = j
    out, pos = [], 0
    for begin, end in cuts:
        out.append(text[pos:begin])
        out.append("\n" * text.count("\n", begin, end))
        pos = end
    out.append(text[pos:])
    return "".join(out), len(cuts)


_POSITION = re.compile(r"\bline (\d+), column (\d+)", re.IGNORECASE)


def error_position(message: str) -> tuple[int, int] | None:
    """The first `line L, column C` an engine message names (1-based, in the statement)."""
    match = _POSITION.search(message)
    return (int(match.group(1)), int(match.group(2))) if match else None
