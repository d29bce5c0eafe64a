"""The linear-time ER tokeniser accepts exactly what the old backtracking regexes accepted.

The regexes are kept here as the reference grammar; on short lines they are fast enough to compare.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from services.ingest.domain import mermaid

_NAME = r'(?:"[^"]+"|[A-Za-z_][\w-]*)(?:\s*\[[^\]]*\])?'
_ENTITY_OPEN = re.compile(rf"^({_NAME})\s*\{{\s*$")
_ENTITY_EMPTY = re.compile(rf"^({_NAME})\s*\{{\s*\}}\s*$")
_ENTITY_BARE = re.compile(rf"^({_NAME})\s*$")
_ATTRIBUTE = re.compile(r'^([\w()\[\],.<>*-]+)\s+([\w*-]+)((?:\s+(?:PK|FK|UK)\s*,?)*)\s*(?:"([^"]*)")?\s*$')
_RELATIONSHIP = re.compile(
    rf"^({_NAME})\s*(\|o|\|\||\}}o|\}}\|)(--|\.\.)(o\||\|\||o\{{|\|\{{)\s*({_NAME})\s*:\s*(.*)$"
)
_PIECES = [
    "PK", "FK", "UK", "P", "K", ",", " ", "  ", "\t", '"', "[", "]", "{", "}", "|", "o", "-", ".", ":",
    "id", "a_b", "x-y", "é", "名", "1", "(", ")", "<", ">", "*", "|o", "||", "}o", "}|", "o{", "|{",
    "--", "..", "string", "E",
]  # fmt: skip
_LINES = st.lists(st.sampled_from(_PIECES), max_size=12).map(lambda parts: "".join(parts).strip())


def _name(text: str) -> str:
    return text.split("[", maxsplit=1)[0].strip().strip('"')


@settings(max_examples=1500, deadline=None)
@given(_LINES)
def test_attribute_tokeniser_matches_the_regex(text: str) -> None:
    match = _ATTRIBUTE.match(text)
    got = mermaid._attribute(text, 1)
    if match is None:
        assert got is None
        return
    assert got is not None
    keys = tuple(k for k in re.split(r"[\s,]+", match.group(3)) if k)
    assert (got.type, got.name, got.keys, got.comment) == (
        match.group(1),
        match.group(2),
        keys,
        match.group(4),
    )


@settings(max_examples=1500, deadline=None)
@given(_LINES)
def test_entity_and_relationship_tokenisers_match_the_regexes(text: str) -> None:
    bare = _ENTITY_EMPTY.match(text) or _ENTITY_BARE.match(text)
    assert mermaid._entity_line(text, opens=False) == (_name(bare.group(1)) if bare else None)
    opened = _ENTITY_OPEN.match(text)
    assert mermaid._entity_line(text, opens=True) == (_name(opened.group(1)) if opened else None)
    match = _RELATIONSHIP.match(text)
    got = mermaid._relationship(text, 1)
    if match is None:
        assert got is None
        return
    assert got is not None
    assert (got.left, got.right, got.identifying, got.label) == (
        _name(match.group(1)),
        _name(match.group(5)),
        match.group(3) == "--",
        match.group(6).strip().strip('"').strip() or None,
    )
