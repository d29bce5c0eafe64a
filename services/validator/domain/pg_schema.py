"""PostgreSQL's side of an exact case run: the column type each Flink type is stored in for
JDBC, whether a job's lookup and result tables can live in PostgreSQL at all, and the SQL that
creates a case's schema (its lookup and result tables, its dimension rows), and how a result
row is read back. Pure: the SQL is text that the adapter sends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.flinksql.sqltypes import FlinkType
from services.validator.domain.case_batch import JobScript
from services.validator.domain.cases import Case, CaseShape, ExactUnsupported
from services.validator.domain.values import from_pg_value, text_value

# PostgreSQL reserved words: Flink's PostgreSQL dialect does not quote identifiers, so a column
# or table with one of these names cannot be read or written through JDBC (exact runs fall back).
PG_RESERVED = frozenset(
    """all analyse analyze and any array as asc asymmetric authorization binary both case cast check
    collate collation column concurrently constraint create cross current_catalog current_date
    current_role current_schema current_time current_timestamp current_user default deferrable desc
    distinct do else end except false fetch for foreign freeze from full grant group having ilike in
    initially inner intersect into is isnull join lateral leading left like limit localtime
    localtimestamp natural not notnull null offset on only or order outer overlaps placing primary
    references returning right select session_user similar some symmetric system_user table
    tablesample then to trailing true union unique user using variadic verbose when where window
    with""".split()  # noqa: SIM905 (a word list reads better as text)
)


def pg_type(ftype: FlinkType) -> str:
    """The PostgreSQL column type a Flink type is stored in for JDBC (ExactUnsupported if none)."""
    root = ftype.root
    simple = {
        "STRING": "text",
        "VARCHAR": "text",
        "CHAR": "text",
        "BOOLEAN": "boolean",
        "TINYINT": "smallint",
        "SMALLINT": "smallint",
        "INT": "integer",
        "BIGINT": "bigint",
        "FLOAT": "real",
        "DOUBLE": "double precision",
        "DATE": "date",
        "BYTES": "bytea",
        "VARBINARY": "bytea",
        "BINARY": "bytea",
    }
    if root in simple:
        return simple[root]
    if root == "DECIMAL":
        return f"numeric({ftype.precision}, {ftype.scale})"
    if root == "TIME":
        return f"time({min(ftype.precision or 0, 6)})"
    if root == "TIMESTAMP":
        return f"timestamp({min(ftype.precision or 6, 6)})"
    if root == "TIMESTAMP_LTZ":
        return f"timestamptz({min(ftype.precision or 6, 6)})"
    raise ExactUnsupported(f"type {ftype.sql()} has no PostgreSQL column for JDBC here")


def check_postgres_fit(shape: CaseShape) -> None:
    """ExactUnsupported unless every lookup and result table, its columns and their types can
    live in PostgreSQL behind Flink's JDBC connector."""
    for table in [*shape.lookups, shape.result]:
        if table.lower() in PG_RESERVED:
            raise ExactUnsupported(f"table name {table!r} is a PostgreSQL reserved word")
        for name, ftype, _ in shape.types[table]:
            if name.lower() in PG_RESERVED:
                raise ExactUnsupported(
                    f"column {table}.{name} is a PostgreSQL reserved word (JDBC does not quote)"
                )
            if ftype.root == "TIMESTAMP_LTZ":
                # measured: the JDBC connector 4.0 fails the job ("Unsupported type:TIMESTAMP_LTZ")
                raise ExactUnsupported(
                    f"column {table}.{name} is {ftype.sql()}: Flink's JDBC connector cannot read or "
                    "write TIMESTAMP_LTZ"
                )
            precision = 6 if ftype.precision is None else ftype.precision
            if ftype.root == "TIMESTAMP" and not 1 <= precision <= 6:
                # measured: Flink's PostgreSQL dialect refuses the table ("out of the TIMESTAMP
                # precision range [1, 6]")
                raise ExactUnsupported(
                    f"column {table}.{name} is {ftype.sql()}: Flink's PostgreSQL dialect takes "
                    "TIMESTAMP(1) to TIMESTAMP(6) only"
                )
            if ftype.root == "TIME" and (ftype.precision or 0) > 0:
                # measured: the JDBC sink writes java.sql.Time, which drops the fraction
                raise ExactUnsupported(
                    f"column {table}.{name} is {ftype.sql()}: Flink's JDBC connector drops a TIME's "
                    "fraction of a second"
                )
            pg_type(ftype)


def literal(value: str | None) -> str:
    """A PostgreSQL string literal (standard_conforming_strings is on), NULL for None."""
    if value is None:
        return "NULL"
    if "\x00" in value:
        raise ValueError("PostgreSQL text cannot hold NUL characters")
    return "'" + value.replace("'", "''") + "'"


def pg_setup_sql(schema: str, job: JobScript, shape: CaseShape, case: Case) -> str:
    """A case's PostgreSQL schema: the lookup and result tables, the dimension rows."""
    parts = [f"CREATE SCHEMA {schema};"]
    for table in [*shape.lookups, shape.result]:
        parts.append(_pg_create(schema, table, job, shape))
    for table, rows in case.dimensions.items():
        cols = shape.types[table]
        names = ", ".join(n.lower() for n, _, _ in cols)
        for row in rows:
            values = ", ".join(
                literal(None if row.get(n) is None else text_value(row[n])) for n, _, _ in cols
            )
            target = f"{schema}.{table.lower()}"
            parts.append(f"INSERT INTO {target} ({names}) VALUES ({values});")  # noqa: S608
    return "\n".join(parts)


def _pg_create(schema: str, table: str, job: JobScript, shape: CaseShape) -> str:
    ddl = job.tables[table][1]
    cols = [f"{n.lower()} {pg_type(t)}{' NOT NULL' if nn else ''}" for n, t, nn in shape.types[table]]
    if ddl.primary_key:
        cols.append(f"PRIMARY KEY ({', '.join(c.lower() for c in ddl.primary_key)})")
    return f"CREATE TABLE {schema}.{table.lower()} ({', '.join(cols)});"


__all__ = ["PG_RESERVED", "check_postgres_fit", "literal", "pg_setup_sql", "pg_type"]


# Dates and timestamps Python (and so psycopg) cannot hold: PostgreSQL keeps years up to
# 5874897 (a date) or 294276 (a timestamp), and BC; Flink writes them (TO_DATE on text that
# does not parse gives year 1705471). They are read as PostgreSQL's text instead.
_DATED = frozenset({"DATE", "TIMESTAMP", "TIMESTAMP_LTZ"})


def result_select(table: str, columns: Sequence[tuple[str, FlinkType]]) -> str:
    """The SELECT of a case's result table: each column, and for a date or timestamp column the
    value only when Python can hold it, then its text (so the row reads whatever the job wrote)."""
    parts: list[str] = []
    for name, ftype in columns:
        col = name.lower()  # names checked by the DDL reader
        if ftype.root in _DATED:
            parts.append(f"CASE WHEN {col} >= '0001-01-01' AND {col} < '10000-01-01' THEN {col} END")
            parts.append(f"{col}::text")
        else:
            parts.append(col)
    return f"SELECT {', '.join(parts)} FROM {table}"  # noqa: S608


def result_row(columns: Sequence[tuple[str, FlinkType]], row: Sequence[Any]) -> dict[str, Any]:
    """One row of `result_select` typed from the result DDL; a date or timestamp out of
    Python's range stays PostgreSQL's text (e.g. '1705471-03-12'), which equals no expected value."""
    values = iter(row)
    out: dict[str, Any] = {}
    for name, ftype in columns:
        value = next(values)
        if ftype.root in _DATED:
            text = next(values)
            out[name] = from_pg_value(value, ftype) if value is not None else text
        else:
            out[name] = from_pg_value(value, ftype)
    return out
