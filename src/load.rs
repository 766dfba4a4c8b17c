//! `rapport load`: a load generator against an in-process server on loopback, through real gRPC
//! connections. It measures what a support tool and a CRM job see: the peak rate of
//! single-message calls, latency at half that rate from several connections, how throughput and
//! memory scale with callers and with text length, and what happens at three times the peak
//! (RESOURCE_EXHAUSTED for the excess, no call past its deadline, memory bounded, normal service
//! after). Prints markdown tables for BENCH.md.
use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use clap::Args;
use futures::{stream::FuturesUnordered, StreamExt};
use tokio::task::JoinHandle;
use tonic::{transport::Channel, Code};

use crate::{
    config::{ModelArgs, ServeArgs},
    proto::v1 as pb,
    Error, Result,
};

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Texts, one message per line (e.g. /tmp/rapport-bench/tweets.txt from scripts/bench-texts.sh).
    #[arg(long)]
    pub texts: std::path::PathBuf,

    /// Seconds per measurement.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,

    /// Connections sending at half the peak rate for the latency figure.
    #[arg(long, default_value_t = 8)]
    pub streams: usize,

    /// Deadline of each call in the overload phase, milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub deadline_ms: u64,

    /// Phases to run (comma-separated): peak, latency, callers, lengths, overload.
    #[arg(long, default_value = "peak,latency,callers,lengths,overload")]
    pub phases: String,

    #[command(flatten)]
    pub model: ModelArgs,
}

/// Outcomes of a phase's calls.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    exhausted: usize,
    deadline: usize,
    other: Vec<String>,
    tokens: u64,
}

impl Tally {
    fn ok(&self) -> usize {
        self.latencies.len()
    }
    fn pct(&mut self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        self.latencies.sort();
        let i = ((self.latencies.len() as f64 * p) as usize).min(self.latencies.len() - 1);
        self.latencies[i].as_secs_f64() * 1e3
    }
    fn max_ms(&self) -> f64 {
        self.latencies
            .iter()
            .max()
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
    }
    fn merge(&mut self, o: Tally) {
        self.latencies.extend(o.latencies);
        self.exhausted += o.exhausted;
        self.deadline += o.deadline;
        self.other.extend(o.other);
        self.tokens += o.tokens;
    }
    /// One call's outcome; `latency` is measured when the call ends (not when it is tallied).
    fn record(
        &mut self,
        latency: Duration,
        r: std::result::Result<pb::AnalyzeResponse, tonic::Status>,
    ) {
        match r {
            Ok(resp) => {
                self.latencies.push(latency);
                self.tokens += resp.analyses.iter().map(|a| a.tokens as u64).sum::<u64>();
            }
            Err(s) if s.code() == Code::ResourceExhausted => self.exhausted += 1,
            Err(s) if s.code() == Code::DeadlineExceeded || s.code() == Code::Cancelled => {
                self.deadline += 1
            }
            Err(s) => self.other.push(format!("{:?}: {}", s.code(), s.message())),
        }
    }
}

/// Resident memory of this process now and at its peak (VmRSS, VmHWM), MiB.
pub fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Samples RSS every 50 ms until stopped; returns the largest value seen (MiB).
fn rss_sampler() -> (tokio::sync::oneshot::Sender<()>, JoinHandle<f64>) {
    let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
    let h = tokio::spawn(async move {
        let mut max = rss_mib().0;
        loop {
            tokio::select! {
                _ = &mut rx => return max,
                _ = tokio::time::sleep(Duration::from_millis(50)) => max = max.max(rss_mib().0),
            }
        }
    });
    (tx, h)
}

/// An in-process server on a loopback port, serving once models are loaded and warmed.
pub struct InProcessServer {
    pub addr: SocketAddr,
    pub channel: Channel,
    stop: tokio::sync::oneshot::Sender<()>,
    handle: JoinHandle<Result<()>>,
}

impl InProcessServer {
    pub async fn start(model: ModelArgs, stream_window: usize) -> Result<Self> {
        Self::start_with(model, stream_window, crate::config::ProfileArgs::off()).await
    }

    /// The same with a profile store (`rapport profiles bench`).
    pub async fn start_with(
        model: ModelArgs,
        stream_window: usize,
        profiles: crate::config::ProfileArgs,
    ) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| Error::io("127.0.0.1:0", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("listener", e))?;
        let args = ServeArgs {
            listen: addr,
            metrics_listen: "off".into(),
            max_message_bytes: 64 << 20,
            stream_window,
            shutdown_grace_seconds: 5,
            model,
            profiles,
            live: Default::default(),
            // Loopback and plaintext: the load generator dials it directly.
            security: Default::default(),
            nats: Default::default(),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(crate::grpc::run(args, listener, async move {
            let _ = stopped.await;
        }));
        let channel = connect(addr).await?;
        crate::grpc::wait_serving(&channel, Duration::from_secs(300)).await?;
        Ok(InProcessServer {
            addr,
            channel,
            stop,
            handle,
        })
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.handle.await;
    }
}

/// A new HTTP/2 connection to `addr`.
pub async fn connect(addr: SocketAddr) -> Result<Channel> {
    Channel::from_shared(format!("http://{addr}"))
        .map_err(|e| Error::invalid("addr", e.to_string()))?
        .connect()
        .await
        .map_err(|e| Error::Unavailable(format!("connect {addr}: {e}")))
}

fn request(text: &str, deadline: Option<Duration>) -> tonic::Request<pb::AnalyzeRequest> {
    let mut req = tonic::Request::new(pb::AnalyzeRequest {
        messages: vec![pb::Message {
            text: text.to_string(),
            ..Default::default()
        }],
        ..Default::default()
    });
    if let Some(d) = deadline {
        req.set_timeout(d);
    }
    req
}

/// `callers` loops, each sending its next single-message call when the last one answered.
async fn closed_loop(
    channels: &[Channel],
    texts: Arc<Vec<String>>,
    callers: usize,
    seconds: f64,
) -> (Tally, f64) {
    let started = Instant::now();
    let end = started + Duration::from_secs_f64(seconds);
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = FuturesUnordered::new();
    for c in 0..callers {
        let mut client =
            pb::analyzer_client::AnalyzerClient::new(channels[c % channels.len()].clone());
        let texts = texts.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            while Instant::now() < end {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let t0 = Instant::now();
                let r = client.analyze(request(&texts[i % texts.len()], None)).await;
                tally.record(t0.elapsed(), r.map(|r| r.into_inner()));
            }
            tally
        }));
    }
    let mut all = Tally::default();
    while let Some(t) = tasks.next().await {
        all.merge(t.expect("caller task"));
    }
    let secs = started.elapsed().as_secs_f64();
    (all, secs)
}

/// Calls arriving at `rate` per second in total, spread over the channels, whatever the answers
/// (open loop: a slow server does not slow the arrivals).
async fn open_loop(
    channels: &[Channel],
    texts: Arc<Vec<String>>,
    rate: f64,
    seconds: f64,
    deadline: Option<Duration>,
) -> (Tally, f64) {
    let started = Instant::now();
    let n = (rate * seconds).round().max(1.0) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let mut calls = Vec::with_capacity(n);
    for i in 0..n {
        tokio::time::sleep_until((started + interval.mul_f64(i as f64)).into()).await;
        let mut client =
            pb::analyzer_client::AnalyzerClient::new(channels[i % channels.len()].clone());
        let text = texts[i % texts.len()].clone();
        // Spawned, so the call proceeds while later arrivals are scheduled.
        calls.push(tokio::spawn(async move {
            let t0 = Instant::now();
            let call = client.analyze(request(&text, deadline));
            // As gRPC clients do, the caller gives up at its deadline whatever the server does.
            let r = match deadline {
                Some(d) => tokio::time::timeout(d, call)
                    .await
                    .unwrap_or_else(|_| Err(tonic::Status::deadline_exceeded("client deadline"))),
                None => call.await,
            };
            // Timed here, as the call ends: the tally below runs only after the whole run.
            (t0.elapsed(), r.map(|r| r.into_inner()))
        }));
    }
    let mut tally = Tally::default();
    for c in calls {
        let (latency, r) = c.await.expect("call task");
        tally.record(latency, r);
    }
    let secs = started.elapsed().as_secs_f64();
    (tally, secs)
}

/// Texts of about `tokens` tokens each, made by joining consecutive texts (English tweets run
/// about 4.5 characters a token with this tokenizer); the responses report the real count.
fn texts_of_length(texts: &[String], tokens: usize, n: usize) -> Vec<String> {
    let target_chars = tokens * 9 / 2;
    let mut out = Vec::with_capacity(n);
    let mut i = 0;
    while out.len() < n {
        let mut t = String::new();
        while t.len() < target_chars {
            if !t.is_empty() {
                t.push(' ');
            }
            t.push_str(&texts[i % texts.len()]);
            i += 1;
        }
        let mut cut = target_chars.min(t.len());
        while !t.is_char_boundary(cut) {
            cut -= 1;
        }
        t.truncate(cut);
        out.push(t);
    }
    out
}

pub async fn run(args: LoadArgs) -> Result<()> {
    let texts: Vec<String> = std::fs::read_to_string(&args.texts)
        .map_err(|e| Error::io(&args.texts, e))?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    if texts.is_empty() {
        return Err(Error::invalid("texts", "no non-empty lines"));
    }
    let texts = Arc::new(texts);
    let phases: Vec<&str> = args.phases.split(',').map(str::trim).collect();
    let want = |p: &str| phases.contains(&p);
    let secs = args.seconds;
    let server = InProcessServer::start(args.model.clone(), 64).await?;
    let mut channels = Vec::new();
    for _ in 0..args.streams.max(8) {
        channels.push(connect(server.addr).await?);
    }
    let (rss_idle, _) = rss_mib();
    println!(
        "texts: {} ({} messages), threads: {}, idle RSS {rss_idle:.0} MiB (server and load generator share the process)\n",
        args.texts.display(),
        texts.len(),
        std::env::var("RAYON_NUM_THREADS").unwrap_or_default(),
    );

    // Peak: enough closed-loop callers of single-message calls to keep the engine's batches full.
    let mut peak = 0.0;
    if want("peak") || want("latency") || want("overload") {
        let (t, s) = closed_loop(&channels, texts.clone(), 64, secs).await;
        peak = t.ok() as f64 / s;
        println!("peak: {peak:.1} msgs/s of single-message Analyze calls (64 callers)\n");
    }

    if want("latency") {
        let rate = peak * 0.5;
        let n = args.streams.max(1);
        let (mut t, s) = open_loop(&channels[..n], texts.clone(), rate, secs, None).await;
        println!("| load | offered msgs/s | served msgs/s | p50 ms | p99 ms | max ms | errors |");
        println!("|---|---|---|---|---|---|---|");
        println!(
            "| 50% of peak from {n} connections | {rate:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} |\n",
            t.ok() as f64 / s,
            t.pct(0.5),
            t.pct(0.99),
            t.max_ms(),
            t.exhausted + t.deadline + t.other.len()
        );
    }

    if want("callers") {
        println!("| callers | msgs/s | p50 ms | p99 ms | peak RSS MiB |");
        println!("|---|---|---|---|---|");
        for callers in [1, 2, 4, 8, 16, 32, 64] {
            let (stop, rss) = rss_sampler();
            let (mut t, s) = closed_loop(&channels, texts.clone(), callers, secs).await;
            let _ = stop.send(());
            let rss = rss.await.unwrap_or(f64::NAN);
            println!(
                "| {callers} | {:.1} | {:.1} | {:.1} | {rss:.0} |",
                t.ok() as f64 / s,
                t.pct(0.5),
                t.pct(0.99)
            );
        }
        println!();
    }

    if want("lengths") {
        println!(
            "| target tokens | mean tokens | msgs/s | tok/s | p50 ms | p99 ms | peak RSS MiB |"
        );
        println!("|---|---|---|---|---|---|---|");
        for tokens in [10, 50, 100, 250, 500] {
            let long = Arc::new(texts_of_length(&texts, tokens, 512));
            let (stop, rss) = rss_sampler();
            let (mut t, s) = closed_loop(&channels, long, 32, secs).await;
            let _ = stop.send(());
            let rss = rss.await.unwrap_or(f64::NAN);
            println!(
                "| {tokens} | {:.0} | {:.1} | {:.0} | {:.1} | {:.1} | {rss:.0} |",
                t.tokens as f64 / t.ok().max(1) as f64,
                t.ok() as f64 / s,
                t.tokens as f64 / s,
                t.pct(0.5),
                t.pct(0.99)
            );
        }
        println!();
    }

    if want("overload") {
        let rate = peak * 3.0;
        let deadline = Duration::from_millis(args.deadline_ms);
        let (stop, rss) = rss_sampler();
        let (t, s) = open_loop(&channels, texts.clone(), rate, secs, Some(deadline)).await;
        let _ = stop.send(());
        let rss = rss.await.unwrap_or(f64::NAN);
        let total = t.ok() + t.exhausted + t.deadline + t.other.len();
        // A call may end a little after its deadline (the client's timer, the reply in flight).
        let late = t
            .latencies
            .iter()
            .filter(|d| **d > deadline + Duration::from_millis(250))
            .count();
        let after = {
            let mut c = pb::analyzer_client::AnalyzerClient::new(channels[0].clone());
            let t0 = Instant::now();
            let ok = c.analyze(request(&texts[0], Some(deadline))).await.is_ok();
            (ok, t0.elapsed().as_secs_f64() * 1e3)
        };
        println!("| overload | offered msgs/s | served msgs/s | ok | RESOURCE_EXHAUSTED | DEADLINE_EXCEEDED | other | answered past deadline + 250 ms | max latency ms | peak RSS MiB | call after |");
        println!("|---|---|---|---|---|---|---|---|---|---|---|");
        println!(
            "| 3x peak, {} ms deadline | {rate:.1} | {:.1} | {} | {} | {} | {} | {late} | {:.0} | {rss:.0} | {} in {:.1} ms |",
            args.deadline_ms,
            t.ok() as f64 / s,
            t.ok(),
            t.exhausted,
            t.deadline,
            t.other.len(),
            t.max_ms(),
            if after.0 { "ok" } else { "FAILED" },
            after.1
        );
        if let Some(e) = t.other.first() {
            println!("first other error: {e}");
        }
        println!("({total} calls)");
    }
    server.stop().await;
    Ok(())
}
