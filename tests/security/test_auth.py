"""Auth on by default (issue #16 item 1), through a real gRPC server with the router's API.

The probe that opened the issue: with default settings anyone on the machine approved a run with
a Critical finding (score 56) under any reviewer name, and a caller with a token could cancel
other people's runs. Now every call needs a token (the installation's, in <home>/grpc-token,
0600, unless STREAMWRIGHT_GRPC_AUTH=off), approve/reject/stop/rollback need the approver role,
cancel needs the submitter or an approver, and the reviewer recorded is the token's subject.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from services.mesh.auth import installation_token, token_file
from services.mesh.entrypoints.ops_cli import check_auth
from services.mesh.grpc_client import open_channel
from services.mesh.grpc_server import GrpcConfigError, create_server, stop_server
from services.mesh.rpc.streamwright.v1 import router_pb2, router_pb2_grpc
from services.mesh.settings import MeshSettings
from services.router.entrypoints.grpc_api import RouterApi
from services.router.handlers import RouterHandlers
from services.router.ports import Deployer
from tests.fakes import FakeDeployer
from tests.unit.router.router_events import RunEvents, make_handlers, write_artifacts

pytestmark = pytest.mark.timeout(60)

ROUTER = router_pb2.DESCRIPTOR.services_by_name["RouterService"].full_name
MALLORY, CAROL = "mallory-" + uuid.uuid4().hex, "carol-" + uuid.uuid4().hex


@dataclass
class Router:
    target: str
    settings: MeshSettings  # the server's: the owner's home, with the installation token
    handlers: RouterHandlers
    tmp: Path

    async def call(self, method: str, request: Any, client: MeshSettings | None = None) -> Any:
        async with open_channel(self.target, client or self.settings) as channel:
            return await getattr(router_pb2_grpc.RouterServiceStub(channel), method)(request, timeout=10)

    async def refused(self, method: str, request: Any, client: MeshSettings) -> grpc.aio.AioRpcError:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await self.call(method, request, client)
        return caught.value

    def as_person(self, token: str) -> MeshSettings:
        """A client of another home (no installation token there) sending a personal token."""
        return MeshSettings(home=self.tmp / "elsewhere", grpc_token=token)


@pytest.fixture
async def router(tmp_path: Path) -> AsyncIterator[Router]:
    settings = MeshSettings(
        home=tmp_path,
        grpc_tokens={MALLORY: {"subject": "mallory"}, CAROL: {"subject": "carol"}},
    )
    deployer: Deployer = FakeDeployer()
    handlers = make_handlers(tmp_path, deployer)
    server, port = create_server(
        [(router_pb2_grpc.add_RouterServiceServicer_to_server, RouterApi(handlers))],
        settings=settings,
        port=0,
        service_names=[ROUTER],
    )
    await server.start()
    try:
        yield Router(f"127.0.0.1:{port}", settings, handlers, tmp_path)
    finally:
        await stop_server(server, 0)


async def in_review(router: Router, submitted_by: str = "carol") -> str:
    """A run of carol's with a Critical finding (score 56), waiting for a reviewer."""
    run = RunEvents("orders")
    artifacts = write_artifacts(router.tmp / f"art-{run.run_id}", "orders")
    for event in (
        run.submitted(submitted_by=submitted_by),
        run.accepted(),
        run.generated(1, str(artifacts)),
        run.scored(1, score=56, critical=1, codes=("accuracy.oracle_rows",)),
    ):
        await router.handlers.on_event(event)
    assert (await router.handlers.get(run.run_id)).state.value == "IN_REVIEW"
    return run.run_id


def approve(run_id: str, reviewer: str | None = None) -> router_pb2.ReviewRequest:
    request = router_pb2.ReviewRequest(run_id=run_id, decision=router_pb2.REVIEW_DECISION_APPROVE)
    if reviewer is not None:
        request.reviewer = reviewer
    return request


async def test_review_without_a_token_is_refused_by_default(router: Router) -> None:
    """Default settings: a Review without a token (any reviewer name) is UNAUTHENTICATED; the run waits."""
    run_id = await in_review(router)
    anonymous = MeshSettings(home=router.tmp / "elsewhere", grpc_auth="off")  # sends no token
    refused = await router.refused("Review", approve(run_id, reviewer="owner"), anonymous)
    assert refused.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "missing credentials" in (refused.details() or "")
    stranger = MeshSettings(home=router.tmp / "elsewhere")  # another installation's token
    assert (
        await router.refused("Review", approve(run_id), stranger)
    ).code() == grpc.StatusCode.UNAUTHENTICATED
    assert (await router.handlers.get(run_id)).state.value == "IN_REVIEW"


async def test_the_owner_reviews_under_the_tokens_subject_only(router: Router) -> None:
    """The installation token approves; the reviewer recorded is its subject, and another name is refused."""
    run_id = await in_review(router)
    claimed = await router.refused("Review", approve(run_id, reviewer="alice"), router.settings)
    assert claimed.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "reviewer 'alice' is not the caller 'owner'" in (claimed.details() or "")
    reviewed = await router.call("Review", approve(run_id))
    assert (reviewed.state_name, reviewed.reviewer) == ("GATED", "owner")
    audit = [json.loads(line) for line in (router.tmp / "audit.jsonl").read_text().splitlines()]
    assert [(a["reviewer"], a["roles"], a["decision"]) for a in audit] == [
        ("owner", ["approver"], "approved")
    ]


async def test_a_non_approver_can_neither_review_nor_stop(router: Router) -> None:
    """A token without the approver role cannot approve, reject, stop or roll back (PERMISSION_DENIED)."""
    run_id = await in_review(router)
    mallory = router.as_person(MALLORY)
    reject = router_pb2.ReviewRequest(run_id=run_id, decision=router_pb2.REVIEW_DECISION_REJECT)
    for method, request, words in (
        ("Review", approve(run_id), "mallory may not approve runs: needs the approver role"),
        ("Review", reject, "mallory may not reject runs"),
        ("StopDomain", router_pb2.StopDomainRequest(domain="orders"), "mallory may not stop"),
        ("RollbackDomain", router_pb2.RollbackDomainRequest(domain="orders"), "mallory may not roll back"),
    ):
        refused = await router.refused(method, request, mallory)
        assert refused.code() == grpc.StatusCode.PERMISSION_DENIED, (method, refused.details())
        assert words in (refused.details() or "")
    assert (await router.handlers.get(run_id)).state.value == "IN_REVIEW"


async def test_a_non_approver_cannot_cancel_another_persons_run(router: Router) -> None:
    """Mallory cannot cancel carol's run; carol (its submitter) can."""
    run_id = await in_review(router, submitted_by="carol")
    cancel = router_pb2.CancelRunRequest(run_id=run_id, reason="mine now")
    refused = await router.refused("CancelRun", cancel, router.as_person(MALLORY))
    assert refused.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "only its submitter (carol) or an approver" in (refused.details() or "")
    assert (await router.handlers.get(run_id)).state.value == "IN_REVIEW"
    cancelled = await router.call("CancelRun", cancel, router.as_person(CAROL))
    assert cancelled.state_name == "CANCELLED" and "carol" in cancelled.reason


def test_the_installation_token_is_private_and_shared_by_one_home(tmp_path: Path) -> None:
    """It is created once, 0600, reused; a token file others can read is refused, naming the fix."""
    settings = MeshSettings(home=tmp_path)
    first = installation_token(settings)
    assert installation_token(MeshSettings(home=tmp_path)) == first and len(first) >= 40
    path = token_file(settings)
    assert path == tmp_path / "grpc-token" and path.stat().st_mode & 0o777 == 0o600
    path.chmod(0o644)
    with pytest.raises(GrpcConfigError, match=r"can be read by others .* chmod 600"):
        create_server([], settings=settings, port=0, service_names=[])
    check = check_auth(settings)
    assert check.status == "FAIL" and "chmod 600" in check.fix


def test_doctor_warns_only_when_auth_is_turned_off(tmp_path: Path) -> None:
    """Auth off is an explicit setting and doctor says what it opens; on is OK."""
    off = check_auth(MeshSettings(home=tmp_path, grpc_auth="off"))
    assert off.status == "WARN" and "any local process can approve" in off.detail
    assert check_auth(MeshSettings(home=tmp_path)).status == "OK"
    with pytest.raises(ValueError, match="grpc_auth"):
        MeshSettings(home=tmp_path, grpc_auth="no")  # type: ignore[arg-type]


async def test_the_submitter_recorded_is_the_tokens_subject(tmp_path: Path) -> None:
    """SubmitRequest records the caller's subject; a different submitted_by is refused."""
    from services.ingest.adapters.request_store import StoreRequestRepository
    from services.ingest.entrypoints.grpc_api import SERVICE_NAME, IngestApi
    from services.ingest.handlers import IngestHandlers
    from services.mesh.rpc.streamwright.v1 import ingest_pb2, ingest_pb2_grpc
    from tests.fakes import MemoryStore, RecordingPublisher

    requests = StoreRequestRepository(MemoryStore())  # type: ignore[arg-type]
    publisher = RecordingPublisher()
    handlers = IngestHandlers(requests=requests, publisher=publisher)  # type: ignore[arg-type]
    settings = MeshSettings(home=tmp_path, grpc_tokens={CAROL: {"subject": "carol"}})
    server, port = create_server(
        [(ingest_pb2_grpc.add_IngestServiceServicer_to_server, IngestApi(handlers, requests))],
        settings=settings,
        port=0,
        service_names=[SERVICE_NAME],
    )
    await server.start()
    carol = MeshSettings(home=tmp_path / "elsewhere", grpc_token=CAROL)
    document = (
        Path(__file__).resolve().parents[1] / "fixtures" / "requests" / "orders-request-v3.md"
    ).read_text()
    try:
        async with open_channel(f"127.0.0.1:{port}", carol) as channel:
            stub = ingest_pb2_grpc.IngestServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.SubmitRequest(
                    ingest_pb2.SubmitRequestRequest(document=document, submitted_by="alice"), timeout=30
                )
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "submitted_by 'alice' is not the caller 'carol'" in (caught.value.details() or "")
            reply = await stub.SubmitRequest(ingest_pb2.SubmitRequestRequest(document=document), timeout=30)
            stored = await stub.GetRequest(
                ingest_pb2.GetRequestRequest(request_id=reply.request_id), timeout=10
            )
        assert stored.submitted_by == "carol"
    finally:
        await stop_server(server, 0)
