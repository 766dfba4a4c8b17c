//! `rapport analyze` (the server's analysis path, in-process), `segment` and `profiles`;
//! `rapport score` is in `crate::score`.
use std::{
    io::{BufRead, Write},
    path::PathBuf,
    sync::Arc,
};

use clap::Args;

use crate::{
    analysis::{Analyzer, Channel, MessageInput, TextFormat},
    config::ModelArgs,
    grpc::convert::analysis_to_proto,
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
