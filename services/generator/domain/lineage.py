"""The job's OpenLineage artifact: `job/<domain>/lineage/openlineage.json`.

A JobEvent (static lineage) built by services/flinksql/openlineage.py from the column lineage
of the spec (services/flinksql/lineage.py) and the tables as the generated SQL declares them:
the profile's options (the ones the job really uses), never a secret's value.
"""

from __future__ import annotations

import json
from datetime import datetime

from services.flinksql import openlineage as ol
from services.flinksql.lineage import job_lineage
from services.flinksql.spec import RequestSpec
from services.generator.domain.ir import JobIR, TableDef


def _table(table: TableDef, payload: tuple[ol.FieldInfo, ...] = ()) -> ol.TableInfo:
    columns = tuple(
        ol.FieldInfo(
            c.name,
            c.type.sql(),
            c.comment,
            payload if c.name == ol.PAYLOAD_COLUMN and payload else (),
        )
        for c in table.columns
        if not c.proctime
    )
    return ol.TableInfo(
        name=table.name,
        columns=columns,
        # A secret option has no value here (only its reference's name): it names no place.
        options={o.key: o.value for o in table.options if o.secret is None},
        description=table.comment,
    )


def openlineage_json(spec: RequestSpec, ir: JobIR, *, at: datetime, generator_version: str) -> str:
    """The artifact's text: the JobEvent as indented JSON (deterministic for a given `at`)."""
    payload = tuple(
        ol.FieldInfo(
            f.name, f.flink_type.sql() if f.flink_type is not None else f"RAW('{f.java_type}')", f.comment
        )
        for f in spec.payload.fields
    )
    job = ol.JobInfo(
        domain=ir.header.domain,
        description=spec.job.description,
        source=_table(ir.source, payload),
        dimensions=tuple(_table(d) for d in ir.dimensions),
        result=_table(ir.result),
        lineage=job_lineage(spec),
        event_domain=ir.events.domain,
        event_type=ir.events.event_type,
    )
    event = ol.job_event(job, at=at, producer=ol.producer_uri("generator", generator_version))
    return json.dumps(event, ensure_ascii=False, indent=2) + "\n"
