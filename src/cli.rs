//! `rapport analyze` and `rapport score`: the server's analysis path, in-process.
use std::{
    io::{BufRead, Write},
    path::PathBuf,
    sync::Arc,
};

use clap::Args;
use futures::{stream::FuturesOrdered, StreamExt};

use crate::{
    analysis::{blocking, evidence::EvidenceMode, Analyzer, Channel, MessageInput, TextFormat},
    config::ModelArgs,
    grpc::convert::{analysis_to_proto, message_from_proto},
    proto::v1 as pb,
    text::TranscriptFormat,
    Error, Result,
};

#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    /// Texts to analyse; with none (and no --file), each non-empty line of standard input is one
    /// text.
    pub texts: Vec<String>,

    /// Files to analyse whole, as bytes: an .eml email, an HTML body, a chat log, a transcript.
    #[arg(long, short, conflicts_with = "texts")]
    pub file: Vec<PathBuf>,

    /// How each text or file is laid out.
    #[arg(long, value_enum, default_value_t = FormatArg::Plain)]
    pub format: FormatArg,

    /// Charset of --file bodies that are not MIME emails (e.g. windows-1251); default UTF-8.
    #[arg(long, requires = "file")]
    pub charset: Option<String>,

    /// In chat logs and transcripts, the customer's speaker label.
    #[arg(long)]
    pub customer: Option<String>,

    /// Language of the texts (ISO 639-1), instead of detecting it.
    #[arg(long)]
    pub language: Option<String>,

    /// Leave out the evidence (the sentences behind each result), as
    /// `AnalysisOptions.skip_evidence` does.
    #[arg(long)]
    pub no_evidence: bool,

    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// JSONL input, one message per line: {"id", "text"} plus any other `Message` field in the
    /// proto3 JSON mapping. "-" reads standard input.
    #[arg(long, short)]
    pub input: PathBuf,

    /// JSONL output, one `MessageAnalysis` per input line in the same order (proto3 JSON). A
    /// line that cannot be analysed gives {"id", "line", "error"} instead: "line" is its number
    /// in the input (from 1), "error" names the field of its `Message` ("text: must not be
    /// empty"). "-" writes to stdout.
    #[arg(long, short, default_value = "-")]
    pub output: PathBuf,

    /// Messages per engine submission.
    #[arg(long, default_value_t = 128)]
    pub chunk: usize,

    /// Leave out the evidence (the sentences behind each result), as
    /// `AnalysisOptions.skip_evidence` does.
    #[arg(long)]
    pub no_evidence: bool,

    #[command(flatten)]
    pub model: ModelArgs,
}

async fn load(args: &ModelArgs) -> Result<Arc<Analyzer>> {
    let args = args.clone();
    let analyzer = tokio::task::spawn_blocking(move || Analyzer::load(&args))
        .await
        .map_err(|e| Error::model(format!("model loading panicked: {e}")))??;
    Ok(Arc::new(analyzer))
}

/// `--format`: the channel and layout of the input, as `Message.channel` + `Message.format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// One message of plain text.
    Plain,
    /// A plain-text email body (quotes, signatures and disclaimers are cut).
    Email,
    /// An HTML email body.
    Html,
    /// A whole email as sent (.eml: RFC 822 / MIME).
    Eml,
    /// A chat log: JSON turns or "[12:01] Name: text" lines.
    Chat,
    /// A call transcript: JSON segments, WebVTT, SRT or "Speaker: text" lines.
    Transcript,
}

impl FormatArg {
    fn channel_and_format(self) -> (Channel, TextFormat) {
        match self {
            FormatArg::Plain => (Channel::Unspecified, TextFormat::Unspecified),
            FormatArg::Email => (Channel::Email, TextFormat::Unspecified),
            FormatArg::Html => (Channel::Email, TextFormat::Html),
            FormatArg::Eml => (Channel::Email, TextFormat::Rfc822),
            FormatArg::Chat => (Channel::Chat, TextFormat::ChatLog),
            FormatArg::Transcript => (
                Channel::CallTranscript,
                TextFormat::Transcript(TranscriptFormat::Auto),
            ),
        }
    }
}

pub async fn analyze(args: AnalyzeArgs) -> Result<()> {
    let (channel, format) = args.format.channel_and_format();
    let template = MessageInput {
        channel,
        format,
        charset: args.charset.clone(),
        customer_speaker: args.customer.clone(),
        language_hint: args.language.clone(),
        skip_evidence: args.no_evidence,
        ..Default::default()
    };
    let msgs: Vec<MessageInput> = if !args.file.is_empty() {
        args.file
            .iter()
            .map(|path| {
                let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
                Ok(MessageInput {
                    id: path.display().to_string(),
                    raw,
                    ..template.clone()
                })
            })
            .collect::<Result<_>>()?
    } else {
        read_texts(args.texts)?
            .into_iter()
            .enumerate()
            .map(|(i, text)| MessageInput {
                id: (i + 1).to_string(),
                text,
                ..template.clone()
            })
            .collect()
    };
    let analyzer = load(&args.model).await?;
    let field = if args.file.is_empty() {
        "texts"
    } else {
        "files"
    };
    let analyses = analyzer.analyze(msgs, None, field).await?;
    let single = analyses.len() == 1;
    let mut out = std::io::stdout().lock();
    for a in analyses {
        let p = analysis_to_proto(a);
        let json = if single {
            serde_json::to_string_pretty(&p)
        } else {
            serde_json::to_string(&p)
        }
        .expect("analysis serialises");
        writeln!(out, "{json}").map_err(|e| Error::io("<stdout>", e))?;
    }
    Ok(())
}

/// The texts given, else the non-empty lines of standard input.
fn read_texts(texts: Vec<String>) -> Result<Vec<String>> {
    let texts: Vec<String> = if texts.is_empty() {
        std::io::stdin()
            .lock()
            .lines()
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|e| Error::io("<stdin>", e))?
            .into_iter()
            .filter(|l| !l.trim().is_empty())
            .collect()
    } else {
        texts
    };
    if texts.is_empty() {
        return Err(Error::invalid(
            "texts",
            "give a text argument, --file, or lines on stdin",
        ));
    }
    Ok(texts)
}

/// One input line, parsed, or why not; `line` is its number in the input, from 1.
enum Parsed {
    Ok {
        message: Box<MessageInput>,
        line: usize,
    },
    Bad {
        id: String,
        line: usize,
        error: String,
    },
}

/// Why a line's `Message` was refused. A line is one `Message` at the top, so a field is named
/// by its path in it (`text`, `timestamp.nanos`); the line's number goes beside the error.
fn line_error(e: Error) -> String {
    match e {
        Error::InvalidArgument { field, reason } if field.is_empty() => reason,
        e => e.to_string(),
    }
}

fn parse_line(text: &str, line: usize, skip_evidence: bool) -> Parsed {
    let msg: pb::Message = match serde_json::from_str(text) {
        Ok(m) => m,
        Err(e) => {
            return Parsed::Bad {
                id: String::new(),
                line,
                error: format!("not a Message in proto3 JSON: {e}"),
            }
        }
    };
    let id = msg.id.clone();
    match message_from_proto(msg, "") {
        Ok(m) => Parsed::Ok {
            message: Box::new(MessageInput { skip_evidence, ..m }),
            line,
        },
        Err(e) => Parsed::Bad {
            id,
            line,
            error: line_error(e),
        },
    }
}

pub async fn score(args: ScoreArgs) -> Result<()> {
    let analyzer = load(&args.model).await?;
    let reader: Box<dyn BufRead + Send> = if args.input.as_os_str() == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        let f = std::fs::File::open(&args.input).map_err(|e| Error::io(&args.input, e))?;
        Box::new(std::io::BufReader::new(f))
    };
    let total_bytes = std::fs::metadata(&args.input).map(|m| m.len()).unwrap_or(0);
    let mut writer: Box<dyn Write> = if args.output.as_os_str() == "-" {
        Box::new(std::io::BufWriter::new(std::io::stdout()))
    } else {
        let f = std::fs::File::create(&args.output).map_err(|e| Error::io(&args.output, e))?;
        Box::new(std::io::BufWriter::new(f))
    };
    // A bar on a terminal only; indicatif draws nothing when stderr is not one.
    let bar = indicatif::ProgressBar::new(total_bytes);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {bytes}/{total_bytes} [{bar:30}] {msg} {elapsed_precise} eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    // A message takes one queue slot per sequence: itself and, with encoded evidence, up to
    // `evidence_max_sentences` stretches.
    let limits = analyzer.limits();
    let per_message = if args.no_evidence || limits.evidence_mode == EvidenceMode::Pooled {
        1
    } else {
        1 + limits.evidence_max_sentences
    };
    let capacity = analyzer.engine().queue_capacity();
    let chunk = args
        .chunk
        .clamp(1, analyzer.limits().max_batch_messages)
        .min((capacity / (2 * per_message)).max(1));
    // Enough chunks in flight to keep the engine busy, few enough to stay under its queue.
    let window = (capacity / (chunk * per_message)).clamp(1, 4);
    let mut in_flight = FuturesOrdered::new();
    let (mut done, mut bad) = (0usize, 0usize);
    let mut lines = reader.lines().enumerate();
    let mut input_done = false;
    loop {
        while !input_done && in_flight.len() < window {
            let mut batch = Vec::with_capacity(chunk);
            let mut bytes = 0u64;
            for (i, line) in lines.by_ref() {
                let line = line.map_err(|e| Error::io(&args.input, e))?;
                bytes += line.len() as u64 + 1;
                if line.trim().is_empty() {
                    continue;
                }
                batch.push(parse_line(&line, i + 1, args.no_evidence));
                if batch.len() == chunk {
                    break;
                }
            }
            if batch.is_empty() {
                input_done = true;
                break;
            }
            let analyzer = analyzer.clone();
            in_flight.push_back(async move {
                // Checks and the text pipeline per line, so one bad body fails only its line.
                let preparer = analyzer.preparer().clone();
                let prepared = blocking(move || {
                    let mut good = Vec::new();
                    let mut slots = Vec::new();
                    for p in batch {
                        match p {
                            Parsed::Ok { message, line } => {
                                let id = message.id.clone();
                                match preparer.prepare(*message, "") {
                                    Ok(m) => {
                                        good.push(m);
                                        slots.push(None);
                                    }
                                    Err(e) => slots.push(Some((id, line, line_error(e)))),
                                }
                            }
                            Parsed::Bad { id, line, error } => slots.push(Some((id, line, error))),
                        }
                    }
                    (good, slots)
                })
                .await;
                let analyses = match prepared {
                    Ok((good, slots)) if good.is_empty() => Ok((slots, Vec::new())),
                    Ok((good, slots)) => analyzer.infer(good, None).await.map(|a| (slots, a)),
                    Err(e) => Err(e),
                };
                (bytes, analyses)
            });
        }
        let Some((bytes, analyses)) = in_flight.next().await else {
            break;
        };
        let (slots, analyses) = analyses?;
        let mut analyses = analyses.into_iter();
        for slot in slots {
            let json = match slot {
                None => {
                    let a = analyses.next().expect("one analysis per valid line");
                    done += 1;
                    serde_json::to_string(&analysis_to_proto(a))
                }
                Some((id, line, error)) => {
                    bad += 1;
                    serde_json::to_string(
                        &serde_json::json!({ "id": id, "line": line, "error": error }),
                    )
                }
            }
            .expect("serialises");
            writeln!(writer, "{json}").map_err(|e| Error::io(&args.output, e))?;
        }
        bar.inc(bytes);
        bar.set_message(format!("{done} scored, {bad} rejected"));
    }
    writer.flush().map_err(|e| Error::io(&args.output, e))?;
    bar.finish_and_clear();
    tracing::info!(scored = done, rejected = bad, "score finished");
    Ok(())
}

/// `rapport segment`: cluster the stored profiles into segments.
#[derive(clap::Args, Debug)]
pub struct SegmentArgs {
    #[command(flatten)]
    pub profiles: crate::config::ProfileArgs,
    /// Directory holding the heads and `traits/traits.json` (the trait estimates segments use).
    #[arg(long, env = "RAPPORT_HEADS_DIR", default_value_os_t = crate::model::install::default_heads_dir())]
    pub heads_dir: std::path::PathBuf,
    /// Seed of the k-means runs: the same seed and profiles give the same segments.
    #[arg(long, env = "RAPPORT_SEGMENT_SEED", default_value_t = 20261206)]
    pub seed: u64,
}

pub async fn segment(args: SegmentArgs) -> Result<()> {
    use crate::profile::service::Profiles;
    let spec = args.profiles.store_spec();
    let store = crate::store::open(&spec).await?;
    let mut settings = args.profiles.settings()?;
    settings.traits =
        crate::profile::traits::TraitModel::load(&args.heads_dir)?.map(std::sync::Arc::new);
    let profiles = Profiles::new(store, args.profiles.keys()?, settings);
    match profiles.run_segments(args.seed).await? {
        None => eprintln!(
            "too few profiles with messages in {spec} for segments (at least {} needed)",
            2 * 5
        ),
        Some(run) => {
            eprintln!(
                "{} segments (silhouette {:.3}) over {} profiles in {spec}:",
                run.k,
                run.silhouette,
                run.assignment.len()
            );
            for s in &run.segments {
                eprintln!(
                    "  {} ({} customers): {}",
                    s.name, s.customers, s.description
                );
            }
        }
    }
    Ok(())
}

/// `rapport profiles ...`: maintenance of the profile store, beside a running server or not.
#[derive(clap::Subcommand, Debug)]
pub enum ProfilesCmd {
    /// Recompute every profile's derived values (features, segment) from its stored statistics,
    /// after an upgrade of rapport; the statistics themselves are kept as they are.
    Rebuild(crate::config::ProfileArgs),
    /// Delete what is past `--retention-days` now, as the server does every hour.
    Purge(crate::config::ProfileArgs),
    /// Measure the profile store through gRPC: events/s, message ingestion against Analyze,
    /// GetProfile latency with many customers stored (BENCH.md, "Profiles").
    Bench(Box<crate::profile_bench::ProfilesBenchArgs>),
}

pub async fn profiles(cmd: ProfilesCmd) -> Result<()> {
    use crate::profile::service::Profiles;
    let args = match cmd {
        ProfilesCmd::Rebuild(ref a) | ProfilesCmd::Purge(ref a) => a,
        ProfilesCmd::Bench(b) => return crate::profile_bench::run(*b).await,
    };
    let spec = args.store_spec();
    let store = crate::store::open(&spec).await?;
    let profiles = Profiles::new(store, args.keys()?, args.settings()?);
    match cmd {
        ProfilesCmd::Bench(_) => unreachable!("returned above"),
        ProfilesCmd::Rebuild(_) => {
            let n = profiles.rebuild().await?;
            eprintln!("rebuilt {n} profiles in {spec}");
        }
        ProfilesCmd::Purge(_) => {
            if args.retention_days.is_none() {
                return Err(Error::invalid(
                    "retention_days",
                    "give --retention-days to purge",
                ));
            }
            let n = profiles.purge_expired().await?;
            eprintln!("purged {n} customers past the retention period from {spec}");
        }
    }
    Ok(())
}
