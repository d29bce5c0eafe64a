"""Document → raw parts (request-format.md §1): blocks found by fence language and YAML key."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from services.ingest.domain import yaml_safe
from services.ingest.domain.document import (
    DimensionHeading,
    FencedBlock,
    Heading,
    ScannedDocument,
    checkpoint,
    dimension_heading,
    is_result_heading,
    result_table_name,
    scan,
)
from services.ingest.domain.errors import Issues
from services.ingest.domain.mermaid import is_er_diagram

KNOWN_KEYS = ("job_info", "field_mapping", "join_relationships", "special_conditions", "cases")
RESULT_BLOCK = "result table"
PAYLOAD_BLOCK = "payload class"
_CREATE_TABLE = re.compile(r"\bcreate\s+(?:temporary\s+)?table\b", re.IGNORECASE)
_FIRST_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:")


@dataclass
class YamlPart:
    key: str
    value: Any
    doc: yaml_safe.YamlDocument
    fence_line: int

    def line_of(self, *path: str | int) -> int:
        return self.doc.line_of(self.key, *path)


@dataclass
class DdlPart:
    block: FencedBlock
    label: str
    dimension: DimensionHeading | None = None


@dataclass
class RawDocument:
    scanned: ScannedDocument
    yaml: dict[str, YamlPart] = field(default_factory=dict)
    java: FencedBlock | None = None
    dimension_headings: list[DimensionHeading] = field(default_factory=list)
    dimensions: list[DdlPart] = field(default_factory=list)
    result: DdlPart | None = None
    result_names: list[tuple[str, int]] = field(default_factory=list)
    er: FencedBlock | None = None
    # Known keys of YAML blocks that did not load (already reported): not "missing" as well.
    unreadable: set[str] = field(default_factory=set)


def parse_document(text: str, issues: Issues) -> RawDocument:
    """Split the document into its parts; missing and duplicated parts are reported here."""
    raw = RawDocument(scanned=scan(text, issues))
    raw.dimension_headings = [d for h in raw.scanned.headings if (d := dimension_heading(h))]
    raw.result_names = _result_names(raw.scanned.headings)
    for block in raw.scanned.blocks:
        checkpoint()
        if block.closed:
            _route(block, raw, issues)
    _require_parts(raw, issues)
    return raw


def _route(block: FencedBlock, raw: RawDocument, issues: Issues) -> None:
    if block.language in ("yaml", "yml"):
        _read_yaml(block, raw, issues)
    elif block.language == "java":
        if raw.java is not None:
            _duplicated(PAYLOAD_BLOCK, "keep one ```java block: the payload class", block.fence_line, issues)
        else:
            raw.java = block
    elif block.language == "sql" and _CREATE_TABLE.search(block.content):
        _read_ddl(block, raw, issues)
    elif block.language == "mermaid" and is_er_diagram(block.content):
        if raw.er is not None:
            issues.warning(
                "parts.duplicate_er_diagram",
                "second erDiagram block is ignored",
                block="ER diagram",
                line=block.fence_line,
                hint="keep one erDiagram block per request",
            )
        else:
            raw.er = block


def _read_yaml(block: FencedBlock, raw: RawDocument, issues: Issues) -> None:
    try:
        doc = yaml_safe.load(block.content, block.content_line)
    except yaml_safe.YamlProblem as problem:
        key = _guess_key(block.content)
        if key in KNOWN_KEYS:
            raw.unreadable.add(key)
        issues.error(
            "yaml.unsafe" if ("alias" in problem.message or "tag" in problem.message) else "yaml.invalid",
            problem.message,
            block=key,
            line=problem.line,
            name=problem.name,
            hint=_yaml_hint(problem.message),
        )
        return
    if not isinstance(doc.value, dict) or not doc.value:
        _unknown_block(block, "a YAML block without a top-level key is ignored", None, issues)
        return
    keys = list(doc.value)
    known = [k for k in keys if k in KNOWN_KEYS]
    if len(keys) > 1 and known:
        issues.error(
            "parts.several_keys",
            f"YAML block has {len(keys)} top-level keys; a request block has exactly one",
            block=known[0],
            line=block.content_line,
            name=", ".join(keys)[:80],
            hint="put each of job_info, field_mapping, join_relationships, ... in its own ```yaml block",
        )
        return
    if not known:
        _unknown_block(block, "YAML block with an unknown top-level key is ignored", keys[0], issues)
        return
    key = known[0]
    if key in raw.yaml:
        _duplicated(key, f"keep one ```yaml block with `{key}:` and merge the two", doc.line_of(key), issues)
        return
    raw.yaml[key] = YamlPart(key=key, value=doc.value[key], doc=doc, fence_line=block.fence_line)


def _unknown_block(block: FencedBlock, message: str, key: str | None, issues: Issues) -> None:
    issues.warning(
        "parts.unknown_yaml_key",
        message,
        block=key or "yaml",
        line=block.content_line,
        name=key,
        hint=f"known keys: {', '.join(KNOWN_KEYS)}",
    )


def _read_ddl(block: FencedBlock, raw: RawDocument, issues: Issues) -> None:
    owner = _owning_heading(block.headings)
    if isinstance(owner, DimensionHeading):
        label = owner.heading.text
        if any(d.dimension == owner for d in raw.dimensions):
            _duplicated(label, f"keep one CREATE TABLE under {label!r}", block.fence_line, issues)
            return
        raw.dimensions.append(DdlPart(block=block, label=label, dimension=owner))
    elif owner is not None:
        if raw.result is not None:
            _duplicated(
                RESULT_BLOCK,
                "keep one CREATE TABLE in the result table section; move other DDL out of it",
                block.fence_line,
                issues,
            )
            return
        raw.result = DdlPart(block=block, label=RESULT_BLOCK)
    else:
        issues.warning(
            "parts.stray_ddl",
            "CREATE TABLE outside a dimension heading and the result section is ignored",
            block="sql",
            line=block.fence_line,
            hint="put it under `### Dimension N: <table>` or in the `## Result table` section",
        )


def _owning_heading(headings: tuple[Heading, ...]) -> DimensionHeading | Heading | None:
    """The innermost enclosing heading that is a dimension heading or the result section."""
    for heading in reversed(headings):
        dimension = dimension_heading(heading)
        if dimension is not None:
            return dimension
        if is_result_heading(heading):
            return heading
    return None


def _result_names(headings: list[Heading]) -> list[tuple[str, int]]:
    names: list[tuple[str, int]] = []
    inside: Heading | None = None
    for heading in headings:
        if inside is not None and heading.level <= inside.level:
            inside = None
        if is_result_heading(heading):
            inside = heading
        if inside is not None and (name := result_table_name(heading)) is not None:
            names.append((name, heading.line))
    return names


def _require_parts(raw: RawDocument, issues: Issues) -> None:
    for key in ("job_info", "field_mapping"):
        if key not in raw.yaml and key not in raw.unreadable:
            _missing(key, f"```yaml block with top-level key `{key}:`", issues)
    if raw.java is None:
        _missing(PAYLOAD_BLOCK, "```java block with the payload class", issues)
    if raw.result is None:
        _missing(RESULT_BLOCK, "```sql CREATE TABLE block in the `## Result table` section", issues)
    joins = "join_relationships"
    if raw.dimension_headings and joins not in raw.yaml and joins not in raw.unreadable:
        _missing("join_relationships", "```yaml block with `join_relationships:` for the dimensions", issues)
    for dimension in raw.dimension_headings:
        if not any(d.dimension == dimension for d in raw.dimensions):
            issues.error(
                "parts.missing",
                "dimension heading has no CREATE TABLE block",
                block=dimension.heading.text,
                line=dimension.heading.line,
                name=dimension.table or None,
                hint="add a ```sql CREATE TABLE block under the heading, or remove the heading",
            )


def _missing(block: str, what: str, issues: Issues) -> None:
    issues.error(
        "parts.missing",
        f"required part {block} is missing",
        block=block,
        line=None,
        name=block,
        hint=f"add a {what}",
    )


def _duplicated(block: str, hint: str, line: int, issues: Issues) -> None:
    issues.error(
        "parts.duplicate",
        f"part {block} is duplicated",
        block=block,
        line=line,
        name=block,
        hint=hint,
    )


def _guess_key(content: str) -> str:
    for line in content.split("\n"):
        if line.strip() and not line.lstrip().startswith("#"):
            match = _FIRST_KEY.match(line)
            return match.group(1) if match else "yaml"
    return "yaml"


def _yaml_hint(message: str) -> str:
    if "alias" in message or "anchor" in message or "merge" in message:
        return "write the values out in full; anchors, aliases and merge keys are not allowed"
    if "tag" in message:
        return "remove the explicit tag (`!!...`); plain values are typed by YAML itself"
    if "duplicate" in message:
        return "remove or rename one of the duplicate keys"
    if "nesting" in message:
        return "flatten the structure; requests never need more than a few levels"
    return "fix the YAML syntax (indentation, quotes, colons) at that line"
