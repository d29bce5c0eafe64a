"""The generator's OpenLineage artifact (`job/<domain>/lineage/openlineage.json`): a JobEvent whose
result dataset carries the job's column lineage, checked with the official client."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from gen_support import EXAMPLES
from test_llm_client import MemoryArtifacts

from services.flinksql.artifacts import ArtifactLayout
from services.flinksql.spec import RequestSpec
from services.generator.domain import Profile
from services.generator.domain.compile import compile_job
from services.generator.handlers import GeneratorHandlers
from services.mesh.events import Envelope, RequestAccepted
from tests.fakes import RecordingPublisher
from tests.openlineage_model import through_client, vendored_schemas


def artifact(spec: RequestSpec, profile: Profile, **kwargs: Any) -> dict[str, Any]:
    job = compile_job(spec, profile=profile, revision=1, generator_version="0.1.0", **kwargs)
    return json.loads(job.files[ArtifactLayout(spec.job.domain).lineage])


def inputs_of(event: dict[str, Any], column: str) -> dict[tuple[str, str], list[str]]:
    [output] = event["outputs"]
    fields = output["facets"]["columnLineage"]["fields"][column]["inputFields"]
    return {(f["name"], f["field"]): [t["subtype"] for t in f["transformations"]] for f in fields}


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_artifact_is_what_the_official_client_writes(
    name: str, specs: dict[str, RequestSpec], profile: Profile
) -> None:
    """It rebuilds every example's event from openlineage-python's typed model (generated from the
    spec's schemas) and gets the same document back: same keys, facets and `_schemaURL`s."""
    event = artifact(specs[name], profile)
    ours, official = through_client(event)
    assert ours == official
    assert event["schemaURL"] == "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent"
    assert (event["job"]["namespace"], event["job"]["name"]) == ("streamwright", specs[name].job.domain)
    assert "run" not in event and "eventType" not in event  # static lineage: no run


def test_the_client_check_fails_on_what_the_spec_does_not_have(
    specs: dict[str, RequestSpec], profile: Profile
) -> None:
    """A key outside the spec, a renamed facet field or a RunEvent whose runId is no UUID is refused:
    the check above can fail."""
    event = artifact(specs["orders"], profile)
    with pytest.raises(AssertionError, match="keys the spec"):
        through_client({**event, "lineage": {}})
    renamed = json.loads(json.dumps(event))
    first = next(iter(renamed["outputs"][0]["facets"]["columnLineage"]["fields"].values()))
    first["inputFields"][0]["transformation"] = first["inputFields"][0].pop("transformations")
    with pytest.raises(TypeError):
        through_client(renamed)
    with pytest.raises(ValueError, match="badly formed"):
        through_client({**event, "eventType": "START", "run": {"runId": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}})
    wrong_version = json.loads(json.dumps(event))
    wrong_version["job"]["facets"]["jobType"]["_schemaURL"] = (
        "https://openlineage.io/spec/facets/1-0-0/x.json"
    )
    ours, official = through_client(wrong_version)
    assert ours != official


def test_column_lineage_of_the_orders_job(specs: dict[str, RequestSpec], profile: Profile) -> None:
    """Payload fields are `payload.<field>` of the events topic, dimension columns are the MySQL
    tables' columns, each with its transformation; filters, join keys and the event filter apply
    to the whole result."""
    event = artifact(specs["orders"], profile)
    source, shop, city = event["inputs"]
    assert (source["namespace"], source["name"]) == ("kafka://kafka-0.kafka:9093", "business-events")
    assert (shop["namespace"], shop["name"]) == ("mysql://mysql-trade.internal:3306", "trade_dim.dim_shop")
    assert city["name"] == "trade_dim.dim_city"
    payload = next(f for f in source["facets"]["schema"]["fields"] if f["name"] == "payload")
    assert "orderAmount" in [f["name"] for f in payload["fields"]]

    [output] = event["outputs"]
    assert (output["namespace"], output["name"]) == ("odps", "trade_dw.dwd_order_wide")
    assert inputs_of(event, "order_id") == {("business-events", "payload.orderId"): ["IDENTITY"]}
    assert inputs_of(event, "pay_amount") == {
        ("business-events", "payload.orderAmount"): ["TRANSFORMATION"],
        ("business-events", "payload.discountAmount"): ["TRANSFORMATION"],
    }
    assert inputs_of(event, "shop_name") == {("trade_dim.dim_shop", "shop_name"): ["TRANSFORMATION"]}
    assert inputs_of(event, "province_name") == {("trade_dim.dim_city", "province_name"): ["IDENTITY"]}
    rows = {
        (f["name"], f["field"]): [t["subtype"] for t in f["transformations"]]
        for f in output["facets"]["columnLineage"]["dataset"]
    }
    assert rows[("business-events", "domain")] == ["FILTER"] and rows[("business-events", "type")] == [
        "FILTER"
    ]
    assert rows[("trade_dim.dim_shop", "shop_id")] == ["JOIN"]
    assert rows[("business-events", "payload.orderStatus")] == ["FILTER"]


def test_aggregates_and_case_conditions(specs: dict[str, RequestSpec], profile: Profile) -> None:
    """An aggregated column is AGGREGATION; a CASE condition is INDIRECT CONDITIONAL; grouping
    expressions shape every row (GROUP_BY)."""
    activity = artifact(specs["user-activity"], profile)
    assert inputs_of(activity, "total_stay_ms") == {
        ("business-events", "payload.stayMillis"): ["AGGREGATION"]
    }
    assert inputs_of(activity, "view_count") == {("business-events", "payload.actionType"): ["CONDITIONAL"]}
    [output] = activity["outputs"]
    grouped = {
        f["field"]
        for f in output["facets"]["columnLineage"]["dataset"]
        if any(t["subtype"] == "GROUP_BY" for t in f["transformations"])
    }
    assert grouped == {"payload.actionTime", "payload.userId", "member_level"}
    payments = artifact(specs["payments"], profile)
    [level] = inputs_of(payments, "amount_level").values()
    assert level == ["CONDITIONAL"]


def test_no_secret_or_credential_in_the_artifact(specs: dict[str, RequestSpec], profile: Profile) -> None:
    """The source's SASL JAAS config is a secret: neither its reference nor any option value that is
    not a place reaches the event; the profile's JDBC password secret neither."""
    text = json.dumps(artifact(specs["orders"], profile))
    assert "sw-golden-kafka-jaas" not in text and "${secret" not in text
    assert "password" not in text.lower() and "jaas" not in text.lower()


def test_event_time_is_the_given_time_and_deterministic(
    specs: dict[str, RequestSpec], profile: Profile
) -> None:
    """Outside a run the epoch, else the given time; the same arguments give the same bytes."""
    assert artifact(specs["orders"], profile)["eventTime"] == "1970-01-01T00:00:00.000Z"
    at = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert artifact(specs["orders"], profile, lineage_time=at)["eventTime"] == "2026-03-04T05:06:07.000Z"
    assert artifact(specs["orders"], profile, lineage_time=at) == artifact(
        specs["orders"], profile, lineage_time=at
    )


async def test_the_generator_service_stamps_the_run_creation_time(
    specs: dict[str, RequestSpec], profile: Profile
) -> None:
    """A run's artifact carries the time in its ULID run id, so every attempt writes the same bytes."""
    artifacts = MemoryArtifacts()
    handlers = GeneratorHandlers(
        artifacts=artifacts, publisher=RecordingPublisher(), profile=profile, target="2.3"
    )
    run_id = "01ARZ3NDEKTSV4RRFFQ69G5FAV"  # 2016-07-30T23:54:10.259Z
    accepted = RequestAccepted(
        envelope=Envelope.new(
            event_type=RequestAccepted.EVENT_TYPE,
            producer="ingest",
            run_id=run_id,
            request_id=run_id,
            domain="orders",
        ),
        revision=1,
        content_hash="h1",
        spec_version="1",
        spec_json=specs["orders"].model_dump_json(),
    )
    await handlers.on_request_accepted(accepted)
    files = artifacts.files[(run_id, 1)]
    event = json.loads(files["job/orders/lineage/openlineage.json"])
    assert event["eventTime"] == "2016-07-30T23:54:10.259Z"
    assert event["producer"].startswith("urn:streamwright:generator:")


def test_valid_against_the_official_json_schemas(specs: dict[str, RequestSpec], profile: Profile) -> None:
    """jsonschema validation against the spec's own schema files (tests/fixtures/openlineage/)."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    schemas = vendored_schemas()
    core = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
    if core not in schemas:
        pytest.skip("the official OpenLineage schemas are not vendored: tests/fixtures/openlineage/README.md")
    registry = Registry().with_resources((uri, Resource.from_contents(s)) for uri, s in schemas.items())

    def errors(schema_url: str, document: Any) -> list[str]:
        validator = Draft202012Validator({"$ref": schema_url}, registry=registry)
        return sorted(str(e.message) for e in validator.iter_errors(document))

    def facets(node: Any) -> list[dict[str, Any]]:
        """Every facet in the event: each is validated against the schema its `_schemaURL` names."""
        if isinstance(node, dict):
            found = [node] if "_schemaURL" in node else []
            return found + [f for v in node.values() for f in facets(v)]
        return [f for v in node for f in facets(v)] if isinstance(node, list) else []

    for name in EXAMPLES:
        event = artifact(specs[name], profile)
        assert errors(event["schemaURL"], event) == [], name
        for facet in facets(event):
            assert errors(facet["_schemaURL"], facet) == [], (name, facet["_schemaURL"])
    assert errors(f"{core}#/$defs/JobEvent", {"job": {}})  # the check can fail
