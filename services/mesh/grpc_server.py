"""One gRPC server per service: health, reflection, optional bearer-token auth and TLS.

    server, port = create_server(
        [(ingest_pb2_grpc.add_IngestServiceServicer_to_server, IngestApi(handlers))],
        settings=settings,
        port=settings_port,
        service_names=[INGEST_SERVICE],  # "streamwright.v1.IngestService"
    )
    await serve_until_stopped(server, grace=5.0)

Every server gets the standard health service (`grpc.health.v1.Health`: "" and each service name
SERVING, all NOT_SERVING once a graceful stop begins) and server reflection (v1alpha, what grpcurl
and most tools speak). Unless STREAMWRIGHT_GRPC_AUTH=off, every call except health checks and
reflection must carry `authorization: Bearer <token>` (the tokens: services/mesh/auth.py); the
identity the token stands for is readable by the servicer through `current_identity()`. When `grpc_tls_cert` and `grpc_tls_key` are set, the port
is TLS-only. With tracing on, every call but health checks and reflection that passes auth is
a SERVER span, child of the caller's `traceparent` metadata (`TracingInterceptor`, after auth).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import inspect
import signal
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.mesh.auth import server_tokens
from services.mesh.identity import Identity
from services.mesh.settings import MeshSettings, SettingsError
from services.mesh.tracing import (
    AttributeValue,
    ServiceTracing,
    Span,
    SpanKind,
    Status,
    StatusCode,
    extract,
    root_context,
)

# `add_XServicer_to_server` from a generated *_pb2_grpc module, and the servicer it registers.
AddServicer = Callable[[Any, grpc.aio.Server], None]
Registration = tuple[AddServicer, object]

HEALTH_SERVICE: str = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
REFLECTION_SERVICES: frozenset[str] = frozenset(
    {reflection.SERVICE_NAME, "grpc.reflection.v1.ServerReflection"}
)
# Probes and tooling must work without credentials: load balancers do not carry our token.
PUBLIC_SERVICES: frozenset[str] = frozenset({HEALTH_SERVICE, *REFLECTION_SERVICES})

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class GrpcConfigError(ValueError):
    """The gRPC settings cannot work (a missing TLS file, an unknown service name, a busy port)."""


_identity: ContextVar[Identity | None] = ContextVar("streamwright_grpc_identity", default=None)


def current_identity() -> Identity | None:
    """The identity of the call being served; None only when auth is off."""
    return _identity.get()


class BearerTokenInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Rejects calls without a known `authorization: Bearer <token>` with UNAUTHENTICATED.

    Tokens map to identities, so a later extension can give each reviewer their own token.
    Tokens are compared as SHA-256 digests with `hmac.compare_digest`, against every known token,
    so neither the length nor the position of a match leaks through timing.
    """

    def __init__(self, tokens: Mapping[str, Identity], *, public_services: Iterable[str] = PUBLIC_SERVICES):
        if not tokens or any(not token for token in tokens):
            raise GrpcConfigError("bearer-token auth needs at least one non-empty token")
        self._tokens = [(_digest(token), identity) for token, identity in tokens.items()]
        self._public = frozenset(public_services)

    async def intercept_service(
        self,
        continuation: Callable[[Any], Awaitable[grpc.RpcMethodHandler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(handler_call_details)
        if handler is None or _service_of(handler_call_details.method) in self._public:
            return handler
        outcome = self._authenticate(handler_call_details.invocation_metadata)
        if isinstance(outcome, str):
            return _denying_handler(handler, outcome)
        # The aio server runs interceptors and the handler in the same per-call task, so the
        # servicer sees this value and no other call does.
        _identity.set(outcome)
        return handler

    def _authenticate(self, metadata: Sequence[tuple[str, str | bytes]] | None) -> Identity | str:
        values = [value for key, value in metadata or () if key == "authorization"]
        if not values:
            return "missing credentials: send metadata 'authorization: Bearer <token>'"
        value = values[0] if isinstance(values[0], str) else values[0].decode(errors="replace")
        scheme, _, token = value.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return "malformed 'authorization' metadata: expected 'Bearer <token>'"
        presented = _digest(token)
        matched: Identity | None = None
        for known, identity in self._tokens:
            if hmac.compare_digest(presented, known):
                matched = identity
        return matched if matched is not None else "invalid bearer token"


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _service_of(method: str) -> str:
    """'/streamwright.v1.IngestService/GetRequest' -> 'streamwright.v1.IngestService'."""
    return method.lstrip("/").partition("/")[0]


def _denying_handler(handler: grpc.RpcMethodHandler, message: str) -> grpc.RpcMethodHandler:
    """A handler of the same kind (unary/stream) as `handler` that only aborts."""

    async def deny(_request: object, context: grpc.aio.ServicerContext) -> None:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    factory = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }[(bool(handler.request_streaming), bool(handler.response_streaming))]
    return factory(
        deny,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


# Status codes that mean the server failed (OpenTelemetry's RPC conventions): a SERVER span with
# one of them is an error; NOT_FOUND, INVALID_ARGUMENT, PERMISSION_DENIED... are the caller's.
SERVER_ERRORS: frozenset[grpc.StatusCode] = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)
_CODES: dict[int, grpc.StatusCode] = {code.value[0]: code for code in grpc.StatusCode}


class TracingInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """A SERVER span `<package.Service>/<Method>` per call, child of the caller's `traceparent`.

    Health checks and reflection are not traced (probes call every second). Placed after the
    auth interceptor: a call auth refuses never reaches it and has no span. Unary and
    server-streaming calls are traced (the mesh's contracts have no other kind).
    """

    def __init__(self, tracing: ServiceTracing, *, untraced: Iterable[str] = PUBLIC_SERVICES) -> None:
        self._tracing = tracing
        self._untraced = frozenset(untraced)

    async def intercept_service(
        self,
        continuation: Callable[[Any], Awaitable[grpc.RpcMethodHandler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or not self._tracing.enabled or _service_of(method) in self._untraced:
            return handler
        return _traced(handler, self._tracing, method, handler_call_details.invocation_metadata)


def _traced(
    handler: grpc.RpcMethodHandler,
    tracing: ServiceTracing,
    method: str,
    metadata: Sequence[tuple[str, str | bytes]] | None,
) -> grpc.RpcMethodHandler:
    """`handler` with its behaviour inside a SERVER span."""
    name = method.lstrip("/")
    service, _, rpc = name.partition("/")
    carrier = {key: value for key, value in metadata or () if isinstance(value, str)}
    parent = extract(carrier) or root_context()
    attributes: dict[str, AttributeValue] = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": rpc}

    def span() -> contextlib.AbstractContextManager[Span]:
        return tracing.span(
            name, kind=SpanKind.SERVER, context=parent, attributes=attributes, record_errors=False
        )

    if handler.unary_unary is not None:
        unary = handler.unary_unary

        async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            with span() as current:
                try:
                    response = await unary(request, context)
                except BaseException as error:
                    _end_call(current, context, error)
                    raise
                _end_call(current, context, None)
                return response

        return grpc.unary_unary_rpc_method_handler(
            unary_unary,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    if handler.unary_stream is not None and inspect.isasyncgenfunction(handler.unary_stream):
        stream = handler.unary_stream

        async def unary_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            with span() as current:
                try:
                    async for message in stream(request, context):
                        yield message
                except BaseException as error:
                    _end_call(current, context, error)
                    raise
                _end_call(current, context, None)

        return grpc.unary_stream_rpc_method_handler(
            unary_stream,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    return handler


def _end_call(span: Span, context: grpc.aio.ServicerContext, error: BaseException | None) -> None:
    """The call's status code on its span; ERROR status for a server failure (SERVER_ERRORS)."""
    code = _code_of(context)
    if code is None:
        code = grpc.StatusCode.OK if error is None else grpc.StatusCode.UNKNOWN
        if isinstance(error, asyncio.CancelledError):
            code = grpc.StatusCode.CANCELLED
    span.set_attribute("rpc.grpc.status_code", code.value[0])
    if error is not None and not isinstance(error, grpc.aio.AbortError | asyncio.CancelledError):
        span.record_exception(error)
    if code in SERVER_ERRORS:
        try:
            details = context.details() or error
        except Exception:
            details = error
        span.set_status(Status(StatusCode.ERROR, code.name + (f": {details}" if details else "")))


def _code_of(context: grpc.aio.ServicerContext) -> grpc.StatusCode | None:
    try:
        code = context.code()
    except Exception:  # not every context implementation has it
        return None
    if isinstance(code, grpc.StatusCode):
        return code
    return _CODES.get(code) if isinstance(code, int) else None


def server_credentials(settings: MeshSettings) -> grpc.ServerCredentials | None:
    """TLS credentials from grpc_tls_cert + grpc_tls_key, None when neither is set."""
    if settings.grpc_tls_cert is None and settings.grpc_tls_key is None:
        return None
    cert = read_setting_file("grpc_tls_cert", settings.grpc_tls_cert, needed_with="grpc_tls_key")
    key = read_setting_file("grpc_tls_key", settings.grpc_tls_key, needed_with="grpc_tls_cert")
    return grpc.ssl_server_credentials([(key, cert)])


def read_setting_file(setting: str, path: Path | None, *, needed_with: str) -> bytes:
    """The bytes of a file named by a setting, or an error that names the setting."""
    env = f"STREAMWRIGHT_{setting.upper()}"
    if path is None:
        raise GrpcConfigError(f"{env} ({setting}) is not set, but {needed_with} is: TLS needs both")
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise GrpcConfigError(f"{env} ({setting}) points to {path}, which does not exist") from None
    except OSError as error:
        raise GrpcConfigError(f"{env} ({setting}) points to {path}, which cannot be read: {error}") from None


def _check_service_names(service_names: Sequence[str]) -> None:
    pool = health_pb2.DESCRIPTOR.pool  # the default pool every generated module registers in
    for name in service_names:
        try:
            pool.FindServiceByName(name)
        except KeyError:
            raise GrpcConfigError(
                f"unknown gRPC service {name!r}: import its *_pb2 module and use the full name, "
                "e.g. 'streamwright.v1.IngestService'"
            ) from None


class _MeshHealth(health.aio.HealthServicer):  # type: ignore[misc]
    """The reference aio health servicer, starting with every service SERVING.

    Its public `set` is a coroutine; this sets the initial statuses synchronously, before any
    watcher can exist, so `create_server` stays a plain function.
    """

    def __init__(self, service_names: Sequence[str]) -> None:
        super().__init__()
        for name in ("", *service_names):
            self._server_status[name] = SERVING


_health_of: weakref.WeakKeyDictionary[Any, _MeshHealth] = weakref.WeakKeyDictionary()


def _address(host: str, port: int) -> str:
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    return f"{host}:{port}"


def create_server(
    registrations: Iterable[Registration],
    *,
    settings: MeshSettings,
    port: int = 0,
    service_names: Sequence[str],
    tokens: Mapping[str, Identity] | None = None,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    tracing: ServiceTracing | None = None,
) -> tuple[grpc.aio.Server, int]:
    """A not yet started aio server on settings.grpc_host:port, and the port it is bound to.

    `registrations` are (add_XServicer_to_server, servicer) pairs; `service_names` their full
    names ("streamwright.v1.IngestService"), for health and reflection. `tokens` overrides the
    token -> identity mapping taken from the settings (services/mesh/auth.py; an empty mapping
    turns auth off, as STREAMWRIGHT_GRPC_AUTH=off does).
    With `tracing` on, calls are traced (TracingInterceptor), after auth and `interceptors`.
    Port 0 picks a free port. Raises GrpcConfigError for missing TLS files, unknown service
    names and a port that cannot be bound.
    """
    credentials = server_credentials(settings)
    _check_service_names(service_names)
    if tokens is None:
        try:
            tokens = server_tokens(settings)
        except SettingsError as error:
            raise GrpcConfigError(str(error)) from None
    chain = [BearerTokenInterceptor(tokens)] if tokens else []
    traced = [TracingInterceptor(tracing)] if tracing is not None and tracing.enabled else []
    # No SO_REUSEPORT: a second server on a busy port must fail, not silently share it.
    server = grpc.aio.server(
        interceptors=[*chain, *interceptors, *traced], options=[("grpc.so_reuseport", 0)]
    )
    for add_servicer, servicer in registrations:
        add_servicer(servicer, server)
    health_servicer = _MeshHealth(service_names)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    _health_of[server] = health_servicer
    reflection.enable_server_reflection([*service_names, HEALTH_SERVICE, reflection.SERVICE_NAME], server)
    address = _address(settings.grpc_host, port)
    try:
        bound: int = (
            server.add_secure_port(address, credentials)
            if credentials is not None
            else server.add_insecure_port(address)
        )
    except RuntimeError as error:
        raise GrpcConfigError(f"cannot bind gRPC to {address}: {error}") from None
    if bound == 0:
        raise GrpcConfigError(f"cannot bind gRPC to {address}")
    return server, bound


async def set_serving(server: grpc.aio.Server, service: str, serving: bool) -> None:
    """Set one service's health ("" = the whole server); ignored once shutdown began."""
    await _health_of[server].set(service, SERVING if serving else NOT_SERVING)


async def stop_server(server: grpc.aio.Server, grace: float) -> None:
    """Report NOT_SERVING for everything, then stop, letting calls in flight finish for `grace` s."""
    health_servicer = _health_of.get(server)
    if health_servicer is not None:
        await health_servicer.enter_graceful_shutdown()
    await server.stop(grace)


async def serve_until_stopped(
    server: grpc.aio.Server, grace: float = 5.0, *, stop: asyncio.Event | None = None
) -> None:
    """Start the server and serve until `stop` is set (or, without one, SIGINT/SIGTERM), then stop.

    Cancelling this coroutine stops the server too. (Not raced against `wait_for_termination()`:
    cancelling that waiter cancels the server's own shutdown future and breaks `stop`.)
    """
    await server.start()
    own_event = stop is None
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    if own_event:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        if own_event:
            for signum in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.remove_signal_handler(signum)
        await stop_server(server, grace)
