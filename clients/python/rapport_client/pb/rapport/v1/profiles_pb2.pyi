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

class Subject(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUBJECT_UNSPECIFIED: _ClassVar[Subject]
    SUBJECT_CUSTOMER: _ClassVar[Subject]
    SUBJECT_AGENT: _ClassVar[Subject]

class EventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_KIND_UNSPECIFIED: _ClassVar[EventKind]
    EVENT_KIND_PURCHASE: _ClassVar[EventKind]
    EVENT_KIND_REFUND: _ClassVar[EventKind]
    EVENT_KIND_RETURN: _ClassVar[EventKind]
    EVENT_KIND_TICKET_OPENED: _ClassVar[EventKind]
    EVENT_KIND_TICKET_CLOSED: _ClassVar[EventKind]
    EVENT_KIND_ESCALATION: _ClassVar[EventKind]
    EVENT_KIND_CSAT: _ClassVar[EventKind]
    EVENT_KIND_NPS: _ClassVar[EventKind]
    EVENT_KIND_LOGIN: _ClassVar[EventKind]
    EVENT_KIND_CHANNEL_SWITCH: _ClassVar[EventKind]
    EVENT_KIND_OTHER: _ClassVar[EventKind]

class ConsentState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONSENT_STATE_UNSPECIFIED: _ClassVar[ConsentState]
    CONSENT_STATE_UNKNOWN: _ClassVar[ConsentState]
    CONSENT_STATE_GRANTED: _ClassVar[ConsentState]
    CONSENT_STATE_WITHDRAWN: _ClassVar[ConsentState]

class RecommendationKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RECOMMENDATION_KIND_UNSPECIFIED: _ClassVar[RecommendationKind]
    USE_FORMAL_ADDRESS: _ClassVar[RecommendationKind]
    USE_INFORMAL_ADDRESS: _ClassVar[RecommendationKind]
    BE_BRIEF: _ClassVar[RecommendationKind]
    GIVE_DETAIL: _ClassVar[RecommendationKind]
    LEAD_WITH_FACTS: _ClassVar[RecommendationKind]
    ACKNOWLEDGE_FEELINGS: _ClassVar[RecommendationKind]
    OFFER_CALLBACK: _ClassVar[RecommendationKind]
    CONTACT_IN_THE_MORNING: _ClassVar[RecommendationKind]
    CONTACT_IN_THE_AFTERNOON: _ClassVar[RecommendationKind]
    CONTACT_IN_THE_EVENING: _ClassVar[RecommendationKind]
    REPLY_QUICKLY: _ClassVar[RecommendationKind]
    USE_THEIR_CHANNEL: _ClassVar[RecommendationKind]
    WRITE_IN_THEIR_LANGUAGE: _ClassVar[RecommendationKind]
    REASSURE: _ClassVar[RecommendationKind]
    GIVE_CLEAR_STRUCTURE: _ClassVar[RecommendationKind]
    KEEP_IT_WARM: _ClassVar[RecommendationKind]
SUBJECT_UNSPECIFIED: Subject
SUBJECT_CUSTOMER: Subject
SUBJECT_AGENT: Subject
EVENT_KIND_UNSPECIFIED: EventKind
EVENT_KIND_PURCHASE: EventKind
EVENT_KIND_REFUND: EventKind
EVENT_KIND_RETURN: EventKind
EVENT_KIND_TICKET_OPENED: EventKind
EVENT_KIND_TICKET_CLOSED: EventKind
EVENT_KIND_ESCALATION: EventKind
EVENT_KIND_CSAT: EventKind
EVENT_KIND_NPS: EventKind
EVENT_KIND_LOGIN: EventKind
EVENT_KIND_CHANNEL_SWITCH: EventKind
EVENT_KIND_OTHER: EventKind
CONSENT_STATE_UNSPECIFIED: ConsentState
CONSENT_STATE_UNKNOWN: ConsentState
CONSENT_STATE_GRANTED: ConsentState
CONSENT_STATE_WITHDRAWN: ConsentState
RECOMMENDATION_KIND_UNSPECIFIED: RecommendationKind
USE_FORMAL_ADDRESS: RecommendationKind
USE_INFORMAL_ADDRESS: RecommendationKind
BE_BRIEF: RecommendationKind
GIVE_DETAIL: RecommendationKind
LEAD_WITH_FACTS: RecommendationKind
ACKNOWLEDGE_FEELINGS: RecommendationKind
OFFER_CALLBACK: RecommendationKind
CONTACT_IN_THE_MORNING: RecommendationKind
CONTACT_IN_THE_AFTERNOON: RecommendationKind
CONTACT_IN_THE_EVENING: RecommendationKind
REPLY_QUICKLY: RecommendationKind
USE_THEIR_CHANNEL: RecommendationKind
WRITE_IN_THEIR_LANGUAGE: RecommendationKind
REASSURE: RecommendationKind
GIVE_CLEAR_STRUCTURE: RecommendationKind
KEEP_IT_WARM: RecommendationKind

class IngestMessagesRequest(_message.Message):
    __slots__ = ("customer_id", "messages", "subject", "return_analyses")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    RETURN_ANALYSES_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    messages: _containers.RepeatedCompositeFieldContainer[_common_pb2.Message]
    subject: Subject
    return_analyses: bool
    def __init__(self, customer_id: _Optional[str] = ..., messages: _Optional[_Iterable[_Union[_common_pb2.Message, _Mapping]]] = ..., subject: _Optional[_Union[Subject, str]] = ..., return_analyses: _Optional[bool] = ...) -> None: ...

class BehaviourEvent(_message.Message):
    __slots__ = ("id", "kind", "custom_kind", "timestamp", "channel", "amount_minor", "currency", "score", "attributes")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_KIND_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: EventKind
    custom_kind: str
    timestamp: _timestamp_pb2.Timestamp
    channel: _common_pb2.Channel
    amount_minor: int
    currency: str
    score: float
    attributes: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[_Union[EventKind, str]] = ..., custom_kind: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., amount_minor: _Optional[int] = ..., currency: _Optional[str] = ..., score: _Optional[float] = ..., attributes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class IngestEventsRequest(_message.Message):
    __slots__ = ("customer_id", "events")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    events: _containers.RepeatedCompositeFieldContainer[BehaviourEvent]
    def __init__(self, customer_id: _Optional[str] = ..., events: _Optional[_Iterable[_Union[BehaviourEvent, _Mapping]]] = ...) -> None: ...

class IngestResponse(_message.Message):
    __slots__ = ("accepted", "duplicates", "version", "analyses")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ANALYSES_FIELD_NUMBER: _ClassVar[int]
    accepted: int
    duplicates: int
    version: int
    analyses: _containers.RepeatedCompositeFieldContainer[_common_pb2.MessageAnalysis]
    def __init__(self, accepted: _Optional[int] = ..., duplicates: _Optional[int] = ..., version: _Optional[int] = ..., analyses: _Optional[_Iterable[_Union[_common_pb2.MessageAnalysis, _Mapping]]] = ...) -> None: ...

class GetProfileRequest(_message.Message):
    __slots__ = ("customer_id",)
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    def __init__(self, customer_id: _Optional[str] = ...) -> None: ...

class Contribution(_message.Message):
    __slots__ = ("kind", "name", "message_id", "timestamp", "text", "value", "contribution")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    kind: str
    name: str
    message_id: str
    timestamp: _timestamp_pb2.Timestamp
    text: str
    value: float
    contribution: float
    def __init__(self, kind: _Optional[str] = ..., name: _Optional[str] = ..., message_id: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., text: _Optional[str] = ..., value: _Optional[float] = ..., contribution: _Optional[float] = ...) -> None: ...

class TraitEstimate(_message.Message):
    __slots__ = ("trait", "score", "lower", "upper", "abstained", "evidence", "p_high", "level", "words", "note")
    TRAIT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    LOWER_FIELD_NUMBER: _ClassVar[int]
    UPPER_FIELD_NUMBER: _ClassVar[int]
    ABSTAINED_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    P_HIGH_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    trait: str
    score: float
    lower: float
    upper: float
    abstained: bool
    evidence: _containers.RepeatedCompositeFieldContainer[Contribution]
    p_high: float
    level: float
    words: float
    note: str
    def __init__(self, trait: _Optional[str] = ..., score: _Optional[float] = ..., lower: _Optional[float] = ..., upper: _Optional[float] = ..., abstained: _Optional[bool] = ..., evidence: _Optional[_Iterable[_Union[Contribution, _Mapping]]] = ..., p_high: _Optional[float] = ..., level: _Optional[float] = ..., words: _Optional[float] = ..., note: _Optional[str] = ...) -> None: ...

class Feature(_message.Message):
    __slots__ = ("name", "value", "unit", "count", "first", "last")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    FIRST_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: float
    unit: str
    count: int
    first: _timestamp_pb2.Timestamp
    last: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., value: _Optional[float] = ..., unit: _Optional[str] = ..., count: _Optional[int] = ..., first: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SignalSummary(_message.Message):
    __slots__ = ("name", "mean", "stddev", "weight", "count", "first", "last")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    STDDEV_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    FIRST_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    name: str
    mean: float
    stddev: float
    weight: float
    count: int
    first: _timestamp_pb2.Timestamp
    last: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., mean: _Optional[float] = ..., stddev: _Optional[float] = ..., weight: _Optional[float] = ..., count: _Optional[int] = ..., first: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ProfileEvidence(_message.Message):
    __slots__ = ("signal", "message_id", "timestamp", "score", "text")
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    signal: str
    message_id: str
    timestamp: _timestamp_pb2.Timestamp
    score: float
    text: str
    def __init__(self, signal: _Optional[str] = ..., message_id: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., score: _Optional[float] = ..., text: _Optional[str] = ...) -> None: ...

class DiscStyle(_message.Message):
    __slots__ = ("style", "pace", "priority", "confidence", "abstained", "evidence")
    STYLE_FIELD_NUMBER: _ClassVar[int]
    PACE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    ABSTAINED_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    style: str
    pace: float
    priority: float
    confidence: float
    abstained: bool
    evidence: _containers.RepeatedCompositeFieldContainer[Contribution]
    def __init__(self, style: _Optional[str] = ..., pace: _Optional[float] = ..., priority: _Optional[float] = ..., confidence: _Optional[float] = ..., abstained: _Optional[bool] = ..., evidence: _Optional[_Iterable[_Union[Contribution, _Mapping]]] = ...) -> None: ...

class TypeLetter(_message.Message):
    __slots__ = ("axis", "letter", "confidence", "abstained", "trait")
    AXIS_FIELD_NUMBER: _ClassVar[int]
    LETTER_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    ABSTAINED_FIELD_NUMBER: _ClassVar[int]
    TRAIT_FIELD_NUMBER: _ClassVar[int]
    axis: str
    letter: str
    confidence: float
    abstained: bool
    trait: str
    def __init__(self, axis: _Optional[str] = ..., letter: _Optional[str] = ..., confidence: _Optional[float] = ..., abstained: _Optional[bool] = ..., trait: _Optional[str] = ...) -> None: ...

class CommunicationPreferences(_message.Message):
    __slots__ = ("formality", "formality_score", "address", "detail", "words_per_message", "pace", "reply_latency_seconds", "channel", "hours", "language")
    FORMALITY_FIELD_NUMBER: _ClassVar[int]
    FORMALITY_SCORE_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    WORDS_PER_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PACE_FIELD_NUMBER: _ClassVar[int]
    REPLY_LATENCY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    HOURS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    formality: str
    formality_score: float
    address: str
    detail: str
    words_per_message: float
    pace: str
    reply_latency_seconds: float
    channel: str
    hours: _containers.RepeatedScalarFieldContainer[int]
    language: str
    def __init__(self, formality: _Optional[str] = ..., formality_score: _Optional[float] = ..., address: _Optional[str] = ..., detail: _Optional[str] = ..., words_per_message: _Optional[float] = ..., pace: _Optional[str] = ..., reply_latency_seconds: _Optional[float] = ..., channel: _Optional[str] = ..., hours: _Optional[_Iterable[int]] = ..., language: _Optional[str] = ...) -> None: ...

class Recommendation(_message.Message):
    __slots__ = ("kind", "text", "text_en", "text_ru", "confidence", "evidence")
    KIND_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TEXT_EN_FIELD_NUMBER: _ClassVar[int]
    TEXT_RU_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    kind: RecommendationKind
    text: str
    text_en: str
    text_ru: str
    confidence: float
    evidence: _containers.RepeatedCompositeFieldContainer[Contribution]
    def __init__(self, kind: _Optional[_Union[RecommendationKind, str]] = ..., text: _Optional[str] = ..., text_en: _Optional[str] = ..., text_ru: _Optional[str] = ..., confidence: _Optional[float] = ..., evidence: _Optional[_Iterable[_Union[Contribution, _Mapping]]] = ...) -> None: ...

class WeekPoint(_message.Message):
    __slots__ = ("week_start", "messages", "sentiment", "scored")
    WEEK_START_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    SENTIMENT_FIELD_NUMBER: _ClassVar[int]
    SCORED_FIELD_NUMBER: _ClassVar[int]
    week_start: _timestamp_pb2.Timestamp
    messages: int
    sentiment: float
    scored: int
    def __init__(self, week_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., messages: _Optional[int] = ..., sentiment: _Optional[float] = ..., scored: _Optional[int] = ...) -> None: ...

class Profile(_message.Message):
    __slots__ = ("customer_id", "big_five", "segment", "disc", "type_letters", "preferences", "recommendations", "timeline", "lifecycle", "messages", "events", "updated_at", "created_at", "version", "consent", "behaviour", "signals", "style", "hour_of_day", "day_of_week", "channel_mix", "languages", "evidence", "half_life_days", "derive_version", "model_version", "traits_version")
    class ChannelMixEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class LanguagesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    BIG_FIVE_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    DISC_FIELD_NUMBER: _ClassVar[int]
    TYPE_LETTERS_FIELD_NUMBER: _ClassVar[int]
    PREFERENCES_FIELD_NUMBER: _ClassVar[int]
    RECOMMENDATIONS_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    LIFECYCLE_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    BEHAVIOUR_FIELD_NUMBER: _ClassVar[int]
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    STYLE_FIELD_NUMBER: _ClassVar[int]
    HOUR_OF_DAY_FIELD_NUMBER: _ClassVar[int]
    DAY_OF_WEEK_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_MIX_FIELD_NUMBER: _ClassVar[int]
    LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    HALF_LIFE_DAYS_FIELD_NUMBER: _ClassVar[int]
    DERIVE_VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    TRAITS_VERSION_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    big_five: _containers.RepeatedCompositeFieldContainer[TraitEstimate]
    segment: str
    disc: DiscStyle
    type_letters: _containers.RepeatedCompositeFieldContainer[TypeLetter]
    preferences: CommunicationPreferences
    recommendations: _containers.RepeatedCompositeFieldContainer[Recommendation]
    timeline: _containers.RepeatedCompositeFieldContainer[WeekPoint]
    lifecycle: str
    messages: int
    events: int
    updated_at: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    version: int
    consent: ConsentState
    behaviour: _containers.RepeatedCompositeFieldContainer[Feature]
    signals: _containers.RepeatedCompositeFieldContainer[SignalSummary]
    style: _containers.RepeatedCompositeFieldContainer[Feature]
    hour_of_day: _containers.RepeatedScalarFieldContainer[float]
    day_of_week: _containers.RepeatedScalarFieldContainer[float]
    channel_mix: _containers.ScalarMap[str, float]
    languages: _containers.ScalarMap[str, float]
    evidence: _containers.RepeatedCompositeFieldContainer[ProfileEvidence]
    half_life_days: float
    derive_version: str
    model_version: str
    traits_version: str
    def __init__(self, customer_id: _Optional[str] = ..., big_five: _Optional[_Iterable[_Union[TraitEstimate, _Mapping]]] = ..., segment: _Optional[str] = ..., disc: _Optional[_Union[DiscStyle, _Mapping]] = ..., type_letters: _Optional[_Iterable[_Union[TypeLetter, _Mapping]]] = ..., preferences: _Optional[_Union[CommunicationPreferences, _Mapping]] = ..., recommendations: _Optional[_Iterable[_Union[Recommendation, _Mapping]]] = ..., timeline: _Optional[_Iterable[_Union[WeekPoint, _Mapping]]] = ..., lifecycle: _Optional[str] = ..., messages: _Optional[int] = ..., events: _Optional[int] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ..., consent: _Optional[_Union[ConsentState, str]] = ..., behaviour: _Optional[_Iterable[_Union[Feature, _Mapping]]] = ..., signals: _Optional[_Iterable[_Union[SignalSummary, _Mapping]]] = ..., style: _Optional[_Iterable[_Union[Feature, _Mapping]]] = ..., hour_of_day: _Optional[_Iterable[float]] = ..., day_of_week: _Optional[_Iterable[float]] = ..., channel_mix: _Optional[_Mapping[str, float]] = ..., languages: _Optional[_Mapping[str, float]] = ..., evidence: _Optional[_Iterable[_Union[ProfileEvidence, _Mapping]]] = ..., half_life_days: _Optional[float] = ..., derive_version: _Optional[str] = ..., model_version: _Optional[str] = ..., traits_version: _Optional[str] = ...) -> None: ...

class ExportProfileRequest(_message.Message):
    __slots__ = ("customer_id",)
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    def __init__(self, customer_id: _Optional[str] = ...) -> None: ...

class ExportProfileResponse(_message.Message):
    __slots__ = ("profile", "data_json")
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    DATA_JSON_FIELD_NUMBER: _ClassVar[int]
    profile: Profile
    data_json: str
    def __init__(self, profile: _Optional[_Union[Profile, _Mapping]] = ..., data_json: _Optional[str] = ...) -> None: ...

class EraseProfileRequest(_message.Message):
    __slots__ = ("customer_id",)
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    def __init__(self, customer_id: _Optional[str] = ...) -> None: ...

class EraseProfileResponse(_message.Message):
    __slots__ = ("erased", "rows")
    class RowsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ERASED_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    erased: bool
    rows: _containers.ScalarMap[str, int]
    def __init__(self, erased: _Optional[bool] = ..., rows: _Optional[_Mapping[str, int]] = ...) -> None: ...

class SetConsentRequest(_message.Message):
    __slots__ = ("customer_id", "consent")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    consent: ConsentState
    def __init__(self, customer_id: _Optional[str] = ..., consent: _Optional[_Union[ConsentState, str]] = ...) -> None: ...

class SetConsentResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: int
    def __init__(self, version: _Optional[int] = ...) -> None: ...

class ListSegmentsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Segment(_message.Message):
    __slots__ = ("name", "description", "customers", "centre")
    class CentreEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CUSTOMERS_FIELD_NUMBER: _ClassVar[int]
    CENTRE_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    customers: int
    centre: _containers.ScalarMap[str, float]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., customers: _Optional[int] = ..., centre: _Optional[_Mapping[str, float]] = ...) -> None: ...

class ListSegmentsResponse(_message.Message):
    __slots__ = ("segments", "lifecycle")
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    LIFECYCLE_FIELD_NUMBER: _ClassVar[int]
    segments: _containers.RepeatedCompositeFieldContainer[Segment]
    lifecycle: _containers.RepeatedCompositeFieldContainer[Segment]
    def __init__(self, segments: _Optional[_Iterable[_Union[Segment, _Mapping]]] = ..., lifecycle: _Optional[_Iterable[_Union[Segment, _Mapping]]] = ...) -> None: ...
