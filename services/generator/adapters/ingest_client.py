"""DocumentChecker over the ingest service's CheckDocument RPC (the generator never parses markdown)."""

from __future__ import annotations

import grpc

from services.mesh.grpc_client import open_channel
from services.mesh.rpc.streamwright.v1 import ingest_pb2, ingest_pb2_grpc
from services.mesh.service import peer_target
from services.mesh.settings import MeshSettings


class IngestUnavailable(Exception):
    """The ingest service could not be asked."""


class IngestDocumentChecker:
    def __init__(self, settings: MeshSettings, *, target: str | None = None, timeout: float = 10.0) -> None:
        self._target = target or peer_target("ingest", settings)
        self._settings = settings
        self._timeout = timeout

    async def check(self, document: str) -> tuple[str | None, list[dict[str, object]]]:
        async with open_channel(self._target, self._settings) as channel:
            stub = ingest_pb2_grpc.IngestServiceStub(channel)  # type: ignore[no-untyped-call]
            try:
                answer: ingest_pb2.CheckDocumentResponse = await stub.CheckDocument(
                    ingest_pb2.CheckDocumentRequest(document=document), timeout=self._timeout
                )
            except grpc.aio.AioRpcError as exc:
                raise IngestUnavailable(
                    f"ingest at {self._target}: {exc.code().name} {exc.details()}"
                ) from exc
        if answer.valid:
            return answer.spec_json, []
        errors: list[dict[str, object]] = [
            {
                "code": e.code,
                "message": e.message,
                "block": e.block,
                "line": e.line,
                "name": e.name,
                "hint": e.hint,
            }
            for e in answer.errors
        ]
        return None, errors
