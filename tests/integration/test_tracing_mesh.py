"""One run, one trace, across the five services: OpenTelemetry spans in an in-memory exporter.

The five services run in this process, each a real ServiceRunner with its own TracerProvider
(resource service.name = streamwright-<service>), all exporting to one InMemorySpanExporter,
over the real Tansu broker and real gRPC between them (auth on). The validator's Flink engine is
a stand-in that plans nothing (no JVM: the score is provisional) and the gate is advisory, so
the run goes through every phase to RUNNING in seconds; everything else is what a service
process runs. A client span of the test ("cli") submits the document.

What it shows: every span about the run (Kafka sends and processing, each phase, the gRPC calls
the services make to each other) is in ONE trace, which holds spans of all five services; each
`process` span is the child of the `send` of the record it handled (the context went through
the record's headers), and each gRPC SERVER span the child of its CLIENT span (metadata).
"""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from services.generator.bootstrap import build as build_generator
from services.ingest.bootstrap import build as build_ingest
from services.knowledge.bootstrap import build as build_knowledge
from services.mesh.grpc_client import check_health, open_channel
from services.mesh.rpc.streamwright.v1 import ingest_pb2, ingest_pb2_grpc, router_pb2, router_pb2_grpc
from services.mesh.run_phases import PHASES
from services.mesh.service import ServiceRunner
from services.mesh.settings import MeshSettings
from services.mesh.tracing import ServiceTracing
from services.router.bootstrap import build as build_router
from services.router.domain.config import PHASES as ROUTER_PHASES
from services.router.settings import RouterSettings
from services.validator import bootstrap as validator_bootstrap
from services.validator.domain.model import CaseFacts, PlanFacts
from services.validator.settings import ValidatorSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(180)]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "requests"
ORDERS = (FIXTURES / "orders-request-v3.md").read_text(encoding="utf-8")
SERVICES = ("ingest", "generator", "validator", "knowledge", "router")
PHASE_OWNERS = {
    "ingest": "ingest",
    "generate": "generator",
    "validate": "validator",
    "gate": "router",
    "knowledge": "knowledge",
    "start": "router",
}


class StandInEngine:
    """Takes the validator's EngineRunner's place: no JVM; plans nothing (a provisional score)."""

    def __init__(self, jar_dir: Path | None = None, *, use_postgres: bool = True) -> None:
        self.unavailable_reason: str | None = None

    def warm(self) -> dict[str, float]:
        return {}

    def engine(self) -> None:
        return None

    def plan(self, sql: str) -> PlanFacts:
        return PlanFacts(ran=False, notes=("stand-in engine",))

    def run_all_cases(self, sql: str, cases: list[dict[str, Any]], **_: Any) -> list[CaseFacts]:
        return [CaseFacts(name=str(c["name"]), passed=True) for c in cases]

    def close(self) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def mesh(
    mesh_settings: MeshSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[MeshSettings, InMemorySpanExporter, dict[str, int]]]:
    """The five services in this process on free gRPC ports, tracing into one in-memory exporter."""
    for name in ("OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(validator_bootstrap, "EngineRunner", StandInEngine)
    ports = {service: _free_port() for service in SERVICES}
    settings = mesh_settings.model_copy(
        update={"peers": {service: f"127.0.0.1:{port}" for service, port in ports.items()}}
    )
    gate = tmp_path / "gate.yaml"
    gate.write_text("quality_gate: {mode: advisory}\n", encoding="utf-8")
    exporter = InMemorySpanExporter()
    builds = {
        "ingest": build_ingest,
        "generator": build_generator,
        "validator": functools.partial(
            validator_bootstrap.build,
            validator_settings=ValidatorSettings(
                validator_run_cases=False,
                validator_run_edge_cases=False,
                validator_run_oracle=False,
                validator_use_postgres=False,
                validator_warm_on_start=False,
            ),
        ),
        "knowledge": build_knowledge,
        "router": build_router,
    }
    runners: list[ServiceRunner] = []
    try:
        for service in SERVICES:
            own = settings.model_copy(update={"grpc_port": ports[service]})
            if service == "router":
                own = RouterSettings(
                    **own.model_dump(),
                    output_dir=tmp_path / "out",
                    gate_config=gate,
                    sweep_interval_seconds=600,
                )
            runner = ServiceRunner(
                service,
                builds[service],
                settings=own,
                tracing=ServiceTracing.with_exporter(service, exporter),
            )
            runners.append(runner)
        await asyncio.gather(*(runner.start() for runner in runners))
        yield settings, exporter, ports
    finally:
        await asyncio.gather(*(runner.stop() for runner in runners), return_exceptions=True)


def _service(span: ReadableSpan) -> str:
    return str(span.resource.attributes["service.name"]).removeprefix("streamwright-")


def _attr(span: ReadableSpan, key: str) -> Any:
    return (span.attributes or {}).get(key)


async def _settled_trace(
    exporter: InMemorySpanExporter, trace_id: int, limit_s: float = 30.0
) -> list[ReadableSpan]:
    """The trace's finished spans once every parent in it has finished too (nothing in flight)."""
    deadline = time.monotonic() + limit_s
    while True:
        spans = [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id]
        ids = {s.context.span_id for s in spans}
        orphans = [s.name for s in spans if s.parent is not None and s.parent.span_id not in ids]
        consumed = {_attr(s, "messaging.message.id") for s in spans if s.kind is SpanKind.CONSUMER}
        sent = {_attr(s, "messaging.message.id") for s in spans if s.kind is SpanKind.PRODUCER}
        if not orphans and sent <= consumed | _unconsumed(spans):
            return spans
        if time.monotonic() > deadline:
            raise AssertionError(f"trace not settled: spans without a finished parent {orphans}")
        await asyncio.sleep(0.2)


def _unconsumed(spans: list[ReadableSpan]) -> set[Any]:
    """Sends nobody in the mesh consumes (RunCompleted: its consumers are outside it)."""
    return {
        _attr(s, "messaging.message.id")
        for s in spans
        if s.kind is SpanKind.PRODUCER and _attr(s, "streamwright.event_type") == "sw.run.completed"
    }


async def test_one_run_is_one_trace_across_the_five_services(mesh: Any) -> None:
    settings, exporter, ports = mesh
    cli = ServiceTracing.with_exporter("cli", exporter)
    async with open_channel(f"127.0.0.1:{ports['ingest']}", settings) as channel:
        with cli.span("submit", kind=SpanKind.INTERNAL) as submit_span:
            submitted = await ingest_pb2_grpc.IngestServiceStub(channel).SubmitRequest(  # type: ignore[no-untyped-call]
                ingest_pb2.SubmitRequestRequest(document=ORDERS, idempotency_key="trace-run-1"), timeout=20
            )
    run_id = submitted.run_id
    async with open_channel(f"127.0.0.1:{ports['router']}", settings) as channel:
        router = router_pb2_grpc.RouterServiceStub(channel)  # type: ignore[no-untyped-call]
        deadline = time.monotonic() + 90
        run = None
        while time.monotonic() < deadline:
            try:
                run = await router.GetRun(router_pb2.GetRunRequest(run_id=run_id), timeout=10)
            except grpc.aio.AioRpcError as error:
                if error.code() is not grpc.StatusCode.NOT_FOUND:  # not yet known to the router
                    raise
            if run is not None and run.state_name in (
                "RUNNING",
                "REJECTED",
                "FAILED",
                "IN_REVIEW",
                "TIMED_OUT",
            ):
                break
            await asyncio.sleep(0.2)
    assert run is not None and run.state_name == "RUNNING", f"{run_id}: {run}"

    trace_id = submit_span.get_span_context().trace_id
    spans = await _settled_trace(exporter, trace_id)
    everything = exporter.get_finished_spans()

    # ONE trace: every span about the run is in it, and it holds spans of all five services.
    about_run = [s for s in everything if _attr(s, "streamwright.run_id") == run_id]
    assert len(about_run) > 20
    assert {s.context.trace_id for s in about_run} == {trace_id}
    assert {_service(s) for s in spans} == {*SERVICES, "cli"}
    [root] = [s for s in spans if s.parent is None]
    assert root.name == "submit" and _service(root) == "cli"

    # Each phase of the run, done by the service that owns it, once (the run needed one attempt).
    phases = [
        (str(_attr(s, "streamwright.phase")), _service(s)) for s in spans if s.name.startswith("phase ")
    ]
    assert sorted(phases) == sorted(PHASE_OWNERS.items())
    assert set(PHASES) == set(PHASE_OWNERS) and set(PHASES) <= set(ROUTER_PHASES)

    by_id = {s.context.span_id: s for s in spans}

    def parent(span: ReadableSpan) -> ReadableSpan:
        assert span.parent is not None, span.name
        return by_id[span.parent.span_id]

    # Kafka: every `process` span is the child of the `send` of the record it handled (through the
    # record's headers: a remote parent), in another service or the same one.
    sends = {_attr(s, "messaging.message.id"): s for s in spans if s.kind is SpanKind.PRODUCER}
    processes = [s for s in spans if s.kind is SpanKind.CONSUMER]
    assert len(processes) >= 15
    for process in processes:
        sent = parent(process)
        assert process.parent is not None and process.parent.is_remote
        assert sent is sends[_attr(process, "messaging.message.id")], process.name
        assert sent.name.replace("send ", "process ") == process.name
    consumers = {(_service(s), s.name) for s in processes}
    assert {
        ("ingest", "process sw.request.submitted"),
        ("generator", "process sw.request.accepted"),
        ("validator", "process sw.sql.generated"),
        ("router", "process sw.validation.scored"),
        ("knowledge", "process sw.gate.decided"),
        ("router", "process sw.er.updated"),
    } <= consumers

    # gRPC: the submit call (cli -> ingest), and validator -> knowledge while validating.
    servers = [s for s in spans if s.kind is SpanKind.SERVER]
    submit_server = next(s for s in servers if s.name == "streamwright.v1.IngestService/SubmitRequest")
    submit_client = parent(submit_server)
    assert (submit_client.kind, _service(submit_client), parent(submit_client)) == (
        SpanKind.CLIENT,
        "cli",
        root,
    )
    assert parent(sends[next(iter(_ids(spans, "sw.request.submitted")))]) is submit_server
    check = next(s for s in servers if s.name == "streamwright.v1.KnowledgeService/CheckConflicts")
    check_client = parent(check)
    assert (_service(check), check_client.kind, _service(check_client)) == (
        "knowledge",
        SpanKind.CLIENT,
        "validator",
    )
    validate = parent(check_client)
    assert validate.name == "phase validate" and _attr(validate, "streamwright.attempt") == 1
    assert all(_attr(s, "rpc.grpc.status_code") == 0 for s in servers)

    # The path of the run, span by span: submit ... start, each a descendant of the one before.
    def ancestors(span: ReadableSpan) -> list[str]:
        names = []
        while span.parent is not None:
            span = parent(span)
            names.append(f"{_service(span)}:{span.name}")
        return names

    start = next(s for s in spans if s.name == "phase start")
    chain = ancestors(start)
    for step in (
        "router:process sw.er.updated",
        "knowledge:phase knowledge",
        "router:phase gate",
        "validator:phase validate",
        "generator:phase generate",
        "ingest:phase ingest",
        "ingest:streamwright.v1.IngestService/SubmitRequest",
        "cli:submit",
    ):
        assert step in chain, (step, chain)
    assert chain.index("knowledge:phase knowledge") < chain.index("router:phase gate")


def _ids(spans: list[ReadableSpan], event_type: str) -> set[Any]:
    return {
        _attr(s, "messaging.message.id")
        for s in spans
        if s.kind is SpanKind.PRODUCER and _attr(s, "streamwright.event_type") == event_type
    }


async def test_a_service_process_exports_over_otlp_http_to_the_endpoint_in_its_environment(
    mesh_settings: MeshSettings, tmp_path: Path
) -> None:
    """The production path: `python -m services.ingest.entrypoints.main` with only OTEL_* set
    exports its spans as OTLP/HTTP protobuf to a stand-in collector, flushed when it stops."""
    from tests.integration.test_tracing import StandInCollector

    collector = StandInCollector()
    collector.thread.start()
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("STREAMWRIGHT_", "OTEL_"))},
        "STREAMWRIGHT_HOME": str(mesh_settings.home),
        "STREAMWRIGHT_BOOTSTRAP_SERVERS": mesh_settings.bootstrap_servers,
        "STREAMWRIGHT_TOPIC_PREFIX": mesh_settings.topic_prefix,
        "STREAMWRIGHT_TOPIC_PARTITIONS": "2",
        "STREAMWRIGHT_GRPC_PORT": str(port),
        "STREAMWRIGHT_METRICS_PORT": "0",
        "STREAMWRIGHT_LOG_FORMAT": "json",
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
    }
    log = (tmp_path / "ingest.log").open("wb")  # (trace ids in log lines: test_tracing.py)
    process = subprocess.Popen(
        [sys.executable, "-m", "services.ingest.entrypoints.main"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        target = f"127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while not await check_health(target, mesh_settings, timeout=1.0):
            assert process.poll() is None and time.monotonic() < deadline, (
                tmp_path / "ingest.log"
            ).read_text()
            await asyncio.sleep(0.2)
        async with open_channel(target, mesh_settings) as channel:
            submitted = await ingest_pb2_grpc.IngestServiceStub(channel).SubmitRequest(  # type: ignore[no-untyped-call]
                ingest_pb2.SubmitRequestRequest(document=ORDERS, idempotency_key="otlp-1"), timeout=20
            )

        def names() -> set[str]:
            return {span.name for _, span in collector.spans()}

        while "send sw.request.accepted" not in names():  # handled; exported within OTEL_BSP_SCHEDULE_DELAY
            assert time.monotonic() < deadline + 30, names()
            await asyncio.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
        collector.server.shutdown()
        collector.server.server_close()
    assert {path for path, _, _ in collector.requests} == {"/v1/traces"}
    spans = collector.spans()
    assert {service for service, _ in spans} == {"streamwright-ingest"}
    by_name = {span.name: span for _, span in spans}
    assert {
        "streamwright.v1.IngestService/SubmitRequest",
        "send sw.request.submitted",
        "process sw.request.submitted",
        "phase ingest",
        "send sw.request.accepted",
    } <= set(by_name)
    run_ids = {a.value.string_value for _, s in spans for a in s.attributes if a.key == "streamwright.run_id"}
    assert run_ids == {submitted.run_id}
    assert len({span.trace_id for _, span in spans}) == 1
