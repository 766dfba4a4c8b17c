//! Calibration domains through a real gRPC channel on the tiny random model: `general` is
//! today's behaviour exactly, `support` applies `<heads dir>/domains/support.json`, a request
//! may name its domain, and GetInfo says which one is served.
mod common;

use common::server::{message, start, tiny_model_and_heads};
use rapport::{
    analysis::domain::{Domain, DomainCalibration, LanguageMaps, Map, INPUTS},
    model::{Encoder, EncoderOptions, HeadSet, ModelSource},
    proto::v1 as pb,
};
use tonic::Code;

const TEXTS: &[&str] = &[
    "My order arrived broken again, I want a replacement today!",
    "Thank you, the refund arrived, you were very quick.",
    "How do I change the tariff in the app?",
];

async fn analyze(
    server: &common::server::TestServer,
    domain: Option<&str>,
) -> Result<Vec<pb::MessageAnalysis>, tonic::Status> {
    let req = pb::AnalyzeRequest {
        messages: TEXTS
            .iter()
            .enumerate()
            .map(|(i, t)| pb::Message {
                language_hint: "en".into(),
                ..message(&i.to_string(), t)
            })
            .collect(),
        options: domain.map(|d| pb::AnalysisOptions {
            domain: d.into(),
            ..Default::default()
        }),
    };
    let mut out = server
        .analyzer()
        .analyze(req)
        .await
        .map(|r| r.into_inner().analyses)?;
    for a in &mut out {
        a.timings = None;
    }
    Ok(out)
}

async fn info(server: &common::server::TestServer) -> pb::GetInfoResponse {
    pb::info_client::InfoClient::new(server.channel.clone())
        .get_info(pb::GetInfoRequest {})
        .await
        .unwrap()
        .into_inner()
}

fn tone(a: &pb::MessageAnalysis, name: &str) -> f32 {
    a.tones.get(name).copied().unwrap_or(f32::NAN)
}

#[tokio::test]
async fn general_is_todays_behaviour_and_support_applies_the_artifact() {
    let dir = tempfile::tempdir().unwrap();
    let (model, heads) = tiny_model_and_heads(dir.path());

    // No artifact: the server serves general (with a warning), and refuses a support request.
    let plain = start(&model, &heads, &[]).await;
    let i = info(&plain).await;
    assert_eq!(i.domain, "general");
    assert_eq!(i.domains, vec!["general".to_string()]);
    let before = analyze(&plain, None).await.unwrap();
    let err = analyze(&plain, Some("support")).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("support domain"), "{err:?}");
    let err = analyze(&plain, Some("retail")).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().starts_with("options.domain"), "{err:?}");
    plain.stop().await.unwrap();

    // A support artifact for these heads: sentiment pushed to negative, the frustrated tone a
    // Platt map, urgency a logistic over the inputs (weights 0: its intercept alone).
    let encoder = Encoder::load(
        &model.parse::<ModelSource>().unwrap(),
        &EncoderOptions::default(),
    )
    .unwrap();
    let version = HeadSet::load(&heads, encoder.info(), false)
        .unwrap()
        .version();
    let maps = LanguageMaps {
        sentiment: Some(Map::Softmax {
            a: 1.0,
            c: vec![8.0, 0.0, 0.0],
        }),
        frustration: Some(Map::Platt { a: 0.0, c: 3.0 }),
        urgency: Some(Map::Logistic {
            mean: vec![0.0; INPUTS.len()],
            scale: vec![1.0; INPUTS.len()],
            w: vec![0.0; INPUTS.len()],
            b: -3.0,
        }),
        ..Default::default()
    };
    let cal = DomainCalibration {
        domain: "support".into(),
        version: "support-test".into(),
        inputs: INPUTS.iter().map(|s| s.to_string()).collect(),
        heads_version: version,
        languages: [("en".to_string(), maps)].into_iter().collect(),
        fitted_on: serde_json::Value::Null,
        chosen: serde_json::Value::Null,
        metrics: serde_json::Value::Null,
    };
    let path = DomainCalibration::path(&heads, Domain::Support);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, serde_json::to_string(&cal).unwrap()).unwrap();

    // Default domain: support.
    let server = start(&model, &heads, &[]).await;
    let i = info(&server).await;
    assert_eq!(i.domain, "support");
    assert!(i.domains.contains(&"general".to_string()));
    assert!(i.models.iter().any(|m| m.name == "domain:support"));
    let support = analyze(&server, None).await.unwrap();
    for a in &support {
        let s = a.sentiment.as_ref().unwrap();
        assert_eq!(s.label, "negative", "{s:?}");
        assert!((tone(a, "frustrated") - 0.9526).abs() < 1e-3, "{a:?}");
        let u = a.style.as_ref().unwrap().urgency.as_ref().unwrap().value;
        assert!((u - 0.0474).abs() < 1e-3, "{u}");
    }
    assert_ne!(support, before);
    // A request in the general domain gets exactly what a general server gives.
    assert_eq!(analyze(&server, Some("general")).await.unwrap(), before);
    assert_eq!(analyze(&server, Some("support")).await.unwrap(), support);
    server.stop().await.unwrap();

    // --domain general on the same heads: today's outputs, support still askable.
    let general = start(&model, &heads, &["--domain", "general"]).await;
    assert_eq!(info(&general).await.domain, "general");
    assert_eq!(analyze(&general, None).await.unwrap(), before);
    assert_eq!(analyze(&general, Some("support")).await.unwrap(), support);
    general.stop().await.unwrap();

    // Fitted on other heads: not applied.
    let mut other = cal.clone();
    other.heads_version = "other-heads".into();
    std::fs::write(&path, serde_json::to_string(&other).unwrap()).unwrap();
    let stale = start(&model, &heads, &[]).await;
    assert_eq!(info(&stale).await.domain, "general");
    assert_eq!(analyze(&stale, None).await.unwrap(), before);
    stale.stop().await.unwrap();
}
