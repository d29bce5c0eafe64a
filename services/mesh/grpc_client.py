"""Channels to mesh services, with the bearer token and TLS of the shared settings.

    async with open_channel("127.0.0.1:50051", settings) as channel:
        request = await IngestServiceStub(channel).GetRequest(GetRequestRequest(request_id=rid))

The token travels as `authorization: Bearer <token>` metadata added by a client interceptor, not
as call credentials: gRPC only sends call credentials over TLS, and the embedded default is
plaintext on 127.0.0.1.

A unary call made while a service's span is current (a handler, a gRPC call it serves, the
CLI's command span: services/mesh/cli_tracing.py) is a CLIENT span of that service, and carries
its W3C trace context as `traceparent` / `tracestate` metadata (tracing.py); a server-streaming
call there carries the context too (no CLIENT span: its server span is the child of the current
span). Health checks are not traced (as on the server side: probes poll); outside such a span
(the CLI with tracing off) nothing is traced or added.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.mesh.auth import client_token
from services.mesh.settings import MeshSettings
from services.mesh.tracing import (
    TRACEPARENT,
    TRACESTATE,
    SpanKind,
    Status,
    StatusCode,
    active_tracing,
    inject,
)

DEFAULT_HEALTH_TIMEOUT = 2.0
HEALTH_SERVICE: str = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
Continuation = Callable[..., Any]


class _TokenMetadata:
    """Adds `authorization: Bearer <token>` to a call's metadata, replacing any given one."""

    def __init__(self, token: str) -> None:
        self._header = ("authorization", f"Bearer {token}")

    def _with_token(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        kept = [(key, value) for key, value in details.metadata or () if key != self._header[0]]
        return grpc.aio.ClientCallDetails(
            method=details.method,
            timeout=details.timeout,
            metadata=grpc.aio.Metadata(*kept, self._header),
            credentials=details.credentials,
            wait_for_ready=details.wait_for_ready,
        )


# One class per call kind: the aio channel files each interceptor under the first kind it matches.
class _UnaryUnaryToken(_TokenMetadata, grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_unary(self, continuation: Continuation, details: Any, request: Any) -> Any:
        return await continuation(self._with_token(details), request)


class _UnaryStreamToken(_TokenMetadata, grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_stream(self, continuation: Continuation, details: Any, request: Any) -> Any:
        return await continuation(self._with_token(details), request)


class _StreamUnaryToken(_TokenMetadata, grpc.aio.StreamUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_stream_unary(self, continuation: Continuation, details: Any, requests: Any) -> Any:
        return await continuation(self._with_token(details), requests)


class _StreamStreamToken(_TokenMetadata, grpc.aio.StreamStreamClientInterceptor):  # type: ignore[misc]
    async def intercept_stream_stream(self, continuation: Continuation, details: Any, requests: Any) -> Any:
        return await continuation(self._with_token(details), requests)


def _method(details: Any) -> str:
    """'streamwright.v1.IngestService/SubmitRequest' (no leading slash)."""
    method = details.method.decode() if isinstance(details.method, bytes) else str(details.method)
    return method.lstrip("/")


def _untraced(method: str) -> bool:
    return method.partition("/")[0] == HEALTH_SERVICE


def _with_trace_context(details: Any) -> grpc.aio.ClientCallDetails:
    """`details` with the current span's W3C trace context as its only trace metadata."""
    carrier: dict[str, str] = {}
    inject(carrier)
    kept = [(k, v) for k, v in details.metadata or () if k not in (TRACEPARENT, TRACESTATE)]
    return grpc.aio.ClientCallDetails(
        method=details.method,
        timeout=details.timeout,
        metadata=grpc.aio.Metadata(*kept, *carrier.items()),
        credentials=details.credentials,
        wait_for_ready=details.wait_for_ready,
    )


class _UnaryUnaryTracing(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """A CLIENT span per unary call made inside a traced service, its context in the metadata."""

    async def intercept_unary_unary(self, continuation: Continuation, details: Any, request: Any) -> Any:
        tracing = active_tracing()
        name = _method(details)
        if tracing is None or _untraced(name):
            return await continuation(details, request)
        service, _, rpc = name.partition("/")
        attributes = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": rpc}
        with tracing.span(name, kind=SpanKind.CLIENT, attributes=attributes, record_errors=False) as span:
            call = await continuation(_with_trace_context(details), request)
            code = await call.code()  # the span lasts until the call ends; the caller reads the result
            span.set_attribute("rpc.grpc.status_code", code.value[0])
            if code is not grpc.StatusCode.OK:
                span.set_status(Status(StatusCode.ERROR, f"{code.name}: {await call.details()}"))
            return call


class _UnaryStreamTracing(grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    """A server-streaming call made inside a traced span carries its context (no CLIENT span:
    the stream outlives the call's return; the server's span is the child of the current span)."""

    async def intercept_unary_stream(self, continuation: Continuation, details: Any, request: Any) -> Any:
        if active_tracing() is None or _untraced(_method(details)):
            return await continuation(details, request)
        return await continuation(_with_trace_context(details), request)


def token_interceptors(token: str) -> list[Any]:
    """Client interceptors that send `token` as a bearer token on every kind of call."""
    kinds = (_UnaryUnaryToken, _UnaryStreamToken, _StreamUnaryToken, _StreamStreamToken)
    return [kind(token) for kind in kinds]


def _root_certificates(settings: MeshSettings, root_certificates: bytes | Path | None) -> bytes | None:
    if isinstance(root_certificates, bytes):
        return root_certificates
    path = root_certificates or settings.grpc_tls_cert
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as error:
        setting = "root_certificates" if root_certificates else "STREAMWRIGHT_GRPC_TLS_CERT (grpc_tls_cert)"
        raise ValueError(f"{setting} points to {path}, which cannot be read: {error}") from None


def open_channel(
    target: str,
    settings: MeshSettings,
    *,
    root_certificates: bytes | Path | None = None,
    options: Sequence[tuple[str, Any]] = (),
) -> grpc.aio.Channel:
    """An aio channel to `target` ("host:port") that carries the mesh's token and TLS.

    TLS is used when `root_certificates` is given or settings.grpc_tls_cert is set; the certificate
    file then serves as the trusted root (right for the mesh's self-signed or CA-bundle certs).
    Use the channel as `async with`, or `await channel.close()`.
    """
    token = client_token(settings)
    interceptors = [
        _UnaryUnaryTracing(),
        _UnaryStreamTracing(),
        *(token_interceptors(token) if token else []),
    ]
    roots = _root_certificates(settings, root_certificates)
    if roots is None:
        return grpc.aio.insecure_channel(target, options=list(options), interceptors=interceptors)
    credentials = grpc.ssl_channel_credentials(root_certificates=roots)
    return grpc.aio.secure_channel(target, credentials, options=list(options), interceptors=interceptors)


async def check_health(
    target: str,
    settings: MeshSettings,
    service: str = "",
    *,
    timeout: float = DEFAULT_HEALTH_TIMEOUT,  # noqa: ASYNC109 - sent to gRPC as the call's deadline
) -> bool:
    """True when `target` reports SERVING for `service` ("" = the whole server) within `timeout`.

    Unreachable, unknown service, NOT_SERVING and timeouts all give False.
    """
    async with open_channel(target, settings) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.aio.AioRpcError:
            return False
        return bool(response.status == health_pb2.HealthCheckResponse.SERVING)
