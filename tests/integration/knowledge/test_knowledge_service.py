"""The knowledge service over the real broker: approvals in, ErUpdated / ErCommitFailed out, gRPC lookups."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from confluent_kafka import Producer

from services.flinksql.spec import RequestSpec
from services.ingest.domain.checks import check_document
from services.knowledge.adapters.kb_store import StoreKnowledgeRepository
from services.knowledge.bootstrap import build
from services.mesh.avro import codec_from_settings
from services.mesh.events import (
    DecidedBy,
    Decision,
    Envelope,
    ErCommitFailed,
    ErUpdated,
    Event,
    GateDecided,
    GateMode,
    RequestAccepted,
    RunStartFailed,
)
from services.mesh.grpc_client import open_channel
from services.mesh.ids import new_ulid
from services.mesh.kafka import client_config
from services.mesh.rpc.streamwright.v1 import common_pb2, knowledge_pb2, knowledge_pb2_grpc
from services.mesh.service import ServiceRunner
from services.mesh.settings import MeshSettings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "requests"
ORDERS = (FIXTURES / "orders-request-v3.md").read_text(encoding="utf-8")
ADDED = ORDERS.replace(
    "    `order_time` TIMESTAMP(3) COMMENT '下单时间',",
    "    `order_time` TIMESTAMP(3) COMMENT '下单时间',\n    `item_total` INT COMMENT '件数合计',",
).replace(
    '  order_time: "TO_TIMESTAMP_LTZ(payload.createdAt, 3)"',
    '  order_time: "TO_TIMESTAMP_LTZ(payload.createdAt, 3)"\n  item_total: "payload.itemCount"',
)
ADDED_TWICE = ADDED.replace(
    "    `item_total` INT COMMENT '件数合计',",
    "    `item_total` INT COMMENT '件数合计',\n    `channel_code` STRING,",
).replace(
    '  item_total: "payload.itemCount"',
    '  item_total: "payload.itemCount"\n  channel_code: "payload.channel"',
)
NARROWED = ADDED.replace("`order_amount` DECIMAL(12, 2)", "`order_amount` DECIMAL(10, 2)")
RECOMMENTED = ADDED.replace("COMMENT '店铺名称',\n    `city_id`", "COMMENT '店铺名',\n    `city_id`")


def _spec(text: str) -> RequestSpec:
    result = check_document(text)
    assert result.spec is not None, result.errors
    return result.spec


@pytest.fixture
async def knowledge(
    mesh_settings: MeshSettings,
) -> AsyncIterator[tuple[ServiceRunner, knowledge_pb2_grpc.KnowledgeServiceStub]]:
    runner = ServiceRunner("knowledge", build, settings=mesh_settings)
    await runner.start()
    channel = open_channel(f"127.0.0.1:{runner.grpc_port}", mesh_settings)
    try:
        yield runner, knowledge_pb2_grpc.KnowledgeServiceStub(channel)
    finally:
        await channel.close()
        await runner.stop()


class Mesh:
    """Publishes what the other services would, and reads what knowledge publishes."""

    def __init__(self, settings: MeshSettings, topic_reader, runner: ServiceRunner) -> None:  # type: ignore[no-untyped-def]
        self.settings = settings
        self.codec = codec_from_settings(settings)
        self.producer = Producer(client_config(settings))
        self.reader = topic_reader
        assert runner.context is not None
        self.repo = StoreKnowledgeRepository(runner.context.store)

    def publish(self, event: Event) -> None:
        self.producer.produce(
            self.settings.topic_prefix + event.TOPIC, self.codec.encode(event), key=b"orders"
        )
        assert self.producer.flush(10) == 0

    async def accept(self, text: str) -> RequestAccepted:
        spec = _spec(text)
        env = Envelope.new(
            event_type=RequestAccepted.EVENT_TYPE,
            producer="ingest",
            run_id=new_ulid(),
            request_id=new_ulid(),
            domain="orders",
        )
        event = RequestAccepted(
            envelope=env,
            revision=1,
            content_hash=spec.content_hash,
            spec_version="1",
            spec_json=spec.to_json(),
        )
        self.publish(event)
        for _ in range(400):  # RequestAccepted and GateDecided are different topics: wait for the first
            if await self.repo.run(env.run_id) is not None:
                return event
            await asyncio.sleep(0.05)
        raise AssertionError("knowledge never recorded the accepted run")

    def approve(self, accepted: RequestAccepted) -> None:
        env = Envelope.caused_by(accepted, event_type=GateDecided.EVENT_TYPE, producer="router")
        self.publish(
            GateDecided(
                envelope=env,
                attempt=1,
                decision=Decision.APPROVED,
                reason="score 93",
                mode=GateMode.STRICT,
                decided_by=DecidedBy.GATE,
            )
        )

    async def events(self, cls: type[Event], count: int) -> list[Event]:
        messages = await asyncio.to_thread(
            self.reader, self.settings, self.settings.topic_prefix + cls.TOPIC, count=count
        )
        assert len(messages) == count, f"expected {count} {cls.__name__}, read {len(messages)}"
        return [self.codec.decode(m.value()) for m in messages]


async def test_versions_conflicts_race_and_compensation(knowledge, mesh_settings, topic_reader) -> None:  # type: ignore[no-untyped-def]
    """It commits approved runs, reports breaking changes, settles a race and rolls a failed start back."""
    runner, stub = knowledge
    mesh = Mesh(mesh_settings, topic_reader, runner)

    # Two approved runs of one domain: v1, then a compatible change -> v2 with its change list.
    first = await mesh.accept(ORDERS)
    mesh.approve(first)
    (v1,) = await mesh.events(ErUpdated, 1)
    second = await mesh.accept(ADDED)
    mesh.approve(second)
    _, v2 = await mesh.events(ErUpdated, 2)
    assert isinstance(v1, ErUpdated) and isinstance(v2, ErUpdated)
    assert (v1.version, v2.version, v2.previous_version) == (1, 2, 1)
    assert v2.envelope.run_id == second.envelope.run_id
    assert ("column_added", "dwd_order_wide", "item_total", "info") in {
        (c.kind, c.table, c.column, c.severity) for c in v2.changes
    }

    # A breaking change: CheckConflicts (what the validator calls) reports it Critical.
    checked = await stub.CheckConflicts(
        knowledge_pb2.CheckConflictsRequest(domain="orders", spec_json=_spec(NARROWED).to_json())
    )
    assert not checked.compatible and checked.mode == knowledge_pb2.COMPATIBILITY_MODE_BACKWARD
    assert any(
        c.kind == "type_narrowed"
        and c.column == "order_amount"
        and c.severity == common_pb2.SEVERITY_CRITICAL
        for c in checked.conflicts
    )
    lenient = await stub.CheckConflicts(
        knowledge_pb2.CheckConflictsRequest(
            spec_json=_spec(NARROWED).to_json(), mode=knowledge_pb2.COMPATIBILITY_MODE_FORWARD
        )
    )
    assert lenient.compatible and lenient.mode == knowledge_pb2.COMPATIBILITY_MODE_FORWARD

    # A race: three runs accepted on base v2, approved in turn. The first commits v3; the
    # breaking one is re-checked against v3 and fails; the compatible one commits v4 on v3.
    winner, breaking, compatible = [await mesh.accept(t) for t in (ADDED_TWICE, NARROWED, RECOMMENTED)]
    for run in (winner, breaking, compatible):
        mesh.approve(run)
    updates = await mesh.events(ErUpdated, 4)
    (failed,) = await mesh.events(ErCommitFailed, 1)
    assert isinstance(failed, ErCommitFailed) and failed.envelope.run_id == breaking.envelope.run_id
    assert "re-check" in failed.reason and any(c.kind == "type_narrowed" for c in failed.conflicts)
    by_run = {u.envelope.run_id: u for u in updates if isinstance(u, ErUpdated)}
    assert (by_run[winner.envelope.run_id].version, by_run[compatible.envelope.run_id].version) == (3, 4)
    assert by_run[compatible.envelope.run_id].previous_version == 3
    reports = list(
        (mesh_settings.home / "knowledge" / "knowledge-base" / "conflict-reports").glob("*-rejected.md")
    )
    assert [p.name for p in reports] == [f"orders-{breaking.envelope.run_id}-rejected.md"]

    # The router cannot start the v4 job: compensation puts v3 back.
    env = Envelope.caused_by(compatible, event_type=RunStartFailed.EVENT_TYPE, producer="router")
    mesh.publish(RunStartFailed(envelope=env, target="manifest", reason="FlinkDeployment rejected"))
    for _ in range(400):
        listed = await stub.ListVersions(knowledge_pb2.ListVersionsRequest(domain="orders"))
        if listed.versions[0].state == "start_failed":
            break
        await asyncio.sleep(0.05)
    assert [(v.version, v.state, v.current) for v in listed.versions] == [
        (4, "start_failed", False),
        (3, "committed", True),
        (2, "committed", False),
        (1, "committed", False),
    ]
    domain = await stub.GetDomain(knowledge_pb2.GetDomainRequest(domain="orders"))
    result = next(t for t in domain.tables if t.name == "dwd_order_wide")
    assert domain.version == 3 and {"item_total", "channel_code"} <= {c.name for c in result.columns}


async def test_grpc_lookups_search_impact_and_errors(knowledge, mesh_settings, topic_reader) -> None:  # type: ignore[no-untyped-def]
    """It answers GetTable, GetDiagram, SearchSchemas and Impact, and rejects bad arguments."""
    runner, stub = knowledge
    mesh = Mesh(mesh_settings, topic_reader, runner)
    mesh.approve(await mesh.accept(ORDERS))
    await mesh.events(ErUpdated, 1)

    table = await stub.GetTable(knowledge_pb2.GetTableRequest(table="dim_shop"))
    assert table.role == knowledge_pb2.TABLE_ROLE_DIMENSION and table.columns[0].primary_key
    diagram = await stub.GetDiagram(knowledge_pb2.GetDiagramRequest(domain="global"))
    assert diagram.mermaid.startswith("erDiagram") and "OrderPayload }o--|| dim_shop" in diagram.mermaid
    hits = await stub.SearchSchemas(knowledge_pb2.SearchSchemasRequest(query="城市等级", limit=3))
    assert hits.hits[0].table == "dim_city" and hits.hits[0].column == "city_tier"
    impacted = await stub.Impact(knowledge_pb2.ImpactRequest(table="dim_shop", column="shop_status"))
    assert [(j.domain, j.job, j.usage) for j in impacted.jobs] == [
        ("orders", "订单实时宽表", knowledge_pb2.TABLE_ROLE_DIMENSION)
    ]
    for call, request, code in [
        (stub.GetDomain, knowledge_pb2.GetDomainRequest(domain="nope"), grpc.StatusCode.NOT_FOUND),
        (stub.GetTable, knowledge_pb2.GetTableRequest(table="nope"), grpc.StatusCode.NOT_FOUND),
        (
            stub.CheckConflicts,
            knowledge_pb2.CheckConflictsRequest(spec_json="{}"),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (stub.SearchSchemas, knowledge_pb2.SearchSchemasRequest(query=" "), grpc.StatusCode.INVALID_ARGUMENT),
        (
            stub.ListVersions,
            knowledge_pb2.ListVersionsRequest(domain="orders", page_token="%%"),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(request)
        assert caught.value.code() == code
