//! `rapport profiles bench`: the profile store's throughput and latency through real gRPC
//! against an in-process server, for BENCH.md ("Profiles"):
//! - event ingestion in events/s (IngestEvents, batches of `--events-per-call`);
//! - message ingestion against plain Analyze on the same texts, the same calls of 64;
//! - GetProfile p50/p99 with `--customers` stored (filled straight through the store first).
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use clap::Args;
use futures::{stream::FuturesUnordered, StreamExt};

use crate::{
    config::{ModelArgs, ProfileArgs},
    grpc::convert::timestamp_to_proto,
    load::{connect, InProcessServer},
    profile::{service::now, Batch, EventKind, EventRecord, FoldSettings},
    proto::v1 as pb,
    Error, Result,
};

#[derive(Args, Debug)]
pub struct ProfilesBenchArgs {
    /// Texts, one message per line (e.g. /tmp/rapport-bench/tweets.txt from
    /// scripts/bench-texts.sh), for message ingestion against Analyze.
    #[arg(long)]
    pub texts: std::path::PathBuf,

    /// Messages ingested (and analysed) in each of the two runs.
    #[arg(long, default_value_t = 2048)]
    pub messages: usize,

    /// Events ingested.
    #[arg(long, default_value_t = 50_000)]
    pub events: usize,

    #[arg(long, default_value_t = 100)]
    pub events_per_call: usize,

    /// Concurrent callers.
    #[arg(long, default_value_t = 4)]
    pub callers: usize,

    /// Customers stored before GetProfile is timed.
    #[arg(long, default_value_t = 100_000)]
    pub customers: usize,

    /// GetProfile calls timed (one caller, one at a time).
    #[arg(long, default_value_t = 5_000)]
    pub reads: usize,

    #[command(flatten)]
    pub model: ModelArgs,

    #[command(flatten)]
    pub profiles: ProfileArgs,
}

const T0: f64 = 1_790_000_000.0;

fn event(i: usize, customer: usize) -> pb::BehaviourEvent {
    let kinds = [
        pb::EventKind::Purchase,
        pb::EventKind::Login,
        pb::EventKind::TicketOpened,
        pb::EventKind::Csat,
    ];
    let kind = kinds[i % kinds.len()];
    pb::BehaviourEvent {
        id: format!("e{i}"),
        kind: kind as i32,
        timestamp: timestamp_to_proto(T0 + (i * 613 % 86_400 * 30) as f64),
        amount_minor: if kind == pb::EventKind::Purchase {
            1_990
        } else {
            0
        },
        currency: "EUR".into(),
        score: (kind == pb::EventKind::Csat).then_some(4.0),
        attributes: [("order".to_string(), format!("o-{customer}-{i}"))].into(),
        ..Default::default()
    }
}

/// Runs `calls` through `callers` concurrent workers; returns the wall time.
async fn fan_out<F, Fut>(callers: usize, calls: usize, f: F) -> Result<Duration>
where
    F: Fn(usize, usize) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let t = Instant::now();
    let mut running = FuturesUnordered::new();
    let mut next = 0;
    while next < calls || !running.is_empty() {
        while running.len() < callers && next < calls {
            running.push(f(next, next % callers));
            next += 1;
        }
        if let Some(r) = running.next().await {
            r?;
        }
    }
    Ok(t.elapsed())
}

fn status(e: tonic::Status) -> Error {
    Error::Unavailable(format!("{}: {}", e.code(), e.message()))
}

/// The `p` quantile of sorted, non-empty latencies (nearest rank); `rapport live bench` too.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

pub async fn run(args: ProfilesBenchArgs) -> Result<()> {
    let texts: Vec<String> = std::fs::read_to_string(&args.texts)
        .map_err(|e| Error::io(&args.texts, e))?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(args.messages)
        .map(str::to_owned)
        .collect();
    if texts.len() < 64 {
        return Err(Error::invalid("texts", "fewer than 64 non-empty lines"));
    }
    let texts = Arc::new(texts);
    let spec = args.profiles.store_spec();
    let server = InProcessServer::start_with(args.model.clone(), 64, args.profiles.clone()).await?;
    let mut channels = Vec::new();
    for _ in 0..args.callers.max(1) {
        channels.push(connect(server.addr).await?);
    }
    let run_tag = format!("{:x}", rand::random::<u32>());
    println!("store: {spec}, callers: {}, run {run_tag}\n", args.callers);

    // Events.
    let calls = args.events.div_ceil(args.events_per_call);
    let per = args.events_per_call;
    let took = fan_out(args.callers, calls, |c, w| {
        let mut client = pb::profiles_client::ProfilesClient::new(channels[w].clone());
        let customer = format!("bench-{run_tag}-ev-{}", c % 1000);
        async move {
            let events = (0..per).map(|j| event(c * per + j, c)).collect();
            client
                .ingest_events(pb::IngestEventsRequest {
                    customer_id: customer,
                    events,
                })
                .await
                .map_err(status)?;
            Ok(())
        }
    })
    .await?;
    let n = calls * per;
    println!("| measure | value |\n|---|---|");
    println!(
        "| IngestEvents, {per} events a call, {} callers, 1,000 customers | {:.0} events/s ({n} in {:.2} s) |",
        args.callers,
        n as f64 / took.as_secs_f64(),
        took.as_secs_f64()
    );

    // Messages: Analyze, then IngestMessages, the same texts in the same calls of 64.
    let chunks: Vec<Vec<String>> = texts.chunks(64).map(|c| c.to_vec()).collect();
    let chunks = Arc::new(chunks);
    let message = |id: String, text: &str| pb::Message {
        id,
        text: text.to_string(),
        timestamp: timestamp_to_proto(T0),
        ..Default::default()
    };
    let analyze = fan_out(args.callers, chunks.len(), |c, w| {
        let mut client = pb::analyzer_client::AnalyzerClient::new(channels[w].clone());
        let chunk = chunks[c].clone();
        async move {
            let messages = chunk
                .iter()
                .enumerate()
                .map(|(i, t)| message(i.to_string(), t))
                .collect();
            client
                .analyze(pb::AnalyzeRequest {
                    messages,
                    ..Default::default()
                })
                .await
                .map_err(status)?;
            Ok(())
        }
    })
    .await?;
    let ingest = fan_out(args.callers, chunks.len(), |c, w| {
        let mut client = pb::profiles_client::ProfilesClient::new(channels[w].clone());
        let chunk = chunks[c].clone();
        let customer = format!("bench-{run_tag}-msg-{c}");
        async move {
            let messages = chunk
                .iter()
                .enumerate()
                .map(|(i, t)| message(format!("m{i}"), t))
                .collect();
            client
                .ingest_messages(pb::IngestMessagesRequest {
                    customer_id: customer,
                    messages,
                    ..Default::default()
                })
                .await
                .map_err(status)?;
            Ok(())
        }
    })
    .await?;
    let m = texts.len() as f64;
    let (a, i) = (m / analyze.as_secs_f64(), m / ingest.as_secs_f64());
    println!(
        "| Analyze, calls of 64, {} callers | {a:.0} msgs/s |",
        args.callers
    );
    println!(
        "| IngestMessages, the same calls (one customer each) | {i:.0} msgs/s = {:.0}% of Analyze |",
        100.0 * i / a
    );

    // GetProfile with many customers stored: filled through the store directly (the same
    // transactions IngestEvents runs, without gRPC), then read through gRPC.
    let store = crate::store::open(&spec).await?;
    let settings = FoldSettings {
        half_life_days: args.profiles.half_life_days,
        require_consent: false,
        model_version: "bench".into(),
    };
    let fill = Instant::now();
    let store_ref = &store;
    let settings_ref = &settings;
    let tag = &run_tag;
    fan_out(args.callers, args.customers, |c, _| async move {
        let events = (0..3)
            .map(|j| {
                let e = event(c * 3 + j, c);
                EventRecord {
                    id: e.id,
                    kind: [
                        EventKind::Purchase,
                        EventKind::Login,
                        EventKind::TicketOpened,
                    ][j],
                    custom_kind: String::new(),
                    at: T0 + (c % 1000) as f64 * 3600.0 + j as f64,
                    channel: "chat".into(),
                    amount_minor: 1_990,
                    currency: "EUR".into(),
                    score: None,
                    attributes: Default::default(),
                }
            })
            .collect();
        let batch = Batch {
            messages: Vec::new(),
            events,
        };
        store_ref
            .apply(&format!("bench-{tag}-c{c}"), &batch, settings_ref, now())
            .await
            .map(|_| ())
    })
    .await?;
    println!(
        "| stored {} more customers (3 events each, through the store) | {:.0} customers/s |",
        args.customers,
        args.customers as f64 / fill.elapsed().as_secs_f64()
    );
    let mut client = pb::profiles_client::ProfilesClient::new(channels[0].clone());
    let mut lat = Vec::with_capacity(args.reads);
    for r in 0..args.reads {
        let c = (r * 7919) % args.customers;
        let t = Instant::now();
        client
            .get_profile(pb::GetProfileRequest {
                customer_id: format!("bench-{run_tag}-c{c}"),
            })
            .await
            .map_err(status)?;
        lat.push(t.elapsed());
    }
    lat.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "| GetProfile through gRPC, one caller, {} reads over {} stored customers | p50 {:.2} ms, p99 {:.2} ms |",
        args.reads,
        args.customers,
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99))
    );
    server.stop().await;
    Ok(())
}
