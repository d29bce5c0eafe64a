"""Values of a data-accuracy case (request-format.md §8): typing, display and row comparison.

A case's expected rows and a job's result rows are compared as multisets of canonical values
(`normalize`, `compare_rows`); values read back from PostgreSQL text (`from_pg_text`) or from
Flink's JSON format (`from_json_value`) are typed by the Flink column type first, and values
written for a run are rendered as the reader on the other side expects (`payload_text`,
`text_value`, `json_cell`). Pure: no engine, no I/O.
"""

from __future__ import annotations

import json
import math
import struct
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as dtime
from decimal import Context, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from services.flinksql.sqltypes import FlinkType

# ================================================================ case payloads


def _json_default(value: object) -> str:
    if isinstance(value, datetime | date | dtime):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__} in a payload")


def payload_text(payload: object) -> str | None:
    """§8: a mapping becomes standard JSON text, a string is used as is, null is NULL."""
    if payload is None or isinstance(payload, str):
        return payload
    return json.dumps(payload, ensure_ascii=False, default=_json_default)


# ================================================================ value typing and comparison


@dataclass(frozen=True, slots=True)
class RowDiff:
    missing: tuple[dict[str, Any], ...]
    unexpected: tuple[dict[str, Any], ...]

    @property
    def equal(self) -> bool:
        return not self.missing and not self.unexpected


def _parse_timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value.strip().replace("T", " "))


def _float32(value: float) -> float:
    """The value at FLOAT's (IEEE single) precision: PostgreSQL's `real` prints the shortest text
    that reads back as the same single, Flink gives the single widened; both land here alike."""
    try:
        single = float(struct.unpack("f", struct.pack("f", value))[0])
    except OverflowError:  # beyond FLOAT's range: compared as it is
        return value
    return value if math.isinf(single) != math.isinf(value) else single


def _instant(stamp: datetime, zone: ZoneInfo | None) -> datetime:
    """A TIMESTAMP_LTZ value as the instant it names, in UTC: an aware value is that instant
    whatever zone it is written in; a naive one (a case file's text, §8) is wall clock in the
    job's time zone (UTC without one)."""
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=zone or UTC)
    return stamp.astimezone(UTC)


def normalize(value: object, ftype: FlinkType, zone: ZoneInfo | None = None) -> object:  # noqa: PLR0911, PLR0912, C901
    """A hashable canonical form for comparison under §8's rules (an unreadable value stays raw).

    TIMESTAMP_LTZ compares as instants (aware UTC datetimes): the same instant written in two
    zones, or as wall-clock text in `zone`, is equal."""
    if value is None:
        return None
    root = ftype.root
    try:
        if root == "DECIMAL" and not isinstance(value, bool):
            return Decimal(str(value))
        if root == "FLOAT" and not isinstance(value, bool):
            return f"{_float32(float(value)):.12g}"  # type: ignore[arg-type]
        if root == "DOUBLE" and not isinstance(value, bool):
            return f"{float(value):.12g}"  # type: ignore[arg-type]
        if root in ("TINYINT", "SMALLINT", "INT", "BIGINT") and not isinstance(value, bool | float):
            return int(value)  # type: ignore[call-overload]
        if root == "BOOLEAN" and isinstance(value, bool):
            return value
        if root == "TIMESTAMP":
            return value if isinstance(value, datetime) else _parse_timestamp(str(value))
        if root == "TIMESTAMP_LTZ":
            return _instant(value if isinstance(value, datetime) else _parse_timestamp(str(value)), zone)
        if root == "DATE":
            return value if isinstance(value, date) else date.fromisoformat(str(value).strip())
        if root == "TIME":
            return value if isinstance(value, dtime) else dtime.fromisoformat(str(value).strip())
        if root in ("STRING", "VARCHAR", "CHAR"):
            return value if isinstance(value, str) else str(value)
        if root in ("BYTES", "VARBINARY", "BINARY") and isinstance(value, bytes | bytearray | memoryview):
            return bytes(value)
    except (ValueError, TypeError, InvalidOperation):
        pass
    return ("raw", repr(value))


def _ambiguous(local: datetime) -> bool:
    """Whether a zoned wall-clock time names two instants (the hour repeated when clocks go back)."""
    return local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset()


def render_value(value: object, zone: ZoneInfo | None = None) -> object:
    """Display form of a typed value: §8 text for DECIMAL/TIMESTAMP/DATE, others as is.

    An aware datetime (a TIMESTAMP_LTZ instant) is shown as wall clock in `zone`, the job's time
    zone, as §8 writes it, so `normalize` reads the text back as the same instant; the offset is
    added where that wall clock is ambiguous (clocks going back), and always without `zone`
    (text without an offset would be read as wall clock in the job's zone)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        local = value.astimezone(zone) if zone is not None and value.tzinfo is not None else value
        text = local.strftime("%Y-%m-%d %H:%M:%S")
        text += f".{local.microsecond // 1000:03d}" if local.microsecond else ""
        if local.tzinfo is not None and (zone is None or _ambiguous(local)):
            text += local.isoformat()[-6:]
        return text
    if isinstance(value, date | dtime):
        return value.isoformat()
    return value


def compare_rows(
    expected: Sequence[Mapping[str, Any]],
    actual: Sequence[Mapping[str, Any]],
    columns: Sequence[tuple[str, FlinkType]],
    *,
    zone: ZoneInfo | None = None,
) -> RowDiff:
    """Expected vs actual as multisets (§8): missing = expected not produced, unexpected = extra."""

    def key(row: Mapping[str, Any]) -> tuple[object, ...]:
        return tuple(normalize(row.get(name), t, zone) for name, t in columns)

    want = Counter(key(r) for r in expected)
    got = Counter(key(r) for r in actual)
    missing_keys, unexpected_keys = want - got, got - want

    def pick(
        rows: Sequence[Mapping[str, Any]], keys: Counter[tuple[object, ...]]
    ) -> tuple[dict[str, Any], ...]:
        left, out = Counter(keys), []
        for row in rows:
            k = key(row)
            if left[k] > 0:
                left[k] -= 1
                out.append({name: render_value(row.get(name), zone) for name, _ in columns})
        return tuple(out)

    return RowDiff(pick(expected, missing_keys), pick(actual, unexpected_keys))


# ================================================================ converters


def text_value(value: object) -> str:
    """A case value as text (a PostgreSQL literal's content, a JSON string of a time value)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date | dtime):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return str(value)


def from_pg_text(text: str | None, ftype: FlinkType) -> object:  # noqa: PLR0911
    """A PostgreSQL text value typed as the Flink column type."""
    if text is None:
        return None
    root = ftype.root
    if root in ("TINYINT", "SMALLINT", "INT", "BIGINT"):
        return int(text)
    if root in ("FLOAT", "DOUBLE"):
        return float(text)
    if root == "DECIMAL":
        return Decimal(text)
    if root == "BOOLEAN":
        return _pg_bool(text)
    if root == "DATE":
        return date.fromisoformat(text)
    if root == "TIME":
        return dtime.fromisoformat(text)
    if root in ("TIMESTAMP", "TIMESTAMP_LTZ"):
        return _parse_timestamp(text)
    if root in ("BYTES", "VARBINARY", "BINARY"):
        return bytes.fromhex(text[2:])
    return text


def from_pg_value(value: object, ftype: FlinkType) -> object:  # noqa: PLR0911
    """A value as the PostgreSQL driver returns it (psycopg: bool, int, Decimal, float, str,
    date, time, datetime, bytes), typed as the Flink column type; text goes to `from_pg_text`."""
    if value is None:
        return None
    if isinstance(value, str) and ftype.root not in ("STRING", "VARCHAR", "CHAR"):
        return from_pg_text(value, ftype)
    root = ftype.root
    if root in ("TINYINT", "SMALLINT", "INT", "BIGINT") and not isinstance(value, bool):
        return int(value)  # type: ignore[call-overload]
    if root in ("FLOAT", "DOUBLE") and not isinstance(value, bool):
        return float(value)  # type: ignore[arg-type]
    if root == "DECIMAL" and not isinstance(value, bool):
        return Decimal(str(value))
    if root in ("BYTES", "VARBINARY", "BINARY") and isinstance(value, bytearray | memoryview):
        return bytes(value)
    return value


def _pg_bool(text: str) -> bool:
    """PostgreSQL's boolean as text: `true`/`false` (a ::text cast), `t`/`f` (psql's output)."""
    word = text.strip().lower()
    if word in ("t", "true", "1", "yes", "on", "y"):
        return True
    if word in ("f", "false", "0", "no", "off", "n"):
        return False
    raise ValueError(f"not a PostgreSQL boolean: {text!r}")


def _at_scale(value: Decimal, ftype: FlinkType) -> Decimal:
    """The value written with the column's scale (Flink's JSON format drops trailing zeros)."""
    if ftype.scale is None:
        return value
    return value.quantize(Decimal(1).scaleb(-ftype.scale), context=Context(prec=80))


def from_json_value(value: object, ftype: FlinkType) -> object:  # noqa: PLR0911
    """A value of Flink's JSON format typed as the Flink column type."""
    if value is None:
        return None
    root = ftype.root
    if root == "DECIMAL":
        return _at_scale(Decimal(str(value)), ftype)
    if root in ("TINYINT", "SMALLINT", "INT", "BIGINT"):
        return int(value)  # type: ignore[call-overload]
    if root in ("FLOAT", "DOUBLE"):
        return float(value)  # type: ignore[arg-type]
    if root in ("TIMESTAMP", "TIMESTAMP_LTZ"):
        stamp = _parse_timestamp(str(value).rstrip("Z"))
        return stamp.replace(tzinfo=UTC) if root == "TIMESTAMP_LTZ" else stamp
    if root == "DATE":
        return date.fromisoformat(str(value))
    if root == "TIME":
        return dtime.fromisoformat(str(value))
    return value


def json_cell(value: object, ftype: FlinkType) -> str:
    """A dimension value as Flink's JSON format reads it for the column type."""
    if value is None:
        return "null"
    if ftype.root == "DECIMAL" and not isinstance(value, bool):
        return str(Decimal(str(value)))
    if ftype.root in ("TIMESTAMP", "TIMESTAMP_LTZ", "DATE", "TIME"):
        return json.dumps(text_value(value))
    if ftype.root in ("STRING", "VARCHAR", "CHAR"):
        return json.dumps(str(value), ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def json_rows_text(rows: Iterable[Mapping[str, Any]], columns: Sequence[tuple[str, FlinkType, bool]]) -> str:
    """Dimension rows as JSON lines that Flink's JSON format reads with the table's columns."""
    lines = [
        "{" + ", ".join(f"{json.dumps(n)}: {json_cell(row.get(n), t)}" for n, t, _ in columns) + "}"
        for row in rows
    ]
    return "".join(line + "\n" for line in lines)


def json_result_rows(
    lines: Iterable[str], columns: Sequence[tuple[str, FlinkType]], primary_key: Sequence[str]
) -> list[dict[str, Any]]:
    """A result table written in Flink's JSON format, typed; with a key, the last row per key."""
    rows: list[dict[str, Any]] = []
    for line in lines:
        if line.strip():
            data = json.loads(line, parse_float=Decimal)
            rows.append({n: from_json_value(data.get(n), t) for n, t in columns})
    if not primary_key:
        return rows
    latest: dict[tuple[object, ...], dict[str, Any]] = {}
    for row in rows:  # upsert: the last row written per key
        latest[tuple(row[k] for k in primary_key)] = row
    return list(latest.values())


__all__ = [
    "RowDiff",
    "compare_rows",
    "from_json_value",
    "from_pg_text",
    "from_pg_value",
    "json_cell",
    "json_result_rows",
    "json_rows_text",
    "normalize",
    "payload_text",
    "render_value",
    "text_value",
]
