//! `rapport bench`: throughput and latency of the encoder alone, of the full Analyze path
//! in-process, and through gRPC on loopback, on a file of texts (one per line). Prints a
//! markdown table; BENCH.md records the figures beside the reference runtimes of
//! ../shared/bench measured in the same sitting.
use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use clap::Args;
use futures::{stream::FuturesUnordered, StreamExt};

use crate::{
    analysis::{Analyzer, MessageInput},
    config::ModelArgs,
    model::{default_bundle_dir, Encoder, EncoderOptions, ModelSource, Precision},
    proto::v1 as pb,
    Error, Result,
};

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Texts, one message per line.
    #[arg(long)]
    pub texts: PathBuf,

    /// Messages per batch (per Analyze call; per forward pass for the encoder-only figure).
    #[arg(long, default_value_t = 32)]
    pub batch: usize,

    /// Sort the texts by length first, as the reference scripts' `sorted` option does.
    #[arg(long)]
    pub sorted: bool,

    /// Batches in flight at once for the throughput figures.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,

    /// Single-message calls timed one after another for the latency figures.
    #[arg(long, default_value_t = 300)]
    pub single: usize,

    #[command(flatten)]
    pub model: ModelArgs,
}

struct Row {
    what: String,
    msgs_per_s: f64,
    detail: String,
}

pub async fn run(args: BenchArgs) -> Result<()> {
    let mut texts: Vec<String> = std::fs::read_to_string(&args.texts)
        .map_err(|e| Error::io(&args.texts, e))?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    if texts.is_empty() {
        return Err(Error::invalid("texts", "no non-empty lines"));
    }
    if args.sorted {
        texts.sort_by_key(|t| t.len());
    }
    let batch = args.batch.max(1);
    let mut rows = Vec::new();

    let model_args = args.model.clone();
    let analyzer = tokio::task::spawn_blocking(move || Analyzer::load(&model_args))
        .await
        .map_err(|e| Error::model(format!("loading panicked: {e}")))??;
    let analyzer = Arc::new(analyzer);
    analyzer.warm_up().await?;

    // Encoder alone: tokenize + forward + pooling, batch by batch on this thread, each timed
    // apart. The embeddings are read back to the host, as the heads need them there: on a GPU
    // this also waits for the batch's kernels, which would otherwise still be queued when the
    // clock stops.
    let encoder = analyzer.encoder().clone();
    let t = texts.clone();
    let (tok_secs, fwd_secs, tokens) =
        tokio::task::spawn_blocking(move || -> Result<(f64, f64, usize)> {
            let (mut tok_secs, mut fwd_secs, mut tokens) = (0f64, 0f64, 0);
            for chunk in t.chunks(batch) {
                let started = Instant::now();
                let toks = chunk
                    .iter()
                    .map(|s| encoder.tokenize(s))
                    .collect::<Result<Vec<_>>>()?;
                tok_secs += started.elapsed().as_secs_f64();
                tokens += toks.iter().map(|t| t.ids.len()).sum::<usize>();
                let refs: Vec<_> = toks.iter().collect();
                let started = Instant::now();
                encoder.embed(&refs)?.to_vec2::<f32>()?;
                fwd_secs += started.elapsed().as_secs_f64();
            }
            Ok((tok_secs, fwd_secs, tokens))
        })
        .await
        .map_err(|e| Error::model(format!("bench panicked: {e}")))??;
    let secs = tok_secs + fwd_secs;
    rows.push(Row {
        what: format!("encoder only, batch {batch}"),
        msgs_per_s: texts.len() as f64 / secs,
        detail: format!(
            "{:.0} tok/s; tokenizer (one thread) {:.0} msgs/s, forward + pooling {:.0} msgs/s",
            tokens as f64 / secs,
            texts.len() as f64 / tok_secs,
            texts.len() as f64 / fwd_secs
        ),
    });

    // Full Analyze path in-process (tokenize, engine queue + batching, heads, composition).
    let secs = throughput(&texts, batch, args.concurrency, |msgs| {
        let a = analyzer.clone();
        async move { a.analyze(msgs, None, "messages").await.map(|_| ()) }
    })
    .await?;
    rows.push(Row {
        what: format!("Analyze in-process, {} x batch {batch}", args.concurrency),
        msgs_per_s: texts.len() as f64 / secs,
        detail: String::new(),
    });
    drop(analyzer);

    // The same through gRPC on loopback.
    let server = crate::load::InProcessServer::start(args.model.clone(), 64).await?;
    let channel = server.channel.clone();
    let client = pb::analyzer_client::AnalyzerClient::new(channel);
    let call = |msgs: Vec<MessageInput>| {
        let mut c = client.clone();
        async move {
            let req = pb::AnalyzeRequest {
                messages: msgs
                    .into_iter()
                    .map(|m| pb::Message {
                        id: m.id,
                        text: m.text,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            };
            c.analyze(req)
                .await
                .map(|_| ())
                .map_err(|s| Error::Unavailable(s.to_string()))
        }
    };
    let secs = throughput(&texts, batch, args.concurrency, call).await?;
    rows.push(Row {
        what: format!("Analyze via gRPC, {} x batch {batch}", args.concurrency),
        msgs_per_s: texts.len() as f64 / secs,
        detail: String::new(),
    });

    // Idle single-message latency through gRPC.
    let mut lat = Vec::with_capacity(args.single);
    for i in 0..args.single {
        let text = texts[i % texts.len()].clone();
        let started = Instant::now();
        call(vec![MessageInput {
            id: i.to_string(),
            text,
            ..Default::default()
        }])
        .await?;
        lat.push(started.elapsed());
    }
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    rows.push(Row {
        what: "single message via gRPC, idle".into(),
        msgs_per_s: lat.len() as f64 / lat.iter().map(Duration::as_secs_f64).sum::<f64>(),
        detail: format!(
            "p50 {:.1} ms, p99 {:.1} ms",
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3
        ),
    });
    server.stop().await;

    // Accuracy of the forward pass in use against the f32 reference, on the same texts.
    let model_args = args.model.clone();
    let t = texts.clone();
    let (precision, cosine) = tokio::task::spawn_blocking(move || cosine_to_f32(&model_args, &t))
        .await
        .map_err(|e| Error::model(format!("cosine panicked: {e}")))??;

    println!(
        "texts: {} ({} messages, sorted: {}), threads: {}, precision: {precision}",
        args.texts.display(),
        texts.len(),
        args.sorted,
        std::env::var("RAYON_NUM_THREADS").unwrap_or_default()
    );
    match cosine {
        Some((mean, min)) => println!(
            "cosine to the f32 CPU reference over {} messages: mean {mean:.5}, min {min:.5}",
            texts.len()
        ),
        None => println!("cosine to the f32 CPU reference: 1 (this is it)"),
    }
    println!("| path | msgs/s | |\n|---|---|---|");
    for r in rows {
        println!("| {} | {:.1} | {} |", r.what, r.msgs_per_s, r.detail);
    }
    Ok(())
}

/// Seconds to push every text through `call` in batches, `concurrency` batches at a time.
async fn throughput<F, Fut>(
    texts: &[String],
    batch: usize,
    concurrency: usize,
    call: F,
) -> Result<f64>
where
    F: Fn(Vec<MessageInput>) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let started = Instant::now();
    let mut chunks = texts.chunks(batch).enumerate();
    let mut in_flight = FuturesUnordered::new();
    loop {
        while in_flight.len() < concurrency.max(1) {
            let Some((i, chunk)) = chunks.next() else {
                break;
            };
            let msgs = chunk
                .iter()
                .enumerate()
                .map(|(j, t)| MessageInput {
                    id: format!("{i}-{j}"),
                    text: t.clone(),
                    ..Default::default()
                })
                .collect();
            in_flight.push(call(msgs));
        }
        match in_flight.next().await {
            Some(r) => r?,
            None => break,
        }
    }
    Ok(started.elapsed().as_secs_f64())
}

/// The precision `args` resolve to, and (mean, min) cosine of the embeddings of `texts` by
/// that forward pass on that device to those of the packed f32 CPU encoder (equal to candle's
/// f32 BERT on the CPU within 1e-4); `None` when the forward pass in use is that reference.
fn cosine_to_f32(args: &ModelArgs, texts: &[String]) -> Result<(Precision, Option<(f64, f64)>)> {
    let source = match &args.model {
        Some(s) => s.parse::<ModelSource>()?,
        None => ModelSource::Bundle(default_bundle_dir()),
    };
    let opts = |device, precision| EncoderOptions {
        device,
        max_tokens: args.max_tokens,
        precision,
        ..EncoderOptions::default()
    };
    let device = args.device.device()?;
    let precision = args.precision.resolve(&device);
    if device.is_cpu() && precision == Precision::F32 {
        return Ok((precision, None));
    }
    let fast = Encoder::load(&source, &opts(device, precision))?;
    let reference = Encoder::load(&source, &opts(candle_core::Device::Cpu, Precision::F32))?;
    let (mut sum, mut min) = (0f64, f64::MAX);
    for chunk in texts.chunks(32) {
        let toks = chunk
            .iter()
            .map(|t| fast.tokenize(t))
            .collect::<Result<Vec<_>>>()?;
        let refs: Vec<_> = toks.iter().collect();
        let a = fast.embed(&refs)?.to_vec2::<f32>()?;
        let b = reference.embed(&refs)?.to_vec2::<f32>()?;
        for (x, y) in a.iter().zip(&b) {
            let c: f64 = x.iter().zip(y).map(|(p, q)| (p * q) as f64).sum();
            sum += c;
            min = min.min(c);
        }
    }
    Ok((precision, Some((sum / texts.len() as f64, min))))
}
