"""The generator service over the real broker: RequestAccepted in, SqlGenerated/GenerationFailed out."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from confluent_kafka import Producer

from services.generator.bootstrap import build as build_generator
from services.ingest.bootstrap import build as build_ingest
from services.ingest.domain.checks import check_document
from services.mesh.avro import codec_from_settings
from services.mesh.events import (
    DecidedBy,
    Decision,
    Envelope,
    Event,
    GateDecided,
    GateMode,
    GenerationFailed,
    RequestAccepted,
    SqlGenerated,
)
from services.mesh.grpc_client import open_channel
from services.mesh.ids import new_ulid
from services.mesh.kafka import client_config
from services.mesh.rpc.streamwright.v1 import generator_pb2, generator_pb2_grpc
from services.mesh.service import ServiceRunner
from services.mesh.settings import MeshSettings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "requests"
ORDERS = (FIXTURES / "orders-request-v3.md").read_text(encoding="utf-8")


@pytest.fixture
async def generator(mesh_settings: MeshSettings) -> AsyncIterator[generator_pb2_grpc.GeneratorServiceStub]:
    runner = ServiceRunner("generator", build_generator, settings=mesh_settings)
    await runner.start()
    channel = open_channel(f"127.0.0.1:{runner.grpc_port}", mesh_settings)
    try:
        yield generator_pb2_grpc.GeneratorServiceStub(channel)
    finally:
        await channel.close()
        await runner.stop()


def _publish(settings: MeshSettings, event: Event) -> None:
    producer = Producer(client_config(settings))
    producer.produce(
        settings.topic_prefix + event.TOPIC,
        codec_from_settings(settings).encode(event),
        key=event.envelope.domain.encode(),
    )
    assert producer.flush(10) == 0


def _accepted(spec_json: str, revision: int = 3) -> RequestAccepted:
    return RequestAccepted(
        envelope=Envelope.new(
            event_type=RequestAccepted.EVENT_TYPE,
            producer="test",
            run_id=new_ulid(),
            request_id=new_ulid(),
            domain="orders",
        ),
        revision=revision,
        content_hash="h" * 64,
        spec_version="1",
        spec_json=spec_json,
    )


async def _read(settings: MeshSettings, topic_reader, event: type[Event], count: int) -> list[Event]:  # type: ignore[no-untyped-def]
    codec = codec_from_settings(settings)
    found = await asyncio.to_thread(
        topic_reader, settings, settings.topic_prefix + event.TOPIC, count=count, timeout=60.0
    )
    return [codec.decode(m.value()) for m in found]


async def test_accepted_spec_becomes_sql_and_artifacts(generator, mesh_settings, topic_reader) -> None:  # type: ignore[no-untyped-def]
    """It compiles an accepted spec, stores the artifacts, and a regenerate makes attempt 2."""
    spec = check_document(ORDERS).spec
    assert spec is not None
    accepted = _accepted(spec.to_json())
    _publish(mesh_settings, accepted)
    [first] = await _read(mesh_settings, topic_reader, SqlGenerated, 1)
    assert isinstance(first, SqlGenerated)
    assert (first.attempt, first.revision, first.envelope.run_id) == (1, 3, accepted.envelope.run_id)
    assert "INSERT INTO `dwd_order_wide`" in first.sql and "request revision: 3" in first.sql
    paths = {a.path for a in first.artifacts}
    assert "job/orders/sql/orders_wide_table_v3.sql" in paths
    assert "job/orders/deployment/deploy-orders-v3.yaml" in paths

    got = await generator.GetArtifacts(
        generator_pb2.GetArtifactsRequest(run_id=accepted.envelope.run_id, include_content=True)
    )
    sql_file = next(a for a in got.artifacts if a.path.endswith(".sql"))
    assert sql_file.content.decode() == first.sql
    assert sql_file.sha256 == hashlib.sha256(sql_file.content).hexdigest()
    assert Path(first.artifact_ref, "job/orders/sql/orders_wide_table_v3.sql").read_text() == first.sql

    _publish(
        mesh_settings,
        GateDecided(
            envelope=Envelope.caused_by(first, event_type=GateDecided.EVENT_TYPE, producer="router"),
            attempt=1,
            decision=Decision.REGENERATE,
            reason="test",
            mode=GateMode.STRICT,
            decided_by=DecidedBy.GATE,
        ),
    )
    events = await _read(mesh_settings, topic_reader, SqlGenerated, 2)
    second = next(e for e in events if isinstance(e, SqlGenerated) and e.attempt == 2)
    assert second.sql == first.sql  # deterministic compiler, no LLM configured


async def test_unusable_spec_becomes_generation_failed(generator, mesh_settings, topic_reader) -> None:  # type: ignore[no-untyped-def]
    """It answers a spec it cannot read with GenerationFailed carrying the reason, not silence."""
    accepted = _accepted('{"spec_version": "1", "not": "a spec"}')
    _publish(mesh_settings, accepted)
    [failed] = await _read(mesh_settings, topic_reader, GenerationFailed, 1)
    assert isinstance(failed, GenerationFailed)
    assert failed.envelope.run_id == accepted.envelope.run_id and "ValidationError" in failed.reason
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await generator.GetArtifacts(generator_pb2.GetArtifactsRequest(run_id=accepted.envelope.run_id))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_compile_rpc_takes_a_spec_or_a_document(mesh_settings) -> None:  # type: ignore[no-untyped-def]
    """It compiles ad hoc: a spec directly, a document through ingest's CheckDocument, errors as issues."""
    spec = check_document(ORDERS).spec
    assert spec is not None
    ingest = ServiceRunner("ingest", build_ingest, settings=mesh_settings)
    await ingest.start()
    nowhere = mesh_settings.model_copy(update={"peers": {"ingest": "127.0.0.1:1"}})
    wired = mesh_settings.model_copy(update={"peers": {"ingest": f"127.0.0.1:{ingest.grpc_port}"}})
    try:
        for settings, ingest_reachable in ((nowhere, False), (wired, True)):
            runner = ServiceRunner("generator", build_generator, settings=settings)
            await runner.start()
            channel = open_channel(f"127.0.0.1:{runner.grpc_port}", settings)
            stub = generator_pb2_grpc.GeneratorServiceStub(channel)
            try:
                by_spec = await stub.Compile(
                    generator_pb2.CompileRequest(spec_json=spec.to_json(), target_flink="1.20")
                )
                assert "INSERT INTO `dwd_order_wide`" in by_spec.sql and "ON CONFLICT" not in by_spec.sql
                if not ingest_reachable:
                    with pytest.raises(grpc.aio.AioRpcError) as unavailable:
                        await stub.Compile(generator_pb2.CompileRequest(document=ORDERS))
                    assert unavailable.value.code() == grpc.StatusCode.UNAVAILABLE
                    continue
                by_document = await stub.Compile(generator_pb2.CompileRequest(document=ORDERS))
                assert (
                    by_document.sql.startswith("-- ====") and "ON CONFLICT DO DEDUPLICATE" in by_document.sql
                )
                rejected = await stub.Compile(
                    generator_pb2.CompileRequest(document=ORDERS.replace("payload.orderId", "payload.nope"))
                )
                assert rejected.sql == "" and rejected.issues[0].name == "payload.nope"
                with pytest.raises(grpc.aio.AioRpcError) as bad_target:
                    await stub.Compile(
                        generator_pb2.CompileRequest(spec_json=spec.to_json(), target_flink="9.9")
                    )
                assert bad_target.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            finally:
                await channel.close()
                await runner.stop()
    finally:
        await ingest.stop()
