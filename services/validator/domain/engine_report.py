"""What the Flink engine reports: per-statement plan results, errors placed in the script.

An engine error arrives as a chain of (exception class, message) pairs, the Java exception
and its causes (the adapter reads the chain off the exception). `error_of` picks the
planner's own exception, maps Flink's position back to the script line, and trims the text;
`failure_text` is the one-line form a case result carries. `parse_advice` reads the
`advice[N]` entries of an EXPLAIN PLAN_ADVICE output. Pure: no engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.flinksql.statements import Statement, error_position
from services.validator.domain.connector_swap import OptionSwap

Chain = Sequence[tuple[str, str]]  # (simple class name, message) of an exception and its causes


@dataclass(frozen=True, slots=True)
class EngineError:
    """An engine error, positioned in the original script where Flink gave a position."""

    message: str
    exception: str  # Java class, e.g. ValidationException
    statement_index: int
    line: int  # script line (the statement's first line when Flink gave none)
    column: int | None
    detail: str = ""  # the cause chain, trimmed


@dataclass(frozen=True, slots=True)
class StatementResult:
    index: int
    kind: str
    line: int
    end_line: int
    ok: bool
    error: EngineError | None = None
    plan: str | None = None  # EXPLAIN PLAN_ADVICE text of an INSERT / query
    advice: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PlanReport:
    statements: tuple[StatementResult, ...]
    swaps: tuple[OptionSwap, ...]
    settings: tuple[tuple[str, str], ...]  # SETs applied, in order
    jars_loaded: bool
    seconds: float
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.statements)

    @property
    def errors(self) -> list[EngineError]:
        return [s.error for s in self.statements if s.error is not None]

    @property
    def advice(self) -> list[str]:
        return [a for s in self.statements for a in s.advice]


def error_of(chain: Chain, st: Statement, *, line_offset: int = 0) -> EngineError:
    """The error of `st` from its exception chain; `line_offset` lines were sent before the
    statement's text."""
    exception, message = chain[0]
    for cls, msg in chain:  # prefer the planner's own exception class over wrappers
        if cls in ("ValidationException", "SqlParserException", "TableException"):
            exception, message = cls, msg
            break
    position = None
    for _cls, msg in chain:
        position = error_position(msg)
        if position is not None:
            break
    if position is not None and position[0] > line_offset:
        line, column = st.script_position(position[0] - line_offset, position[1])
    else:
        line, column = st.line, None
    first = trim(message)
    detail = "\n".join(f"{c}: {trim(m)}" for c, m in chain[1:4])
    return EngineError(first, exception, st.index, line, column, detail)


def failure_text(chain: Chain) -> str:
    """A failed case run's exception chain in one line: the planner's exception, the root cause."""
    cls, msg = chain[0]
    for c, m in chain:
        if c in ("ValidationException", "SqlParserException", "TableException"):
            cls, msg = c, m
            break
    root = chain[-1]
    text = f"{cls}: {trim(msg, 400)}"
    if root[1] and root[1] not in msg:
        text += f" (cause: {root[0]}: {trim(root[1], 300)})"
    return text


def trim(message: str, limit: int = 600) -> str:
    text = message.split("\nWas expecting", 1)[0].strip()
    return text if len(text) <= limit else text[:limit] + "..."


def parse_advice(explained: str) -> tuple[str, ...]:
    """The `advice[N]: [KIND] ...` entries of an EXPLAIN PLAN_ADVICE output."""
    out: list[str] = []
    current: list[str] | None = None
    for line in explained.splitlines():
        if line.startswith("advice["):
            if current:
                out.append(" ".join(current).strip())
            current = [line]
        elif current is not None and line.strip() and not line.startswith("=="):
            current.append(line.strip())
        else:
            if current:
                out.append(" ".join(current).strip())
            current = None
    if current:
        out.append(" ".join(current).strip())
    return tuple(out)


__all__ = [
    "EngineError",
    "PlanReport",
    "StatementResult",
    "error_of",
    "failure_text",
    "parse_advice",
    "trim",
]
