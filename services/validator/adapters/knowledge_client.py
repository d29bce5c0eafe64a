"""ER conflicts from the knowledge service (gRPC CheckConflicts).

An unreachable or failing knowledge service is not an error for the validator: the answer is
`KnowledgeFacts(available=False, note=...)`, the report says so and the score is provisional.
"""

from __future__ import annotations

import grpc

from services.mesh.grpc_client import open_channel
from services.mesh.rpc.streamwright.v1 import common_pb2, knowledge_pb2, knowledge_pb2_grpc
from services.mesh.service import peer_target
from services.mesh.settings import MeshSettings
from services.validator.domain.model import Conflict, KnowledgeFacts

_SEVERITY = {
    common_pb2.SEVERITY_CRITICAL: "critical",
    common_pb2.SEVERITY_WARNING: "warning",
    common_pb2.SEVERITY_INFO: "info",
}


def default_target(settings: MeshSettings) -> str:
    return peer_target("knowledge", settings)


class KnowledgeClient:
    def __init__(self, settings: MeshSettings, *, target: str | None = None, timeout: float = 5.0) -> None:
        self._settings = settings
        self.target = target or default_target(settings)
        self._timeout = timeout

    async def check_conflicts(self, domain: str, spec_json: str) -> KnowledgeFacts:
        try:
            async with open_channel(self.target, self._settings) as channel:
                stub = knowledge_pb2_grpc.KnowledgeServiceStub(channel)  # type: ignore[no-untyped-call]
                answer: knowledge_pb2.CheckConflictsResponse = await stub.CheckConflicts(
                    knowledge_pb2.CheckConflictsRequest(domain=domain, spec_json=spec_json),
                    timeout=self._timeout,
                )
        except grpc.aio.AioRpcError as exc:
            return KnowledgeFacts(
                available=False,
                note=f"knowledge at {self.target}: {exc.code().name} {exc.details() or ''}".strip(),
            )
        except (OSError, ValueError) as exc:
            return KnowledgeFacts(available=False, note=f"knowledge at {self.target}: {exc}")
        return KnowledgeFacts(
            available=True,
            compatible=answer.compatible,
            conflicts=tuple(
                Conflict(
                    kind=c.kind,
                    severity=_SEVERITY.get(c.severity, "warning"),
                    table=c.table,
                    column=c.column if c.HasField("column") else None,
                    detail=c.detail,
                )
                for c in answer.conflicts
            ),
        )
