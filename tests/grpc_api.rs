//! The API through a real gRPC channel to an in-process server running a tiny random BERT:
//! health, reflection, every RPC's happy path and each bad input's error.
mod common;

use common::server::{message, start, start_tiny, tiny_model_and_heads, SENTIMENT_LABELS};
use rapport::proto::v1 as pb;
use tokio_stream::StreamExt;
use tonic::Code;

fn assert_invalid(status: tonic::Status, field: &str, needle: &str) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let msg = status.message();
    assert!(msg.starts_with(field), "error should name {field}: {msg}");
    assert!(msg.contains(needle), "error should say {needle:?}: {msg}");
}

#[tokio::test]
async fn analyze_returns_sentiment_language_version_and_timings() {
    let server = start_tiny(&[]).await;
    let req = pb::AnalyzeRequest {
        messages: vec![
            message(
                "en-1",
                "Thank you so much, the replacement arrived and it works perfectly.",
            ),
            message(
                "ru-1",
                "Спасибо большое, замена пришла и всё отлично работает.",
            ),
            message(
                "de-1",
                "Vielen Dank, der Ersatz ist angekommen und funktioniert perfekt.",
            ),
        ],
        ..Default::default()
    };
    let analyses = server
        .analyzer()
        .analyze(req)
        .await
        .unwrap()
        .into_inner()
        .analyses;
    assert_eq!(analyses.len(), 3);
    let ids: Vec<_> = analyses.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["en-1", "ru-1", "de-1"]);
    for (a, lang) in analyses[..2].iter().zip(["en", "ru"]) {
        let l = a.language.as_ref().unwrap();
        assert_eq!((l.code.as_str(), l.supported), (lang, true));
        let s = a
            .sentiment
            .as_ref()
            .expect("sentiment for a supported language");
        assert!(SENTIMENT_LABELS.contains(&s.label.as_str()));
        assert!((-1.0..=1.0).contains(&s.score));
        let sum: f32 = s.probabilities.values().sum();
        assert!((sum - 1.0).abs() < 1e-4, "probabilities sum to {sum}");
        assert!((s.confidence - s.probabilities[&s.label]).abs() < 1e-6);
        assert!(!a.model_version.is_empty());
        assert!(a.tokens > 2);
        let t = a.timings.as_ref().unwrap();
        assert!(t.inference_us > 0 && t.total_us >= t.inference_us);
    }
    // A language the heads do not cover is reported as such; sentiment abstains.
    let de = &analyses[2];
    assert_eq!(de.language.as_ref().unwrap().code, "de");
    assert!(!de.language.as_ref().unwrap().supported);
    assert!(de.sentiment.is_none());
    server.stop().await.unwrap();
}

#[tokio::test]
async fn sentiment_is_recalibrated_by_the_message_language() {
    // the same heads twice: as written, and with a Russian recalibration of the sentiment head
    // that pushes hard towards negative (softmax(ln p + c), c = [+8, 0, -8])
    let dir = tempfile::tempdir().unwrap();
    let (model, heads) = tiny_model_and_heads(dir.path());
    let plain = start(&model, &heads, &[]).await;
    let head_json = heads.join("sentiment").join("head.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&head_json).unwrap()).unwrap();
    v["language_calibration"] = serde_json::json!({"ru": [
        {"a": 1.0, "c": 8.0}, {"a": 1.0, "c": 0.0}, {"a": 1.0, "c": -8.0}
    ]});
    std::fs::write(&head_json, v.to_string()).unwrap();
    let recal = start(&model, &heads, &[]).await;
    let messages = vec![
        message("en", "Thank you, the replacement arrived and works."),
        message("ru", "Спасибо, замена пришла и всё работает."),
    ];
    let a = plain.analyze_all(messages.clone()).await;
    let b = recal.analyze_all(messages).await;
    let (s_en, s_ru) = (
        a[0].sentiment.as_ref().unwrap(),
        a[1].sentiment.as_ref().unwrap(),
    );
    let (r_en, r_ru) = (
        b[0].sentiment.as_ref().unwrap(),
        b[1].sentiment.as_ref().unwrap(),
    );
    // English untouched
    assert_eq!(r_en.probabilities, s_en.probabilities);
    // Russian: exactly softmax(ln p + c) of the plain outputs, in the sentiment message and in
    // the per-label signals alike
    let z: Vec<f32> = ["negative", "neutral", "positive"]
        .iter()
        .zip([8.0f32, 0.0, -8.0])
        .map(|(l, c)| s_ru.probabilities[*l].ln() + c)
        .collect();
    let sum: f32 = z.iter().map(|v| v.exp()).sum();
    for (l, zi) in ["negative", "neutral", "positive"].iter().zip(&z) {
        let want = zi.exp() / sum;
        assert!(
            (r_ru.probabilities[*l] - want).abs() < 1e-4,
            "{l}: {r_ru:?}"
        );
        let signal = &b[1].label_signals[&format!("sentiment.{l}")];
        assert!((signal.value - want).abs() < 1e-4, "{l}: {signal:?}");
    }
    assert_eq!(r_ru.label, "negative");
    plain.stop().await.unwrap();
    recal.stop().await.unwrap();
}

#[tokio::test]
async fn bad_inputs_get_invalid_argument_naming_field_and_limit() {
    let server = start_tiny(&[
        "--max-text-chars",
        "50",
        "--max-batch-messages",
        "3",
        "--max-message-bytes",
        "4096",
    ])
    .await;
    let mut client = server.analyzer();
    let call = |msgs: Vec<pb::Message>| {
        let mut c = client.clone();
        async move {
            c.analyze(pb::AnalyzeRequest {
                messages: msgs,
                ..Default::default()
            })
            .await
            .unwrap_err()
        }
    };

    assert_invalid(call(vec![]).await, "messages", "at least one message");
    assert_invalid(
        call(vec![message("a", "fine"), message("b", "   ")]).await,
        "messages[1].text",
        "must not be empty",
    );
    assert_invalid(
        call(vec![message("a", &"long ".repeat(20))]).await,
        "messages[0].text",
        "limit of 50",
    );
    assert_invalid(
        call(vec![message("a", "x"); 4]).await,
        "messages",
        "limit of 3",
    );
    let mut bad_enum = message("a", "hello");
    bad_enum.channel = 99;
    assert_invalid(
        call(vec![bad_enum]).await,
        "messages[0].channel",
        "unknown value 99",
    );
    let mut bad_role = message("a", "hello");
    bad_role.role = -1;
    assert_invalid(
        call(vec![bad_role]).await,
        "messages[0].role",
        "unknown value -1",
    );

    // A request over the message-size limit is refused before it is decoded.
    let huge = call(vec![message("a", &"x".repeat(8000))]).await;
    assert_eq!(huge.code(), Code::OutOfRange, "{huge:?}");
    assert!(huge.message().contains("4096"), "{}", huge.message());

    // Bad input does not poison the server.
    let ok = client
        .analyze(pb::AnalyzeRequest {
            messages: vec![message("ok", "still working?")],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ok.into_inner().analyses.len(), 1);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn conversation_gives_turns_trajectories_and_metrics() {
    let server = start_tiny(&[]).await;
    let turn = |id: &str, role: pb::Role, text: &str, secs: i64| pb::Message {
        id: id.into(),
        role: role as i32,
        text: text.into(),
        timestamp: Some(pbjson_types::Timestamp {
            seconds: 1_800_000_000 + secs,
            nanos: 0,
        }),
        channel: pb::Channel::Chat as i32,
        ..Default::default()
    };
    let req = pb::AnalyzeConversationRequest {
        conversation_id: "c-1".into(),
        turns: vec![
            turn("1", pb::Role::Customer, "My parcel is two weeks late.", 0),
            turn(
                "2",
                pb::Role::Agent,
                "I am sorry, let me check that for you.",
                40,
            ),
            turn("3", pb::Role::Customer, "Ok, thanks.", 100),
        ],
        ..Default::default()
    };
    let resp = server
        .analyzer()
        .analyze_conversation(req)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.turns.len(), 3);
    let conv = resp.conversation.unwrap();
    assert_eq!(conv.conversation_id, "c-1");
    let m = conv.metrics.unwrap();
    assert_eq!((m.turns, m.customer_turns, m.agent_turns), (3, 2, 1));
    assert!((m.mean_agent_response_seconds - 40.0).abs() < 1e-9);
    assert!((m.mean_customer_response_seconds - 60.0).abs() < 1e-9);
    let customer = conv
        .trajectories
        .iter()
        .find(|t| t.role == pb::Role::Customer as i32)
        .unwrap();
    assert_eq!(customer.scores.len(), 2);
    assert_eq!(customer.first, customer.scores[0]);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn score_stream_answers_in_order_and_a_bad_message_in_its_place() {
    let server = start_tiny(&["--stream-window", "4"]).await;
    let texts: Vec<String> = (0..40)
        .map(|i| format!("message number {i} {}", "word ".repeat(i % 7)))
        .collect();
    let reqs: Vec<pb::ScoreRequest> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| pb::ScoreRequest {
            message: Some(message(&format!("m{i}"), t)),
            ..Default::default()
        })
        .collect();
    let mut stream = server
        .scoring()
        .score(tokio_stream::iter(reqs))
        .await
        .unwrap()
        .into_inner();
    let mut seen = 0u64;
    while let Some(item) = stream.next().await {
        let item = item.unwrap();
        assert_eq!(item.sequence, seen);
        assert_eq!(item.analysis.unwrap().id, format!("m{seen}"));
        seen += 1;
    }
    assert_eq!(seen, 40);

    let reqs = vec![
        pb::ScoreRequest {
            message: Some(message("a", "first is fine")),
            ..Default::default()
        },
        pb::ScoreRequest {
            message: Some(message("b", "")),
            ..Default::default()
        },
        pb::ScoreRequest {
            message: Some(message("c", "still scored")),
            ..Default::default()
        },
    ];
    let answers: Vec<pb::ScoreResponse> = server
        .scoring()
        .score(tokio_stream::iter(reqs))
        .await
        .unwrap()
        .into_inner()
        .map(|r| r.unwrap())
        .collect()
        .await;
    assert_eq!(answers.len(), 3, "every message is answered: {answers:?}");
    assert_eq!(answers[0].analysis.as_ref().unwrap().id, "a");
    assert!(answers[1].analysis.is_none());
    assert_eq!(
        answers[1].error,
        "requests[1].message.text: must not be empty"
    );
    assert_eq!(answers[1].error_code, Code::InvalidArgument as i32);
    assert_eq!((answers[2].sequence, answers[2].error.as_str()), (2, ""));
    assert_eq!(answers[2].analysis.as_ref().unwrap().id, "c");
    server.stop().await.unwrap();
}

/// Every RPC names a bad item by its path in the request as a client writes it: the repeated
/// field and index, then the `Message` field; a Score stream's requests by their position in
/// the stream.
#[tokio::test]
async fn error_paths_are_the_request_field_paths_in_every_rpc() {
    let server = start_tiny(&[]).await;
    let mut client = server.analyzer();
    let blank = || message("bad", "   ");

    let err = client
        .analyze(pb::AnalyzeRequest {
            messages: vec![message("ok", "fine, thanks"), blank()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_eq!(err.message(), "messages[1].text: must not be empty");

    let conversation = |turns: Vec<pb::Message>| pb::AnalyzeConversationRequest {
        conversation_id: "c".into(),
        turns,
        ..Default::default()
    };
    let err = client
        .analyze_conversation(conversation(vec![blank()]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_eq!(err.message(), "turns[0].text: must not be empty");
    let err = client
        .analyze_conversation(conversation(vec![]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_eq!(err.message(), "turns: at least one turn is required");

    let mut bad_channel = message("bad", "hello");
    bad_channel.channel = 42;
    for (req, want) in [
        (
            pb::ScoreRequest {
                message: Some(blank()),
                ..Default::default()
            },
            "requests[1].message.text: must not be empty",
        ),
        (pb::ScoreRequest::default(), "requests[1].message: missing"),
        (
            pb::ScoreRequest {
                message: Some(bad_channel),
                ..Default::default()
            },
            "requests[1].message.channel: unknown value 42",
        ),
    ] {
        let first = pb::ScoreRequest {
            message: Some(message("ok", "fine, thanks")),
            ..Default::default()
        };
        let mut stream = server
            .scoring()
            .score(tokio_stream::iter(vec![first, req]))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(stream.next().await.unwrap().unwrap().sequence, 0);
        let bad = stream.next().await.unwrap().unwrap();
        assert_eq!(bad.error_code, Code::InvalidArgument as i32, "{bad:?}");
        assert!(bad.error.starts_with(want), "{}", bad.error);
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn over_capacity_gets_resource_exhausted_at_once() {
    // Encoded evidence takes queue room per sentence; pooled evidence takes none (below).
    let server = start_tiny(&["--queue-capacity", "4", "--evidence-mode", "encoded"]).await;
    let started = std::time::Instant::now();
    let err = server
        .analyzer()
        .analyze(pb::AnalyzeRequest {
            messages: vec![message("x", "hello there"); 5],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert!(err.message().contains("capacity 4"), "{}", err.message());
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    // Within capacity it serves normally.
    let ok = server
        .analyzer()
        .analyze(pb::AnalyzeRequest {
            messages: vec![message("x", "hello there"); 4],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ok.into_inner().analyses.len(), 4);
    // Messages that fit but whose evidence sentences do not: the evidence is shed, not the call.
    let two = "The parcel is late. Nobody answers the phone.";
    let shed = server
        .analyzer()
        .analyze(pb::AnalyzeRequest {
            messages: vec![message("x", two); 2],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .analyses;
    for a in &shed {
        assert_eq!(a.evidence_tokens, 0);
        assert!(a.label_signals["emotions.joy"].evidence.is_empty());
        assert!(
            a.abstentions
                .iter()
                .any(|x| x.starts_with("evidence: left out")),
            "{:?}",
            a.abstentions
        );
    }
    // Alone, the same message has room for its evidence.
    let full = server.analyze_one(message("x", two)).await;
    assert!(full.evidence_tokens > 0 && full.abstentions.is_empty());
    server.stop().await.unwrap();
    // Pooled, the sentences are read off the messages' own encoding: no room needed.
    let server = start_tiny(&["--queue-capacity", "4"]).await;
    let pooled = server
        .analyzer()
        .analyze(pb::AnalyzeRequest {
            messages: vec![message("x", two); 4],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .analyses;
    for a in &pooled {
        assert_eq!(a.evidence_tokens, 0);
        assert!(a.abstentions.is_empty(), "{:?}", a.abstentions);
        assert!(!a.label_signals["emotions.joy"].evidence.is_empty());
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn info_reports_models_labels_and_limits() {
    let server = start_tiny(&[]).await;
    let info = pb::info_client::InfoClient::new(server.channel.clone())
        .get_info(pb::GetInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.version, rapport::VERSION);
    assert!(!info.model_version.is_empty());
    let encoder = info.models.iter().find(|m| m.name == "encoder").unwrap();
    assert_eq!(encoder.sha256.len(), 64);
    assert!(encoder.source.starts_with("dir:"));
    let sentiment = info
        .label_sets
        .iter()
        .find(|l| l.task == "sentiment")
        .unwrap();
    assert_eq!(sentiment.labels, SENTIMENT_LABELS);
    assert!(
        info.languages.contains(&"en".to_string()) && info.languages.contains(&"ru".to_string())
    );
    let limits = info.limits.unwrap();
    assert_eq!(limits.max_batch_messages, 256);
    assert_eq!(limits.evidence_max_sentences, 8);
    assert_eq!(limits.evidence_mode, "pooled");
    server.stop().await.unwrap();
}

/// The services one reflection version lists; both versions' messages have the same shape.
macro_rules! reflected_services {
    ($version:ident, $channel:expr) => {{
        use tonic_reflection::pb::$version::{
            server_reflection_client::ServerReflectionClient,
            server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
            ServerReflectionRequest,
        };
        let req = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut stream = ServerReflectionClient::new($channel)
            .server_reflection_info(tokio_stream::iter(vec![req]))
            .await
            .unwrap_or_else(|e| panic!("{}: {e:?}", stringify!($version)))
            .into_inner();
        let resp = stream.next().await.unwrap().unwrap();
        let Some(MessageResponse::ListServicesResponse(list)) = resp.message_response else {
            panic!("unexpected reflection answer: {resp:?}");
        };
        list.service
            .into_iter()
            .map(|s| s.name)
            .collect::<Vec<String>>()
    }};
}

#[tokio::test]
async fn reflection_lists_every_service_in_v1_and_v1alpha() {
    let server = start_tiny(&[]).await;
    // grpcurl 1.8 and many tools ask v1alpha only.
    let v1 = reflected_services!(v1, server.channel.clone());
    let v1alpha = reflected_services!(v1alpha, server.channel.clone());
    for names in [&v1, &v1alpha] {
        for want in [
            "rapport.v1.Analyzer",
            "rapport.v1.Scoring",
            "rapport.v1.LiveAssist",
            "rapport.v1.Profiles",
            "rapport.v1.Info",
            "grpc.health.v1.Health",
        ] {
            assert!(
                names.iter().any(|n| n == want),
                "{want} missing from {names:?}"
            );
        }
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn health_goes_not_serving_on_shutdown_and_drains() {
    let server = start_tiny(&[]).await;
    let mut health = server.health();
    // In-flight work started before the signal completes.
    let mut client = server.analyzer();
    let pending = tokio::spawn(async move {
        client
            .analyze(pb::AnalyzeRequest {
                messages: vec![message("x", "a message in flight during shutdown"); 32],
                ..Default::default()
            })
            .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let stopped = server.stop();
    let (stopped, pending) = tokio::join!(stopped, pending);
    stopped.unwrap();
    assert_eq!(pending.unwrap().unwrap().into_inner().analyses.len(), 32);
    // The server is gone: health can no longer answer SERVING.
    let after = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await;
    assert!(after.is_err() || after.unwrap().into_inner().status != 1);
}

#[tokio::test]
async fn every_head_answers_with_confidence_and_short_texts_abstain() {
    let server = start_tiny(&[]).await;
    let analyses = server
        .analyzer()
        .analyze(pb::AnalyzeRequest {
            messages: vec![
                message(
                    "long",
                    "Could you please check why my refund has not arrived? It is urgent.",
                ),
                message("short", "ok"),
            ],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .analyses;
    let a = &analyses[0];
    assert_eq!(a.emotions.len(), 7, "{:?}", a.emotions);
    // a head without thresholds shows the emotions at or over 0.5
    let mut over: Vec<&String> = a
        .emotions
        .iter()
        .filter(|(_, p)| **p >= 0.5)
        .map(|(l, _)| l)
        .collect();
    over.sort();
    let mut shown: Vec<&String> = a.emotion_labels.iter().collect();
    shown.sort();
    assert_eq!(shown, over);
    for label in common::server::EMOTION_LABELS {
        let p = a.emotions[*label];
        assert!((0.0..=1.0).contains(&p));
        let s = &a.label_signals[&format!("emotions.{label}")];
        assert_eq!(s.source, "head:emotions");
        assert!((s.confidence - p.max(1.0 - p)).abs() < 1e-6);
    }
    let style = a.style.as_ref().expect("style");
    for (name, s) in [
        ("politeness", &style.politeness),
        ("formality", &style.formality),
        ("certainty", &style.certainty),
        ("directness", &style.directness),
        ("emotionality", &style.emotionality),
        ("urgency", &style.urgency),
    ] {
        let s = s.as_ref().unwrap_or_else(|| panic!("style.{name}"));
        assert!((0.0..=1.0).contains(&s.value), "{name} {s:?}");
        assert!((0.5..=1.0).contains(&s.confidence), "{name} {s:?}");
    }
    assert_eq!(style.directness.as_ref().unwrap().source, "composed");
    assert!(a.toxicity.is_some());
    assert_eq!(a.tones.len(), 7);
    let purpose: f32 = a.purpose.values().sum();
    assert!((purpose - 1.0).abs() < 1e-4, "{:?}", a.purpose);
    assert!(a.abstentions.is_empty(), "{:?}", a.abstentions);

    // One word: emotions and toxicity still answer; style, tones and purpose abstain and say so.
    let s = &analyses[1];
    assert_eq!(s.emotions.len(), 7);
    assert!(s.toxicity.is_some());
    assert!(s.style.is_none() && s.tones.is_empty() && s.purpose.is_empty());
    assert!(
        s.abstentions[0].contains("fewer than 3"),
        "{:?}",
        s.abstentions
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn emotion_labels_follow_the_thresholds_of_the_message_language() {
    // The emotions head decides at its pooled thresholds, or at a language's own where it has
    // them: here none is shown in English (1.0 everywhere) and every one in Russian (0.0).
    let dir = tempfile::tempdir().unwrap();
    let (model, heads) = tiny_model_and_heads(dir.path());
    let path = heads.join("emotions/head.json");
    let mut head: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    head["thresholds"] = serde_json::json!(vec![1.0; 7]);
    head["language_thresholds"] = serde_json::json!({"ru": vec![0.0; 7]});
    std::fs::write(&path, head.to_string()).unwrap();
    let server = start(&model, &heads, &[]).await;
    let analyses = server
        .analyzer()
        .analyze(pb::AnalyzeRequest {
            messages: vec![
                message(
                    "en",
                    "The parcel came late again and nobody answered my emails.",
                ),
                message(
                    "ru",
                    "Посылка снова пришла поздно, и никто не ответил на письма.",
                ),
            ],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .analyses;
    assert_eq!(analyses[0].language.as_ref().unwrap().code, "en");
    assert!(analyses[0].emotion_labels.is_empty(), "{:?}", analyses[0]);
    assert_eq!(analyses[1].language.as_ref().unwrap().code, "ru");
    let mut shown = analyses[1].emotion_labels.clone();
    shown.sort();
    let mut all: Vec<String> = common::server::EMOTION_LABELS
        .iter()
        .map(|l| l.to_string())
        .collect();
    all.sort();
    assert_eq!(shown, all);
    server.stop().await.unwrap();
}

/// Every signal of an analysis by key: "toxicity", "style.<dimension>", and the label_signals
/// keys ("sentiment.negative", "emotions.joy", ...).
fn signals(a: &pb::MessageAnalysis) -> Vec<(String, pb::Signal)> {
    let mut out: Vec<(String, pb::Signal)> = Vec::new();
    if let Some(t) = &a.toxicity {
        out.push(("toxicity".into(), t.clone()));
    }
    if let Some(s) = &a.style {
        for (k, v) in [
            ("formality", &s.formality),
            ("politeness", &s.politeness),
            ("certainty", &s.certainty),
            ("directness", &s.directness),
            ("emotionality", &s.emotionality),
            ("urgency", &s.urgency),
        ] {
            if let Some(v) = v {
                out.push((format!("style.{k}"), v.clone()));
            }
        }
    }
    out.extend(a.label_signals.iter().map(|(k, v)| (k.clone(), v.clone())));
    out
}

#[tokio::test]
async fn encoded_evidence_cites_sentences_scored_alone_and_can_be_skipped() {
    let server = start_tiny(&["--evidence-mode", "encoded"]).await;
    // As the caller wrote each sentence (the first carries an address the pipeline redacts).
    let sentences = [
        "Thanks a lot for the quick fix, write to me at anna@example.com.",
        "But the app still crashes every time and I am furious.",
        "Please call me back today.",
    ];
    let single = "The parcel arrived this morning in good shape.";
    let mut messages = vec![
        message("multi", &sentences.join(" ")),
        message("single", single),
        message("short", "ok"),
    ];
    // Each sentence alone, as a message of its own.
    messages.extend(
        sentences
            .iter()
            .enumerate()
            .map(|(i, s)| message(&format!("s{i}"), s)),
    );
    for m in &mut messages {
        // So that a short sentence alone is not taken for another language.
        m.language_hint = "en".into();
    }
    let analyze = |options: Option<pb::AnalysisOptions>| {
        let mut client = server.analyzer();
        let messages = messages.clone();
        async move {
            client
                .analyze(pb::AnalyzeRequest { messages, options })
                .await
                .unwrap()
                .into_inner()
                .analyses
        }
    };
    let with = analyze(None).await;
    let (multi, alone) = (&with[0], &with[3..]);
    let report = multi.text.as_ref().unwrap();
    assert_eq!(report.sentences.len(), 3, "{:?}", report.sentences);
    assert!(multi.evidence_tokens > 0);
    let value = |a: &pb::MessageAnalysis, key: &str| {
        signals(a)
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, s)| s.value)
    };
    let all = signals(multi);
    // Sentiment labels, seven emotions, six style dimensions, toxicity, seven tones, four purposes.
    assert_eq!(
        all.len(),
        3 + 7 + 6 + 1 + 7 + 4,
        "{:?}",
        multi.label_signals.keys()
    );
    for (key, s) in &all {
        assert!(
            (1..=2).contains(&s.evidence.len()),
            "{key}: {:?}",
            s.evidence
        );
        for (rank, e) in s.evidence.iter().enumerate() {
            let i = e.sentence as usize;
            let sentence = &report.sentences[i];
            assert_eq!(e.sentence_count, 1);
            assert_eq!((e.start, e.end), (sentence.start, sentence.end));
            assert_eq!(e.text, sentence.text);
            assert_eq!(e.text, report.redacted[e.start as usize..e.end as usize]);
            assert!(
                !e.text.contains("anna@"),
                "evidence is redacted: {}",
                e.text
            );
            // The score is the sentence's own, as if it were sent alone.
            let own = value(&alone[i], key).unwrap_or_else(|| panic!("{key} of sentence {i}"));
            assert!(
                (e.score - own).abs() < 2e-3,
                "{key} sentence {i}: {} vs {own}",
                e.score
            );
            if rank > 0 {
                // A second stretch is cited only beyond the message's own value.
                let up = !(key.starts_with("style.")
                    && ["politeness", "formality", "certainty", "directness"].contains(&&key[6..])
                    && s.value < 0.5);
                assert!(
                    if up {
                        e.score > s.value
                    } else {
                        e.score < s.value
                    },
                    "{key}"
                );
                let first = s.evidence[0].score;
                assert!(
                    if up {
                        first >= e.score
                    } else {
                        first <= e.score
                    },
                    "{key}"
                );
            }
        }
    }
    // One sentence is its own evidence, with the message's values and no extra encoding.
    let one = &with[1];
    assert_eq!(one.evidence_tokens, 0);
    for (key, s) in signals(one) {
        assert_eq!(s.evidence.len(), 1, "{key}");
        assert_eq!(s.evidence[0].text, single);
        assert_eq!(s.evidence[0].score, s.value);
    }
    // One word: emotions still cite it; style abstains and has nothing to cite.
    let short = &with[2];
    assert!(short.style.is_none());
    assert_eq!(short.label_signals["emotions.joy"].evidence[0].text, "ok");

    // Skipped: the same message-level results, no evidence, nothing extra encoded.
    let without = analyze(Some(pb::AnalysisOptions {
        skip_evidence: true,
        ..Default::default()
    }))
    .await;
    for (a, b) in with.iter().zip(&without) {
        assert_eq!(b.evidence_tokens, 0);
        for (key, s) in signals(b) {
            assert!(s.evidence.is_empty(), "{key}");
            let v = value(a, &key).unwrap();
            assert!((s.value - v).abs() < 2e-3, "{key}: {} vs {v}", s.value);
        }
    }
    server.stop().await.unwrap();

    // A server capping evidence at two stretches groups consecutive sentences.
    let server = start_tiny(&["--evidence-max-sentences", "2"]).await;
    let a = server
        .analyze_one(message("multi", &sentences.join(" ")))
        .await;
    let report = a.text.as_ref().unwrap();
    let mut cited = std::collections::BTreeSet::new();
    for (key, s) in signals(&a) {
        for e in &s.evidence {
            let (first, n) = (e.sentence as usize, e.sentence_count as usize);
            assert!(n >= 1 && first + n <= 3, "{key}: {e:?}");
            assert_eq!(e.start, report.sentences[first].start);
            assert_eq!(e.end, report.sentences[first + n - 1].end);
            assert_eq!(e.text, report.redacted[e.start as usize..e.end as usize]);
            cited.insert((first, n));
        }
    }
    assert!(
        cited.len() <= 2 && cited.iter().any(|&(_, n)| n == 2),
        "{cited:?}"
    );
    server.stop().await.unwrap();

    // A message cut at --max-tokens: evidence comes only from the sentences the encoding
    // reached, and the words past the cut are not encoded again.
    let long: Vec<String> = (0..12)
        .map(|i| format!("Sentence number {i} says the delivery was late again."))
        .collect();
    for mode in ["encoded", "pooled"] {
        let server = start_tiny(&["--max-tokens", "32", "--evidence-mode", mode]).await;
        let a = server.analyze_one(message("long", &long.join(" "))).await;
        assert!(a.truncated);
        assert_eq!(a.text.as_ref().unwrap().sentences.len(), 12);
        if mode == "encoded" {
            assert!(
                a.evidence_tokens > 0 && a.evidence_tokens <= 32,
                "{}",
                a.evidence_tokens
            );
        } else {
            assert_eq!(a.evidence_tokens, 0);
        }
        let mut cited = std::collections::BTreeSet::new();
        for (key, s) in signals(&a) {
            for e in &s.evidence {
                assert!(
                    e.sentence + e.sentence_count <= 3,
                    "{mode}: {key} cites past the cut: {e:?}"
                );
                cited.insert(e.sentence);
            }
        }
        assert!(cited.len() >= 2, "{mode}: {cited:?}");
        server.stop().await.unwrap();
    }
}

#[tokio::test]
async fn evidence_off_on_the_server_and_per_stream_message() {
    let text = "The screen is cracked. I want a replacement.";
    let server = start_tiny(&["--evidence-max-sentences", "0"]).await;
    let a = server.analyze_one(message("m", text)).await;
    assert_eq!(a.evidence_tokens, 0);
    assert!(signals(&a).iter().all(|(_, s)| s.evidence.is_empty()));
    server.stop().await.unwrap();

    let server = start_tiny(&[]).await;
    let reqs = vec![
        pb::ScoreRequest {
            message: Some(message("with", text)),
            options: None,
        },
        pb::ScoreRequest {
            message: Some(message("without", text)),
            options: Some(pb::AnalysisOptions {
                skip_evidence: true,
                ..Default::default()
            }),
        },
    ];
    let got: Vec<pb::MessageAnalysis> = server
        .scoring()
        .score(tokio_stream::iter(reqs))
        .await
        .unwrap()
        .into_inner()
        .map(|r| r.unwrap().analysis.unwrap())
        .collect()
        .await;
    assert!(signals(&got[0]).iter().all(|(_, s)| !s.evidence.is_empty()));
    assert_eq!(got[1].evidence_tokens, 0);
    assert!(signals(&got[1]).iter().all(|(_, s)| s.evidence.is_empty()));
    server.stop().await.unwrap();
}

/// Pooled evidence (the default): each sentence is scored on the mean of its own tokens' final
/// states in the message's encoding, nothing is encoded twice, and each score is the one the
/// encoder and heads give that span (computed here with the library, apart from the server).
#[tokio::test]
async fn pooled_evidence_scores_each_sentence_from_the_message_encoding() {
    use rapport::model::{token_span, Encoder, EncoderOptions, HeadSet, ModelSource};
    let dir = tempfile::tempdir().unwrap();
    let (model, heads_dir) = tiny_model_and_heads(dir.path());
    let server = start(&model, &heads_dir, &[]).await;
    let text = "Thanks a lot for the quick fix. But the app still crashes every time. \
                Please call me back today.";
    let mut m = message("m", text);
    m.language_hint = "en".into();
    let a = server.analyze_one(m).await;
    assert_eq!(a.evidence_tokens, 0, "nothing encoded twice");
    let report = a.text.as_ref().unwrap();
    assert_eq!(report.redacted, text);
    assert_eq!(report.sentences.len(), 3, "{:?}", report.sentences);

    let encoder = Encoder::load(
        &model.parse::<ModelSource>().unwrap(),
        &EncoderOptions::default(),
    )
    .unwrap();
    let heads = HeadSet::load(&heads_dir, encoder.info(), false).unwrap();
    let (tokens, offsets) = encoder.tokenize_with_offsets(text).unwrap();
    let spans: Vec<_> = report
        .sentences
        .iter()
        .map(|s| token_span(&offsets, &(s.start as usize..s.end as usize)))
        .collect();
    let emb = encoder.embed_with_spans(&[&tokens], &[&spans]).unwrap();
    let sentiment = heads.heads().find(|h| h.task == "sentiment").unwrap();
    let probs = sentiment.probabilities(&emb).unwrap();
    let expected = |row: usize, label: &str| {
        probs[row][SENTIMENT_LABELS.iter().position(|l| *l == label).unwrap()]
    };
    for label in SENTIMENT_LABELS {
        let s = &a.label_signals[&format!("sentiment.{label}")];
        assert!((s.value - expected(0, label)).abs() < 1e-4, "{label}");
        assert!(!s.evidence.is_empty(), "{label}");
        for e in &s.evidence {
            let own = expected(1 + e.sentence as usize, label);
            assert!(
                (e.score - own).abs() < 1e-4,
                "{label} sentence {}: {} vs {own}",
                e.sentence,
                e.score
            );
        }
        // the strongest sentence is cited first
        let best = (0..3)
            .max_by(|&i, &j| expected(1 + i, label).total_cmp(&expected(1 + j, label)))
            .unwrap();
        assert_eq!(s.evidence[0].sentence as usize, best, "{label}");
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_head_reading_cues_scores_each_message_and_sentence_with_its_own() {
    // The tiny model's politeness head reads the lexical cues (common::server::read_please_cue):
    // a "please" moves the message and the sentence that holds it, in both evidence modes.
    use candle_core::{Device, Tensor};
    use rapport::model::{token_span, Encoder, EncoderOptions, HeadSet, ModelSource};
    use rapport::text::cues::{cues_of, LEN};
    let dir = tempfile::tempdir().unwrap();
    let (model, heads_dir) = tiny_model_and_heads(dir.path());
    let encoder = Encoder::load(
        &model.parse::<ModelSource>().unwrap(),
        &EncoderOptions::default(),
    )
    .unwrap();
    let heads = HeadSet::load(&heads_dir, encoder.info(), false).unwrap();
    let head = heads.get("politeness").unwrap();
    assert!(head.cues);
    let politeness = |emb: &Tensor, texts: &[&str]| -> Vec<f32> {
        let rows: Vec<f32> = texts.iter().flat_map(|t| cues_of(t)).collect();
        let cues = Tensor::from_vec(rows, (texts.len(), LEN), &Device::Cpu).unwrap();
        let p = head
            .probabilities(&head.input(emb, &cues).unwrap())
            .unwrap();
        p.into_iter().map(|r| r[0]).collect()
    };
    let polite = "The app still crashes every time. Could you please call me back today?";
    let blunt = "The app still crashes every time. Could you call me back today?";
    for mode in ["pooled", "encoded"] {
        let server = start(&model, &heads_dir, &["--evidence-mode", mode]).await;
        let mut values = Vec::new();
        for text in [polite, blunt] {
            let mut m = message("m", text);
            m.language_hint = "en".into();
            let a = server.analyze_one(m).await;
            let report = a.text.as_ref().unwrap();
            let sentences: Vec<_> = report
                .sentences
                .iter()
                .map(|s| s.start as usize..s.end as usize)
                .collect();
            assert_eq!(sentences.len(), 2, "{mode}: {sentences:?}");
            let sentence_texts: Vec<&str> = sentences.iter().map(|r| &text[r.clone()]).collect();
            let (tokens, offsets) = encoder.tokenize_with_offsets(text).unwrap();
            let own = politeness(&encoder.embed(&[&tokens]).unwrap(), &[text])[0];
            let per_sentence = if mode == "pooled" {
                let spans: Vec<_> = sentences.iter().map(|r| token_span(&offsets, r)).collect();
                let emb = encoder.embed_with_spans(&[&tokens], &[&spans]).unwrap();
                politeness(&emb.narrow(0, 1, 2).unwrap(), &sentence_texts)
            } else {
                let alone: Vec<_> = sentence_texts
                    .iter()
                    .map(|s| encoder.tokenize(s).unwrap())
                    .collect();
                let emb = encoder.embed(&alone.iter().collect::<Vec<_>>()).unwrap();
                politeness(&emb, &sentence_texts)
            };
            let style = a.style.as_ref().unwrap().politeness.as_ref().unwrap();
            assert!(
                (style.value - own).abs() < 1e-4,
                "{mode}: {style:?} vs {own}"
            );
            for e in &style.evidence {
                let want = per_sentence[e.sentence as usize];
                assert!((e.score - want).abs() < 1e-4, "{mode}: {e:?} vs {want}");
            }
            if text == polite {
                // the sentence with the "please" is what makes the message polite
                assert!(per_sentence[1] > 0.9 && per_sentence[1] > per_sentence[0]);
                assert_eq!(style.evidence[0].sentence, 1, "{mode}: {style:?}");
            }
            values.push(style.value);
        }
        assert!(
            values[0] > 0.9 && values[0] > values[1] + 0.3,
            "{mode}: {values:?}"
        );
        server.stop().await.unwrap();
    }
}
