"""Mermaid `erDiagram` blocks: entities with attributes, relationships with cardinality and label."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass

from services.flinksql.spec import Cardinality, ErAttribute, ErDiagram, ErEntity, ErRelationship
from services.ingest.domain.document import MAX_LINE_CHARS, checkpoint
from services.ingest.domain.errors import Issues

BLOCK = "ER diagram"
# Caps (docs/security.md, Input limits): far above any real request (the examples have < 10
# entities), low enough that the warnings they can raise stay cheap to collect.
MAX_ER_ENTITIES = 500
MAX_ER_RELATIONSHIPS = 1_000
MAX_ER_ATTRIBUTES = 200  # per entity, all of its blocks together
MAX_UNREADABLE_WARNINGS = 50
_KEYS = ("PK", "FK", "UK")
_TYPE_CHARS = frozenset("()[],.<>*-")
_NAME_CHARS = frozenset("*-")

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


class _Cap(Exception):
    """A cap was reached: the error is reported, the rest of the diagram is not read."""


@dataclass
class _Reader:
    issues: Issues
    entities: dict[str, ErEntity]
    relationships: list[ErRelationship]
    unreadable: int = 0

    def add_entity(self, entity: ErEntity) -> None:
        first = self.entities.get(entity.name)
        if first is None:
            if len(self.entities) >= MAX_ER_ENTITIES:
                self._cap("entities", MAX_ER_ENTITIES, entity.line, entity.name)
            self.entities[entity.name] = entity
        elif entity.attributes:  # an entity mentioned twice keeps its first position and all attributes
            self.entities[entity.name] = first.model_copy(
                update={"attributes": first.attributes + entity.attributes}
            )

    def add_relationship(self, relationship: ErRelationship) -> None:
        if len(self.relationships) >= MAX_ER_RELATIONSHIPS:
            self._cap("relationships", MAX_ER_RELATIONSHIPS, relationship.line, None)
        self.relationships.append(relationship)

    def attributes_of(self, name: str) -> int:
        entity = self.entities.get(name)
        return len(entity.attributes) if entity is not None else 0

    def unreadable_line(self, text: str, line: int) -> None:
        self.unreadable += 1
        if self.unreadable <= MAX_UNREADABLE_WARNINGS:
            _unreadable(text, line, self.issues)
        elif self.unreadable == MAX_UNREADABLE_WARNINGS + 1:
            self.issues.warning(
                "er.too_many_unreadable_lines",
                f"more than {MAX_UNREADABLE_WARNINGS} unreadable ER diagram lines; the rest are not listed",
                block=BLOCK,
                line=line,
                hint='use `ENTITY { type name PK "comment" }` and `A }o--|| B : "label"`',
            )

    def _cap(self, what: str, limit: int, line: int, name: str | None) -> None:
        self.issues.error(
            f"er.too_many_{what}",
            f"ER diagram has more than {limit} {what}; the limit is {limit}",
            block=BLOCK,
            line=line,
            name=name,
            hint=f"keep the diagram to the tables of this request (at most {limit} {what})",
        )
        raise _Cap


def parse_er_diagram(content: str, first_line: int, issues: Issues) -> ErDiagram:
    """Parse an erDiagram block; lines that cannot be read get a warning and are skipped.

    Each line is read by a linear-time tokeniser (no backtracking regex). Past a cap (entities,
    relationships, attributes per entity) an error names the line and the limit and reading stops.
    """
    reader = _Reader(issues, {}, [])
    with suppress(_Cap):
        _read_diagram(content.split("\n"), first_line, reader)
    return ErDiagram(
        entities=tuple(reader.entities.values()), relationships=tuple(reader.relationships), line=first_line
    )


def _read_diagram(lines: list[str], first_line: int, reader: _Reader) -> None:
    index = 0
    seen_header = False
    while index < len(lines):
        checkpoint()
        line = first_line + index
        if len(lines[index]) > MAX_LINE_CHARS:  # scan() reported it already; never tokenised
            index += 1
            continue
        text = lines[index].strip()
        index += 1
        if not text or text.startswith("%%"):
            continue
        if not seen_header:
            seen_header = text.split()[0] == "erDiagram"
            continue
        if (relationship := _relationship(text, line)) is not None:
            reader.add_relationship(relationship)
        elif (name := _entity_line(text, opens=False)) is not None:
            reader.add_entity(ErEntity(name=name, line=line))
        elif (name := _entity_line(text, opens=True)) is not None:
            attributes, index = _attributes(lines, index, first_line, reader, entity=name)
            reader.add_entity(ErEntity(name=name, attributes=attributes, line=line))
        else:
            reader.unreadable_line(text, line)


def _attributes(
    lines: list[str], index: int, first_line: int, reader: _Reader, *, entity: str
) -> tuple[tuple[ErAttribute, ...], int]:
    attributes: list[ErAttribute] = []
    before = reader.attributes_of(entity)
    while index < len(lines):
        checkpoint()
        line = first_line + index
        if len(lines[index]) > MAX_LINE_CHARS:
            index += 1
            continue
        text = lines[index].strip()
        index += 1
        if text == "}":
            return tuple(attributes), index
        if not text or text.startswith("%%"):
            continue
        attribute = _attribute(text, line)
        if attribute is None:
            reader.unreadable_line(text, line)
            continue
        if before + len(attributes) >= MAX_ER_ATTRIBUTES:
            reader.issues.error(
                "er.too_many_attributes",
                f"ER entity {entity} has more than {MAX_ER_ATTRIBUTES} attributes; the limit is {MAX_ER_ATTRIBUTES}",
                block=BLOCK,
                line=line,
                name=entity,
                hint=f"list at most {MAX_ER_ATTRIBUTES} attributes per entity",
            )
            raise _Cap
        attributes.append(attribute)
    reader.issues.warning(
        "er.unclosed_entity",
        "ER entity block is never closed with `}`",
        block=BLOCK,
        line=first_line + len(lines) - 1,
        hint="close every entity attribute block with `}`",
    )
    return tuple(attributes), index


# --- the tokeniser: each function reads one line left to right, never going back --------------
# They accept exactly what these regexes (the grammar, as it was written before) accept:
#   NAME          (?:"[^"]+"|[A-Za-z_][\w-]*)(?:\s*\[[^\]]*\])?
#   entity        ^(NAME)\s*$   ^(NAME)\s*\{\s*\}\s*$   ^(NAME)\s*\{\s*$
#   relationship  ^(NAME)\s*(\|o|\|\||\}o|\}\|)(--|\.\.)(o\||\|\||o\{|\|\{)\s*(NAME)\s*:\s*(.*)$
#   attribute     ^([\w()\[\],.<>*-]+)\s+([\w*-]+)((?:\s+(?:PK|FK|UK)\s*,?)*)\s*(?:"([^"]*)")?\s*$
# Every token is followed by a character it cannot contain, so the longest token is the only one
# that can lead to a match, and one pass decides.


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at].isspace():
        at += 1
    return at


def _name(text: str, at: int) -> int | None:
    """End of the NAME (with its optional `[alias]`) starting at `at`; None when there is none."""
    if at >= len(text):
        return None
    if text[at] == '"':
        close = text.find('"', at + 1)
        if close <= at + 1:
            return None
        end = close + 1
    elif text[at] == "_" or ("A" <= text[at] <= "Z") or ("a" <= text[at] <= "z"):
        end = at + 1
        while end < len(text) and (_is_word(text[end]) or text[end] == "-"):
            end += 1
    else:
        return None
    alias = _skip_space(text, end)
    if alias < len(text) and text[alias] == "[":
        close = text.find("]", alias + 1)
        if close != -1:
            end = close + 1
    return end


def _entity_line(text: str, *, opens: bool) -> str | None:
    """`NAME` or `NAME { }` (opens=False), or `NAME {` (opens=True): the entity name, or None."""
    end = _name(text, 0)
    if end is None:
        return None
    at = _skip_space(text, end)
    if at == len(text):
        return None if opens else _entity_name(text[:end])
    if text[at] != "{":
        return None
    at = _skip_space(text, at + 1)
    if opens:
        return _entity_name(text[:end]) if at == len(text) else None
    if at < len(text) and text[at] == "}" and _skip_space(text, at + 1) == len(text):
        return _entity_name(text[:end])
    return None


def _relationship(text: str, line: int) -> ErRelationship | None:
    left_end = _name(text, 0)
    if left_end is None:
        return None
    at = _skip_space(text, left_end)
    left, link, right = text[at : at + 2], text[at + 2 : at + 4], text[at + 4 : at + 6]
    if left not in _LEFT or link not in ("--", "..") or right not in _RIGHT:
        return None
    start = _skip_space(text, at + 6)
    right_end = _name(text, start)
    if right_end is None:
        return None
    at = _skip_space(text, right_end)
    if at >= len(text) or text[at] != ":":
        return None
    label = text[at + 1 :].strip().strip('"').strip() or None
    return ErRelationship(
        left=_entity_name(text[:left_end]),
        right=_entity_name(text[start:right_end]),
        left_cardinality=_LEFT[left],
        right_cardinality=_RIGHT[right],
        identifying=link == "--",
        label=label,
        line=line,
    )


def _attribute(text: str, line: int) -> ErAttribute | None:
    end = 0
    while end < len(text) and (_is_word(text[end]) or text[end] in _TYPE_CHARS):
        end += 1
    name_start = _skip_space(text, end)
    if name_start in (0, end):
        return None
    at = name_start
    while at < len(text) and (_is_word(text[at]) or text[at] in _NAME_CHARS):
        at += 1
    if at == name_start:
        return None
    name_end = at
    keys: list[str] = []
    while True:
        key = _skip_space(text, at)
        if key == at or text[key : key + 2] not in _KEYS:
            break
        keys.append(text[key : key + 2])
        at = _skip_space(text, key + 2)
        if at < len(text) and text[at] == ",":
            at += 1
    at = _skip_space(text, at)
    comment = None
    if at < len(text) and text[at] == '"':
        close = text.find('"', at + 1)
        if close == -1:
            return None
        comment = text[at + 1 : close]
        at = _skip_space(text, close + 1)
    if at != len(text):
        return None
    return ErAttribute(
        type=text[:end], name=text[name_start:name_end], keys=tuple(keys), comment=comment, line=line
    )


def _entity_name(text: str) -> str:
    return text.split("[", maxsplit=1)[0].strip().strip('"')


def _unreadable(text: str, line: int, issues: Issues) -> None:
    issues.warning(
        "er.unreadable_line",
        "ER diagram line is not an entity, attribute or relationship",
        block=BLOCK,
        line=line,
        name=text[:60],
        hint='use `ENTITY { type name PK "comment" }` and `A }o--|| B : "label"`',
    )
