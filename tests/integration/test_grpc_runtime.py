"""The shared gRPC runtime: a real aio server on port 0, in process, with health, reflection, auth, TLS."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from services.mesh.grpc_client import check_health, open_channel
from services.mesh.grpc_server import (
    GrpcConfigError,
    create_server,
    current_identity,
    serve_until_stopped,
    set_serving,
    stop_server,
)
from services.mesh.rpc.streamwright.v1 import ingest_pb2, ingest_pb2_grpc, router_pb2, router_pb2_grpc
from services.mesh.settings import MeshSettings

pytestmark = pytest.mark.integration

INGEST = ingest_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name
ROUTER = router_pb2.DESCRIPTOR.services_by_name["RouterService"].full_name
TOKEN = "s3cret-" + uuid.uuid4().hex


class FakeIngest(ingest_pb2_grpc.IngestServiceServicer):
    async def GetRequest(self, request: ingest_pb2.GetRequestRequest, context: Any) -> ingest_pb2.Request:
        reply = ingest_pb2.Request(request_id=request.request_id, domain="orders")
        identity = current_identity()
        if identity is not None:
            reply.submitted_by = identity.subject
        return reply


class FakeRouter(router_pb2_grpc.RouterServiceServicer):
    async def WatchRun(
        self, request: router_pb2.WatchRunRequest, context: Any
    ) -> AsyncIterator[router_pb2.RunUpdate]:
        for state in (router_pb2.RUN_STATE_GENERATING, router_pb2.RUN_STATE_STARTED):
            yield router_pb2.RunUpdate(run=router_pb2.Run(run_id=request.run_id, state=state))


def make_settings(**overrides: Any) -> MeshSettings:
    values: dict[str, Any] = {
        "grpc_host": "127.0.0.1",
        "grpc_token": None,
        "grpc_tls_cert": None,
        "grpc_tls_key": None,
    }
    values.update(overrides)
    return MeshSettings(**values)


def registrations() -> list[tuple[Any, object]]:
    return [
        (ingest_pb2_grpc.add_IngestServiceServicer_to_server, FakeIngest()),
        (router_pb2_grpc.add_RouterServiceServicer_to_server, FakeRouter()),
    ]


@pytest.fixture
async def serve() -> AsyncIterator[Any]:
    servers: list[grpc.aio.Server] = []

    async def start(settings: MeshSettings, names: Sequence[str] = (INGEST, ROUTER)) -> str:
        server, port = create_server(registrations(), settings=settings, service_names=names)
        await server.start()
        servers.append(server)
        return f"127.0.0.1:{port}"

    yield start
    for server in servers:
        await server.stop(None)


async def get_request(target: str, settings: MeshSettings) -> ingest_pb2.Request:
    async with open_channel(target, settings) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        reply: ingest_pb2.Request = await stub.GetRequest(
            ingest_pb2.GetRequestRequest(request_id="r-1"), timeout=5
        )
        return reply


async def list_services(target: str, settings: MeshSettings) -> set[str]:
    async with open_channel(target, settings) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        names: set[str] = set()
        call = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        async for response in call:
            names.update(service.name for service in response.list_services_response.service)
        return names


async def test_health_reports_serving_for_server_and_each_service(serve: Any) -> None:
    """It reports SERVING for "" and for every registered service, and nothing for unknown ones."""
    settings = make_settings()
    target = await serve(settings)
    assert await check_health(target, settings)
    assert await check_health(target, settings, INGEST)
    assert await check_health(target, settings, ROUTER)
    assert not await check_health(target, settings, "streamwright.v1.NoSuchService")


async def test_set_serving_flips_one_service(serve: Any) -> None:
    """It lets the owner mark one service NOT_SERVING and back."""
    settings = make_settings()
    server, port = create_server(registrations(), settings=settings, service_names=[INGEST])
    await server.start()
    target = f"127.0.0.1:{port}"
    try:
        await set_serving(server, INGEST, False)
        assert not await check_health(target, settings, INGEST)
        assert await check_health(target, settings)
        await set_serving(server, INGEST, True)
        assert await check_health(target, settings, INGEST)
    finally:
        await server.stop(None)


async def test_reflection_lists_services(serve: Any) -> None:
    """It lists the mesh services, health and reflection through the v1alpha reflection protocol."""
    settings = make_settings()
    target = await serve(settings)
    names = await list_services(target, settings)
    assert {INGEST, ROUTER, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= names


async def test_unary_call_without_auth_only_when_turned_off(serve: Any) -> None:
    """It serves calls without credentials, with no identity, only with STREAMWRIGHT_GRPC_AUTH=off."""
    off = make_settings(grpc_auth="off")
    target = await serve(off)
    reply = await get_request(target, off)
    assert reply.request_id == "r-1"
    assert not reply.HasField("submitted_by")


async def test_auth_is_on_by_default_with_the_installation_token(serve: Any, tmp_path: Path) -> None:
    """By default a server refuses a call without a token, and a client of the same home is the owner."""
    settings = make_settings(home=tmp_path)
    target = await serve(settings)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await get_request(target, make_settings(home=tmp_path, grpc_auth="off"))  # sends no token
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "missing credentials" in (caught.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await get_request(target, make_settings(home=tmp_path / "elsewhere"))  # another installation
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    reply = await get_request(target, settings)
    assert reply.submitted_by == "owner"
    token_file = tmp_path / "grpc-token"
    assert token_file.stat().st_mode & 0o777 == 0o600


async def test_token_missing_or_wrong_is_unauthenticated(serve: Any) -> None:
    """It rejects calls with a missing, malformed or wrong token as UNAUTHENTICATED."""
    target = await serve(make_settings(grpc_token=TOKEN))
    for client, expected in (
        (make_settings(grpc_auth="off"), "missing credentials"),
        (make_settings(grpc_token="wrong"), "invalid bearer token"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await get_request(target, client)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert expected in (caught.value.details() or "")
    async with grpc.aio.insecure_channel(target) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetRequest(
                ingest_pb2.GetRequestRequest(), metadata=[("authorization", f"Basic {TOKEN}")]
            )
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "malformed" in (caught.value.details() or "")


async def test_right_token_is_accepted_and_identity_visible(serve: Any) -> None:
    """It accepts the right token and shows the servicer who called."""
    settings = make_settings(grpc_token=TOKEN)
    target = await serve(settings)
    reply = await get_request(target, settings)
    assert reply.request_id == "r-1"
    assert reply.submitted_by == "shared-token"


async def test_per_person_tokens_name_the_caller(serve: Any) -> None:
    """It maps each configured per-person token to its subject, beside the shared token."""
    alice, bob = "alice-" + uuid.uuid4().hex, "bob-" + uuid.uuid4().hex
    tokens = {alice: {"subject": "alice", "roles": ["approver"]}, bob: {"subject": "bob"}}
    server_settings = make_settings(grpc_token=TOKEN, grpc_tokens=tokens)
    target = await serve(server_settings)
    seen = []
    for token in (alice, bob, TOKEN):
        reply = await get_request(target, make_settings(grpc_token=token))
        seen.append(reply.submitted_by)
    assert seen == ["alice", "bob", "shared-token"]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await get_request(target, make_settings(grpc_token="carol-" + uuid.uuid4().hex))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert alice not in repr(server_settings)  # tokens never end up in logs of the settings


async def test_streaming_call_is_guarded_too(serve: Any) -> None:
    """It guards server-streaming methods the same way as unary ones."""
    settings = make_settings(grpc_token=TOKEN)
    target = await serve(settings)
    async with open_channel(target, make_settings(grpc_auth="off")) as channel:
        call = router_pb2_grpc.RouterServiceStub(channel).WatchRun(router_pb2.WatchRunRequest(run_id="x"))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            _ = [update async for update in call]
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    async with open_channel(target, settings) as channel:
        call = router_pb2_grpc.RouterServiceStub(channel).WatchRun(router_pb2.WatchRunRequest(run_id="x"))
        states = [update.run.state async for update in call]
    assert states == [router_pb2.RUN_STATE_GENERATING, router_pb2.RUN_STATE_STARTED]


async def test_health_and_reflection_need_no_token(serve: Any) -> None:
    """It answers health checks and reflection without a token even when one is configured."""
    target = await serve(make_settings(grpc_token=TOKEN))
    anonymous = make_settings(grpc_auth="off")
    assert await check_health(target, anonymous)
    assert await check_health(target, anonymous, INGEST)
    assert INGEST in await list_services(target, anonymous)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl CLI is needed to make a test certificate")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "server.pem", directory / "server.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-nodes", "-days", "1",
            "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-keyout", str(key), "-out", str(cert),
            "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_tls_round_trip(serve: Any, tls_files: tuple[Path, Path]) -> None:
    """It serves TLS with the configured cert and key, and open_channel trusts that cert."""
    cert, key = tls_files
    settings = make_settings(grpc_tls_cert=cert, grpc_tls_key=key, grpc_token=TOKEN)
    target = await serve(settings)
    reply = await get_request(target, settings)
    assert reply.submitted_by == "shared-token"
    assert await check_health(target, settings, INGEST)
    assert not await check_health(target, make_settings(), timeout=1.0)  # plaintext cannot talk to it


def test_missing_tls_file_names_the_setting(tmp_path: Path, tls_files: tuple[Path, Path]) -> None:
    """It refuses to build a server whose TLS file is missing, naming the setting."""
    cert, key = tls_files
    missing = tmp_path / "nope.pem"
    with pytest.raises(GrpcConfigError, match=r"STREAMWRIGHT_GRPC_TLS_CERT \(grpc_tls_cert\).*nope\.pem"):
        create_server([], settings=make_settings(grpc_tls_cert=missing, grpc_tls_key=key), service_names=[])
    with pytest.raises(GrpcConfigError, match="STREAMWRIGHT_GRPC_TLS_KEY"):
        create_server([], settings=make_settings(grpc_tls_cert=cert, grpc_tls_key=missing), service_names=[])
    with pytest.raises(GrpcConfigError, match=r"STREAMWRIGHT_GRPC_TLS_KEY .* is not set"):
        create_server([], settings=make_settings(grpc_tls_cert=cert), service_names=[])


def test_unknown_service_name_is_refused() -> None:
    """It refuses a service name no generated module defines (health and reflection would lie)."""
    with pytest.raises(GrpcConfigError, match="IngestServce"):
        create_server([], settings=make_settings(), service_names=["streamwright.v1.IngestServce"])


async def test_serve_until_stopped_stops_gracefully() -> None:
    """It serves until the stop event is set, then stops, and the port no longer answers."""
    settings = make_settings()
    server, port = create_server(registrations(), settings=settings, service_names=[INGEST])
    stop = asyncio.Event()
    serving = asyncio.create_task(serve_until_stopped(server, grace=0.1, stop=stop))
    target = f"127.0.0.1:{port}"
    for _ in range(50):
        if await check_health(target, settings, INGEST, timeout=0.2):
            break
        await asyncio.sleep(0.02)
    else:
        pytest.fail("server never became healthy")
    stop.set()
    await asyncio.wait_for(serving, timeout=5)
    assert not await check_health(target, settings, timeout=0.5)


async def test_stop_server_reports_not_serving_to_watchers() -> None:
    """It tells health watchers NOT_SERVING when a graceful stop begins."""
    settings = make_settings()
    server, port = create_server(registrations(), settings=settings, service_names=[INGEST])
    await server.start()
    async with open_channel(f"127.0.0.1:{port}", settings) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=INGEST))
        first = await watch.read()
        assert first.status == health_pb2.HealthCheckResponse.SERVING
        stopping = asyncio.create_task(stop_server(server, grace=0.5))
        second = await asyncio.wait_for(watch.read(), timeout=5)
        assert second.status == health_pb2.HealthCheckResponse.NOT_SERVING
        watch.cancel()
        await stopping


async def test_busy_port_is_an_error() -> None:
    """It refuses to share a port another server holds, instead of silently load-balancing with it."""
    settings = make_settings()
    server, port = create_server([], settings=settings, service_names=[])
    try:
        with pytest.raises(GrpcConfigError, match=f"cannot bind gRPC to 127.0.0.1:{port}"):
            create_server([], settings=settings, port=port, service_names=[])
    finally:
        await server.stop(None)
