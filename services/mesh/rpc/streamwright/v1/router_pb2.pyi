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
    __slots__ = ("run_id", "request_id", "domain", "state", "attempt", "score", "reason", "timeline", "phases", "created_at", "updated_at", "reviewer", "job_ref")
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
    def __init__(self, run_id: _Optional[str] = ..., request_id: _Optional[str] = ..., domain: _Optional[str] = ..., state: _Optional[_Union[RunState, str]] = ..., attempt: _Optional[int] = ..., score: _Optional[float] = ..., reason: _Optional[str] = ..., timeline: _Optional[_Iterable[_Union[RunEvent, _Mapping]]] = ..., phases: _Optional[_Iterable[_Union[PhaseTiming, _Mapping]]] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., reviewer: _Optional[str] = ..., job_ref: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("run_id", "decision", "comment")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    decision: ReviewDecision
    comment: str
    def __init__(self, run_id: _Optional[str] = ..., decision: _Optional[_Union[ReviewDecision, str]] = ..., comment: _Optional[str] = ...) -> None: ...

class CancelRunRequest(_message.Message):
    __slots__ = ("run_id", "reason")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    reason: str
    def __init__(self, run_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...
