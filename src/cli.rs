//! `rapport analyze` and `rapport score`: the server's analysis path, in-process.
use std::{
    io::{BufRead, Write},
    path::PathBuf,
    sync::Arc,
};

use clap::Args;
use futures::{stream::FuturesOrdered, StreamExt};

use crate::{
    analysis::{Analyzer, MessageInput},
    config::ModelArgs,
    grpc::convert::{analysis_to_proto, message_from_proto},
    proto::v1 as pb,
    Error, Result,
};

#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    /// Texts to analyse; with none, each non-empty line of standard input is one text.
    pub texts: Vec<String>,

    /// Language of the texts (ISO 639-1), instead of detecting it.
    #[arg(long)]
    pub language: Option<String>,

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

pub async fn analyze(args: AnalyzeArgs) -> Result<()> {
    let texts = if args.texts.is_empty() {
        std::io::stdin()
            .lock()
            .lines()
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|e| Error::io("<stdin>", e))?
            .into_iter()
            .filter(|l| !l.trim().is_empty())
            .collect()
    } else {
        args.texts
    };
    if texts.is_empty() {
        return Err(Error::invalid(
            "texts",
            "give a text argument or lines on stdin",
        ));
    }
    let analyzer = load(&args.model).await?;
    let msgs = texts
        .into_iter()
        .enumerate()
        .map(|(i, text)| MessageInput {
            id: (i + 1).to_string(),
            text,
            language_hint: args.language.clone(),
            ..Default::default()
        })
        .collect();
    let analyses = analyzer.analyze(msgs, None, "texts").await?;
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

/// One input line, parsed and checked, or why not.
enum Parsed {
    Ok(MessageInput),
    Bad { id: String, error: String },
}

fn parse_line(line: &str, n: usize, analyzer: &Analyzer) -> Parsed {
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
    match message_from_proto(msg, &field).and_then(|m| {
        analyzer
            .validate_text(&m.text, &format!("{field}.text"))
            .map(|_| m)
    }) {
        Ok(m) => Parsed::Ok(m),
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
    let chunk = args.chunk.clamp(1, analyzer.limits().max_batch_messages);
    // Enough chunks in flight to keep the engine busy, few enough to stay under its queue.
    let window = (analyzer.engine().queue_capacity() / chunk).clamp(1, 4);
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
                batch.push(parse_line(&line, i + 1, &analyzer));
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
                let (good, slots): (Vec<MessageInput>, Vec<Option<(String, String)>>) = {
                    let mut good = Vec::new();
                    let mut slots = Vec::new();
                    for p in batch {
                        match p {
                            Parsed::Ok(m) => {
                                good.push(m);
                                slots.push(None);
                            }
                            Parsed::Bad { id, error } => slots.push(Some((id, error))),
                        }
                    }
                    (good, slots)
                };
                let analyses = if good.is_empty() {
                    Ok(Vec::new())
                } else {
                    analyzer.analyze(good, None, "lines").await
                };
                (bytes, slots, analyses)
            });
        }
        let Some((bytes, slots, analyses)) = in_flight.next().await else {
            break;
        };
        let mut analyses = analyses?.into_iter();
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
