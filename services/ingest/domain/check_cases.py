"""Data-accuracy cases (request-format.md §8): shape, DECIMAL values and JSON-able payloads;
values are kept as written."""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any

from services.flinksql.spec import Case, Dimension, Table
from services.ingest.domain import yaml_safe
from services.ingest.domain.document import MAX_DOCUMENT_BYTES, checkpoint
from services.ingest.domain.errors import Issues

BLOCK = "cases"
# A sidecar cases file is capped like the document (docs/security.md, Limits on input): checking
# costs 1-10 s per MB of cases, and nothing real comes near the cap (the examples: < 10 KB).
MAX_CASES_BYTES = MAX_DOCUMENT_BYTES
_CASE_KEYS = {"name", "description", "events", "dimensions", "expected"}
_EVENT_KEYS = {"domain", "type", "create_time", "payload"}


class CaseChecker:
    def __init__(
        self, doc: yaml_safe.YamlDocument, dimensions: list[Dimension], result: Table | None
    ) -> None:
        self.doc = doc
        self.dimensions = {d.table.name: d.table for d in dimensions}
        self.result = result
        self.issues: Issues

    def run(self, value: Any, issues: Issues, seen: set[str]) -> list[Case]:
        self.issues = issues
        if not isinstance(value, list):
            self._error(
                "cases.not_list",
                "cases must be a list of cases",
                (),
                "cases",
                "write `cases:` then `- name: ...`",
            )
            return []
        cases: list[Case] = []
        for index, item in enumerate(value):
            case = self._case(index, item, seen)
            if case is not None:
                cases.append(case)
        return cases

    def _case(self, index: int, item: Any, seen: set[str]) -> Case | None:
        checkpoint()
        path: tuple[str | int, ...] = ("cases", index)
        if not isinstance(item, dict):
            self._error(
                "cases.bad_shape",
                "a case must be a mapping",
                path,
                f"cases[{index}]",
                "start it with `- name: <name>`",
            )
            return None
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            self._error(
                "cases.bad_shape", "a case needs a name", path, f"cases[{index}]", "add `name: <unique name>`"
            )
            return None
        if name in seen:
            self._error(
                "cases.duplicate_name",
                "case name is used twice",
                (*path, "name"),
                name,
                "give every case a unique name",
            )
            return None
        seen.add(name)
        for key in item:
            checkpoint()
            if key not in _CASE_KEYS:
                self.issues.warning(
                    "cases.unknown_key",
                    f"unknown case key {key!r} is ignored",
                    block=BLOCK,
                    line=self.doc.line_of(*path, key),
                    name=key,
                    hint=f"known keys: {', '.join(sorted(_CASE_KEYS))}",
                )
        errors = len(self.issues.errors)
        events = self._events(path, name, item.get("events"))
        dimension_rows = self._dimension_rows(path, name, item.get("dimensions"))
        expected = self._expected(path, name, item.get("expected"))
        if len(self.issues.errors) > errors:
            return None
        description = item.get("description")
        return Case(
            name=name,
            description=description if isinstance(description, str) else None,
            events=tuple(events),
            dimensions=dimension_rows,
            expected=tuple(expected),
            line=self.doc.line_of(*path),
        )

    def _events(self, path: tuple[str | int, ...], name: str, value: Any) -> list[dict[str, Any]]:
        rows = self._rows((*path, "events"), name, value, "events")
        for index, row in enumerate(rows):
            checkpoint()
            at = (*path, "events", index)
            unknown = [k for k in row if k not in _EVENT_KEYS]
            if unknown:
                self._error(
                    "cases.bad_event",
                    f"event has unknown key {unknown[0]!r}",
                    at,
                    name,
                    "events carry domain, type, create_time and payload",
                )
            for key in ("domain", "type"):
                if not isinstance(row.get(key), str):
                    self._error(
                        "cases.bad_event", f"event needs a string {key}", at, name, f'add `{key}: "<value>"`'
                    )
            create_time = row.get("create_time")
            if create_time is not None and (
                isinstance(create_time, bool) or not isinstance(create_time, int)
            ):
                self._error(
                    "cases.bad_event",
                    "create_time must be an integer (epoch ms)",
                    at,
                    name,
                    "write create_time as a number",
                )
            payload = row.get("payload")
            if isinstance(payload, dict):
                self._json_payload(payload, (*at, "payload"), name)
            if payload is not None and not isinstance(payload, dict | str):
                self._error(
                    "cases.bad_event",
                    "payload must be a mapping, a JSON string or null",
                    at,
                    name,
                    "write `payload: {field: value, ...}`",
                )
        return rows

    def _json_payload(self, value: Any, at: tuple[str | int, ...], name: str) -> None:
        """A payload mapping is serialised as standard JSON, which has no NaN or infinity."""
        if isinstance(value, dict):
            for key, child in value.items():
                self._json_payload(child, (*at, str(key)), name)
        elif isinstance(value, list):
            for index, child in enumerate(value):
                self._json_payload(child, (*at, index), name)
        elif isinstance(value, float) and not math.isfinite(value):
            field = next((str(p) for p in reversed(at) if isinstance(p, str)), "payload")
            self._error(
                "cases.bad_payload",
                f"payload value {field!r} is {value} (YAML .nan/.inf), which JSON cannot hold: the "
                "payload would be serialised as invalid JSON",
                at,
                field,
                'write the value as a string (e.g. "NaN") if the event carries that text, or null',
            )

    def _dimension_rows(
        self, path: tuple[str | int, ...], name: str, value: Any
    ) -> dict[str, tuple[dict[str, Any], ...]]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self._error(
                "cases.bad_shape",
                "dimensions must map table names to rows",
                (*path, "dimensions"),
                name,
                "write `dimensions:` then `<table>:` with a list of rows",
            )
            return {}
        result: dict[str, tuple[dict[str, Any], ...]] = {}
        for table_name, rows_value in value.items():
            at = (*path, "dimensions", table_name)
            table = self.dimensions.get(table_name)
            if table is None:
                self._error(
                    "cases.unknown_table",
                    f"{table_name!r} is not a dimension table",
                    at,
                    table_name,
                    "key rows by dimension TABLE name, not alias",
                )
                continue
            rows = self._rows(at, name, rows_value, table_name)
            for index, row in enumerate(rows):
                self._columns(row, table, (*at, index), exact=False)
            result[table_name] = tuple(rows)
        return result

    def _expected(self, path: tuple[str | int, ...], name: str, value: Any) -> list[dict[str, Any]]:
        rows = self._rows((*path, "expected"), name, value, "expected")
        if self.result is not None:
            for index, row in enumerate(rows):
                self._columns(row, self.result, (*path, "expected", index), exact=True)
        return rows

    def _rows(self, at: tuple[str | int, ...], name: str, value: Any, what: str) -> list[dict[str, Any]]:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
            self._error(
                "cases.bad_shape",
                f"{what} must be a list of rows (mappings)",
                at,
                name,
                "write each row as `- {column: value, ...}`",
            )
            return []
        return list(value)

    def _columns(self, row: dict[str, Any], table: Table, at: tuple[str | int, ...], *, exact: bool) -> None:
        for key, cell in row.items():
            checkpoint()
            column = table.column(key)
            if column is not None and column.type.root == "DECIMAL":
                self._decimal(cell, column.name, column.type.sql(), table.name, at)
            if column is None:
                self._error(
                    "cases.unknown_column",
                    f"{table.name} has no column {key!r}",
                    at,
                    key,
                    f"use the columns of {table.name}",
                )
        if exact:
            for column in table.columns:
                if column.name not in row:
                    self._error(
                        "cases.missing_column",
                        f"expected row lacks result column {column.name!r}",
                        at,
                        column.name,
                        "give every result column in every expected row (null for NULL)",
                    )
        else:
            for column in table.columns:
                if column.not_null and column.name not in row:
                    self.issues.warning(
                        "cases.missing_not_null",
                        f"row leaves out NOT NULL column {column.name!r}; the runner will not run this case",
                        block=BLOCK,
                        line=self.doc.line_of(*at),
                        name=column.name,
                        hint="give every NOT NULL and primary-key column a value",
                    )

    def _decimal(self, value: Any, column: str, type_sql: str, table: str, at: tuple[str | int, ...]) -> None:
        """DECIMAL is a string (preferred) or a number holding a finite decimal value, or null."""
        if value is None:
            return
        number: Decimal | None = None
        if isinstance(value, str):
            try:
                number = Decimal(value.strip())
            except InvalidOperation:
                number = None
        elif isinstance(value, int | float) and not isinstance(value, bool):
            number = Decimal(value) if not isinstance(value, float) or math.isfinite(value) else None
        if number is not None and number.is_finite():
            return
        self._error(
            "cases.bad_value",
            f"{table}.{column} is {type_sql} but the value {str(value)[:40]!r} is not a decimal number",
            at,
            column,
            f'write a decimal number as a string, e.g. {column}: "12.50", or null for NULL',
        )

    def _error(self, code: str, message: str, at: tuple[str | int, ...], name: str, hint: str) -> None:
        self.issues.error(code, message, block=BLOCK, line=self.doc.line_of(*at), name=name, hint=hint)


def check_cases_size(text: str, issues: Issues) -> bool:
    """False, with `cases.too_large`, when a sidecar cases text is over MAX_CASES_BYTES."""
    if len(text) * 4 > MAX_CASES_BYTES and len(text.encode("utf-8", "surrogatepass")) > MAX_CASES_BYTES:
        issues.error(
            "cases.too_large",
            f"cases file is too large (more than {MAX_CASES_BYTES} bytes)",
            block=BLOCK,
            line=None,
            hint="keep fewer or smaller cases: a few rows per case show what the job must do",
        )
        return False
    return True


def check_cases(
    *,
    embedded: yaml_safe.YamlDocument | None,
    sidecar: yaml_safe.YamlDocument | None,
    dimensions: list[Dimension],
    result: Table | None,
    issues: Issues,
    sidecar_issues: Issues,
) -> list[Case]:
    """Embedded `cases:` (document lines) then sidecar cases (lines of the cases file)."""
    seen: set[str] = set()
    cases: list[Case] = []
    if embedded is not None and isinstance(embedded.value, dict):
        cases += CaseChecker(embedded, dimensions, result).run(embedded.value.get("cases"), issues, seen)
    if sidecar is not None:
        value = sidecar.value.get("cases") if isinstance(sidecar.value, dict) else sidecar.value
        cases += CaseChecker(sidecar, dimensions, result).run(value, sidecar_issues, seen)
    return cases


def load_sidecar(text: str, issues: Issues) -> yaml_safe.YamlDocument | None:
    """The sidecar cases file's YAML, read once for every check of it; None (and an error) if unsafe."""
    try:
        return yaml_safe.load(text, 1)
    except yaml_safe.YamlProblem as problem:
        issues.error(
            "yaml.invalid",
            problem.message,
            block=BLOCK,
            line=problem.line,
            name=problem.name,
            hint="fix the cases file YAML at that line",
        )
        return None
