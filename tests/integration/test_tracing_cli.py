"""The CLI starts the run's trace: `streamwright submit` / `run` with tracing configured are one span
`streamwright <command>` (service streamwright-cli), exported to the OTLP endpoint before the command
returns, and the parent (same trace) of what the mesh does for them; without tracing configured the
CLI imports no OpenTelemetry SDK.

In process, seconds: the CLI through typer's runner against stand-in ingest and router gRPC servers
(real servers, each traced into an in-memory exporter, on their own event loop thread) and a stand-in
OTLP/HTTP collector; the validator and generator are closed ports (`run` then has no report and no
artifacts to fetch, as for a rejected request).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import typer
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from typer.testing import CliRunner

from services import exit_codes
from services.cli import app
from services.mesh.cli_tracing import command_trace
from services.mesh.grpc_server import create_server
from services.mesh.rpc.streamwright.v1 import ingest_pb2, ingest_pb2_grpc, router_pb2, router_pb2_grpc
from services.mesh.settings import MeshSettings
from services.mesh.tracing import ServiceTracing
from tests.integration.test_tracing import OTEL_VARIABLES, StandInCollector

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "tests" / "fixtures" / "requests" / "orders-request-v3.md"
SUBMIT = "streamwright.v1.IngestService/SubmitRequest"
WATCH = "streamwright.v1.RouterService/WatchRun"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FakeIngest(ingest_pb2_grpc.IngestServiceServicer):
    async def SubmitRequest(
        self, request: ingest_pb2.SubmitRequestRequest, context: Any
    ) -> ingest_pb2.SubmitRequestResponse:
        assert request.file_name == DOCUMENT.name
        return ingest_pb2.SubmitRequestResponse(request_id="req-1", run_id="run-1")


class FakeRouter(router_pb2_grpc.RouterServiceServicer):
    async def WatchRun(
        self, request: router_pb2.WatchRunRequest, context: Any
    ) -> AsyncIterator[router_pb2.RunUpdate]:
        yield router_pb2.RunUpdate(run=router_pb2.Run(run_id=request.run_id, state_name="GENERATING"))
        yield router_pb2.RunUpdate(
            run=router_pb2.Run(run_id=request.run_id, state_name="RUNNING", domain="orders", terminal=True)
        )


@dataclass
class StandInMesh:
    spans: InMemorySpanExporter  # every span the stand-in services recorded
    collector: StandInCollector  # where the CLI exports (OTEL_EXPORTER_OTLP_ENDPOINT)

    def cli_spans(self) -> dict[str, Any]:
        """The CLI's exported spans by name (each name once)."""
        found = [span for service, span in self.collector.spans() if service == "streamwright-cli"]
        by_name = {span.name: span for span in found}
        assert len(by_name) == len(found), [span.name for span in found]
        return by_name

    def served(self, name: str) -> ReadableSpan:
        [span] = [s for s in self.spans.get_finished_spans() if s.name == name and s.kind is SpanKind.SERVER]
        return span


@pytest.fixture
def collector() -> Iterator[StandInCollector]:
    stand_in = StandInCollector()
    # its own thread, polling for shutdown every 50 ms (the default 0.5 s would add that to each test)
    threading.Thread(
        target=stand_in.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    try:
        yield stand_in
    finally:
        stand_in.server.shutdown()
        stand_in.server.server_close()


@pytest.fixture
def mesh(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, collector: StandInCollector
) -> Iterator[StandInMesh]:
    """Ingest and router on their own loop (the CLI runs its own with asyncio.run); auth off."""
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    spans = InMemorySpanExporter()
    settings = MeshSettings(home=tmp_path / "home", grpc_auth="off")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> list[tuple[grpc.aio.Server, int]]:
        servers = []
        for service, add, servicer, full_name in (
            (
                "ingest",
                ingest_pb2_grpc.add_IngestServiceServicer_to_server,
                FakeIngest(),
                "streamwright.v1.IngestService",
            ),
            (
                "router",
                router_pb2_grpc.add_RouterServiceServicer_to_server,
                FakeRouter(),
                "streamwright.v1.RouterService",
            ),
        ):
            server, port = create_server(
                [(add, servicer)],
                settings=settings,
                service_names=[full_name],
                tracing=ServiceTracing.with_exporter(service, spans),
            )
            await server.start()
            servers.append((server, port))
        return servers

    servers = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    nowhere = f"127.0.0.1:{_closed_port()}"
    peers = {
        "ingest": f"127.0.0.1:{servers[0][1]}",
        "router": f"127.0.0.1:{servers[1][1]}",
        "validator": nowhere,
        "generator": nowhere,
    }
    monkeypatch.setenv("STREAMWRIGHT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("STREAMWRIGHT_GRPC_AUTH", "off")
    monkeypatch.setenv("STREAMWRIGHT_PEERS", json.dumps(peers))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint)
    try:
        yield StandInMesh(spans, collector)
    finally:
        for server, _ in servers:
            asyncio.run_coroutine_threadsafe(server.stop(None), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _attributes(span: Any) -> dict[str, Any]:
    """An OTLP protobuf span's attributes as plain values."""
    values = {}
    for attribute in span.attributes:
        kind = attribute.value.WhichOneof("value")
        values[attribute.key] = getattr(attribute.value, kind)
    return values


def test_submit_is_the_root_of_the_trace_the_ingest_service_continues(mesh: StandInMesh) -> None:
    result = CliRunner().invoke(app, ["submit", str(DOCUMENT), "--json"])
    assert result.exit_code == exit_codes.OK, result.output
    assert json.loads(result.stdout)["run_id"] == "run-1"  # stdout stays one JSON document

    # Exported by the time the command returned: no flush left to anyone.
    spans = mesh.cli_spans()
    assert set(spans) == {"streamwright submit", SUBMIT}
    root, client = spans["streamwright submit"], spans[SUBMIT]
    assert root.parent_span_id == b"" and root.kind == root.SPAN_KIND_INTERNAL
    assert client.parent_span_id == root.span_id and client.trace_id == root.trace_id
    assert client.kind == client.SPAN_KIND_CLIENT
    assert _attributes(root) | {"process.pid": 0} == {
        "process.executable.name": "streamwright",
        "process.pid": 0,
        "process.exit.code": 0,
        "streamwright.request_file": str(DOCUMENT),
        "streamwright.run_id": "run-1",
        "streamwright.request_id": "req-1",
    }
    assert root.status.code == root.status.STATUS_CODE_UNSET

    served = mesh.served(SUBMIT)  # the ingest service's span: the child of the CLI's call
    assert served.resource.attributes["service.name"] == "streamwright-ingest"
    assert served.context.trace_id.to_bytes(16, "big") == root.trace_id
    assert served.parent is not None and served.parent.span_id.to_bytes(8, "big") == client.span_id


def test_run_is_one_trace_from_the_terminal_through_submit_and_watch(
    mesh: StandInMesh, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        app, ["run", str(DOCUMENT), "--out", str(tmp_path / "out"), "--timeout", "20"]
    )
    assert result.exit_code == exit_codes.OK, result.output

    spans = mesh.cli_spans()
    root = spans["streamwright run"]
    assert root.parent_span_id == b""
    attributes = _attributes(root)
    assert {
        k: attributes[k] for k in ("streamwright.run_id", "streamwright.domain", "process.exit.code")
    } == {
        "streamwright.run_id": "run-1",
        "streamwright.domain": "orders",
        "process.exit.code": 0,
    }
    # Every gRPC call of the command is in its trace; health checks are not traced.
    assert set(spans) == {
        "streamwright run",
        SUBMIT,
        "streamwright.v1.ValidatorService/GetReport",
        "streamwright.v1.GeneratorService/GetArtifacts",
    }
    for name in set(spans) - {"streamwright run"}:
        assert spans[name].parent_span_id == root.span_id and spans[name].trace_id == root.trace_id
    submitted, watched = mesh.served(SUBMIT), mesh.served(WATCH)
    assert (
        submitted.parent is not None and submitted.parent.span_id.to_bytes(8, "big") == spans[SUBMIT].span_id
    )
    # The server stream has no CLIENT span: its SERVER span is the command span's own child.
    assert watched.parent is not None and watched.parent.span_id.to_bytes(8, "big") == root.span_id
    assert {s.context.trace_id.to_bytes(16, "big") for s in (submitted, watched)} == {root.trace_id}
    assert not [s for s in mesh.spans.get_finished_spans() if "Health" in s.name]


def test_an_exit_code_that_is_not_0_makes_the_command_span_an_error(
    mesh: StandInMesh, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREAMWRIGHT_PEERS", json.dumps({"ingest": f"127.0.0.1:{_closed_port()}"}))
    result = CliRunner().invoke(app, ["submit", str(DOCUMENT)])
    assert result.exit_code == exit_codes.UNAVAILABLE, result.output
    root = mesh.cli_spans()["streamwright submit"]
    assert root.status.code == root.status.STATUS_CODE_ERROR
    attributes = _attributes(root)
    assert (attributes["process.exit.code"], attributes["error.type"]) == (3, "3")
    assert "streamwright.run_id" not in attributes


@pytest.mark.parametrize(
    ("raised", "code", "error_type"),
    [
        (typer.Exit(0), 0, None),
        (typer.Exit(1), 1, "1"),
        (SystemExit(2), 2, "2"),
        (RuntimeError("boom"), 1, "builtins.RuntimeError"),
    ],
)
def test_the_command_span_takes_the_exit_code_the_block_ends_with(
    collector: StandInCollector,
    monkeypatch: pytest.MonkeyPatch,
    raised: BaseException,
    code: int,
    error_type: str | None,
) -> None:
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint)
    with pytest.raises(type(raised)), command_trace("submit", {"streamwright.request_file": None}) as trace:
        assert trace.enabled
        raise raised
    [(_, root)] = collector.spans()
    attributes = _attributes(root)
    assert attributes["process.exit.code"] == code and "streamwright.request_file" not in attributes
    assert attributes.get("error.type") == error_type
    assert [event.name for event in root.events] == (
        ["exception"] if error_type and "." in error_type else []
    )


def test_the_console_exporter_writes_to_stderr_so_json_output_stays_whole(
    mesh: StandInMesh, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    result = CliRunner().invoke(app, ["submit", str(DOCUMENT), "--json"])
    assert result.exit_code == exit_codes.OK, result.output
    assert json.loads(result.stdout) == {"run_id": "run-1", "request_id": "req-1", "duplicate": False}
    assert '"name": "streamwright submit"' in result.stderr


_OFF = """
import json, os, sys
from services.cli import app
imported = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
codes = []
for setting in json.loads(sys.argv[2]):
    os.environ.update(setting)
    try:
        app(["submit", sys.argv[1]])
    except SystemExit as exit:
        codes.append(exit.code)
    for name in setting:
        del os.environ[name]
loaded = sorted(m for m in sys.modules if m.startswith(("opentelemetry.sdk", "opentelemetry.exporter")))
print(json.dumps({"imported": imported, "codes": codes, "loaded": loaded}))
"""
OFF_SETTINGS = [
    {},
    {"OTEL_TRACES_EXPORTER": "none"},
    {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"},
]


def test_without_tracing_the_cli_loads_no_opentelemetry_sdk(tmp_path: Path) -> None:
    """A fresh process (sys.modules is the evidence): submit to a closed port (exit 3) with no OTEL_*
    variable, with OTEL_TRACES_EXPORTER=none and with OTEL_SDK_DISABLED=true: no SDK, no exporter."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env |= {
        "STREAMWRIGHT_HOME": str(tmp_path),
        "STREAMWRIGHT_GRPC_AUTH": "off",
        "STREAMWRIGHT_PEERS": json.dumps({"ingest": f"127.0.0.1:{_closed_port()}"}),
    }
    done = subprocess.run(
        [sys.executable, "-c", _OFF, str(DOCUMENT), json.dumps(OFF_SETTINGS)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout.splitlines()[-1])
    # importing the CLI loads no OpenTelemetry at all; a command without tracing no SDK
    assert outcome == {"imported": [], "codes": [exit_codes.UNAVAILABLE] * 3, "loaded": []}, done.stderr
