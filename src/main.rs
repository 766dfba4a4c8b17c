//! rapport CLI. (Branch `training`: a minimal main with `train` and `eval` only; the CLI owner
//! wires these subcommands into the full CLI.)
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "rapport",
    version,
    about = "Tone and communication-style analysis"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Train a task head on the frozen encoder.
    Train(rapport::train::TrainArgs),
    /// Evaluate a trained head on the official test splits.
    Eval(rapport::train::EvalArgs),
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match Cli::parse().cmd {
        Cmd::Train(a) => rapport::train::train(&a)?,
        Cmd::Eval(a) => rapport::train::eval(&a)?,
    }
    Ok(())
}
