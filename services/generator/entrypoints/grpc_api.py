"""GeneratorService over gRPC."""

from __future__ import annotations

import grpc

from services.generator.adapters.ingest_client import IngestUnavailable
from services.generator.domain.lower import CompileError
from services.generator.domain.target import UnknownTargetError
from services.generator.handlers import GeneratorHandlers
from services.generator.ports import ArtifactRepository, DocumentChecker
from services.mesh.rpc.streamwright.v1 import common_pb2, generator_pb2, generator_pb2_grpc

SERVICE_NAME = generator_pb2.DESCRIPTOR.services_by_name["GeneratorService"].full_name
MAX_INPUT_BYTES = 4 * 1_048_576


def _issue(doc: dict[str, object]) -> common_pb2.Issue:
    issue = common_pb2.Issue(
        code=str(doc.get("code") or "request.invalid"),
        severity=common_pb2.SEVERITY_CRITICAL,
        message=str(doc.get("message") or ""),
    )
    for name in ("block", "name", "hint"):
        if doc.get(name):
            setattr(issue, name, str(doc[name]))
    line = doc.get("line")
    if isinstance(line, int) and line > 0:
        issue.line = line
    return issue


class GeneratorApi(generator_pb2_grpc.GeneratorServiceServicer):
    def __init__(
        self, handlers: GeneratorHandlers, artifacts: ArtifactRepository, checker: DocumentChecker
    ) -> None:
        self._handlers = handlers
        self._artifacts = artifacts
        self._checker = checker

    async def GetArtifacts(
        self, request: generator_pb2.GetArtifactsRequest, context: grpc.aio.ServicerContext
    ) -> generator_pb2.GetArtifactsResponse:
        if not request.run_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "run_id is required")
        wanted = request.attempt if request.HasField("attempt") else None
        found = await self._artifacts.attempt(request.run_id, wanted)
        if found is None:
            what = f"attempt {wanted} of run" if wanted is not None else "artifacts for run"
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no {what} {request.run_id!r}")
        assert found is not None
        if not found.ok:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION, f"attempt {found.attempt} failed: {found.reason}"
            )
        artifacts = []
        for stored in found.artifacts:
            item = generator_pb2.Artifact(
                path=stored.path,
                sha256=stored.sha256,
                media_type=stored.media_type,
                size_bytes=stored.size_bytes,
            )
            if request.include_content:
                item.content = await self._artifacts.read_file(found, stored.path)
            artifacts.append(item)
        return generator_pb2.GetArtifactsResponse(
            run_id=found.run_id, attempt=found.attempt, artifacts=artifacts
        )

    async def Compile(
        self, request: generator_pb2.CompileRequest, context: grpc.aio.ServicerContext
    ) -> generator_pb2.CompileResponse:
        which = request.WhichOneof("input")
        if which is None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "send a document or a spec_json")
        text = request.document if which == "document" else request.spec_json
        if len(text.encode("utf-8", "surrogatepass")) > MAX_INPUT_BYTES:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{which} is too large")
        spec_json: str | None = request.spec_json
        if which == "document":
            try:
                spec_json, errors = await self._checker.check(request.document)
            except IngestUnavailable as exc:
                await context.abort(grpc.StatusCode.UNAVAILABLE, f"cannot check the document: {exc}")
                raise  # unreachable: abort raises
            if spec_json is None:
                return generator_pb2.CompileResponse(sql="", issues=[_issue(e) for e in errors])
        assert spec_json is not None
        target = request.target_flink if request.HasField("target_flink") else None
        try:
            sql = await self._handlers.compile_spec(spec_json, target)
        except UnknownTargetError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            raise
        except (CompileError, ValueError) as exc:
            problem: dict[str, object] = {
                "code": "compile.failed",
                "message": str(exc).splitlines()[0][:2000],
            }
            return generator_pb2.CompileResponse(sql="", issues=[_issue(problem)])
        return generator_pb2.CompileResponse(sql=sql)
