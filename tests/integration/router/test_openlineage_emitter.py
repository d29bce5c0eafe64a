"""OpenLineage START at RunStarted (issue 18 item 3), against a stand-in for Marquez on 127.0.0.1.

`MarquezStandIn` is not Marquez: a local HTTP server that answers `POST .../api/v1/lineage` the way
Marquez's lineage endpoint does (201, no body) and records what it got; some tests make it slow
or answer a redirect. The router's part: the run's lineage artifact becomes a START event with the
run's UUID, delivered in the background (the event handling never waits on the endpoint), within
one deadline, no redirect followed, the API key as a bearer token, logs naming the host only.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from services.flinksql.artifacts import ArtifactLayout
from services.flinksql.openlineage import run_uuid
from services.generator.domain.compile import compile_job
from services.mesh.events import RunStarted
from services.mesh.files import write_files
from services.mesh.store import SQLiteDocumentStore
from services.router.adapters.audit_log import JsonlAuditLog
from services.router.adapters.manifest import ManifestDeployer
from services.router.adapters.openlineage import OpenLineageEmitter
from services.router.adapters.runs_store import StoreRunRepository
from services.router.domain.config import RouterConfig, Timeouts
from services.router.handlers import RouterHandlers
from tests.fakes import RecordingPublisher
from tests.openlineage_model import through_client
from tests.unit.generator.gen_support import PROFILE, load_spec
from tests.unit.router.router_events import RunEvents, write_artifacts

pytestmark = pytest.mark.integration

API_KEY = "marquez-api-key-XYZ"
PATH_SECRET = "/tenant-secret-PQR"


@dataclass
class Seen:
    """What the stand-in got and how it answers."""

    posts: list[tuple[str, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    status: int = 201
    delay: float = 0.0
    release: threading.Event = field(default_factory=threading.Event)


def stand_in(seen: Seen) -> type[BaseHTTPRequestHandler]:
    class MarquezStandIn(BaseHTTPRequestHandler):
        """A stand-in for Marquez's `POST /api/v1/lineage` (not Marquez)."""

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.posts.append((self.path, dict(self.headers), body))
            if seen.delay:
                seen.release.wait(seen.delay)
            self.send_response(seen.status)
            if 300 <= seen.status < 400:
                self.send_header("Location", "http://127.0.0.1:1/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    return MarquezStandIn


@pytest.fixture
def marquez() -> Iterator[tuple[str, Seen]]:
    seen = Seen()
    server = ThreadingHTTPServer(("127.0.0.1", 0), stand_in(seen))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}{PATH_SECRET}", seen
    seen.release.set()
    server.shutdown()


def lineage_artifacts(root: Path) -> Path:
    """A generator-like artifact directory: the manifest and the orders job's real lineage file."""
    write_artifacts(root, "orders")
    job = compile_job(load_spec("orders"), profile=PROFILE, revision=1, generator_version="0.1.0")
    lineage = ArtifactLayout("orders").lineage
    write_files({lineage: job.files[lineage]}, root)
    return root


@pytest.fixture
async def router(
    tmp_path: Path, marquez: tuple[str, Seen]
) -> AsyncIterator[tuple[RouterHandlers, OpenLineageEmitter, RecordingPublisher]]:
    url, _ = marquez
    emitter = OpenLineageEmitter(url, api_key=API_KEY, deadline=1.0, backoff=0.05)
    publisher = RecordingPublisher()
    handlers = RouterHandlers(
        runs=StoreRunRepository(SQLiteDocumentStore(tmp_path / "router.sqlite3")),
        publisher=publisher,
        config=RouterConfig(timeouts=Timeouts(workflow_minutes=15, review_minutes=60)),
        deployer=ManifestDeployer(tmp_path / "out"),
        audit=JsonlAuditLog(tmp_path / "audit.jsonl"),
        notifier=_Silent(),
        lineage=emitter,
    )
    yield handlers, emitter, publisher
    await emitter.aclose(grace=2)


class _Silent:
    async def notify(self, *args: object) -> None:
        return None


async def start_run(handlers: RouterHandlers, artifacts: Path) -> RunEvents:
    run = RunEvents("orders")
    for event in (run.submitted(), run.accepted(1, "h1"), run.generated(1, str(artifacts), 1)):
        await handlers.on_event(event)
    await handlers.on_event(run.scored(1, score=95))
    await handlers.on_event(run.er_updated())
    return run


async def test_run_started_sends_the_start_event_to_marquez(router, marquez, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The START event goes to {url}/api/v1/lineage with the bearer key; it is the artifact's job,
    inputs and outputs (column lineage included) with the run's UUID and RunStarted's time, and
    the official client's model takes it as it is."""
    handlers, emitter, publisher = router
    _, seen = marquez
    run = await start_run(handlers, lineage_artifacts(tmp_path / "art"))
    (started,) = publisher.of(RunStarted)
    await emitter.join()
    [(path, headers, event)] = seen.posts
    assert path == f"{PATH_SECRET}/api/v1/lineage"
    assert headers["Authorization"] == f"Bearer {API_KEY}" and headers["Content-Type"] == "application/json"
    assert event["eventType"] == "START" and event["run"]["runId"] == run_uuid(run.run_id)
    assert uuid.UUID(event["run"]["runId"]).int == uuid.UUID(run_uuid(run.run_id)).int
    assert event["eventTime"].startswith(started.envelope.occurred_at.strftime("%Y-%m-%dT%H:%M:%S"))
    assert (event["job"]["namespace"], event["job"]["name"]) == ("streamwright", "orders")
    [output] = event["outputs"]
    assert "pay_amount" in output["facets"]["columnLineage"]["fields"]
    assert event["producer"].startswith("urn:streamwright:router:")
    ours, official = through_client(event)
    assert ours == official
    assert (emitter.delivered, emitter.dropped) == (1, 0)


async def test_a_slow_endpoint_never_holds_the_event_handling(router, marquez, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The endpoint answers after 30 s: starting the run returns at once, and the delivery is
    dropped when its 1 s deadline is over, not retried past it."""
    handlers, emitter, _ = router
    _, seen = marquez
    seen.delay = 30
    began = time.monotonic()
    await start_run(handlers, lineage_artifacts(tmp_path / "art"))
    assert time.monotonic() - began < 0.9
    waited = time.monotonic()
    await asyncio.wait_for(emitter.join(), 5)
    assert 0.8 < time.monotonic() - waited < 2.5
    assert (emitter.delivered, emitter.dropped, len(seen.posts)) == (0, 1, 1)


async def test_a_redirect_is_not_followed(router, marquez, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A 307 is a failed delivery: one POST, none to where it points, dropped."""
    handlers, emitter, _ = router
    _, seen = marquez
    seen.status = 307
    await start_run(handlers, lineage_artifacts(tmp_path / "art"))
    await emitter.join()
    assert (len(seen.posts), emitter.delivered, emitter.dropped) == (1, 0, 1)


async def test_server_errors_are_retried(router, marquez, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A 503 is retried within the deadline (3 attempts), then dropped and counted."""
    handlers, emitter, _ = router
    _, seen = marquez
    seen.status = 503
    await start_run(handlers, lineage_artifacts(tmp_path / "art"))
    await emitter.join()
    assert (len(seen.posts), emitter.retried, emitter.dropped) == (3, 2, 1)


async def test_a_run_without_lineage_artifact_sends_nothing(router, marquez, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Artifacts from before the lineage file: no POST, dropped as no_lineage, the run still RUNNING."""
    handlers, emitter, publisher = router
    _, seen = marquez
    with capture_logs() as logs:
        await start_run(handlers, write_artifacts(tmp_path / "art", "orders"))
        await emitter.join()
    assert publisher.of(RunStarted) and seen.posts == [] and emitter.dropped == 1
    assert any(entry.get("reason") == "no_lineage" for entry in logs)


async def test_logs_name_the_host_only(router, marquez, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Neither the URL's path (a tenant token here) nor the API key reaches a log line."""
    handlers, emitter, _ = router
    _, seen = marquez
    seen.status = 500
    with capture_logs() as logs:
        await start_run(handlers, lineage_artifacts(tmp_path / "art"))
        await emitter.join()
    mine = [entry for entry in logs if "OpenLineage" in str(entry.get("event"))]
    assert mine and all(entry["host"].startswith("127.0.0.1:") for entry in mine)
    text = json.dumps(logs, default=str)
    assert PATH_SECRET.strip("/") not in text and API_KEY not in text
