//! The packaged encoder with the trained heads from models/, through gRPC. Runs where the
//! bundle is installed (scripts/install-model.sh; README's test command installs it).
mod common;

use std::path::PathBuf;

use common::server::{message, start};
use rapport::proto::v1 as pb;

fn bundle() -> String {
    format!("bundle:{}", common::bundle_dir().display())
}

#[tokio::test]
#[cfg_attr(
    rapport_no_bundle,
    ignore = "no model bundle: run scripts/install-model.sh"
)]
async fn real_model_gets_clear_english_and_russian_sentiment_right() {
    let model = bundle();
    let heads = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models");
    let server = start(&model, &heads, &[]).await;
    let cases = [
        (
            "en+",
            "Thank you so much, you solved my problem in minutes. Great service!",
            "positive",
        ),
        (
            "en-",
            "This is the third time my order is late. Terrible service, I want a refund.",
            "negative",
        ),
        (
            "ru+",
            "Огромное спасибо, вы очень быстро решили мою проблему! Отличный сервис.",
            "positive",
        ),
        (
            "ru-",
            "Ужасный сервис, третий раз задерживают заказ, верните деньги.",
            "negative",
        ),
    ];
    let req = pb::AnalyzeRequest {
        messages: cases
            .iter()
            .map(|(id, text, _)| message(id, text))
            .collect(),
        ..Default::default()
    };
    let analyses = server
        .analyzer()
        .analyze(req)
        .await
        .unwrap()
        .into_inner()
        .analyses;
    for (a, (id, text, want)) in analyses.iter().zip(cases) {
        assert_eq!(a.id, id);
        let s = a.sentiment.as_ref().unwrap();
        assert_eq!(s.label, want, "{text}: {s:?}");
        let sign = if want == "positive" { 1.0 } else { -1.0 };
        assert!(s.score * sign > 0.3, "{text}: score {}", s.score);
        assert_eq!(a.language.as_ref().unwrap().code, &id[..2]);
    }
    server.stop().await.unwrap();
}

#[tokio::test]
#[cfg_attr(
    rapport_no_bundle,
    ignore = "no model bundle: run scripts/install-model.sh"
)]
async fn real_heads_tell_anger_from_joy_and_rudeness_from_courtesy() {
    let model = bundle();
    let heads = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models");
    let server = start(&model, &heads, &[]).await;
    let texts = [
        "This is outrageous! You charged me twice and nobody answers. I am furious.",
        "I'm so happy, the new phone arrived early and it works wonderfully!",
        "Would you kindly let me know when you have a moment? Thank you so much.",
        "Shut up and give me my money back, you idiots.",
    ];
    let analyses = server
        .analyze_all(texts.iter().map(|t| message("", t)).collect())
        .await;
    let (angry, happy, polite, rude) = (&analyses[0], &analyses[1], &analyses[2], &analyses[3]);
    // Across texts, not within one: the emotions head is weak (EVAL.md) and gives "I am furious"
    // only 0.14 anger beside 0.16 joy.
    assert!(angry.emotions["anger"] > happy.emotions["anger"] + 0.1);
    assert!(happy.emotions["joy"] > angry.emotions["joy"] + 0.3);
    assert!(rude.emotions["anger"] > polite.emotions["anger"] + 0.3);
    assert!(angry.tones["frustrated"] > happy.tones["frustrated"]);
    assert!(happy.tones["satisfied"] > angry.tones["satisfied"]);
    let politeness =
        |a: &pb::MessageAnalysis| a.style.as_ref().unwrap().politeness.as_ref().unwrap().value;
    assert!(politeness(polite) > politeness(rude) + 0.2);
    let toxicity = |a: &pb::MessageAnalysis| a.toxicity.as_ref().unwrap().value;
    assert!(
        toxicity(rude) > toxicity(polite) + 0.3,
        "{} vs {}",
        toxicity(rude),
        toxicity(polite)
    );
    assert!(polite.purpose["action_seeking"] + polite.purpose["information_seeking"] > 0.5);
    server.stop().await.unwrap();
}

#[tokio::test]
#[cfg_attr(
    rapport_no_bundle,
    ignore = "no model bundle: run scripts/install-model.sh"
)]
async fn real_evidence_puts_anger_and_thanks_on_their_own_sentences() {
    let model = bundle();
    let heads = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models");
    for mode in ["pooled", "encoded"] {
        evidence_on_their_own_sentences(&model, &heads, mode).await;
    }
}

async fn evidence_on_their_own_sentences(model: &str, heads: &std::path::Path, mode: &str) {
    eprintln!("--evidence-mode {mode}");
    let server = start(model, heads, &["--evidence-mode", mode]).await;
    let texts = [
        "Thanks a lot for the quick fix. But the app still crashes every time and I am furious.",
        "Большое спасибо за быструю помощь. Но приложение снова падает, и я в ярости.",
    ];
    let analyses = server
        .analyze_all(texts.iter().map(|t| message("", t)).collect())
        .await;
    for (a, text) in analyses.iter().zip(texts) {
        assert_eq!(a.text.as_ref().unwrap().sentences.len(), 2, "{text}");
        let top = |key: &str| {
            let s = &a.label_signals[key];
            let e = &s.evidence[0];
            eprintln!(
                "{key}: message {:.3}, sentence {} {:.3}",
                s.value, e.sentence, e.score
            );
            e.sentence
        };
        for key in ["sentiment.negative", "emotions.anger", "tones.frustrated"] {
            assert_eq!(top(key), 1, "{mode} {text}: {key}");
        }
        for key in [
            "sentiment.positive",
            "emotions.joy",
            "tones.polite",
            "tones.satisfied",
        ] {
            assert_eq!(top(key), 0, "{mode} {text}: {key}");
        }
    }
    server.stop().await.unwrap();
}

/// Issue 18's admission check, twice over on one server: warmed by one-word calls, a 64-message
/// call with a deadline three times its own run time is admitted and answered; under real
/// overload (eight clients at once with the same deadline) the excess is refused with
/// RESOURCE_EXHAUSTED at once, no call outlives its deadline by much, and the server serves on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    rapport_no_bundle,
    ignore = "no model bundle: run scripts/install-model.sh"
)]
async fn admission_admits_what_an_idle_server_finishes_and_refuses_overload_quickly() {
    use std::time::{Duration, Instant};
    use tonic::Code;
    let heads = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models");
    let server = start(&bundle(), &heads, &["--store", "off"]).await;
    let batch = |n: usize| pb::AnalyzeRequest {
        messages: (0..n)
            .map(|i| {
                message(
                    &i.to_string(),
                    &format!(
                        "Order {i} has not arrived yet and nobody answers my emails, please help."
                    ),
                )
            })
            .collect(),
        ..Default::default()
    };
    let channel = server.channel.clone();
    let call = move |req: pb::AnalyzeRequest, deadline: Option<Duration>| {
        let mut client = pb::analyzer_client::AnalyzerClient::new(channel.clone());
        async move {
            let mut req = tonic::Request::new(req);
            if let Some(d) = deadline {
                req.set_timeout(d);
            }
            let t = Instant::now();
            let r = client.analyze(req).await;
            (r.map(|r| r.into_inner().analyses.len()), t.elapsed())
        }
    };
    for round in 0..2 {
        for i in 0..6 {
            let (r, _) = call(
                pb::AnalyzeRequest {
                    messages: vec![message(&i.to_string(), "ok")],
                    ..Default::default()
                },
                None,
            )
            .await;
            r.unwrap();
        }
        let (r, took) = call(batch(64), None).await;
        assert_eq!(r.unwrap(), 64);
        let deadline = took * 3;
        let (r, took_again) = call(batch(64), Some(deadline)).await;
        assert_eq!(
            r.unwrap_or_else(|e| panic!(
                "round {round}: refused with {deadline:?} for a {took:?} call: {e:?}"
            )),
            64
        );
        eprintln!("round {round}: 64 messages in {took:?}, then {took_again:?} under a {deadline:?} deadline");

        // Overload: eight clients, each four calls back to back, at once.
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let c = call.clone();
            let b = batch;
            tasks.push(tokio::spawn(async move {
                let mut out = Vec::new();
                for _ in 0..4 {
                    out.push(c(b(64), Some(deadline)).await);
                }
                out
            }));
        }
        let (mut ok, mut late) = (0, 0);
        let mut refused = Vec::new();
        for t in tasks {
            for (r, took) in t.await.unwrap() {
                match r {
                    Ok(_) => ok += 1,
                    Err(e) if e.code() == Code::ResourceExhausted => refused.push(took),
                    // Admitted but late: the server's DEADLINE_EXCEEDED, or the client's own
                    // timeout (CANCELLED) when it gives up first.
                    Err(e) => {
                        assert!(
                            matches!(e.code(), Code::DeadlineExceeded | Code::Cancelled),
                            "{e:?}"
                        );
                        late += 1;
                    }
                }
                assert!(
                    took < deadline + Duration::from_secs(2),
                    "a call hung: {took:?}"
                );
            }
        }
        refused.sort();
        assert!(
            !refused.is_empty(),
            "round {round}: nothing refused under overload ({ok} ok)"
        );
        let median = refused[refused.len() / 2];
        assert!(
            median < Duration::from_millis(500),
            "refusals took {refused:?}"
        );
        eprintln!(
            "round {round}: overload of 32 calls in {:?}: {ok} answered, {late} late, {} refused (median {median:?})",
            started.elapsed(),
            refused.len()
        );
        // Healthy after: the same call is admitted again once the queue has drained.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (r, _) = call(batch(64), Some(deadline * 2)).await;
        assert_eq!(
            r.unwrap(),
            64,
            "round {round}: not admitted after the overload"
        );
    }
    server.stop().await.unwrap();
}

/// Trait scores of unchanged input move at most this much (percentile points) when the
/// forward pass changes under them (docs/traits.md, "Upgrades").
const TRAIT_UPGRADE_TOLERANCE: f32 = 0.02;

#[tokio::test]
#[cfg_attr(
    rapport_no_bundle,
    ignore = "no model bundle: run scripts/install-model.sh"
)]
async fn trait_estimates_hold_across_a_forward_pass_upgrade() {
    let model = bundle();
    let heads = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models");
    let texts = [
        "I keep a detailed plan for every week and I hate it when deliveries come late.",
        "Honestly I love trying new things, last month I took up pottery and Spanish.",
        "Could you please tell me when the technician will come? I will be at home all day.",
        "I was worried the payment failed twice, I could not sleep, please check it.",
        "We had a great party on Saturday, thanks for delivering the speakers on time!",
        "The invoice lists two services I never ordered. Please correct it and send it again.",
    ];
    let mut scores = Vec::new();
    for precision in ["int8", "f32"] {
        let dir = tempfile::tempdir().unwrap();
        let store = format!("sqlite:{}", dir.path().join("p.db").display());
        let server = start(
            &model,
            &heads,
            &["--precision", precision, "--store", &store],
        )
        .await;
        let messages = (0..24)
            .map(|i| pb::Message {
                timestamp: Some(pbjson_types::Timestamp {
                    seconds: 1_790_000_000 + i * 3_600,
                    nanos: 0,
                }),
                role: pb::Role::Customer as i32,
                ..message(&format!("m{i}"), texts[i as usize % texts.len()])
            })
            .collect();
        server
            .profiles()
            .ingest_messages(pb::IngestMessagesRequest {
                customer_id: "c".into(),
                messages,
                ..Default::default()
            })
            .await
            .unwrap();
        let p = server
            .profiles()
            .get_profile(pb::GetProfileRequest {
                customer_id: "c".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(p.big_five.len(), 5);
        assert!(p.big_five.iter().all(|t| !t.abstained), "{:?}", p.big_five);
        scores.push(p.big_five);
        server.stop().await.unwrap();
    }
    for (a, b) in scores[0].iter().zip(&scores[1]) {
        let moved = (a.score - b.score).abs();
        assert!(
            moved <= TRAIT_UPGRADE_TOLERANCE,
            "{}: int8 {:.4}, f32 {:.4}",
            a.r#trait,
            a.score,
            b.score
        );
    }
}
