//! An in-process rapport server on a loopback port, for tests that go through a real gRPC
//! channel.
#![allow(dead_code)]

use std::{net::SocketAddr, path::Path, time::Duration};

use rapport::{
    config::ServeArgs,
    model::{Encoder, EncoderOptions, HeadKind, HeadSet, ModelSource},
    proto::v1 as pb,
};
use tokio::{sync::oneshot, task::JoinHandle};
use tonic::transport::Channel;
use tonic_health::pb::health_client::HealthClient;

pub const SENTIMENT_LABELS: &[&str] = &["negative", "neutral", "positive"];
pub const EMOTION_LABELS: &[&str] = &[
    "anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral",
];

pub struct TestServer {
    pub addr: SocketAddr,
    pub channel: Channel,
    stop: Option<oneshot::Sender<()>>,
    pub handle: Option<JoinHandle<rapport::Result<()>>>,
    _dir: Option<tempfile::TempDir>,
    /// Holds the profile store of a server not given `--store`.
    _store_dir: Option<tempfile::TempDir>,
}

impl TestServer {
    pub fn analyzer(&self) -> pb::analyzer_client::AnalyzerClient<Channel> {
        pb::analyzer_client::AnalyzerClient::new(self.channel.clone())
    }

    /// Analyzes `messages` in one call with default options.
    pub async fn analyze_all(&self, messages: Vec<pb::Message>) -> Vec<pb::MessageAnalysis> {
        self.analyzer()
            .analyze(pb::AnalyzeRequest {
                messages,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .analyses
    }

    /// Analyzes one message with default options.
    pub async fn analyze_one(&self, message: pb::Message) -> pb::MessageAnalysis {
        self.analyze_all(vec![message]).await.remove(0)
    }

    pub fn profiles(&self) -> pb::profiles_client::ProfilesClient<Channel> {
        pb::profiles_client::ProfilesClient::new(self.channel.clone())
    }

    pub fn scoring(&self) -> pb::scoring_client::ScoringClient<Channel> {
        pb::scoring_client::ScoringClient::new(self.channel.clone())
    }

    pub fn health(&self) -> HealthClient<Channel> {
        HealthClient::new(self.channel.clone())
    }

    /// Signals shutdown and waits for the server to finish draining.
    pub async fn stop(mut self) -> rapport::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.handle.take().unwrap().await.expect("server task")
    }
}

/// Writes a tiny random BERT and random heads for it into `dir`; returns (model, heads dir).
pub fn tiny_model_and_heads(dir: &Path) -> (String, std::path::PathBuf) {
    let model_dir = dir.join("tiny-bert");
    super::tiny::write_tiny_model(&model_dir, 7);
    let source = ModelSource::Dir(model_dir.clone());
    let encoder = Encoder::load(&source, &EncoderOptions::default()).expect("tiny model loads");
    let heads = dir.join("heads");
    HeadSet::write_random(
        &heads,
        encoder.info(),
        &[
            ("sentiment", HeadKind::Softmax, SENTIMENT_LABELS),
            ("emotions", HeadKind::Sigmoid, EMOTION_LABELS),
            ("politeness", HeadKind::Score, &["polite"]),
            ("formality", HeadKind::Score, &["formal"]),
            ("certainty", HeadKind::Binary, &["certain"]),
            ("toxicity", HeadKind::Binary, &["toxic"]),
            (
                "traits",
                HeadKind::Sigmoid,
                &rapport::profile::traits::TRAITS,
            ),
        ],
        11,
    )
    .expect("random heads");
    write_tiny_traits(&heads);
    read_please_cue(&heads.join("politeness"), encoder.info());
    (source.to_string(), heads)
}

/// The trait estimator beside the random `traits` head: a documented toy measurement model
/// (estimates from 50 words on), for tests of the mechanics, not of validity.
pub fn write_tiny_traits(heads: &Path) {
    use rapport::profile::traits::{Measurement, TraitModel, MODEL_FILE};
    let m = Measurement {
        m0: 0.0,
        m1: 0.0,
        a: 0.5,
        psi: 0.2,
        s2: 100.0,
    };
    let model = TraitModel {
        version: "traits-tiny".into(),
        level: 0.8,
        min_words: 50.0,
        fitted_languages: vec!["en".into()],
        other_language_loading: 0.5,
        measurement: vec![m; 5],
        lexical: None,
    };
    std::fs::write(
        heads.join(MODEL_FILE),
        serde_json::to_string_pretty(&model).unwrap(),
    )
    .unwrap();
}

/// Weight on the "please" cue that [`read_please_cue`] gives the politeness head: large beside
/// the random embedding part, so a "please" decides the side.
pub const PLEASE_WEIGHT: f32 = 6.0;

/// Turns the random head in `dir` into one that reads the lexical cues after the embedding (as
/// a head trained with `cues = true`), weighing "please" by [`PLEASE_WEIGHT`] and no other cue,
/// so every API test runs the cue path and one can see it.
pub fn read_please_cue(dir: &Path, encoder: &rapport::model::EncoderInfo) {
    use candle_core::{Device, Tensor};
    use rapport::{model::LinearHead, text::cues};
    let (head, _, _) = LinearHead::load(dir).expect("random head");
    let mut extra = vec![0f32; cues::LEN];
    extra[cues::NAMES.iter().position(|c| *c == "please").unwrap()] = PLEASE_WEIGHT;
    let extra = Tensor::from_vec(extra, (1, cues::LEN), &Device::Cpu).unwrap();
    let weight = Tensor::cat(&[head.weight(), &extra], 1).unwrap();
    LinearHead::new(
        head.task.clone(),
        head.labels.clone(),
        head.languages.clone(),
        format!("{}-cues", head.version),
        weight,
        head.bias().clone(),
        head.temperature,
    )
    .and_then(|h| h.with_kind(head.kind, head.thresholds.clone()))
    .and_then(|h| h.with_cues(true))
    .and_then(|h| h.save(dir, serde_json::json!({"metrics": {}}), encoder))
    .expect("cue-reading head");
}

/// Starts a server on the tiny model with `extra` flags, and waits until health says SERVING.
pub async fn start_tiny(extra: &[&str]) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let (model, heads) = tiny_model_and_heads(dir.path());
    let mut server = start(&model, &heads, extra).await;
    server._dir = Some(dir);
    server
}

/// Starts a server on `model` and `heads` with `extra` flags, and waits for SERVING.
pub async fn start(model: &str, heads: &Path, extra: &[&str]) -> TestServer {
    let mut argv: Vec<String> = vec![
        "--model".into(),
        model.into(),
        "--heads-dir".into(),
        heads.display().to_string(),
        "--metrics-listen".into(),
        "off".into(),
    ];
    argv.extend(extra.iter().map(|s| s.to_string()));
    // Never the user's own data directory: a store of the test's own unless it names one.
    let store_dir = (!extra.contains(&"--store")).then(|| tempfile::tempdir().unwrap());
    if let Some(d) = &store_dir {
        argv.push("--store".into());
        argv.push(format!("sqlite:{}", d.path().join("profiles.db").display()));
    }
    let args = ServeArgs::try_parse_from(argv).expect("serve args");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = tokio::spawn(rapport::grpc::run(args, listener, async move {
        let _ = stopped.await;
    }));
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .expect("connect");
    let server = TestServer {
        addr,
        channel,
        stop: Some(stop),
        handle: Some(handle),
        _dir: None,
        _store_dir: store_dir,
    };
    wait_serving(&server.channel, Duration::from_secs(120)).await;
    server
}

/// Waits until the whole server reports SERVING; panics with the last status otherwise.
pub async fn wait_serving(channel: &Channel, timeout: Duration) {
    rapport::grpc::wait_serving(channel, timeout)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

pub fn message(id: &str, text: &str) -> pb::Message {
    pb::Message {
        id: id.into(),
        text: text.into(),
        ..Default::default()
    }
}
