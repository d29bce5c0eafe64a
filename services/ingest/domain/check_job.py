"""job_info (request-format.md §2): required names, patterns, IANA time zone, extra keys kept."""

from __future__ import annotations

import json
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import JsonValue

from services.flinksql.artifacts import DOMAIN_PATTERN
from services.flinksql.spec import JobInfo
from services.ingest.domain.errors import Issues
from services.ingest.domain.parse import RawDocument

BLOCK = "job_info"
DOMAIN = DOMAIN_PATTERN
EVENT_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$")
_ZONE_TEXT = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*$")
_OPTIONAL = ("description", "author", "version", "create_date", "update_frequency", "sla_requirement")
_PATTERNS = {
    "domain": (DOMAIN, "lower-case letters, digits, `_` and `-`, starting with a letter (max 64)"),
    "event_type": (EVENT_TYPE, "letters, digits, `_`, `.` and `-`, starting with a letter (max 128)"),
}


def check_job_info(raw: RawDocument, issues: Issues) -> JobInfo | None:
    part = raw.yaml.get(BLOCK)
    if part is None:
        return None
    value = part.value
    if not isinstance(value, dict):
        issues.error(
            "job_info.not_mapping",
            "job_info must be a mapping of keys to values",
            block=BLOCK,
            line=part.line_of(),
            name=BLOCK,
            hint="write `job_info:` followed by indented `name:`, `domain:`, `event_type:` lines",
        )
        return None
    fields: dict[str, Any] = {"line": part.line_of()}
    ok = True
    for key in ("name", "domain", "event_type"):
        text = _required_text(value, key, part.line_of(key), issues, raw.scanned.text)
        ok = ok and text is not None
        fields[key] = text
    zone = _time_zone(value.get("time_zone"), part.line_of("time_zone"), issues)
    ok = ok and zone is not None
    fields["time_zone"] = zone
    for key in _OPTIONAL:
        fields[key] = _optional_text(value.get(key), key, part.line_of(key), issues)
    fields["extra"] = {k: _json(v) for k, v in value.items() if k not in fields and k != "time_zone"}
    return JobInfo(**fields) if ok else None


def _written(document: str, line: int, key: str, value: Any) -> str:
    """The value as written on its document line (`on`, not YAML 1.1's True), else its text."""
    lines = document.split("\n")
    if 0 < line <= len(lines):
        match = re.match(rf"\s*{re.escape(key)}\s*:\s*(.*?)\s*(?:\s#.*)?$", lines[line - 1])
        if match and match.group(1):
            return match.group(1)
    return str(value)


def _required_text(
    value: dict[str, Any], key: str, line: int, issues: Issues, document: str = ""
) -> str | None:
    text = value.get(key)
    if text is None or (isinstance(text, str) and not text.strip()):
        issues.error(
            "job_info.missing_key",
            f"job_info.{key} is missing",
            block=BLOCK,
            line=line,
            name=key,
            hint=f"add `{key}: <value>` to job_info",
        )
        return None
    if not isinstance(text, str):
        issues.error(
            "job_info.not_text",
            f"job_info.{key} must be a string",
            block=BLOCK,
            line=line,
            name=key,
            hint=f"quote the value as written: `{key}: {json.dumps(_written(document, line, key, text), ensure_ascii=False)}`"
            " (YAML reads an unquoted on/off/yes/no as a boolean and digits as a number)",
        )
        return None
    if key in _PATTERNS and not _PATTERNS[key][0].match(text):
        issues.error(
            f"names.invalid_{key}",
            f"job_info.{key} {text[:80]!r} does not match {_PATTERNS[key][0].pattern}",
            block=BLOCK,
            line=line,
            name=text[:80],
            hint=f"use {_PATTERNS[key][1]}",
        )
        return None
    return text


def _time_zone(value: Any, line: int, issues: Issues) -> str | None:
    if value is None:
        return "UTC"
    if isinstance(value, str) and _ZONE_TEXT.match(value) and len(value) <= 64:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
        else:
            return value
    issues.error(
        "job_info.invalid_time_zone",
        f"job_info.time_zone {str(value)[:80]!r} is not an IANA time zone name",
        block=BLOCK,
        line=line,
        name=str(value)[:80],
        hint="use an IANA name such as `Asia/Shanghai`, `Europe/Berlin` or `UTC`",
    )
    return None


def _optional_text(value: Any, key: str, line: int, issues: Issues) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    issues.error(
        "job_info.not_text",
        f"job_info.{key} must be a text value",
        block=BLOCK,
        line=line,
        name=key,
        hint=f'write `{key}: "<text>"` on one line',
    )
    return None


def _json(value: Any) -> JsonValue:
    """YAML plain data is already JSON-compatible (dates were turned into ISO text)."""
    result: JsonValue = value
    return result
