"""The validator's knowledge client waits out a knowledge service that is restarting."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import grpc
import pytest

from services.mesh.embedded_broker import free_port
from services.mesh.rpc.streamwright.v1 import knowledge_pb2, knowledge_pb2_grpc
from services.mesh.settings import MeshSettings
from services.validator.adapters.knowledge_client import KnowledgeClient

pytestmark = pytest.mark.integration


class _Knowledge(knowledge_pb2_grpc.KnowledgeServiceServicer):
    async def CheckConflicts(
        self, request: knowledge_pb2.CheckConflictsRequest, context: grpc.aio.ServicerContext
    ) -> knowledge_pb2.CheckConflictsResponse:
        return knowledge_pb2.CheckConflictsResponse(compatible=True)


async def _serve_after(port: int, delay: float) -> grpc.aio.Server:
    await asyncio.sleep(delay)
    server = grpc.aio.server()
    knowledge_pb2_grpc.add_KnowledgeServiceServicer_to_server(_Knowledge(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    return server


async def test_a_knowledge_service_that_comes_back_in_time_is_asked_again(tmp_path: Path) -> None:
    port = free_port()
    client = KnowledgeClient(
        MeshSettings(home=tmp_path),
        target=f"127.0.0.1:{port}",
        timeout=2,
        unavailable_wait_s=20,
        retry_interval_s=0.2,
    )
    starting = asyncio.create_task(_serve_after(port, 1.0))
    try:
        facts = await client.check_conflicts("orders", "{}")
    finally:
        await (await starting).stop(None)
    assert facts.available and facts.compatible, facts.note


async def test_without_a_wait_or_after_it_the_answer_is_unavailable(tmp_path: Path) -> None:
    target = f"127.0.0.1:{free_port()}"  # nothing listens
    began = time.monotonic()
    facts = await KnowledgeClient(MeshSettings(home=tmp_path), target=target, timeout=2).check_conflicts(
        "o", "{}"
    )
    assert not facts.available and "UNAVAILABLE" in (facts.note or "")
    assert time.monotonic() - began < 2
    began = time.monotonic()
    waited = KnowledgeClient(
        MeshSettings(home=tmp_path), target=target, timeout=2, unavailable_wait_s=1.0, retry_interval_s=0.2
    )
    facts = await waited.check_conflicts("o", "{}")
    assert not facts.available
    assert 1.0 <= time.monotonic() - began < 5
