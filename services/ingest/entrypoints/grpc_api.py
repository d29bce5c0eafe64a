"""IngestService over gRPC: translates messages to use-case calls and records to messages."""

from __future__ import annotations

from typing import Any

import grpc

from services.ingest.domain.check_cases import MAX_CASES_BYTES
from services.ingest.domain.intake import RequestRecord, RequestState
from services.ingest.handlers import IngestHandlers
from services.ingest.ports import RequestRepository
from services.mesh.events import Source
from services.mesh.grpc_server import current_identity
from services.mesh.paging import offset_from_token, token_for_offset
from services.mesh.rpc.streamwright.v1 import common_pb2, ingest_pb2, ingest_pb2_grpc

SERVICE_NAME = ingest_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name
MAX_DOCUMENT_BYTES = 1_048_576  # request-format §6; the checker says so too, but refuse early here
DEFAULT_PAGE, MAX_PAGE = 50, 500
# A request error stops the document; the proto's scale has no "error", so it is Critical.
_SEVERITY = {
    "critical": common_pb2.SEVERITY_CRITICAL,
    "error": common_pb2.SEVERITY_CRITICAL,
    "warning": common_pb2.SEVERITY_WARNING,
    "info": common_pb2.SEVERITY_INFO,
}
_STATES: tuple[RequestState, ...] = ("PENDING", "ACCEPTED", "REJECTED")


def _state_from_pb(value: int) -> RequestState | None:
    try:
        name = ingest_pb2.RequestState.Name(value).removeprefix("REQUEST_STATE_")
    except ValueError:  # a number this server does not know: no filter rather than no answer
        return None
    return next((s for s in _STATES if s == name), None)


def _issue(doc: dict[str, Any]) -> common_pb2.Issue:
    issue = common_pb2.Issue(
        code=str(doc.get("code", "")),
        severity=_SEVERITY.get(str(doc.get("severity")), common_pb2.SEVERITY_UNSPECIFIED),
        message=str(doc.get("message", "")),
    )
    for name in ("block", "name", "hint"):
        if doc.get(name) is not None:
            setattr(issue, name, str(doc[name]))
    if doc.get("line") is not None:
        issue.line = int(doc["line"])
    return issue


def to_message(record: RequestRecord) -> ingest_pb2.Request:
    message = ingest_pb2.Request(
        request_id=record.request_id,
        domain=record.domain,
        revision=record.revision or 0,
        state=f"REQUEST_STATE_{record.state}",
        content_hash=record.content_hash or "",
        spec_json=record.spec_json or "",
        errors=[_issue(e) for e in record.errors],
        warnings=[_issue(w) for w in record.warnings],
        run_id=record.run_id,
    )
    message.submitted_at.FromDatetime(record.submitted_at)
    if record.submitted_by is not None:
        message.submitted_by = record.submitted_by
    if record.file_name is not None:
        message.file_name = record.file_name
    return message


class IngestApi(ingest_pb2_grpc.IngestServiceServicer):
    def __init__(self, handlers: IngestHandlers, requests: RequestRepository) -> None:
        self._handlers = handlers
        self._requests = requests

    async def SubmitRequest(
        self, request: ingest_pb2.SubmitRequestRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.SubmitRequestResponse:
        if not request.document.strip():
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "document is empty")
        if len(request.document.encode("utf-8", "surrogatepass")) > MAX_DOCUMENT_BYTES:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "document is too large (limit 1 MiB)")
        if (
            request.HasField("cases_yaml")
            and len(request.cases_yaml.encode("utf-8", "surrogatepass")) > MAX_CASES_BYTES
        ):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "cases_yaml is too large (limit 1 MiB)")
        if request.HasField("idempotency_key") and not 0 < len(request.idempotency_key) <= 256:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "idempotency_key must be 1-256 characters")
        submitted_by = request.submitted_by.strip() if request.HasField("submitted_by") else None
        caller = current_identity()
        if caller is not None:  # with auth on, the submitter is the token's subject
            if submitted_by and submitted_by != caller.subject:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"submitted_by {submitted_by!r} is not the caller {caller.subject!r}: with auth on, "
                    "the submitter is the token's subject (leave submitted_by unset)",
                )
            submitted_by = caller.subject
        submission = await self._handlers.submit(
            document=request.document,
            source=Source.GRPC,
            file_name=request.file_name if request.HasField("file_name") else None,
            cases_yaml=request.cases_yaml if request.HasField("cases_yaml") else None,
            idempotency_key=request.idempotency_key if request.HasField("idempotency_key") else None,
            submitted_by=submitted_by or None,
        )
        return ingest_pb2.SubmitRequestResponse(
            request_id=submission.request_id, run_id=submission.run_id, duplicate=submission.duplicate
        )

    async def GetRequest(
        self, request: ingest_pb2.GetRequestRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.Request:
        if not request.request_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "request_id is required")
        record = await self._requests.get(request.request_id)
        if record is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no request {request.request_id!r}")
        assert record is not None
        return to_message(record)

    async def ListRequests(
        self, request: ingest_pb2.ListRequestsRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.ListRequestsResponse:
        if request.page_size < 0:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "page_size must not be negative")
        try:
            offset = offset_from_token(request.page_token)
        except ValueError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            raise  # unreachable: abort raises
        size = min(request.page_size or DEFAULT_PAGE, MAX_PAGE)
        state = _state_from_pb(request.state) if request.HasField("state") else None
        records = await self._requests.list(
            domain=request.domain if request.HasField("domain") else None,
            state=state,
            limit=size + 1,
            offset=offset,
        )
        return ingest_pb2.ListRequestsResponse(
            requests=[to_message(r) for r in records[:size]],
            next_page_token=token_for_offset(offset + size) if len(records) > size else "",
        )

    async def CheckDocument(
        self, request: ingest_pb2.CheckDocumentRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.CheckDocumentResponse:
        # Size, emptiness and everything else are the checker's to report, as errors. The check
        # runs on a checker thread within the budget: a slow document never stalls this server.
        result = await self._handlers.check(
            request.document, cases_text=request.cases_yaml if request.HasField("cases_yaml") else None
        )
        return ingest_pb2.CheckDocumentResponse(
            valid=result.valid,
            spec_json=result.spec.to_json() if result.spec is not None and result.valid else "",
            errors=[_issue(e.model_dump(mode="json")) for e in result.errors],
            warnings=[_issue(w.model_dump(mode="json")) for w in result.warnings],
        )
