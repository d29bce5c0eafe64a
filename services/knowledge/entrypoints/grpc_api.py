"""KnowledgeService over gRPC: translates messages to knowledge-base calls and records to messages."""

from __future__ import annotations

import base64
from typing import NoReturn

import grpc
from pydantic import ValidationError

from services.flinksql.spec import RequestSpec
from services.knowledge.domain.conflicts import Mode
from services.knowledge.domain.model import Change, KbRelationship, KbTable, build_model
from services.knowledge.domain.versions import VersionRecord
from services.knowledge.knowledge_base import GLOBAL, KnowledgeBase
from services.mesh.rpc.streamwright.v1 import common_pb2, knowledge_pb2, knowledge_pb2_grpc

SERVICE_NAME = knowledge_pb2.DESCRIPTOR.services_by_name["KnowledgeService"].full_name
DEFAULT_PAGE, MAX_PAGE = 50, 500
MAX_SEARCH = 100
_SEVERITY = {
    "critical": common_pb2.SEVERITY_CRITICAL,
    "warning": common_pb2.SEVERITY_WARNING,
    "info": common_pb2.SEVERITY_INFO,
}
_ROLE = {
    "source": knowledge_pb2.TABLE_ROLE_SOURCE,
    "dimension": knowledge_pb2.TABLE_ROLE_DIMENSION,
    "result": knowledge_pb2.TABLE_ROLE_RESULT,
}
_CARDINALITY_LEFT = {"zero_or_one": "|o", "exactly_one": "||", "zero_or_more": "}o", "one_or_more": "}|"}
_CARDINALITY_RIGHT = {"zero_or_one": "o|", "exactly_one": "||", "zero_or_more": "o{", "one_or_more": "|{"}


def mode_from_pb(value: int) -> Mode | None:
    """None for UNSPECIFIED (the configured default applies); ValueError for unknown numbers."""
    name = knowledge_pb2.CompatibilityMode.Name(value).removeprefix("COMPATIBILITY_MODE_")
    return None if name == "UNSPECIFIED" else Mode(name)


def mode_to_pb(mode: Mode) -> str:
    """The enum value's name, which protobuf accepts wherever the enum is expected."""
    return f"COMPATIBILITY_MODE_{mode.value}"


def table_message(table: KbTable, domain: str, version: int) -> knowledge_pb2.Table:
    message = knowledge_pb2.Table(
        name=table.name, domain=domain, role=_ROLE[table.role], version=version, options=table.options
    )
    for column in table.columns:
        col = message.columns.add(
            name=column.name, type=column.type, nullable=column.nullable, primary_key=column.primary_key
        )
        if column.comment is not None:
            col.comment = column.comment
    if table.comment is not None:
        message.comment = table.comment
    return message


def relationship_message(rel: KbRelationship) -> knowledge_pb2.Relationship:
    message = knowledge_pb2.Relationship(
        from_table=rel.from_table,
        from_columns=list(rel.from_columns),
        to_table=rel.to_table,
        to_columns=list(rel.to_columns),
        cardinality=f"{_CARDINALITY_LEFT[rel.from_cardinality]}--{_CARDINALITY_RIGHT[rel.to_cardinality]}",
    )
    if rel.label is not None:
        message.label = rel.label
    return message


def conflict_message(change: Change) -> knowledge_pb2.Conflict:
    message = knowledge_pb2.Conflict(
        kind=change.kind, severity=_SEVERITY[change.severity], table=change.table, detail=change.detail
    )
    if change.column is not None:
        message.column = change.column
    return message


def domain_message(record: VersionRecord) -> knowledge_pb2.Domain:
    message = knowledge_pb2.Domain(
        name=record.domain,
        version=record.version,
        tables=[table_message(t, record.domain, record.version) for t in record.model.tables],
        relationships=[relationship_message(r) for r in record.model.relationships],
    )
    message.updated_at.FromDatetime(record.created_at)
    return message


def _offset(token: str) -> int:
    if not token:
        return 0
    try:
        value = int(base64.urlsafe_b64decode(token.encode()).decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("page_token is not one this server issued") from exc
    if value < 0:
        raise ValueError("page_token is not one this server issued")
    return value


async def _abort(context: grpc.aio.ServicerContext, code: grpc.StatusCode, message: str) -> NoReturn:
    await context.abort(code, message)
    raise AssertionError("unreachable: abort raises")


class KnowledgeApi(knowledge_pb2_grpc.KnowledgeServiceServicer):
    def __init__(self, kb: KnowledgeBase, *, search_limit: int = 10) -> None:
        self._kb = kb
        self._search_limit = search_limit

    async def _record(
        self, context: grpc.aio.ServicerContext, domain: str, version: int | None
    ) -> VersionRecord:
        if not domain:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "domain is required")
        record = await self._kb.record(domain, version)
        if record is None:
            what = f"version {version} of domain {domain!r}" if version is not None else f"domain {domain!r}"
            await _abort(context, grpc.StatusCode.NOT_FOUND, f"the knowledge base has no {what}")
        return record

    async def GetDomain(
        self, request: knowledge_pb2.GetDomainRequest, context: grpc.aio.ServicerContext
    ) -> knowledge_pb2.Domain:
        version = request.version if request.HasField("version") else None
        return domain_message(await self._record(context, request.domain, version))

    async def GetTable(
        self, request: knowledge_pb2.GetTableRequest, context: grpc.aio.ServicerContext
    ) -> knowledge_pb2.Table:
        if not request.table:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "table is required")
        if request.HasField("domain") and request.domain != GLOBAL:
            version = request.version if request.HasField("version") else None
            record = await self._record(context, request.domain, version)
            table = record.model.table(request.table)
            if table is not None:
                return table_message(table, record.domain, record.version)
        else:
            for domain, model in sorted((await self._kb.current_models()).items()):
                if (table := model.table(request.table)) is not None:
                    found = await self._kb.record(domain)
                    return table_message(table, domain, found.version if found else 0)
        await _abort(context, grpc.StatusCode.NOT_FOUND, f"no table {request.table!r} in the knowledge base")

    async def CheckConflicts(
        self, request: knowledge_pb2.CheckConflictsRequest, context: grpc.aio.ServicerContext
    ) -> knowledge_pb2.CheckConflictsResponse:
        try:
            spec = RequestSpec.model_validate_json(request.spec_json)
        except ValidationError as error:
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"spec_json is not a request spec: {error.errors()[0]['msg']}",
            )
        if request.domain and request.domain != spec.job.domain:
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"domain {request.domain!r} differs from the spec's domain {spec.job.domain!r}",
            )
        try:
            mode = mode_from_pb(request.mode) if request.HasField("mode") else None
        except ValueError:
            await _abort(
                context, grpc.StatusCode.INVALID_ARGUMENT, f"unknown compatibility mode {request.mode}"
            )
        result = await self._kb.check(build_model(spec), mode)
        return knowledge_pb2.CheckConflictsResponse(
            conflicts=[conflict_message(c) for c in result.changes],
            compatible=result.compatible,
            mode=mode_to_pb(result.mode),
        )

    async def SearchSchemas(
        self, request: knowledge_pb2.SearchSchemasRequest, context: grpc.aio.ServicerContext
    ) -> knowledge_pb2.SearchSchemasResponse:
        if not request.query.strip():
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "query is required")
        if request.limit < 0:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "limit must not be negative")
        limit = min(request.limit or self._search_limit, MAX_SEARCH)
        domain = request.domain if request.HasField("domain") else None
        hits = await self._kb.search(request.query, limit=limit, domain=domain)
        response = knowledge_pb2.SearchSchemasResponse()
        for hit in hits:
            message = response.hits.add(table=hit.table, domain=hit.domain, score=hit.score)
            if hit.column is not None:
                message.column = hit.column
        return response

    async def GetDiagram(
        self, request: knowledge_pb2.GetDiagramRequest, context: grpc.aio.ServicerContext
    ) -> knowledge_pb2.Diagram:
        if not request.domain:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, 'domain is required (or "global")')
        found = await self._kb.diagram(
            request.domain, request.version if request.HasField("version") else None
        )
        if found is None:
            await _abort(
                context, grpc.StatusCode.NOT_FOUND, f"the knowledge base has no domain {request.domain!r}"
            )
        return knowledge_pb2.Diagram(domain=request.domain, version=found[0], mermaid=found[1])

    async def ListVersions(
        self, request: knowledge_pb2.ListVersionsRequest, context: grpc.aio.ServicerContext
    ) -> knowledge_pb2.ListVersionsResponse:
        if not request.domain:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "domain is required")
        if request.page_size < 0:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "page_size must not be negative")
        try:
            offset = _offset(request.page_token)
        except ValueError as exc:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        size = min(request.page_size or DEFAULT_PAGE, MAX_PAGE)
        head, _ = await self._kb.repo.head(request.domain)
        records = list(reversed(await self._kb.repo.versions(request.domain)))
        response = knowledge_pb2.ListVersionsResponse()
        for record in records[offset : offset + size]:
            item = response.versions.add(
                version=record.version,
                run_id=record.run_id or "",
                summary=record.summary,
                state=record.state,
                current=record.version == head.current,
            )
            item.created_at.FromDatetime(record.created_at)
        if len(records) > offset + size:
            response.next_page_token = base64.urlsafe_b64encode(str(offset + size).encode()).decode()
        return response

    async def Impact(
        self, request: knowledge_pb2.ImpactRequest, context: grpc.aio.ServicerContext
    ) -> knowledge_pb2.ImpactResponse:
        if not request.table:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "table is required")
        jobs = await self._kb.impact(
            request.table,
            request.column if request.HasField("column") else None,
            request.domain if request.HasField("domain") else None,
        )
        return knowledge_pb2.ImpactResponse(
            jobs=[
                knowledge_pb2.ImpactedJob(
                    domain=j.domain, job=j.job, run_id=j.run_id or "", usage=_ROLE[j.usage]
                )
                for j in jobs
            ]
        )
