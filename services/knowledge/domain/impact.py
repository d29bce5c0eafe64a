"""Impact analysis: which jobs read or write a table, or one column of it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.knowledge.domain.model import DomainModel, JobRef, TableRole


@dataclass(frozen=True)
class ImpactedJob:
    domain: str
    job: str
    run_id: str | None
    usage: TableRole
    access: str  # "reads" or "writes"
    columns: tuple[str, ...]


def _usage(model: DomainModel, table: str, written: bool) -> TableRole:
    found = model.table(table)
    if found is not None:
        return found.role
    return "result" if written else "dimension"


def _hits(model: DomainModel, job: JobRef, table: str, column: str | None) -> list[ImpactedJob]:
    hits: list[ImpactedJob] = []
    for access, used in (("writes", job.writes), ("reads", job.reads)):
        columns = used.get(table)
        if columns is None or (column is not None and column not in columns):
            continue
        shown = (column,) if column is not None else columns
        hits.append(
            ImpactedJob(
                job.domain, job.job, job.run_id, _usage(model, table, access == "writes"), access, shown
            )
        )
    return hits


def impact(
    models: Mapping[str, DomainModel], table: str, column: str | None = None, domain: str | None = None
) -> list[ImpactedJob]:
    """Jobs of the current versions that use `table` (and `column`), writers first."""
    found: list[ImpactedJob] = []
    for name in sorted(models):
        if domain is None or name == domain:
            model = models[name]
            for job in model.jobs:
                found += _hits(model, job, table, column)
    return sorted(found, key=lambda j: (j.access != "writes", j.domain, j.job))


def parse_target(text: str) -> tuple[str, str | None]:
    """`TABLE` or `TABLE.COLUMN` (ValueError when neither)."""
    table, _, column = text.strip().partition(".")
    if not table or (text.count(".") > 1) or (_ and not column):
        raise ValueError(f"expected TABLE or TABLE.COLUMN, got {text!r}")
    return table, column or None
