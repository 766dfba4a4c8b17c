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
    /// line that cannot be analysed gives {"id", "line", "error"} instead. "-" writes to stdout.
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

/// One input line, parsed, or why not.
enum Parsed {
    Ok(Box<MessageInput>, String),
    Bad { id: String, error: String },
}

fn parse_line(line: &str, n: usize, skip_evidence: bool) -> Parsed {
    let field = format!("line {n}");
    let msg: pb::Message = match serde_json::from_str(line) {
        Ok(m) => m,
        Err(e) => {
            return Parsed::Bad {
                id: String::new(),
                error: format!("{field}: not a Message in proto3 JSON: {e}"),
            }
        }
    };
    let id = msg.id.clone();
    match message_from_proto(msg, &field) {
        Ok(m) => Parsed::Ok(Box::new(MessageInput { skip_evidence, ..m }), field),
        Err(e) => Parsed::Bad {
            id,
            error: e.to_string(),
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
                            Parsed::Ok(m, field) => {
                                let id = m.id.clone();
                                match preparer.prepare(*m, &field) {
                                    Ok(m) => {
                                        good.push(m);
                                        slots.push(None);
                                    }
                                    Err(e) => slots.push(Some((id, e.to_string()))),
                                }
                            }
                            Parsed::Bad { id, error } => slots.push(Some((id, error))),
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
                Some((id, error)) => {
                    bad += 1;
                    serde_json::to_string(&serde_json::json!({ "id": id, "error": error }))
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
