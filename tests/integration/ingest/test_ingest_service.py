"""The ingest service over the real broker: submissions in, RequestAccepted/RequestRejected out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from confluent_kafka import Message, Producer

from services.ingest.bootstrap import build
from services.mesh.avro import codec_from_settings
from services.mesh.events import Envelope, Event, RequestAccepted, RequestRejected, RequestSubmitted, Source
from services.mesh.grpc_client import open_channel
from services.mesh.ids import new_ulid
from services.mesh.kafka import client_config
from services.mesh.rpc.streamwright.v1 import ingest_pb2, ingest_pb2_grpc
from services.mesh.service import ServiceRunner
from services.mesh.settings import MeshSettings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "requests"
ORDERS = (FIXTURES / "orders-request-v3.md").read_text(encoding="utf-8")
PAYMENTS = (FIXTURES / "payments-request-v3.md").read_text(encoding="utf-8")
BROKEN = ORDERS.replace('  order_id: "payload.orderId"\n', '  order_id: "payload.orderIdd"\n')


@pytest.fixture
async def ingest(
    mesh_settings: MeshSettings,
) -> AsyncIterator[tuple[ServiceRunner, ingest_pb2_grpc.IngestServiceStub]]:
    runner = ServiceRunner("ingest", build, settings=mesh_settings)
    await runner.start()
    channel = open_channel(f"127.0.0.1:{runner.grpc_port}", mesh_settings)
    try:
        yield runner, ingest_pb2_grpc.IngestServiceStub(channel)
    finally:
        await channel.close()
        await runner.stop()


async def _events(settings: MeshSettings, topic_reader, event: type[Event], count: int) -> list[Event]:  # type: ignore[no-untyped-def]
    codec = codec_from_settings(settings)
    messages: list[Message] = await asyncio.to_thread(
        topic_reader, settings, settings.topic_prefix + event.TOPIC, count=count, timeout=60.0
    )
    return [codec.decode(m.value()) for m in messages]


async def _wait_state(stub: ingest_pb2_grpc.IngestServiceStub, request_id: str) -> ingest_pb2.Request:
    for _ in range(300):
        found = await stub.GetRequest(ingest_pb2.GetRequestRequest(request_id=request_id))
        if found.state != ingest_pb2.REQUEST_STATE_PENDING:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"request {request_id} stayed PENDING")


async def test_valid_and_invalid_submissions_are_accepted_and_rejected(
    ingest, mesh_settings, topic_reader
) -> None:  # type: ignore[no-untyped-def]
    """It accepts a valid document with revision 1 and rejects a broken one naming block and name."""
    _, stub = ingest
    good = await stub.SubmitRequest(ingest_pb2.SubmitRequestRequest(document=ORDERS, file_name="orders.md"))
    bad = await stub.SubmitRequest(ingest_pb2.SubmitRequestRequest(document=BROKEN))

    accepted = (await _events(mesh_settings, topic_reader, RequestAccepted, 1))[0]
    rejected = (await _events(mesh_settings, topic_reader, RequestRejected, 1))[0]
    assert isinstance(accepted, RequestAccepted) and isinstance(rejected, RequestRejected)
    assert (accepted.envelope.run_id, accepted.revision, accepted.envelope.domain) == (
        good.run_id,
        1,
        "orders",
    )
    assert '"domain":"orders"' in accepted.spec_json
    assert rejected.envelope.run_id == bad.run_id
    assert any(e.block == "field_mapping" and e.name == "payload.orderIdd" for e in rejected.errors), (
        rejected.errors
    )

    stored = await _wait_state(stub, bad.request_id)
    assert stored.state == ingest_pb2.REQUEST_STATE_REJECTED
    assert any(e.name == "payload.orderIdd" and e.line == 112 and e.hint for e in stored.errors)


async def test_duplicates_make_no_second_revision(ingest, mesh_settings, topic_reader) -> None:  # type: ignore[no-untyped-def]
    """It gives identical content the same revision, a new document the next one, and a known key its ids."""
    _, stub = ingest
    first = await stub.SubmitRequest(ingest_pb2.SubmitRequestRequest(document=ORDERS, idempotency_key="k-1"))
    again = await stub.SubmitRequest(ingest_pb2.SubmitRequestRequest(document=ORDERS, idempotency_key="k-1"))
    assert again.duplicate and (again.request_id, again.run_id) == (first.request_id, first.run_id)

    same_content = await stub.SubmitRequest(ingest_pb2.SubmitRequestRequest(document=ORDERS + "\n\n"))
    changed = ORDERS.replace('sla_requirement: "< 5秒"', 'sla_requirement: "< 3秒"')
    assert changed != ORDERS
    revised = await stub.SubmitRequest(ingest_pb2.SubmitRequestRequest(document=changed))

    events = await _events(mesh_settings, topic_reader, RequestAccepted, 3)
    by_run = {e.envelope.run_id: e for e in events if isinstance(e, RequestAccepted)}
    assert set(by_run) == {first.run_id, same_content.run_id, revised.run_id}
    assert by_run[first.run_id].revision == 1
    assert by_run[same_content.run_id].revision == 1
    assert by_run[revised.run_id].revision == 2
    assert all(e.envelope.idempotency_key for e in events)

    listed = await stub.ListRequests(ingest_pb2.ListRequestsRequest(domain="orders", page_size=2))
    assert len(listed.requests) == 2 and listed.next_page_token
    rest = await stub.ListRequests(
        ingest_pb2.ListRequestsRequest(domain="orders", page_size=2, page_token=listed.next_page_token)
    )
    ids = {r.request_id for r in [*listed.requests, *rest.requests]}
    assert ids == {first.request_id, same_content.request_id, revised.request_id}


async def test_upstream_kafka_submission_is_checked(ingest, mesh_settings, topic_reader) -> None:  # type: ignore[no-untyped-def]
    """It handles a RequestSubmitted an upstream system publishes straight to Kafka."""
    codec = codec_from_settings(mesh_settings)
    run_id, request_id = new_ulid(), new_ulid()
    event = RequestSubmitted(
        envelope=Envelope.new(
            event_type=RequestSubmitted.EVENT_TYPE,
            producer="upstream-crm",
            run_id=run_id,
            request_id=request_id,
            domain="payments",
            idempotency_key="crm-42",
        ),
        document=PAYMENTS,
        source=Source.KAFKA,
    )
    producer = Producer(client_config(mesh_settings))
    producer.produce(mesh_settings.topic_prefix + event.TOPIC, codec.encode(event), key=b"payments")
    assert producer.flush(10) == 0
    accepted = (await _events(mesh_settings, topic_reader, RequestAccepted, 1))[0]
    assert accepted.envelope.run_id == run_id and accepted.envelope.idempotency_key == "crm-42"
    assert accepted.envelope.causation_id == event.envelope.event_id


async def test_grpc_rejects_bad_arguments(ingest) -> None:  # type: ignore[no-untyped-def]
    """It answers INVALID_ARGUMENT / NOT_FOUND with a message instead of failing later."""
    _, stub = ingest
    for request, code, text in [
        (ingest_pb2.SubmitRequestRequest(document="  \n"), grpc.StatusCode.INVALID_ARGUMENT, "empty"),
        (
            ingest_pb2.SubmitRequestRequest(document="x" * 1_048_577),
            grpc.StatusCode.INVALID_ARGUMENT,
            "too large",
        ),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.SubmitRequest(request)
        assert caught.value.code() == code and text in (caught.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.GetRequest(ingest_pb2.GetRequestRequest(request_id="nope"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as token:
        await stub.ListRequests(ingest_pb2.ListRequestsRequest(page_token="%%%"))
    assert token.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_check_document_answers_without_submitting(ingest) -> None:  # type: ignore[no-untyped-def]
    """It checks an ad hoc document over gRPC: the spec when valid, the errors when not, no request stored."""
    _, stub = ingest
    good = await stub.CheckDocument(ingest_pb2.CheckDocumentRequest(document=ORDERS))
    bad = await stub.CheckDocument(ingest_pb2.CheckDocumentRequest(document=BROKEN))
    assert good.valid and '"event_type":"order_created"' in good.spec_json and not good.errors
    assert not bad.valid and bad.spec_json == ""
    assert [(e.block, e.name, e.line) for e in bad.errors] == [("field_mapping", "payload.orderIdd", 112)]
    listed = await stub.ListRequests(ingest_pb2.ListRequestsRequest())
    assert list(listed.requests) == []
