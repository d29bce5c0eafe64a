from . import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetArtifactsRequest(_message.Message):
    __slots__ = ("run_id", "attempt", "include_content")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_CONTENT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    attempt: int
    include_content: bool
    def __init__(self, run_id: _Optional[str] = ..., attempt: _Optional[int] = ..., include_content: bool = ...) -> None: ...

class Artifact(_message.Message):
    __slots__ = ("path", "sha256", "media_type", "content", "size_bytes")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    path: str
    sha256: str
    media_type: str
    content: bytes
    size_bytes: int
    def __init__(self, path: _Optional[str] = ..., sha256: _Optional[str] = ..., media_type: _Optional[str] = ..., content: _Optional[bytes] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class GetArtifactsResponse(_message.Message):
    __slots__ = ("run_id", "attempt", "artifacts")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    ARTIFACTS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    attempt: int
    artifacts: _containers.RepeatedCompositeFieldContainer[Artifact]
    def __init__(self, run_id: _Optional[str] = ..., attempt: _Optional[int] = ..., artifacts: _Optional[_Iterable[_Union[Artifact, _Mapping]]] = ...) -> None: ...

class CompileRequest(_message.Message):
    __slots__ = ("document", "spec_json", "target_flink")
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    SPEC_JSON_FIELD_NUMBER: _ClassVar[int]
    TARGET_FLINK_FIELD_NUMBER: _ClassVar[int]
    document: str
    spec_json: str
    target_flink: str
    def __init__(self, document: _Optional[str] = ..., spec_json: _Optional[str] = ..., target_flink: _Optional[str] = ...) -> None: ...

class CompileResponse(_message.Message):
    __slots__ = ("sql", "issues")
    SQL_FIELD_NUMBER: _ClassVar[int]
    ISSUES_FIELD_NUMBER: _ClassVar[int]
    sql: str
    issues: _containers.RepeatedCompositeFieldContainer[_common_pb2.Issue]
    def __init__(self, sql: _Optional[str] = ..., issues: _Optional[_Iterable[_Union[_common_pb2.Issue, _Mapping]]] = ...) -> None: ...
