from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Severity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEVERITY_UNSPECIFIED: _ClassVar[Severity]
    SEVERITY_CRITICAL: _ClassVar[Severity]
    SEVERITY_WARNING: _ClassVar[Severity]
    SEVERITY_INFO: _ClassVar[Severity]

class Dimension(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DIMENSION_UNSPECIFIED: _ClassVar[Dimension]
    DIMENSION_SQL_STANDARDS: _ClassVar[Dimension]
    DIMENSION_DATA_ACCURACY: _ClassVar[Dimension]
    DIMENSION_PERFORMANCE: _ClassVar[Dimension]
    DIMENSION_BUSINESS_COMPLIANCE: _ClassVar[Dimension]
SEVERITY_UNSPECIFIED: Severity
SEVERITY_CRITICAL: Severity
SEVERITY_WARNING: Severity
SEVERITY_INFO: Severity
DIMENSION_UNSPECIFIED: Dimension
DIMENSION_SQL_STANDARDS: Dimension
DIMENSION_DATA_ACCURACY: Dimension
DIMENSION_PERFORMANCE: Dimension
DIMENSION_BUSINESS_COMPLIANCE: Dimension

class Issue(_message.Message):
    __slots__ = ("code", "severity", "message", "block", "line", "name", "hint")
    CODE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    HINT_FIELD_NUMBER: _ClassVar[int]
    code: str
    severity: Severity
    message: str
    block: str
    line: int
    name: str
    hint: str
    def __init__(self, code: _Optional[str] = ..., severity: _Optional[_Union[Severity, str]] = ..., message: _Optional[str] = ..., block: _Optional[str] = ..., line: _Optional[int] = ..., name: _Optional[str] = ..., hint: _Optional[str] = ...) -> None: ...

class Finding(_message.Message):
    __slots__ = ("code", "severity", "dimension", "message", "statement", "line", "suggestion", "name")
    CODE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    SUGGESTION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    code: str
    severity: Severity
    dimension: Dimension
    message: str
    statement: str
    line: int
    suggestion: str
    name: str
    def __init__(self, code: _Optional[str] = ..., severity: _Optional[_Union[Severity, str]] = ..., dimension: _Optional[_Union[Dimension, str]] = ..., message: _Optional[str] = ..., statement: _Optional[str] = ..., line: _Optional[int] = ..., suggestion: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...
