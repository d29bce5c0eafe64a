"""ValidatorService over gRPC: GetReport (stored) and ValidateSql (ad hoc, no events)."""

from __future__ import annotations

from datetime import datetime

import grpc
from pydantic import ValidationError

from services.flinksql.spec import RequestSpec
from services.mesh.rpc.streamwright.v1 import common_pb2, validator_pb2, validator_pb2_grpc
from services.validator.adapters.peers_client import PeerRejected, Peers, PeerUnavailable
from services.validator.domain.model import Report
from services.validator.domain.report import render_json, render_markdown
from services.validator.handlers import ValidationUseCase, reference_job
from services.validator.ports import ReportRepository

SERVICE_NAME = validator_pb2.DESCRIPTOR.services_by_name["ValidatorService"].full_name
MAX_INPUT_BYTES = 4 * 1_048_576

_DIMENSION = {
    "sql_standards": common_pb2.DIMENSION_SQL_STANDARDS,
    "data_accuracy": common_pb2.DIMENSION_DATA_ACCURACY,
    "performance": common_pb2.DIMENSION_PERFORMANCE,
    "business_compliance": common_pb2.DIMENSION_BUSINESS_COMPLIANCE,
}
_SEVERITY = {
    "critical": common_pb2.SEVERITY_CRITICAL,
    "warning": common_pb2.SEVERITY_WARNING,
    "info": common_pb2.SEVERITY_INFO,
}


def to_proto(report: Report, markdown: str, report_ref: str = "") -> validator_pb2.Report:
    created = validator_pb2.Report().created_at
    try:
        created.FromDatetime(datetime.fromisoformat(report.created_at))
    except ValueError:
        created.GetCurrentTime()
    findings = []
    for f in report.findings:
        item = common_pb2.Finding(
            code=f.code, severity=_SEVERITY[f.severity], dimension=_DIMENSION[f.dimension], message=f.message
        )
        if f.location:
            item.statement = f.location
        if f.line:
            item.line = f.line
        if f.suggestion:
            item.suggestion = f.suggestion
        if f.name:
            item.name = f.name
        findings.append(item)
    return validator_pb2.Report(
        run_id=report.run_id,
        attempt=report.attempt,
        score=report.score,
        dimensions=[
            validator_pb2.DimensionScore(
                dimension=_DIMENSION[d.name], score=d.score, weight=d.weight, summary=d.summary
            )
            for d in report.dimensions
        ],
        findings=findings,
        markdown=markdown,
        json=render_json(report),
        provisional=report.provisional,
        critical_count=report.count("critical"),
        warning_count=report.count("warning"),
        info_count=report.count("info"),
        created_at=created,
        rule_set_version=report.rule_set_version,
        gate_passed=report.gate_passed,
        provisional_reasons=list(report.provisional_reasons),
        report_ref=report_ref,
    )


class ValidatorApi(validator_pb2_grpc.ValidatorServiceServicer):
    def __init__(self, reports: ReportRepository, use_case: ValidationUseCase, peers: Peers) -> None:
        self._reports = reports
        self._use_case = use_case
        self._peers = peers

    async def GetReport(
        self, request: validator_pb2.GetReportRequest, context: grpc.aio.ServicerContext
    ) -> validator_pb2.Report:
        if not request.run_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "run_id is required")
        wanted = request.attempt if request.HasField("attempt") else None
        stored = await self._reports.report(request.run_id, wanted)
        if stored is None:
            what = f"attempt {wanted} of run" if wanted is not None else "report for run"
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no {what} {request.run_id!r}")
        assert stored is not None
        return to_proto(stored.report, stored.markdown, stored.report_ref)

    async def ValidateSql(
        self, request: validator_pb2.ValidateSqlRequest, context: grpc.aio.ServicerContext
    ) -> validator_pb2.Report:
        size = sum(
            len(x.encode("utf-8", "surrogatepass"))
            for x in (request.document, request.sql, request.spec_json)
        )
        if size > MAX_INPUT_BYTES:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the input is too large")
        spec_json = request.spec_json if request.HasField("spec_json") else ""
        try:
            if not spec_json:
                if not request.document:
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "send a document or a spec_json")
                spec_json = await self._peers.spec_of(request.document)
            spec = RequestSpec.model_validate_json(spec_json)
            sql = request.sql if request.HasField("sql") else await self._peers.compile(spec_json)
        except PeerUnavailable as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
            raise
        except (PeerRejected, ValidationError, ValueError) as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc).splitlines()[0][:2000])
            raise
        run_cases = request.run_cases if request.HasField("run_cases") else None
        # hand-written SQL: the compiler's own job is the second oracle (None when unavailable)
        reference = await reference_job(self._peers, spec_json) if request.HasField("sql") else None
        report = await self._use_case.validate(
            spec, sql, spec_json=spec_json, run_cases=run_cases, reference_sql=reference
        )
        return to_proto(report, render_markdown(report))
