"""The validator's second oracle: the request's semantics interpreted directly from the spec.

`interpret(spec, events, dimensions)` computes the result table's content (request-format.md
§5, data accuracy) from a `RequestSpec` and a case's input rows, with no Flink and no SQL text;
`judge_case` compares it with the case's expected rows as the validator compares a job's rows.
`Unsupported` names a construct the oracle does not interpret (the case cannot be judged by
it); `JobFailure` says Flink would fail the job on these rows. Decisions: docs/
request-format-decisions.md, "The validator's interpreter". Pure: no engine, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from services.flinksql.spec import Case, RequestSpec
from services.validator.domain.oracle.datagen import DerivedData, derive_data
from services.validator.domain.oracle.pipeline import Interpreter, Row
from services.validator.domain.oracle.scalars import JobFailure, Unpredictable, Unsupported
from services.validator.domain.values import RowDiff, compare_rows


def interpret(
    spec: RequestSpec,
    events: Sequence[Mapping[str, Any]],
    dimensions: Mapping[str, Iterable[Mapping[str, Any]]],
) -> list[Row]:
    """The result rows the spec gives for these events (case shape: domain, type, payload as a
    mapping, JSON text or null) and dimension rows (per table name), typed by column."""
    return Interpreter(spec).run(events, dimensions)


def interpret_case(spec: RequestSpec, case: Case) -> list[Row]:
    return interpret(spec, case.events, case.dimensions)


def judge_case(spec: RequestSpec, case: Case, rows: Sequence[Mapping[str, Any]] | None = None) -> RowDiff:
    """The case's expected rows against the oracle's rows (or `rows`), as §8 compares them."""
    actual = interpret_case(spec, case) if rows is None else rows
    columns = [(c.name, c.type) for c in spec.result.columns]
    return compare_rows(case.expected, actual, columns, zone=ZoneInfo(spec.job.time_zone))


__all__ = [
    "DerivedData",
    "JobFailure",
    "Row",
    "Unpredictable",
    "Unsupported",
    "derive_data",
    "interpret",
    "interpret_case",
    "judge_case",
]
