"""The payload class: a Java class whose instance field declarations are the payload JSON fields.

Only field declarations directly in the class body count. Annotations, methods (and anything in
their bodies), static fields, nested classes, imports and comments are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from services.ingest.domain.errors import Issues

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
BLOCK = "payload class"

_CLASS = re.compile(r"\bclass\s+([^\s{<]+)")
_ANNOTATION = re.compile(r"@[\w.]+(?:\s*\([^)]*\))?")
_MODIFIERS = {"private", "protected", "public", "final", "transient", "volatile"}
_TYPE = r"[A-Za-z_$][\w$.]*(?:\s*<[^;=]*>)?(?:\s*\[\s*\])*"
_DECLARATION = re.compile(rf"^({_TYPE})\s+([^;=]+?)\s*(?:=[^;]*)?;$")
_STRING_LITERAL = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'')


@dataclass(frozen=True)
class JavaField:
    name: str
    java_type: str
    comment: str | None
    line: int


@dataclass
class JavaClass:
    name: str
    line: int
    fields: list[JavaField] = field(default_factory=list)


def parse_payload_class(source: str, first_line: int, issues: Issues) -> JavaClass | None:
    """Parse the java block starting at document line `first_line`; problems go to `issues`."""
    lines = source.split("\n")
    code_lines, comments = _strip_comments(lines)
    found = _find_class(code_lines)
    if found is None:
        issues.error(
            "payload.no_class",
            "the java block declares no class",
            block=BLOCK,
            line=first_line,
            hint="declare `public class <Name>Payload { private <Type> <field>; ... }`",
        )
        return None
    class_index, name = found
    java_class = JavaClass(name=name, line=first_line + class_index)
    if not IDENTIFIER.match(name):
        issues.error(
            "names.invalid_identifier",
            "payload class name is not a valid identifier",
            block=BLOCK,
            line=java_class.line,
            name=name,
            hint="use letters, digits and underscores, starting with a letter or underscore",
        )
    for index, statement in _class_body_statements(code_lines, class_index):
        _read_declaration(statement, first_line + index, comments.get(index), java_class, issues)
    if not java_class.fields:
        issues.error(
            "payload.no_fields",
            "payload class declares no fields",
            block=BLOCK,
            line=java_class.line,
            name=name,
            hint="declare each payload field as `private <Type> <name>;`",
        )
    return java_class


def _strip_comments(lines: list[str]) -> tuple[list[str], dict[int, str]]:
    """Code without comments or string literals, plus the trailing `//` comment of each line."""
    code: list[str] = []
    comments: dict[int, str] = {}
    in_block = False
    for index, raw in enumerate(lines):
        text = _STRING_LITERAL.sub('""', raw)
        out = ""
        while text:
            if in_block:
                end = text.find("*/")
                if end < 0:
                    text = ""
                    continue
                text, in_block = text[end + 2 :], False
            start_block, start_line = text.find("/*"), text.find("//")
            if start_line >= 0 and (start_block < 0 or start_line < start_block):
                comments[index] = raw[raw.find("//") + 2 :].strip() if "//" in raw else ""
                out, text = out + text[:start_line], ""
            elif start_block >= 0:
                out, text, in_block = out + text[:start_block] + " ", text[start_block + 2 :], True
            else:
                out, text = out + text, ""
        code.append(out)
    return code, comments


def _find_class(code_lines: list[str]) -> tuple[int, str] | None:
    for index, line in enumerate(code_lines):
        match = _CLASS.search(line)
        if match:
            return index, match.group(1)
    return None


def _class_body_statements(code_lines: list[str], class_index: int) -> list[tuple[int, str]]:
    """Statements ending with `;` at brace depth 1 of the class body, with their last line index."""
    statements: list[tuple[int, str]] = []
    depth, started, pending = 0, False, ""
    for index in range(class_index, len(code_lines)):
        for char in code_lines[index]:
            if char == "{":
                depth += 1
                started = True
                pending = ""
            elif char == "}":
                depth -= 1
                pending = ""
                if started and depth <= 0:
                    return statements
            elif depth == 1:
                pending += char
                if char == ";":
                    statements.append((index, pending.strip()))
                    pending = ""
        if depth == 1:
            pending += " "
    return statements


def _read_declaration(
    statement: str, line: int, comment: str | None, java_class: JavaClass, issues: Issues
) -> None:
    code = _ANNOTATION.sub(" ", statement)
    words = code.split()
    if "static" in words or "(" in code:
        return
    while words and words[0] in _MODIFIERS:
        words.pop(0)
    match = _DECLARATION.match(" ".join(words))
    if match is None:
        issues.error(
            "payload.bad_declaration",
            "cannot read this field declaration",
            block=BLOCK,
            line=line,
            name=statement[:60],
            hint="write one field per statement as `private <Type> <name>;`",
        )
        return
    java_type = " ".join(match.group(1).split())
    for name in (part.strip() for part in match.group(2).split(",")):
        _add_field(JavaField(name, java_type, comment or None, line), java_class, issues)


def _add_field(java_field: JavaField, java_class: JavaClass, issues: Issues) -> None:
    if not IDENTIFIER.match(java_field.name):
        issues.error(
            "names.invalid_identifier",
            "payload field name is not a valid identifier",
            block=BLOCK,
            line=java_field.line,
            name=java_field.name,
            hint="use letters, digits and underscores, starting with a letter or underscore",
        )
        return
    if any(existing.name == java_field.name for existing in java_class.fields):
        issues.error(
            "payload.duplicate_field",
            "payload field declared twice",
            block=BLOCK,
            line=java_field.line,
            name=java_field.name,
            hint="remove or rename one of the declarations",
        )
        return
    java_class.fields.append(java_field)
