"""rapport_client against a running rapport server: RAPPORT_ADDR=HOST:PORT python -m pytest tests.

tests/python_client.rs (cargo test) starts a server on a tiny random model and runs these; the
labels such a model gives are arbitrary, so the checks are about shape, order, errors and the
parts that do not depend on the model (languages, redaction, counts, latencies).
"""
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest

from rapport_client import RapportClient, ScoreResult, event, message
from rapport_client.pb import common_pb2, live_pb2

ADDR = os.environ.get("RAPPORT_ADDR")
pytestmark = pytest.mark.skipif(not ADDR, reason="set RAPPORT_ADDR=HOST:PORT of a running rapport server")
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SENTIMENT = {"negative", "neutral", "positive"}
T0 = 1_793_610_000  # 2026-11-02

EN = "The new plan is great, thanks for the help!"
RU = "Третий день не могу дозвониться в поддержку."


@pytest.fixture(scope="module")
def client():
    with RapportClient(ADDR, timeout=60) as c:
        c.wait_ready(30)
        yield c


def check(a, id_, lang):
    assert a.id == id_, a
    assert a.language.code == lang, a
    assert a.sentiment.label in SENTIMENT, a
    assert -1.0 <= a.sentiment.score <= 1.0, a
    assert abs(sum(a.sentiment.probabilities.values()) - 1.0) < 1e-4, a
    assert set(a.emotion_labels) <= set(a.emotions), a
    assert a.model_version, a
    assert a.timings.total_us > 0, a


def test_health_and_info(client):
    assert client.health() == "SERVING"
    for service in ("rapport.v1.Analyzer", "rapport.v1.Scoring", "rapport.v1.LiveAssist"):
        assert client.health(service) == "SERVING", service
    # Profiles turns SERVING once the store has answered, which may come a moment later.
    for _ in range(100):
        if client.health("rapport.v1.Profiles") == "SERVING":
            break
        time.sleep(0.1)
    assert client.health("rapport.v1.Profiles") == "SERVING"
    with pytest.raises(grpc.RpcError) as e:
        client.health("no.such.Service")
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    info = client.info()
    assert info.model_version and info.version
    assert {"sentiment", "emotions"} <= {ls.task for ls in info.label_sets}


def test_analyze(client):
    got = client.analyze([
        message(EN, id="py-en", channel="email", role="customer", subject="Plan change"),
        {"id": "py-ru", "text": RU, "channel": "chat", "role": "customer"},
    ])
    assert [a.id for a in got] == ["py-en", "py-ru"]
    check(got[0], "py-en", "en")
    check(got[1], "py-ru", "ru")
    # A bare string is one message; personal data is redacted before anything comes back.
    (one,) = client.analyze("Call me at +7 915 123-45-67, please.", skip_evidence=True)
    assert one.id == "m0" and "[PHONE]" in one.text.redacted, one.text
    # A bad message fails the whole call, naming it.
    with pytest.raises(grpc.RpcError) as e:
        client.analyze([EN, ""])
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert e.value.details().startswith("messages[1].text"), e.value.details()


def test_analyze_conversation(client):
    r = client.analyze_conversation([
        message("My internet has been down since morning.", id="c0", role="customer", timestamp=T0),
        message("Sorry to hear that, let me check your line.", id="a0", role="agent", timestamp=T0 + 60),
        message("Thanks, it works again now!", id="c1", role="customer", timestamp=T0 + 180),
    ], conversation_id="py-conv")
    assert [a.id for a in r.turns] == ["c0", "a0", "c1"]
    m = r.conversation.metrics
    assert (m.turns, m.customer_turns, m.agent_turns) == (3, 2, 1), m
    assert abs(m.mean_agent_response_seconds - 60) < 1e-6, m


def test_score_stream_goes_on_past_a_bad_message(client):
    texts = [EN, RU, "", "I will never buy from you again.", "Можно узнать статус заявки?"]
    results = list(client.score({"id": f"s{i}", "text": t} for i, t in enumerate(texts)))
    assert all(isinstance(r, ScoreResult) for r in results)
    assert [r.sequence for r in results] == [0, 1, 2, 3, 4]
    assert [r.id for r in results] == ["s0", "s1", "s2", "s3", "s4"]
    assert [r.ok for r in results] == [True, True, False, True, True]
    for r, lang in zip(results, ["en", "ru", None, "en", "ru"]):
        if lang:
            check(r.analysis, r.id, lang)
    bad = results[2]
    assert bad.analysis is None
    assert bad.error.startswith("requests[2].message.text"), bad.error
    assert bad.code == grpc.StatusCode.INVALID_ARGUMENT and not bad.retryable


def test_score_is_lazy_and_can_stop_early(client):
    def endless():
        i = 0
        while True:
            yield f"Message number {i}, all fine."
            i += 1

    first = []
    for r in client.score(endless(), skip_evidence=True):
        first.append(r)
        if len(first) == 3:
            break
    assert [(r.sequence, r.id, r.ok) for r in first] == [(0, "0", True), (1, "1", True), (2, "2", True)]


def test_profiles_round_trip(client):
    p = client.profiles
    cid = "py-crm-1"
    got = p.ingest_messages(cid, [
        message("Where is my refund? I was promised it last week.", id="pm1", timestamp=T0,
                conversation_id="c1", role="customer", channel="chat"),
        message("Let me check that for you.", id="pa1", timestamp=T0 + 60, conversation_id="c1",
                role="agent", channel="chat"),
        message("Thanks, waiting.", id="pm2", timestamp=T0 + 90, conversation_id="c1", role="customer",
                channel="chat"),
    ], return_analyses=True)
    assert (got.accepted, got.duplicates, got.version) == (3, 0, 1), got
    assert [a.id for a in got.analyses] == ["pm1", "pm2"], got.analyses
    again = p.ingest_messages(cid, [message("Thanks, waiting.", id="pm2", timestamp=T0 + 90, role="customer")])
    assert (again.accepted, again.duplicates) == (0, 1), again
    ev = p.ingest_events(cid, [
        event("purchase", id="pp1", timestamp=T0 - 86400, amount_minor=2500, currency="EUR", attributes={"sku": "A-1"}),
        {"kind": "nps", "id": "pn1", "timestamp": T0, "score": 9},
    ])
    assert ev.accepted == 2, ev
    prof = p.get(cid)
    assert prof is not None
    assert (prof.messages, prof.events) == (2, 2), prof
    features = {f.name: f for f in prof.behaviour}
    assert abs(features["reply_latency_seconds"].value - 30) < 1e-6, features["reply_latency_seconds"]
    assert features["nps_mean"].value == 9
    with pytest.raises(grpc.RpcError) as e:
        p.ingest_events(cid, [event("purchase", id="bad", timestamp=T0, amount_minor=-1)])
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert e.value.details().startswith("events[0].amount_minor"), e.value.details()

    assert p.set_consent(cid, True) > prof.version - 1
    exported = p.export(cid)
    assert exported.profile.customer_id == cid
    assert any(e.get("attributes", {}).get("sku") == "A-1" for e in exported.data["export"]["events"]), exported.data
    assert any(s.name for s in p.lifecycle())
    assert p.segments() == []  # no `rapport segment` run yet

    erased = p.erase(cid)
    assert erased.erased and sum(erased.rows.values()) > 0, erased
    assert p.get(cid) is None


def test_live_conversation(client):
    with client.conversation("py-live-1", channel="chat", languages=["en"]) as conv:
        assert conv.opened.conversation_id == "py-live-1" and not conv.opened.resumed
        t1 = conv.turn("customer", "My refund is three weeks late. Where is it?", timestamp=T0)
        t2 = conv.turn("agent", "I'm sorry, I'll check it now.", timestamp=T0 + 400)
        dup = conv.send({"turn_id": t1.turn_id, "role": "customer", "text": "My refund is three weeks late.",
                         "timestamp": T0})
        bad = conv.turn("customer", "", timestamp=T0 + 410)
        t3 = conv.turn("customer", "OK, thank you.", timestamp=T0 + 420)
    assert [t.turn_id for t in (t1, t2, bad, t3)] == ["t1", "t2", "t3", "t4"]
    assert t1.analysis.id == "t1" and t1.role == common_pb2.ROLE_CUSTOMER
    assert t2.state.agent_metrics.apologies == 1, t2.state
    assert any(h.kind == live_pb2.HINT_KIND_SLOW_REPLY for h in t2.hints), t2.hints
    assert dup.duplicate and not dup.HasField("analysis")
    assert bad.error and not bad.HasField("analysis"), bad
    assert t3.state.customer.turns == 2, t3.state
    assert conv.closed.conversation_id == "py-live-1" and conv.closed.reason == "ended", conv.closed

    # The batch form: start, the turns, end; one TurnResult per turn, in order.
    results = list(client.assist("py-live-2", [("customer", "Здравствуйте, где мой заказ?"),
                                               ("agent", "Добрый день! Сейчас проверю.")], languages=["ru"]))
    assert [r.turn_id for r in results] == ["t1", "t2"]
    assert results[0].state.language == "ru" and results[0].analysis.language.code == "ru"


def test_score_csv_example(client, tmp_path):
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    with open(src, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "text", "extra"])
        w.writerows([["r1", EN, "x"], ["r2", "", "y"], ["r3", RU, "z"]])
    run = subprocess.run([sys.executable, str(EXAMPLES / "score_csv.py"), str(src), str(dst), "--server", ADDR],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    with open(dst, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["id"] for r in rows] == ["r1", "r2", "r3"]
    assert [r["language"] for r in rows] == ["en", "", "ru"]
    assert rows[0]["sentiment"] in SENTIMENT and not rows[0]["error"]
    assert rows[1]["error"].startswith("requests[1].message.text"), rows[1]
