"""A small JSON-over-HTTP client (httpx, async) for the Flink REST APIs."""

from __future__ import annotations

import json
from typing import Any

import httpx

from services.mesh.httpclient import tls_context


class HttpError(Exception):
    """A non-2xx answer or an unreachable server; `errors` is Flink's `{"errors": [...]}` list."""

    def __init__(self, message: str, *, status: int | None = None, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors or []


def _error_text(body: bytes) -> list[str]:
    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        return [body.decode(errors="replace")[:2000]] if body else []
    errors = parsed.get("errors") if isinstance(parsed, dict) else None
    return [str(e) for e in errors] if isinstance(errors, list) else []


def _reason(error: httpx.HTTPError) -> str:
    """What went wrong, in a word or a line (httpx's timeouts may carry no text)."""
    text = str(error)
    if isinstance(error, httpx.TimeoutException):
        return f"timed out{f' ({text})' if text else ''}"
    return text or type(error).__name__


async def request_json(method: str, url: str, body: Any = None, *, timeout: float = 30.0) -> Any:  # noqa: ASYNC109 - httpx's per-request timeout (connect, read, write, pool)
    """The parsed JSON answer of one HTTP call; HttpError on failure."""
    if not url.startswith(("http://", "https://")):
        raise HttpError(f"refusing non-HTTP URL {url!r}")
    headers = {"Accept": "application/json"}
    content = None
    if body is not None:
        content = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        async with httpx.AsyncClient(timeout=timeout, verify=tls_context(), follow_redirects=True) as client:
            response = await client.request(method, url, content=content, headers=headers)
    except httpx.HTTPError as error:
        raise HttpError(f"{method} {url}: {_reason(error)}") from None
    raw = response.content
    if response.is_error:
        errors = _error_text(raw)
        first = errors[0].splitlines()[0] if errors else response.reason_phrase
        raise HttpError(
            f"{method} {url}: HTTP {response.status_code}: {first}",
            status=response.status_code,
            errors=errors,
        )
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise HttpError(f"{method} {url}: answer is not JSON") from None
