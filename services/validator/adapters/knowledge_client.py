"""ER conflicts from the knowledge service (gRPC CheckConflicts).

An unreachable or failing knowledge service is not an error for the validator: the answer is
`KnowledgeFacts(available=False, note=...)`, the report says so and the score is provisional.

A provisional score sends the run to review, so a knowledge service that is only restarting
must not cause one: with `unavailable_wait_s`, an UNAVAILABLE answer (nothing listens: the
process is down) is retried until that many seconds have passed. The mesh's validator waits
(ValidatorSettings.validator_knowledge_wait_s); a one-off check (the validate CLI) does not.
"""

from __future__ import annotations

import asyncio
import time

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
    def __init__(
        self,
        settings: MeshSettings,
        *,
        target: str | None = None,
        timeout: float = 5.0,
        unavailable_wait_s: float = 0.0,
        retry_interval_s: float = 1.0,
    ) -> None:
        self._settings = settings
        self.target = target or default_target(settings)
        self._timeout = timeout
        self._unavailable_wait_s = unavailable_wait_s
        self._retry_interval_s = retry_interval_s

    async def check_conflicts(self, domain: str, spec_json: str) -> KnowledgeFacts:
        deadline = time.monotonic() + self._unavailable_wait_s
        while True:
            facts, down = await self._check_once(domain, spec_json)
            # Found in the fault tests: a SIGKILLed knowledge service being restarted made every
            # validation in that window provisional, and so sent its run to review.
            if not down or time.monotonic() >= deadline:
                return facts
            await asyncio.sleep(min(self._retry_interval_s, max(0.0, deadline - time.monotonic())))

    async def _check_once(self, domain: str, spec_json: str) -> tuple[KnowledgeFacts, bool]:
        """The answer, and whether knowledge was down (UNAVAILABLE: worth asking again)."""
        try:
            async with open_channel(self.target, self._settings) as channel:
                stub = knowledge_pb2_grpc.KnowledgeServiceStub(channel)  # type: ignore[no-untyped-call]
                answer: knowledge_pb2.CheckConflictsResponse = await stub.CheckConflicts(
                    knowledge_pb2.CheckConflictsRequest(domain=domain, spec_json=spec_json),
                    timeout=self._timeout,
                )
        except grpc.aio.AioRpcError as exc:
            note = f"knowledge at {self.target}: {exc.code().name} {exc.details() or ''}".strip()
            return KnowledgeFacts(available=False, note=note), exc.code() == grpc.StatusCode.UNAVAILABLE
        except (OSError, ValueError) as exc:
            return KnowledgeFacts(available=False, note=f"knowledge at {self.target}: {exc}"), False
        facts = KnowledgeFacts(
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
        return facts, False
