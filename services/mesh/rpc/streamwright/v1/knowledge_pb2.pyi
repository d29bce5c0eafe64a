from google.protobuf import timestamp_pb2 as _timestamp_pb2
from . import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CompatibilityMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMPATIBILITY_MODE_UNSPECIFIED: _ClassVar[CompatibilityMode]
    COMPATIBILITY_MODE_NONE: _ClassVar[CompatibilityMode]
    COMPATIBILITY_MODE_BACKWARD: _ClassVar[CompatibilityMode]
    COMPATIBILITY_MODE_FORWARD: _ClassVar[CompatibilityMode]
    COMPATIBILITY_MODE_FULL: _ClassVar[CompatibilityMode]
    COMPATIBILITY_MODE_BACKWARD_TRANSITIVE: _ClassVar[CompatibilityMode]
    COMPATIBILITY_MODE_FORWARD_TRANSITIVE: _ClassVar[CompatibilityMode]
    COMPATIBILITY_MODE_FULL_TRANSITIVE: _ClassVar[CompatibilityMode]

class TableRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TABLE_ROLE_UNSPECIFIED: _ClassVar[TableRole]
    TABLE_ROLE_SOURCE: _ClassVar[TableRole]
    TABLE_ROLE_DIMENSION: _ClassVar[TableRole]
    TABLE_ROLE_RESULT: _ClassVar[TableRole]
COMPATIBILITY_MODE_UNSPECIFIED: CompatibilityMode
COMPATIBILITY_MODE_NONE: CompatibilityMode
COMPATIBILITY_MODE_BACKWARD: CompatibilityMode
COMPATIBILITY_MODE_FORWARD: CompatibilityMode
COMPATIBILITY_MODE_FULL: CompatibilityMode
COMPATIBILITY_MODE_BACKWARD_TRANSITIVE: CompatibilityMode
COMPATIBILITY_MODE_FORWARD_TRANSITIVE: CompatibilityMode
COMPATIBILITY_MODE_FULL_TRANSITIVE: CompatibilityMode
TABLE_ROLE_UNSPECIFIED: TableRole
TABLE_ROLE_SOURCE: TableRole
TABLE_ROLE_DIMENSION: TableRole
TABLE_ROLE_RESULT: TableRole

class Column(_message.Message):
    __slots__ = ("name", "type", "nullable", "primary_key", "comment")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NULLABLE_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_KEY_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    nullable: bool
    primary_key: bool
    comment: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., nullable: bool = ..., primary_key: bool = ..., comment: _Optional[str] = ...) -> None: ...

class Table(_message.Message):
    __slots__ = ("name", "domain", "role", "columns", "comment", "options", "version")
    class OptionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    domain: str
    role: TableRole
    columns: _containers.RepeatedCompositeFieldContainer[Column]
    comment: str
    options: _containers.ScalarMap[str, str]
    version: int
    def __init__(self, name: _Optional[str] = ..., domain: _Optional[str] = ..., role: _Optional[_Union[TableRole, str]] = ..., columns: _Optional[_Iterable[_Union[Column, _Mapping]]] = ..., comment: _Optional[str] = ..., options: _Optional[_Mapping[str, str]] = ..., version: _Optional[int] = ...) -> None: ...

class Relationship(_message.Message):
    __slots__ = ("from_table", "from_columns", "to_table", "to_columns", "cardinality", "label")
    FROM_TABLE_FIELD_NUMBER: _ClassVar[int]
    FROM_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    TO_TABLE_FIELD_NUMBER: _ClassVar[int]
    TO_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    CARDINALITY_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    from_table: str
    from_columns: _containers.RepeatedScalarFieldContainer[str]
    to_table: str
    to_columns: _containers.RepeatedScalarFieldContainer[str]
    cardinality: str
    label: str
    def __init__(self, from_table: _Optional[str] = ..., from_columns: _Optional[_Iterable[str]] = ..., to_table: _Optional[str] = ..., to_columns: _Optional[_Iterable[str]] = ..., cardinality: _Optional[str] = ..., label: _Optional[str] = ...) -> None: ...

class Domain(_message.Message):
    __slots__ = ("name", "version", "tables", "relationships", "updated_at")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TABLES_FIELD_NUMBER: _ClassVar[int]
    RELATIONSHIPS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    tables: _containers.RepeatedCompositeFieldContainer[Table]
    relationships: _containers.RepeatedCompositeFieldContainer[Relationship]
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., tables: _Optional[_Iterable[_Union[Table, _Mapping]]] = ..., relationships: _Optional[_Iterable[_Union[Relationship, _Mapping]]] = ..., updated_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetDomainRequest(_message.Message):
    __slots__ = ("domain", "version")
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    domain: str
    version: int
    def __init__(self, domain: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class GetTableRequest(_message.Message):
    __slots__ = ("table", "domain", "version")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    table: str
    domain: str
    version: int
    def __init__(self, table: _Optional[str] = ..., domain: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class CheckConflictsRequest(_message.Message):
    __slots__ = ("domain", "spec_json", "mode")
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    SPEC_JSON_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    domain: str
    spec_json: str
    mode: CompatibilityMode
    def __init__(self, domain: _Optional[str] = ..., spec_json: _Optional[str] = ..., mode: _Optional[_Union[CompatibilityMode, str]] = ...) -> None: ...

class Conflict(_message.Message):
    __slots__ = ("kind", "severity", "table", "column", "detail")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    kind: str
    severity: _common_pb2.Severity
    table: str
    column: str
    detail: str
    def __init__(self, kind: _Optional[str] = ..., severity: _Optional[_Union[_common_pb2.Severity, str]] = ..., table: _Optional[str] = ..., column: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class CheckConflictsResponse(_message.Message):
    __slots__ = ("conflicts", "compatible", "mode")
    CONFLICTS_FIELD_NUMBER: _ClassVar[int]
    COMPATIBLE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    conflicts: _containers.RepeatedCompositeFieldContainer[Conflict]
    compatible: bool
    mode: CompatibilityMode
    def __init__(self, conflicts: _Optional[_Iterable[_Union[Conflict, _Mapping]]] = ..., compatible: bool = ..., mode: _Optional[_Union[CompatibilityMode, str]] = ...) -> None: ...

class SearchSchemasRequest(_message.Message):
    __slots__ = ("query", "limit", "domain")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    query: str
    limit: int
    domain: str
    def __init__(self, query: _Optional[str] = ..., limit: _Optional[int] = ..., domain: _Optional[str] = ...) -> None: ...

class SchemaHit(_message.Message):
    __slots__ = ("table", "column", "domain", "score")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    table: str
    column: str
    domain: str
    score: float
    def __init__(self, table: _Optional[str] = ..., column: _Optional[str] = ..., domain: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...

class SearchSchemasResponse(_message.Message):
    __slots__ = ("hits",)
    HITS_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[SchemaHit]
    def __init__(self, hits: _Optional[_Iterable[_Union[SchemaHit, _Mapping]]] = ...) -> None: ...

class GetDiagramRequest(_message.Message):
    __slots__ = ("domain", "version")
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    domain: str
    version: int
    def __init__(self, domain: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class Diagram(_message.Message):
    __slots__ = ("domain", "version", "mermaid")
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    MERMAID_FIELD_NUMBER: _ClassVar[int]
    domain: str
    version: int
    mermaid: str
    def __init__(self, domain: _Optional[str] = ..., version: _Optional[int] = ..., mermaid: _Optional[str] = ...) -> None: ...

class ListVersionsRequest(_message.Message):
    __slots__ = ("domain", "page_size", "page_token")
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    domain: str
    page_size: int
    page_token: str
    def __init__(self, domain: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class DomainVersion(_message.Message):
    __slots__ = ("version", "created_at", "run_id", "summary", "state", "current")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    version: int
    created_at: _timestamp_pb2.Timestamp
    run_id: str
    summary: str
    state: str
    current: bool
    def __init__(self, version: _Optional[int] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., run_id: _Optional[str] = ..., summary: _Optional[str] = ..., state: _Optional[str] = ..., current: bool = ...) -> None: ...

class ListVersionsResponse(_message.Message):
    __slots__ = ("versions", "next_page_token")
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[DomainVersion]
    next_page_token: str
    def __init__(self, versions: _Optional[_Iterable[_Union[DomainVersion, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ImpactRequest(_message.Message):
    __slots__ = ("table", "column", "domain")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    table: str
    column: str
    domain: str
    def __init__(self, table: _Optional[str] = ..., column: _Optional[str] = ..., domain: _Optional[str] = ...) -> None: ...

class ImpactedJob(_message.Message):
    __slots__ = ("domain", "job", "run_id", "usage")
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    domain: str
    job: str
    run_id: str
    usage: TableRole
    def __init__(self, domain: _Optional[str] = ..., job: _Optional[str] = ..., run_id: _Optional[str] = ..., usage: _Optional[_Union[TableRole, str]] = ...) -> None: ...

class ImpactResponse(_message.Message):
    __slots__ = ("jobs",)
    JOBS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[ImpactedJob]
    def __init__(self, jobs: _Optional[_Iterable[_Union[ImpactedJob, _Mapping]]] = ...) -> None: ...
