//! `rapport score`: scores an archive (JSONL, CSV, mbox, .eml or transcript folders) in-process
//! or through servers (`--server`), writing JSONL or CSV in input order, resumable after a
//! kill (`checkpoint`), split over pods (`--shard`), optionally folded into the profile store
//! (`--ingest`).
pub mod checkpoint;
pub mod feed;
pub mod ingest;
pub mod input;
pub mod local;
pub mod output;
pub mod remote;
pub mod shard;
pub mod summary;

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use clap::Args;
use futures::{stream::FuturesOrdered, StreamExt};
use serde_json::json;

use crate::{
    config::{ClientSecurityArgs, ModelArgs, ProfileArgs},
    proto::v1 as pb,
    Error, Result,
};
use checkpoint::Checkpoint;
use ingest::{Ingest, ProfileItem};
use input::{CsvColumns, InputFormat};
use output::{OutputFormat, Shape, Sink};
use shard::Shard;
use summary::IngestCounts;

#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// The archive: a JSONL file (one `Message` per line in the proto3 JSON mapping: {"id",
    /// "text"} plus any other `Message` field; keys that are not `Message` fields are ignored),
    /// a CSV file (see the --*-column flags), an mbox, an .eml file, or a folder of .eml files
    /// or of call transcripts (.vtt, .srt, .txt, .json), read in path order with each file's
    /// path as its id. "-" reads JSONL from standard input.
    #[arg(long, short)]
    pub input: PathBuf,

    /// How the input is laid out [default: from its extension (.jsonl/.ndjson, .csv/.tsv,
    /// .mbox, .eml, .vtt/.srt), or for a folder, from the files in it].
    #[arg(long, value_enum)]
    pub input_format: Option<InputFormat>,

    #[command(flatten)]
    pub csv: CsvColumns,

    /// Where the results go, one per record in input order: JSONL (a `MessageAnalysis` per line
    /// in the proto3 JSON mapping, keys sorted at every level) or CSV (the headline fields). A
    /// record that cannot be analysed gives {"id", "line", "error"} instead: "line" is its line
    /// in a JSONL or CSV input (from 1), "error" names the field of its `Message` ("text: must
    /// not be empty"). "-" writes to stdout (and cannot be resumed).
    #[arg(long, short, default_value = "-")]
    pub output: PathBuf,

    /// jsonl or csv [default: csv for a .csv path, else jsonl].
    #[arg(long, value_enum)]
    pub output_format: Option<OutputFormat>,

    /// Write only these fields, comma-separated dotted paths into the JSON (sentiment.label,
    /// emotions.joy, style.urgency.value, text.sentences.text); the id always comes first. With
    /// CSV output, the columns.
    #[arg(long, value_delimiter = ',', value_name = "PATHS")]
    pub fields: Vec<String>,

    /// Leave out the evidence, `labelSignals` and the text report's per-sentence and per-turn
    /// detail (redacted text, cuts, personal data spans, sentences, features, turns): the
    /// results alone, under 2 KB for a short message. --fields picks from what is left.
    #[arg(long)]
    pub compact: bool,

    /// Pass the input's own fields through: JSONL keys that are not `Message` fields, or CSV
    /// columns no flag maps, under "input" (CSV output: "input.<column>" columns for a CSV
    /// input, else one "input" column of JSON).
    #[arg(long)]
    pub keep_fields: bool,

    /// Keep each analysis's `timings` (left out by default: they differ on every run, and
    /// everything else is the same for the same input and models).
    #[arg(long)]
    pub timings: bool,

    /// Score only shard i of N (i from 0): records are split by a stable hash of the customer id
    /// (else the message id, else the record's position), so N runs with 0/N .. N-1/N (the pods
    /// of a Kubernetes Indexed Job) cover the input exactly once. Give each its own --output.
    #[arg(long, value_name = "i/N")]
    pub shard: Option<Shard>,

    /// Start over even where `<output>.checkpoint` says an earlier run of this output stopped
    /// half way (without it such a run is resumed, and one with another input or other flags
    /// is refused).
    #[arg(long)]
    pub restart: bool,

    /// Seconds between checkpoints (the output fsynced, then `<output>.checkpoint` replaced);
    /// 0: after every chunk.
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    pub checkpoint_seconds: f64,

    /// Also write the summary (counts, languages, sentiment, top emotions, errors, throughput)
    /// to this file as JSON.
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,

    /// Messages per engine submission (in-process) or per Score stream (--server).
    #[arg(long, default_value_t = 128)]
    pub chunk: usize,

    /// Leave out the evidence (the sentences behind each result), as
    /// `AnalysisOptions.skip_evidence` does.
    #[arg(long)]
    pub no_evidence: bool,

    /// Score through this rapport server (HOST:PORT or a URL) instead of in-process; repeat it
    /// to spread the load over several (client-side balancing over one channel). The output is
    /// the same as in-process with the same models.
    #[arg(long = "server", value_name = "URL")]
    pub servers: Vec<String>,

    /// Score streams in flight with --server [default: 4 per server].
    #[arg(long)]
    pub streams: Option<usize>,

    #[command(flatten)]
    pub security: ClientSecurityArgs,

    /// Fold each scored message with a customer id into the profile store (--store), as
    /// IngestMessages does: idempotent by message id, so a rerun counts nothing twice; each
    /// customer's messages of a chunk in one transaction. Messages without a customer id are
    /// counted in the summary. In-process only: with --server, send IngestMessages to the
    /// server instead (it analyses what it stores itself).
    #[arg(long)]
    pub ingest: bool,

    #[command(flatten)]
    pub profiles: ProfileArgs,

    #[command(flatten)]
    pub model: ModelArgs,
}

/// What a record came to.
pub enum Outcome {
    /// Its analysis, and with `--ingest` what it gives the profile store.
    Scored(Box<pb::MessageAnalysis>, Option<ProfileItem>),
    /// Why it was not scored, naming the field of its `Message`.
    Rejected(String),
}

enum Scorer {
    Local(local::Local),
    Remote(remote::Remote),
}

impl Scorer {
    async fn score(
        &self,
        messages: Vec<std::result::Result<pb::Message, String>>,
    ) -> Result<Vec<Outcome>> {
        match self {
            Scorer::Local(l) => l.score(messages).await,
            Scorer::Remote(r) => r.score(messages).await,
        }
    }
}

/// The options that shape the written lines: a resumed run must have the same.
fn output_options(args: &ScoreArgs, input: InputFormat, shape: &Shape) -> serde_json::Value {
    json!({
        "input_format": input,
        "csv_columns": args.csv,
        "output_format": shape.format,
        "fields": shape.fields,
        "compact": shape.compact,
        "timings": shape.timings,
        "keep_fields": shape.keep_fields,
        "no_evidence": args.no_evidence,
        "shard": args.shard.map(|s| s.to_string()),
        "ingest": args.ingest,
    })
}

pub async fn run(args: ScoreArgs) -> Result<()> {
    let started = Instant::now();
    if args.ingest && !args.servers.is_empty() {
        return Err(Error::invalid(
            "--ingest",
            "not with --server: the analyses would come from the server but the profiles \
             would be folded here, from a store the servers do not see; send the messages to \
             the server's Profiles.IngestMessages instead, or run score --ingest in-process",
        ));
    }
    let input_format = input::detect(&args.input, args.input_format)?;
    let output_format = output::detect(&args.output, args.output_format);
    let source = input::open(&args.input, input_format, &args.csv, args.keep_fields)?;
    let shape = Shape::new(
        output_format,
        &args.fields,
        args.compact,
        args.timings,
        args.keep_fields,
        source.extra_columns(),
    )?;

    // Resumable when both ends are files.
    let resumable = args.input.as_os_str() != "-" && args.output.as_os_str() != "-";
    let cp_path = checkpoint::path_for(&args.output);
    let options = output_options(&args, input_format, &shape);
    let mut cp = if resumable {
        let fingerprint = checkpoint::fingerprint(&args.input)?;
        match checkpoint::load(&cp_path)? {
            Some(old) if !args.restart => {
                old.check(&cp_path, &fingerprint, &options)?;
                Some(old)
            }
            _ => Some(Checkpoint::new(fingerprint, options)),
        }
    } else {
        None
    };
    let resumed_from = cp.as_ref().map_or(0, |c| c.consumed);
    let mut counts = cp.as_ref().map(|c| c.counts.clone()).unwrap_or_default();
    if args.ingest && counts.ingest.is_none() {
        counts.ingest = Some(IngestCounts::default());
    }

    // The engine: models in-process, or the servers.
    let mut ingest: Option<Ingest> = None;
    let (scorer, chunk, window) = if args.servers.is_empty() {
        let store_text = args.ingest.then_some(args.profiles.store_text);
        let local = local::Local::load(&args.model, args.no_evidence, store_text).await?;
        if args.ingest {
            ingest = Some(Ingest::open(&args.profiles, local.analyzer.model_version()).await?);
        }
        let (chunk, window) = local.chunking(args.chunk);
        (Scorer::Local(local), chunk, window)
    } else {
        let remote =
            remote::Remote::connect(&args.servers, &args.security, args.no_evidence).await?;
        let streams = args.streams.unwrap_or(4 * args.servers.len()).max(1);
        (Scorer::Remote(remote), args.chunk.max(1), streams)
    };
    let scorer = Arc::new(scorer);

    let keep = (resumed_from > 0).then(|| cp.as_ref().map_or(0, |c| c.output_bytes));
    if keep.is_none() && resumable {
        // A checkpoint of a run started over must not outlive the new run's first one.
        checkpoint::remove(&cp_path)?;
    }
    let mut sink = Sink::open(&args.output, keep)?;
    if resumed_from > 0 {
        tracing::info!(
            record = resumed_from,
            checkpoint = %cp_path.display(),
            "resuming after the last checkpoint"
        );
    } else if output_format == OutputFormat::Csv {
        sink.write(&shape.header_line())?;
    }

    // Throughput counts from here: model loading (or waiting for the servers) is setup.
    let scoring_started = Instant::now();
    let total = source.total();
    let mut chunks = feed::spawn(source, resumed_from, args.shard, chunk, window + 1);
    let bar = progress_bar(total);
    let every = Duration::from_secs_f64(args.checkpoint_seconds.max(0.0));
    let mut last_checkpoint = Instant::now();
    let mut this_run = 0u64;

    type Pending = std::pin::Pin<
        Box<dyn std::future::Future<Output = (feed::Chunk, Result<Vec<Outcome>>)> + Send>,
    >;
    let mut in_flight: FuturesOrdered<Pending> = FuturesOrdered::new();
    let mut input_open = true;
    loop {
        tokio::select! {
            biased;
            next = chunks.recv(), if input_open && in_flight.len() < window => {
                match next {
                    None => input_open = false,
                    Some(Err(e)) => return Err(e),
                    Some(Ok(mut c)) => {
                        let scorer = scorer.clone();
                        let messages = c
                            .records
                            .iter_mut()
                            .map(|r| std::mem::replace(&mut r.message, Err(String::new())))
                            .collect();
                        in_flight.push_back(Box::pin(async move {
                            let outcomes = scorer.score(messages).await;
                            (c, outcomes)
                        }));
                    }
                }
            }
            done = in_flight.next(), if !in_flight.is_empty() => {
                let (c, outcomes) = done.expect("a chunk in flight");
                let outcomes = outcomes?;
                let mut profile_items = Vec::new();
                let mut lines = Vec::with_capacity(c.records.len());
                for (r, outcome) in c.records.iter().zip(outcomes) {
                    match outcome {
                        Outcome::Scored(a, item) => {
                            counts.scored(&a);
                            profile_items.extend(item);
                            let v = shape.analysis(&a, r.extra.as_ref());
                            lines.push(shape.line(&v, Some(&a)));
                        }
                        Outcome::Rejected(e) => {
                            counts.rejected(&e);
                            let v = shape.error(&r.id, r.line, &e, r.extra.as_ref());
                            lines.push(shape.line(&v, None));
                        }
                    }
                }
                // Into the store before the lines and the checkpoint: a run stopped in between
                // folds them again on resuming, and ids make that count once.
                if let (Some(ing), Some(ic)) = (&ingest, counts.ingest.as_mut()) {
                    ing.fold(profile_items, ic).await?;
                }
                for l in &lines {
                    sink.write(l)?;
                }
                this_run += c.records.len() as u64;
                counts.read += c.records.len() as u64 + c.foreign;
                counts.skipped_by_shard += c.foreign;
                bar.set_position(c.position);
                bar.set_message(format!(
                    "{} scored, {} rejected, {:.0} msg/s",
                    counts.scored,
                    counts.rejected,
                    this_run as f64 / scoring_started.elapsed().as_secs_f64().max(1e-3)
                ));
                if let Some(cp) = cp.as_mut() {
                    cp.consumed = c.consumed;
                    if last_checkpoint.elapsed() >= every {
                        sink.sync()?;
                        cp.output_bytes = sink.bytes;
                        cp.counts = counts.clone();
                        cp.save(&cp_path)?;
                        last_checkpoint = Instant::now();
                    }
                }
            }
            else => break,
        }
    }
    sink.sync()?;
    bar.finish_and_clear();
    if cp.is_some() {
        checkpoint::remove(&cp_path)?;
    }
    let report = summary::Run {
        input: args.input.display().to_string(),
        output: args.output.display().to_string(),
        shard: args.shard.map(|s| s.to_string()),
        server: !args.servers.is_empty(),
        resumed_from,
        counts: &counts,
        this_run,
        setup_seconds: (scoring_started - started).as_secs_f64(),
        elapsed_seconds: scoring_started.elapsed().as_secs_f64(),
    };
    if let Some(path) = &args.summary {
        let text = serde_json::to_string_pretty(&report.to_json()).expect("summary serialises");
        std::fs::write(path, text + "\n").map_err(|e| Error::io(path, e))?;
    }
    eprintln!("{}", report.to_text());
    Ok(())
}

/// A bar with rate and ETA on a terminal; nothing at all when stderr is not one.
fn progress_bar(total: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{bar:30}] {percent}% {msg} {elapsed_precise} eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar
}
