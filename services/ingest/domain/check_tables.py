"""Dimension and result DDL: one valid CREATE TABLE each, names matching their headings."""

from __future__ import annotations

from services.flinksql.ddl import ColumnDef, CreateTable, DdlError, read_create_table
from services.flinksql.spec import Column, Dimension, Table
from services.flinksql.sqltypes import FlinkType
from services.ingest.domain.errors import Issues
from services.ingest.domain.parse import RESULT_BLOCK, DdlPart, RawDocument

_LOOKUP_CACHE_PREFIXES = ("lookup.cache", "lookup.partial-cache", "lookup.full-cache")
# What may not stand in an option key or value: the generator copies them into the SQL it writes,
# and a script runner that cuts statements by lines or strips `--` / `/* */` comments without
# lexing would cut such a literal (docs/request-format-decisions.md, "Option literals").
UNSAFE_IN_OPTION = ("\r", "\n", "--", "/*", "*/")


def build_dimensions(raw: RawDocument, issues: Issues) -> list[Dimension]:
    """Parse every dimension DDL; report mismatched headings and repeated numbers or tables."""
    dimensions: list[Dimension] = []
    for part in raw.dimensions:
        assert part.dimension is not None
        table = _parse_table(part, issues)
        if table is None:
            continue
        heading = part.dimension
        if heading.table != table.name:
            issues.error(
                "ddl.heading_mismatch",
                f"heading names table {heading.table!r} but the DDL creates {table.name!r}",
                block=part.label,
                line=heading.heading.line,
                name=heading.table or table.name,
                hint=f"make the heading `Dimension {heading.number}: {table.name}` or rename the table",
            )
        if _repeated(part, heading.number, table, dimensions, issues):
            continue
        dimensions.append(
            Dimension(
                number=heading.number,
                alias=f"dim{heading.number}",
                table=table,
                heading_line=heading.heading.line,
            )
        )
    _report_repeated_numbers(raw, issues)
    return dimensions


def _repeated(part: DdlPart, number: int, table: Table, done: list[Dimension], issues: Issues) -> bool:
    if any(d.table.name == table.name for d in done):
        issues.error(
            "ddl.duplicate_dimension_table",
            "two dimensions declare the same table",
            block=part.label,
            line=part.block.fence_line,
            name=table.name,
            hint="declare each dimension table once; join it twice with explicit aliases instead",
        )
        return True
    return any(d.number == number for d in done)


def _report_repeated_numbers(raw: RawDocument, issues: Issues) -> None:
    seen: set[int] = set()
    for heading in raw.dimension_headings:
        if heading.number in seen:
            issues.error(
                "ddl.duplicate_dimension_number",
                f"dimension number {heading.number} is used twice",
                block=heading.heading.text,
                line=heading.heading.line,
                name=f"dim{heading.number}",
                hint="number the dimension headings 1, 2, 3, ... without repeats",
            )
        seen.add(heading.number)


def build_result(raw: RawDocument, issues: Issues) -> Table | None:
    if raw.result is None:
        return None
    table = _parse_table(raw.result, issues)
    if table is None:
        return None
    for name, line in raw.result_names:
        if name != table.name:
            issues.error(
                "ddl.heading_mismatch",
                f"heading names result table {name!r} but the DDL creates {table.name!r}",
                block=RESULT_BLOCK,
                line=line,
                name=name or table.name,
                hint=f"make the heading `Table: {table.name}` or rename the table",
            )
    return table


def _parse_table(part: DdlPart, issues: Issues) -> Table | None:
    try:
        created = read_create_table(part.block.content)
    except DdlError as exc:
        issues.error(
            "ddl.invalid",
            f"not one valid Flink CREATE TABLE: {exc.message}",
            block=part.label,
            line=part.block.content_line + exc.line - 1,
            name=exc.name,
            hint="write one `CREATE TABLE name (col TYPE, ...) WITH (...)` with physical columns only",
        )
        return None
    except (ValueError, RecursionError) as exc:
        issues.error(
            "ddl.invalid",
            f"not one valid Flink CREATE TABLE: {exc}",
            block=part.label,
            line=part.block.fence_line,
            hint="write one `CREATE TABLE name (col TYPE, ...) WITH (...)` with physical columns only",
        )
        return None
    _check_option_literals(created, part, issues)
    return to_table(created, part.block.content_line)


def unsafe_in_option(text: str) -> str | None:
    """The first of CR, LF, `--`, `/*`, `*/` that `text` holds (as a readable name), else None."""
    for bad in UNSAFE_IN_OPTION:
        if bad in text:
            return {"\r": "a carriage return (CR)", "\n": "a line break (LF)"}.get(bad, repr(bad))
    return None


def _check_option_literals(created: CreateTable, part: DdlPart, issues: Issues) -> None:
    """No option key or value holds a line break or a comment marker."""
    for option in created.options:
        for what, text in (("key", option.key), ("value", option.value)):
            bad = unsafe_in_option(text)
            if bad is None:
                continue
            issues.error(
                "ddl.option_literal",
                f"the {what} of option {option.key!r} holds {bad}: option literals are copied into "
                "the generated SQL, where a line-based or comment-stripping SQL runner would cut them",
                block=part.label,
                line=part.block.content_line + option.line - 1,
                name=option.key,
                hint="write the option on one line without '--', '/*' or '*/' in its key or value",
            )


def to_table(created: CreateTable, first_line: int) -> Table:
    """The spec's table model; primary-key columns are NOT NULL (Flink makes them so)."""
    key = set(created.primary_key)
    columns = tuple(
        Column(
            name=c.name,
            type=_strict_type(c).with_nullable(not (c.not_null or c.name in key)),
            not_null=c.not_null or c.name in key,
            comment=c.comment,
            line=first_line + c.line - 1,
        )
        for c in created.columns
    )
    return Table(
        name=created.name,
        name_parts=tuple(created.name_parts),
        columns=columns,
        primary_key=tuple(created.primary_key),
        options=created.option_map,
        comment=created.comment,
        line=first_line,
    )


def _strict_type(column: ColumnDef) -> FlinkType:
    """The strict reader types every column; a column without one is a reader bug."""
    if column.type is None:
        raise ValueError(f"column {column.name!r} has no type")
    return column.type


def has_lookup_cache(table: Table) -> bool:
    return any(key.startswith(_LOOKUP_CACHE_PREFIXES) for key in table.options)


def is_jdbc(table: Table) -> bool:
    return table.options.get("connector", "").strip().lower() == "jdbc"
