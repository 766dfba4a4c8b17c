import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from rapport_client.pb.rapport.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HintKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HINT_KIND_UNSPECIFIED: _ClassVar[HintKind]
    HINT_KIND_ESCALATION_RISK: _ClassVar[HintKind]
    HINT_KIND_CUSTOMER_FRUSTRATED: _ClassVar[HintKind]
    HINT_KIND_TONE_MISMATCH: _ClassVar[HintKind]
    HINT_KIND_MISSING_EMPATHY: _ClassVar[HintKind]
    HINT_KIND_UNANSWERED_QUESTION: _ClassVar[HintKind]
    HINT_KIND_SLOW_REPLY: _ClassVar[HintKind]
    HINT_KIND_POSITIVE_MOMENT: _ClassVar[HintKind]
    HINT_KIND_SUGGEST_STYLE: _ClassVar[HintKind]
    HINT_KIND_ABUSIVE_LANGUAGE: _ClassVar[HintKind]

class Severity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEVERITY_UNSPECIFIED: _ClassVar[Severity]
    SEVERITY_INFO: _ClassVar[Severity]
    SEVERITY_WARNING: _ClassVar[Severity]
    SEVERITY_CRITICAL: _ClassVar[Severity]
HINT_KIND_UNSPECIFIED: HintKind
HINT_KIND_ESCALATION_RISK: HintKind
HINT_KIND_CUSTOMER_FRUSTRATED: HintKind
HINT_KIND_TONE_MISMATCH: HintKind
HINT_KIND_MISSING_EMPATHY: HintKind
HINT_KIND_UNANSWERED_QUESTION: HintKind
HINT_KIND_SLOW_REPLY: HintKind
HINT_KIND_POSITIVE_MOMENT: HintKind
HINT_KIND_SUGGEST_STYLE: HintKind
HINT_KIND_ABUSIVE_LANGUAGE: HintKind
SEVERITY_UNSPECIFIED: Severity
SEVERITY_INFO: Severity
SEVERITY_WARNING: Severity
SEVERITY_CRITICAL: Severity

class AssistRequest(_message.Message):
    __slots__ = ("start", "turn", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    TURN_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: SessionStart
    turn: LiveTurn
    end: SessionEnd
    def __init__(self, start: _Optional[_Union[SessionStart, _Mapping]] = ..., turn: _Optional[_Union[LiveTurn, _Mapping]] = ..., end: _Optional[_Union[SessionEnd, _Mapping]] = ...) -> None: ...

class SessionStart(_message.Message):
    __slots__ = ("conversation_id", "customer_id", "channel", "languages", "update_profile")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    UPDATE_PROFILE_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    customer_id: str
    channel: _common_pb2.Channel
    languages: _containers.RepeatedScalarFieldContainer[str]
    update_profile: bool
    def __init__(self, conversation_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., languages: _Optional[_Iterable[str]] = ..., update_profile: _Optional[bool] = ...) -> None: ...

class LiveTurn(_message.Message):
    __slots__ = ("turn_id", "role", "text", "timestamp", "start_seconds", "end_seconds", "language_hint")
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    START_SECONDS_FIELD_NUMBER: _ClassVar[int]
    END_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_HINT_FIELD_NUMBER: _ClassVar[int]
    turn_id: str
    role: _common_pb2.Role
    text: str
    timestamp: _timestamp_pb2.Timestamp
    start_seconds: float
    end_seconds: float
    language_hint: str
    def __init__(self, turn_id: _Optional[str] = ..., role: _Optional[_Union[_common_pb2.Role, str]] = ..., text: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_seconds: _Optional[float] = ..., end_seconds: _Optional[float] = ..., language_hint: _Optional[str] = ...) -> None: ...

class SessionEnd(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class AssistResponse(_message.Message):
    __slots__ = ("opened", "turn", "closed")
    OPENED_FIELD_NUMBER: _ClassVar[int]
    TURN_FIELD_NUMBER: _ClassVar[int]
    CLOSED_FIELD_NUMBER: _ClassVar[int]
    opened: SessionOpened
    turn: TurnResult
    closed: SessionClosed
    def __init__(self, opened: _Optional[_Union[SessionOpened, _Mapping]] = ..., turn: _Optional[_Union[TurnResult, _Mapping]] = ..., closed: _Optional[_Union[SessionClosed, _Mapping]] = ...) -> None: ...

class SessionOpened(_message.Message):
    __slots__ = ("conversation_id", "resumed", "turns", "has_baseline", "hints")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    RESUMED_FIELD_NUMBER: _ClassVar[int]
    TURNS_FIELD_NUMBER: _ClassVar[int]
    HAS_BASELINE_FIELD_NUMBER: _ClassVar[int]
    HINTS_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    resumed: bool
    turns: int
    has_baseline: bool
    hints: _containers.RepeatedCompositeFieldContainer[Hint]
    def __init__(self, conversation_id: _Optional[str] = ..., resumed: _Optional[bool] = ..., turns: _Optional[int] = ..., has_baseline: _Optional[bool] = ..., hints: _Optional[_Iterable[_Union[Hint, _Mapping]]] = ...) -> None: ...

class TurnResult(_message.Message):
    __slots__ = ("turn_id", "role", "analysis", "state", "hints", "withdrawn", "duplicate", "out_of_order", "error")
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    HINTS_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWN_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    OUT_OF_ORDER_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    turn_id: str
    role: _common_pb2.Role
    analysis: _common_pb2.MessageAnalysis
    state: ConversationState
    hints: _containers.RepeatedCompositeFieldContainer[Hint]
    withdrawn: _containers.RepeatedScalarFieldContainer[str]
    duplicate: bool
    out_of_order: bool
    error: str
    def __init__(self, turn_id: _Optional[str] = ..., role: _Optional[_Union[_common_pb2.Role, str]] = ..., analysis: _Optional[_Union[_common_pb2.MessageAnalysis, _Mapping]] = ..., state: _Optional[_Union[ConversationState, _Mapping]] = ..., hints: _Optional[_Iterable[_Union[Hint, _Mapping]]] = ..., withdrawn: _Optional[_Iterable[str]] = ..., duplicate: _Optional[bool] = ..., out_of_order: _Optional[bool] = ..., error: _Optional[str] = ...) -> None: ...

class SessionClosed(_message.Message):
    __slots__ = ("conversation_id", "reason", "profile_messages", "profile_note")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    PROFILE_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    PROFILE_NOTE_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    reason: str
    profile_messages: int
    profile_note: str
    def __init__(self, conversation_id: _Optional[str] = ..., reason: _Optional[str] = ..., profile_messages: _Optional[int] = ..., profile_note: _Optional[str] = ...) -> None: ...

class SideState(_message.Message):
    __slots__ = ("turns", "sentiment", "emotions", "frustration", "politeness", "formality", "address", "words_per_turn", "talk_seconds")
    class EmotionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    TURNS_FIELD_NUMBER: _ClassVar[int]
    SENTIMENT_FIELD_NUMBER: _ClassVar[int]
    EMOTIONS_FIELD_NUMBER: _ClassVar[int]
    FRUSTRATION_FIELD_NUMBER: _ClassVar[int]
    POLITENESS_FIELD_NUMBER: _ClassVar[int]
    FORMALITY_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    WORDS_PER_TURN_FIELD_NUMBER: _ClassVar[int]
    TALK_SECONDS_FIELD_NUMBER: _ClassVar[int]
    turns: int
    sentiment: float
    emotions: _containers.ScalarMap[str, float]
    frustration: float
    politeness: float
    formality: float
    address: float
    words_per_turn: float
    talk_seconds: float
    def __init__(self, turns: _Optional[int] = ..., sentiment: _Optional[float] = ..., emotions: _Optional[_Mapping[str, float]] = ..., frustration: _Optional[float] = ..., politeness: _Optional[float] = ..., formality: _Optional[float] = ..., address: _Optional[float] = ..., words_per_turn: _Optional[float] = ..., talk_seconds: _Optional[float] = ...) -> None: ...

class AgentMetrics(_message.Message):
    __slots__ = ("mean_reply_seconds", "last_reply_seconds", "apologies", "acknowledgements", "talk_ratio", "interruptions", "open_questions")
    MEAN_REPLY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LAST_REPLY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    APOLOGIES_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGEMENTS_FIELD_NUMBER: _ClassVar[int]
    TALK_RATIO_FIELD_NUMBER: _ClassVar[int]
    INTERRUPTIONS_FIELD_NUMBER: _ClassVar[int]
    OPEN_QUESTIONS_FIELD_NUMBER: _ClassVar[int]
    mean_reply_seconds: float
    last_reply_seconds: float
    apologies: int
    acknowledgements: int
    talk_ratio: float
    interruptions: int
    open_questions: int
    def __init__(self, mean_reply_seconds: _Optional[float] = ..., last_reply_seconds: _Optional[float] = ..., apologies: _Optional[int] = ..., acknowledgements: _Optional[int] = ..., talk_ratio: _Optional[float] = ..., interruptions: _Optional[int] = ..., open_questions: _Optional[int] = ...) -> None: ...

class ConversationState(_message.Message):
    __slots__ = ("customer", "agent", "escalation_risk", "baseline_deviation", "has_baseline", "agent_metrics", "language")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    ESCALATION_RISK_FIELD_NUMBER: _ClassVar[int]
    BASELINE_DEVIATION_FIELD_NUMBER: _ClassVar[int]
    HAS_BASELINE_FIELD_NUMBER: _ClassVar[int]
    AGENT_METRICS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    customer: SideState
    agent: SideState
    escalation_risk: float
    baseline_deviation: float
    has_baseline: bool
    agent_metrics: AgentMetrics
    language: str
    def __init__(self, customer: _Optional[_Union[SideState, _Mapping]] = ..., agent: _Optional[_Union[SideState, _Mapping]] = ..., escalation_risk: _Optional[float] = ..., baseline_deviation: _Optional[float] = ..., has_baseline: _Optional[bool] = ..., agent_metrics: _Optional[_Union[AgentMetrics, _Mapping]] = ..., language: _Optional[str] = ...) -> None: ...

class Hint(_message.Message):
    __slots__ = ("id", "kind", "severity", "confidence", "text", "language", "turn_ids", "signals")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    TURN_IDS_FIELD_NUMBER: _ClassVar[int]
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: HintKind
    severity: Severity
    confidence: float
    text: str
    language: str
    turn_ids: _containers.RepeatedScalarFieldContainer[str]
    signals: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[_Union[HintKind, str]] = ..., severity: _Optional[_Union[Severity, str]] = ..., confidence: _Optional[float] = ..., text: _Optional[str] = ..., language: _Optional[str] = ..., turn_ids: _Optional[_Iterable[str]] = ..., signals: _Optional[_Iterable[str]] = ...) -> None: ...
