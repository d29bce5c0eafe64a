"""`JobIR` -> Flink SQL script text.

Deterministic: the same IR gives byte-identical text (no timestamps, dict order from the IR).
Every identifier goes through `quote_identifier` (backquotes doubled), every literal through
`quote_string` (quotes doubled), comment text through `_comment` (no line breaks), and every
scalar expression through `services.flinksql.expr.render` with column references resolved here.
"""

from __future__ import annotations

import re
from typing import Literal

from services.flinksql import expr as ex
from services.flinksql.quoting import quote_identifier as qi
from services.flinksql.quoting import quote_string as qs
from services.generator.domain.ir import JobIR, KeyCast, KeyRef, Option, TableDef
from services.generator.domain.lower import CompileError

INDENT = "    "
SECRET_REFERENCE = "${{secret:{name}}}"  # noqa: S105 - a reference format, not a secret
# Control characters (C0, DEL, C1: line breaks, terminal escapes such as ESC [ 2 J), the Unicode
# line/paragraph separators and the bidirectional overrides that reorder how text is shown.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]+")
# Never inside an option literal the script carries: a runner that cuts statements by lines or
# strips `--` / `/* */` comments without lexing would cut the literal (ingest rejects them too).
_UNSAFE_IN_OPTION = {"\r": "CR", "\n": "LF", "--": "'--'", "/*": "'/*'", "*/": "'*/'"}


def secret_reference(name: str) -> str:
    return SECRET_REFERENCE.format(name=name)


def one_line(text: str) -> str:
    """Document text made safe to show: each run of control characters (line breaks, terminal
    escape sequences' ESC, bidirectional overrides) becomes one space. The generated files that
    carry document text (this script's comments, the README) all go through it."""
    return _CONTROLS.sub(" ", text).strip()


def _comment(text: str) -> str:
    """Text safe inside a `--` comment: no line breaks (they would end it), no `;` (naive splitters)."""
    return one_line(text).replace(";", ",").strip()


def _option_value(option: Option) -> str:
    return secret_reference(option.secret) if option.secret is not None else option.value


def _option_literal(table: TableDef, option: Option, what: Literal["key", "value"]) -> str:
    """The option's key or value quoted; CompileError when it holds a line break or a comment marker."""
    text = option.key if what == "key" else _option_value(option)
    for bad, name in _UNSAFE_IN_OPTION.items():
        if bad in text:
            raise CompileError(
                f"table {table.name!r}: the {what} of option {option.key!r} ({option.origin}) holds {name}; "
                "an option literal is written on one line without comment markers"
            )
    return qs(text)


def _table_ddl(table: TableDef) -> str:
    lines: list[str] = []
    for c in table.columns:
        if c.proctime:
            lines.append(f"{qi(c.name)} AS PROCTIME()")
            continue
        line = f"{qi(c.name)} {c.type.sql()}"
        if c.comment:
            line += f" COMMENT {qs(c.comment)}"
        lines.append(line)
    if table.primary_key:
        lines.append(f"PRIMARY KEY ({', '.join(qi(k) for k in table.primary_key)}) NOT ENFORCED")
    body = ",\n".join(INDENT + line for line in lines)
    out = f"CREATE TEMPORARY TABLE {qi(table.sql_name)} (\n{body}\n)"
    if table.comment:
        out += f" COMMENT {qs(table.comment)}"
    opts = ",\n".join(
        f"{INDENT}{_option_literal(table, o, 'key')} = {_option_literal(table, o, 'value')}"
        for o in table.options
    )
    return out + f"\nWITH (\n{opts}\n);"


class _Refs:
    """Resolves `payload.<field>` and `<alias>.<column>` to backquoted SQL of the IR."""

    def __init__(self, ir: JobIR) -> None:
        self.ir = ir
        self.aliases = {ir.events.alias} | {lk.alias for lk in ir.lookups}

    def __call__(self, column: ex.Column) -> str:
        if column.qualifier == "payload":
            name = self.ir.events.column_of(column.name)
            if name is None:
                raise ex.RenderError(f"payload field {column.name!r} is not extracted")
            return f"{qi(self.ir.events.alias)}.{qi(name)}"
        if column.qualifier not in self.aliases:
            raise ex.RenderError(f"unknown alias {column.qualifier!r}")
        return f"{qi(column.qualifier)}.{qi(column.name)}"

    def key(self, ref: KeyRef) -> str:
        return f"{qi(ref.qualifier)}.{qi(ref.column)}"

    def render(self, e: ex.Expr) -> str:
        """`render` parenthesises every operator, so the text is atomic next to AND."""
        return ex.render(e, self)


def _key_condition(dim_key: str, key: str, cast: KeyCast | None) -> str:
    """The lookup's key condition (see `ir.KeyCast`): the dimension column bare on its side (the
    lookup key), the value itself or a widening CAST on the other; a conversion that may change
    the value also requires the row's key to equal the value itself, so a changed value matches
    no row."""
    if cast is None:
        return f"{dim_key} = {key}"
    to = cast.to.sql()
    if cast.guard_from is None:
        return f"{dim_key} = CAST({key} AS {to})"
    return f"{dim_key} = TRY_CAST({key} AS {to}) AND TRY_CAST({dim_key} AS {cast.guard_from.sql()}) = {key}"


def _header(ir: JobIR) -> str:
    h = ir.header
    rule = "-- " + "=" * 76
    lines = [
        rule,
        f"-- Streamwright generated job: {_comment(h.job_name)}",
        f"-- request domain: {_comment(h.domain)}   event type: {_comment(h.event_type)}",
        f"-- request revision: {h.revision}   content hash: sha256:{_comment(h.content_hash)}",
        f"-- generator: streamwright-generator {_comment(h.generator_version)}   target: {_comment(h.target_label)}"
        f"   profile: {_comment(h.profile)}",
        "-- Generated from the request document: edit the request and regenerate, not this file.",
        "-- Values '${secret:<name>}' are secret references resolved at submission (docs/generated-job.md).",
        rule,
    ]
    return "\n".join(lines)


def _insert(ir: JobIR, refs: _Refs) -> str:
    ev = ir.events
    cols = ", ".join(qi(p.column) for p in ir.projections)
    out = [f"INSERT INTO {qi(ir.result.sql_name)} ({cols})", "SELECT"]
    select: list[str] = []
    for p in ir.projections:
        body = refs.render(p.expr)
        if p.cast_to is not None:
            body = f"CAST({body} AS {p.cast_to.sql()})"
        select.append(f"{INDENT}{body} AS {qi(p.column)}")
    out.append(",\n".join(select))
    # inner projection: event filter + each referenced payload field extracted once
    inner: list[str] = []
    for e in ev.extractions:
        value = f"JSON_VALUE({qi('payload')}, {qs(e.json_path)})"
        if e.type is not None:
            value = f"TRY_CAST({value} AS {e.type.with_nullable(True).sql()})"
        inner.append(f"{INDENT * 2}{value} AS {qi(e.column)}")
    inner.append(f"{INDENT * 2}{qi(ev.proc_time)}")
    out.append("FROM (")
    out.append(f"{INDENT}SELECT")
    out.append(",\n".join(inner))
    out.append(f"{INDENT}FROM {qi(ev.source)}")
    out.append(f"{INDENT}WHERE {qi('domain')} = {qs(ev.domain)} AND {qi('type')} = {qs(ev.event_type)}")
    out.append(f") AS {qi(ev.alias)}")
    for lk in ir.lookups:
        on = _key_condition(f"{qi(lk.alias)}.{qi(lk.target_column)}", refs.key(lk.source), lk.source_cast)
        if lk.condition is not None:
            on += f" AND {refs.render(lk.condition)}"
        out.append(
            f"{lk.join_type} JOIN {qi(lk.table)} FOR SYSTEM_TIME AS OF {qi(ev.alias)}.{qi(ev.proc_time)} "
            f"AS {qi(lk.alias)}"
        )
        out.append(f"{INDENT}ON {on}")
    if ir.predicates:
        conds = [refs.render(p.expr) for p in ir.predicates]
        out.append("WHERE " + f"\n{INDENT}AND ".join(conds))
    if ir.group_by:
        out.append("GROUP BY " + f",\n{INDENT}".join(refs.render(g) for g in ir.group_by))
    if ir.on_conflict is not None:
        out.append(f"ON CONFLICT DO {ir.on_conflict}")
    return "\n".join(out) + ";"


def emit_script(ir: JobIR) -> str:
    refs = _Refs(ir)
    parts = [_header(ir), ""]
    parts.append("-- Session settings")
    for s in ir.settings:
        parts.append(f"-- {_comment(s.reason)}")
        parts.append(f"SET {qs(s.key)} = {qs(s.value)};")
    parts += ["", "-- Source: the unified BusinessEvent stream (Kafka, JSON)", _table_ddl(ir.source)]
    for d in ir.dimensions:
        parts += ["", f"-- Dimension table {_comment(d.name)} (lookup source)", _table_ddl(d)]
    kind = "upsert sink, primary key" if ir.result.primary_key else "append sink, no primary key"
    parts += ["", f"-- Result table {_comment(ir.result.name)} ({kind})", _table_ddl(ir.result)]
    parts += ["", "-- The job: payload fields extracted once per event, lookups in block order,"]
    parts.append("-- filters and business rules after the joins" + (", then grouping" if ir.group_by else ""))
    parts.append(_insert(ir, refs))
    return "\n".join(parts) + "\n"
