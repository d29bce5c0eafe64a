"""The router's JSON-over-HTTP client (httpx) against a local stand-in: answers, Flink's error
lists, timeouts and unreachable servers all end as the documented results."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from services.router.adapters.http_json import HttpError, request_json

pytestmark = pytest.mark.integration


class StandIn(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str, str | None, Any]]] = []

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a client that gave up
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def _route(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        StandIn.seen.append((method, self.path, self.headers.get("Content-Type"), body))
        if self.path == "/ok":
            self._send(200, json.dumps({"state": "RUNNING", "echo": body}).encode())
        elif self.path == "/empty":
            self._send(202, b"")
        elif self.path == "/flink-error":
            errors = ["org.apache.flink.runtime.rest.NotFoundException: Job x not found\n\tat ...", "more"]
            self._send(404, json.dumps({"errors": errors}).encode())
        elif self.path == "/plain-error":
            self._send(500, b"upstream exploded", "text/plain")
        elif self.path == "/not-json":
            self._send(200, b"<html>surprise</html>", "text/html")
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/ok")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/slow":
            time.sleep(1.5)
            self._send(200, b"{}")

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PATCH(self) -> None:
        self._route("PATCH")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def base() -> Iterator[str]:
    StandIn.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


async def test_answers_are_parsed_and_bodies_sent_as_json(base: str) -> None:
    assert await request_json("GET", f"{base}/ok") == {"state": "RUNNING", "echo": None}
    answer = await request_json("POST", f"{base}/ok", {"drain": False})
    assert answer["echo"] == {"drain": False}
    assert StandIn.seen[-1][2] == "application/json"
    assert await request_json("PATCH", f"{base}/empty") == {}
    assert (await request_json("GET", f"{base}/redirect"))["state"] == "RUNNING"  # as urllib did


async def test_errors_carry_the_status_and_flinks_error_list(base: str) -> None:
    with pytest.raises(HttpError) as caught:
        await request_json("GET", f"{base}/flink-error")
    error = caught.value
    assert str(error) == (
        f"GET {base}/flink-error: HTTP 404: org.apache.flink.runtime.rest.NotFoundException: Job x not found"
    )
    assert error.status == 404 and len(error.errors) == 2
    with pytest.raises(HttpError, match=r"HTTP 500: upstream exploded$") as plain:
        await request_json("POST", f"{base}/plain-error", {})
    assert plain.value.errors == ["upstream exploded"]
    with pytest.raises(HttpError, match=r"answer is not JSON$"):
        await request_json("GET", f"{base}/not-json")


async def test_timeouts_unreachable_servers_and_other_schemes(base: str) -> None:
    with pytest.raises(HttpError, match=r"^GET .*/slow: timed out") as slow:
        await request_json("GET", f"{base}/slow", timeout=0.3)
    assert slow.value.status is None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(HttpError, match=rf"^GET http://127.0.0.1:{port}/x: ") as refused:
        await request_json("GET", f"http://127.0.0.1:{port}/x", timeout=2)
    assert refused.value.status is None
    with pytest.raises(HttpError, match="refusing non-HTTP URL"):
        await request_json("GET", "file:///etc/passwd")
