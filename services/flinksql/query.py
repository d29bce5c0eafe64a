"""Reading the parts of INSERT, SELECT and CREATE VIEW/FUNCTION statements the services need.

Which table an INSERT writes, which tables a query reads (and which of them as lookups), the
name a CREATE VIEW / FUNCTION makes, and a rewrite that turns lookup joins into regular joins.
All token-based (kernel lexer, lenient), never substring matching.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.flinksql.lexer import Token, TokenKind, significant, tokenize


def _tokens(text: str) -> list[Token]:
    """Significant tokens without hints (a hint never names a table or a target)."""
    return [t for t in significant(tokenize(text, strict=False)) if t.kind is not TokenKind.HINT]


def read_name(tokens: Sequence[Token], i: int) -> tuple[tuple[str, ...], int]:
    """The (dotted) name starting at token `i` and the index after it; () when none is there."""
    parts: list[str] = []
    while i < len(tokens) and tokens[i].is_name:
        parts.append(tokens[i].value)
        i += 1
        if i + 1 < len(tokens) and tokens[i].is_symbol(".") and tokens[i + 1].is_name:
            i += 1
            continue
        break
    return tuple(parts), i


def closing(tokens: Sequence[Token], i: int) -> int:
    """Index of the `)` closing the `(` at `i` (the last index when unbalanced)."""
    depth = 0
    for j in range(i, len(tokens)):
        if tokens[j].is_symbol("("):
            depth += 1
        elif tokens[j].is_symbol(")"):
            depth -= 1
            if depth == 0:
                return j
    return len(tokens) - 1


@dataclass(frozen=True, slots=True)
class TableRef:
    name_parts: tuple[str, ...]
    lookup: bool  # read with FOR SYSTEM_TIME AS OF

    @property
    def name(self) -> str:
        return self.name_parts[-1]


def insert_target(text: str) -> tuple[str, ...] | None:
    """Name parts of the table an `INSERT INTO|OVERWRITE` writes; None when there is none."""
    sig = _tokens(text)
    for k, tok in enumerate(sig[:-1]):
        if tok.upper == "INSERT" and sig[k + 1].upper in ("INTO", "OVERWRITE"):
            j = k + 2
            if j < len(sig) and sig[j].upper == "TABLE":
                j += 1
            return read_name(sig, j)[0] or None
    return None


_NOT_TABLES = frozenset({"LATERAL", "UNNEST", "TABLE", "SELECT"})


def table_references(text: str) -> list[TableRef]:
    """Tables named after FROM / JOIN, in order, marking those read as lookups."""
    sig = _tokens(text)
    refs: list[TableRef] = []
    for k, tok in enumerate(sig[:-1]):
        if tok.upper not in ("FROM", "JOIN"):
            continue
        nxt = sig[k + 1]
        if not nxt.is_name or nxt.upper in _NOT_TABLES:
            continue
        parts, j = read_name(sig, k + 1)
        lookup = [t.upper for t in sig[j : j + 4]] == ["FOR", "SYSTEM_TIME", "AS", "OF"]
        refs.append(TableRef(parts, lookup))
    return refs


def strip_for_system_time(text: str) -> tuple[str, int]:
    """Remove every `FOR SYSTEM_TIME AS OF <time expr>` (a lookup becomes a regular join).

    The time expression is a (qualified) name, optionally called: `e.proc_time`, `PROCTIME()`.
    Returns the new text and how many clauses were removed. Line breaks are kept.
    """
    sig = _tokens(text)
    cuts: list[tuple[int, int]] = []
    k = 0
    while k < len(sig) - 4:
        if [t.upper for t in sig[k : k + 4]] != ["FOR", "SYSTEM_TIME", "AS", "OF"]:
            k += 1
            continue
        _, j = read_name(sig, k + 4)
        if j < len(sig) and sig[j].is_symbol("("):
            j = closing(sig, j) + 1
        j = max(j, k + 4)
        cuts.append((sig[k].start, sig[j - 1].end))
        k = j
    out, pos = [], 0
    for begin, end in cuts:
        out.append(text[pos:begin])
        out.append("\n" * text.count("\n", begin, end))
        pos = end
    out.append(text[pos:])
    return "".join(out), len(cuts)


def created_object(text: str) -> tuple[tuple[str, ...] | None, bool]:
    """Name parts of the view / function a CREATE statement makes, and whether it is a system
    function (global: outside every database). (None, False) when the name is unreadable."""
    sig = _tokens(text)
    words = [t.upper for t in sig]
    at = next((i for i, w in enumerate(words) if w in ("VIEW", "FUNCTION")), None)
    if at is None:
        return None, False
    system = "SYSTEM" in words[:at]
    i = at + 1
    if words[i : i + 3] == ["IF", "NOT", "EXISTS"]:
        i += 3
    parts, _ = read_name(sig, i)
    return (parts or None), system
