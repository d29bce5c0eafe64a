"""Findings against the whole knowledge base: naming-convention drift and cross-domain conflicts.

- naming_drift: a NEW name that breaks the convention the knowledge base already follows
  (column style per table role: snake_case for DDL tables, lowerCamelCase for payload fields;
  `dim_` for dimension tables; the warehouse layer prefix of result tables).
- table_redefined: the same table declared by two domains with different column types or keys
  (a subset of columns is fine: a Flink DDL need not declare every column).
- result_written_elsewhere: two jobs would write the same result table.
- possible_duplicate_job: another domain's result table has nearly the same columns.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping

from services.knowledge.domain.conflicts import Direction, change, type_change
from services.knowledge.domain.model import Change, DomainModel, KbTable, TableRole

_STYLES = {
    "snake": re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$"),
    "camel": re.compile(r"^[a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)+$|^[a-z][a-z0-9]*$"),
}
_DEFAULT_STYLE: dict[TableRole, str] = {"source": "camel", "dimension": "snake", "result": "snake"}
_LAYERS = ("ods", "dwd", "dws", "dwa", "ads", "dim", "app")


def name_style(name: str) -> str:
    """snake, camel (a single lower-case word is both: reported as snake) or other."""
    if _STYLES["snake"].match(name):
        return "snake"
    return "camel" if _STYLES["camel"].match(name) else "other"


def _fits(name: str, style: str) -> bool:
    return bool(_STYLES[style].match(name))


def _convention(tables: Iterable[KbTable], role: TableRole) -> str:
    styles = Counter(name_style(c.name) for t in tables if t.role == role for c in t.columns)
    styles.pop("other", None)
    if role == "source" and styles:  # one-word names are snake and camel alike
        return "camel" if styles.get("camel", 0) or not styles.get("snake") else "snake"
    return styles.most_common(1)[0][0] if styles else _DEFAULT_STYLE[role]


def naming_drift(
    new: DomainModel, current: DomainModel | None, others: Iterable[DomainModel]
) -> list[Change]:
    """Drift of the names `new` introduces, against the convention the KB (or, if empty, `new`) follows."""
    reference = [t for m in ([current] if current else []) + list(others) for t in m.tables]
    pool = reference or list(new.tables)
    known = {(t.name, c.name) for t in reference for c in t.columns}
    found: list[Change] = []
    for table in new.tables:
        style = _convention(pool, table.role)
        for column in table.columns:
            if (table.name, column.name) not in known and not _fits(column.name, style):
                found.append(
                    change(
                        "naming_drift",
                        table.name,
                        f"{column.name} does not follow the {style} names of {table.role} tables",
                        column.name,
                    )
                )
        found += _table_name_drift(table, reference)
    return found


def _table_name_drift(table: KbTable, reference: list[KbTable]) -> list[Change]:
    if table.role == "source" or any(t.name == table.name for t in reference):
        return []
    peers = [t.name for t in reference if t.role == table.role]
    if table.role == "dimension":
        expected = {"dim"} if not peers or all(p.startswith("dim_") for p in peers) else set()
    else:
        expected = {p.split("_", 1)[0] for p in peers if p.split("_", 1)[0] in _LAYERS} or set(_LAYERS)
    prefix = table.name.split("_", 1)[0]
    if not expected or prefix in expected:
        return []
    wanted = " or ".join(f"{p}_" for p in sorted(expected))
    return [
        change("naming_drift", table.name, f"{table.role} table {table.name} does not start with {wanted}")
    ]


# ---------------------------------------------------------------- across domains


def _jobs(model: DomainModel) -> str:
    return ", ".join(f"{j.domain}/{j.job}" for j in model.jobs) or model.domain


def _redefinition(mine: KbTable, theirs: KbTable, other: DomainModel) -> Change | None:
    problems: list[str] = []
    breaks: set[Direction] = set()
    for column in mine.columns:
        their = theirs.column(column.name)
        if their is None:
            continue
        if type_change(their.type, column.type) is not None:
            problems.append(f"{column.name} is {column.type} here, {their.type} in {other.domain}")
            breaks.update(("backward", "forward"))
        elif their.nullable != column.nullable:
            problems.append(
                f"{column.name} is {'nullable' if column.nullable else 'NOT NULL'} here, "
                f"not in {other.domain}"
            )
    if mine.primary_key and theirs.primary_key and mine.primary_key != theirs.primary_key:
        problems.append(
            f"primary key ({', '.join(mine.primary_key)}) here, "
            f"({', '.join(theirs.primary_key)}) in {other.domain}"
        )
        breaks.update(("backward", "forward"))
    if not problems:
        return None
    detail = f"{mine.name} is defined differently by {_jobs(other)}: " + "; ".join(problems)
    return change("table_redefined", mine.name, detail, breaks=tuple(sorted(breaks)))


def cross_domain(new: DomainModel, others: Mapping[str, DomainModel]) -> list[Change]:
    """Conflicts between `new` and the current versions of the other domains."""
    found: list[Change] = []
    result = next((t for t in new.tables if t.role == "result"), None)
    for domain, other in sorted(others.items()):
        if domain == new.domain:
            continue
        for table in new.tables:
            theirs = other.table(table.name)
            if table.role == "source" or theirs is None or theirs.role == "source":
                continue
            redefined = _redefinition(table, theirs, other)
            if redefined is not None:
                found.append(redefined)
            if table.role == "result" and any(table.name in j.writes for j in other.jobs):
                found.append(
                    change(
                        "result_written_elsewhere", table.name, f"{_jobs(other)} already writes {table.name}"
                    )
                )
        found += _duplicate(result, other)
    return found


def _duplicate(result: KbTable | None, other: DomainModel) -> list[Change]:
    theirs = next((t for t in other.tables if t.role == "result"), None)
    if result is None or theirs is None or theirs.name == result.name:
        return []
    mine_cols, their_cols = {c.name for c in result.columns}, {c.name for c in theirs.columns}
    overlap = len(mine_cols & their_cols) / max(1, len(mine_cols | their_cols))
    if overlap < 0.8:
        return []
    return [
        change(
            "possible_duplicate_job",
            result.name,
            f"{result.name} shares {overlap:.0%} of its columns with {theirs.name} of {_jobs(other)}",
        )
    ]
