"""One JSON POST to an endpoint outside our control, as the router's webhook and OpenLineage
emitter deliver it (docs/security.md, "The webhook"):

- One total deadline covers connecting, sending and reading the answer, over every attempt, so an
  endpoint answering byte by byte cannot hold a delivery past it.
- A few attempts with exponential backoff, only while the deadline leaves room; retried are
  connection errors, 5xx, 408, 425 and 429. Other 4xx answers will not change by retrying.
- A redirect is never followed: a 3xx answer is a failed delivery, not retried.
- Errors name the host (and port) only, never the URL's path or query, where tokens live.

The client is asyncio's streams (no third-party HTTP client; the router needs none): HTTP/1.1,
`Connection: close`, only the status line of the answer is read. Proxy settings (HTTP(S)_PROXY)
are not used; https verifies the certificate with the system's trust store.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Counter

# Retry an answer that says "try again"; any other 4xx (and every 3xx) will not change by retrying.
_RETRY_STATUS = frozenset({408, 425, 429})
_MAX_STATUS_LINE = 8192


class _Failed(Exception):
    """One failed attempt; the message never holds the URL's path or query."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    host_header: str
    target: str  # path and query: secret, never logged

    @property
    def shown(self) -> str:
        """What logs may name: the host (and a port given in the URL)."""
        return self.host_header


def parse_target(url: str, what: str) -> Target:
    """The parts of `url`; ValueError naming `what` (e.g. "webhook URL"), never quoting the URL,
    when it is not usable."""
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise ValueError(f"{what} holds whitespace or control characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{what} must start with http:// or https://")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{what} has an invalid port") from None
    host = parts.hostname
    if not host:
        raise ValueError(f"{what} has no host")
    shown_host = f"[{host}]" if ":" in host else host
    host_header = f"{shown_host}:{port}" if port is not None else shown_host
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default_port = 443 if parts.scheme == "https" else 80
    return Target(parts.scheme, host, port or default_port, host_header, target)


def describe(error: BaseException) -> str:
    """An error's kind and message; OSError messages name at most the address, never the path."""
    text = getattr(error, "strerror", None) or str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


_COUNTERS: weakref.WeakKeyDictionary[CollectorRegistry, dict[str, dict[str, Counter]]] = (
    weakref.WeakKeyDictionary()
)
_COUNTERS_LOCK = threading.Lock()


def delivery_counters(
    registry: CollectorRegistry, name: str, *, sender: str, items: str, reasons: str
) -> dict[str, Counter]:
    """`streamwright_<name>_{delivered,retries,dropped}` in `registry`, registered once per registry
    (a second registration of a name would raise)."""
    with _COUNTERS_LOCK:
        by_name = _COUNTERS.setdefault(registry, {})
        found = by_name.get(name)
        if found is None:
            found = {
                "delivered": Counter(
                    f"streamwright_{name}_delivered",
                    f"{sender} {items} the endpoint accepted (2xx).",
                    ("service",),
                    registry=registry,
                ),
                "retried": Counter(
                    f"streamwright_{name}_retries",
                    f"{sender} delivery attempts repeated after a failed one.",
                    ("service",),
                    registry=registry,
                ),
                "dropped": Counter(
                    f"streamwright_{name}_dropped",
                    f"{sender} {items} never delivered ({reasons}).",
                    ("service", "reason"),
                    registry=registry,
                ),
            }
            by_name[name] = found
        return found


@dataclass(frozen=True)
class Undelivered:
    """Why a delivery gave up (host only, never the path) and after how many attempts."""

    error: str
    attempts: int


class HttpDelivery:
    """POSTs JSON bodies to one endpoint, each within one deadline over all its attempts."""

    def __init__(self, target: Target, *, deadline: float, attempts: int, backoff: float) -> None:
        self._target = target
        self._deadline = deadline
        self._attempts = attempts
        self._backoff = backoff
        self._ssl = ssl.create_default_context() if target.scheme == "https" else None

    async def deliver(
        self, body: bytes, *, headers: Sequence[str] = (), on_retry: Callable[[int, str], None]
    ) -> Undelivered | None:
        """None once the endpoint accepted `body` (2xx); else why not. `on_retry(attempt, error)` is
        called before each backoff. Other errors than the endpoint's propagate."""
        loop = asyncio.get_running_loop()
        end = loop.time() + self._deadline
        attempt = 0
        while True:
            attempt += 1
            try:
                async with asyncio.timeout_at(end):
                    status = await self._post(body, headers)
                failure = _judge(status)
            except TimeoutError:
                failure = _Failed(f"no answer within the {self._deadline:g} s deadline", retry=False)
            except _Failed as error:
                failure = error
            except (OSError, ssl.SSLError, EOFError) as error:
                failure = _Failed(describe(error), retry=True)
            if failure is None:
                return None
            delay = self._backoff * 2 ** (attempt - 1)
            if not failure.retry or attempt >= self._attempts or loop.time() + delay >= end:
                return Undelivered(str(failure), attempt)
            on_retry(attempt, str(failure))
            await asyncio.sleep(delay)

    async def _post(self, body: bytes, extra_headers: Sequence[str]) -> int:
        """One POST; the status code of the answer. The caller bounds it with the deadline."""
        t = self._target
        reader, writer = await asyncio.open_connection(
            t.host,
            t.port,
            ssl=self._ssl,
            server_hostname=t.host if self._ssl is not None else None,
            limit=_MAX_STATUS_LINE,
        )
        try:
            headers = [
                f"POST {t.target} HTTP/1.1",
                f"Host: {t.host_header}",
                "User-Agent: streamwright-router",
                "Content-Type: application/json",
                "Accept: */*",
                f"Content-Length: {len(body)}",
                "Connection: close",
                *extra_headers,
            ]
            writer.write(("\r\n".join(headers) + "\r\n\r\n").encode("ascii") + body)
            await writer.drain()
            try:
                line = await reader.readline()
            except ValueError:  # longer than the stream's limit
                raise _Failed("the answer's status line is too long", retry=False) from None
            return _status(line)
        finally:
            writer.transport.abort()


def _judge(status: int) -> _Failed | None:
    if 200 <= status < 300:
        return None
    if 300 <= status < 400:
        return _Failed(f"HTTP {status}: redirect not followed", retry=False)
    return _Failed(f"HTTP {status}", retry=status >= 500 or status in _RETRY_STATUS)


def _status(line: bytes) -> int:
    if not line:
        raise _Failed("connection closed without an answer", retry=True)
    parts = line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise _Failed("the answer is not HTTP", retry=False)
    return int(parts[1])
