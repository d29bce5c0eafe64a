from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RunState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_STATE_UNSPECIFIED: _ClassVar[RunState]
    RUN_STATE_SUBMITTED: _ClassVar[RunState]
    RUN_STATE_GENERATING: _ClassVar[RunState]
    RUN_STATE_VALIDATING: _ClassVar[RunState]
    RUN_STATE_GATING: _ClassVar[RunState]
    RUN_STATE_AWAITING_REVIEW: _ClassVar[RunState]
    RUN_STATE_REGENERATING: _ClassVar[RunState]
    RUN_STATE_APPROVED: _ClassVar[RunState]
    RUN_STATE_STARTED: _ClassVar[RunState]
    RUN_STATE_REJECTED: _ClassVar[RunState]
    RUN_STATE_FAILED: _ClassVar[RunState]
    RUN_STATE_CANCELLED: _ClassVar[RunState]
    RUN_STATE_TIMED_OUT: _ClassVar[RunState]
    RUN_STATE_SUPERSEDED: _ClassVar[RunState]
    RUN_STATE_KB_UPDATED: _ClassVar[RunState]
    RUN_STATE_STARTING: _ClassVar[RunState]

class ReviewDecision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REVIEW_DECISION_UNSPECIFIED: _ClassVar[ReviewDecision]
    REVIEW_DECISION_APPROVE: _ClassVar[ReviewDecision]
    REVIEW_DECISION_REJECT: _ClassVar[ReviewDecision]
RUN_STATE_UNSPECIFIED: RunState
RUN_STATE_SUBMITTED: RunState
RUN_STATE_GENERATING: RunState
RUN_STATE_VALIDATING: RunState
RUN_STATE_GATING: RunState
RUN_STATE_AWAITING_REVIEW: RunState
RUN_STATE_REGENERATING: RunState
RUN_STATE_APPROVED: RunState
RUN_STATE_STARTED: RunState
RUN_STATE_REJECTED: RunState
RUN_STATE_FAILED: RunState
RUN_STATE_CANCELLED: RunState
RUN_STATE_TIMED_OUT: RunState
RUN_STATE_SUPERSEDED: RunState
RUN_STATE_KB_UPDATED: RunState
RUN_STATE_STARTING: RunState
REVIEW_DECISION_UNSPECIFIED: ReviewDecision
REVIEW_DECISION_APPROVE: ReviewDecision
REVIEW_DECISION_REJECT: ReviewDecision

class RunEvent(_message.Message):
    __slots__ = ("event_id", "event_type", "occurred_at", "producer", "summary")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    PRODUCER_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    event_type: str
    occurred_at: _timestamp_pb2.Timestamp
    producer: str
    summary: str
    def __init__(self, event_id: _Optional[str] = ..., event_type: _Optional[str] = ..., occurred_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., producer: _Optional[str] = ..., summary: _Optional[str] = ...) -> None: ...

class PhaseTiming(_message.Message):
    __slots__ = ("phase", "started_at", "finished_at", "duration_ms")
    PHASE_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    phase: str
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    duration_ms: int
    def __init__(self, phase: _Optional[str] = ..., started_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., duration_ms: _Optional[int] = ...) -> None: ...

class Run(_message.Message):
    __slots__ = ("run_id", "request_id", "domain", "state", "attempt", "score", "reason", "timeline", "phases", "created_at", "updated_at", "reviewer", "job_ref", "state_name", "revision", "terminal", "decisions", "llm", "references", "idempotency_key", "target", "detail_json")
    class ReferencesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    PHASES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    REVIEWER_FIELD_NUMBER: _ClassVar[int]
    JOB_REF_FIELD_NUMBER: _ClassVar[int]
    STATE_NAME_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    TERMINAL_FIELD_NUMBER: _ClassVar[int]
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    LLM_FIELD_NUMBER: _ClassVar[int]
    REFERENCES_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    DETAIL_JSON_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    request_id: str
    domain: str
    state: RunState
    attempt: int
    score: float
    reason: str
    timeline: _containers.RepeatedCompositeFieldContainer[RunEvent]
    phases: _containers.RepeatedCompositeFieldContainer[PhaseTiming]
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    reviewer: str
    job_ref: str
    state_name: str
    revision: int
    terminal: bool
    decisions: _containers.RepeatedCompositeFieldContainer[GateDecisionRecord]
    llm: LlmUsage
    references: _containers.ScalarMap[str, str]
    idempotency_key: str
    target: str
    detail_json: str
    def __init__(self, run_id: _Optional[str] = ..., request_id: _Optional[str] = ..., domain: _Optional[str] = ..., state: _Optional[_Union[RunState, str]] = ..., attempt: _Optional[int] = ..., score: _Optional[float] = ..., reason: _Optional[str] = ..., timeline: _Optional[_Iterable[_Union[RunEvent, _Mapping]]] = ..., phases: _Optional[_Iterable[_Union[PhaseTiming, _Mapping]]] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., reviewer: _Optional[str] = ..., job_ref: _Optional[str] = ..., state_name: _Optional[str] = ..., revision: _Optional[int] = ..., terminal: bool = ..., decisions: _Optional[_Iterable[_Union[GateDecisionRecord, _Mapping]]] = ..., llm: _Optional[_Union[LlmUsage, _Mapping]] = ..., references: _Optional[_Mapping[str, str]] = ..., idempotency_key: _Optional[str] = ..., target: _Optional[str] = ..., detail_json: _Optional[str] = ...) -> None: ...

class GateDecisionRecord(_message.Message):
    __slots__ = ("attempt", "decision", "reason", "rule", "mode", "decided_by", "reviewer", "score", "decided_at")
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    REVIEWER_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    decision: str
    reason: str
    rule: str
    mode: str
    decided_by: str
    reviewer: str
    score: float
    decided_at: _timestamp_pb2.Timestamp
    def __init__(self, attempt: _Optional[int] = ..., decision: _Optional[str] = ..., reason: _Optional[str] = ..., rule: _Optional[str] = ..., mode: _Optional[str] = ..., decided_by: _Optional[str] = ..., reviewer: _Optional[str] = ..., score: _Optional[float] = ..., decided_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LlmUsage(_message.Message):
    __slots__ = ("calls", "prompt_tokens", "completion_tokens", "cost_usd", "latency_ms")
    CALLS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_ms: int
    def __init__(self, calls: _Optional[int] = ..., prompt_tokens: _Optional[int] = ..., completion_tokens: _Optional[int] = ..., cost_usd: _Optional[float] = ..., latency_ms: _Optional[int] = ...) -> None: ...

class GetRunRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class ListRunsRequest(_message.Message):
    __slots__ = ("domain", "state", "since", "page_size", "page_token")
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    domain: str
    state: RunState
    since: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    def __init__(self, domain: _Optional[str] = ..., state: _Optional[_Union[RunState, str]] = ..., since: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRunsResponse(_message.Message):
    __slots__ = ("runs", "next_page_token")
    RUNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[Run]
    next_page_token: str
    def __init__(self, runs: _Optional[_Iterable[_Union[Run, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class WatchRunRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class RunUpdate(_message.Message):
    __slots__ = ("run", "event")
    RUN_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    run: Run
    event: RunEvent
    def __init__(self, run: _Optional[_Union[Run, _Mapping]] = ..., event: _Optional[_Union[RunEvent, _Mapping]] = ...) -> None: ...

class ReviewRequest(_message.Message):
    __slots__ = ("run_id", "decision", "comment", "reviewer")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    REVIEWER_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    decision: ReviewDecision
    comment: str
    reviewer: str
    def __init__(self, run_id: _Optional[str] = ..., decision: _Optional[_Union[ReviewDecision, str]] = ..., comment: _Optional[str] = ..., reviewer: _Optional[str] = ...) -> None: ...

class CancelRunRequest(_message.Message):
    __slots__ = ("run_id", "reason")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    reason: str
    def __init__(self, run_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class StopDomainRequest(_message.Message):
    __slots__ = ("domain", "reason")
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    domain: str
    reason: str
    def __init__(self, domain: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RollbackDomainRequest(_message.Message):
    __slots__ = ("domain", "to_revision")
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    TO_REVISION_FIELD_NUMBER: _ClassVar[int]
    domain: str
    to_revision: int
    def __init__(self, domain: _Optional[str] = ..., to_revision: _Optional[int] = ...) -> None: ...

class DeploymentStatus(_message.Message):
    __slots__ = ("domain", "state", "revision", "run_id", "target", "job_id", "deployment_ref", "savepoint_path", "savepoint_restored", "reason", "rolled_back_from", "started_at", "stopped_at", "earlier_revisions", "detail_json")
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_REF_FIELD_NUMBER: _ClassVar[int]
    SAVEPOINT_PATH_FIELD_NUMBER: _ClassVar[int]
    SAVEPOINT_RESTORED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ROLLED_BACK_FROM_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    STOPPED_AT_FIELD_NUMBER: _ClassVar[int]
    EARLIER_REVISIONS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_JSON_FIELD_NUMBER: _ClassVar[int]
    domain: str
    state: str
    revision: int
    run_id: str
    target: str
    job_id: str
    deployment_ref: str
    savepoint_path: str
    savepoint_restored: str
    reason: str
    rolled_back_from: int
    started_at: _timestamp_pb2.Timestamp
    stopped_at: _timestamp_pb2.Timestamp
    earlier_revisions: _containers.RepeatedScalarFieldContainer[int]
    detail_json: str
    def __init__(self, domain: _Optional[str] = ..., state: _Optional[str] = ..., revision: _Optional[int] = ..., run_id: _Optional[str] = ..., target: _Optional[str] = ..., job_id: _Optional[str] = ..., deployment_ref: _Optional[str] = ..., savepoint_path: _Optional[str] = ..., savepoint_restored: _Optional[str] = ..., reason: _Optional[str] = ..., rolled_back_from: _Optional[int] = ..., started_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., stopped_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., earlier_revisions: _Optional[_Iterable[int]] = ..., detail_json: _Optional[str] = ...) -> None: ...
