from google.protobuf import timestamp_pb2 as _timestamp_pb2
from . import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RequestState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REQUEST_STATE_UNSPECIFIED: _ClassVar[RequestState]
    REQUEST_STATE_PENDING: _ClassVar[RequestState]
    REQUEST_STATE_ACCEPTED: _ClassVar[RequestState]
    REQUEST_STATE_REJECTED: _ClassVar[RequestState]
REQUEST_STATE_UNSPECIFIED: RequestState
REQUEST_STATE_PENDING: RequestState
REQUEST_STATE_ACCEPTED: RequestState
REQUEST_STATE_REJECTED: RequestState

class SubmitRequestRequest(_message.Message):
    __slots__ = ("document", "file_name", "cases_yaml", "idempotency_key", "submitted_by")
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    CASES_YAML_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_BY_FIELD_NUMBER: _ClassVar[int]
    document: str
    file_name: str
    cases_yaml: str
    idempotency_key: str
    submitted_by: str
    def __init__(self, document: _Optional[str] = ..., file_name: _Optional[str] = ..., cases_yaml: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., submitted_by: _Optional[str] = ...) -> None: ...

class SubmitRequestResponse(_message.Message):
    __slots__ = ("request_id", "run_id", "duplicate")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    run_id: str
    duplicate: bool
    def __init__(self, request_id: _Optional[str] = ..., run_id: _Optional[str] = ..., duplicate: bool = ...) -> None: ...

class GetRequestRequest(_message.Message):
    __slots__ = ("request_id",)
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    def __init__(self, request_id: _Optional[str] = ...) -> None: ...

class Request(_message.Message):
    __slots__ = ("request_id", "domain", "revision", "state", "content_hash", "spec_json", "errors", "warnings", "submitted_at", "submitted_by", "file_name", "run_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    SPEC_JSON_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_BY_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    domain: str
    revision: int
    state: RequestState
    content_hash: str
    spec_json: str
    errors: _containers.RepeatedCompositeFieldContainer[_common_pb2.Issue]
    warnings: _containers.RepeatedCompositeFieldContainer[_common_pb2.Issue]
    submitted_at: _timestamp_pb2.Timestamp
    submitted_by: str
    file_name: str
    run_id: str
    def __init__(self, request_id: _Optional[str] = ..., domain: _Optional[str] = ..., revision: _Optional[int] = ..., state: _Optional[_Union[RequestState, str]] = ..., content_hash: _Optional[str] = ..., spec_json: _Optional[str] = ..., errors: _Optional[_Iterable[_Union[_common_pb2.Issue, _Mapping]]] = ..., warnings: _Optional[_Iterable[_Union[_common_pb2.Issue, _Mapping]]] = ..., submitted_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., submitted_by: _Optional[str] = ..., file_name: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...

class ListRequestsRequest(_message.Message):
    __slots__ = ("domain", "state", "page_size", "page_token")
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    domain: str
    state: RequestState
    page_size: int
    page_token: str
    def __init__(self, domain: _Optional[str] = ..., state: _Optional[_Union[RequestState, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRequestsResponse(_message.Message):
    __slots__ = ("requests", "next_page_token")
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[Request]
    next_page_token: str
    def __init__(self, requests: _Optional[_Iterable[_Union[Request, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CheckDocumentRequest(_message.Message):
    __slots__ = ("document", "cases_yaml")
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    CASES_YAML_FIELD_NUMBER: _ClassVar[int]
    document: str
    cases_yaml: str
    def __init__(self, document: _Optional[str] = ..., cases_yaml: _Optional[str] = ...) -> None: ...

class CheckDocumentResponse(_message.Message):
    __slots__ = ("valid", "spec_json", "errors", "warnings")
    VALID_FIELD_NUMBER: _ClassVar[int]
    SPEC_JSON_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    spec_json: str
    errors: _containers.RepeatedCompositeFieldContainer[_common_pb2.Issue]
    warnings: _containers.RepeatedCompositeFieldContainer[_common_pb2.Issue]
    def __init__(self, valid: bool = ..., spec_json: _Optional[str] = ..., errors: _Optional[_Iterable[_Union[_common_pb2.Issue, _Mapping]]] = ..., warnings: _Optional[_Iterable[_Union[_common_pb2.Issue, _Mapping]]] = ...) -> None: ...
