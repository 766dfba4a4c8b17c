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
