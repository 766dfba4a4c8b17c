//! The NATS JetStream feed (`serve --nats`) against the machine's real NATS (JetStream on,
//! 127.0.0.1:4222) and real stores: what a feed message becomes (profile, result, dead
//! letter), and two worker processes on one stream into PostgreSQL, one killed with SIGKILL
//! half way, after which every message counts exactly once.
mod common;

use std::{
    collections::BTreeMap,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use async_nats::jetstream;
use futures::StreamExt;
use rapport::proto::v1 as pb;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_rapport");
const NATS: &str = "nats://127.0.0.1:4222";

/// A prefix and stream of the test's own, so runs never see each other's messages.
fn unique(tag: &str) -> (String, String) {
    let n = format!("{}{:08x}", std::process::id(), rand::random::<u32>());
    (format!("t{tag}{n}"), format!("T{}{n}", tag.to_uppercase()))
}

async fn jetstream_context() -> (async_nats::Client, jetstream::Context) {
    let client = async_nats::connect(NATS).await.unwrap_or_else(|e| {
        panic!(
            "missing prerequisite: NATS with JetStream on {NATS} ({e}); scripts/services.sh \
             starts the machine's (nats-server -a 127.0.0.1 -p 4222 -js)"
        )
    });
    (client.clone(), jetstream::new(client))
}

/// Waits until the server's feed has created its stream.
async fn wait_stream(js: &jetstream::Context, stream: &str) {
    let started = Instant::now();
    while js.get_stream(stream).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the feed did not create stream {stream}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn publish(js: &jetstream::Context, subject: &str, body: Vec<u8>) {
    js.publish(subject.to_string(), body.into())
        .await
        .expect("publish")
        .await
        .expect("stream stored it");
}

/// Waits until the consumer has nothing pending and nothing unacknowledged.
async fn wait_drained(js: &jetstream::Context, stream: &str, consumer: &str, timeout: Duration) {
    let started = Instant::now();
    loop {
        let mut c: jetstream::consumer::PullConsumer = js
            .get_consumer_from_stream(consumer, stream)
            .await
            .expect("consumer");
        let info = c.info().await.expect("consumer info");
        if info.num_pending == 0 && info.num_ack_pending == 0 {
            return;
        }
        assert!(
            started.elapsed() < timeout,
            "feed not drained: {} pending, {} unacknowledged",
            info.num_pending,
            info.num_ack_pending
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn message(id: &str, text: &str, role: &str, minute: u32) -> serde_json::Value {
    json!({
        "id": id,
        "text": text,
        "role": role,
        "conversationId": "c1",
        "timestamp": format!("2026-11-02T10:{minute:02}:00Z"),
        "channel": "CHANNEL_CHAT",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_messages_become_profiles_results_and_dead_letters() {
    let (prefix, stream) = unique("feed");
    let (client, js) = jetstream_context().await;
    let mut results = client.subscribe(format!("{prefix}.results")).await.unwrap();
    let mut dead = client.subscribe(format!("{prefix}.dead")).await.unwrap();
    let results_subject = format!("{prefix}.results");
    let server = common::server::start_tiny(&[
        "--nats",
        NATS,
        "--nats-prefix",
        &prefix,
        "--nats-stream",
        &stream,
        "--nats-results",
        &results_subject,
        "--nats-ack-wait-seconds",
        "5",
    ])
    .await;
    wait_stream(&js, &stream).await;
    let messages = format!("{prefix}.ingest.messages");
    let first = json!({
        "customerId": "cust-1",
        "messages": [
            message("m1", "Hello, my parcel has not arrived yet. Where is it?", "ROLE_CUSTOMER", 0),
            message("a1", "Sorry to hear that, let me check.", "ROLE_AGENT", 2),
        ],
    });
    publish(&js, &messages, serde_json::to_vec(&first).unwrap()).await;
    // Not JSON at all, then an empty text: both dead-lettered, and the feed goes on.
    publish(&js, &messages, b"{not json".to_vec()).await;
    let empty =
        json!({"customerId": "cust-1", "messages": [message("m2", "", "ROLE_CUSTOMER", 5)]});
    publish(&js, &messages, serde_json::to_vec(&empty).unwrap()).await;
    // The first again (a publisher's retry): counted once.
    publish(&js, &messages, serde_json::to_vec(&first).unwrap()).await;
    let later = json!({
        "customer_id": "cust-1",
        "messages": [message("m3", "Thanks, it came today. All good!", "ROLE_CUSTOMER", 30)],
    });
    publish(&js, &messages, serde_json::to_vec(&later).unwrap()).await;
    let events = json!({
        "customerId": "cust-1",
        "events": [{"id": "e1", "kind": "EVENT_KIND_CSAT", "timestamp": "2026-11-02T11:00:00Z", "score": 5}],
    });
    publish(
        &js,
        &format!("{prefix}.ingest.events"),
        serde_json::to_vec(&events).unwrap(),
    )
    .await;

    wait_drained(&js, &stream, "rapport-ingest", Duration::from_secs(60)).await;

    let mut got = Vec::new();
    for _ in 0..4 {
        let m = tokio::time::timeout(Duration::from_secs(10), results.next())
            .await
            .expect("a result for each ingested feed message")
            .unwrap();
        let headers = m.headers.clone().expect("result headers");
        assert_eq!(
            headers.get("Rapport-Customer-Id").unwrap().as_str(),
            "cust-1"
        );
        let r: pb::IngestResponse = serde_json::from_slice(&m.payload).unwrap();
        got.push(r);
    }
    // Feed messages are worked on concurrently, so results come in any order.
    let analysed: Vec<Vec<String>> = got
        .iter()
        .map(|r| r.analyses.iter().map(|a| a.id.clone()).collect())
        .collect();
    assert!(
        analysed.contains(&vec!["m1".to_string()]),
        "the customer's message is analysed and returned, the agent's is not: {analysed:?}"
    );
    assert!(analysed.contains(&vec!["m3".to_string()]), "{analysed:?}");
    let accepted: u32 = got.iter().map(|r| r.accepted).sum();
    let duplicates: u32 = got.iter().map(|r| r.duplicates).sum();
    assert_eq!(accepted, 2 + 1 + 1, "m1, a1, m3 and e1, once each");
    assert_eq!(duplicates, 2, "the repeated batch");

    let mut errors = Vec::new();
    for _ in 0..2 {
        let m = tokio::time::timeout(Duration::from_secs(10), dead.next())
            .await
            .expect("a dead letter for each bad feed message")
            .unwrap();
        let h = m.headers.clone().unwrap();
        assert_eq!(
            h.get("Rapport-Error-Code").unwrap().as_str(),
            "InvalidArgument"
        );
        assert_eq!(h.get("Rapport-Source-Stream").unwrap().as_str(), stream);
        errors.push(h.get("Rapport-Error").unwrap().as_str().to_string());
    }
    errors.sort();
    assert!(errors[0].starts_with("messages[0].text"), "{errors:?}");
    assert!(
        errors[1].starts_with("payload: not the proto3 JSON"),
        "{errors:?}"
    );

    let profile = server
        .profiles()
        .get_profile(pb::GetProfileRequest {
            customer_id: "cust-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((profile.messages, profile.events), (2, 1));
    server.stop().await.unwrap();
    js.delete_stream(&stream).await.unwrap();
}

/// A `rapport serve --nats` worker process on the tiny model.
fn worker(models: &Path, store: &str, prefix: &str, stream: &str, log: &Path) -> Child {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    Command::new(BIN)
        .arg("serve")
        .env("RAPPORT_LISTEN", format!("127.0.0.1:{port}"))
        .env("RAPPORT_METRICS_LISTEN", "off")
        .env(
            "RAPPORT_MODEL",
            format!("dir:{}", models.join("tiny-bert").display()),
        )
        .env("RAPPORT_HEADS_DIR", models.join("heads"))
        .env("RAPPORT_STORE", store)
        .env("RAPPORT_NATS", NATS)
        .env("RAPPORT_NATS_PREFIX", prefix)
        .env("RAPPORT_NATS_STREAM", stream)
        .env("RAPPORT_NATS_ACK_WAIT_SECONDS", "3")
        .env("RAPPORT_NATS_CONCURRENCY", "4")
        .env("RAPPORT_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_one_killed_every_message_counts_once() {
    const CUSTOMERS: usize = 40;
    const PER_CUSTOMER: usize = 30;
    const PER_FEED_MESSAGE: usize = 3;
    let schema = common::pg::Schema::new().await;
    let pool = schema.pool().await;
    let dir = tempfile::tempdir().unwrap();
    tiny_models(dir.path());
    let (prefix, stream) = unique("kill");
    let (_client, js) = jetstream_context().await;
    // The operator's stream, as the workers would create it, so the archive is queued first.
    js.create_stream(jetstream::stream::Config {
        name: stream.clone(),
        subjects: vec![format!("{prefix}.ingest.>")],
        retention: jetstream::stream::RetentionPolicy::WorkQueue,
        ..Default::default()
    })
    .await
    .unwrap();
    let subject = format!("{prefix}.ingest.messages");
    // Customers' messages interleaved, so both workers write to every customer.
    for round in 0..PER_CUSTOMER / PER_FEED_MESSAGE {
        for c in 0..CUSTOMERS {
            let msgs: Vec<_> = (0..PER_FEED_MESSAGE)
                .map(|k| {
                    let i = round * PER_FEED_MESSAGE + k;
                    message(
                        &format!("c{c}-m{i}"),
                        &format!("Message {i} from customer {c}: the order is late, please help."),
                        "ROLE_CUSTOMER",
                        (i % 60) as u32,
                    )
                })
                .collect();
            let body = json!({"customerId": format!("cust-{c}"), "messages": msgs});
            publish(&js, &subject, serde_json::to_vec(&body).unwrap()).await;
        }
    }
    let total = (CUSTOMERS * PER_CUSTOMER) as i64;

    let log_a = dir.path().join("a.log");
    let log_b = dir.path().join("b.log");
    let mut a = worker(dir.path(), &schema.url, &prefix, &stream, &log_a);
    let mut b = worker(dir.path(), &schema.url, &prefix, &stream, &log_b);
    // Kill A with SIGKILL once about a third is in, while both are mid-stream.
    let started = Instant::now();
    let mut stored = 0;
    while stored < total / 3 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "workers stored {stored} of {total} in 120 s; a: {}; b: {}",
            std::fs::read_to_string(&log_a).unwrap_or_default(),
            std::fs::read_to_string(&log_b).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        stored = count(&pool, "SELECT count(*) FROM customer_messages").await;
    }
    a.kill().unwrap();
    a.wait().unwrap();
    assert!(
        stored < total,
        "A was killed after the whole feed was in ({stored}); nothing was left half way"
    );

    wait_drained(&js, &stream, "rapport-ingest", Duration::from_secs(120)).await;
    let info = js
        .get_consumer_from_stream::<jetstream::consumer::pull::Config, _, _>(
            "rapport-ingest",
            &stream,
        )
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .clone();
    // Each delivery takes a consumer sequence number: more deliveries than feed messages
    // means the killed worker's unacknowledged ones went out again.
    let feed_messages = (CUSTOMERS * PER_CUSTOMER / PER_FEED_MESSAGE) as u64;
    eprintln!(
        "killed at {stored}/{total} stored; {} deliveries of {feed_messages} feed messages",
        info.delivered.consumer_sequence
    );
    assert!(
        info.delivered.consumer_sequence > feed_messages,
        "nothing was redelivered after the kill"
    );
    let rows: Vec<(String, i64)> = sqlx::query_as("SELECT key, messages FROM customers")
        .fetch_all(&pool)
        .await
        .unwrap();
    let counted: BTreeMap<String, i64> = rows.into_iter().collect();
    assert_eq!(counted.len(), CUSTOMERS);
    for (key, n) in &counted {
        assert_eq!(
            *n, PER_CUSTOMER as i64,
            "{key}: messages folded into the profile"
        );
    }
    assert_eq!(
        count(&pool, "SELECT count(*) FROM customer_messages").await,
        total
    );
    b.kill().unwrap();
    b.wait().unwrap();
    pool.close().await;
    schema.drop_now().await;
    js.delete_stream(&stream).await.unwrap();
}

fn tiny_models(dir: &Path) {
    common::server::tiny_model_and_heads(dir);
}

async fn count(pool: &sqlx::PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap_or(0)
}
