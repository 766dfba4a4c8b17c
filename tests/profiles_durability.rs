//! The profile store under the failures deployments meet, with `rapport serve` as its own
//! process: SIGKILL in the middle of a batch (SQLite and PostgreSQL), and eight writers on one
//! customer through two server processes sharing PostgreSQL.
mod common;

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::{pg::Schema, server::tiny_model_and_heads};
use rapport::proto::v1 as pb;
use tonic::{transport::Channel, Code};

const BIN: &str = env!("CARGO_BIN_EXE_rapport");
const T0: i64 = 1_793_610_000;

/// A `rapport serve` process on the tiny model and `store`.
struct Server {
    child: Child,
    channel: Channel,
}

impl Server {
    async fn start(models: &Path, store: &str) -> Server {
        let (model, heads) = (models.join("tiny-bert"), models.join("heads"));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(BIN)
            .arg("serve")
            .env("RAPPORT_LISTEN", format!("127.0.0.1:{port}"))
            .env("RAPPORT_METRICS_LISTEN", "off")
            .env("RAPPORT_MODEL", format!("dir:{}", model.display()))
            .env("RAPPORT_HEADS_DIR", &heads)
            .env("RAPPORT_STORE", store)
            .env("RAPPORT_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let endpoint = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let channel = loop {
            match Channel::from_shared(endpoint.clone())
                .unwrap()
                .connect()
                .await
            {
                Ok(c) => break c,
                Err(_) if started.elapsed() < Duration::from_secs(60) => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(e) => panic!("server did not start: {e}"),
            }
        };
        common::server::wait_serving(&channel, Duration::from_secs(60)).await;
        // Profiles turns SERVING once the store is open.
        let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
        loop {
            let s = health
                .check(tonic_health::pb::HealthCheckRequest {
                    service: "rapport.v1.Profiles".into(),
                })
                .await
                .map(|r| r.into_inner().status);
            let serving = tonic_health::pb::health_check_response::ServingStatus::Serving as i32;
            if s.as_ref().is_ok_and(|s| *s == serving) {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "profile store not serving: {s:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Server { child, channel }
    }

    fn profiles(&self) -> pb::profiles_client::ProfilesClient<Channel> {
        pb::profiles_client::ProfilesClient::new(self.channel.clone())
    }

    fn kill(mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn batch(n: usize) -> Vec<pb::Message> {
    (0..n)
        .map(|i| pb::Message {
            id: format!("m{i}"),
            conversation_id: format!("c{}", i / 8),
            role: if i % 4 == 3 {
                pb::Role::Agent
            } else {
                pb::Role::Customer
            } as i32,
            channel: pb::Channel::Chat as i32,
            timestamp: Some(pbjson_types::Timestamp {
                seconds: T0 + 37 * i as i64,
                nanos: 0,
            }),
            text: format!(
                "Message {i}: the parcel {} is late again, please check it and call me back.",
                1000 + i
            ),
            ..Default::default()
        })
        .collect()
}

async fn ingest(
    s: &Server,
    messages: Vec<pb::Message>,
) -> Result<pb::IngestResponse, tonic::Status> {
    s.profiles()
        .ingest_messages(pb::IngestMessagesRequest {
            customer_id: "cust-1".into(),
            messages,
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner())
}

async fn profile(s: &Server) -> Option<pb::Profile> {
    match s
        .profiles()
        .get_profile(pb::GetProfileRequest {
            customer_id: "cust-1".into(),
        })
        .await
    {
        Ok(p) => Some(p.into_inner()),
        Err(e) if e.code() == Code::NotFound => None,
        Err(e) => panic!("{e:?}"),
    }
}

/// What must match between a profile built once and one rebuilt after a crash and a re-send.
fn essence(p: &pb::Profile) -> serde_json::Value {
    let round = |x: f64| (x * 1e6).round() / 1e6;
    serde_json::json!({
        "messages": p.messages,
        "version": p.version,
        "signals": p.signals.iter().map(|s| (s.name.clone(), round(s.mean), s.count)).collect::<Vec<_>>(),
        "behaviour": p.behaviour.iter()
            .filter(|f| !f.name.starts_with("days_since"))
            .map(|f| (f.name.clone(), f.count)).collect::<Vec<_>>(),
        "evidence": p.evidence.iter().map(|e| (e.signal.clone(), e.message_id.clone())).collect::<Vec<_>>(),
    })
}

/// Kills the server at several moments of a 256-message ingestion; after each restart the
/// profile holds all of the batch or none, and re-sending gives what sending once gives.
async fn sigkill_mid_batch(models: &Path, store_for: impl Fn(usize) -> String) {
    const N: usize = 256;
    let own = N - N / 4;
    let reference = {
        let s = Server::start(models, &store_for(0)).await;
        ingest(&s, batch(N)).await.unwrap();
        let p = profile(&s).await.unwrap();
        assert_eq!(p.messages as usize, own);
        s.kill();
        essence(&p)
    };
    let mut outcomes = Vec::new();
    for (trial, delay_ms) in [5u64, 40, 120, 300].into_iter().enumerate() {
        let store = store_for(trial + 1);
        let s = Server::start(models, &store).await;
        let channel = s.channel.clone();
        let call = tokio::spawn(async move {
            pb::profiles_client::ProfilesClient::new(channel)
                .ingest_messages(pb::IngestMessagesRequest {
                    customer_id: "cust-1".into(),
                    messages: batch(N),
                    ..Default::default()
                })
                .await
        });
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        s.kill();
        let answered = call.await.unwrap().is_ok();
        let s = Server::start(models, &store).await;
        let after = profile(&s).await;
        let held = after.as_ref().map_or(0, |p| p.messages as usize);
        assert!(
            held == 0 || held == own,
            "trial {trial}: {held} of {own} messages"
        );
        assert!(!answered || held == own, "answered OK but not stored");
        outcomes.push(held);
        ingest(&s, batch(N)).await.unwrap();
        let p = profile(&s).await.unwrap();
        assert_eq!(
            essence(&p),
            reference,
            "trial {trial} (killed after {delay_ms} ms)"
        );
        s.kill();
    }
    eprintln!("messages held after each kill: {outcomes:?}");
}

#[tokio::test]
async fn sigkill_mid_batch_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    tiny_model_and_heads(dir.path());
    let path = dir.path().to_path_buf();
    sigkill_mid_batch(dir.path(), |i| {
        format!("sqlite:{}", path.join(format!("p{i}.db")).display())
    })
    .await;
}

#[tokio::test]
async fn sigkill_mid_batch_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    tiny_model_and_heads(dir.path());
    let mut schemas = Vec::new();
    for _ in 0..5 {
        schemas.push(Schema::new().await);
    }
    let urls: Vec<String> = schemas.iter().map(|s| s.url.clone()).collect();
    sigkill_mid_batch(dir.path(), |i| urls[i].clone()).await;
    for s in schemas {
        s.drop_now().await;
    }
}

#[tokio::test]
async fn eight_writers_through_two_servers_on_postgres_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    tiny_model_and_heads(dir.path());
    let schema = Schema::new().await;
    let a = Server::start(dir.path(), &schema.url).await;
    let b = Server::start(dir.path(), &schema.url).await;
    const BATCHES: usize = 10;
    const PER_BATCH: usize = 5;
    let mut tasks = Vec::new();
    for w in 0..8 {
        let channel = if w % 2 == 0 { &a } else { &b }.channel.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = pb::profiles_client::ProfilesClient::new(channel);
            for k in 0..BATCHES {
                let events = (0..PER_BATCH)
                    .map(|j| pb::BehaviourEvent {
                        id: format!("w{w}-b{k}-e{j}"),
                        kind: pb::EventKind::Purchase as i32,
                        amount_minor: 100,
                        currency: "EUR".into(),
                        timestamp: Some(pbjson_types::Timestamp {
                            seconds: T0 + (w * 1000 + k * 10 + j) as i64,
                            nanos: 0,
                        }),
                        ..Default::default()
                    })
                    .collect();
                client
                    .ingest_events(pb::IngestEventsRequest {
                        customer_id: "cust-1".into(),
                        events,
                    })
                    .await
                    .unwrap();
                // Every other batch, a message too, through the analysis path.
                if k % 2 == 0 {
                    client
                        .ingest_messages(pb::IngestMessagesRequest {
                            customer_id: "cust-1".into(),
                            messages: vec![pb::Message {
                                id: format!("w{w}-m{k}"),
                                text: format!("Writer {w} asks about order {k}."),
                                ..Default::default()
                            }],
                            ..Default::default()
                        })
                        .await
                        .unwrap();
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let p = profile(&a).await.unwrap();
    let messages = 8 * BATCHES.div_ceil(2);
    assert_eq!(p.events as usize, 8 * BATCHES * PER_BATCH);
    assert_eq!(p.messages as usize, messages);
    assert_eq!(p.version as usize, 8 * BATCHES + messages);
    let spent = p
        .behaviour
        .iter()
        .find(|f| f.name == "mean_purchase.EUR")
        .unwrap();
    assert_eq!(spent.count as usize, 8 * BATCHES * PER_BATCH);
    a.kill();
    b.kill();
    schema.drop_now().await;
}
