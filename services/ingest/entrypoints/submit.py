"""`streamwright submit FILE`: hand a document to the running mesh over gRPC; print the run id."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc

from services.ingest.domain.check_cases import MAX_CASES_BYTES
from services.mesh.grpc_client import open_channel
from services.mesh.rpc.streamwright.v1 import ingest_pb2, ingest_pb2_grpc
from services.mesh.service import peer_target
from services.mesh.settings import MeshSettings


class SubmitError(Exception):
    """The mesh could not take the submission; the message says why and what to do."""


async def submit_document(
    document: str,
    *,
    settings: MeshSettings,
    file_name: str | None,
    cases_yaml: str | None,
    idempotency_key: str | None,
    rpc_timeout: float = 10.0,
) -> ingest_pb2.SubmitRequestResponse:
    if cases_yaml is not None and len(cases_yaml.encode("utf-8", "surrogatepass")) > MAX_CASES_BYTES:
        # the service refuses it too; a message over gRPC's 4 MB would fail less clearly
        raise SubmitError(f"the cases file is too large (more than {MAX_CASES_BYTES} bytes)")
    target = peer_target("ingest", settings)
    request = ingest_pb2.SubmitRequestRequest(document=document)
    if file_name is not None:
        request.file_name = file_name
    if cases_yaml is not None:
        request.cases_yaml = cases_yaml
    if idempotency_key is not None:
        request.idempotency_key = idempotency_key
    async with open_channel(target, settings) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)  # type: ignore[no-untyped-call]
        try:
            response: ingest_pb2.SubmitRequestResponse = await stub.SubmitRequest(
                request, timeout=rpc_timeout
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise SubmitError(
                    f"the ingest service is not reachable at {target} ({exc.code().name}); "
                    "start the mesh with `streamwright up`"
                ) from exc
            raise SubmitError(f"the ingest service refused the submission: {exc.details()}") from exc
    return response


def read_text(path: Path, what: str) -> str:
    """A UTF-8 file's text, or SubmitError naming the file and the problem."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SubmitError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SubmitError(f"{what} {path} is not UTF-8 text (binary?) at byte {exc.start}") from exc


def run_submit(
    path: Path, *, cases: Path | None, idempotency_key: str | None, settings: MeshSettings
) -> ingest_pb2.SubmitRequestResponse:
    document = read_text(path, "request document")
    cases_yaml = read_text(cases, "cases file") if cases is not None else None
    return asyncio.run(
        submit_document(
            document,
            settings=settings,
            file_name=path.name,
            cases_yaml=cases_yaml,
            idempotency_key=idempotency_key,
        )
    )
