//! The sentence encoder: tokenizer + BERT forward pass + masked mean pooling + L2 norm.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Tensor, D};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{self, BertModel};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokenizers::{PostProcessor, Tokenizer, TruncationDirection};

use super::e5s1;
use super::source::{
    resolve_hub, HfFiles, HubOptions, ModelSource, BUNDLE_META_FILE, BUNDLE_WEIGHTS_FILE,
    TOKENIZER_FILE,
};
use crate::{Error, Result};

/// How to run the encoder.
#[derive(Clone, Debug)]
pub struct EncoderOptions {
    /// Where tensors live and the forward pass runs.
    pub device: Device,
    /// Longest input in tokens, special tokens included (default 256). Clamped to the model's
    /// `max_position_embeddings`; [`EncoderInfo::max_tokens`] reports the value in force.
    pub max_tokens: usize,
    /// Put before every text (default `"query: "`, the e5 convention for classification).
    pub prefix: String,
}

impl Default for EncoderOptions {
    fn default() -> Self {
        EncoderOptions {
            device: Device::Cpu,
            max_tokens: 256,
            prefix: "query: ".to_string(),
        }
    }
}

/// What was loaded, for logs, responses and model manifests.
#[derive(Clone, Debug, Serialize)]
pub struct EncoderInfo {
    /// The [`ModelSource`] it came from, in its display form.
    pub source: String,
    /// e.g. "intfloat/multilingual-e5-small" (config `_name_or_path`, the hub repo, or the
    /// bundle's `bundle.json`), else the directory name.
    pub model_id: String,
    /// Hex sha256 of the weights file loaded (`e5-small-q4.bin` or `model.safetensors`).
    pub sha256: String,
    pub hidden_size: usize,
    pub max_tokens: usize,
    pub prefix: String,
}

/// Token ids of one text, special tokens included, never padded.
#[derive(Clone, Debug)]
pub struct Tokenized {
    pub ids: Vec<u32>,
    /// The text was longer than `max_tokens` and was cut (its end was dropped).
    pub truncated: bool,
}

/// A loaded sentence encoder. Cheap to share between threads (`Send + Sync`); `embed` takes
/// `&self`.
pub struct Encoder {
    model: BertModel,
    tokenizer: Tokenizer,
    info: EncoderInfo,
    device: Device,
    /// Special tokens the post-processor adds to a single sequence.
    n_special: usize,
    vocab_size: usize,
    max_positions: usize,
    pad_id: u32,
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Encoder>();
};

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("info", &self.info)
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

/// Weights plus everything needed to build the encoder, whatever the source.
struct Loaded {
    config: bert::Config,
    tensors: Weights,
    tokenizer_path: PathBuf,
    model_id: String,
    /// Known already (bundle); for safetensors it is computed from the mapping while loading.
    sha256: Option<String>,
}

enum Weights {
    /// Already materialised (the dequantized bundle).
    Map(HashMap<String, Tensor>),
    /// A safetensors file to read (memory-mapped).
    Safetensors(PathBuf),
}

impl Encoder {
    /// Load an encoder from `source`. Reads the weights once, checks them against the
    /// configuration and the tokenizer, and fails with [`Error::Model`] (never a panic) when
    /// anything is missing, truncated or inconsistent.
    pub fn load(source: &ModelSource, opts: &EncoderOptions) -> Result<Encoder> {
        let t0 = Instant::now();
        let loaded = match source {
            ModelSource::Bundle(dir) => load_bundle(dir, &opts.device)?,
            ModelSource::Dir(dir) => {
                let files = HfFiles::in_dir(dir)?;
                load_hf(&files, None, dir_name(dir))?
            }
            ModelSource::Hub { repo, revision } => {
                let files = resolve_hub(repo, revision, &HubOptions::from_env())?;
                load_hf(&files, Some(repo.clone()), repo.clone())?
            }
        };
        let enc = Self::build(source, loaded, opts)?;
        tracing::info!(
            source = %enc.info.source,
            model_id = %enc.info.model_id,
            sha256 = %enc.info.sha256,
            hidden = enc.info.hidden_size,
            max_tokens = enc.info.max_tokens,
            ms = t0.elapsed().as_millis() as u64,
            "encoder loaded"
        );
        Ok(enc)
    }

    fn build(source: &ModelSource, loaded: Loaded, opts: &EncoderOptions) -> Result<Encoder> {
        let Loaded {
            config,
            tensors,
            tokenizer_path,
            model_id,
            sha256,
        } = loaded;
        let device = opts.device.clone();
        let mismatch = |e: candle_core::Error| {
            Error::model(format!("{source}: weights do not match the config: {e}"))
        };
        let (model, sha256) = match tensors {
            Weights::Map(map) => {
                let vb = VarBuilder::from_tensors(map, DType::F32, &device);
                (BertModel::load(vb, &config).map_err(mismatch)?, sha256)
            }
            Weights::Safetensors(path) => {
                // The tensors are copied out of the mapping before it is dropped.
                let mmap = map_file(&path)?;
                let sha = sha256_hex(&mmap);
                let vb = VarBuilder::from_slice_safetensors(&mmap, DType::F32, &device)
                    .map_err(|e| Error::model(format!("{}: {e}", path.display())))?;
                (BertModel::load(vb, &config).map_err(mismatch)?, Some(sha))
            }
        };
        let sha256 = sha256.unwrap_or_default();

        let tokenizer = load_tokenizer(&tokenizer_path)?;
        let n_special = tokenizer
            .get_post_processor()
            .map(|p| p.added_tokens(false))
            .unwrap_or(0);
        let tok_vocab = tokenizer.get_vocab_size(true);
        if tok_vocab > config.vocab_size {
            return Err(Error::model(format!(
                "{source}: the tokenizer has {tok_vocab} tokens but the model only {} embeddings",
                config.vocab_size
            )));
        }
        let max_tokens = opts.max_tokens.min(config.max_position_embeddings);
        if max_tokens < opts.max_tokens {
            tracing::warn!(
                requested = opts.max_tokens,
                max_tokens,
                "max_tokens clamped to the model's max_position_embeddings"
            );
        }
        if max_tokens <= n_special {
            return Err(Error::invalid(
                "max_tokens",
                format!(
                    "{} leaves no room for text next to the {n_special} special tokens",
                    opts.max_tokens
                ),
            ));
        }
        let pad_id = tokenizer
            .get_padding()
            .map(|p| p.pad_id)
            .filter(|&id| (id as usize) < config.vocab_size)
            .unwrap_or(config.pad_token_id.min(config.vocab_size - 1) as u32);
        let mut tokenizer = tokenizer;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;

        let info = EncoderInfo {
            source: source.to_string(),
            model_id,
            sha256,
            hidden_size: config.hidden_size,
            max_tokens,
            prefix: opts.prefix.clone(),
        };
        Ok(Encoder {
            model,
            tokenizer,
            info,
            device,
            n_special,
            vocab_size: config.vocab_size,
            max_positions: config.max_position_embeddings,
            pad_id,
        })
    }

    /// Prefix + text, special tokens added, truncated to max_tokens (truncated flag set). Must NOT pad.
    pub fn tokenize(&self, text: &str) -> Result<Tokenized> {
        let input = format!("{}{}", self.info.prefix, text);
        let mut enc = self
            .tokenizer
            .encode_fast(input.as_str(), false)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        let budget = self.info.max_tokens - self.n_special;
        let truncated = enc.len() > budget;
        if truncated {
            enc.truncate(budget, 0, TruncationDirection::Right);
            enc.take_overflowing();
        }
        let enc = self
            .tokenizer
            .post_process(enc, None, true)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(Tokenized {
            ids: enc.get_ids().to_vec(),
            truncated,
        })
    }

    /// Batch forward pass: pads to the longest in the batch with an attention mask, runs the BERT encoder,
    /// mean-pools over real tokens only and L2-normalises. Returns [batch, hidden] f32 on the encoder's device.
    /// Padding must not change any result; batched must equal one-by-one within 1e-4.
    pub fn embed(&self, batch: &[&Tokenized]) -> Result<Tensor> {
        let hidden = self.info.hidden_size;
        if batch.is_empty() {
            return Ok(Tensor::zeros((0, hidden), DType::F32, &self.device)?);
        }
        for (i, t) in batch.iter().enumerate() {
            if t.ids.is_empty() {
                return Err(Error::invalid(format!("batch[{i}]"), "no tokens"));
            }
            if t.ids.len() > self.max_positions {
                return Err(Error::invalid(
                    format!("batch[{i}]"),
                    format!(
                        "{} tokens, the model takes at most {}",
                        t.ids.len(),
                        self.max_positions
                    ),
                ));
            }
            if let Some(&bad) = t.ids.iter().find(|&&id| id as usize >= self.vocab_size) {
                return Err(Error::invalid(
                    format!("batch[{i}]"),
                    format!(
                        "token id {bad} is outside the vocabulary ({})",
                        self.vocab_size
                    ),
                ));
            }
        }
        let b = batch.len();
        let len = batch.iter().map(|t| t.ids.len()).max().unwrap_or(1);
        let mut ids = Vec::with_capacity(b * len);
        let mut mask = Vec::with_capacity(b * len);
        for t in batch {
            ids.extend_from_slice(&t.ids);
            ids.extend(std::iter::repeat_n(self.pad_id, len - t.ids.len()));
            mask.extend(std::iter::repeat_n(1f32, t.ids.len()));
            mask.extend(std::iter::repeat_n(0f32, len - t.ids.len()));
        }
        let ids = Tensor::from_vec(ids, (b, len), &self.device)?;
        let mask = Tensor::from_vec(mask, (b, len), &self.device)?;
        let type_ids = ids.zeros_like()?;
        let out = self.model.forward(&ids, &type_ids, Some(&mask))?; // [b, len, hidden]
        let summed = out.broadcast_mul(&mask.unsqueeze(2)?)?.sum(1)?; // [b, hidden]
        let counts = mask.sum_keepdim(1)?; // [b, 1]
        let mean = summed.broadcast_div(&counts)?;
        let norm = mean
            .sqr()?
            .sum_keepdim(D::Minus1)?
            .sqrt()?
            .clamp(1e-12f32, f32::MAX)?;
        Ok(mean.broadcast_div(&norm)?)
    }

    pub fn info(&self) -> &EncoderInfo {
        &self.info
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The tokenizer (padding and truncation switched off).
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }
}

fn dir_name(dir: &Path) -> String {
    std::fs::canonicalize(dir)
        .unwrap_or_else(|_| dir.to_path_buf())
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string())
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// sha256 of a file, streamed (the file may be large).
pub(crate) fn sha256_file(path: &Path) -> Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

pub(crate) fn load_tokenizer(path: &Path) -> Result<Tokenizer> {
    if !path.is_file() {
        return Err(Error::model(format!(
            "tokenizer {} not found",
            path.display()
        )));
    }
    Tokenizer::from_file(path)
        .map_err(|e| Error::Tokenizer(format!("cannot load {}: {e}", path.display())))
}

/// Read a file fully into memory (memory-mapped), with a clear error.
pub(crate) fn map_file(path: &Path) -> Result<memmap2::Mmap> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    // SAFETY: read-only private mapping of a model file; nothing in this process writes it.
    unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))
}

/// The bundle's `bundle.json`, if any.
fn bundle_meta(dir: &Path) -> Result<Option<serde_json::Value>> {
    let p = dir.join(BUNDLE_META_FILE);
    if !p.is_file() {
        return Ok(None);
    }
    let s = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
    serde_json::from_str(&s)
        .map(Some)
        .map_err(|e| Error::model(format!("{}: {e}", p.display())))
}

/// Parse and dequantize a bundle: the config comes from the E5S1 header.
pub(crate) struct BundleParts {
    pub header: e5s1::Header,
    pub tensors: HashMap<String, Tensor>,
    pub tokenizer_path: PathBuf,
    pub model_id: String,
    pub sha256: String,
}

pub(crate) fn read_bundle(dir: &Path, device: &Device) -> Result<BundleParts> {
    if !dir.is_dir() {
        return Err(Error::model(format!(
            "bundle directory {} does not exist (install it with `rapport models install` or scripts/install-model.sh)",
            dir.display()
        )));
    }
    let weights = dir.join(BUNDLE_WEIGHTS_FILE);
    let tokenizer_path = dir.join(TOKENIZER_FILE);
    for p in [&weights, &tokenizer_path] {
        if !p.is_file() {
            return Err(Error::model(format!(
                "bundle {} lacks {} (install it with `rapport models install` or scripts/install-model.sh)",
                dir.display(),
                p.file_name().unwrap_or_default().to_string_lossy()
            )));
        }
    }
    let bytes = map_file(&weights)?;
    let sha256 = sha256_hex(&bytes);
    let meta = bundle_meta(dir)?;
    if let Some(meta) = &meta {
        for (name, got) in [
            (BUNDLE_WEIGHTS_FILE, Some(sha256.clone())),
            (TOKENIZER_FILE, None),
        ] {
            let Some(want) = meta
                .pointer(&format!(
                    "/files/{}/sha256",
                    name.replace('~', "~0").replace('/', "~1")
                ))
                .and_then(|v| v.as_str())
            else {
                continue;
            };
            let got = match got {
                Some(g) => g,
                None => sha256_file(&dir.join(name))?,
            };
            if !want.eq_ignore_ascii_case(&got) {
                return Err(Error::model(format!(
                    "bundle {}: {name} has sha256 {got} but {BUNDLE_META_FILE} says {want} (corrupt or replaced; reinstall)",
                    dir.display()
                )));
            }
        }
    }
    let file =
        e5s1::parse(&bytes).map_err(|e| Error::model(format!("{}: {e}", weights.display())))?;
    let tensors = file.hf_tensors(&bytes, device)?;
    let model_id = meta
        .as_ref()
        .and_then(|m| m.get("model_id"))
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| dir_name(dir));
    Ok(BundleParts {
        header: file.header,
        tensors,
        tokenizer_path,
        model_id,
        sha256,
    })
}

fn load_bundle(dir: &Path, device: &Device) -> Result<Loaded> {
    let parts = read_bundle(dir, device)?;
    Ok(Loaded {
        config: parts.header.bert_config(),
        tensors: Weights::Map(parts.tensors),
        tokenizer_path: parts.tokenizer_path,
        model_id: parts.model_id,
        sha256: Some(parts.sha256),
    })
}

/// Parse an HF `config.json` for a BERT encoder, leniently: the dimensions are required, the
/// rest default as in transformers' `BertConfig`.
pub fn parse_bert_config(text: &str, what: &str) -> Result<(bert::Config, Option<String>)> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| Error::model(format!("{what}: {e}")))?;
    let bad = |m: String| Error::model(format!("{what}: {m}"));
    let model_type = v.get("model_type").and_then(|m| m.as_str());
    if let Some(mt) = model_type {
        if mt != "bert" {
            return Err(bad(format!(
                "model_type '{mt}' is not supported (only 'bert' encoders are; RoBERTa-style \
                 models number positions differently)"
            )));
        }
    }
    let req = |k: &str| -> Result<usize> {
        v.get(k)
            .and_then(|x| x.as_u64())
            .filter(|&x| x > 0)
            .map(|x| x as usize)
            .ok_or_else(|| bad(format!("'{k}' is missing or not a positive integer")))
    };
    let opt_usize = |k: &str, d: usize| v.get(k).and_then(|x| x.as_u64()).map_or(d, |x| x as usize);
    let opt_f64 = |k: &str, d: f64| v.get(k).and_then(|x| x.as_f64()).unwrap_or(d);
    let act = v
        .get("hidden_act")
        .and_then(|x| x.as_str())
        .unwrap_or("gelu");
    let hidden_act = match act {
        "gelu" => bert::HiddenAct::Gelu,
        "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => bert::HiddenAct::GeluApproximate,
        "relu" => bert::HiddenAct::Relu,
        other => return Err(bad(format!("hidden_act '{other}' is not supported"))),
    };
    if let Some(pe) = v.get("position_embedding_type").and_then(|x| x.as_str()) {
        if pe != "absolute" {
            return Err(bad(format!(
                "position_embedding_type '{pe}' is not supported"
            )));
        }
    }
    let cfg = bert::Config {
        vocab_size: req("vocab_size")?,
        hidden_size: req("hidden_size")?,
        num_hidden_layers: req("num_hidden_layers")?,
        num_attention_heads: req("num_attention_heads")?,
        intermediate_size: req("intermediate_size")?,
        hidden_act,
        hidden_dropout_prob: opt_f64("hidden_dropout_prob", 0.1),
        max_position_embeddings: opt_usize("max_position_embeddings", 512),
        type_vocab_size: opt_usize("type_vocab_size", 2),
        initializer_range: opt_f64("initializer_range", 0.02),
        layer_norm_eps: opt_f64("layer_norm_eps", 1e-12),
        pad_token_id: opt_usize("pad_token_id", 0),
        position_embedding_type: bert::PositionEmbeddingType::Absolute,
        use_cache: false,
        classifier_dropout: None,
        model_type: Some("bert".to_string()),
    };
    if cfg.hidden_size % cfg.num_attention_heads != 0 {
        return Err(bad(format!(
            "hidden_size {} is not a multiple of num_attention_heads {}",
            cfg.hidden_size, cfg.num_attention_heads
        )));
    }
    if cfg.max_position_embeddings == 0 || cfg.type_vocab_size == 0 {
        return Err(bad(
            "max_position_embeddings and type_vocab_size must be positive".into(),
        ));
    }
    let name = v
        .get("_name_or_path")
        .and_then(|x| x.as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    Ok((cfg, name))
}

/// `id`: the model id to report regardless of the config (the hub repo); otherwise the
/// config's `_name_or_path`, else `fallback_id`.
fn load_hf(files: &HfFiles, id: Option<String>, fallback_id: String) -> Result<Loaded> {
    let text = std::fs::read_to_string(&files.config).map_err(|e| Error::io(&files.config, e))?;
    let (config, name) = parse_bert_config(&text, &files.config.display().to_string())?;
    Ok(Loaded {
        config,
        tensors: Weights::Safetensors(files.weights.clone()),
        tokenizer_path: files.tokenizer.clone(),
        model_id: id.or(name).unwrap_or(fallback_id),
        sha256: None,
    })
}
