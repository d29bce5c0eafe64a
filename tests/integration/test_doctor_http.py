"""`streamwright doctor`'s Flink checks (httpx) against a local stand-in of the JobManager's
/overview and the SQL Gateway's /v1/info."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from services.mesh.entrypoints.ops_cli import FLINK_REST_ENV, SQL_GATEWAY_ENV, check_flink, http_json

pytestmark = pytest.mark.integration


class StandIn(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        answers = {
            "/overview": (200, {"flink-version": "2.3.0", "taskmanagers": 1}),
            "/v1/info": (200, {"productName": "Apache Flink", "version": "2.3.0"}),
            "/broken/overview": (503, {"errors": ["leader unknown"]}),
        }
        status, body = answers.get(self.path, (404, {"errors": ["Not found"]}))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_flink_endpoints_that_answer_are_ok_with_their_version(
    base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FLINK_REST_ENV, base + "/")
    monkeypatch.setenv(SQL_GATEWAY_ENV, base)
    rest, gateway = check_flink()
    assert (rest.status, rest.detail) == ("OK", f"{base}: Flink 2.3.0")
    assert (gateway.status, gateway.detail) == ("OK", f"{base}: Flink 2.3.0")


def test_flink_endpoints_that_fail_say_why(base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    port = _free_port()
    monkeypatch.setenv(FLINK_REST_ENV, base + "/broken")
    monkeypatch.setenv(SQL_GATEWAY_ENV, f"http://127.0.0.1:{port}")
    rest, gateway = check_flink()
    assert rest.status == "FAIL" and rest.detail == f"{base}/broken: HTTP 503 Service Unavailable"
    assert rest.fix == f"start it or correct {FLINK_REST_ENV}"
    assert gateway.status == "FAIL" and gateway.detail.startswith(f"http://127.0.0.1:{port}: ")


def test_http_json_refuses_other_schemes() -> None:
    with pytest.raises(ValueError, match="not an http"):
        http_json("file:///etc/passwd")
