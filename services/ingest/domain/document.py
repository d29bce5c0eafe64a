"""Input-level checks and markdown scanning: fenced blocks, ATX headings and the sections they open.

Line numbers are 1-based line numbers of the whole document. Only what request-format.md §1 needs
is recognised: fenced code blocks (``` and ~~~, CommonMark rules) and `#` headings outside them.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from services.ingest.domain.errors import Issues

MAX_DOCUMENT_BYTES = 1_048_576
# Longest line the checker reads (docs/security.md, Input limits): far above any real request line,
# far below what a hostile line needs to cost time. Applies to every line, fenced or not.
MAX_LINE_CHARS = 10_000

_FENCE_OPEN = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")
_HEADING = re.compile(r"^ {0,3}(#{1,6})(?=[^#]|$)(.*)$")
# A CommonMark HTML block of kind 2: a line starting `<!--` (up to 3 spaces in) opens it, the
# first line holding `-->` after that ends it. Nothing inside is rendered, so nothing inside
# defines the job (request-format.md §1): blocks and headings there are ignored, with a warning.
_COMMENT_OPEN = re.compile(r"^ {0,3}<!--")
_DIMENSION_HEADING = re.compile(r"^(?:维表|dimension(?:\s+table)?)\s*(\d+)\s*:\s*(.*)$")
_RESULT_HEADING = re.compile(r"^(?:结果表配置|结果表|result\s+tables?)(?:\s*:\s*(.*))?(?:\s|$)")
_TABLE_NAME_HEADING = re.compile(r"^(?:表名|table(?:\s+name)?)\s*:\s*(.*)$")


class CheckBudgetExceeded(BaseException):
    """The wall-clock budget of one check ran out.

    A BaseException on purpose: `check_document` turns every `Exception` into `internal.error`,
    and this must reach the caller that set the budget (see `check_budget`).
    """


_deadline: ContextVar[float | None] = ContextVar("check_deadline", default=None)


@contextmanager
def check_budget(seconds: float) -> Iterator[None]:
    """Within the block, `checkpoint()` raises CheckBudgetExceeded once `seconds` have passed."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def checkpoint() -> None:
    """Cooperative budget check: cheap, called per line by the lexers and per part by the parser."""
    deadline = _deadline.get()
    if deadline is not None and time.monotonic() > deadline:
        raise CheckBudgetExceeded


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    normalized: str
    line: int


@dataclass(frozen=True)
class FencedBlock:
    language: str
    content: str
    fence_line: int
    closed: bool
    headings: tuple[Heading, ...] = ()

    @property
    def content_line(self) -> int:
        """The document line of the first content line (the line after the opening fence)."""
        return self.fence_line + 1


@dataclass
class ScannedDocument:
    text: str
    blocks: list[FencedBlock] = field(default_factory=list)
    headings: list[Heading] = field(default_factory=list)
    notes: list[tuple[Heading | None, str]] = field(default_factory=list)


def check_input(text: str, issues: Issues) -> bool:
    """Run the input-level checks of §6; False when the text must not be parsed at all."""
    if len(text) * 4 > MAX_DOCUMENT_BYTES and len(text.encode("utf-8", "surrogatepass")) > MAX_DOCUMENT_BYTES:
        _too_large(issues)
        return False
    if "\x00" in text or _has_lone_surrogate(text):
        _binary(issues)
        return False
    if not text.strip():
        issues.error(
            "input.empty",
            "document is empty",
            block="document",
            line=None,
            hint="start from `streamwright init <domain>` and fill in the template",
        )
        return False
    return True


def decode_input(data: bytes, issues: Issues) -> str | None:
    """Size check, then strict UTF-8 decoding (a BOM is dropped); None (and an error) on failure."""
    if len(data) > MAX_DOCUMENT_BYTES:
        _too_large(issues)
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        _binary(issues)
        return None


def _too_large(issues: Issues) -> None:
    issues.error(
        "input.too_large",
        f"document is too large (more than {MAX_DOCUMENT_BYTES} bytes)",
        block="document",
        line=None,
        hint="split the request or move bulky notes and cases out of the document",
    )


def _binary(issues: Issues) -> None:
    issues.error(
        "input.binary",
        "document looks binary (NUL byte or invalid UTF-8)",
        block="document",
        line=None,
        hint="submit the request as UTF-8 markdown text",
    )


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def split_lines(text: str) -> list[str]:
    """Lines of the document; `\\r\\n`, `\\r` and `\\n` all end a line."""
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")


def normalize_heading(text: str) -> str:
    """Heading text without leading emoji, symbols, numbering and spaces; NFKC, casefolded."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    start = 0
    while start < len(folded) and not unicodedata.category(folded[start]).startswith("L"):
        start += 1
    return " ".join(folded[start:].split())


def scan(text: str, issues: Issues) -> ScannedDocument:
    """Find fenced blocks and headings; an unterminated fence is an error (block ends at EOF)."""
    lines = split_lines(text)
    doc = ScannedDocument(text=text)
    stack: list[Heading] = []
    note_lines: list[str] = []
    index = 0
    while index < len(lines):
        raw = lines[index]
        checkpoint()
        if len(raw) > MAX_LINE_CHARS:
            line_too_long(index + 1, len(raw), "document", issues)
            index += 1
            continue
        if _COMMENT_OPEN.match(raw):
            index = _skip_comment(lines, index, issues)
            continue
        opening = _FENCE_OPEN.match(raw)
        if opening and not (opening.group(2)[0] == "`" and "`" in opening.group(3)):
            block, index = _read_fence(lines, index, opening, tuple(stack), issues)
            doc.blocks.append(block)
            if not block.closed:
                issues.error(
                    "markdown.unterminated_fence",
                    f"fenced `{block.language or 'code'}` block is never closed",
                    block=block.language or "markdown",
                    line=block.fence_line,
                    hint=f"close the block with a line holding only {opening.group(2)}",
                )
            continue
        heading = _parse_heading(raw, index + 1)
        if heading is not None:
            _flush_notes(doc, stack, note_lines)
            while stack and stack[-1].level >= heading.level:
                stack.pop()
            stack.append(heading)
            doc.headings.append(heading)
        elif raw.strip():
            note_lines.append(raw.rstrip())
        index += 1
    _flush_notes(doc, stack, note_lines)
    return doc


def _skip_comment(lines: list[str], start: int, issues: Issues) -> int:
    """The index after the HTML comment opened at `start`; a warning when it hides request parts."""
    first = lines[start]
    end = start
    if "-->" not in first[first.index("<!--") + 4 :]:
        end = start + 1
        while end < len(lines) and "-->" not in lines[end]:
            end += 1
    closed = end < len(lines)
    hidden: list[tuple[int, str]] = []
    fence: str | None = None  # the marker of the fence open inside the comment
    for number, line in enumerate(lines[start : end + 1], start=start + 1):
        opening = _FENCE_OPEN.match(line)
        if fence is not None:
            if line.strip().startswith(fence):
                fence = None
        elif opening:
            fence = opening.group(2)
            language = opening.group(3).strip().split(" ")[0]
            hidden.append((number, f"a {fence}{language} block"))
        elif _HEADING.match(line):
            hidden.append((number, "a heading"))
    if hidden or not closed:
        span = f"lines {start + 1}-{end + 1}" if closed else f"line {start + 1} to the end"
        what = ", ".join(f"{kind} at line {number}" for number, kind in hidden[:3]) or "text"
        issues.warning(
            "markdown.hidden_by_comment",
            f"an HTML comment ({span}) hides {what}{' and more' if len(hidden) > 3 else ''}: "
            "comments are not rendered, so their content is ignored and does not define the job"
            + ("" if closed else "; the comment is never closed (no `-->`)"),
            block="markdown",
            line=start + 1,
            hint="delete the comment, or move what it holds out of it if it belongs to the request"
            + ("" if closed else "; close the comment with `-->`"),
        )
    return end + 1


def _flush_notes(doc: ScannedDocument, stack: list[Heading], note_lines: list[str]) -> None:
    if note_lines:
        doc.notes.append((stack[-1] if stack else None, "\n".join(note_lines)))
        note_lines.clear()


def line_too_long(line: int, length: int, block: str, issues: Issues) -> None:
    issues.error(
        "input.line_too_long",
        f"line is {length} characters long; the limit is {MAX_LINE_CHARS}",
        block=block,
        line=line,
        hint=f"break the line up: no line of a request may be longer than {MAX_LINE_CHARS} characters",
    )


def _read_fence(
    lines: list[str],
    start: int,
    opening: re.Match[str],
    headings: tuple[Heading, ...],
    issues: Issues,
) -> tuple[FencedBlock, int]:
    indent = len(opening.group(1))
    marker = opening.group(2)
    info = opening.group(3).strip()
    language = info.split()[0].casefold() if info else ""
    closing = re.compile(r"^ {0,3}" + re.escape(marker[0]) + "{" + str(len(marker)) + r",}\s*$")
    body: list[str] = []
    index = start + 1
    while index < len(lines):
        checkpoint()
        if len(lines[index]) > MAX_LINE_CHARS:
            line_too_long(index + 1, len(lines[index]), language or "markdown", issues)
            body.append("")  # keeps the block's line numbers; the document is rejected anyway
            index += 1
            continue
        if closing.match(lines[index]):
            block = FencedBlock(language, "\n".join(body), start + 1, True, headings)
            return block, index + 1
        body.append(_strip_indent(lines[index], indent))
        index += 1
    return FencedBlock(language, "\n".join(body), start + 1, False, headings), index


def _strip_indent(line: str, indent: int) -> str:
    removable = len(line) - len(line.lstrip(" "))
    return line[min(indent, removable) :]


def _parse_heading(raw: str, line: int) -> Heading | None:
    match = _HEADING.match(raw)
    if match is None:
        return None
    text = _without_closing_hashes(match.group(2)).strip()
    return Heading(len(match.group(1)), text, normalize_heading(text), line)


def _without_closing_hashes(text: str) -> str:
    """Drop an optional closing `#` sequence (CommonMark: alone, or after a space) in linear time.

    Same result as `re.sub(r"(?:^|\\s+)#+\\s*$", "", text)`, which is quadratic on long runs of
    spaces: the regex retries every start of a whitespace run.
    """
    trimmed = text.rstrip()
    body = trimmed.rstrip("#")
    if body == trimmed:
        return text
    if not body:
        return ""
    if body[-1].isspace():
        return body.rstrip()
    return text


@dataclass(frozen=True)
class DimensionHeading:
    number: int
    table: str
    heading: Heading


def dimension_heading(heading: Heading) -> DimensionHeading | None:
    """`维表N: <table>`, `Dimension N: <table>` or `Dimension table N: <table>`."""
    match = _DIMENSION_HEADING.match(heading.normalized)
    if match is None:
        return None
    table = _first_name(_original_tail(heading.text))
    return DimensionHeading(int(match.group(1)), table, heading)


def is_result_heading(heading: Heading) -> bool:
    return _RESULT_HEADING.match(heading.normalized) is not None


def result_table_name(heading: Heading) -> str | None:
    """The `<x>` of `表名: x` / `Table: x` (or of `Result table: x`), as written."""
    if _TABLE_NAME_HEADING.match(heading.normalized) or (
        is_result_heading(heading) and ":" in unicodedata.normalize("NFKC", heading.text)
    ):
        return _first_name(_original_tail(heading.text))
    return None


def _original_tail(text: str) -> str:
    """The text after the first colon (ASCII or full-width), with the original case kept."""
    normalized = unicodedata.normalize("NFKC", text)
    return normalized.split(":", 1)[1] if ":" in normalized else ""


def _first_name(tail: str) -> str:
    """The first word of a heading tail, backquotes removed, last part of a qualified name."""
    words = tail.replace("（", " (").split()
    word = words[0] if words else ""
    word = word.split("(")[0].rstrip(",;，；")
    parts = [part.strip("`\"'") for part in word.split(".")] if word else [""]
    return parts[-1]
