"""OpenLineage events of a job: the generator's static lineage and the router's run START.

Plain JSON-ready dicts shaped per the OpenLineage spec (core 2-0-2; the facet versions are
those openlineage-python 1.54 writes, tests/unit/flinksql/test_openlineage.py checks them with
it), so the kernel stays on the standard library:

- `job_event`: a **JobEvent** (static lineage: a job, what it reads and writes, no run): the
  generator writes it as `job/<domain>/lineage/openlineage.json`. A job definition has no run,
  and a RunEvent needs one: an invented run would appear in Marquez as a run that never ran.
- `run_start_event`: the **RunEvent START** the router sends when the job starts (RunStarted):
  the JobEvent's job, inputs and outputs, the run's id as a UUID, the start time.

Naming (OpenLineage's dataset naming spec, from the table's connector options through
services/flinksql/identity.py, so no credential is ever in a name): namespace
`kafka://host:port` (the first bootstrap server, servers sorted) and the topic, one dataset per
topic (`topic-pattern`: the pattern); `mysql://host:port` `database.table`;
`postgres://host:port` `database.schema.table` (Hologres too); `mssql://host:port`,
`oracle://host:port`, `db2://host:port` `database|service.schema.table`; `clickhouse://`,
`mongodb://` (`database.collection`); filesystem paths: `s3://bucket` (s3a, s3n too), `gs://`,
`oss://`, ... with the object key, `hdfs://host:port` and `file` with the absolute path;
elasticsearch / opensearch `index`, hbase `namespace:table`, odps `project.table` under their
own scheme. Servers a table does not name (the connector's default) leave the scheme alone
(`odps`), as OpenLineage names `bigquery`. A table with no physical identity (datagen, print, a URL behind `${secret:...}`)
is `streamwright` / its table name: the knowledge base's name-only rule.

The job is namespace `streamwright`, name `<domain>` (one job per domain; revisions are its
versions). Payload fields are nested fields of the source topic's `payload` column: the schema
facet lists them under it, and column lineage names them `payload.<field>`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.flinksql.identity import PhysicalIdentity, identity_of
from services.flinksql.lineage import FieldRef, JobLineage, Use

SPEC_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
JOB_EVENT_SCHEMA = f"{SPEC_URL}#/$defs/JobEvent"
RUN_EVENT_SCHEMA = f"{SPEC_URL}#/$defs/RunEvent"
FACETS = "https://openlineage.io/spec/facets"
COLUMN_LINEAGE_SCHEMA = f"{FACETS}/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet"
SCHEMA_SCHEMA = f"{FACETS}/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
DOCUMENTATION_DATASET_SCHEMA = (
    f"{FACETS}/1-1-0/DocumentationDatasetFacet.json#/$defs/DocumentationDatasetFacet"
)
DOCUMENTATION_JOB_SCHEMA = f"{FACETS}/1-1-0/DocumentationJobFacet.json#/$defs/DocumentationJobFacet"
JOB_TYPE_SCHEMA = f"{FACETS}/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"

JOB_NAMESPACE = "streamwright"
NAME_ONLY_NAMESPACE = "streamwright"
PAYLOAD_COLUMN = "payload"
# The epoch: the time of a JobEvent compiled outside a run (tests, ad hoc compiles), so the
# artifact stays byte-for-byte deterministic. A run's artifact carries the run's creation time.
UNKNOWN_TIME = datetime(1970, 1, 1, tzinfo=UTC)


def producer_uri(component: str, version: str) -> str:
    """The `producer` / `_producer` URI of a Streamwright component (a URN: no web page implied)."""
    safe = re.sub(r"[^A-Za-z0-9.+_-]", "-", version) or "unknown"
    return f"urn:streamwright:{component}:{safe}"


def event_time(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and `Z`, as OpenLineage producers write it."""
    at = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def run_uuid(run_id: str) -> str:
    """The run's OpenLineage runId: a ULID is the same 128 bits as a UUID (its time first, so
    ids still sort by time); any other id becomes a name-based UUID (v5) of itself."""
    text = run_id.strip().upper()
    if len(text) == 26 and all(c in _CROCKFORD for c in text) and text[0] in "01234567":
        value = 0
        for char in text:
            value = value * 32 + _CROCKFORD.index(char)
        return str(uuid.UUID(int=value))
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:streamwright:run:{run_id}"))


def ulid_time(run_id: str) -> datetime | None:
    """The creation time a ULID carries (its first 48 bits, milliseconds); None for other ids."""
    text = run_id.strip().upper()
    if len(text) != 26 or any(c not in _CROCKFORD for c in text) or text[0] not in "01234567":
        return None
    ms = 0
    for char in text[:10]:
        ms = ms * 32 + _CROCKFORD.index(char)
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


# ---------------------------------------------------------------- dataset names


@dataclass(frozen=True, slots=True)
class DatasetName:
    namespace: str
    name: str


_JDBC_SCHEMES = {"postgresql": "postgres", "sqlserver": "mssql"}
_OBJECT_STORES = {"s3": "s3", "s3a": "s3", "s3n": "s3", "gs": "gs", "oss": "oss", "cos": "cos", "obs": "obs"}


def _first(servers: tuple[str, ...]) -> str:
    return servers[0] if servers else ""


def _filesystem(identity: PhysicalIdentity) -> DatasetName:
    path = identity.path[0]
    where = _first(identity.servers)  # `scheme://authority` (or `scheme:` with none)
    scheme, _, authority = where.partition(":")
    authority = authority.removeprefix("//")
    if not where or scheme == "file":
        return DatasetName(f"file://{authority}" if authority else "file", path)
    if scheme in _OBJECT_STORES:
        return DatasetName(f"{_OBJECT_STORES[scheme]}://{authority}", path.lstrip("/"))
    return DatasetName(f"{scheme}://{authority}", path)


def dataset_names(options: Mapping[str, str], table: str) -> list[DatasetName]:
    """The OpenLineage datasets a table's WITH options name (several for a Kafka topic list)."""
    identity = identity_of(options)
    if identity is None:
        return [DatasetName(NAME_ONLY_NAMESPACE, table)]
    if identity.system == "filesystem":
        return [_filesystem(identity)]
    scheme = _JDBC_SCHEMES.get(identity.system, identity.system)
    # Servers not named (the connector's default endpoint): the scheme alone, like `bigquery`.
    namespace = f"{scheme}://{server}" if (server := _first(identity.servers)) else scheme
    if identity.kind == "topic":
        return [DatasetName(namespace, topic) for topic in identity.path]
    joiner = ":" if identity.system == "hbase" else "."
    return [DatasetName(namespace, joiner.join(identity.path))]


# ---------------------------------------------------------------- the job event


@dataclass(frozen=True, slots=True)
class FieldInfo:
    name: str
    type: str
    description: str | None = None
    fields: tuple[FieldInfo, ...] = ()


@dataclass(frozen=True, slots=True)
class TableInfo:
    """A table of the job as the generated SQL declares it.

    `options`: its WITH options without secret values (an option whose value is a
    `${secret:...}` reference is left out or kept as the reference: it never names the place).
    """

    name: str
    columns: tuple[FieldInfo, ...]
    options: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None


@dataclass(frozen=True, slots=True)
class JobInfo:
    domain: str
    description: str | None
    source: TableInfo  # the BusinessEvent topic; payload fields nested under `payload`
    dimensions: tuple[TableInfo, ...]
    result: TableInfo
    lineage: JobLineage
    event_domain: str  # the event filter (`domain` and `type` columns of the source)
    event_type: str


def _facet(schema_url: str, producer: str, **body: Any) -> dict[str, Any]:
    return {"_producer": producer, "_schemaURL": schema_url, **body}


def _schema_field(info: FieldInfo, position: int) -> dict[str, Any]:
    out: dict[str, Any] = {"name": info.name, "type": info.type}
    if info.description:
        out["description"] = info.description
    out["ordinal_position"] = position
    if info.fields:
        out["fields"] = [_schema_field(f, i) for i, f in enumerate(info.fields, 1)]
    return out


def _dataset_facets(table: TableInfo, producer: str) -> dict[str, Any]:
    facets: dict[str, Any] = {
        "schema": _facet(
            SCHEMA_SCHEMA,
            producer,
            fields=[_schema_field(c, i) for i, c in enumerate(table.columns, 1)],
        )
    }
    if table.description:
        facets["documentation"] = _facet(
            DOCUMENTATION_DATASET_SCHEMA, producer, description=table.description
        )
    return facets


class _Resolver:
    """Lineage references (request names) -> OpenLineage input fields."""

    def __init__(self, job: JobInfo) -> None:
        self.source = dataset_names(job.source.options, job.source.name)
        self.tables = {t.name: dataset_names(t.options, t.name) for t in job.dimensions}

    def fields(self, ref: FieldRef) -> list[tuple[DatasetName, str]]:
        if ref.payload:
            return [(d, f"{PAYLOAD_COLUMN}.{ref.column}") for d in self.source]
        return [
            (d, ref.column) for d in self.tables.get(ref.table, [DatasetName(NAME_ONLY_NAMESPACE, ref.table)])
        ]


def _input_fields(uses: Sequence[Use], resolve: _Resolver) -> list[dict[str, Any]]:
    """One input field per dataset field, its transformations in the order first met."""
    grouped: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for use in uses:
        transformation: dict[str, Any] = {"type": use.type, "subtype": use.subtype}
        if use.type == "DIRECT":
            transformation["masking"] = use.masking
        for dataset, name in resolve.fields(use.ref):
            seen = grouped.setdefault((dataset.namespace, dataset.name, name), [])
            if transformation not in seen:
                seen.append(transformation)
    return [
        {"namespace": ns, "name": name, "field": fld, "transformations": transformations}
        for (ns, name, fld), transformations in grouped.items()
    ]


def _column_lineage(job: JobInfo, resolve: _Resolver, producer: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for column in job.lineage.columns:
        inputs = _input_fields(column.uses, resolve)
        if inputs:
            fields[column.column] = {"inputFields": inputs}
    event_filter = [
        {
            "namespace": d.namespace,
            "name": d.name,
            "field": name,
            "transformations": [
                {"type": "INDIRECT", "subtype": "FILTER", "description": f"{name} = '{value}'"}
            ],
        }
        for d in resolve.source
        for name, value in (("domain", job.event_domain), ("type", job.event_type))
    ]
    return _facet(
        COLUMN_LINEAGE_SCHEMA,
        producer,
        fields=fields,
        dataset=event_filter + _input_fields(job.lineage.rows, resolve),
    )


def _datasets(table: TableInfo, producer: str) -> list[dict[str, Any]]:
    return [
        {"namespace": d.namespace, "name": d.name, "facets": _dataset_facets(table, producer)}
        for d in dataset_names(table.options, table.name)
    ]


def job_event(job: JobInfo, *, at: datetime, producer: str) -> dict[str, Any]:
    """The job's static lineage: an OpenLineage JobEvent (see the module docstring)."""
    resolve = _Resolver(job)
    used = {u.ref.table for c in job.lineage.columns for u in c.uses} | {
        u.ref.table for u in job.lineage.rows
    }
    inputs = _datasets(job.source, producer)
    for table in job.dimensions:
        if table.name in used:
            inputs += _datasets(table, producer)
    outputs = _datasets(job.result, producer)
    lineage = _column_lineage(job, resolve, producer)
    for output in outputs:
        output["facets"]["columnLineage"] = lineage
    job_facets: dict[str, Any] = {
        "jobType": _facet(
            JOB_TYPE_SCHEMA, producer, processingType="STREAMING", integration="FLINK", jobType="JOB"
        )
    }
    if job.description:
        job_facets["documentation"] = _facet(DOCUMENTATION_JOB_SCHEMA, producer, description=job.description)
    return {
        "eventTime": event_time(at),
        "producer": producer,
        "schemaURL": JOB_EVENT_SCHEMA,
        "job": {"namespace": JOB_NAMESPACE, "name": job.domain, "facets": job_facets},
        "inputs": inputs,
        "outputs": outputs,
    }


def run_start_event(static: Mapping[str, Any], *, run_id: str, at: datetime, producer: str) -> dict[str, Any]:
    """The RunEvent START of a run of the job a JobEvent (the generator's artifact) describes.

    ValueError when `static` is not a JobEvent with a job (an artifact from elsewhere).
    """
    job = static.get("job")
    if not isinstance(job, Mapping) or not isinstance(job.get("namespace"), str) or not job.get("name"):
        raise ValueError("the lineage artifact holds no OpenLineage job")
    inputs, outputs = static.get("inputs", []), static.get("outputs", [])
    if not isinstance(inputs, list) or not isinstance(outputs, list):
        raise ValueError("the lineage artifact's inputs and outputs must be lists")
    return {
        "eventType": "START",
        "eventTime": event_time(at),
        "producer": producer,
        "schemaURL": RUN_EVENT_SCHEMA,
        "run": {"runId": run_uuid(run_id), "facets": {}},
        "job": dict(job),
        "inputs": inputs,
        "outputs": outputs,
    }
