"""Data-accuracy cases (request-format.md §5, §8): what a case is, how it fits a job, its result.

`Case` is one case of a request; `CaseShape.of` checks it against the job (one INSERT into
the result table, dimensions that are the job's lookup tables, expected rows with the result's
columns) and finds the tables a run needs; `PendingCase` carries a case through a run and
judges the rows it produced (`compare_rows`) into a `CaseResult`. Pure: no engine, no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo

from services.flinksql import query
from services.flinksql.ddl import CreateTable, physical_columns
from services.flinksql.sqltypes import FlinkType
from services.validator.domain.case_batch import JobScript
from services.validator.domain.connector_swap import OptionSwap, table_roles
from services.validator.domain.values import compare_rows, payload_text, render_value

Fidelity = Literal["exact", "rewritten"]


@dataclass(frozen=True, slots=True)
class CaseEvent:
    domain: str | None
    type: str | None
    payload: str | None  # JSON text, or the case's string as is
    create_time: int | None = None


@dataclass(frozen=True, slots=True)
class Case:
    """One data-accuracy case (request-format.md §8)."""

    name: str
    events: tuple[CaseEvent, ...]
    dimensions: Mapping[str, tuple[Mapping[str, Any], ...]]
    expected: tuple[Mapping[str, Any], ...]
    description: str = ""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Case:
        events = tuple(
            CaseEvent(
                domain=e.get("domain"),
                type=e.get("type"),
                payload=payload_text(e.get("payload")),
                create_time=None if e.get("create_time") is None else int(e["create_time"]),
            )
            for e in data.get("events") or ()
        )
        dims = {
            str(k): tuple(dict(r) for r in rows or ()) for k, rows in (data.get("dimensions") or {}).items()
        }
        expected = tuple(dict(r) for r in data.get("expected") or ())
        return cls(str(data["name"]), events, dims, expected, str(data.get("description") or ""))


@dataclass(frozen=True, slots=True)
class CaseResult:
    name: str
    fidelity: Fidelity
    passed: bool
    rows: tuple[dict[str, Any], ...] = ()
    missing: tuple[dict[str, Any], ...] = ()
    unexpected: tuple[dict[str, Any], ...] = ()
    error: str | None = None
    swaps: tuple[OptionSwap, ...] = ()
    fallback_reason: str | None = None
    # alone: the run's wall time; in a batch: the case's own set-up and read-back plus an
    # equal share of the shared job, so a batch's seconds add up to its wall time
    seconds: float = 0.0
    note: str | None = None  # e.g. that the batched job failed and this case then ran alone
    batch_size: int = 1  # how many cases shared the Flink job that produced this result


def summary_line(results: Iterable[CaseResult]) -> str:
    results = list(results)
    passed = sum(r.passed for r in results)
    return f"{passed} passed, {len(results) - passed} failed"


class CaseInvalid(ValueError):
    """The case cannot be run against this job (the runner says so instead of running it)."""


class ExactUnsupported(RuntimeError):
    """The exact run is impossible here (no PostgreSQL, no jars, a name PostgreSQL can't take)."""


@dataclass
class CaseShape:
    source: str
    lookups: list[str]
    result: str
    result_columns: list[tuple[str, FlinkType]]
    result_pk: tuple[str, ...]
    types: dict[str, list[tuple[str, FlinkType, bool]]]  # table -> physical (name, type, not null)

    @classmethod
    def of(cls, job: JobScript, case: Case) -> CaseShape:
        roles = table_roles(job.statements)
        targets = {query.insert_target(st.text) for st in job.inserts if st.kind == "INSERT"}
        if len(job.inserts) != 1 or len(targets) != 1 or None in targets:
            raise CaseInvalid("the job must have exactly one INSERT INTO the result table")
        result = next(iter(targets))[-1]  # type: ignore[index]
        sources = [n for n, r in roles.items() if r == "source" and n in job.tables]
        source = next((n for n in sources if n.lower() == "businessevent"), sources[0] if sources else None)
        if source is None or result not in job.tables:
            raise CaseInvalid("the job's BusinessEvent source or result table has no CREATE TABLE")
        lookups = [n for n, r in roles.items() if r == "lookup"]
        types = {name: _physical(ddl) for name, (_, ddl) in job.tables.items()}
        result_ddl = job.tables[result][1]
        columns = [(n, t) for n, t, _ in types[result]]
        _check_case(case, lookups, types, job, columns)
        return cls(source, lookups, result, columns, result_ddl.primary_key, types)


@dataclass
class PendingCase:
    """A case on its way through `run_cases`: how it will run, then how it went."""

    case: Case
    shape: CaseShape
    mode: Fidelity
    reason: str | None  # why not exact
    index: int = -1
    seconds: float = 0.0
    rows: list[dict[str, Any]] | None = None
    swaps: list[OptionSwap] = field(default_factory=list)
    error: str | None = None
    note: str | None = None
    batch_size: int = 1

    @property
    def done(self) -> bool:
        return self.rows is not None or self.error is not None

    def result(self, job: JobScript) -> CaseResult:
        name = self.case.name
        if self.rows is None:
            error = self.error or "the case produced no result"
            return CaseResult(
                name,
                self.mode,
                False,
                error=error,
                fallback_reason=self.reason,
                seconds=self.seconds,
                note=self.note,
                batch_size=self.batch_size,
            )
        zone = ZoneInfo(job.time_zone)
        diff = compare_rows(self.case.expected, self.rows, self.shape.result_columns, zone=zone)
        return CaseResult(
            name,
            self.mode,
            diff.equal,
            # in the job's zone: the oracle reads these rows back as wall clock there (§8)
            rows=tuple({k: render_value(v, zone) for k, v in r.items()} for r in self.rows),
            missing=diff.missing,
            unexpected=diff.unexpected,
            swaps=tuple(self.swaps),
            fallback_reason=self.reason,
            seconds=self.seconds,
            note=self.note,
            batch_size=self.batch_size,
        )


def _physical(ddl: CreateTable) -> list[tuple[str, FlinkType, bool]]:
    return physical_columns(ddl)


def _check_case(
    case: Case,
    lookups: Sequence[str],
    types: Mapping[str, Sequence[tuple[str, FlinkType, bool]]],
    job: JobScript,
    result_columns: Sequence[tuple[str, FlinkType]],
) -> None:
    for table, rows in case.dimensions.items():
        if table not in lookups:
            raise CaseInvalid(f"dimension {table!r} is not a lookup table of the job")
        known = {n for n, _, _ in types[table]}
        required = [n for n, _, nn in types[table] if nn]
        for i, row in enumerate(rows, 1):
            if unknown := sorted(set(row) - known):
                raise CaseInvalid(f"dimension {table} row {i}: unknown column(s) {', '.join(unknown)}")
            if absent := [n for n in required if row.get(n) is None]:
                raise CaseInvalid(
                    f"dimension {table} row {i} leaves out NOT NULL/key column(s) {', '.join(absent)}"
                )
    names = [n for n, _ in result_columns]
    for i, row in enumerate(case.expected, 1):
        if set(row) != set(names):
            lacking, extra = sorted(set(names) - set(row)), sorted(set(row) - set(names))
            raise CaseInvalid(f"expected row {i}: missing columns {lacking}, unknown columns {extra}")
    del job


def events_jsonl(case: Case) -> str:
    """The case's events as the JSON lines the job's BusinessEvent source reads in a case run."""
    lines = [
        json.dumps(
            {"domain": e.domain, "type": e.type, "payload": e.payload, "create_time": e.create_time},
            ensure_ascii=False,
        )
        for e in case.events
    ]
    return "\n".join(lines) + ("\n" if lines else "")


__all__ = [
    "Case",
    "CaseEvent",
    "CaseInvalid",
    "CaseResult",
    "CaseShape",
    "ExactUnsupported",
    "Fidelity",
    "PendingCase",
    "events_jsonl",
    "summary_line",
]
