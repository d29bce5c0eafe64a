"""Which statements a job script may hold: decided before anything reaches the engine.

The validator plans a script statement by statement on a real Flink engine (`Engine.plan`), and
planning a DDL or a SET executes it there. So a script (a hand-written `validate --sql`, a
gRPC `ValidateSql`, an LLM repair) is read first, with the kernel's splitter exactly as the
engine will read it (leniently), and is not planned at all when it holds a statement outside
the allow-list:

- `CREATE [TEMPORARY] TABLE` with a column list (not `... AS SELECT`: that runs a job),
- `CREATE [TEMPORARY] VIEW`,
- `SET` of a key that only tunes the job (`services.flinksql.job_policy.safe_set_key`: no
  `pipeline.jars`, `python.*` or other key that would load code into the validator's engine),
- `INSERT` (`INSERT INTO|OVERWRITE`, `EXECUTE INSERT`),
- `EXECUTE STATEMENT SET BEGIN ... END` whose members are all INSERTs.

Everything else (DROP, ALTER, ADD JAR, CREATE FUNCTION / CATALOG / DATABASE, LOAD MODULE, USE,
RESET, a bare SELECT, EXPLAIN, SHOW, the SQL client's `BEGIN STATEMENT SET;` ... `END;`) is
refused. Hints (`/*+ ... */`) are reported, not refused: an `OPTIONS(...)` hint overrides a
table's connector options at run time, out of sight of its DDL.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from services.flinksql.job_policy import safe_set_key
from services.flinksql.lexer import TokenKind
from services.flinksql.statements import (
    Statement,
    StatementKind,
    parse_set,
    split_statements,
    statement_set_members,
)

ALLOWED_KINDS = frozenset(
    {
        StatementKind.CREATE_TABLE,
        StatementKind.CREATE_VIEW,
        StatementKind.SET,
        StatementKind.INSERT,
        StatementKind.STATEMENT_SET,
    }
)
ALLOWED_TEXT = "CREATE [TEMPORARY] TABLE, CREATE [TEMPORARY] VIEW, SET, INSERT and EXECUTE STATEMENT SET"
_OPTIONS_HINT = re.compile(r"(?:/\*\+|,)\s*OPTIONS\s*\(", re.IGNORECASE)
MAX_HINT_TEXT = 200


@dataclass(frozen=True, slots=True)
class Refusal:
    """A statement the validator will not plan: its 1-based number, line and kind."""

    number: int
    line: int
    kind: str  # the kernel's StatementKind value, or "CREATE_TABLE AS" / "STATEMENT_SET member DROP"
    text: str  # the statement's first words, for the message


@dataclass(frozen=True, slots=True)
class Hint:
    """A `/*+ ... */` hint: the statement (1-based), the hint's line, its text, OPTIONS or not."""

    number: int
    line: int
    kind: str
    text: str
    options: bool


def statements(sql: str) -> list[Statement]:
    """The statements as the engine reads them (lenient: an unterminated literal runs to the end)."""
    return split_statements(sql, strict=False)


def refused_statements(sql: str | Sequence[Statement]) -> list[Refusal]:
    """Each statement outside the allow-list, in script order (empty: the script may be planned)."""
    script = statements(sql) if isinstance(sql, str) else sql
    out: list[Refusal] = []
    for st in script:
        kind = _refused_kind(st)
        if kind is not None:
            out.append(Refusal(st.index + 1, _line(st, kind), kind, _shown(st)))
    return out


def hints(sql: str | Sequence[Statement]) -> list[Hint]:
    """Every hint of the script, with its statement."""
    script = statements(sql) if isinstance(sql, str) else sql
    return [
        Hint(
            number=st.index + 1,
            line=token.line,
            kind=st.kind.value,
            text=token.text if len(token.text) <= MAX_HINT_TEXT else token.text[:MAX_HINT_TEXT] + "…",
            options=bool(_OPTIONS_HINT.search(token.text)),
        )
        for st in script
        for token in st.tokens
        if token.kind is TokenKind.HINT
    ]


def _refused_kind(st: Statement) -> str | None:
    if st.kind not in ALLOWED_KINDS:
        return st.kind.value
    if st.kind is StatementKind.SET:
        try:
            setting = parse_set(st.text)
        except ValueError:
            return None  # the engine names a malformed SET
        if setting is not None and not safe_set_key(setting[0]):
            # Planning a SET applies it to the validator's engine: `pipeline.jars`, `python.*` and
            # the like would load code there.
            return f"SET {setting[0]}"
    if st.kind is StatementKind.CREATE_TABLE and _creates_as_query(st):
        return "CREATE_TABLE AS"
    if st.kind is StatementKind.STATEMENT_SET:
        for member in statement_set_members(st):
            if member.kind is not StatementKind.INSERT:
                return f"STATEMENT_SET member {member.kind.value}"
    return None


def _creates_as_query(st: Statement) -> bool:
    """`CREATE [OR REPLACE] TABLE t [(...)] [WITH (...)] AS <query>`: an AS outside parentheses."""
    depth = 0
    for token in st.tokens[2:]:
        if token.is_symbol("("):
            depth += 1
        elif token.is_symbol(")"):
            depth -= 1
        elif depth == 0 and token.is_word("AS"):
            return True
    return False


def _line(st: Statement, kind: str) -> int:
    """The statement's line, or its first refused member's (found by offset: the kernel's member
    lines do not count the line breaks of the `EXECUTE STATEMENT SET ... BEGIN` header)."""
    if not kind.startswith("STATEMENT_SET member"):
        return st.line
    for member in statement_set_members(st):
        if member.kind is not StatementKind.INSERT:
            offset = st.start + member.start
            return next((t.line for t in st.tokens if t.start == offset), st.line)
    return st.line


def _shown(st: Statement) -> str:
    words = " ".join(t.text for t in st.tokens[:4])
    return words if len(st.tokens) <= 4 else words + " …"
