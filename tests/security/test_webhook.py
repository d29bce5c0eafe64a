"""The webhook cannot hurt the router (issue 16, item 5), against a real HTTP server on 127.0.0.1:

no redirect is followed; one total deadline bounds a delivery however slowly the endpoint answers;
handing a notification over never waits on the endpoint; failures are retried and counted; a full
queue drops and counts; logs name the host and never the URL's path or query (the token); the
optional HMAC-SHA256 signature verifies.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from services.mesh.store import SQLiteDocumentStore
from services.router.adapters.audit_log import JsonlAuditLog
from services.router.adapters.manifest import ManifestDeployer
from services.router.adapters.runs_store import StoreRunRepository
from services.router.adapters.webhook import SIGNATURE_HEADER, WebhookNotifier
from services.router.domain.config import RouterConfig, Timeouts
from services.router.domain.runs import RunState, RunView
from services.router.handlers import RouterHandlers
from tests.fakes import RecordingPublisher
from tests.unit.router.router_events import RunEvents, write_artifacts

pytestmark = pytest.mark.integration

TOKEN_PATH = "/hooks/T0001/B0002/pathsecretXYZ"
TOKEN_QUERY = "token=querysecretABC"
SECRET = "shared-webhook-secret"


@dataclass
class Endpoint:
    """What the stand-in endpoint saw and how it behaves."""

    hits: dict[str, int] = field(default_factory=dict)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    signatures: list[bool] = field(default_factory=list)
    fail_first: int = 2
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hit(self, path: str) -> int:
        with self.lock:
            self.hits[path] = self.hits.get(path, 0) + 1
            return self.hits[path]


def make_handler(endpoint: Endpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            count = endpoint.hit(path)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if path.startswith("/redirect"):
                self.send_response(302)
                self.send_header("Location", "/landed")
                self.end_headers()
            elif path == "/landed":
                self.send_response(200)
                self.end_headers()
            elif path == "/hang":
                endpoint.release.wait(30)
            elif path == "/drip":
                # A status line, one byte at a time: every single read is quick, the whole is not.
                for byte in b"HTTP/1.1 200 OK\r\n\r\n":
                    if endpoint.release.wait(0.25):
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
            elif path == "/flaky" and count <= endpoint.fail_first:
                self.send_response(503)
                self.end_headers()
            elif path == "/signed":
                expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                got = self.headers.get(SIGNATURE_HEADER, "")
                endpoint.signatures.append(hmac.compare_digest(expected, got))
                endpoint.bodies.append(json.loads(body))
                self.send_response(204)
                self.end_headers()
            elif path.startswith("/fail"):
                self.send_response(500)
                self.end_headers()
            else:
                endpoint.bodies.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    return Handler


@pytest.fixture
def endpoint() -> Iterator[tuple[Endpoint, str]]:
    state = Endpoint()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    state.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
async def notifiers() -> AsyncIterator[list[WebhookNotifier]]:
    made: list[WebhookNotifier] = []
    yield made
    for notifier in made:
        await notifier.aclose(grace=0)


def view(run_id: str = "01JRUN") -> RunView:
    return RunView(
        run_id=run_id,
        domain="orders",
        state=RunState.IN_REVIEW,
        reason="score below the gate",
        score=70.0,
        updated_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def log_text(logs: list[dict[str, Any]]) -> str:
    return json.dumps(logs, default=str)


async def test_a_redirect_is_not_followed_and_is_a_failed_delivery(
    endpoint: tuple[Endpoint, str], notifiers: list[WebhookNotifier]
) -> None:
    state, base = endpoint
    notifier = WebhookNotifier(f"{base}/redirect{TOKEN_PATH}?{TOKEN_QUERY}", deadline=3)
    notifiers.append(notifier)
    with capture_logs() as logs:
        await notifier.notify("review", view(), "orders")
        await notifier.join()
    assert state.hits.get("/landed", 0) == 0
    assert sum(n for p, n in state.hits.items() if p.startswith("/redirect")) == 1  # not retried
    assert (notifier.delivered, notifier.dropped) == (0, 1)
    (failed,) = [entry for entry in logs if entry["event"] == "webhook delivery failed"]
    assert "302" in failed["error"] and "redirect not followed" in failed["error"]


async def test_a_hanging_endpoint_never_holds_the_caller_and_delivery_ends_by_its_deadline(
    endpoint: tuple[Endpoint, str], notifiers: list[WebhookNotifier]
) -> None:
    _, base = endpoint
    deadline = 1.0
    notifier = WebhookNotifier(f"{base}/hang", deadline=deadline)
    notifiers.append(notifier)
    with capture_logs() as logs:
        began = time.perf_counter()
        await notifier.notify("review", view(), "orders")
        handed_over = time.perf_counter() - began
        await notifier.join()
        ended = time.perf_counter() - began
    assert handed_over < 0.05, handed_over
    assert deadline - 0.05 <= ended < deadline + 0.5, ended
    assert (notifier.delivered, notifier.dropped) == (0, 1)
    (failed,) = [entry for entry in logs if entry["event"] == "webhook delivery failed"]
    assert "deadline" in failed["error"]


async def test_the_deadline_is_total_not_per_read(
    endpoint: tuple[Endpoint, str], notifiers: list[WebhookNotifier]
) -> None:
    """An endpoint dripping its answer byte by byte (each read well within any per-read timeout)."""
    _, base = endpoint
    notifier = WebhookNotifier(f"{base}/drip", deadline=1.0)
    notifiers.append(notifier)
    began = time.perf_counter()
    await notifier.notify("review", view(), "orders")
    await notifier.join()
    assert time.perf_counter() - began < 1.5
    assert (notifier.delivered, notifier.dropped) == (0, 1)


async def test_the_router_event_handler_returns_while_the_endpoint_hangs(
    endpoint: tuple[Endpoint, str], notifiers: list[WebhookNotifier], tmp_path: Path
) -> None:
    """The probe: a slow endpoint held the router's event handling for 30 s despite a 5 s timeout."""
    state, base = endpoint
    notifier = WebhookNotifier(f"{base}/hang", deadline=5.0)
    notifiers.append(notifier)
    handlers = RouterHandlers(
        runs=StoreRunRepository(SQLiteDocumentStore(tmp_path / "router.sqlite3")),
        publisher=RecordingPublisher(),
        config=RouterConfig(timeouts=Timeouts(workflow_minutes=15, review_minutes=60)),
        deployer=ManifestDeployer(tmp_path / "out"),
        audit=JsonlAuditLog(tmp_path / "audit.jsonl"),
        notifier=notifier,
    )
    run = RunEvents()
    artifacts = write_artifacts(tmp_path / "art", "orders")
    for event in (run.submitted(), run.accepted(), run.generated(1, str(artifacts))):
        await handlers.on_event(event)
    began = time.perf_counter()
    await handlers.on_event(run.scored(1, score=70))  # to review: notifies
    elapsed = time.perf_counter() - began
    assert (await handlers.get(run.run_id)).state is RunState.IN_REVIEW
    assert elapsed < 1.0, elapsed  # the deadline is 5 s, the endpoint hangs 30 s
    for _ in range(200):
        if state.hits.get("/hang"):
            break
        await asyncio.sleep(0.01)
    assert state.hits.get("/hang") == 1  # the notification did go out, in the background


async def test_a_failing_endpoint_is_retried_and_the_retries_counted(
    endpoint: tuple[Endpoint, str], notifiers: list[WebhookNotifier]
) -> None:
    state, base = endpoint
    registry = CollectorRegistry()
    notifier = WebhookNotifier(f"{base}/flaky", deadline=5, backoff=0.05, attempts=3, registry=registry)
    notifiers.append(notifier)
    await notifier.notify("failed", view(), "orders")
    await notifier.join()
    assert state.hits["/flaky"] == 3
    assert (notifier.delivered, notifier.retried, notifier.dropped) == (1, 2, 0)
    assert registry.get_sample_value("streamwright_webhook_retries_total", {"service": "router"}) == 2
    assert registry.get_sample_value("streamwright_webhook_delivered_total", {"service": "router"}) == 1


async def test_attempts_exhausted_is_a_drop_and_the_log_names_the_host_only(
    endpoint: tuple[Endpoint, str], notifiers: list[WebhookNotifier]
) -> None:
    state, base = endpoint
    registry = CollectorRegistry()
    notifier = WebhookNotifier(
        f"{base}/fail{TOKEN_PATH}?{TOKEN_QUERY}", deadline=5, backoff=0.01, attempts=3, registry=registry
    )
    notifiers.append(notifier)
    with capture_logs() as logs:
        await notifier.notify("review", view(), "orders")
        await notifier.join()
        await notifier.aclose()
    assert sum(n for p, n in state.hits.items() if p.startswith("/fail")) == 3
    assert (notifier.delivered, notifier.retried, notifier.dropped) == (0, 2, 1)
    assert (
        registry.get_sample_value(
            "streamwright_webhook_dropped_total", {"service": "router", "reason": "failed"}
        )
        == 1
    )
    host = base.removeprefix("http://")
    (failed,) = [entry for entry in logs if entry["event"] == "webhook delivery failed"]
    assert failed["host"] == host and failed["error"] == "HTTP 500" and failed["attempts"] == 3
    text = log_text(logs)
    for secret in ("pathsecretXYZ", "querysecretABC", "/hooks/", "token="):
        assert secret not in text
    closed = [entry for entry in logs if entry["event"] == "webhook notifier closed"]
    assert closed and closed[0]["dropped"] == 1 and closed[0]["retried"] == 2


async def test_an_unreachable_endpoint_logs_the_host_only(notifiers: list[WebhookNotifier]) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    notifier = WebhookNotifier(
        f"http://user:pw@127.0.0.1:{port}{TOKEN_PATH}?{TOKEN_QUERY}", deadline=2, backoff=0.01
    )
    notifiers.append(notifier)
    with capture_logs() as logs:
        await notifier.notify("review", view(), "orders")
        await notifier.join()
    (failed,) = [entry for entry in logs if entry["event"] == "webhook delivery failed"]
    assert failed["host"] == f"127.0.0.1:{port}"
    text = log_text(logs)
    for secret in ("pathsecretXYZ", "querysecretABC", "/hooks/", "token=", "user:pw"):
        assert secret not in text


async def test_the_signature_header_verifies(
    endpoint: tuple[Endpoint, str], notifiers: list[WebhookNotifier]
) -> None:
    state, base = endpoint
    notifier = WebhookNotifier(f"{base}/signed", secret=SECRET)
    notifiers.append(notifier)
    await notifier.notify("review", view(), "orders")
    await notifier.join()
    assert state.signatures == [True]
    assert state.bodies[0]["run_id"] == "01JRUN" and state.bodies[0]["kind"] == "review"
    assert notifier.delivered == 1


async def test_no_secret_no_signature_header(
    endpoint: tuple[Endpoint, str], notifiers: list[WebhookNotifier]
) -> None:
    state, base = endpoint
    notifier = WebhookNotifier(f"{base}/signed")
    notifiers.append(notifier)
    await notifier.notify("review", view(), "orders")
    await notifier.join()
    assert state.signatures == [False]


async def test_a_full_queue_drops_and_counts_and_never_blocks(
    endpoint: tuple[Endpoint, str], notifiers: list[WebhookNotifier]
) -> None:
    _, base = endpoint
    registry = CollectorRegistry()
    notifier = WebhookNotifier(f"{base}/hang", deadline=5, queue_size=2, registry=registry)
    notifiers.append(notifier)
    with capture_logs() as logs:
        began = time.perf_counter()
        for i in range(10):
            await notifier.notify("review", view(f"01JRUN{i}"), "orders")
        elapsed = time.perf_counter() - began
        await asyncio.sleep(0.1)  # the worker takes one and hangs on it
        await notifier.notify("review", view("01JRUNX"), "orders")  # one slot free again
        await notifier.notify("review", view("01JRUNY"), "orders")  # full
    assert elapsed < 0.05, elapsed
    assert notifier.dropped == 9
    assert (
        registry.get_sample_value(
            "streamwright_webhook_dropped_total", {"service": "router", "reason": "queue_full"}
        )
        == 9
    )
    assert len([entry for entry in logs if entry["event"] == "webhook queue full, notification dropped"]) == 9
    began = time.perf_counter()
    await notifier.aclose(grace=0.1)
    assert time.perf_counter() - began < 1.0  # shutdown does not wait out the hanging endpoint
    assert notifier.dropped == 12  # the one in flight and the two queued
    await notifier.notify("review", view("01JRUNZ"), "orders")  # after close: dropped, no error
    assert notifier.dropped == 13


def test_a_bad_url_is_refused_without_quoting_it() -> None:
    for url in (f"ftp://example.com{TOKEN_PATH}", f"http://{TOKEN_PATH}", f"http://x.test/a b?{TOKEN_QUERY}"):
        with pytest.raises(ValueError) as raised:
            WebhookNotifier(url)
        assert "pathsecretXYZ" not in str(raised.value) and "querysecretABC" not in str(raised.value)
