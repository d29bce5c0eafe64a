"""A job script cut into the parts a case run needs, and whether its cases can share one job.

`JobScript.read` splits a script (leniently, as the engine sees it) into its SETs, CREATE
TABLEs, INSERTs and other statements. `batch_blocker` says why a job's cases cannot run as one
Flink job (each case in its own catalog database), or None when they can. Pure: no engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.flinksql import query
from services.flinksql.ddl import CreateTable, read_create_table
from services.flinksql.statements import Statement, parse_set, split_statements

# statements a case run does not execute (so a batched job need not bind them either)
SKIPPED_KINDS = frozenset({"BEGIN_STATEMENT_SET", "END", "EXPLAIN", "QUERY"})


@dataclass
class JobScript:
    """A script cut into the parts the engine needs."""

    statements: list[Statement]
    sets: list[tuple[Statement, tuple[str, str]]] = field(default_factory=list)
    tables: dict[str, tuple[Statement, CreateTable]] = field(default_factory=dict)
    inserts: list[Statement] = field(default_factory=list)
    others: list[Statement] = field(default_factory=list)

    @classmethod
    def read(cls, script: str) -> JobScript:
        job = cls(split_statements(script, strict=False))
        for st in job.statements:
            if st.kind == "SET":
                pair = parse_set(st.text)
                if pair is not None:
                    job.sets.append((st, pair))
            elif st.kind == "CREATE_TABLE":
                ddl = read_create_table(st.text, strict=False)
                job.tables[ddl.name] = (st, ddl)
            elif st.kind in ("INSERT", "STATEMENT_SET"):
                job.inserts.append(st)
            else:
                job.others.append(st)
        return job

    @property
    def time_zone(self) -> str:
        zones = [v for _, (k, v) in self.sets if k == "table.local-time-zone"]
        return zones[-1] if zones else "UTC"


def created_object(st: Statement) -> tuple[tuple[str, ...] | None, bool]:
    """Name parts of the view / function a CREATE statement makes, and whether it is global."""
    return query.created_object(st.text)


def batch_blocker(job: JobScript | str) -> str | None:
    """Why the job's (a script's) cases cannot share one Flink job; None when they can.

    A batched job gives each case its own database and binds each case's INSERT while that
    database is current, so every name the job uses must resolve there: tables, views and
    functions unqualified, and no statement that moves or creates catalogs and databases.
    """
    job = JobScript.read(job) if isinstance(job, str) else job
    q = ".".join
    for _, ddl in job.tables.values():
        if len(ddl.name_parts) != 1:
            return f"table {q(ddl.name_parts)} has a qualified name"
    if len(job.inserts) != 1 or job.inserts[0].kind != "INSERT":
        return "the job is not one INSERT"
    target = query.insert_target(job.inserts[0].text)
    if target is None or len(target) != 1:
        return "the INSERT target is qualified"
    return _others_blocker(job)


def _others_blocker(job: JobScript) -> str | None:
    """`batch_blocker` for the job's views, functions and other statements, and the names it reads."""
    q = ".".join
    names = {n.lower() for n in job.tables}
    queries = [job.inserts[0]]
    for st in job.others:
        if st.kind in SKIPPED_KINDS:
            continue
        if st.kind not in ("CREATE_VIEW", "CREATE_FUNCTION"):
            return f"statement {st.index + 1} ({st.kind}) may change the catalog or database in use"
        parts, _ = created_object(st)
        if parts is None or len(parts) != 1:
            return f"statement {st.index + 1} creates an object with a qualified or unreadable name"
        if st.kind == "CREATE_VIEW":
            names.add(parts[0].lower())
            queries.append(st)
    for st in queries:
        for ref in query.table_references(st.text):
            if len(ref.name_parts) > 1 and ref.name.lower() in names:
                return f"statement {st.index + 1} names {q(ref.name_parts)} with a qualifier"
    return None


__all__ = ["SKIPPED_KINDS", "JobScript", "batch_blocker", "created_object"]
