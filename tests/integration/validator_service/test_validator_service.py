"""The validator service over the real broker: RequestAccepted + SqlGenerated in, ValidationScored out."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from confluent_kafka import Producer

from services.generator.adapters.profiles_fs import load_profile
from services.generator.domain import compile_job
from services.ingest.domain.checks import check_document
from services.mesh.avro import codec_from_settings
from services.mesh.events import Envelope, Event, RequestAccepted, SqlGenerated, ValidationScored
from services.mesh.grpc_client import open_channel
from services.mesh.ids import new_ulid
from services.mesh.kafka import client_config
from services.mesh.rpc.streamwright.v1 import validator_pb2, validator_pb2_grpc
from services.mesh.service import ServiceRunner
from services.mesh.settings import MeshSettings
from services.validator.bootstrap import build
from services.validator.settings import ValidatorSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "requests"
ORDERS = (FIXTURES / "orders-request-v3.md").read_text(encoding="utf-8")


@pytest.fixture
async def validator(mesh_settings: MeshSettings) -> AsyncIterator[validator_pb2_grpc.ValidatorServiceStub]:
    settings = ValidatorSettings(
        validator_knowledge_target="127.0.0.1:9",  # nothing listens: knowledge unreachable
        validator_knowledge_timeout_s=2.0,
        validator_knowledge_wait_s=0,  # unreachable for good: do not wait for it to come back
        validator_run_cases=False,  # plan + static rules here; case runs are tested elsewhere
        validator_warm_on_start=True,
    )
    runner = ServiceRunner(
        "validator", functools.partial(build, validator_settings=settings), settings=mesh_settings
    )
    await runner.start()
    channel = open_channel(f"127.0.0.1:{runner.grpc_port}", mesh_settings)
    try:
        yield validator_pb2_grpc.ValidatorServiceStub(channel)
    finally:
        await channel.close()
        await runner.stop()


def _publish(settings: MeshSettings, *events: Event) -> None:
    producer = Producer(client_config(settings))
    codec = codec_from_settings(settings)
    for event in events:
        producer.produce(
            settings.topic_prefix + event.TOPIC, codec.encode(event), key=event.envelope.domain.encode()
        )
    assert producer.flush(10) == 0


async def _read(settings: MeshSettings, topic_reader, count: int) -> list[ValidationScored]:  # type: ignore[no-untyped-def]
    codec = codec_from_settings(settings)
    topic = settings.topic_prefix + ValidationScored.TOPIC
    found = await asyncio.to_thread(topic_reader, settings, topic, count=count, timeout=150.0)
    out = [codec.decode(m.value()) for m in found]
    assert all(isinstance(e, ValidationScored) for e in out)
    return out  # type: ignore[return-value]


async def test_generated_sql_is_scored_and_reported(validator, mesh_settings, topic_reader, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """It scores a good attempt high and a broken one low, stores both, and marks them provisional."""
    spec = check_document(ORDERS).spec
    assert spec is not None
    job = compile_job(spec, profile=load_profile("dev"), revision=1, generator_version="test")
    artifacts = tmp_path / "artifacts"
    for rel, text in job.files.items():
        (artifacts / rel).parent.mkdir(parents=True, exist_ok=True)
        (artifacts / rel).write_text(text, encoding="utf-8")
    accepted = RequestAccepted(
        envelope=Envelope.new(
            event_type=RequestAccepted.EVENT_TYPE,
            producer="test",
            run_id=new_ulid(),
            request_id=new_ulid(),
            domain="orders",
        ),
        revision=1,
        content_hash=spec.content_hash,
        spec_version="1",
        spec_json=spec.to_json(),
    )

    def generated(attempt: int, sql: str) -> SqlGenerated:
        return SqlGenerated(
            envelope=Envelope.caused_by(
                accepted, event_type=SqlGenerated.EVENT_TYPE, producer="generator", discriminator=attempt
            ),
            attempt=attempt,
            revision=1,
            sql=sql,
            artifact_ref=str(artifacts),
            generator_version="test",
            target_flink="2.3",
        )

    broken = job.sql.replace("    AND (`ev`.`orderStatus` IN (1, 2, 3))\n", "").replace(
        "'${secret:sw-dev-jdbc-dim-shop}'", "'hunter2'"
    )
    _publish(mesh_settings, accepted, generated(1, job.sql), generated(2, broken))
    scored = {e.attempt: e for e in await _read(mesh_settings, topic_reader, 2)}
    good, bad = scored[1], scored[2]
    assert good.score >= 95 and good.critical_count == 0
    assert good.provisional and good.rule_set_version == "sw-rules-1.5"
    assert {d.name: d.weight for d in good.dimensions} == {
        "sql_standards": 0.25,
        "data_accuracy": 0.35,
        "performance": 0.20,
        "business_compliance": 0.20,
    }
    assert 80 <= bad.score < 90 and bad.critical_count == 2  # 100 - 0.25 x 30 - 0.20 x 20 = 88.5, gate fails
    assert {f.code for f in bad.findings} >= {"compliance.filter_missing", "sql.credentials_in_ddl"}
    assert Path(good.report_ref).name == "validation-report-orders-v3.md" and Path(good.report_ref).is_file()
    assert good.envelope.causation_id == generated(1, job.sql).envelope.event_id

    run_id = accepted.envelope.run_id
    latest = await validator.GetReport(validator_pb2.GetReportRequest(run_id=run_id))
    assert latest.attempt == 2 and latest.critical_count == 2 and not latest.gate_passed
    first = await validator.GetReport(validator_pb2.GetReportRequest(run_id=run_id, attempt=1))
    assert first.score == good.score and first.gate_passed and first.provisional
    assert any("knowledge" in r for r in first.provisional_reasons) or "知识库" in first.markdown
    assert "## 🚀 部署建议" in first.markdown and '"rule_set_version"' in first.json

    adhoc = await validator.ValidateSql(
        validator_pb2.ValidateSqlRequest(spec_json=spec.to_json(), sql=broken, run_cases=False)
    )
    assert adhoc.critical_count == 2 and adhoc.run_id == "adhoc"
