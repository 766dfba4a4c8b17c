"""Typed helpers over the generated stubs: one channel, every rapport service."""
from __future__ import annotations

import datetime as _dt
import itertools
import json
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional, Union

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from .pb import (
    analyzer_pb2,
    analyzer_pb2_grpc,
    common_pb2,
    info_pb2,
    info_pb2_grpc,
    live_pb2,
    live_pb2_grpc,
    profiles_pb2,
    profiles_pb2_grpc,
    scoring_pb2,
    scoring_pb2_grpc,
)

DEFAULT_TARGET = "127.0.0.1:50051"

MessageLike = Union[common_pb2.Message, str, Mapping[str, Any]]
EventLike = Union[profiles_pb2.BehaviourEvent, Mapping[str, Any]]
TurnLike = Union[live_pb2.LiveTurn, Mapping[str, Any], "tuple[Any, str]"]
TimeLike = Union[Timestamp, _dt.datetime, float, int, str]

_STATUS_BY_CODE = {s.value[0]: s for s in grpc.StatusCode}


# ----------------------------------------------------------------------------- conversions

def _enum(enum_type: Any, prefix: str, value: Any) -> int:
    """`"chat"`, `"CHAT"`, `"CHANNEL_CHAT"` or the number -> the enum's number."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    name = str(value).strip().upper().replace("-", "_").replace(" ", "_")
    if not name.startswith(prefix):
        name = prefix + name
    try:
        return enum_type.Value(name)
    except ValueError:
        names = ", ".join(n[len(prefix):].lower() for n in enum_type.keys() if not n.endswith("UNSPECIFIED"))
        raise ValueError(f"{value!r} is not one of {names}") from None


def _timestamp(value: Optional[TimeLike]) -> Optional[Timestamp]:
    """A `Timestamp` from a datetime (naive = UTC), seconds since the epoch, or an RFC 3339 string."""
    if value is None or isinstance(value, Timestamp):
        return value
    ts = Timestamp()
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        ts.FromDatetime(value)
    elif isinstance(value, (int, float)):
        ts.seconds = int(value // 1)
        ts.nanos = int(round((value - ts.seconds) * 1e9)) if isinstance(value, float) else 0
    elif isinstance(value, str):
        ts.FromJsonString(value)
    else:
        raise TypeError(f"cannot make a timestamp of {type(value).__name__}")
    return ts


timestamp = _timestamp


def message(text: Optional[str] = None, *, id: str = "", channel: Any = None, role: Any = None,
            timestamp: Optional[TimeLike] = None, subject: Optional[str] = None, **fields: Any) -> common_pb2.Message:
    """A `rapport.v1.Message` with friendly values.

    `channel` takes "email", "chat", "call_transcript", "sms", "social" (or the enum), `role`
    "customer", "agent", "bot"; `timestamp` a datetime, epoch seconds or RFC 3339 string;
    `subject` sets the email subject. Other keyword arguments are Message fields as they are
    (`customer_id`, `conversation_id`, `language_hint`, `raw`, `charset`, `format`, ...); a
    `format` may also be given by name ("rfc822", "html", "webvtt", ...).
    """
    if "format" in fields:
        fields["format"] = _enum(common_pb2.TextFormat, "TEXT_FORMAT_", fields["format"])
    m = common_pb2.Message(id=id, channel=_enum(common_pb2.Channel, "CHANNEL_", channel),
                           role=_enum(common_pb2.Role, "ROLE_", role), **fields)
    if text is not None:
        m.text = text
    if timestamp is not None:
        m.timestamp.CopyFrom(_timestamp(timestamp))
    if subject is not None:
        m.email.subject = subject
    return m


def _message(value: MessageLike, default_id: str = "") -> common_pb2.Message:
    if isinstance(value, common_pb2.Message):
        return value
    if isinstance(value, str):
        return message(value, id=default_id)
    if isinstance(value, Mapping):
        fields = dict(value)
        fields.setdefault("id", default_id)
        return message(**fields)
    raise TypeError(f"a message is a Message, a str or a mapping, not {type(value).__name__}")


def event(kind: Any, *, id: str, timestamp: TimeLike, score: Optional[float] = None,
          channel: Any = None, attributes: Optional[Mapping[str, str]] = None,
          **fields: Any) -> profiles_pb2.BehaviourEvent:
    """A `BehaviourEvent`: `kind` is "purchase", "refund", "return", "ticket_opened",
    "ticket_closed", "escalation", "csat", "nps", "login", "channel_switch" or "other" (then
    give `custom_kind`), or the enum. Other keyword arguments are BehaviourEvent fields
    (`amount_minor`, `currency`, `custom_kind`)."""
    e = profiles_pb2.BehaviourEvent(id=id, kind=_enum(profiles_pb2.EventKind, "EVENT_KIND_", kind),
                                    channel=_enum(common_pb2.Channel, "CHANNEL_", channel),
                                    attributes=dict(attributes or {}), **fields)
    e.timestamp.CopyFrom(_timestamp(timestamp))
    if score is not None:
        e.score = score
    return e


def _event(value: EventLike) -> profiles_pb2.BehaviourEvent:
    if isinstance(value, profiles_pb2.BehaviourEvent):
        return value
    if isinstance(value, Mapping):
        fields = dict(value)
        return event(fields.pop("kind"), **fields)
    raise TypeError(f"an event is a BehaviourEvent or a mapping, not {type(value).__name__}")


def _turn(value: TurnLike, next_id: Callable[[], str]) -> live_pb2.LiveTurn:
    if isinstance(value, live_pb2.LiveTurn):
        return value
    if isinstance(value, tuple):
        role, text = value
        fields: dict[str, Any] = {"role": role, "text": text}
    elif isinstance(value, Mapping):
        fields = dict(value)
    else:
        raise TypeError(f"a turn is a LiveTurn, a (role, text) tuple or a mapping, not {type(value).__name__}")
    if not fields.get("turn_id"):
        fields["turn_id"] = next_id()
    fields["role"] = _enum(common_pb2.Role, "ROLE_", fields.get("role"))
    ts = _timestamp(fields.pop("timestamp", None) or _dt.datetime.now(_dt.timezone.utc))
    return live_pb2.LiveTurn(timestamp=ts, **fields)


def _options(skip_evidence: bool) -> Optional[common_pb2.AnalysisOptions]:
    return common_pb2.AnalysisOptions(skip_evidence=True) if skip_evidence else None


def _health_pb2() -> Any:
    """grpc.health.v1's messages: grpcio-health-checking's where it is installed (the two
    cannot share protobuf's default pool), else the ones generated from proto/."""
    try:
        from grpc_health.v1 import health_pb2
    except ImportError:
        from .pb.grpc.health.v1 import health_pb2
    return health_pb2


# ----------------------------------------------------------------------------- results

@dataclass(frozen=True)
class ScoreResult:
    """One message's answer in a Score stream: its analysis, or why it was not scored."""

    sequence: int
    """Position of the message in the stream, from 0."""
    id: str
    """The id the message was sent with."""
    analysis: Optional[common_pb2.MessageAnalysis]
    error: str = ""
    """Empty when `analysis` is set; else what was wrong, e.g. `requests[1].message.text: ...`."""
    code: Optional[grpc.StatusCode] = None
    """The status the error would have had: INVALID_ARGUMENT (fix the message),
    RESOURCE_EXHAUSTED or DEADLINE_EXCEEDED (send it again later)."""

    @property
    def ok(self) -> bool:
        return self.analysis is not None and not self.error

    @property
    def retryable(self) -> bool:
        return self.code in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.DEADLINE_EXCEEDED)


@dataclass(frozen=True)
class ProfileExport:
    """Everything stored about a customer: the profile and the store's JSON, parsed."""

    profile: profiles_pb2.Profile
    data: dict[str, Any] = field(default_factory=dict)


class ConversationError(RuntimeError):
    """The LiveAssist stream answered out of turn (not a gRPC error: those raise grpc.RpcError)."""


# ----------------------------------------------------------------------------- services

class Profiles:
    """The `rapport.v1.Profiles` service: ingestion, the stored profile, GDPR access and erasure."""

    def __init__(self, client: "RapportClient") -> None:
        self._c = client
        self.stub = profiles_pb2_grpc.ProfilesStub(client.channel)

    def ingest_messages(self, customer_id: str, messages: Iterable[MessageLike], *,
                        agent: bool = False, return_analyses: bool = False,
                        timeout: Optional[float] = None) -> profiles_pb2.IngestResponse:
        """Analyses a customer's messages and folds them into the profile (idempotent by id:
        each message needs an `id`). `agent=True` builds an agent's own profile instead.
        `return_analyses=True` also returns, in `.analyses`, the analyses of the messages this
        call analysed (the subject's own, with ids not stored before)."""
        req = profiles_pb2.IngestMessagesRequest(
            customer_id=customer_id, messages=[_message(m) for m in messages],
            subject=profiles_pb2.SUBJECT_AGENT if agent else profiles_pb2.SUBJECT_UNSPECIFIED,
            return_analyses=return_analyses)
        return self.stub.IngestMessages(req, **self._c._call(timeout))

    def ingest_events(self, customer_id: str, events: Iterable[EventLike], *,
                      timeout: Optional[float] = None) -> profiles_pb2.IngestResponse:
        """Adds behavioural events (see `rapport_client.event`), idempotent by id."""
        req = profiles_pb2.IngestEventsRequest(customer_id=customer_id, events=[_event(e) for e in events])
        return self.stub.IngestEvents(req, **self._c._call(timeout))

    def get(self, customer_id: str, *, timeout: Optional[float] = None) -> Optional[profiles_pb2.Profile]:
        """The stored profile, or None for a customer the store does not know."""
        try:
            return self.stub.GetProfile(profiles_pb2.GetProfileRequest(customer_id=customer_id),
                                        **self._c._call(timeout))
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise

    def export(self, customer_id: str, *, timeout: Optional[float] = None) -> ProfileExport:
        """Everything stored about the customer (GDPR access; audited by the server)."""
        r = self.stub.ExportProfile(profiles_pb2.ExportProfileRequest(customer_id=customer_id),
                                    **self._c._call(timeout))
        return ProfileExport(profile=r.profile, data=json.loads(r.data_json) if r.data_json else {})

    def erase(self, customer_id: str, *, timeout: Optional[float] = None) -> profiles_pb2.EraseProfileResponse:
        """Deletes everything stored about the customer (GDPR erasure)."""
        return self.stub.EraseProfile(profiles_pb2.EraseProfileRequest(customer_id=customer_id),
                                      **self._c._call(timeout))

    def set_consent(self, customer_id: str, granted: bool, *, timeout: Optional[float] = None) -> int:
        """Records consent granted (True) or withdrawn (False); returns the profile's version."""
        state = profiles_pb2.CONSENT_STATE_GRANTED if granted else profiles_pb2.CONSENT_STATE_WITHDRAWN
        return self.stub.SetConsent(profiles_pb2.SetConsentRequest(customer_id=customer_id, consent=state),
                                    **self._c._call(timeout)).version

    def segments(self, *, timeout: Optional[float] = None) -> list[profiles_pb2.Segment]:
        """The latest `rapport segment` run's segments (empty before any run)."""
        return list(self.stub.ListSegments(profiles_pb2.ListSegmentsRequest(), **self._c._call(timeout)).segments)

    def lifecycle(self, *, timeout: Optional[float] = None) -> list[profiles_pb2.Segment]:
        """The lifecycle stages with how many customers are in each."""
        return list(self.stub.ListSegments(profiles_pb2.ListSegmentsRequest(), **self._c._call(timeout)).lifecycle)


class Conversation:
    """One LiveAssist stream, in lock step: each `turn` sends a turn and returns its TurnResult.

    Use it as a context manager (`with client.conversation("c-1") as conv:`): entering sends
    `start` (the answer is in `opened`), leaving sends `end` (the answer is in `closed`).
    """

    def __init__(self, client: "RapportClient", start: live_pb2.SessionStart, timeout: Optional[float]) -> None:
        self._requests: "queue.Queue[Optional[live_pb2.AssistRequest]]" = queue.Queue()
        self._start = start
        self._call_kwargs = client._call(timeout, stream=True)
        self._stub = live_pb2_grpc.LiveAssistStub(client.channel)
        self._responses: Any = None
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.opened: Optional[live_pb2.SessionOpened] = None
        self.closed: Optional[live_pb2.SessionClosed] = None

    def _request_stream(self) -> Iterator[live_pb2.AssistRequest]:
        while True:
            r = self._requests.get()
            if r is None:
                return
            yield r

    def _exchange(self, request: live_pb2.AssistRequest, want: str) -> Any:
        self._requests.put(request)
        try:
            reply = next(self._responses)
        except StopIteration:
            raise ConversationError(f"the stream ended before the {want} reply") from None
        kind = reply.WhichOneof("kind")
        if kind != want:
            raise ConversationError(f"expected {want}, the server answered {kind}: {reply}")
        return getattr(reply, kind)

    def open(self) -> live_pb2.SessionOpened:
        """Opens the stream and the session (or resumes a detached one with the same id)."""
        if self._responses is None:
            self._responses = self._stub.Assist(self._request_stream(), **self._call_kwargs)
            self.opened = self._exchange(live_pb2.AssistRequest(start=self._start), "opened")
        assert self.opened is not None
        return self.opened

    def turn(self, role: Any, text: str, *, turn_id: Optional[str] = None,
             timestamp: Optional[TimeLike] = None, **fields: Any) -> live_pb2.TurnResult:
        """Sends one turn ("customer" or "agent", its text; the time defaults to now) and
        returns its TurnResult: analysis, conversation state, new hints, withdrawn hint ids.
        A turn the server cannot analyse comes back with `error` set; the stream goes on."""
        return self.send({"role": role, "text": text, "turn_id": turn_id, "timestamp": timestamp, **fields})

    def send(self, turn: TurnLike) -> live_pb2.TurnResult:
        """Sends a LiveTurn (or a mapping, or a (role, text) tuple) and returns its TurnResult.
        Turns without a `turn_id` are numbered t1, t2, ... in the order sent."""
        with self._lock:
            self.open()
            return self._exchange(live_pb2.AssistRequest(turn=_turn(turn, lambda: f"t{next(self._ids)}")), "turn")

    def end(self, reason: str = "") -> live_pb2.SessionClosed:
        """Ends the session; the answer says whether the customer's profile was updated."""
        with self._lock:
            if self.closed is None and self._responses is not None:
                self.closed = self._exchange(live_pb2.AssistRequest(end=live_pb2.SessionEnd(reason=reason)), "closed")
                self._requests.put(None)
                for _ in self._responses:  # the server ends the stream
                    pass
            assert self.closed is not None
            return self.closed

    def cancel(self) -> None:
        """Breaks the stream without `end`: the server keeps the session for its grace period,
        and a new conversation with the same id resumes it."""
        if self._responses is not None:
            self._responses.cancel()
        self._requests.put(None)

    def __enter__(self) -> "Conversation":
        self.open()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.end("ended")
        else:
            self.cancel()


class RapportClient:
    """A client for a rapport server: `RapportClient("127.0.0.1:50051")`.

    `credentials` (grpc.ssl_channel_credentials(...)) makes a TLS channel; `token` sends
    `authorization: Bearer <token>` with every call; `timeout` is the default deadline of each
    call in seconds (None: none). Pass `channel` to reuse a channel of your own.
    """

    def __init__(self, target: str = DEFAULT_TARGET, *, credentials: Optional[grpc.ChannelCredentials] = None,
                 token: Optional[str] = None, timeout: Optional[float] = 30.0,
                 options: Sequence[tuple[str, Any]] = (), channel: Optional[grpc.Channel] = None) -> None:
        self.target = target
        if channel is None:
            opts = [("grpc.max_receive_message_length", 64 << 20), *options]
            channel = (grpc.secure_channel(target, credentials, options=opts) if credentials is not None
                       else grpc.insecure_channel(target, options=opts))
        self.channel = channel
        self.timeout = timeout
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._analyzer = analyzer_pb2_grpc.AnalyzerStub(channel)
        self._scoring = scoring_pb2_grpc.ScoringStub(channel)
        self._info = info_pb2_grpc.InfoStub(channel)
        self._health_check: Any = None
        self.profiles = Profiles(self)

    def _call(self, timeout: Optional[float], stream: bool = False) -> dict[str, Any]:
        # Streams last as long as their input: no default deadline for them.
        t = timeout if timeout is not None else (None if stream else self.timeout)
        return {"timeout": t, "metadata": self._metadata}

    # -- lifecycle
    def wait_ready(self, timeout: float = 30.0) -> None:
        """Blocks until the channel connects (grpc.FutureTimeoutError after `timeout`)."""
        grpc.channel_ready_future(self.channel).result(timeout=timeout)

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> "RapportClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- health and info
    def health(self, service: str = "", *, timeout: Optional[float] = None) -> str:
        """grpc.health.v1 status of the server ("") or of one service ("rapport.v1.Analyzer"):
        "SERVING" once the model is loaded and warm, else "NOT_SERVING"."""
        health_pb2 = _health_pb2()
        if self._health_check is None:
            self._health_check = self.channel.unary_unary(
                "/grpc.health.v1.Health/Check",
                request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                response_deserializer=health_pb2.HealthCheckResponse.FromString)
        r = self._health_check(health_pb2.HealthCheckRequest(service=service), **self._call(timeout))
        return health_pb2.HealthCheckResponse.ServingStatus.Name(r.status)

    def info(self, *, timeout: Optional[float] = None) -> info_pb2.GetInfoResponse:
        """Server and model versions, languages, label sets and limits."""
        return self._info.GetInfo(info_pb2.GetInfoRequest(), **self._call(timeout))

    # -- analysis
    def analyze(self, messages: Union[MessageLike, Iterable[MessageLike]], *, skip_evidence: bool = False,
                timeout: Optional[float] = None) -> list[common_pb2.MessageAnalysis]:
        """Analyses a batch of messages (a str, a mapping, a Message, or a list of them): one
        MessageAnalysis each, in order. A bad message fails the call with INVALID_ARGUMENT
        naming it (`messages[1].text: ...`); use `score` to get per-message errors instead."""
        if isinstance(messages, (str, Mapping, common_pb2.Message)):
            messages = [messages]
        req = analyzer_pb2.AnalyzeRequest(messages=[_message(m, f"m{i}") for i, m in enumerate(messages)],
                                          options=_options(skip_evidence))
        return list(self._analyzer.Analyze(req, **self._call(timeout)).analyses)

    def analyze_conversation(self, turns: Iterable[MessageLike], *, conversation_id: str = "",
                             skip_evidence: bool = False,
                             timeout: Optional[float] = None) -> analyzer_pb2.AnalyzeConversationResponse:
        """Analyses the ordered turns of one conversation (give each a `role` and `timestamp`):
        per-turn analyses, sentiment trajectories per role and turn metrics."""
        req = analyzer_pb2.AnalyzeConversationRequest(
            conversation_id=conversation_id, turns=[_message(m, f"t{i}") for i, m in enumerate(turns)],
            options=_options(skip_evidence))
        return self._analyzer.AnalyzeConversation(req, **self._call(timeout))

    def score(self, messages: Iterable[MessageLike], *, skip_evidence: bool = False,
              timeout: Optional[float] = None) -> Iterator[ScoreResult]:
        """Scores any number of messages over one Score stream, lazily: `messages` is read as
        the server makes room (HTTP/2 flow control), and each message's ScoreResult comes back
        in order. A message the server cannot score (empty, too long, ...) comes back with
        `error` and `code` and the stream goes on; a broken stream raises grpc.RpcError."""
        ids: dict[int, str] = {}
        options = _options(skip_evidence)

        def requests() -> Iterator[scoring_pb2.ScoreRequest]:
            for i, m in enumerate(messages):
                msg = _message(m, str(i))
                ids[i] = msg.id
                yield scoring_pb2.ScoreRequest(message=msg, options=options)

        call = self._scoring.Score(requests(), **self._call(timeout, stream=True))
        try:
            for r in call:
                has = r.HasField("analysis")
                yield ScoreResult(sequence=r.sequence, id=ids.pop(r.sequence, r.analysis.id if has else ""),
                                  analysis=r.analysis if has else None, error=r.error,
                                  code=_STATUS_BY_CODE.get(r.error_code) if r.error else None)
        finally:
            call.cancel()  # a no-op once the stream has ended; stops it when the caller breaks off

    # -- live
    def conversation(self, conversation_id: str, *, customer_id: str = "", channel: Any = "chat",
                     languages: Sequence[str] = (), update_profile: bool = False,
                     timeout: Optional[float] = None) -> Conversation:
        """A LiveAssist session, for `with client.conversation("c-1") as conv: conv.turn(...)`."""
        start = live_pb2.SessionStart(conversation_id=conversation_id, customer_id=customer_id,
                                      channel=_enum(common_pb2.Channel, "CHANNEL_", channel),
                                      languages=list(languages), update_profile=update_profile)
        return Conversation(self, start, timeout)

    def assist(self, conversation_id: str, turns: Iterable[TurnLike], **start: Any) -> Iterator[live_pb2.TurnResult]:
        """Plays `turns` through one LiveAssist session (start, the turns, end) and yields each
        TurnResult as it comes; keyword arguments are those of `conversation`."""
        with self.conversation(conversation_id, **start) as conv:
            for t in turns:
                yield conv.send(t)
