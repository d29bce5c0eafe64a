"""The one statement splitter of the code base, built on the kernel's lexer.

A script is cut at every `;` outside literals, identifiers and comments, as Flink's own parser
reads a statement list; `EXECUTE STATEMENT SET BEGIN ...; ...; END` stays one statement, as it
is one for Flink. Empty and comment-only pieces vanish. Each statement knows its kind, its
offsets, and its 1-based line and column in the script, so an engine error inside it maps back
(`Statement.script_position`). The generator checks its output with it, the validator plans
it, and the router and the runner submit exactly these statements.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from services.flinksql.lexer import Token, TokenKind, significant, tokenize


class StatementKind(StrEnum):
    SET = "SET"
    RESET = "RESET"
    CREATE_TABLE = "CREATE_TABLE"
    CREATE_VIEW = "CREATE_VIEW"
    CREATE_FUNCTION = "CREATE_FUNCTION"
    CREATE_CATALOG = "CREATE_CATALOG"
    CREATE_DATABASE = "CREATE_DATABASE"
    CREATE_OTHER = "CREATE_OTHER"
    INSERT = "INSERT"  # INSERT INTO|OVERWRITE, EXECUTE INSERT
    STATEMENT_SET = "STATEMENT_SET"  # EXECUTE STATEMENT SET BEGIN ... END
    BEGIN_STATEMENT_SET = "BEGIN_STATEMENT_SET"  # the SQL client's `BEGIN STATEMENT SET;`
    END = "END"
    EXPLAIN = "EXPLAIN"
    QUERY = "QUERY"  # SELECT, WITH, VALUES, ( ...
    ADD_JAR = "ADD_JAR"
    REMOVE_JAR = "REMOVE_JAR"
    LOAD_MODULE = "LOAD_MODULE"
    UNLOAD_MODULE = "UNLOAD_MODULE"
    DROP = "DROP"
    ALTER = "ALTER"
    USE = "USE"
    SHOW = "SHOW"
    DESCRIBE = "DESCRIBE"
    OTHER = "OTHER"


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement of a script; never empty."""

    index: int  # 0-based among the script's statements
    # From the first token to the last (comments between them kept), without the `;`; with
    # keep_comments, everything between the semicolons (trimmed), comments before it included.
    text: str
    start: int  # offset of the first token in the script
    end: int  # offset just after the last token
    line: int  # 1-based line and column of the first token
    column: int
    kind: StatementKind
    tokens: tuple[Token, ...]  # significant tokens only; offsets are the script's

    @property
    def end_line(self) -> int:
        return self.tokens[-1].line + _breaks(self.tokens[-1].text)

    def leading_words(self, count: int) -> list[str]:
        """The first `count` tokens upper-cased while they are words."""
        words: list[str] = []
        for token in self.tokens[:count]:
            if token.kind is not TokenKind.WORD:
                break
            words.append(token.text.upper())
        return words

    @property
    def submits_job(self) -> bool:
        """It starts a Flink job: an INSERT or a statement set."""
        return self.kind in (StatementKind.INSERT, StatementKind.STATEMENT_SET)

    def script_position(self, line: int, column: int) -> tuple[int, int]:
        """Map a 1-based (line, column) inside `text` (as the engine saw it) to the script."""
        if line <= 1:
            return self.line, self.column + max(column, 1) - 1
        return self.line + line - 1, column


def _breaks(text: str) -> int:
    return len(re.findall(r"\r\n|\r|\n", text))


def split_statements(script: str, *, strict: bool = True, keep_comments: bool = False) -> list[Statement]:
    """The script's statements. Raises `LexError` when `strict` and the script does not lex
    (an unterminated literal or comment); otherwise that literal runs to the end."""
    pieces: list[tuple[int, int, list[Token]]] = []  # (piece start, its `;` or the end, tokens)
    current: list[Token] = []
    begin = 0
    for token in tokenize(script, strict=strict):
        if token.is_symbol(";"):
            if current:
                pieces.append((begin, token.start, current))
            current, begin = [], token.end
        else:
            current.append(token)
    if current:
        pieces.append((begin, len(script), current))
    statements: list[Statement] = []
    for piece_start, piece_end, tokens in _merge_statement_sets(pieces):
        first, last = tokens[0], tokens[-1]
        text = script[piece_start:piece_end].strip() if keep_comments else script[first.start : last.end]
        statements.append(
            Statement(
                index=len(statements),
                text=text,
                start=first.start,
                end=last.end,
                line=first.line,
                column=first.column,
                kind=statement_kind(tokens),
                tokens=tuple(tokens),
            )
        )
    return statements


def _merge_statement_sets(
    pieces: list[tuple[int, int, list[Token]]],
) -> list[tuple[int, int, list[Token]]]:
    """The pieces with each `EXECUTE STATEMENT SET BEGIN ...; ...; END` merged into one."""
    merged: list[tuple[int, int, list[Token]]] = []
    open_set: tuple[int, list[Token]] | None = None
    for begin, end, tokens in pieces:
        if open_set is not None:
            open_set[1].extend(tokens)
            if len(tokens) == 1 and tokens[0].is_word("END"):
                merged.append((open_set[0], end, open_set[1]))
                open_set = None
        elif _opens_statement_set(tokens):
            open_set = (begin, list(tokens))
        else:
            merged.append((begin, end, tokens))
    if open_set is not None:
        merged.append((open_set[0], pieces[-1][1], open_set[1]))
    return merged


def _opens_statement_set(tokens: Sequence[Token]) -> bool:
    """`EXECUTE STATEMENT SET BEGIN` or `EXPLAIN [details] STATEMENT SET BEGIN`: one statement to END."""
    words = [t.upper for t in tokens[:12]]
    if words[:1] not in (["EXECUTE"], ["EXPLAIN"]):
        return False
    for k in range(1, len(words) - 2):
        if words[k : k + 3] == ["STATEMENT", "SET", "BEGIN"]:
            return True
        if words[k] in ("INSERT", "SELECT", "WITH", "VALUES"):
            return False
    return False


_CREATE_KINDS = {
    "TABLE": StatementKind.CREATE_TABLE,
    "VIEW": StatementKind.CREATE_VIEW,
    "FUNCTION": StatementKind.CREATE_FUNCTION,
    "CATALOG": StatementKind.CREATE_CATALOG,
    "DATABASE": StatementKind.CREATE_DATABASE,
}
_CREATE_MODIFIERS = frozenset({"TEMPORARY", "SYSTEM", "OR", "REPLACE"})
_FIRST_WORD_KINDS = {
    "SET": StatementKind.SET,
    "RESET": StatementKind.RESET,
    "INSERT": StatementKind.INSERT,
    "EXPLAIN": StatementKind.EXPLAIN,
    "DROP": StatementKind.DROP,
    "ALTER": StatementKind.ALTER,
    "USE": StatementKind.USE,
    "SHOW": StatementKind.SHOW,
    "DESCRIBE": StatementKind.DESCRIBE,
    "DESC": StatementKind.DESCRIBE,
    "SELECT": StatementKind.QUERY,
    "WITH": StatementKind.QUERY,
    "VALUES": StatementKind.QUERY,
}
_TWO_WORD_KINDS = {
    ("ADD", "JAR"): StatementKind.ADD_JAR,
    ("REMOVE", "JAR"): StatementKind.REMOVE_JAR,
    ("LOAD", "MODULE"): StatementKind.LOAD_MODULE,
    ("UNLOAD", "MODULE"): StatementKind.UNLOAD_MODULE,
    ("EXECUTE", "INSERT"): StatementKind.INSERT,
}


def statement_kind(tokens: Sequence[Token]) -> StatementKind:  # noqa: PLR0911 - a lookup table
    """The kind of a statement from its leading significant tokens."""
    tokens = [t for t in tokens[:6] if not t.is_trivia]
    words = [t.upper for t in tokens]
    first = words[0] if words else ""
    if first == "CREATE":
        for word in words[1:]:
            if word in _CREATE_KINDS:
                return _CREATE_KINDS[word]
            if word not in _CREATE_MODIFIERS:
                break
        return StatementKind.CREATE_OTHER
    if first in _FIRST_WORD_KINDS:
        return _FIRST_WORD_KINDS[first]
    if tuple(words[:2]) in _TWO_WORD_KINDS:
        return _TWO_WORD_KINDS[(words[0], words[1])]
    if words[:3] == ["EXECUTE", "STATEMENT", "SET"]:
        return StatementKind.STATEMENT_SET
    if words[:3] == ["BEGIN", "STATEMENT", "SET"]:
        return StatementKind.BEGIN_STATEMENT_SET
    if words == ["END"]:
        return StatementKind.END
    if tokens and tokens[0].is_symbol("("):
        return StatementKind.QUERY
    return StatementKind.OTHER


def parse_set(text: str) -> tuple[str, str] | None:
    """(key, value) of `SET 'key' = 'value'` (quotes optional); None for a bare `SET`.

    Raises ValueError for a SET without `=`.
    """
    sig = significant(tokenize(text, strict=False))
    if sig and sig[-1].is_symbol(";"):
        sig.pop()
    if not sig or not sig[0].is_word("SET") or len(sig) == 1:
        return None
    eq = next((i for i, t in enumerate(sig) if t.is_symbol("=")), None)
    if eq is None:
        raise ValueError(f"SET without '=': {text!r}")
    key = "".join(t.value for t in sig[1:eq])
    value_tokens = sig[eq + 1 :]
    if len(value_tokens) == 1:
        value = value_tokens[0].value
    else:
        value = text[value_tokens[0].start : value_tokens[-1].end] if value_tokens else ""
    return key, value


_POSITION = re.compile(r"\bline (\d+), column (\d+)", re.IGNORECASE)


def error_position(message: str) -> tuple[int, int] | None:
    """The first `line L, column C` an engine message names (1-based, in the statement)."""
    match = _POSITION.search(message)
    return (int(match.group(1)), int(match.group(2))) if match else None


def statement_set_members(statement: Statement) -> list[Statement]:
    """The statements inside `EXECUTE STATEMENT SET BEGIN ...; ...; END` (else the statement).

    Offsets, lines and columns of the members are relative to the statement's text (line 1 is
    the statement's first line).
    """
    if statement.kind is not StatementKind.STATEMENT_SET or len(statement.tokens) < 5:
        return [statement]
    begin = statement.tokens[3].end - statement.start
    last = statement.tokens[-1]
    end = last.start - statement.start if last.is_word("END") else len(statement.text)
    # Blank out the header but keep its line breaks, so members keep their offsets and lines.
    header = "".join(ch if ch in "\r\n" else " " for ch in statement.text[:begin])
    inner = header + statement.text[begin:end]
    return split_statements(inner, strict=False)


DIGEST_PREFIX = "sha256:"


def statements_digest(statements: Sequence[Statement]) -> str:
    """The SHA-256 of a statement list, normalised: each statement as its significant tokens
    (kind and source text, hints included), so whitespace and comments do not count and every
    other edit does. What the validator verified and what a runner submits compare by it."""
    canonical = json.dumps(
        [[[t.kind.value, t.text] for t in st.tokens] for st in statements],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return DIGEST_PREFIX + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def script_digest(script: str) -> str:
    """`statements_digest` of a script read strictly (raises LexError when it does not lex)."""
    return statements_digest(split_statements(script))
