//! model
//!
//! TEMPORARY (branch `training`): a minimal stand-in for the encoder API that the `model-loader`
//! branch is writing, so that the heads and training code compile before that branch lands.
//! On merge, take `model-loader`'s version of this file and keep only `pub mod heads;`.

pub mod heads;

use std::path::PathBuf;

use candle_core::{Device, Tensor};

use crate::{Error, Result};

#[derive(Debug, Clone)]
pub enum ModelSource {
    Hub { repo: String, revision: String },
    Dir(PathBuf),
    Bundle(PathBuf),
}

impl std::str::FromStr for ModelSource {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        if let Some(rest) = s.strip_prefix("hub:") {
            let (repo, revision) = rest.split_once('@').unwrap_or((rest, "main"));
            Ok(ModelSource::Hub {
                repo: repo.into(),
                revision: revision.into(),
            })
        } else if let Some(p) = s.strip_prefix("dir:") {
            Ok(ModelSource::Dir(p.into()))
        } else if let Some(p) = s.strip_prefix("bundle:") {
            Ok(ModelSource::Bundle(p.into()))
        } else {
            Err(Error::invalid("model", format!("unknown source {s:?}")))
        }
    }
}

pub fn default_bundle_dir() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".cache/rapport/models/multilingual-e5-small-q4")
}

#[derive(Debug, Clone)]
pub struct EncoderOptions {
    pub device: Device,
    pub max_tokens: usize,
    pub prefix: String,
}

impl Default for EncoderOptions {
    fn default() -> Self {
        Self {
            device: Device::Cpu,
            max_tokens: 256,
            prefix: "query: ".into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct EncoderInfo {
    pub source: String,
    pub model_id: String,
    pub sha256: String,
    pub hidden_size: usize,
    pub max_tokens: usize,
    pub prefix: String,
}

#[derive(Debug, Clone)]
pub struct Tokenized {
    pub ids: Vec<u32>,
    pub truncated: bool,
}

pub struct Encoder {
    info: EncoderInfo,
}

impl Encoder {
    pub fn load(_source: &ModelSource, _opts: &EncoderOptions) -> Result<Encoder> {
        Err(Error::model("encoder loader not merged yet"))
    }
    pub fn tokenize(&self, _text: &str) -> Result<Tokenized> {
        Err(Error::model("encoder loader not merged yet"))
    }
    pub fn embed(&self, _batch: &[&Tokenized]) -> Result<Tensor> {
        Err(Error::model("encoder loader not merged yet"))
    }
    pub fn info(&self) -> &EncoderInfo {
        &self.info
    }
}
