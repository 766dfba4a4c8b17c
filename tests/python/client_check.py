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

info = info_pb2_grpc.InfoStub(channel).GetInfo(info_pb2.GetInfoRequest(), timeout=30)
assert any(ls.task == "sentiment" for ls in info.label_sets), info
print(f"python client ok: {[(a.id, a.sentiment.label) for a in resp.analyses]}")
