//! The `rapport` command: the gRPC server and the CLI beside it, sharing one library.
use anyhow::Context;
use clap::{Parser, Subcommand};

use rapport::{
    cli,
    config::{self, LogArgs, LogFormat, ServeArgs},
    grpc, model, train,
};

/// Tone and communication-style analysis for customer messages (English and Russian).
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// TOML file whose keys (flag names, e.g. `listen = "0.0.0.0:50051"`) fill in flags and
    /// RAPPORT_* variables left unset. Also RAPPORT_CONFIG.
    #[arg(long, global = true)]
    config: Option<std::path::PathBuf>,

    #[command(flatten)]
    log: LogArgs,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gRPC server.
    Serve(Box<ServeArgs>),
    /// Analyse texts given as arguments (or stdin lines) and print JSON.
    Analyze(Box<cli::AnalyzeArgs>),
    /// Score an archive (JSONL, CSV, mbox, .eml or transcript folders) in-process or through
    /// servers, into JSONL or CSV; resumable, shardable, optionally into the profile store.
    Score(Box<rapport::score::ScoreArgs>),
    /// Train task heads on the labelled corpora in ../shared/datasets.
    Train(Box<train::TrainArgs>),
    /// Evaluate trained heads on official test splits.
    Eval(Box<train::EvalArgs>),
    /// Measure throughput and latency (encoder alone, Analyze in-process and via gRPC).
    Bench(Box<rapport::bench::BenchArgs>),
    /// Load-test an in-process server through gRPC: peak, latency at half load, scaling with
    /// callers and text length, overload at 3x peak.
    Load(Box<rapport::load::LoadArgs>),
    /// Score LiveAssist's hints on the scripted conversations, or measure its latency.
    #[command(subcommand)]
    Live(rapport::live_eval::LiveCmd),
    /// Install, inspect or export encoder models.
    #[command(subcommand)]
    Models(model::cli::ModelsCmd),
    /// Maintain the profile store: rebuild derived values, purge expired data.
    #[command(subcommand)]
    Profiles(cli::ProfilesCmd),
    /// Cluster the stored profiles into segments (k-means on trait and behaviour features; names
    /// carry over from the previous run); ListSegments and Profile.segment return them.
    Segment(Box<cli::SegmentArgs>),
    /// Write a customer's profile card (one self-contained HTML page), or with --segments an
    /// overview of the segments.
    Report(Box<rapport::report::ReportArgs>),
    /// Ask a running server's grpc.health.v1 service whether it is SERVING: exit 0 if so, 1
    /// if it answers otherwise, 2 if it does not answer (container and Kubernetes probes).
    Health(rapport::health::HealthArgs),
}

fn init_logging(log: &LogArgs) {
    let filter = tracing_subscriber::EnvFilter::try_new(&log.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match log.log_format {
        LogFormat::Plain => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> anyhow::Result<()> {
    let argv: Vec<String> = std::env::args().collect();
    let config_file = config::load_config_file(&argv)?;
    let cli = Cli::parse();
    init_logging(&cli.log);
    if let Some(path) = config_file {
        tracing::info!(path = %path.display(), "read configuration file");
    }
    match cli.command {
        Command::Serve(args) => serve(*args),
        Command::Analyze(args) => runtime(args.model.engine.threads)?
            .block_on(cli::analyze(*args))
            .context("analyze"),
        Command::Score(args) => runtime(args.model.engine.threads)?
            .block_on(rapport::score::run(*args))
            .context("score"),
        Command::Bench(args) => runtime(args.model.engine.threads)?
            .block_on(rapport::bench::run(*args))
            .context("bench"),
        Command::Load(args) => runtime(args.model.engine.threads)?
            .block_on(rapport::load::run(*args))
            .context("load"),
        Command::Live(cmd) => runtime(0)?
            .block_on(rapport::live_eval::run(cmd))
            .context("live"),
        Command::Train(args) => train::train(&args).context("train"),
        Command::Eval(args) => train::eval(&args).context("eval"),
        Command::Models(cmd) => model::cli::run(cmd).context("models"),
        Command::Profiles(cmd) => runtime(0)?.block_on(cli::profiles(cmd)).context("profiles"),
        Command::Segment(args) => runtime(0)?.block_on(cli::segment(*args)).context("segment"),
        Command::Report(args) => runtime(0)?
            .block_on(rapport::report::run(*args))
            .context("report"),
        Command::Health(args) => std::process::exit(rapport::health::run(&args)),
    }
}

fn runtime(threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    let n = config::configure_threads(threads);
    tracing::debug!(compute_threads = n, "configured compute threads");
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let rt = runtime(args.model.engine.threads)?;
    rt.block_on(async move {
        tracing::info!(
            version = rapport::VERSION,
            config = %serde_json::to_string(&args).unwrap_or_default(),
            compute_threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_default(),
            "starting rapport"
        );
        // Checked before anything binds: a refused address (plaintext off loopback) is never
        // opened, and bad certificate or token files stop the server at once.
        grpc::security::ServerSecurity::load(&args.security, args.listen)?;
        let metrics = grpc::install_metrics(&args.metrics_listen)?;
        if let Some(addr) = metrics {
            tracing::info!(%addr, "Prometheus metrics at http://{addr}/metrics");
        }
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("binding {}", args.listen))?;
        tracing::info!(addr = %listener.local_addr()?, "gRPC listening (health NOT_SERVING until models load)");
        grpc::run(args, listener, shutdown_signal()).await?;
        tracing::info!("stopped");
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
