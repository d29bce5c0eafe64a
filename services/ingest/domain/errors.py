"""Issues found in a request document, and the collector that gathers all of them at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict

Severity = Literal["error", "warning", "info"]
# Issues listed per severity; the rest are counted in one summary issue. A hostile document under
# the size caps can produce half a million errors: listing them all made replies and events of
# tens of MB (past gRPC's 4 MB and Kafka's message limits). 200 is far more than anyone reads.
MAX_LISTED_ISSUES = 200
TOO_MANY_ISSUES = "input.too_many_issues"


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
        self._listed: dict[str, int] = {}
        self._unlisted: dict[str, int] = {}  # severity -> issues past MAX_LISTED_ISSUES

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
        if issue in self._seen:
            return
        if self._listed.get(issue.severity, 0) >= MAX_LISTED_ISSUES:
            self._unlisted[issue.severity] = self._unlisted.get(issue.severity, 0) + 1
            return
        self._seen.add(issue)
        self._items.append(issue)
        self._listed[issue.severity] = self._listed.get(issue.severity, 0) + 1

    def discard(self, drop: Callable[[Issue], bool]) -> None:
        """Forget the listed issues `drop` selects (follow-ons of an error reported elsewhere)."""
        kept = [i for i in self._items if not drop(i)]
        for issue in self._items:
            if drop(issue):
                self._seen.discard(issue)
                self._listed[issue.severity] -= 1
        self._items = kept

    def extend(self, other: Issues) -> None:
        for issue in other._items:
            self._keep(issue)
        for severity, count in other._unlisted.items():
            self._unlisted[severity] = self._unlisted.get(severity, 0) + count

    def all(self) -> list[Issue]:
        return [*self._items, *self._summaries(("error", "warning", "info"))]

    @property
    def errors(self) -> list[Issue]:
        listed = sorted((i for i in self._items if i.severity == "error"), key=_order)
        return [*listed, *self._summaries(("error",))]

    @property
    def warnings(self) -> list[Issue]:
        listed = sorted((i for i in self._items if i.severity != "error"), key=_order)
        return [*listed, *self._summaries(("warning", "info"))]

    def has_errors(self) -> bool:
        return any(i.severity == "error" for i in self._items)

    def _summaries(self, severities: tuple[Severity, ...]) -> list[Issue]:
        """One issue per severity with unlisted ones: how many, and that the first are listed."""
        return [
            Issue(
                code=TOO_MANY_ISSUES,
                severity=severity,
                message=f"{self._unlisted[severity]} more {severity}(s) not listed "
                f"(only the first {MAX_LISTED_ISSUES} of each severity are)",
                block="document",
                line=None,
                hint="fix the listed ones and check again",
                source=self._source,
            )
            for severity in severities
            if self._unlisted.get(severity)
        ]


def _order(issue: Issue) -> tuple[int, int]:
    return (0 if issue.source == "document" else 1, issue.line if issue.line is not None else 0)
