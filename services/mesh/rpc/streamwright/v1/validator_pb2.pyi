from google.protobuf import timestamp_pb2 as _timestamp_pb2
from . import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetReportRequest(_message.Message):
    __slots__ = ("run_id", "attempt")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    attempt: int
    def __init__(self, run_id: _Optional[str] = ..., attempt: _Optional[int] = ...) -> None: ...

class ValidateSqlRequest(_message.Message):
    __slots__ = ("document", "sql", "spec_json", "run_cases")
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    SQL_FIELD_NUMBER: _ClassVar[int]
    SPEC_JSON_FIELD_NUMBER: _ClassVar[int]
    RUN_CASES_FIELD_NUMBER: _ClassVar[int]
    document: str
    sql: str
    spec_json: str
    run_cases: bool
    def __init__(self, document: _Optional[str] = ..., sql: _Optional[str] = ..., spec_json: _Optional[str] = ..., run_cases: bool = ...) -> None: ...

class DimensionScore(_message.Message):
    __slots__ = ("dimension", "score", "weight", "summary")
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    dimension: _common_pb2.Dimension
    score: float
    weight: float
    summary: str
    def __init__(self, dimension: _Optional[_Union[_common_pb2.Dimension, str]] = ..., score: _Optional[float] = ..., weight: _Optional[float] = ..., summary: _Optional[str] = ...) -> None: ...

class Report(_message.Message):
    __slots__ = ("run_id", "attempt", "score", "dimensions", "findings", "markdown", "json", "provisional", "critical_count", "warning_count", "info_count", "created_at", "rule_set_version", "gate_passed", "provisional_reasons", "report_ref")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    MARKDOWN_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    PROVISIONAL_FIELD_NUMBER: _ClassVar[int]
    CRITICAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    WARNING_COUNT_FIELD_NUMBER: _ClassVar[int]
    INFO_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    RULE_SET_VERSION_FIELD_NUMBER: _ClassVar[int]
    GATE_PASSED_FIELD_NUMBER: _ClassVar[int]
    PROVISIONAL_REASONS_FIELD_NUMBER: _ClassVar[int]
    REPORT_REF_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    attempt: int
    score: float
    dimensions: _containers.RepeatedCompositeFieldContainer[DimensionScore]
    findings: _containers.RepeatedCompositeFieldContainer[_common_pb2.Finding]
    markdown: str
    json: str
    provisional: bool
    critical_count: int
    warning_count: int
    info_count: int
    created_at: _timestamp_pb2.Timestamp
    rule_set_version: str
    gate_passed: bool
    provisional_reasons: _containers.RepeatedScalarFieldContainer[str]
    report_ref: str
    def __init__(self, run_id: _Optional[str] = ..., attempt: _Optional[int] = ..., score: _Optional[float] = ..., dimensions: _Optional[_Iterable[_Union[DimensionScore, _Mapping]]] = ..., findings: _Optional[_Iterable[_Union[_common_pb2.Finding, _Mapping]]] = ..., markdown: _Optional[str] = ..., json: _Optional[str] = ..., provisional: bool = ..., critical_count: _Optional[int] = ..., warning_count: _Optional[int] = ..., info_count: _Optional[int] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., rule_set_version: _Optional[str] = ..., gate_passed: bool = ..., provisional_reasons: _Optional[_Iterable[str]] = ..., report_ref: _Optional[str] = ...) -> None: ...
