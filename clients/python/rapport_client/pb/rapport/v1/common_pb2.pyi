import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Channel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANNEL_UNSPECIFIED: _ClassVar[Channel]
    CHANNEL_EMAIL: _ClassVar[Channel]
    CHANNEL_CHAT: _ClassVar[Channel]
    CHANNEL_CALL_TRANSCRIPT: _ClassVar[Channel]
    CHANNEL_SMS: _ClassVar[Channel]
    CHANNEL_SOCIAL: _ClassVar[Channel]

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    ROLE_CUSTOMER: _ClassVar[Role]
    ROLE_AGENT: _ClassVar[Role]
    ROLE_BOT: _ClassVar[Role]

class TextFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TEXT_FORMAT_UNSPECIFIED: _ClassVar[TextFormat]
    TEXT_FORMAT_HTML: _ClassVar[TextFormat]
    TEXT_FORMAT_RFC822: _ClassVar[TextFormat]
    TEXT_FORMAT_CHAT_LOG: _ClassVar[TextFormat]
    TEXT_FORMAT_TRANSCRIPT: _ClassVar[TextFormat]
    TEXT_FORMAT_TRANSCRIPT_JSON: _ClassVar[TextFormat]
    TEXT_FORMAT_WEBVTT: _ClassVar[TextFormat]
    TEXT_FORMAT_SRT: _ClassVar[TextFormat]
    TEXT_FORMAT_SPEAKER_LINES: _ClassVar[TextFormat]

class CutKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CUT_KIND_UNSPECIFIED: _ClassVar[CutKind]
    CUT_KIND_QUOTE: _ClassVar[CutKind]
    CUT_KIND_FORWARD: _ClassVar[CutKind]
    CUT_KIND_SIGNATURE: _ClassVar[CutKind]
    CUT_KIND_DISCLAIMER: _ClassVar[CutKind]
    CUT_KIND_OTHER_SPEAKER: _ClassVar[CutKind]

class PiiKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PII_KIND_UNSPECIFIED: _ClassVar[PiiKind]
    PII_KIND_EMAIL: _ClassVar[PiiKind]
    PII_KIND_URL: _ClassVar[PiiKind]
    PII_KIND_CARD: _ClassVar[PiiKind]
    PII_KIND_IBAN: _ClassVar[PiiKind]
    PII_KIND_SNILS: _ClassVar[PiiKind]
    PII_KIND_INN: _ClassVar[PiiKind]
    PII_KIND_PASSPORT: _ClassVar[PiiKind]
    PII_KIND_PHONE: _ClassVar[PiiKind]
    PII_KIND_IP: _ClassVar[PiiKind]
    PII_KIND_NAME: _ClassVar[PiiKind]
    PII_KIND_ADDRESS: _ClassVar[PiiKind]
CHANNEL_UNSPECIFIED: Channel
CHANNEL_EMAIL: Channel
CHANNEL_CHAT: Channel
CHANNEL_CALL_TRANSCRIPT: Channel
CHANNEL_SMS: Channel
CHANNEL_SOCIAL: Channel
ROLE_UNSPECIFIED: Role
ROLE_CUSTOMER: Role
ROLE_AGENT: Role
ROLE_BOT: Role
TEXT_FORMAT_UNSPECIFIED: TextFormat
TEXT_FORMAT_HTML: TextFormat
TEXT_FORMAT_RFC822: TextFormat
TEXT_FORMAT_CHAT_LOG: TextFormat
TEXT_FORMAT_TRANSCRIPT: TextFormat
TEXT_FORMAT_TRANSCRIPT_JSON: TextFormat
TEXT_FORMAT_WEBVTT: TextFormat
TEXT_FORMAT_SRT: TextFormat
TEXT_FORMAT_SPEAKER_LINES: TextFormat
CUT_KIND_UNSPECIFIED: CutKind
CUT_KIND_QUOTE: CutKind
CUT_KIND_FORWARD: CutKind
CUT_KIND_SIGNATURE: CutKind
CUT_KIND_DISCLAIMER: CutKind
CUT_KIND_OTHER_SPEAKER: CutKind
PII_KIND_UNSPECIFIED: PiiKind
PII_KIND_EMAIL: PiiKind
PII_KIND_URL: PiiKind
PII_KIND_CARD: PiiKind
PII_KIND_IBAN: PiiKind
PII_KIND_SNILS: PiiKind
PII_KIND_INN: PiiKind
PII_KIND_PASSPORT: PiiKind
PII_KIND_PHONE: PiiKind
PII_KIND_IP: PiiKind
PII_KIND_NAME: PiiKind
PII_KIND_ADDRESS: PiiKind

class EmailFields(_message.Message):
    __slots__ = ("subject",)
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    subject: str
    def __init__(self, subject: _Optional[str] = ...) -> None: ...

class TranscriptSegment(_message.Message):
    __slots__ = ("speaker", "start_seconds", "end_seconds", "asr_confidence")
    SPEAKER_FIELD_NUMBER: _ClassVar[int]
    START_SECONDS_FIELD_NUMBER: _ClassVar[int]
    END_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ASR_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    speaker: str
    start_seconds: float
    end_seconds: float
    asr_confidence: float
    def __init__(self, speaker: _Optional[str] = ..., start_seconds: _Optional[float] = ..., end_seconds: _Optional[float] = ..., asr_confidence: _Optional[float] = ...) -> None: ...

class Message(_message.Message):
    __slots__ = ("id", "customer_id", "conversation_id", "channel", "role", "text", "timestamp", "language_hint", "email", "transcript", "raw", "charset", "format", "customer_speaker")
    ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_HINT_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    RAW_FIELD_NUMBER: _ClassVar[int]
    CHARSET_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_SPEAKER_FIELD_NUMBER: _ClassVar[int]
    id: str
    customer_id: str
    conversation_id: str
    channel: Channel
    role: Role
    text: str
    timestamp: _timestamp_pb2.Timestamp
    language_hint: str
    email: EmailFields
    transcript: TranscriptSegment
    raw: bytes
    charset: str
    format: TextFormat
    customer_speaker: str
    def __init__(self, id: _Optional[str] = ..., customer_id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., channel: _Optional[_Union[Channel, str]] = ..., role: _Optional[_Union[Role, str]] = ..., text: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., language_hint: _Optional[str] = ..., email: _Optional[_Union[EmailFields, _Mapping]] = ..., transcript: _Optional[_Union[TranscriptSegment, _Mapping]] = ..., raw: _Optional[bytes] = ..., charset: _Optional[str] = ..., format: _Optional[_Union[TextFormat, str]] = ..., customer_speaker: _Optional[str] = ...) -> None: ...

class Timings(_message.Message):
    __slots__ = ("tokenize_us", "queue_us", "inference_us", "total_us", "prepare_us")
    TOKENIZE_US_FIELD_NUMBER: _ClassVar[int]
    QUEUE_US_FIELD_NUMBER: _ClassVar[int]
    INFERENCE_US_FIELD_NUMBER: _ClassVar[int]
    TOTAL_US_FIELD_NUMBER: _ClassVar[int]
    PREPARE_US_FIELD_NUMBER: _ClassVar[int]
    tokenize_us: int
    queue_us: int
    inference_us: int
    total_us: int
    prepare_us: int
    def __init__(self, tokenize_us: _Optional[int] = ..., queue_us: _Optional[int] = ..., inference_us: _Optional[int] = ..., total_us: _Optional[int] = ..., prepare_us: _Optional[int] = ...) -> None: ...

class LanguageInfo(_message.Message):
    __slots__ = ("code", "confidence", "supported", "from_hint")
    CODE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    SUPPORTED_FIELD_NUMBER: _ClassVar[int]
    FROM_HINT_FIELD_NUMBER: _ClassVar[int]
    code: str
    confidence: float
    supported: bool
    from_hint: bool
    def __init__(self, code: _Optional[str] = ..., confidence: _Optional[float] = ..., supported: _Optional[bool] = ..., from_hint: _Optional[bool] = ...) -> None: ...

class Sentiment(_message.Message):
    __slots__ = ("label", "score", "confidence", "probabilities")
    class ProbabilitiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    LABEL_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    PROBABILITIES_FIELD_NUMBER: _ClassVar[int]
    label: str
    score: float
    confidence: float
    probabilities: _containers.ScalarMap[str, float]
    def __init__(self, label: _Optional[str] = ..., score: _Optional[float] = ..., confidence: _Optional[float] = ..., probabilities: _Optional[_Mapping[str, float]] = ...) -> None: ...

class Signal(_message.Message):
    __slots__ = ("value", "confidence", "source", "cross_lingual", "evidence")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CROSS_LINGUAL_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    value: float
    confidence: float
    source: str
    cross_lingual: bool
    evidence: _containers.RepeatedCompositeFieldContainer[Evidence]
    def __init__(self, value: _Optional[float] = ..., confidence: _Optional[float] = ..., source: _Optional[str] = ..., cross_lingual: _Optional[bool] = ..., evidence: _Optional[_Iterable[_Union[Evidence, _Mapping]]] = ...) -> None: ...

class Evidence(_message.Message):
    __slots__ = ("sentence", "sentence_count", "start", "end", "text", "score")
    SENTENCE_FIELD_NUMBER: _ClassVar[int]
    SENTENCE_COUNT_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    sentence: int
    sentence_count: int
    start: int
    end: int
    text: str
    score: float
    def __init__(self, sentence: _Optional[int] = ..., sentence_count: _Optional[int] = ..., start: _Optional[int] = ..., end: _Optional[int] = ..., text: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...

class AnalysisOptions(_message.Message):
    __slots__ = ("skip_evidence", "domain")
    SKIP_EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    skip_evidence: bool
    domain: str
    def __init__(self, skip_evidence: _Optional[bool] = ..., domain: _Optional[str] = ...) -> None: ...

class Style(_message.Message):
    __slots__ = ("formality", "politeness", "certainty", "directness", "emotionality", "urgency")
    FORMALITY_FIELD_NUMBER: _ClassVar[int]
    POLITENESS_FIELD_NUMBER: _ClassVar[int]
    CERTAINTY_FIELD_NUMBER: _ClassVar[int]
    DIRECTNESS_FIELD_NUMBER: _ClassVar[int]
    EMOTIONALITY_FIELD_NUMBER: _ClassVar[int]
    URGENCY_FIELD_NUMBER: _ClassVar[int]
    formality: Signal
    politeness: Signal
    certainty: Signal
    directness: Signal
    emotionality: Signal
    urgency: Signal
    def __init__(self, formality: _Optional[_Union[Signal, _Mapping]] = ..., politeness: _Optional[_Union[Signal, _Mapping]] = ..., certainty: _Optional[_Union[Signal, _Mapping]] = ..., directness: _Optional[_Union[Signal, _Mapping]] = ..., emotionality: _Optional[_Union[Signal, _Mapping]] = ..., urgency: _Optional[_Union[Signal, _Mapping]] = ...) -> None: ...

class MessageAnalysis(_message.Message):
    __slots__ = ("id", "language", "sentiment", "emotions", "emotion_labels", "style", "toxicity", "tones", "purpose", "label_signals", "abstentions", "tokens", "truncated", "evidence_tokens", "text", "model_version", "timings")
    class EmotionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class TonesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class PurposeEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class LabelSignalsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Signal
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Signal, _Mapping]] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    SENTIMENT_FIELD_NUMBER: _ClassVar[int]
    EMOTIONS_FIELD_NUMBER: _ClassVar[int]
    EMOTION_LABELS_FIELD_NUMBER: _ClassVar[int]
    STYLE_FIELD_NUMBER: _ClassVar[int]
    TOXICITY_FIELD_NUMBER: _ClassVar[int]
    TONES_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    LABEL_SIGNALS_FIELD_NUMBER: _ClassVar[int]
    ABSTENTIONS_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    id: str
    language: LanguageInfo
    sentiment: Sentiment
    emotions: _containers.ScalarMap[str, float]
    emotion_labels: _containers.RepeatedScalarFieldContainer[str]
    style: Style
    toxicity: Signal
    tones: _containers.ScalarMap[str, float]
    purpose: _containers.ScalarMap[str, float]
    label_signals: _containers.MessageMap[str, Signal]
    abstentions: _containers.RepeatedScalarFieldContainer[str]
    tokens: int
    truncated: bool
    evidence_tokens: int
    text: TextReport
    model_version: str
    timings: Timings
    def __init__(self, id: _Optional[str] = ..., language: _Optional[_Union[LanguageInfo, _Mapping]] = ..., sentiment: _Optional[_Union[Sentiment, _Mapping]] = ..., emotions: _Optional[_Mapping[str, float]] = ..., emotion_labels: _Optional[_Iterable[str]] = ..., style: _Optional[_Union[Style, _Mapping]] = ..., toxicity: _Optional[_Union[Signal, _Mapping]] = ..., tones: _Optional[_Mapping[str, float]] = ..., purpose: _Optional[_Mapping[str, float]] = ..., label_signals: _Optional[_Mapping[str, Signal]] = ..., abstentions: _Optional[_Iterable[str]] = ..., tokens: _Optional[int] = ..., truncated: _Optional[bool] = ..., evidence_tokens: _Optional[int] = ..., text: _Optional[_Union[TextReport, _Mapping]] = ..., model_version: _Optional[str] = ..., timings: _Optional[_Union[Timings, _Mapping]] = ...) -> None: ...

class TextCut(_message.Message):
    __slots__ = ("kind", "text")
    KIND_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    kind: CutKind
    text: str
    def __init__(self, kind: _Optional[_Union[CutKind, str]] = ..., text: _Optional[str] = ...) -> None: ...

class PiiSpan(_message.Message):
    __slots__ = ("kind", "start", "end")
    KIND_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    kind: PiiKind
    start: int
    end: int
    def __init__(self, kind: _Optional[_Union[PiiKind, str]] = ..., start: _Optional[int] = ..., end: _Optional[int] = ...) -> None: ...

class SentenceInfo(_message.Message):
    __slots__ = ("text", "start", "end", "language")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    text: str
    start: int
    end: int
    language: LanguageInfo
    def __init__(self, text: _Optional[str] = ..., start: _Optional[int] = ..., end: _Optional[int] = ..., language: _Optional[_Union[LanguageInfo, _Mapping]] = ...) -> None: ...

class TextFeatures(_message.Message):
    __slots__ = ("chars", "words", "sentences", "mean_word_chars", "mean_sentence_words", "type_token_ratio", "pronoun_i", "pronoun_we", "pronoun_you", "you_formal", "you_informal", "you_capitalised", "address_formality", "hedges", "intensifiers", "politeness", "apologies", "thanks", "negations", "urgency", "imperatives", "questions", "exclamations", "numbers", "emoji", "emoji_positive", "emoji_negative", "emoticons_positive", "emoticons_negative", "elongations", "repeated_punctuation", "punctuation", "caps_words", "caps_ratio", "fillers", "repetitions")
    CHARS_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    SENTENCES_FIELD_NUMBER: _ClassVar[int]
    MEAN_WORD_CHARS_FIELD_NUMBER: _ClassVar[int]
    MEAN_SENTENCE_WORDS_FIELD_NUMBER: _ClassVar[int]
    TYPE_TOKEN_RATIO_FIELD_NUMBER: _ClassVar[int]
    PRONOUN_I_FIELD_NUMBER: _ClassVar[int]
    PRONOUN_WE_FIELD_NUMBER: _ClassVar[int]
    PRONOUN_YOU_FIELD_NUMBER: _ClassVar[int]
    YOU_FORMAL_FIELD_NUMBER: _ClassVar[int]
    YOU_INFORMAL_FIELD_NUMBER: _ClassVar[int]
    YOU_CAPITALISED_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FORMALITY_FIELD_NUMBER: _ClassVar[int]
    HEDGES_FIELD_NUMBER: _ClassVar[int]
    INTENSIFIERS_FIELD_NUMBER: _ClassVar[int]
    POLITENESS_FIELD_NUMBER: _ClassVar[int]
    APOLOGIES_FIELD_NUMBER: _ClassVar[int]
    THANKS_FIELD_NUMBER: _ClassVar[int]
    NEGATIONS_FIELD_NUMBER: _ClassVar[int]
    URGENCY_FIELD_NUMBER: _ClassVar[int]
    IMPERATIVES_FIELD_NUMBER: _ClassVar[int]
    QUESTIONS_FIELD_NUMBER: _ClassVar[int]
    EXCLAMATIONS_FIELD_NUMBER: _ClassVar[int]
    NUMBERS_FIELD_NUMBER: _ClassVar[int]
    EMOJI_FIELD_NUMBER: _ClassVar[int]
    EMOJI_POSITIVE_FIELD_NUMBER: _ClassVar[int]
    EMOJI_NEGATIVE_FIELD_NUMBER: _ClassVar[int]
    EMOTICONS_POSITIVE_FIELD_NUMBER: _ClassVar[int]
    EMOTICONS_NEGATIVE_FIELD_NUMBER: _ClassVar[int]
    ELONGATIONS_FIELD_NUMBER: _ClassVar[int]
    REPEATED_PUNCTUATION_FIELD_NUMBER: _ClassVar[int]
    PUNCTUATION_FIELD_NUMBER: _ClassVar[int]
    CAPS_WORDS_FIELD_NUMBER: _ClassVar[int]
    CAPS_RATIO_FIELD_NUMBER: _ClassVar[int]
    FILLERS_FIELD_NUMBER: _ClassVar[int]
    REPETITIONS_FIELD_NUMBER: _ClassVar[int]
    chars: int
    words: int
    sentences: int
    mean_word_chars: float
    mean_sentence_words: float
    type_token_ratio: float
    pronoun_i: int
    pronoun_we: int
    pronoun_you: int
    you_formal: int
    you_informal: int
    you_capitalised: int
    address_formality: float
    hedges: int
    intensifiers: int
    politeness: int
    apologies: int
    thanks: int
    negations: int
    urgency: int
    imperatives: int
    questions: int
    exclamations: int
    numbers: int
    emoji: int
    emoji_positive: int
    emoji_negative: int
    emoticons_positive: int
    emoticons_negative: int
    elongations: int
    repeated_punctuation: int
    punctuation: int
    caps_words: int
    caps_ratio: float
    fillers: int
    repetitions: int
    def __init__(self, chars: _Optional[int] = ..., words: _Optional[int] = ..., sentences: _Optional[int] = ..., mean_word_chars: _Optional[float] = ..., mean_sentence_words: _Optional[float] = ..., type_token_ratio: _Optional[float] = ..., pronoun_i: _Optional[int] = ..., pronoun_we: _Optional[int] = ..., pronoun_you: _Optional[int] = ..., you_formal: _Optional[int] = ..., you_informal: _Optional[int] = ..., you_capitalised: _Optional[int] = ..., address_formality: _Optional[float] = ..., hedges: _Optional[int] = ..., intensifiers: _Optional[int] = ..., politeness: _Optional[int] = ..., apologies: _Optional[int] = ..., thanks: _Optional[int] = ..., negations: _Optional[int] = ..., urgency: _Optional[int] = ..., imperatives: _Optional[int] = ..., questions: _Optional[int] = ..., exclamations: _Optional[int] = ..., numbers: _Optional[int] = ..., emoji: _Optional[int] = ..., emoji_positive: _Optional[int] = ..., emoji_negative: _Optional[int] = ..., emoticons_positive: _Optional[int] = ..., emoticons_negative: _Optional[int] = ..., elongations: _Optional[int] = ..., repeated_punctuation: _Optional[int] = ..., punctuation: _Optional[int] = ..., caps_words: _Optional[int] = ..., caps_ratio: _Optional[float] = ..., fillers: _Optional[int] = ..., repetitions: _Optional[int] = ...) -> None: ...

class TextTurn(_message.Message):
    __slots__ = ("speaker", "role", "start_seconds", "end_seconds", "text")
    SPEAKER_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    START_SECONDS_FIELD_NUMBER: _ClassVar[int]
    END_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    speaker: str
    role: Role
    start_seconds: float
    end_seconds: float
    text: str
    def __init__(self, speaker: _Optional[str] = ..., role: _Optional[_Union[Role, str]] = ..., start_seconds: _Optional[float] = ..., end_seconds: _Optional[float] = ..., text: _Optional[str] = ...) -> None: ...

class ChatSummary(_message.Message):
    __slots__ = ("turns", "customer_turns", "one_word_turns", "mean_customer_turn_words", "agent_response_latency_seconds", "customer_response_latency_seconds")
    TURNS_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_TURNS_FIELD_NUMBER: _ClassVar[int]
    ONE_WORD_TURNS_FIELD_NUMBER: _ClassVar[int]
    MEAN_CUSTOMER_TURN_WORDS_FIELD_NUMBER: _ClassVar[int]
    AGENT_RESPONSE_LATENCY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_RESPONSE_LATENCY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    turns: int
    customer_turns: int
    one_word_turns: int
    mean_customer_turn_words: float
    agent_response_latency_seconds: float
    customer_response_latency_seconds: float
    def __init__(self, turns: _Optional[int] = ..., customer_turns: _Optional[int] = ..., one_word_turns: _Optional[int] = ..., mean_customer_turn_words: _Optional[float] = ..., agent_response_latency_seconds: _Optional[float] = ..., customer_response_latency_seconds: _Optional[float] = ...) -> None: ...

class SpeakerMetrics(_message.Message):
    __slots__ = ("speaker", "role", "segments", "words", "talk_time_seconds", "talk_ratio", "words_per_minute", "fillers", "repetitions", "fillers_per_100_words", "interruptions_made", "interrupted", "overlap_seconds", "longest_monologue_seconds", "mean_response_latency_seconds")
    SPEAKER_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    TALK_TIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TALK_RATIO_FIELD_NUMBER: _ClassVar[int]
    WORDS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    FILLERS_FIELD_NUMBER: _ClassVar[int]
    REPETITIONS_FIELD_NUMBER: _ClassVar[int]
    FILLERS_PER_100_WORDS_FIELD_NUMBER: _ClassVar[int]
    INTERRUPTIONS_MADE_FIELD_NUMBER: _ClassVar[int]
    INTERRUPTED_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LONGEST_MONOLOGUE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MEAN_RESPONSE_LATENCY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    speaker: str
    role: Role
    segments: int
    words: int
    talk_time_seconds: float
    talk_ratio: float
    words_per_minute: float
    fillers: int
    repetitions: int
    fillers_per_100_words: float
    interruptions_made: int
    interrupted: int
    overlap_seconds: float
    longest_monologue_seconds: float
    mean_response_latency_seconds: float
    def __init__(self, speaker: _Optional[str] = ..., role: _Optional[_Union[Role, str]] = ..., segments: _Optional[int] = ..., words: _Optional[int] = ..., talk_time_seconds: _Optional[float] = ..., talk_ratio: _Optional[float] = ..., words_per_minute: _Optional[float] = ..., fillers: _Optional[int] = ..., repetitions: _Optional[int] = ..., fillers_per_100_words: _Optional[float] = ..., interruptions_made: _Optional[int] = ..., interrupted: _Optional[int] = ..., overlap_seconds: _Optional[float] = ..., longest_monologue_seconds: _Optional[float] = ..., mean_response_latency_seconds: _Optional[float] = ...) -> None: ...

class CallMetrics(_message.Message):
    __slots__ = ("timed", "duration_seconds", "speakers", "overlaps", "overlap_seconds", "interruptions", "pauses", "longest_pause_seconds", "silence_seconds", "longest_monologue_seconds")
    TIMED_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SPEAKERS_FIELD_NUMBER: _ClassVar[int]
    OVERLAPS_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_SECONDS_FIELD_NUMBER: _ClassVar[int]
    INTERRUPTIONS_FIELD_NUMBER: _ClassVar[int]
    PAUSES_FIELD_NUMBER: _ClassVar[int]
    LONGEST_PAUSE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SILENCE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LONGEST_MONOLOGUE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    timed: bool
    duration_seconds: float
    speakers: _containers.RepeatedCompositeFieldContainer[SpeakerMetrics]
    overlaps: int
    overlap_seconds: float
    interruptions: int
    pauses: int
    longest_pause_seconds: float
    silence_seconds: float
    longest_monologue_seconds: float
    def __init__(self, timed: _Optional[bool] = ..., duration_seconds: _Optional[float] = ..., speakers: _Optional[_Iterable[_Union[SpeakerMetrics, _Mapping]]] = ..., overlaps: _Optional[int] = ..., overlap_seconds: _Optional[float] = ..., interruptions: _Optional[int] = ..., pauses: _Optional[int] = ..., longest_pause_seconds: _Optional[float] = ..., silence_seconds: _Optional[float] = ..., longest_monologue_seconds: _Optional[float] = ...) -> None: ...

class TextReport(_message.Message):
    __slots__ = ("redacted", "cuts", "pii", "sentences", "language_shares", "mixed_language", "features", "subject", "turns", "chat", "call", "warnings")
    class LanguageSharesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    REDACTED_FIELD_NUMBER: _ClassVar[int]
    CUTS_FIELD_NUMBER: _ClassVar[int]
    PII_FIELD_NUMBER: _ClassVar[int]
    SENTENCES_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_SHARES_FIELD_NUMBER: _ClassVar[int]
    MIXED_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    TURNS_FIELD_NUMBER: _ClassVar[int]
    CHAT_FIELD_NUMBER: _ClassVar[int]
    CALL_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    redacted: str
    cuts: _containers.RepeatedCompositeFieldContainer[TextCut]
    pii: _containers.RepeatedCompositeFieldContainer[PiiSpan]
    sentences: _containers.RepeatedCompositeFieldContainer[SentenceInfo]
    language_shares: _containers.ScalarMap[str, float]
    mixed_language: bool
    features: TextFeatures
    subject: str
    turns: _containers.RepeatedCompositeFieldContainer[TextTurn]
    chat: ChatSummary
    call: CallMetrics
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, redacted: _Optional[str] = ..., cuts: _Optional[_Iterable[_Union[TextCut, _Mapping]]] = ..., pii: _Optional[_Iterable[_Union[PiiSpan, _Mapping]]] = ..., sentences: _Optional[_Iterable[_Union[SentenceInfo, _Mapping]]] = ..., language_shares: _Optional[_Mapping[str, float]] = ..., mixed_language: _Optional[bool] = ..., features: _Optional[_Union[TextFeatures, _Mapping]] = ..., subject: _Optional[str] = ..., turns: _Optional[_Iterable[_Union[TextTurn, _Mapping]]] = ..., chat: _Optional[_Union[ChatSummary, _Mapping]] = ..., call: _Optional[_Union[CallMetrics, _Mapping]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...
