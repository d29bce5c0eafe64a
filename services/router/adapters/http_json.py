"""A small JSON-over-HTTP client (stdlib urllib in a worker thread) for the Flink REST APIs."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any


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


def _call(method: str, url: str, body: Any, timeout: float) -> Any:
    if not url.startswith(("http://", "https://")):
        raise HttpError(f"refusing non-HTTP URL {url!r}")
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - scheme checked above
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked above
            raw = response.read()
    except urllib.error.HTTPError as error:
        raw = error.read()
        errors = _error_text(raw)
        first = errors[0].splitlines()[0] if errors else error.reason
        raise HttpError(
            f"{method} {url}: HTTP {error.code}: {first}", status=error.code, errors=errors
        ) from None
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        reason = getattr(error, "reason", error)
        raise HttpError(f"{method} {url}: {reason}") from None
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise HttpError(f"{method} {url}: answer is not JSON") from None


async def request_json(method: str, url: str, body: Any = None, *, timeout: float = 30.0) -> Any:  # noqa: ASYNC109 - the socket timeout of the worker thread's call
    """The parsed JSON answer of one HTTP call; HttpError on failure."""
    return await asyncio.to_thread(_call, method, url, body, timeout)
