"""`${` appears nowhere in a request (docs/request-format-decisions.md, "Secret references").

The deployer replaces every `${secret:<name>}` in the statements it submits by the value of
that secret, wherever it stands: in an option value, a string literal of a mapping, a column
comment. A request that could write one would copy another team's secret into its own rows.
The format gives a request no place for it: the generator writes the references itself (for
credential options, from the profile). So each `${` is an error, with its block and line:

- as written, on every line of the document (prose, headings, every block) and of a sidecar
  cases file;
- as decoded, where an escape can spell it without the two characters standing side by side:
  YAML strings (`"\\x24{secret:x}"`) and, inside YAML strings and DDL, SQL literals
  (`U&'\\0024{secret:x}'`, `E'...'`), which the generator re-quotes as plain text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from services.flinksql.lexer import TokenKind, tokenize
from services.ingest.domain import yaml_safe
from services.ingest.domain.document import FencedBlock, checkpoint, split_lines
from services.ingest.domain.errors import Issues
from services.ingest.domain.parse import PAYLOAD_BLOCK, RawDocument

OPEN = "${"
CODE = "secrets.reference"
_SHOWN = re.compile(r"\$\{[^}\s]{0,60}\}?")
# Only these spell text by escapes in SQL: U&'...' (and its UESCAPE) and E'...'.
_SQL_ESCAPES = re.compile(r"[uU]&'|(?<![A-Za-z0-9_$])[eE]'")
_HINT = (
    "remove it: a request never names a secret. Credential options (password, token, ...) get a "
    "secret reference from the generator and the profile (docs/generated-job.md, Secrets)"
)
_MESSAGE = (
    "'${{' (column {column}) is not allowed in a request: the deployer would replace a secret reference here"
)
_MESSAGE_DECODED = (
    "'${' spelled with escapes is not allowed in a request: the deployer would replace a secret "
    "reference here"
)


def check_secret_references(text: str, raw: RawDocument, issues: Issues) -> None:
    """Each `${` in the document, as written and as decoded, is an error."""
    lines = split_lines(text)
    reported = _report_lines(lines, lambda number: _block_of(raw, number), issues)
    for key, part in raw.yaml.items():
        _report_decoded_yaml(part.doc, key, reported, issues)
    for ddl in [*raw.dimensions, *([raw.result] if raw.result is not None else [])]:
        _report_decoded_sql(ddl.block.content, ddl.block.content_line, ddl.label, reported, issues)


def check_sidecar_secret_references(
    cases_text: str, doc: yaml_safe.YamlDocument | None, issues: Issues
) -> None:
    """The same rule for a sidecar cases file (its own lines; `issues` carries source "cases").

    `doc` is the file's YAML as the cases check loaded it, None when it is unsafe (reported there).
    """
    reported = _report_lines(split_lines(cases_text), lambda _: "cases", issues)
    if doc is not None:
        _report_decoded_yaml(doc, "cases", reported, issues)


def _report_lines(lines: list[str], block_of: Any, issues: Issues) -> set[int]:
    reported: set[int] = set()
    for number, line in enumerate(lines, start=1):
        checkpoint()
        if OPEN not in line:
            continue
        for match in _SHOWN.finditer(line):
            reported.add(number)
            issues.error(
                CODE,
                _MESSAGE.format(column=match.start() + 1),
                block=block_of(number),
                line=number,
                name=match.group(0),
                hint=_HINT,
            )
    return reported


def _report_decoded_yaml(doc: yaml_safe.YamlDocument, block: str, reported: set[int], issues: Issues) -> None:
    for path, value in _strings(doc.value, ()):
        checkpoint()
        if OPEN not in value and not any(OPEN in v for v in _sql_values(value)):
            continue
        line = doc.line_of(*path)
        if any(n in reported for n in range(line, line + value.count("\n") + 2)):
            continue  # written as is: the line is reported already
        issues.error(CODE, _MESSAGE_DECODED, block=block, line=line, name=_name(path, value), hint=_HINT)
        reported.add(line)


def _report_decoded_sql(sql: str, first_line: int, block: str, reported: set[int], issues: Issues) -> None:
    if not _SQL_ESCAPES.search(sql):
        return  # without an escape, a literal holding `${` holds it as written (reported by line)
    for token in tokenize(sql, strict=False):
        if token.kind not in (TokenKind.STRING, TokenKind.IDENT) or OPEN not in token.value:
            continue
        line = first_line + token.line - 1
        span = range(line, line + len(re.findall(r"\r\n|\r|\n", token.text)) + 1)
        if not any(n in reported for n in span):
            issues.error(CODE, _MESSAGE_DECODED, block=block, line=line, name=token.text[:60], hint=_HINT)


def _sql_values(text: str) -> Iterator[str]:
    """The values of the SQL literals and quoted names in `text`, when an escape can spell them."""
    if "'" not in text or not _SQL_ESCAPES.search(text):
        return
    for token in tokenize(text, strict=False):
        if token.kind in (TokenKind.STRING, TokenKind.IDENT):
            yield token.value


def _strings(value: object, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every string of a YAML value with its path: mapping keys and scalars alike."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key), str(key)
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))


def _name(path: tuple[str | int, ...], value: str) -> str:
    where = ".".join(str(p) for p in path)
    return where or value[:60]


def _block_of(raw: RawDocument, line: int) -> str:
    """The block a document line belongs to: its YAML key, DDL label, the payload class, ..."""
    for block in raw.scanned.blocks:
        if block.fence_line <= line <= block.fence_line + block.content.count("\n") + 2:
            return _label(raw, block)
    heading = next((h for h in reversed(raw.scanned.headings) if h.line <= line), None)
    return heading.text if heading is not None else "document"


def _label(raw: RawDocument, block: FencedBlock) -> str:
    for key, part in raw.yaml.items():
        if part.fence_line == block.fence_line:
            return key
    for ddl in [*raw.dimensions, *([raw.result] if raw.result is not None else [])]:
        if ddl.block.fence_line == block.fence_line:
            return ddl.label
    if raw.java is not None and raw.java.fence_line == block.fence_line:
        return PAYLOAD_BLOCK
    if raw.er is not None and raw.er.fence_line == block.fence_line:
        return "ER diagram"
    return block.language or "markdown"
