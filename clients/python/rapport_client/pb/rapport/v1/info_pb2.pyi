from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("name", "source", "version", "sha256", "languages")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    name: str
    source: str
    version: str
    sha256: str
    languages: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., source: _Optional[str] = ..., version: _Optional[str] = ..., sha256: _Optional[str] = ..., languages: _Optional[_Iterable[str]] = ...) -> None: ...

class LabelSet(_message.Message):
    __slots__ = ("task", "labels")
    TASK_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    task: str
    labels: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, task: _Optional[str] = ..., labels: _Optional[_Iterable[str]] = ...) -> None: ...

class Limits(_message.Message):
    __slots__ = ("max_text_chars", "max_batch_messages", "max_tokens", "max_raw_bytes", "evidence_max_sentences", "evidence_mode")
    MAX_TEXT_CHARS_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MAX_RAW_BYTES_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_MAX_SENTENCES_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_MODE_FIELD_NUMBER: _ClassVar[int]
    max_text_chars: int
    max_batch_messages: int
    max_tokens: int
    max_raw_bytes: int
    evidence_max_sentences: int
    evidence_mode: str
    def __init__(self, max_text_chars: _Optional[int] = ..., max_batch_messages: _Optional[int] = ..., max_tokens: _Optional[int] = ..., max_raw_bytes: _Optional[int] = ..., evidence_max_sentences: _Optional[int] = ..., evidence_mode: _Optional[str] = ...) -> None: ...

class GetInfoResponse(_message.Message):
    __slots__ = ("version", "model_version", "models", "languages", "label_sets", "limits", "domain", "domains")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    LABEL_SETS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    DOMAINS_FIELD_NUMBER: _ClassVar[int]
    version: str
    model_version: str
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    languages: _containers.RepeatedScalarFieldContainer[str]
    label_sets: _containers.RepeatedCompositeFieldContainer[LabelSet]
    limits: Limits
    domain: str
    domains: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, version: _Optional[str] = ..., model_version: _Optional[str] = ..., models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ..., languages: _Optional[_Iterable[str]] = ..., label_sets: _Optional[_Iterable[_Union[LabelSet, _Mapping]]] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., domain: _Optional[str] = ..., domains: _Optional[_Iterable[str]] = ...) -> None: ...
