from rapport_client.pb.rapport.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AnalyzeRequest(_message.Message):
    __slots__ = ("messages", "options")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[_common_pb2.Message]
    options: _common_pb2.AnalysisOptions
    def __init__(self, messages: _Optional[_Iterable[_Union[_common_pb2.Message, _Mapping]]] = ..., options: _Optional[_Union[_common_pb2.AnalysisOptions, _Mapping]] = ...) -> None: ...

class AnalyzeResponse(_message.Message):
    __slots__ = ("analyses",)
    ANALYSES_FIELD_NUMBER: _ClassVar[int]
    analyses: _containers.RepeatedCompositeFieldContainer[_common_pb2.MessageAnalysis]
    def __init__(self, analyses: _Optional[_Iterable[_Union[_common_pb2.MessageAnalysis, _Mapping]]] = ...) -> None: ...

class AnalyzeConversationRequest(_message.Message):
    __slots__ = ("conversation_id", "turns", "options")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    TURNS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    turns: _containers.RepeatedCompositeFieldContainer[_common_pb2.Message]
    options: _common_pb2.AnalysisOptions
    def __init__(self, conversation_id: _Optional[str] = ..., turns: _Optional[_Iterable[_Union[_common_pb2.Message, _Mapping]]] = ..., options: _Optional[_Union[_common_pb2.AnalysisOptions, _Mapping]] = ...) -> None: ...

class SentimentTrajectory(_message.Message):
    __slots__ = ("role", "scores", "first", "last", "mean", "slope")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    FIRST_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    SLOPE_FIELD_NUMBER: _ClassVar[int]
    role: _common_pb2.Role
    scores: _containers.RepeatedScalarFieldContainer[float]
    first: float
    last: float
    mean: float
    slope: float
    def __init__(self, role: _Optional[_Union[_common_pb2.Role, str]] = ..., scores: _Optional[_Iterable[float]] = ..., first: _Optional[float] = ..., last: _Optional[float] = ..., mean: _Optional[float] = ..., slope: _Optional[float] = ...) -> None: ...

class TurnMetrics(_message.Message):
    __slots__ = ("turns", "customer_turns", "agent_turns", "customer_word_share", "mean_agent_response_seconds", "mean_customer_response_seconds")
    TURNS_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_TURNS_FIELD_NUMBER: _ClassVar[int]
    AGENT_TURNS_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_WORD_SHARE_FIELD_NUMBER: _ClassVar[int]
    MEAN_AGENT_RESPONSE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MEAN_CUSTOMER_RESPONSE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    turns: int
    customer_turns: int
    agent_turns: int
    customer_word_share: float
    mean_agent_response_seconds: float
    mean_customer_response_seconds: float
    def __init__(self, turns: _Optional[int] = ..., customer_turns: _Optional[int] = ..., agent_turns: _Optional[int] = ..., customer_word_share: _Optional[float] = ..., mean_agent_response_seconds: _Optional[float] = ..., mean_customer_response_seconds: _Optional[float] = ...) -> None: ...

class ConversationAnalysis(_message.Message):
    __slots__ = ("conversation_id", "trajectories", "metrics", "model_version")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    TRAJECTORIES_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    trajectories: _containers.RepeatedCompositeFieldContainer[SentimentTrajectory]
    metrics: TurnMetrics
    model_version: str
    def __init__(self, conversation_id: _Optional[str] = ..., trajectories: _Optional[_Iterable[_Union[SentimentTrajectory, _Mapping]]] = ..., metrics: _Optional[_Union[TurnMetrics, _Mapping]] = ..., model_version: _Optional[str] = ...) -> None: ...

class AnalyzeConversationResponse(_message.Message):
    __slots__ = ("turns", "conversation")
    TURNS_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    turns: _containers.RepeatedCompositeFieldContainer[_common_pb2.MessageAnalysis]
    conversation: ConversationAnalysis
    def __init__(self, turns: _Optional[_Iterable[_Union[_common_pb2.MessageAnalysis, _Mapping]]] = ..., conversation: _Optional[_Union[ConversationAnalysis, _Mapping]] = ...) -> None: ...
