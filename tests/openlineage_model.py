"""Checks of an OpenLineage event with the official client (openlineage-python, a dev dependency).

`through_client(event)` rebuilds the event from openlineage-python's typed model, whose classes
are generated from the OpenLineage JSON schemas: a key the spec does not have is an unexpected
argument (TypeError), a missing required one too, a runId that is not a UUID or an eventTime
that is not ISO 8601 with a time is a ValueError. It returns what the client serialises back, so
a test can compare it with the event: equal means every field, facet and `_schemaURL` is the
one the client writes for that spec version.

`validate_with_schemas(event)` validates with jsonschema against the official schema files
vendored under tests/fixtures/openlineage/ (see its README.md), when they are there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from openlineage.client import event_v2 as ev
from openlineage.client.generated import (
    column_lineage_dataset as cl,
)
from openlineage.client.generated import (
    documentation_dataset,
    documentation_job,
    job_type_job,
    schema_dataset,
)
from openlineage.client.serde import Serde

SCHEMAS = Path(__file__).resolve().parent / "fixtures" / "openlineage"


def _facet(cls: Callable[..., Any], body: Mapping[str, Any], **converted: Any) -> Any:
    rest = {k: v for k, v in body.items() if k not in ("_producer", "_schemaURL")}
    return cls(producer=body["_producer"], **{**rest, **converted})


def _schema_field(body: Mapping[str, Any]) -> Any:
    nested = [_schema_field(f) for f in body.get("fields", [])]
    return schema_dataset.SchemaDatasetFacetFields(**{**body, "fields": nested})


def _input_field(body: Mapping[str, Any]) -> Any:
    transformations = [cl.Transformation(**t) for t in body.get("transformations", [])]
    return cl.InputField(**{**body, "transformations": transformations})


def _dataset_facets(facets: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, body in facets.items():
        if key == "schema":
            out[key] = _facet(
                schema_dataset.SchemaDatasetFacet, body, fields=[_schema_field(f) for f in body["fields"]]
            )
        elif key == "documentation":
            out[key] = _facet(documentation_dataset.DocumentationDatasetFacet, body)
        elif key == "columnLineage":
            fields = {
                name: cl.Fields(**{**spec, "inputFields": [_input_field(i) for i in spec["inputFields"]]})
                for name, spec in body["fields"].items()
            }
            out[key] = _facet(
                cl.ColumnLineageDatasetFacet,
                body,
                fields=fields,
                dataset=[_input_field(i) for i in body.get("dataset", [])],
            )
        else:
            raise AssertionError(f"a dataset facet the test does not know: {key}")
    return out


def _job(body: Mapping[str, Any]) -> Any:
    facets: dict[str, Any] = {}
    for key, facet in body.get("facets", {}).items():
        cls = {
            "jobType": job_type_job.JobTypeJobFacet,
            "documentation": documentation_job.DocumentationJobFacet,
        }
        facets[key] = _facet(cls[key], facet)
    return ev.Job(namespace=body["namespace"], name=body["name"], facets=facets)


def _datasets(cls: Callable[..., Any], items: list[Mapping[str, Any]]) -> list[Any]:
    return [
        cls(namespace=d["namespace"], name=d["name"], facets=_dataset_facets(d.get("facets", {})))
        for d in items
    ]


def _pruned(value: Any) -> Any:
    """Without empty lists and objects (the client writes `[]` defaults the event leaves out)."""
    if isinstance(value, dict):
        return {k: _pruned(v) for k, v in value.items() if v not in ({}, [], None)}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def through_client(event: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the event, what openlineage-python serialises from it), both without empty values."""
    common = {
        "eventTime": event["eventTime"],
        "producer": event["producer"],
        "job": _job(event["job"]),
        "inputs": _datasets(ev.InputDataset, event.get("inputs", [])),
        "outputs": _datasets(ev.OutputDataset, event.get("outputs", [])),
    }
    known = {"eventTime", "producer", "schemaURL", "job", "inputs", "outputs"}
    if "run" in event:
        known |= {"run", "eventType"}
        model: Any = ev.RunEvent(
            eventType=ev.RunState(event["eventType"]),
            run=ev.Run(runId=event["run"]["runId"], facets=event["run"].get("facets", {})),
            **common,
        )
    else:
        model = ev.JobEvent(**common)
    assert set(event) <= known, f"keys the spec's event does not have: {set(event) - known}"
    return _pruned(json.loads(json.dumps(event))), _pruned(Serde.to_dict(model))


def vendored_schemas() -> dict[str, Any]:
    """The official schema files under tests/fixtures/openlineage/, by `$id`."""
    found: dict[str, Any] = {}
    for path in sorted(SCHEMAS.glob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        found[schema["$id"]] = schema
    return found
