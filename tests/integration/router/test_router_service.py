"""The router service over the real broker: gate, start, review, rejection, WatchRun."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from confluent_kafka import Message, Producer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "router"))
from router_events import RunEvents, write_artifacts

from services.mesh.avro import codec_from_settings
from services.mesh.events import (
    Event,
    GateDecided,
    Issue,
    RequestRejected,
    RunCompleted,
    RunStarted,
    Severity,
    utc_now,
)
from services.mesh.grpc_client import open_channel
from services.mesh.kafka import client_config
from services.mesh.rpc.streamwright.v1 import router_pb2, router_pb2_grpc
from services.mesh.service import ServiceRunner
from services.mesh.settings import MeshSettings
from services.router.bootstrap import build
from services.router.settings import RouterSettings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


@pytest.fixture
async def router(
    mesh_settings: MeshSettings, tmp_path: Path
) -> AsyncIterator[tuple[RouterSettings, router_pb2_grpc.RouterServiceStub]]:
    gate = tmp_path / "gate.yaml"
    gate.write_text("repair: {max_attempts: 1}\n", encoding="utf-8")
    settings = RouterSettings(
        **mesh_settings.model_dump(),
        output_dir=tmp_path / "out",
        gate_config=gate,
        llm_repair=True,
        sweep_interval_seconds=600,
    )
    runner = ServiceRunner("router", build, settings=settings)
    await runner.start()
    channel = open_channel(f"127.0.0.1:{runner.grpc_port}", settings)
    try:
        yield settings, router_pb2_grpc.RouterServiceStub(channel)  # type: ignore[no-untyped-call]
    finally:
        await channel.close()
        await runner.stop()


def publish(settings: MeshSettings, *events: Event) -> None:
    codec = codec_from_settings(settings)
    producer = Producer(client_config(settings))
    for event in events:
        producer.produce(
            settings.topic_prefix + event.TOPIC, codec.encode(event), key=event.kafka_key.encode()
        )
    assert producer.flush(10) == 0


async def read(settings: MeshSettings, topic_reader, cls: type[Event], count: int) -> list:  # type: ignore[no-untyped-def, type-arg]
    codec = codec_from_settings(settings)
    messages: list[Message] = await asyncio.to_thread(
        topic_reader, settings, settings.topic_prefix + cls.TOPIC, count=count
    )
    return [codec.decode(m.value()) for m in messages]


async def wait_state(
    stub: router_pb2_grpc.RouterServiceStub, run_id: str, state: str, attempt: int = 1
) -> router_pb2.Run:
    last = None
    for _ in range(400):
        try:
            last = await stub.GetRun(router_pb2.GetRunRequest(run_id=run_id))
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.NOT_FOUND:
                raise
        if last is not None and last.state_name == state and last.attempt >= attempt:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} never reached {state}; last {last.state_name if last else None}")


async def test_approve_start_review_reject_and_watch(router, topic_reader, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """It gates, starts via manifests, repairs then reviews, approves over gRPC, rejects, streams states, stops."""
    settings, stub = router
    good = RunEvents("orders", start=utc_now())
    artifacts = write_artifacts(tmp_path / "artifacts", "orders")
    publish(settings, good.submitted())
    await wait_state(stub, good.run_id, "PENDING")
    watch = stub.WatchRun(router_pb2.WatchRunRequest(run_id=good.run_id))
    # The stream's first message (the run as it is) arrives before anything else is published.
    first = await asyncio.wait_for(watch.read(), 20)
    assert first is not grpc.aio.EOF

    async def collect() -> list[str]:
        states = [first.run.state_name]
        while (update := await watch.read()) is not grpc.aio.EOF:
            states.append(update.run.state_name)
        return states

    watched = asyncio.create_task(collect())
    publish(settings, good.accepted(), good.generated(1, str(artifacts)), good.scored(1, score=92))
    await wait_state(stub, good.run_id, "GATED")
    publish(settings, good.er_updated())

    low = RunEvents("payments", start=utc_now())
    publish(
        settings, low.submitted(), low.accepted(), low.generated(1, str(artifacts)), low.scored(1, score=60)
    )
    await wait_state(stub, low.run_id, "GENERATING", attempt=2)  # after GateDecided(regenerate)
    publish(settings, low.generated(2, str(artifacts)), low.scored(2, score=65))
    in_review = await wait_state(stub, low.run_id, "IN_REVIEW")
    assert in_review.attempt == 2 and "repair budget spent" in in_review.reason
    reviewed = await stub.Review(
        router_pb2.ReviewRequest(
            run_id=low.run_id,
            decision=router_pb2.REVIEW_DECISION_APPROVE,
            comment="ok by me",
        )
    )
    # Auth is on by default: the client sends the installation token, whose subject reviews.
    assert reviewed.state_name == "GATED" and reviewed.reviewer == "owner"

    bad = RunEvents("broken", start=utc_now())
    rejected = RequestRejected(
        envelope=bad.envelope(RequestRejected.EVENT_TYPE, "ingest"),
        errors=(
            Issue(
                code="MAPPING_UNKNOWN_FIELD",
                severity=Severity.ERROR,
                message="payload.orderIdd is not a field",
            ),
        ),
    )
    publish(settings, bad.submitted(), rejected)

    gates = await read(settings, topic_reader, GateDecided, 4)
    by_run = [(g.envelope.run_id, g.decision.value, g.decided_by.value) for g in gates]
    assert sorted(by_run) == sorted(
        [
            (good.run_id, "approved", "gate"),
            (low.run_id, "regenerate", "gate"),
            (low.run_id, "review", "gate"),
            (low.run_id, "approved", "reviewer"),
        ]
    )
    (started,) = await read(settings, topic_reader, RunStarted, 1)
    assert started.envelope.run_id == good.run_id and started.target == "manifest"
    completed = await read(settings, topic_reader, RunCompleted, 2)
    finals = {c.envelope.run_id: c.final_state.value for c in completed}
    assert finals == {good.run_id: "RUNNING", bad.run_id: "REJECTED"}
    assert all(c.envelope.idempotency_key for c in completed)
    assert (settings.output_dir / "job" / "orders" / "deployment" / "deploy-orders-v3.yaml").is_file()

    states = await asyncio.wait_for(watched, 20)
    assert states[0] == "PENDING" and states[-1] == "RUNNING"
    assert states.index("VALIDATING") < states.index("GATED") < states.index("RUNNING")

    listed = await stub.ListRuns(router_pb2.ListRunsRequest(state=router_pb2.RUN_STATE_REJECTED))
    assert [r.run_id for r in listed.runs] == [bad.run_id]
    assert "payload.orderIdd" in listed.runs[0].reason
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Review(
            router_pb2.ReviewRequest(
                run_id=bad.run_id, decision=router_pb2.REVIEW_DECISION_APPROVE, reviewer="owner"
            )
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    # The deployed domain stops over gRPC (manifests suspended); nothing earlier to roll back to.
    stopped = await stub.StopDomain(router_pb2.StopDomainRequest(domain="orders", reason="maintenance"))
    assert (stopped.state, stopped.revision, stopped.target) == ("STOPPED", 1, "manifest")
    assert stopped.run_id == good.run_id and "maintenance" in stopped.reason
    manifest = settings.output_dir / "job" / "orders" / "deployment" / "deploy-orders-v3.yaml"
    assert "state: suspended" in manifest.read_text()
    for call, request, code in (
        (stub.RollbackDomain, router_pb2.RollbackDomainRequest(domain="orders"), "FAILED_PRECONDITION"),
        (stub.StopDomain, router_pb2.StopDomainRequest(domain="orders"), "FAILED_PRECONDITION"),
        (stub.StopDomain, router_pb2.StopDomainRequest(domain="nope"), "NOT_FOUND"),
        (stub.StopDomain, router_pb2.StopDomainRequest(domain=""), "INVALID_ARGUMENT"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await call(request)
        assert failed.value.code().name == code, failed.value.details()
