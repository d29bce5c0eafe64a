"""Mermaid `erDiagram` blocks: entities with attributes, relationships with cardinality and label."""

from __future__ import annotations

import re

from services.flinksql.spec import Cardinality, ErAttribute, ErDiagram, ErEntity, ErRelationship
from services.ingest.domain.errors import Issues

BLOCK = "ER diagram"

_NAME = r'(?:"[^"]+"|[A-Za-z_][\w-]*)(?:\s*\[[^\]]*\])?'
_ENTITY_OPEN = re.compile(rf"^({_NAME})\s*\{{\s*$")
_ENTITY_EMPTY = re.compile(rf"^({_NAME})\s*\{{\s*\}}\s*$")
_ENTITY_BARE = re.compile(rf"^({_NAME})\s*$")
_ATTRIBUTE = re.compile(r'^([\w()\[\],.<>*-]+)\s+([\w*-]+)((?:\s+(?:PK|FK|UK)\s*,?)*)\s*(?:"([^"]*)")?\s*$')
_RELATIONSHIP = re.compile(
    rf"^({_NAME})\s*(\|o|\|\||\}}o|\}}\|)(--|\.\.)(o\||\|\||o\{{|\|\{{)\s*({_NAME})\s*:\s*(.*)$"
)
_LEFT: dict[str, Cardinality] = {
    "|o": "zero_or_one",
    "||": "exactly_one",
    "}o": "zero_or_more",
    "}|": "one_or_more",
}
_RIGHT: dict[str, Cardinality] = {
    "o|": "zero_or_one",
    "||": "exactly_one",
    "o{": "zero_or_more",
    "|{": "one_or_more",
}


def is_er_diagram(content: str) -> bool:
    for line in content.split("\n"):
        text = line.strip()
        if text and not text.startswith("%%"):
            return text.split()[0] == "erDiagram"
    return False


def parse_er_diagram(content: str, first_line: int, issues: Issues) -> ErDiagram:
    """Parse an erDiagram block; lines that cannot be read get a warning and are skipped."""
    entities: list[ErEntity] = []
    relationships: list[ErRelationship] = []
    lines = content.split("\n")
    index = 0
    seen_header = False
    while index < len(lines):
        text = lines[index].strip()
        line = first_line + index
        index += 1
        if not text or text.startswith("%%"):
            continue
        if not seen_header:
            seen_header = text.split()[0] == "erDiagram"
            continue
        if match := _RELATIONSHIP.match(text):
            relationships.append(_relationship(match, line))
        elif match := _ENTITY_EMPTY.match(text) or _ENTITY_BARE.match(text):
            entities.append(ErEntity(name=_entity_name(match.group(1)), line=line))
        elif match := _ENTITY_OPEN.match(text):
            attributes, index = _attributes(lines, index, first_line, issues)
            entities.append(ErEntity(name=_entity_name(match.group(1)), attributes=attributes, line=line))
        else:
            _unreadable(text, line, issues)
    return ErDiagram(entities=tuple(_merge(entities)), relationships=tuple(relationships), line=first_line)


def _attributes(
    lines: list[str], index: int, first_line: int, issues: Issues
) -> tuple[tuple[ErAttribute, ...], int]:
    attributes: list[ErAttribute] = []
    while index < len(lines):
        text = lines[index].strip()
        line = first_line + index
        index += 1
        if text == "}":
            return tuple(attributes), index
        if not text or text.startswith("%%"):
            continue
        match = _ATTRIBUTE.match(text)
        if match is None:
            _unreadable(text, line, issues)
            continue
        keys = tuple(k for k in re.split(r"[\s,]+", match.group(3)) if k)
        attributes.append(
            ErAttribute(
                type=match.group(1), name=match.group(2), keys=keys, comment=match.group(4), line=line
            )
        )
    issues.warning(
        "er.unclosed_entity",
        "ER entity block is never closed with `}`",
        block=BLOCK,
        line=first_line + len(lines) - 1,
        hint="close every entity attribute block with `}`",
    )
    return tuple(attributes), index


def _relationship(match: re.Match[str], line: int) -> ErRelationship:
    label = match.group(6).strip().strip('"').strip() or None
    return ErRelationship(
        left=_entity_name(match.group(1)),
        right=_entity_name(match.group(5)),
        left_cardinality=_LEFT[match.group(2)],
        right_cardinality=_RIGHT[match.group(4)],
        identifying=match.group(3) == "--",
        label=label,
        line=line,
    )


def _entity_name(text: str) -> str:
    return text.split("[", maxsplit=1)[0].strip().strip('"')


def _merge(entities: list[ErEntity]) -> list[ErEntity]:
    """An entity mentioned twice keeps its first position and all attributes."""
    merged: dict[str, ErEntity] = {}
    for entity in entities:
        if entity.name in merged:
            first = merged[entity.name]
            merged[entity.name] = first.model_copy(
                update={"attributes": first.attributes + entity.attributes}
            )
        else:
            merged[entity.name] = entity
    return list(merged.values())


def _unreadable(text: str, line: int, issues: Issues) -> None:
    issues.warning(
        "er.unreadable_line",
        "ER diagram line is not an entity, attribute or relationship",
        block=BLOCK,
        line=line,
        name=text[:60],
        hint='use `ENTITY { type name PK "comment" }` and `A }o--|| B : "label"`',
    )
