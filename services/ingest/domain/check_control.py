"""Control characters in the request's YAML strings (h98: `"\\0"` put a NUL byte into the SQL).

A YAML double-quoted string can spell any character with an escape (`"\\0"`, `"\\x07"`,
`"\\u001b"`), although the document itself may not hold the byte (document.py rejects NUL). The
job_info, field_mapping, join_relationships and special_conditions values are copied into the
generated SQL and files, where such a character is invisible, cut by tools and, for NUL, ends C
strings. They are rejected: a tab, a line break or a carriage return stay allowed (multi-line
expressions). Flink SQL has no backslash escape in a plain '...' literal; it spells any
character as a Unicode escape literal, `U&'\\0000'`, or `CHR(0)` (verified on PyFlink 2.3).
Case data (`cases`) is not checked here: its strings are data, serialised as JSON.
"""

from __future__ import annotations

import re
from typing import Any

from services.ingest.domain.errors import Issues
from services.ingest.domain.parse import RawDocument

CHECKED_BLOCKS = ("job_info", "field_mapping", "join_relationships", "special_conditions")
# C0 controls but tab, LF and CR; DEL; C1 controls.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def check_control_characters(raw: RawDocument, issues: Issues) -> None:
    for key in CHECKED_BLOCKS:
        part = raw.yaml.get(key)
        if part is not None:
            _walk(part.value, (), key, part.doc.line_of, issues)


def _walk(value: Any, path: tuple[str | int, ...], block: str, line_of: Any, issues: Issues) -> None:
    if isinstance(value, dict):
        for child_key, child in value.items():
            _walk(child, (*path, str(child_key)), block, line_of, issues)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            _walk(child, (*path, index), block, line_of, issues)
    elif isinstance(value, str) and (match := CONTROL.search(value)):
        code = ord(match.group())
        where = ".".join(str(p) for p in (block, *path))
        issues.error(
            "names.control_character",
            f"{where} holds the control character U+{code:04X} (a YAML escape such as "
            f'"\\{"0" if code == 0 else f"x{code:02x}"}"): it would be copied into the generated SQL and files',
            block=block,
            line=line_of(block, *path),
            name=where[:80],
            hint=f"remove it; in a SQL string write the character as a Unicode escape literal, "
            f"U&'\\{code:04X}', or CHR({code}), in a single-quoted or plain YAML string so YAML "
            "keeps the backslash",
        )
