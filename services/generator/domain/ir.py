"""The typed intermediate representation of one generated job.

`lower.lower_spec` builds it from a `RequestSpec`; `emit_sql.emit_script` turns it into Flink
SQL text; manifests, docs and test data read it too. Names in the IR are plain strings that
the emitter always backquotes; literals are values that the emitter always quotes; scalar
expressions stay ASTs (`services.flinksql.expr`) whose column references the emitter resolves
through `ColumnRefs`, so no text from the document is ever spliced into SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from services.flinksql.expr import Expr
from services.flinksql.sqltypes import FlinkType

ConflictStrategy = Literal["DEDUPLICATE"]


@dataclass(frozen=True, slots=True)
class Option:
    """One WITH option; `secret` set means the value is the reference `${secret:<secret>}`."""

    key: str
    value: str
    secret: str | None = None
    origin: Literal["document", "profile", "generator"] = "document"


@dataclass(frozen=True, slots=True)
class ColumnDef:
    name: str
    type: FlinkType
    comment: str | None = None
    # Computed column text is generator-owned (only `PROCTIME()`), never document text.
    proctime: bool = False


@dataclass(frozen=True, slots=True)
class TableDef:
    """A `CREATE TEMPORARY TABLE`: `sql_name` is unique in the script; `name` the document's."""

    role: Literal["source", "dimension", "result"]
    name: str
    sql_name: str
    columns: tuple[ColumnDef, ...]
    options: tuple[Option, ...]
    primary_key: tuple[str, ...] = ()
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class Extraction:
    """One payload field read once per record in the event projection.

    SQL meaning: `TRY_CAST(JSON_VALUE(payload, <json_path>) AS <type>)`, or the plain
    `JSON_VALUE` when `type` is None (a String field).
    """

    field: str
    column: str
    json_path: str
    type: FlinkType | None


@dataclass(frozen=True, slots=True)
class EventProjection:
    """The inner projection over BusinessEvent: event filter + every referenced payload field."""

    alias: str
    source: str
    proc_time: str
    domain: str
    event_type: str
    extractions: tuple[Extraction, ...]

    def column_of(self, payload_field: str) -> str | None:
        return next((e.column for e in self.extractions if e.field == payload_field), None)


@dataclass(frozen=True, slots=True)
class KeyRef:
    """A join key on the left side: `<qualifier>.<column>` where qualifier is an IR alias."""

    qualifier: str
    column: str


@dataclass(frozen=True, slots=True)
class KeyCast:
    """How the left key becomes the dimension key's type (the dimension column stays bare: it is
    Flink's lookup key, and a lookup join needs both key types equal).

    `guard_from` None: `<dim key> = CAST(<key> AS <to>)`, a widening that keeps every value
    (INT -> BIGINT). Otherwise the conversion may change the value (BIGINT -> INT wraps
    4294967297 to 1, DECIMAL -> INT cuts 1.6 to 1), so the row found must also have the key's
    own value: `<dim key> = TRY_CAST(<key> AS <to>) AND TRY_CAST(<dim key> AS <guard_from>) = <key>`.
    A key that no value of `<to>` equals matches no row, which is the meaning of
    `ON <dim>.<key> = <source>` (request-format §4).
    """

    to: FlinkType
    guard_from: FlinkType | None = None


@dataclass(frozen=True, slots=True)
class Lookup:
    """`<join> <table> FOR SYSTEM_TIME AS OF <ev>.<proc_time> AS <alias> ON ...`."""

    name: str
    join_type: Literal["LEFT", "INNER"]
    table: str
    alias: str
    target_column: str
    source: KeyRef
    # The source key converted to the target column's type when Flink needs it (numeric keys of
    # different types); None for equal types and for two character strings (compared as they are).
    source_cast: KeyCast | None
    condition: Expr | None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Projection:
    column: str
    expr: Expr
    cast_to: FlinkType | None
    is_aggregate: bool
    text: str


@dataclass(frozen=True, slots=True)
class Predicate:
    kind: Literal["filter", "rule"]
    name: str
    expr: Expr
    text: str


@dataclass(frozen=True, slots=True)
class Setting:
    key: str
    value: str
    reason: str


@dataclass(frozen=True, slots=True)
class Header:
    job_name: str
    domain: str
    event_type: str
    revision: int
    content_hash: str
    generator_version: str
    target_label: str
    profile: str


@dataclass(frozen=True, slots=True)
class Sizing:
    parallelism: int
    task_managers: int
    slots_per_task_manager: int
    task_manager_memory: str
    job_manager_memory: str
    checkpoint_interval: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class JobIR:
    header: Header
    settings: tuple[Setting, ...]
    source: TableDef
    dimensions: tuple[TableDef, ...]
    result: TableDef
    events: EventProjection
    lookups: tuple[Lookup, ...]
    projections: tuple[Projection, ...]
    predicates: tuple[Predicate, ...]
    group_by: tuple[Expr, ...]
    is_aggregate: bool
    on_conflict: ConflictStrategy | None
    on_conflict_reason: str
    state_ttl: str | None
    state_ttl_reason: str
    sizing: Sizing
    secrets: tuple[str, ...] = ()
    hints_applied: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def table_sql_name(self, name: str) -> str | None:
        for table in (*self.dimensions, self.result):
            if table.name == name:
                return table.sql_name
        return None
