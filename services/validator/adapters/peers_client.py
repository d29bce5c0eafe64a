"""The two peers ValidateSql may need: ingest (document -> spec) and the generator (spec -> SQL).

The validator never parses markdown or compiles SQL itself; both are asked over gRPC.
"""

from __future__ import annotations

import grpc

from services.mesh.grpc_client import open_channel
from services.mesh.rpc.streamwright.v1 import generator_pb2, generator_pb2_grpc, ingest_pb2, ingest_pb2_grpc
from services.mesh.service import peer_target
from services.mesh.settings import MeshSettings
from services.validator.ports import PeerError


class PeerUnavailable(PeerError):
    """A peer service could not be asked."""


class PeerRejected(PeerError, ValueError):
    """The peer answered, and refused the input (the message says why)."""


def _target(service: str, settings: MeshSettings) -> str:
    return peer_target(service, settings)


class Peers:
    def __init__(self, settings: MeshSettings, *, timeout: float = 20.0) -> None:
        self._settings = settings
        self._timeout = timeout

    async def spec_of(self, document: str) -> str:
        """The spec JSON of a valid document (PeerRejected with the errors otherwise)."""
        target = _target("ingest", self._settings)
        async with open_channel(target, self._settings) as channel:
            stub = ingest_pb2_grpc.IngestServiceStub(channel)  # type: ignore[no-untyped-call]
            try:
                answer: ingest_pb2.CheckDocumentResponse = await stub.CheckDocument(
                    ingest_pb2.CheckDocumentRequest(document=document), timeout=self._timeout
                )
            except grpc.aio.AioRpcError as exc:
                raise PeerUnavailable(f"ingest at {target}: {exc.code().name} {exc.details()}") from exc
        if not answer.valid:
            raise PeerRejected(
                "; ".join(f"{e.block or ''} line {e.line}: {e.message}" for e in answer.errors)
            )
        return str(answer.spec_json)

    async def compile(self, spec_json: str) -> str:
        target = _target("generator", self._settings)
        async with open_channel(target, self._settings) as channel:
            stub = generator_pb2_grpc.GeneratorServiceStub(channel)  # type: ignore[no-untyped-call]
            try:
                answer: generator_pb2.CompileResponse = await stub.Compile(
                    generator_pb2.CompileRequest(spec_json=spec_json), timeout=self._timeout
                )
            except grpc.aio.AioRpcError as exc:
                raise PeerUnavailable(f"generator at {target}: {exc.code().name} {exc.details()}") from exc
        if not answer.sql:
            raise PeerRejected("; ".join(i.message for i in answer.issues) or "the generator returned no SQL")
        return str(answer.sql)
