"""A Python gRPC client generated from proto/ at run time calls a running rapport server.

usage: client_check.py HOST:PORT PROTO_DIR KOI8R_EML
Exits non-zero, with the reason, on any mismatch."""
import os
import sys
import tempfile

import grpc
import grpc_tools
from grpc_tools import protoc

addr, proto_dir, eml = sys.argv[1], sys.argv[2], sys.argv[3]
out = tempfile.mkdtemp(prefix="rapport-py-")
well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
files = [f"rapport/v1/{n}.proto" for n in ("common", "analyzer", "scoring", "live", "profiles", "info")]
rc = protoc.main(["protoc", f"-I{proto_dir}", f"-I{well_known}", f"--python_out={out}", f"--grpc_python_out={out}", *files])
assert rc == 0, f"protoc failed with {rc}"
sys.path.insert(0, out)

from rapport.v1 import analyzer_pb2, analyzer_pb2_grpc, common_pb2, info_pb2, info_pb2_grpc  # noqa: E402
from rapport.v1 import profiles_pb2, profiles_pb2_grpc  # noqa: E402
from rapport.v1 import live_pb2, live_pb2_grpc  # noqa: E402
from google.protobuf.timestamp_pb2 import Timestamp  # noqa: E402

channel = grpc.insecure_channel(addr)
grpc.channel_ready_future(channel).result(timeout=30)
analyzer = analyzer_pb2_grpc.AnalyzerStub(channel)

req = analyzer_pb2.AnalyzeRequest(messages=[
    common_pb2.Message(id="py-en", text="The new plan is great, thanks for the help!",
                       channel=common_pb2.CHANNEL_EMAIL, role=common_pb2.ROLE_CUSTOMER,
                       email=common_pb2.EmailFields(subject="Plan change")),
    common_pb2.Message(id="py-ru", text="Третий день не могу дозвониться в поддержку.",
                       channel=common_pb2.CHANNEL_CHAT, role=common_pb2.ROLE_CUSTOMER),
])
resp = analyzer.Analyze(req, timeout=30)
assert [a.id for a in resp.analyses] == ["py-en", "py-ru"], resp
for a, lang in zip(resp.analyses, ["en", "ru"]):
    assert a.language.code == lang, a
    assert a.sentiment.label in ("negative", "neutral", "positive"), a
    assert -1.0 <= a.sentiment.score <= 1.0, a
    assert abs(sum(a.sentiment.probabilities.values()) - 1.0) < 1e-4, a
    assert a.model_version, a
    assert set(a.emotion_labels) <= set(a.emotions), a  # decisions on the seven probabilities

try:
    analyzer.Analyze(analyzer_pb2.AnalyzeRequest(messages=[common_pb2.Message(id="e", text="")]), timeout=30)
    raise AssertionError("empty text was accepted")
except grpc.RpcError as e:
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e
    assert e.details().startswith("messages[0].text"), e.details()

# A whole KOI8-R email as bytes: decoded, the signature cut, personal data redacted.
with open(eml, "rb") as f:
    raw = f.read()
resp = analyzer.Analyze(analyzer_pb2.AnalyzeRequest(messages=[
    common_pb2.Message(id="py-eml", raw=raw, format=common_pb2.TEXT_FORMAT_RFC822,
                       channel=common_pb2.CHANNEL_EMAIL)]), timeout=30)
a = resp.analyses[0]
assert a.language.code == "ru", a
assert a.text.redacted.startswith("Подскажите, пожалуйста"), a.text
assert a.text.subject == "Вопрос", a.text
assert [c.kind for c in a.text.cuts] == [common_pb2.CUT_KIND_SIGNATURE], a.text
assert a.text.features.questions >= 1, a.text
assert a.timings.prepare_us > 0, a.timings

# A CRM job's profile round trip: messages and a purchase in, the profile out, then erased.
profiles = profiles_pb2_grpc.ProfilesStub(channel)
ts = lambda s: Timestamp(seconds=s)  # noqa: E731
t0 = 1_793_610_000
got = profiles.IngestMessages(profiles_pb2.IngestMessagesRequest(customer_id="py-crm-1", messages=[
    common_pb2.Message(id="pm1", text="Where is my refund? I was promised it last week.", timestamp=ts(t0),
                       conversation_id="c1", role=common_pb2.ROLE_CUSTOMER, channel=common_pb2.CHANNEL_CHAT),
    common_pb2.Message(id="pa1", text="Let me check that for you.", timestamp=ts(t0 + 60),
                       conversation_id="c1", role=common_pb2.ROLE_AGENT, channel=common_pb2.CHANNEL_CHAT),
    common_pb2.Message(id="pm2", text="Thanks, waiting.", timestamp=ts(t0 + 90),
                       conversation_id="c1", role=common_pb2.ROLE_CUSTOMER, channel=common_pb2.CHANNEL_CHAT),
]), timeout=30)
assert (got.accepted, got.version) == (3, 1), got
profiles.IngestEvents(profiles_pb2.IngestEventsRequest(customer_id="py-crm-1", events=[
    profiles_pb2.BehaviourEvent(id="pp1", kind=profiles_pb2.EVENT_KIND_PURCHASE, timestamp=ts(t0 - 86400),
                                amount_minor=2500, currency="EUR", attributes={"sku": "A-1"})]), timeout=30)
p = profiles.GetProfile(profiles_pb2.GetProfileRequest(customer_id="py-crm-1"), timeout=30)
assert (p.messages, p.events, p.version) == (2, 1, 2), p
latency = {f.name: f for f in p.behaviour}["reply_latency_seconds"]
assert abs(latency.value - 30) < 1e-6 and latency.count == 1, latency
try:
    profiles.IngestEvents(profiles_pb2.IngestEventsRequest(customer_id="py-crm-1", events=[
        profiles_pb2.BehaviourEvent(id="bad", kind=profiles_pb2.EVENT_KIND_PURCHASE, timestamp=ts(t0),
                                    amount_minor=-1)]), timeout=30)
    raise AssertionError("a negative amount was accepted")
except grpc.RpcError as e:
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e
    assert e.details().startswith("events[0].amount_minor"), e.details()
assert profiles.EraseProfile(profiles_pb2.EraseProfileRequest(customer_id="py-crm-1"), timeout=30).erased
try:
    profiles.GetProfile(profiles_pb2.GetProfileRequest(customer_id="py-crm-1"), timeout=30)
    raise AssertionError("an erased profile was found")
except grpc.RpcError as e:
    assert e.code() == grpc.StatusCode.NOT_FOUND, e

# LiveAssist: one bidirectional stream per conversation; every turn answered in order.
def live_requests():
    yield live_pb2.AssistRequest(start=live_pb2.SessionStart(conversation_id="py-live-1",
                                                             channel=common_pb2.CHANNEL_CHAT, languages=["en"]))
    yield live_pb2.AssistRequest(turn=live_pb2.LiveTurn(turn_id="t1", role=common_pb2.ROLE_CUSTOMER,
                                                        text="My refund is three weeks late.", timestamp=ts(t0)))
    yield live_pb2.AssistRequest(turn=live_pb2.LiveTurn(turn_id="t2", role=common_pb2.ROLE_AGENT,
                                                        text="I'm sorry, I'll check it now.", timestamp=ts(t0 + 400)))
    yield live_pb2.AssistRequest(end=live_pb2.SessionEnd(reason="resolved"))


replies = list(live_pb2_grpc.LiveAssistStub(channel).Assist(live_requests(), timeout=60))
kinds = [r.WhichOneof("kind") for r in replies]
assert kinds == ["opened", "turn", "turn", "closed"], kinds
assert [r.turn.turn_id for r in replies[1:3]] == ["t1", "t2"], replies
assert replies[1].turn.analysis.id == "t1" and replies[2].turn.state.agent_metrics.apologies == 1, replies[2]
assert any(h.kind == live_pb2.HINT_KIND_SLOW_REPLY for h in replies[2].turn.hints), replies[2].turn.hints

info = info_pb2_grpc.InfoStub(channel).GetInfo(info_pb2.GetInfoRequest(), timeout=30)
assert any(ls.task == "sentiment" for ls in info.label_sets), info
print(f"python client ok: {[(a.id, a.sentiment.label) for a in resp.analyses]}")
