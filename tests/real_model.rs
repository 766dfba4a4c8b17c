//! The packaged encoder with the trained heads from models/, through gRPC. Runs where the
//! bundle is installed (scripts/install-model.sh; README's test command installs it).
mod common;

use std::path::PathBuf;

use common::server::{message, start};
use rapport::{model::default_bundle_dir, proto::v1 as pb};

fn bundle() -> Option<String> {
    let dir = default_bundle_dir();
    if dir.join("e5-small-q4.bin").exists() && dir.join("tokenizer.json").exists() {
        Some(format!("bundle:{}", dir.display()))
    } else {
        eprintln!(
            "skipped: no model bundle at {} (run scripts/install-model.sh)",
            dir.display()
        );
        None
    }
}

#[tokio::test]
async fn real_model_gets_clear_english_and_russian_sentiment_right() {
    let Some(model) = bundle() else { return };
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
