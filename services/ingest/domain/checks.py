"""`check_document`: a request document in, a `RequestSpec` or every error out. Never raises."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from services.flinksql.spec import (
    Dimension,
    ErDiagram,
    Join,
    Note,
    PayloadClass,
    PayloadField,
    RequestSpec,
    SpecWarning,
    Table,
    content_hash,
)
from services.flinksql.sqltypes import JAVA_TO_FLINK
from services.ingest.domain.check_cases import check_cases, check_cases_size, load_sidecar
from services.ingest.domain.check_control import check_control_characters
from services.ingest.domain.check_expressions import Scope
from services.ingest.domain.check_job import check_job_info
from services.ingest.domain.check_joins import check_joins
from services.ingest.domain.check_mappings import check_aggregation, check_conditions, check_mappings
from services.ingest.domain.check_secrets import check_secret_references, check_sidecar_secret_references
from services.ingest.domain.check_sink import check_result_sink, check_sink_changes
from services.ingest.domain.check_tables import build_dimensions, build_result
from services.ingest.domain.check_warnings import dimension_warnings, er_warnings
from services.ingest.domain.document import check_input, decode_input, split_lines
from services.ingest.domain.errors import Issue, Issues
from services.ingest.domain.mermaid import parse_er_diagram
from services.ingest.domain.parse import RawDocument, parse_document
from services.ingest.domain.payload_class import parse_payload_class
from services.ingest.domain.redact import (
    redact_dimension,
    redact_document,
    redact_table,
    redact_text,
    warn_findings,
)
from services.ingest.domain.scaffold import check_placeholders


class CheckResult(BaseModel):
    """The outcome of a check: a spec when valid; errors and warnings in document order."""

    model_config = ConfigDict(frozen=True)

    spec: RequestSpec | None
    errors: list[Issue]
    warnings: list[Issue]

    @property
    def valid(self) -> bool:
        return self.spec is not None and not self.errors


def check_document(text: str, *, cases_text: str | None = None) -> CheckResult:
    """Parse and cross-check a request-v3 document (and optionally a sidecar cases file)."""
    issues = Issues()
    try:
        return _check(text, cases_text, issues)
    except Exception as exc:
        issues.error(
            "internal.error",
            f"the checker failed on this document ({type(exc).__name__})",
            block="document",
            line=None,
            hint="report this document to the Streamwright maintainers",
        )
        return CheckResult(spec=None, errors=issues.errors, warnings=issues.warnings)


def check_document_bytes(data: bytes, *, cases_text: str | None = None) -> CheckResult:
    """`check_document` for raw bytes: size, then strict UTF-8, then the text checks."""
    issues = Issues()
    text = decode_input(data, issues)
    if text is None:
        return CheckResult(spec=None, errors=issues.errors, warnings=issues.warnings)
    return check_document(text, cases_text=cases_text)


@dataclass
class _Parts:
    payload: PayloadClass | None
    dimensions: list[Dimension]
    result: Table | None
    joins: list[Join]
    scope: Scope


def _check(text: str, cases_text: str | None, issues: Issues) -> CheckResult:
    case_issues = Issues(source="cases")
    readable = check_input(text, issues)
    if cases_text is not None and not check_cases_size(cases_text, case_issues):
        readable = False
    if not readable:
        issues.extend(case_issues)
        return CheckResult(spec=None, errors=issues.errors, warnings=issues.warnings)
    # Credentials never at rest: the spec (and its hash) come from the redacted text only.
    redaction = redact_document(text)
    text, cases_text = redaction.text, redact_text(cases_text)
    warn_findings(redaction.findings, issues)
    check_placeholders(split_lines(text), issues)
    raw = parse_document(text, issues)
    check_secret_references(text, raw, issues)
    check_control_characters(raw, issues)
    job = check_job_info(raw, issues)
    parts = _structure(raw, issues)
    mappings = check_mappings(raw, parts.result, parts.scope, issues)
    conditions = check_conditions(raw, parts.scope, issues)
    _discard_follow_on_references(parts.scope.broken, issues)
    aggregation = check_aggregation(mappings, parts.result, issues)
    check_result_sink(raw, parts.result, issues)
    check_sink_changes(raw, parts.result, aggregation, issues)
    er = _er_diagram(raw, parts, issues)
    embedded = raw.yaml["cases"].doc if "cases" in raw.yaml else None
    sidecar = load_sidecar(cases_text, case_issues) if cases_text is not None else None
    cases = check_cases(
        embedded=embedded,
        sidecar=sidecar,
        dimensions=parts.dimensions,
        result=parts.result,
        issues=issues,
        sidecar_issues=case_issues,
    )
    if cases_text is not None:
        check_sidecar_secret_references(cases_text, sidecar, case_issues)
    issues.extend(case_issues)
    if issues.has_errors() or job is None or parts.payload is None or parts.result is None:
        return CheckResult(spec=None, errors=issues.errors, warnings=issues.warnings)
    spec = RequestSpec(
        content_hash=content_hash(text),
        job=job,
        payload=parts.payload,
        dimensions=tuple(redact_dimension(d) for d in parts.dimensions),
        result=redact_table(parts.result),
        mappings=tuple(mappings),
        joins=tuple(parts.joins),
        filters=tuple(conditions.filters),
        business_rules=tuple(conditions.rules),
        performance_hints=tuple(conditions.hints),
        er_diagram=er,
        notes=tuple(Note(heading=h.text if h else None, text=t) for h, t in raw.scanned.notes),
        cases=tuple(cases),
        aggregation=aggregation,
        warnings=tuple(_spec_warning(w) for w in issues.warnings),
    )
    return CheckResult(spec=spec, errors=[], warnings=issues.warnings)


# The type analysis (expressions_analysis.py) reports a reference it cannot resolve on its own;
# for an alias whose DDL or join failed with an error already reported that is a follow-on.
_UNRESOLVED_ALIAS = re.compile(r"unknown alias '([^']*)'")


def _discard_follow_on_references(broken: set[str], issues: Issues) -> None:
    """Drop "unknown alias" errors about aliases of a failed dimension DDL or join entry."""

    def follow_on(issue: Issue) -> bool:
        if issue.severity != "error" or not issue.code.startswith("references."):
            return False
        match = _UNRESOLVED_ALIAS.match(issue.message)
        return match is not None and match.group(1) in broken

    if broken:
        issues.discard(follow_on)


def _structure(raw: RawDocument, issues: Issues) -> _Parts:
    payload = _payload(raw, issues)
    dimensions = build_dimensions(raw, issues)
    result = build_result(raw, issues)
    joins, scope = check_joins(raw, payload, dimensions, issues)
    labels = {d.dimension.heading.line: d.label for d in raw.dimensions if d.dimension is not None}
    dimension_warnings(dimensions, labels, joins, issues, scope.broken)
    return _Parts(payload, dimensions, result, joins, scope)


def _payload(raw: RawDocument, issues: Issues) -> PayloadClass | None:
    if raw.java is None:
        return None
    java_class = parse_payload_class(raw.java.content, raw.java.content_line, issues)
    if java_class is None:
        return None
    fields = tuple(
        PayloadField(
            name=f.name,
            java_type=f.java_type,
            flink_type=JAVA_TO_FLINK.get(_simple_java_type(f.java_type)),
            comment=f.comment,
            line=f.line,
        )
        for f in java_class.fields
    )
    if not fields:
        return None
    return PayloadClass(name=java_class.name, fields=fields, line=java_class.line)


def _simple_java_type(java_type: str) -> str:
    """`java.math.BigDecimal` and `java.lang.Long` are BigDecimal and Long; others stay as written."""
    for package in ("java.lang.", "java.math."):
        if java_type.startswith(package):
            return java_type[len(package) :]
    return java_type


def _er_diagram(raw: RawDocument, parts: _Parts, issues: Issues) -> ErDiagram | None:
    if raw.er is None:
        return None
    er = parse_er_diagram(raw.er.content, raw.er.content_line, issues)
    er_warnings(
        er,
        payload=parts.payload,
        dimensions=parts.dimensions,
        result=parts.result,
        joins=parts.joins,
        issues=issues,
    )
    return er


def _spec_warning(issue: Issue) -> SpecWarning:
    return SpecWarning(
        code=issue.code,
        message=issue.message,
        block=issue.block,
        line=issue.line,
        name=issue.name,
        hint=issue.hint,
    )
