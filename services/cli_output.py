"""`--json` output shared by every command: one document (indented) or one per line, UTF-8
as is, no colour. What `--json` promises is in services/exit_codes.py (HELP)."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from typing import Any

import typer


def _default(value: Any) -> Any:
    """Dates and times in ISO 8601; anything else JSON has no type for (Decimal, Path, bytes
    ...) as its text, as the human output shows it."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def dumps(doc: Any, *, line: bool = False) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=None if line else 2, default=_default)


def echo_json(doc: Any, *, line: bool = False) -> None:
    """Print `doc` on stdout as one JSON document, or as one JSON line when `line`."""
    typer.echo(dumps(doc, line=line))
