"""Issues found in a request document, and the collector that gathers all of them at once."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Severity = Literal["error", "warning", "info"]


class Issue(BaseModel):
    """One problem in a request document: what, where (block, 1-based line, name) and how to fix it."""

    model_config = ConfigDict(frozen=True)

    code: str
    severity: Severity
    message: str
    block: str
    line: int | None = None
    name: str | None = None
    hint: str
    source: Literal["document", "cases"] = "document"

    def render(self) -> str:
        """The one-line form the CLI prints: `<line>: [<block>] <message> (<name>) — hint: <hint>`."""
        where = str(self.line) if self.line is not None else "-"
        name = f" ({self.name})" if self.name else ""
        return f"{where}: [{self.block}] {self.message}{name} — hint: {self.hint}"


class Issues:
    """Collects errors and warnings so a check can report every problem in one pass."""

    def __init__(self, source: Literal["document", "cases"] = "document") -> None:
        self._items: list[Issue] = []
        self._seen: set[Issue] = set()  # the same issue twice is reported once (a set: linear)
        self._source: Literal["document", "cases"] = source

    def error(
        self, code: str, message: str, *, block: str, line: int | None, name: str | None = None, hint: str
    ) -> None:
        self._add(code, "error", message, block=block, line=line, name=name, hint=hint)

    def warning(
        self, code: str, message: str, *, block: str, line: int | None, name: str | None = None, hint: str
    ) -> None:
        self._add(code, "warning", message, block=block, line=line, name=name, hint=hint)

    def _add(
        self,
        code: str,
        severity: Severity,
        message: str,
        *,
        block: str,
        line: int | None,
        name: str | None,
        hint: str,
    ) -> None:
        issue = Issue(
            code=code,
            severity=severity,
            message=message,
            block=block,
            line=line,
            name=name,
            hint=hint,
            source=self._source,
        )
        self._keep(issue)

    def _keep(self, issue: Issue) -> None:
        if issue not in self._seen:
            self._seen.add(issue)
            self._items.append(issue)

    def extend(self, other: Issues) -> None:
        for issue in other.all():
            self._keep(issue)

    def all(self) -> list[Issue]:
        return list(self._items)

    @property
    def errors(self) -> list[Issue]:
        return sorted((i for i in self._items if i.severity == "error"), key=_order)

    @property
    def warnings(self) -> list[Issue]:
        return sorted((i for i in self._items if i.severity != "error"), key=_order)

    def has_errors(self) -> bool:
        return any(i.severity == "error" for i in self._items)


def _order(issue: Issue) -> tuple[int, int]:
    return (0 if issue.source == "document" else 1, issue.line if issue.line is not None else 0)
