"""Safe YAML for request blocks: plain data only, with document line numbers for every value.

The text is first streamed as events (no composition) to reject anchors, aliases, explicit tags
and deep nesting before any tree is built; merge keys and duplicate keys are rejected while
converting. Nothing but str/int/float/bool/None/list/dict is ever produced.

Every step checks the check's budget (`checkpoint`) per event, per node composed (libyaml
composes in C, but asks the loader to resolve each node's tag) and per value converted, so a
large block (a 1 MiB cases file) stops at the budget instead of running to its end.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import yaml

from services.ingest.domain.document import checkpoint

MAX_DEPTH = 32

Path = tuple[str | int, ...]

_SCALAR_BUILDERS = {
    "tag:yaml.org,2002:null": "construct_yaml_null",
    "tag:yaml.org,2002:bool": "construct_yaml_bool",
    "tag:yaml.org,2002:int": "construct_yaml_int",
    "tag:yaml.org,2002:float": "construct_yaml_float",
    "tag:yaml.org,2002:timestamp": "construct_yaml_timestamp",
}


class YamlProblem(Exception):
    """The YAML text is unsafe or does not parse; `line` is a document line."""

    def __init__(self, message: str, line: int, name: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.name = name


@dataclass
class YamlDocument:
    """Plain data plus the document line of each mapping key / sequence item (by path)."""

    value: Any
    first_line: int
    lines: dict[Path, int] = field(default_factory=dict)

    def line_of(self, *path: str | int) -> int:
        """The line of `path`, or of its nearest ancestor that has one."""
        current: Path = tuple(path)
        while current:
            if current in self.lines:
                return self.lines[current]
            current = current[:-1]
        return self.first_line


# libyaml's safe loader when present (10x faster), else the pure-Python one; either is used only
# for its parser, composer and scalar resolution, never to construct objects.
_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[valid-type,misc]
    """The safe loader, checking the check's budget once per node it composes."""

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: Any) -> str:
        checkpoint()
        tag: str = super().resolve(kind, value, implicit)
        return tag


def load(text: str, first_line: int) -> YamlDocument:
    """Parse one YAML block whose first line is document line `first_line`."""
    _screen_events(text, first_line)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as exc:
        raise _as_problem(exc, first_line) from None
    finally:
        loader.dispose()
    doc = YamlDocument(value=None, first_line=first_line)
    if node is not None:
        doc.value = _convert(node, (), doc, loader)
    return doc


def _screen_events(text: str, first_line: int) -> None:
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            checkpoint()
            line = first_line + (event.start_mark.line if event.start_mark is not None else 0)
            if isinstance(event, yaml.AliasEvent):
                raise YamlProblem(f"YAML alias *{event.anchor} is not allowed", line, event.anchor)
            anchor = getattr(event, "anchor", None)
            if anchor is not None:
                raise YamlProblem(f"YAML anchor/alias &{anchor} is not allowed", line, anchor)
            tag = getattr(event, "tag", None)
            if tag is not None:
                raise YamlProblem(f"YAML explicit tag {tag} is not allowed", line, tag)
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise YamlProblem(f"YAML nesting deeper than {MAX_DEPTH} levels", line)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError as exc:
        raise _as_problem(exc, first_line) from None


def _as_problem(exc: yaml.YAMLError, first_line: int) -> YamlProblem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = first_line + mark.line if mark is not None else first_line
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return YamlProblem(f"YAML does not parse: {problem}", line)


def _convert(node: yaml.Node, path: Path, doc: YamlDocument, loader: yaml.SafeLoader) -> Any:
    if isinstance(node, yaml.MappingNode):
        return _convert_mapping(node, path, doc, loader)
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            checkpoint()
            doc.lines[(*path, index)] = doc.first_line + item.start_mark.line
            items.append(_convert(item, (*path, index), doc, loader))
        return items
    return _scalar(node, loader)


def _convert_mapping(
    node: yaml.MappingNode, path: Path, doc: YamlDocument, loader: yaml.SafeLoader
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key_node, value_node in node.value:
        checkpoint()
        line = doc.first_line + key_node.start_mark.line
        if not isinstance(key_node, yaml.ScalarNode):
            raise YamlProblem("YAML mapping keys must be plain scalars", line)
        if key_node.tag == "tag:yaml.org,2002:merge":
            raise YamlProblem("YAML merge key << (an alias) is not allowed", line, "<<")
        key = _key_text(_scalar(key_node, loader))
        if key in result:
            raise YamlProblem(f"YAML duplicate key {key!r}", line, key)
        doc.lines[(*path, key)] = line
        result[key] = _convert(value_node, (*path, key), doc, loader)
    return result


def _key_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def _scalar(node: yaml.Node, loader: yaml.SafeLoader) -> Any:
    builder = _SCALAR_BUILDERS.get(node.tag)
    if builder is None:
        return str(node.value)
    try:
        value = getattr(loader, builder)(node)
    except (ValueError, OverflowError):
        return str(node.value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value
