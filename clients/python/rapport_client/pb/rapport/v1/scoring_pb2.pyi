from rapport_client.pb.rapport.v1 import common_pb2 as _common_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ScoreRequest(_message.Message):
    __slots__ = ("message", "options")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    message: _common_pb2.Message
    options: _common_pb2.AnalysisOptions
    def __init__(self, message: _Optional[_Union[_common_pb2.Message, _Mapping]] = ..., options: _Optional[_Union[_common_pb2.AnalysisOptions, _Mapping]] = ...) -> None: ...

class ScoreResponse(_message.Message):
    __slots__ = ("sequence", "analysis", "error", "error_code")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    analysis: _common_pb2.MessageAnalysis
    error: str
    error_code: int
    def __init__(self, sequence: _Optional[int] = ..., analysis: _Optional[_Union[_common_pb2.MessageAnalysis, _Mapping]] = ..., error: _Optional[str] = ..., error_code: _Optional[int] = ...) -> None: ...
