"""The typed, versioned request spec: everything a compiler needs, without the markdown.

Ingest builds a `RequestSpec` from an accepted request document; every other service reads it.
It is pure data (pydantic), serialises to deterministic JSON, and carries `content_hash`, the
sha256 of the normalised document text, so an identical resubmission is recognised.
Line numbers are 1-based lines of the request document.
"""

from __future__ import annotations

import hashlib
import unicodedata
from typing import Literal

from pydantic import BaseModel, ConfigDict, JsonValue

from services.flinksql.expr import Expr
from services.flinksql.sqltypes import FlinkType

SPEC_VERSION: Literal["1"] = "1"


class SpecModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class JobInfo(SpecModel):
    name: str
    domain: str
    event_type: str
    time_zone: str = "UTC"
    description: str | None = None
    author: str | None = None
    version: str | None = None
    create_date: str | None = None
    update_frequency: str | None = None
    sla_requirement: str | None = None
    extra: dict[str, JsonValue] = {}
    line: int


class PayloadField(SpecModel):
    """One payload JSON field; `flink_type` is None when the Java type cannot be referenced."""

    name: str
    java_type: str
    flink_type: FlinkType | None
    comment: str | None = None
    line: int


class PayloadClass(SpecModel):
    name: str
    fields: tuple[PayloadField, ...]
    line: int

    def field(self, name: str) -> PayloadField | None:
        return next((f for f in self.fields if f.name == name), None)


class Column(SpecModel):
    name: str
    type: FlinkType
    not_null: bool
    comment: str | None = None
    line: int


class Table(SpecModel):
    """A `CREATE TABLE`: `name` is the last part of `name_parts`; `options` is the WITH clause."""

    name: str
    name_parts: tuple[str, ...]
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    options: dict[str, str] = {}
    comment: str | None = None
    line: int

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


class Dimension(SpecModel):
    """Dimension table N; `alias` is the alias-by-rule `dimN` (a join entry may override it)."""

    number: int
    alias: str
    table: Table
    heading_line: int


class Expression(SpecModel):
    """A checked scalar expression: its text as written, its AST and its inferred type."""

    text: str
    ast: Expr
    type: FlinkType | None = None
    line: int


class Mapping(SpecModel):
    """The expression of one result column; `needs_cast` when INSERT needs an explicit CAST."""

    column: str
    expression: Expression
    column_type: FlinkType
    is_aggregate: bool
    needs_cast: bool
    nondeterministic: bool = False
    line: int


class Join(SpecModel):
    """One lookup join, in block order.

    `source_kind` "event": `source_field` is a payload field. "dimension": `source_alias` is the
    alias of an earlier join and `source_field` one of its table's columns.
    """

    name: str
    source_kind: Literal["event", "dimension"]
    source_table: str
    source_alias: str | None = None
    source_field: str
    source_type: FlinkType | None = None
    target_table: str
    target_field: str
    target_type: FlinkType | None = None
    dimension_number: int
    alias: str
    join_type: Literal["LEFT", "INNER"]
    additional_condition: Expression | None = None
    description: str | None = None
    line: int


class BusinessRule(SpecModel):
    name: str
    condition: Expression
    description: str | None = None
    line: int


class ErAttribute(SpecModel):
    type: str
    name: str
    keys: tuple[str, ...] = ()
    comment: str | None = None
    line: int

    @property
    def is_primary_key(self) -> bool:
        return "PK" in self.keys

    @property
    def is_foreign_key(self) -> bool:
        return "FK" in self.keys


class ErEntity(SpecModel):
    name: str
    attributes: tuple[ErAttribute, ...] = ()
    line: int


Cardinality = Literal["zero_or_one", "exactly_one", "zero_or_more", "one_or_more"]


class ErRelationship(SpecModel):
    left: str
    right: str
    left_cardinality: Cardinality
    right_cardinality: Cardinality
    identifying: bool
    label: str | None = None
    line: int


class ErDiagram(SpecModel):
    entities: tuple[ErEntity, ...] = ()
    relationships: tuple[ErRelationship, ...] = ()
    line: int

    def entity(self, name: str) -> ErEntity | None:
        return next((e for e in self.entities if e.name == name), None)


class Note(SpecModel):
    heading: str | None = None
    text: str


class Case(SpecModel):
    """A data-accuracy case (request-format.md §8), shape-checked, values as written."""

    name: str
    description: str | None = None
    events: tuple[dict[str, JsonValue], ...] = ()
    dimensions: dict[str, tuple[dict[str, JsonValue], ...]] = {}
    expected: tuple[dict[str, JsonValue], ...] = ()
    line: int


class Aggregation(SpecModel):
    """`group_by` lists the non-aggregate result columns when `is_aggregate`."""

    is_aggregate: bool = False
    group_by: tuple[str, ...] = ()


class SpecWarning(SpecModel):
    code: str
    message: str
    block: str
    line: int | None = None
    name: str | None = None
    hint: str


class RequestSpec(SpecModel):
    spec_version: Literal["1"] = SPEC_VERSION
    content_hash: str
    job: JobInfo
    payload: PayloadClass
    dimensions: tuple[Dimension, ...] = ()
    result: Table
    mappings: tuple[Mapping, ...]
    joins: tuple[Join, ...] = ()
    filters: tuple[Expression, ...] = ()
    business_rules: tuple[BusinessRule, ...] = ()
    performance_hints: tuple[str, ...] = ()
    er_diagram: ErDiagram | None = None
    notes: tuple[Note, ...] = ()
    cases: tuple[Case, ...] = ()
    aggregation: Aggregation = Aggregation()
    warnings: tuple[SpecWarning, ...] = ()

    def dimension(self, table: str) -> Dimension | None:
        return next((d for d in self.dimensions if d.table.name == table), None)

    def join_by_alias(self, alias: str) -> Join | None:
        return next((j for j in self.joins if j.alias == alias), None)

    def to_json(self) -> str:
        """Deterministic JSON: field order is the model's, dict order is the document's."""
        return self.model_dump_json()


def normalize_document(text: str) -> str:
    """The document as the idempotency unit: NFC, LF line ends, no BOM or trailing blanks."""
    text = unicodedata.normalize("NFC", text.lstrip("\ufeff"))
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip("\n") + "\n"


def content_hash(text: str) -> str:
    """sha256 (hex) of the normalised document text."""
    return hashlib.sha256(normalize_document(text).encode("utf-8", "surrogatepass")).hexdigest()
