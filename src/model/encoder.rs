//! The sentence encoder: tokenizer + BERT forward pass + masked mean pooling + L2 norm.
use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use candle_core::{DType, Device, Tensor, D};
use candle_nn::VarBuilder;
use candle_transformers::models::bert;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokenizers::{PostProcessor, Tokenizer, TruncationDirection};

use super::adapter::Adapter;
use super::cpu::{self, CpuBert, DenseMode};
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
    /// Which forward pass runs (default [`Precision::Auto`]: the 8-bit CPU encoder on CPU,
    /// candle's `BertModel` on CUDA).
    pub precision: Precision,
    /// A LoRA adapter merged into the weights at load time ([`super::adapter`]).
    pub adapter: Option<Arc<Adapter>>,
}

impl Default for EncoderOptions {
    fn default() -> Self {
        EncoderOptions {
            device: Device::Cpu,
            max_tokens: 256,
            prefix: "query: ".to_string(),
            precision: Precision::Auto,
            adapter: None,
        }
    }
}

/// The encoder's forward pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// `int8` on CPU, `candle` on CUDA.
    #[default]
    Auto,
    /// The packed CPU encoder with 8-bit dense layers (weights per channel, activations per
    /// token): the fastest, mean cosine ~0.99x to `f32`.
    Int8,
    /// The packed CPU encoder in f32: equal to `candle` within 1e-4, faster on CPU.
    F32,
    /// candle-transformers' BERT layers on padded batches, f32 (the reference; the CUDA path).
    Candle,
    /// The same as `Candle` with weights and activations in f16 (for GPUs; runs, slowly, on
    /// CPU too). Pooling and normalisation stay f32.
    F16,
    /// The same as `Candle` in bf16.
    Bf16,
}

impl Precision {
    /// What `Auto` means on `device`.
    pub fn resolve(self, device: &Device) -> Precision {
        match self {
            Precision::Auto if device.is_cpu() => Precision::Int8,
            Precision::Auto => Precision::Candle,
            p => p,
        }
    }

    /// The dtype of the candle forward pass (padded batches) this precision runs, `None` for
    /// the packed CPU encoder.
    pub fn candle_dtype(self) -> Option<DType> {
        match self {
            Precision::Candle => Some(DType::F32),
            Precision::F16 => Some(DType::F16),
            Precision::Bf16 => Some(DType::BF16),
            Precision::Auto | Precision::Int8 | Precision::F32 => None,
        }
    }
}

impl std::str::FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Precision::Auto),
            "int8" => Ok(Precision::Int8),
            "f32" => Ok(Precision::F32),
            "candle" => Ok(Precision::Candle),
            "f16" => Ok(Precision::F16),
            "bf16" => Ok(Precision::Bf16),
            _ => Err(format!(
                "unknown precision {s:?}: expected auto, int8, f32, candle, f16 or bf16"
            )),
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Precision::Auto => "auto",
            Precision::Int8 => "int8",
            Precision::F32 => "f32",
            Precision::Candle => "candle",
            Precision::F16 => "f16",
            Precision::Bf16 => "bf16",
        })
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
    /// The forward pass in use (never `auto`).
    pub precision: Precision,
    /// sha256 of the adapter merged into the weights, if any.
    pub adapter_sha256: Option<String>,
    /// Its version (`adapter.json`).
    pub adapter_version: Option<String>,
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
    model: Backend,
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

/// The forward pass.
enum Backend {
    Candle(CandleBert),
    Cpu(CpuBert),
}

/// candle-transformers' BERT layers (`bert::BertEncoder`) behind embeddings and an attention
/// mask of our own. candle's `BertModel` builds its additive mask as `(1 - mask) * f32::MIN`
/// in the model's dtype: in f16 and bf16 `f32::MIN` becomes -inf and every real token gets
/// `0 * -inf = NaN`, so every embedding of a padded batch is NaN. Here the mask is built in f32
/// with the dtype's finite minimum (as transformers does) and then converted; in f32 the result
/// equals `BertModel`'s bit for bit.
struct CandleBert {
    word: candle_nn::Embedding,
    /// [max_positions, hidden]
    position: Tensor,
    /// Row 0 of the token type embeddings (every token has type 0), [hidden].
    token_type0: Tensor,
    layer_norm: candle_nn::LayerNorm,
    encoder: bert::BertEncoder,
    dtype: DType,
}

impl CandleBert {
    /// Loads from the root of `vb`, else under `bert.` or the config's `model_type` (as
    /// `BertModel::load` does).
    fn load(vb: VarBuilder, config: &bert::Config) -> candle_core::Result<CandleBert> {
        let first = match Self::load_at(vb.clone(), config) {
            Ok(m) => return Ok(m),
            Err(e) => e,
        };
        let mut prefixes = vec!["bert"];
        if let Some(t) = config.model_type.as_deref() {
            if t != "bert" {
                prefixes.push(t);
            }
        }
        for p in prefixes {
            if let Ok(m) = Self::load_at(vb.pp(p), config) {
                return Ok(m);
            }
        }
        Err(first)
    }

    fn load_at(vb: VarBuilder, config: &bert::Config) -> candle_core::Result<CandleBert> {
        let h = config.hidden_size;
        let e = vb.pp("embeddings");
        let word = candle_nn::embedding(config.vocab_size, h, e.pp("word_embeddings"))?;
        let position = e
            .pp("position_embeddings")
            .get((config.max_position_embeddings, h), "weight")?;
        let token_type0 = e
            .pp("token_type_embeddings")
            .get((config.type_vocab_size, h), "weight")?
            .get(0)?;
        let layer_norm = candle_nn::layer_norm(h, config.layer_norm_eps, e.pp("LayerNorm"))?;
        let encoder = bert::BertEncoder::load(vb.pp("encoder"), config)?;
        Ok(CandleBert {
            word,
            position,
            token_type0,
            layer_norm,
            encoder,
            dtype: vb.dtype(),
        })
    }

    /// `ids` [b, len] u32, `mask` [b, len] of 1 (token) and 0 (padding) -> [b, len, hidden] in
    /// the model's dtype.
    fn forward(&self, ids: &Tensor, mask: &[f32], device: &Device) -> candle_core::Result<Tensor> {
        use candle_core::Module;
        let (b, len) = ids.dims2()?;
        let x = self
            .word
            .forward(ids)?
            .broadcast_add(&self.token_type0)?
            .broadcast_add(&self.position.narrow(0, 0, len)?)?;
        let x = self.layer_norm.forward(&x)?;
        let neg = additive_mask_min(self.dtype);
        let additive: Vec<f32> = mask
            .iter()
            .map(|&m| if m > 0.0 { 0.0 } else { neg })
            .collect();
        let additive = Tensor::from_vec(additive, (b, 1, 1, len), device)?.to_dtype(self.dtype)?;
        self.encoder.forward(&x, &additive)
    }
}

/// The tokens among `offsets` (from [`Encoder::tokenize_with_offsets`]) whose last byte lies in
/// the byte range `range` of the text, as a token index range (they are consecutive); empty when
/// there is none (the text was cut before `range`).
pub fn token_span(offsets: &[Option<Range<usize>>], range: &Range<usize>) -> Range<usize> {
    let inside = |o: &Option<Range<usize>>| {
        o.as_ref()
            .is_some_and(|o| o.end > range.start && o.end <= range.end)
    };
    match offsets.iter().position(inside) {
        Some(first) => {
            let n = offsets[first..].iter().take_while(|o| inside(o)).count();
            first..first + n
        }
        None => 0..0,
    }
}

/// The finite minimum of `dtype` (`torch.finfo(dtype).min`), added to the attention scores of
/// padding.
fn additive_mask_min(dtype: DType) -> f32 {
    match dtype {
        DType::F16 => half::f16::MIN.to_f32(),
        DType::BF16 => half::bf16::MIN.to_f32(),
        _ => f32::MIN,
    }
}

/// Weights plus everything needed to build the encoder, whatever the source.
struct Loaded {
    config: bert::Config,
    tensors: Weights,
    /// The bundle's word embeddings as Q4_0 blocks (then absent from `tensors`).
    word_q4: Option<Vec<u8>>,
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
        let precision = opts.precision.resolve(&opts.device);
        let candle = precision.candle_dtype().is_some();
        if !candle && !opts.device.is_cpu() {
            return Err(Error::invalid(
                "precision",
                format!(
                    "{precision} runs on the CPU only; use auto, candle, f16 or bf16 with a GPU"
                ),
            ));
        }
        let loaded = match source {
            ModelSource::Bundle(dir) => load_bundle(dir, &opts.device, !candle)?,
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
            precision = %enc.info.precision,
            adapter = enc.info.adapter_sha256.as_deref().unwrap_or("none"),
            ms = t0.elapsed().as_millis() as u64,
            "encoder loaded"
        );
        Ok(enc)
    }

    fn build(source: &ModelSource, loaded: Loaded, opts: &EncoderOptions) -> Result<Encoder> {
        let Loaded {
            config,
            tensors,
            word_q4,
            tokenizer_path,
            model_id,
            sha256,
        } = loaded;
        let device = opts.device.clone();
        let precision = opts.precision.resolve(&device);
        let (tensors, sha256) = match &opts.adapter {
            None => (tensors, sha256),
            Some(adapter) => {
                let (mut map, sha) = match tensors {
                    Weights::Map(map) => (map, sha256),
                    Weights::Safetensors(path) => {
                        let (map, sha) = read_safetensors(&path, &device)?;
                        (map, Some(sha))
                    }
                };
                let base = sha.clone().unwrap_or_default();
                if !adapter.meta.encoder_sha256.eq_ignore_ascii_case(&base) {
                    return Err(Error::model(format!(
                        "adapter {} was trained on encoder {}, not on {source} ({base})",
                        adapter.meta.version, adapter.meta.encoder_sha256
                    )));
                }
                adapter.merge_into(&mut map)?;
                (Weights::Map(map), sha)
            }
        };
        let mismatch = |e: candle_core::Error| {
            Error::model(format!("{source}: weights do not match the config: {e}"))
        };
        let (model, sha256) = match (tensors, precision.candle_dtype()) {
            (Weights::Map(map), Some(dtype)) => {
                let vb = VarBuilder::from_tensors(map, dtype, &device);
                let model = CandleBert::load(vb, &config).map_err(mismatch)?;
                (Backend::Candle(model), sha256)
            }
            (Weights::Safetensors(path), Some(dtype)) => {
                // The tensors are copied out of the mapping before it is dropped.
                let mmap = map_file(&path)?;
                let sha = sha256_hex(&mmap);
                let vb = VarBuilder::from_slice_safetensors(&mmap, dtype, &device)
                    .map_err(|e| Error::model(format!("{}: {e}", path.display())))?;
                let model = CandleBert::load(vb, &config).map_err(mismatch)?;
                (Backend::Candle(model), Some(sha))
            }
            (weights, None) => {
                let mode = match precision {
                    Precision::F32 => DenseMode::F32,
                    _ => DenseMode::Int8,
                };
                let (map, sha) = match weights {
                    Weights::Map(map) => (map, sha256),
                    Weights::Safetensors(path) => {
                        let (map, sha) = read_safetensors(&path, &Device::Cpu)?;
                        (map, Some(sha))
                    }
                };
                let dims = cpu::Dims {
                    hidden: config.hidden_size,
                    layers: config.num_hidden_layers,
                    heads: config.num_attention_heads,
                    ff: config.intermediate_size,
                    vocab: config.vocab_size,
                    max_positions: config.max_position_embeddings,
                    eps: config.layer_norm_eps as f32,
                };
                if !matches!(config.hidden_act, bert::HiddenAct::Gelu) {
                    return Err(Error::model(format!(
                        "{source}: the {precision} encoder supports hidden_act \"gelu\" only; \
                         use --precision candle"
                    )));
                }
                let mut src = MapSource { map };
                let model = CpuBert::load(dims, &mut src, word_q4, mode).map_err(|e| {
                    Error::model(format!("{source}: weights do not match the config: {e}"))
                })?;
                (Backend::Cpu(model), sha)
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
            precision,
            adapter_sha256: opts.adapter.as_ref().map(|a| a.sha256.clone()),
            adapter_version: opts.adapter.as_ref().map(|a| a.meta.version.clone()),
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
        self.encode(text, false).map(|(t, _)| t)
    }

    /// [`Self::tokenize`], with the byte range of `text` each token came from (`None` for the
    /// special and prefix tokens): evidence pools the tokens of each sentence
    /// ([`token_span`]).
    pub fn tokenize_with_offsets(
        &self,
        text: &str,
    ) -> Result<(Tokenized, Vec<Option<Range<usize>>>)> {
        let (t, enc) = self.encode(text, true)?;
        let prefix = self.info.prefix.len();
        let offsets = enc
            .get_offsets()
            .iter()
            .zip(enc.get_special_tokens_mask())
            .map(|(&(start, end), &special)| {
                (special == 0 && end > prefix && start < end)
                    .then(|| start.max(prefix) - prefix..end - prefix)
            })
            .collect();
        Ok((t, offsets))
    }

    /// Tokenizes prefix + `text`; with `offsets`, the encoding tracks byte offsets (slower).
    fn encode(&self, text: &str, offsets: bool) -> Result<(Tokenized, tokenizers::Encoding)> {
        let input = format!("{}{}", self.info.prefix, text);
        let mut enc = if offsets {
            self.tokenizer.encode(input.as_str(), false)
        } else {
            self.tokenizer.encode_fast(input.as_str(), false)
        }
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
        let t = Tokenized {
            ids: enc.get_ids().to_vec(),
            truncated,
        };
        Ok((t, enc))
    }

    /// Batch forward pass: pads to the longest in the batch with an attention mask, runs the BERT encoder,
    /// mean-pools over real tokens only and L2-normalises. Returns [batch, hidden] f32 on the encoder's device.
    /// Padding must not change any result; batched must equal one-by-one within 1e-4.
    pub fn embed(&self, batch: &[&Tokenized]) -> Result<Tensor> {
        self.embed_with_spans(batch, &vec![&[][..]; batch.len()])
    }

    /// [`Self::embed`], followed by one row per span: the mean of the final token states over
    /// `spans[i]` (token index ranges of sequence `i`), L2-normalised, in order. Returns
    /// `[batch + spans, hidden]`. A sentence's span of its message's tokens stands for the
    /// sentence at no extra encoder work (evidence, `--evidence-mode pooled`).
    pub fn embed_with_spans(
        &self,
        batch: &[&Tokenized],
        spans: &[&[Range<usize>]],
    ) -> Result<Tensor> {
        let hidden = self.info.hidden_size;
        if batch.is_empty() {
            return Ok(Tensor::zeros((0, hidden), DType::F32, &self.device)?);
        }
        if spans.len() != batch.len() {
            return Err(Error::invalid(
                "spans",
                format!("{} span lists for {} sequences", spans.len(), batch.len()),
            ));
        }
        for (i, (t, ss)) in batch.iter().zip(spans).enumerate() {
            if let Some(bad) = ss.iter().find(|s| s.start >= s.end || s.end > t.ids.len()) {
                return Err(Error::invalid(
                    format!("spans[{i}]"),
                    format!(
                        "token span {bad:?} is empty or outside the sequence's {} tokens",
                        t.ids.len()
                    ),
                ));
            }
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
        let model = match &self.model {
            Backend::Cpu(cpu) => {
                let seqs: Vec<&[u32]> = batch.iter().map(|t| t.ids.as_slice()).collect();
                let out = cpu.embed_with_spans(&seqs, spans);
                let rows = out.len() / hidden;
                return Ok(Tensor::from_vec(out, (rows, hidden), &self.device)?);
            }
            Backend::Candle(model) => model,
        };
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
        let out = model
            .forward(&ids, &mask, &self.device)?
            .to_dtype(DType::F32)?; // [b, len, hidden]
        let mask = Tensor::from_vec(mask, (b, len), &self.device)?;
        let summed = out.broadcast_mul(&mask.unsqueeze(2)?)?.sum(1)?; // [b, hidden]
        let counts = mask.sum_keepdim(1)?; // [b, 1]
        let mut mean = summed.broadcast_div(&counts)?;
        let n_spans: usize = spans.iter().map(|s| s.len()).sum();
        if n_spans > 0 {
            // Each span's row is a weighted sum of token states: one [spans, b·len] x
            // [b·len, hidden] product pools them all (one kernel on a GPU).
            let mut weights = vec![0f32; n_spans * b * len];
            let mut rows = weights.chunks_exact_mut(b * len);
            for (i, ss) in spans.iter().enumerate() {
                for (s, row) in ss.iter().zip(&mut rows) {
                    row[i * len + s.start..i * len + s.end].fill(1.0 / s.len() as f32);
                }
            }
            let weights = Tensor::from_vec(weights, (n_spans, b * len), &self.device)?;
            let pooled = weights.matmul(&out.reshape((b * len, hidden))?)?;
            mean = Tensor::cat(&[&mean, &pooled], 0)?;
        }
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

    /// The packed CPU model, when that is the forward pass in use.
    pub fn cpu_model(&self) -> Option<&CpuBert> {
        match &self.model {
            Backend::Cpu(m) => Some(m),
            Backend::Candle(_) => None,
        }
    }

    /// The packed CPU model, when that is the forward pass in use (tests switch its kernel).
    pub fn cpu_model_mut(&mut self) -> Option<&mut CpuBert> {
        match &mut self.model {
            Backend::Cpu(m) => Some(m),
            Backend::Candle(_) => None,
        }
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

/// Every tensor of a safetensors file, and the file's sha256.
fn read_safetensors(path: &Path, device: &Device) -> Result<(HashMap<String, Tensor>, String)> {
    let mmap = map_file(path)?;
    let map = candle_core::safetensors::load_buffer(&mmap, device)
        .map_err(|e| Error::model(format!("{}: {e}", path.display())))?;
    Ok((map, sha256_hex(&mmap)))
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

/// The f32 weights of `source`'s transformer blocks, in HF naming without the `bert.` prefix
/// (the word embeddings are left out), and the base weights' sha256: what adapter training
/// runs its adapted layers on.
pub fn block_weights(source: &ModelSource) -> Result<(HashMap<String, Tensor>, String)> {
    let files = match source {
        ModelSource::Bundle(dir) => {
            let parts = read_bundle(dir, &Device::Cpu, true)?;
            return keep_blocks(parts.tensors, parts.sha256);
        }
        ModelSource::Dir(dir) => HfFiles::in_dir(dir)?,
        ModelSource::Hub { repo, revision } => {
            resolve_hub(repo, revision, &HubOptions::from_env())?
        }
    };
    let (tensors, sha) = read_safetensors(&files.weights, &Device::Cpu)?;
    keep_blocks(tensors, sha)
}

fn keep_blocks(
    tensors: HashMap<String, Tensor>,
    sha: String,
) -> Result<(HashMap<String, Tensor>, String)> {
    let mut out = HashMap::new();
    for (name, t) in tensors {
        let name = name.strip_prefix("bert.").unwrap_or(&name).to_string();
        if name.starts_with("encoder.layer.") {
            out.insert(name, t.to_dtype(DType::F32)?);
        }
    }
    Ok((out, sha))
}

/// Parse and dequantize a bundle: the config comes from the E5S1 header.
pub(crate) struct BundleParts {
    pub header: e5s1::Header,
    pub tensors: HashMap<String, Tensor>,
    /// The word embeddings as Q4_0 blocks when asked for (then not in `tensors`).
    pub word_q4: Option<Vec<u8>>,
    pub tokenizer_path: PathBuf,
    pub model_id: String,
    pub sha256: String,
}

/// `word_q4`: keep the word embeddings as Q4_0 blocks instead of a dequantized tensor.
pub(crate) fn read_bundle(dir: &Path, device: &Device, word_q4: bool) -> Result<BundleParts> {
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
    let (tensors, word_q4) = if word_q4 {
        let words = file.q4_bytes(&bytes, "emb.word")?.to_vec();
        let tensors = file.hf_tensors_except(&bytes, device, &["emb.word"])?;
        (tensors, Some(words))
    } else {
        (file.hf_tensors(&bytes, device)?, None)
    };
    let model_id = meta
        .as_ref()
        .and_then(|m| m.get("model_id"))
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| dir_name(dir));
    Ok(BundleParts {
        header: file.header,
        tensors,
        word_q4,
        tokenizer_path,
        model_id,
        sha256,
    })
}

fn load_bundle(dir: &Path, device: &Device, word_q4: bool) -> Result<Loaded> {
    let parts = read_bundle(dir, device, word_q4)?;
    Ok(Loaded {
        config: parts.header.bert_config(),
        tensors: Weights::Map(parts.tensors),
        word_q4: parts.word_q4,
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
    if !cfg.hidden_size.is_multiple_of(cfg.num_attention_heads) {
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
        word_q4: None,
        tokenizer_path: files.tokenizer.clone(),
        model_id: id.or(name).unwrap_or(fallback_id),
        sha256: None,
    })
}

/// Named tensors for [`CpuBert::load`], from a map in HF naming with or without the `bert.`
/// prefix; any float dtype is converted to f32. Taken tensors leave the map (memory).
struct MapSource {
    map: HashMap<String, Tensor>,
}

impl cpu::TensorSource for MapSource {
    fn get(&mut self, name: &str, len: usize) -> Result<Vec<f32>> {
        let t = self
            .map
            .remove(name)
            .or_else(|| self.map.remove(&format!("bert.{name}")))
            .ok_or_else(|| Error::model(format!("missing tensor '{name}'")))?;
        let v = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        if len != 0 && v.len() != len {
            return Err(Error::model(format!(
                "tensor '{name}' has {} elements, expected {len}",
                v.len()
            )));
        }
        if let Some(bad) = v.iter().position(|x| !x.is_finite()) {
            return Err(Error::model(format!(
                "tensor '{name}' has a non-finite value at element {bad}"
            )));
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::token_span;

    #[test]
    fn token_span_takes_the_tokens_ending_inside_the_range() {
        // [CLS] "▁Hi" "!" "▁Bye" "." [SEP] over "Hi! Bye." (a token may take the space before it)
        let offsets = vec![None, Some(0..2), Some(2..3), Some(3..7), Some(7..8), None];
        assert_eq!(token_span(&offsets, &(0..3)), 1..3);
        assert_eq!(token_span(&offsets, &(4..8)), 3..5);
        assert_eq!(token_span(&offsets, &(0..8)), 1..5);
        // a range the tokens never reached (cut at max_tokens) or between tokens
        assert_eq!(token_span(&offsets, &(8..12)), 0..0);
        assert!(token_span(&offsets[..3], &(4..8)).is_empty());
    }
}
