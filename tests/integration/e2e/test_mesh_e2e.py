"""The whole mesh: five service processes and the embedded broker, one request end to end.

This is `streamwright run` without the CLI: the supervisor starts every service as its own
process on free ports (telling each where its peers are), a valid request reaches RUNNING
through the real Flink planner and data-accuracy runs, an invalid one is REJECTED with its
errors retrievable over gRPC, and each run ends with exactly one RunCompleted.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from rich.console import Console

from services.mesh.avro import codec_from_settings
from services.mesh.events import RunCompleted
from services.mesh.grpc_client import open_channel
from services.mesh.rpc.streamwright.v1 import ingest_pb2, ingest_pb2_grpc, router_pb2, router_pb2_grpc
from services.mesh.settings import MeshSettings
from services.mesh.supervisor import Supervisor

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.system, pytest.mark.timeout(600)]

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


async def _until_settled(
    router: router_pb2_grpc.RouterServiceStub, run_id: str, limit_s: float
) -> router_pb2.Run:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            run = await router.GetRun(router_pb2.GetRunRequest(run_id=run_id))
            if run.terminal or run.state_name == "IN_REVIEW":
                return run
        except Exception:
            pass
        await asyncio.sleep(0.5)
    raise AssertionError(f"run {run_id} did not settle in {limit_s:.0f} s")


async def test_requests_flow_through_all_five_services(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, topic_reader
) -> None:  # type: ignore[no-untyped-def]
    """It takes a valid request to RUNNING (score >= 85, manifest written) and an invalid one to REJECTED."""
    out = tmp_path / "out"
    monkeypatch.setenv("STREAMWRIGHT_ROUTER_OUTPUT_DIR", str(out))
    settings = MeshSettings(home=tmp_path / "home")
    supervisor = Supervisor(
        settings, broker_port=0, free_ports=True, health_timeout=150, console=Console(quiet=True)
    )
    await supervisor.start()
    try:
        peers = {c.name: f"127.0.0.1:{c.grpc_port}" for c in supervisor.children}
        assert set(peers) == {"ingest", "generator", "validator", "knowledge", "router"}
        orders = (EXAMPLES / "orders" / "orders-request-v3.md").read_text(encoding="utf-8")
        cases = (EXAMPLES / "orders" / "cases.yaml").read_text(encoding="utf-8")
        broken = orders.replace('target_table: "dim_city"', 'target_table: "dim_town"')
        async with (
            open_channel(peers["ingest"], settings) as ingest_channel,
            open_channel(peers["router"], settings) as router_channel,
        ):
            ingest = ingest_pb2_grpc.IngestServiceStub(ingest_channel)
            router = router_pb2_grpc.RouterServiceStub(router_channel)
            good = await ingest.SubmitRequest(
                ingest_pb2.SubmitRequestRequest(
                    document=orders, cases_yaml=cases, idempotency_key="e2e-orders"
                )
            )
            bad = await ingest.SubmitRequest(ingest_pb2.SubmitRequestRequest(document=broken))

            rejected = await _until_settled(router, bad.run_id, 60)
            assert rejected.state_name == "REJECTED"
            stored = await ingest.GetRequest(ingest_pb2.GetRequestRequest(request_id=bad.request_id))
            assert any(e.name == "dim_town" and e.block == "join_relationships" for e in stored.errors), (
                stored.errors
            )

            done = await _until_settled(router, good.run_id, 420)
            assert done.state_name == "RUNNING", (done.state_name, done.reason)
            assert done.score >= 85
            assert done.idempotency_key == "e2e-orders"
        manifest = out / "job" / "orders" / "deployment" / "deploy-orders-v3.yaml"
        assert "kind: FlinkDeployment" in manifest.read_text(encoding="utf-8")

        wire = settings.model_copy(update={"bootstrap_servers": supervisor.bootstrap_servers})
        codec = codec_from_settings(wire)
        records = await asyncio.to_thread(topic_reader, wire, RunCompleted.TOPIC, count=3, timeout=20.0)
        completed = [codec.decode(r.value()) for r in records]
        by_run: dict[str, list[str]] = {}
        for event in completed:
            assert isinstance(event, RunCompleted)
            by_run.setdefault(event.envelope.run_id, []).append(str(event.final_state))
        assert by_run == {good.run_id: ["RUNNING"], bad.run_id: ["REJECTED"]}, json.dumps(by_run)
    finally:
        await asyncio.to_thread(supervisor.stop)
