"""Findings against the whole knowledge base: naming-convention drift and cross-domain conflicts.

- naming_drift: a NEW name that breaks the convention the knowledge base already follows
  (column style per table role: snake_case for DDL tables, lowerCamelCase for payload fields;
  `dim_` for dimension tables; the warehouse layer prefix of result tables).

Across domains, a table of another domain is the same table when it has the same physical
identity (`identity.py`: connector, server, database/schema/table, topic, path), whatever its
name; when either identity is unknown (a connector without one, a record without options)
the same name stands for the same table, as before identities:

- table_redefined: the same table declared by two domains with different column types or keys.
- column_set_drift: the same physical table declared with different column names (Warning
  when each side has columns the other lacks; Info when one is a subset: a Flink DDL need
  not declare every column).
- result_written_elsewhere: two jobs would write the same result table (by name).
- same_name_other_table: one name for two different physical tables (Warning; Critical when
  both are result tables: readers of that name would see only one job's rows, and one of
  the two places is most likely a copied request's mistake).
- same_table_other_name: one physical table under two names (Warning: impact and lineage
  by name miss the other; Critical when both are result tables: two jobs write one table).
- possible_duplicate_job: another domain's result table has nearly the same columns.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping

from services.knowledge.domain.conflicts import Direction, change, type_change
from services.knowledge.domain.identity import PhysicalIdentity, differences, physical_identity, same_place
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

# Kinds found against other domains: one per other table, so they merge by their text too.
CROSS_DOMAIN_KINDS = frozenset(
    {
        "table_redefined",
        "result_written_elsewhere",
        "possible_duplicate_job",
        "same_name_other_table",
        "same_table_other_name",
        "column_set_drift",
    }
)


def _jobs(model: DomainModel) -> str:
    """The domain and its jobs: `logistics (配送宽表)`."""
    jobs = ", ".join(j.job for j in model.jobs)
    return f"{model.domain} ({jobs})" if jobs else model.domain


def _redefinition(mine: KbTable, theirs: KbTable, new: DomainModel, other: DomainModel) -> Change | None:
    problems: list[str] = []
    breaks: set[Direction] = set()
    for column in mine.columns:
        their = theirs.column(column.name)
        if their is None:
            continue
        if type_change(their.type, column.type) is not None:
            problems.append(f"{column.name} is {column.type} in {new.domain}, {their.type} in {other.domain}")
            breaks.update(("backward", "forward"))
        elif their.nullable != column.nullable:
            problems.append(
                f"{column.name} is {'nullable' if column.nullable else 'NOT NULL'} in {new.domain}, "
                f"not in {other.domain}"
            )
    if mine.primary_key and theirs.primary_key and mine.primary_key != theirs.primary_key:
        problems.append(
            f"primary key ({', '.join(mine.primary_key)}) in {new.domain}, "
            f"({', '.join(theirs.primary_key)}) in {other.domain}"
        )
        breaks.update(("backward", "forward"))
    if not problems:
        return None
    alias = "" if theirs.name == mine.name else f" as {theirs.name}, the same physical table"
    detail = f"{mine.name} is defined differently by {_jobs(other)}{alias}: " + "; ".join(problems)
    return change("table_redefined", mine.name, detail, breaks=tuple(sorted(breaks)))


_Placed = tuple[KbTable, PhysicalIdentity | None]


def _placed(model: DomainModel) -> list[_Placed]:
    """The model's DDL tables with their physical identities (None: known by name only)."""
    return [(t, physical_identity(t)) for t in model.tables if t.role != "source"]


def _both_results(mine: KbTable, theirs: KbTable) -> tuple[Direction, ...] | None:
    """Both result tables: the finding breaks both directions (Critical unless NONE)."""
    return ("backward", "forward") if mine.role == theirs.role == "result" else None


def _collision(new: DomainModel, mine: _Placed, other: DomainModel, theirs: _Placed) -> Change:
    """One name, two physical tables. Both results: readers of the name get one job's rows only."""
    (table, place), (their, their_place) = mine, theirs
    assert place is not None and their_place is not None
    detail = (
        f"{table.name} names different physical tables: in {_jobs(new)} the {table.role} table {place}, "
        f"in {_jobs(other)} the {their.role} table {their_place} "
        f"({'; '.join(differences(place, their_place))})"
    )
    breaks = _both_results(table, their)
    if breaks:
        detail += "; both are result tables, so readers of the name see one job's rows and not the other's"
    return change("same_name_other_table", table.name, detail, breaks=breaks)


def _alias(new: DomainModel, mine: _Placed, other: DomainModel, theirs: _Placed) -> Change:
    """One physical table, two names. Both results: two jobs write one table."""
    (table, place), (their, _) = mine, theirs
    detail = (
        f"{table.name} ({table.role}) in {_jobs(new)} and {their.name} ({their.role}) in {_jobs(other)} "
        f"are one physical table, {place}"
    )
    breaks = _both_results(table, their)
    detail += "; both jobs write it" if breaks else "; one name would keep impact and lineage whole"
    return change("same_table_other_name", table.name, detail, breaks=breaks)


def _column_drift(new: DomainModel, mine: _Placed, other: DomainModel, theirs: _Placed) -> Change | None:
    """Column names that one DDL of a physical table declares and another does not.

    Both declaring columns the other lacks is a Warning: at least one DDL does not match the table.
    One a subset of the other is Info: a job need declare only the columns it uses.
    Types, nullability and keys of shared columns are `table_redefined`'s.
    """
    (table, place), (their, _) = mine, theirs
    names, their_names = [c.name for c in table.columns], [c.name for c in their.columns]
    only_mine = [n for n in names if n not in set(their_names)]
    only_theirs = [n for n in their_names if n not in set(names)]
    if not only_mine and not only_theirs:
        return None
    sides = [
        f"only in {domain}: {', '.join(columns)}"
        for domain, columns in ((new.domain, only_mine), (other.domain, only_theirs))
        if columns
    ]
    detail = (
        f"{table.name} in {_jobs(new)} and {their.name} in {_jobs(other)} are one physical table, "
        f"{place}, with different columns: " + "; ".join(sides)
    )
    found = change("column_set_drift", table.name, detail)
    return found if only_mine and only_theirs else found.model_copy(update={"severity": "info"})


def _pair(new: DomainModel, mine: _Placed, other: DomainModel, theirs: _Placed) -> list[Change]:
    """Findings between one table of `new` and one of `other` (another domain)."""
    (table, place), (their, their_place) = mine, theirs
    same_name = table.name == their.name
    known = place is not None and their_place is not None
    one_table = place is not None and their_place is not None and same_place(place, their_place)
    if same_name and known and not one_table:
        return [_collision(new, mine, other, theirs)]
    if not (same_name or one_table):
        return []
    # One table: by name when an identity is unknown (records before identities, connectors
    # without one), else by identity.
    found = [c for c in (_redefinition(table, their, new, other),) if c is not None]
    if one_table and (drift := _column_drift(new, mine, other, theirs)) is not None:
        found.append(drift)
    if not same_name:
        found.append(_alias(new, mine, other, theirs))
    elif table.role == "result" and any(table.name in j.writes for j in other.jobs):
        where = f", {place}" if place is not None else ""
        detail = f"{_jobs(other)} already writes {table.name}{where}"
        found.append(change("result_written_elsewhere", table.name, detail))
    return found


def cross_domain(new: DomainModel, others: Mapping[str, DomainModel]) -> list[Change]:
    """Conflicts between `new` and the current versions of the other domains."""
    found: list[Change] = []
    mine = _placed(new)
    result = next(((t, p) for t, p in mine if t.role == "result"), None)
    for domain, other in sorted(others.items()):
        if domain == new.domain:
            continue
        theirs = _placed(other)
        for table in mine:
            for their in theirs:
                found += _pair(new, table, other, their)
        found += _duplicate(result, other, theirs)
    return found


def _duplicate(result: _Placed | None, other: DomainModel, theirs_placed: list[_Placed]) -> list[Change]:
    their_result = next(((t, p) for t, p in theirs_placed if t.role == "result"), None)
    if result is None or their_result is None:
        return []
    (mine, place), (theirs, their_place) = result, their_result
    if theirs.name == mine.name or (place and their_place and same_place(place, their_place)):
        return []  # one table: reported as such
    mine_cols, their_cols = {c.name for c in mine.columns}, {c.name for c in theirs.columns}
    overlap = len(mine_cols & their_cols) / max(1, len(mine_cols | their_cols))
    if overlap < 0.8:
        return []
    return [
        change(
            "possible_duplicate_job",
            mine.name,
            f"{mine.name} shares {overlap:.0%} of its columns with {theirs.name} of {_jobs(other)}",
        )
    ]
