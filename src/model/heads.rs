//! Task heads on top of the frozen encoder, and the on-disk format the serving code loads.
//!
//! Layout under a models directory (see `models/` in the repository):
//! ```text
//! manifest.json                 {"encoder": {model_id, source, sha256, prefix, pooling, normalize, max_tokens},
//!                                "heads": ["sentiment", ...]}
//! <task>/head.safetensors       weight [C, D] f32, bias [C] f32
//! <task>/head.json              {task, labels, languages, version, temperature, encoder_sha256, metrics, training}
//! ```
//! A head maps a mean-pooled, L2-normalised embedding `e` to logits `z = (e·Wᵀ + b) / T` and then,
//! by its [`HeadKind`] (head.json `kind`, absent = `softmax` so older heads keep loading):
//! - `softmax`: one distribution over the labels (sentiment);
//! - `sigmoid`: an independent probability per label (multi-label, e.g. emotions);
//! - `binary`: one label, `P(label)` (e.g. toxicity: `["toxic"]`);
//! - `score`: one label, a graded score in [0, 1] through a sigmoid link (e.g. politeness).
//!
//! Sigmoid-kind heads carry their dev-fitted Platt calibration folded into W and b, and may carry
//! per-label decision `thresholds` chosen on dev, and thresholds of a language's own
//! (`language_thresholds`, chosen on that language's dev set; see [`LinearHead::thresholds_for`]).
//! Any head may carry a per-language recalibration
//! (`language_calibration`, one `(a, c)` per label, fitted on `L`'s dev set after the pooled
//! calibration): for a text in language `L`, `p' = σ(a·logit(p) + c)` per label on sigmoid kinds,
//! `p' = softmax(a·ln p + c)` on softmax heads (a temperature and a class-prior shift); see
//! [`LinearHead::calibrate_for_language`].
//! The manifest pins the exact encoder weights (sha256) the heads were trained on; loading heads
//! against a different encoder is refused unless explicitly allowed.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::{adapter::AdapterPin, cpu::ops::dot};
use crate::model::EncoderInfo;
use crate::{Error, Result};

pub const MANIFEST_FILE: &str = "manifest.json";
pub const HEAD_WEIGHTS_FILE: &str = "head.safetensors";
pub const HEAD_JSON_FILE: &str = "head.json";

/// The encoder a set of heads was trained on, as pinned in `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestEncoder {
    pub model_id: String,
    pub source: String,
    pub sha256: String,
    pub prefix: String,
    pub pooling: String,
    pub normalize: bool,
    pub max_tokens: usize,
}

impl ManifestEncoder {
    pub fn from_info(info: &EncoderInfo) -> Self {
        Self {
            model_id: info.model_id.clone(),
            source: info.source.clone(),
            sha256: info.sha256.clone(),
            prefix: info.prefix.clone(),
            pooling: "mean".into(),
            normalize: true,
            max_tokens: info.max_tokens,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub encoder: ManifestEncoder,
    /// The LoRA adapter merged into the encoder (see [`super::adapter`]), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<AdapterPin>,
    pub heads: Vec<String>,
}

impl Manifest {
    pub fn load(dir: &Path) -> Result<Manifest> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => super::install::missing_heads(dir),
            _ => Error::io(&path, e),
        })?;
        serde_json::from_str(&text)
            .map_err(|e| Error::model(format!("{}: invalid manifest: {e}", path.display())))
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(MANIFEST_FILE);
        write_json(
            &path,
            &serde_json::to_value(self).expect("manifest serialises"),
        )
    }
}

/// How a head turns its logits into outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadKind {
    /// one distribution over all labels (rows sum to 1)
    #[default]
    Softmax,
    /// multi-label: an independent probability per label
    Sigmoid,
    /// one label; the output is `P(label)`
    Binary,
    /// one label; the output is a graded score in [0, 1] (not a probability)
    Score,
}

impl HeadKind {
    /// Heads whose outputs are independent sigmoids.
    pub fn is_sigmoid(self) -> bool {
        !matches!(self, HeadKind::Softmax)
    }
}

/// The JSON side of a head (everything but the tensors).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct HeadJson {
    task: String,
    #[serde(default)]
    kind: HeadKind,
    labels: Vec<String>,
    languages: Vec<String>,
    version: String,
    temperature: f32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    thresholds: Option<Vec<f32>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    language_thresholds: BTreeMap<String, Vec<f32>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    language_calibration: BTreeMap<String, Vec<Platt>>,
    encoder_sha256: String,
    /// The lexical cues the head reads after the embedding (`text::cues::VERSION`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cues: Option<String>,
    /// The adapter merged into the encoder when the head was trained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    adapter_sha256: Option<String>,
}

/// One output's Platt recalibration `σ(a·z + c)` of the head's logit `z`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Platt {
    pub a: f32,
    pub c: f32,
}

impl Platt {
    /// `σ(a·logit(p) + c)`; `p` is clamped to [1e-7, 1 − 1e-7] first, so saturated outputs stay
    /// finite.
    pub fn apply(&self, p: f32) -> f32 {
        let p = p.clamp(1e-7, 1.0 - 1e-7);
        let z = (p / (1.0 - p)).ln();
        1.0 / (1.0 + (-(self.a * z + self.c)).exp())
    }

    /// Each output of one text's `p` (label order) through its own scaling in `cal`.
    pub fn apply_each(cal: &[Platt], p: &mut [f32]) {
        for (v, c) in p.iter_mut().zip(cal) {
            *v = c.apply(*v);
        }
    }
}

/// A linear head on the pooled embedding; see the module docs for the kinds.
#[derive(Debug, Clone)]
pub struct LinearHead {
    pub task: String,
    pub kind: HeadKind,
    pub labels: Vec<String>,
    pub languages: Vec<String>,
    pub version: String,
    pub temperature: f32,
    /// per-label decision thresholds on the outputs (sigmoid kinds), chosen on dev
    pub thresholds: Option<Vec<f32>>,
    /// per language, per label: decision thresholds chosen on that language's dev set; other
    /// languages take `thresholds`
    pub language_thresholds: BTreeMap<String, Vec<f32>>,
    /// per language, per label: a recalibration of the outputs, fitted on that language's dev
    /// set; languages not listed keep the pooled calibration
    pub language_calibration: BTreeMap<String, Vec<Platt>>,
    /// The head reads the text's lexical cues ([`crate::text::cues`]) after the embedding: its
    /// input is `[embedding, cues]` ([`Self::input`]).
    pub cues: bool,
    /// [C, D] f32
    weight: Tensor,
    /// [C] f32
    bias: Tensor,
}

impl LinearHead {
    pub fn new(
        task: impl Into<String>,
        labels: Vec<String>,
        languages: Vec<String>,
        version: impl Into<String>,
        weight: Tensor,
        bias: Tensor,
        temperature: f32,
    ) -> Result<Self> {
        let task = task.into();
        let weight = weight.to_dtype(DType::F32)?;
        let bias = bias.to_dtype(DType::F32)?;
        let c = labels.len();
        match weight.dims() {
            [wc, _] if *wc == c => {}
            dims => {
                return Err(Error::model(format!(
                    "head {task}: weight has shape {dims:?}, expected [{c}, D] for {c} labels"
                )))
            }
        }
        if bias.dims() != [c] {
            return Err(Error::model(format!(
                "head {task}: bias has shape {:?}, expected [{c}]",
                bias.dims()
            )));
        }
        if c < 1 {
            return Err(Error::model(format!("head {task}: needs at least 1 label")));
        }
        if !(temperature.is_finite() && temperature > 0.0) {
            return Err(Error::model(format!(
                "head {task}: temperature must be a positive number, got {temperature}"
            )));
        }
        // one label can only be a binary head; with_kind says which one-label kind it is
        let kind = if c == 1 {
            HeadKind::Binary
        } else {
            HeadKind::Softmax
        };
        let head = Self {
            task,
            kind,
            labels,
            languages,
            version: version.into(),
            temperature,
            thresholds: None,
            language_thresholds: BTreeMap::new(),
            language_calibration: BTreeMap::new(),
            cues: false,
            weight,
            bias,
        };
        head.check_kind()?;
        Ok(head)
    }

    /// The same head with another kind and optional per-label thresholds.
    pub fn with_kind(mut self, kind: HeadKind, thresholds: Option<Vec<f32>>) -> Result<Self> {
        self.kind = kind;
        self.thresholds = thresholds;
        self.check_kind()?;
        Ok(self)
    }

    /// The same head with a per-language recalibration of its outputs.
    pub fn with_language_calibration(mut self, cal: BTreeMap<String, Vec<Platt>>) -> Result<Self> {
        self.language_calibration = cal;
        self.check_kind()?;
        Ok(self)
    }

    /// The same head with decision thresholds of its own for some languages.
    pub fn with_language_thresholds(mut self, t: BTreeMap<String, Vec<f32>>) -> Result<Self> {
        self.language_thresholds = t;
        self.check_kind()?;
        Ok(self)
    }

    /// The same head reading the lexical cues after the embedding (`cues`), or not.
    pub fn with_cues(mut self, cues: bool) -> Result<Self> {
        self.cues = cues;
        if cues && self.dim() <= crate::text::cues::LEN {
            return Err(Error::model(format!(
                "head {}: width {} leaves no room for an embedding before {} cues",
                self.task,
                self.dim(),
                crate::text::cues::LEN
            )));
        }
        Ok(self)
    }

    /// The head's input rows: the embeddings `emb` [B, D], followed by the texts' `cues`
    /// [B, cues::LEN] for a head that reads them.
    pub fn input(&self, emb: &Tensor, cues: &Tensor) -> Result<Tensor> {
        if !self.cues {
            return Ok(emb.clone());
        }
        let cues = cues.to_dtype(emb.dtype())?.to_device(emb.device())?;
        Ok(Tensor::cat(&[emb, &cues], 1)?)
    }

    /// Decision thresholds for a text in `lang`: the language's own where it has them, else the
    /// pooled ones; `None` for a head without thresholds.
    pub fn thresholds_for(&self, lang: &str) -> Option<&[f32]> {
        self.language_thresholds
            .get(lang)
            .or(self.thresholds.as_ref())
            .map(Vec::as_slice)
    }

    /// Recalibrates one text's outputs `p` (label order) for its language `lang`; a no-op for
    /// languages without a fitted recalibration.
    pub fn calibrate_for_language(&self, lang: &str, p: &mut [f32]) {
        let Some(cal) = self.language_calibration.get(lang) else {
            return;
        };
        if self.kind.is_sigmoid() {
            Platt::apply_each(cal, p);
            return;
        }
        for (v, c) in p.iter_mut().zip(cal) {
            *v = c.a * v.max(1e-12).ln() + c.c;
        }
        crate::model::cpu::ops::softmax(p);
    }

    /// [`Self::probabilities`] recalibrated for texts in `lang`.
    pub fn probabilities_in(&self, emb: &Tensor, lang: &str) -> Result<Vec<Vec<f32>>> {
        let mut p = self.probabilities(emb)?;
        for row in &mut p {
            self.calibrate_for_language(lang, row);
        }
        Ok(p)
    }

    fn check_kind(&self) -> Result<()> {
        let c = self.labels.len();
        let ok = match self.kind {
            HeadKind::Softmax => c >= 2,
            HeadKind::Sigmoid => c >= 1,
            HeadKind::Binary | HeadKind::Score => c == 1,
        };
        if !ok {
            return Err(Error::model(format!(
                "head {}: kind {:?} does not fit {c} label(s) (softmax needs >= 2, binary and score exactly 1)",
                self.task, self.kind
            )));
        }
        let named = self
            .thresholds
            .iter()
            .map(|t| ("thresholds".to_string(), t));
        let per_lang = (self.language_thresholds.iter())
            .map(|(l, t)| (format!("language_thresholds[{l}]"), t));
        for (name, t) in named.chain(per_lang) {
            if t.len() != c || t.iter().any(|v| !(0.0..=1.0).contains(v)) {
                return Err(Error::model(format!(
                    "head {}: {name} must be {c} values in [0, 1], got {t:?}",
                    self.task
                )));
            }
        }
        for (lang, cal) in &self.language_calibration {
            let ok = cal.len() == c && cal.iter().all(|p| p.a.is_finite() && p.c.is_finite());
            if !ok {
                return Err(Error::model(format!(
                    "head {}: language_calibration[{lang}] must be {c} finite (a, c) pairs",
                    self.task
                )));
            }
        }
        Ok(())
    }

    /// Input width the head expects (the embedding's, plus the cues' for a head that reads them).
    pub fn dim(&self) -> usize {
        self.weight.dims()[1]
    }

    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    pub fn bias(&self) -> &Tensor {
        &self.bias
    }

    /// Raw logits `emb·Wᵀ + b`, [B, C] (no temperature).
    pub fn logits(&self, emb: &Tensor) -> Result<Tensor> {
        let emb = emb.to_dtype(DType::F32)?;
        let (_, d) = emb.dims2()?;
        if d != self.dim() {
            return Err(Error::model(format!(
                "head {}: input width {d} differs from head width {}",
                self.task,
                self.dim()
            )));
        }
        // Row by row, each logit one dot product summed in a fixed order: a message's results
        // are then the same bits whatever batch it rode in. A batched matmul picks its kernel
        // and summation order by the batch's size, so the same text scored alone (a Score
        // stream) and among 128 (`rapport score` in-process) differed in the last bits. The
        // heads are tiny beside the encoder ([B, hidden] x [hidden, C]).
        let rows = emb.to_device(&Device::Cpu)?.to_vec2::<f32>()?;
        let w = self
            .weight
            .to_device(&Device::Cpu)?
            .to_dtype(DType::F32)?
            .to_vec2::<f32>()?;
        let b = self
            .bias
            .to_device(&Device::Cpu)?
            .to_dtype(DType::F32)?
            .to_vec1::<f32>()?;
        let mut out = Vec::with_capacity(rows.len() * w.len());
        for row in &rows {
            out.extend(w.iter().zip(&b).map(|(wc, bc)| dot(row, wc) + bc));
        }
        Ok(Tensor::from_vec(out, (rows.len(), w.len()), &Device::Cpu)?.to_device(emb.device())?)
    }

    /// Outputs per row in label order; `emb` [B, D] -> B vectors: `softmax((emb·Wᵀ + b) / T)` for
    /// softmax heads, the elementwise sigmoid of the same logits for the other kinds.
    pub fn probabilities(&self, emb: &Tensor) -> Result<Vec<Vec<f32>>> {
        let logits = (self.logits(emb)? / self.temperature as f64)?;
        let probs = match self.kind {
            HeadKind::Softmax => candle_nn::ops::softmax_last_dim(&logits)?,
            _ => candle_nn::ops::sigmoid(&logits)?,
        };
        Ok(probs.to_device(&Device::Cpu)?.to_vec2::<f32>()?)
    }

    /// Writes `<dir>/head.safetensors` and `<dir>/head.json`. The keys of `extra_json` (an object,
    /// typically `metrics` and `training`) are added to head.json.
    pub fn save(
        &self,
        dir: &Path,
        extra_json: serde_json::Value,
        encoder: &EncoderInfo,
    ) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let tensors: HashMap<String, Tensor> = [
            ("weight".to_string(), self.weight.to_device(&Device::Cpu)?),
            ("bias".to_string(), self.bias.to_device(&Device::Cpu)?),
        ]
        .into_iter()
        .collect();
        let wpath = dir.join(HEAD_WEIGHTS_FILE);
        candle_core::safetensors::save(&tensors, &wpath)?;
        let meta = HeadJson {
            task: self.task.clone(),
            kind: self.kind,
            labels: self.labels.clone(),
            languages: self.languages.clone(),
            version: self.version.clone(),
            temperature: self.temperature,
            thresholds: self.thresholds.clone(),
            language_thresholds: self.language_thresholds.clone(),
            language_calibration: self.language_calibration.clone(),
            encoder_sha256: encoder.sha256.clone(),
            cues: self.cues.then(|| crate::text::cues::VERSION.to_string()),
            adapter_sha256: encoder.adapter_sha256.clone(),
        };
        let mut json = serde_json::to_value(&meta).expect("head json serialises");
        match extra_json {
            serde_json::Value::Object(extra) => {
                let obj = json.as_object_mut().expect("object");
                for (k, v) in extra {
                    obj.insert(k, v);
                }
            }
            serde_json::Value::Null => {}
            other => {
                return Err(Error::invalid(
                    "extra_json",
                    format!("must be a JSON object, got {other}"),
                ))
            }
        }
        write_json(&dir.join(HEAD_JSON_FILE), &json)
    }

    /// Loads `<dir>/head.json` + `<dir>/head.safetensors`; returns the head and the encoder and
    /// adapter sha256 recorded in head.json.
    pub fn load(dir: &Path) -> Result<(LinearHead, String, Option<String>)> {
        let jpath = dir.join(HEAD_JSON_FILE);
        let text = std::fs::read_to_string(&jpath).map_err(|e| Error::io(&jpath, e))?;
        let meta: HeadJson = serde_json::from_str(&text)
            .map_err(|e| Error::model(format!("{}: invalid head json: {e}", jpath.display())))?;
        let wpath = dir.join(HEAD_WEIGHTS_FILE);
        if !wpath.is_file() {
            return Err(Error::io(
                &wpath,
                std::io::Error::new(std::io::ErrorKind::NotFound, "head weights not found"),
            ));
        }
        let mut tensors = candle_core::safetensors::load(&wpath, &Device::Cpu)
            .map_err(|e| Error::model(format!("{}: {e}", wpath.display())))?;
        let take = |t: &mut HashMap<String, Tensor>, name: &str| {
            t.remove(name).ok_or_else(|| {
                Error::model(format!("{}: missing tensor {name:?}", wpath.display()))
            })
        };
        let weight = take(&mut tensors, "weight")?;
        let bias = take(&mut tensors, "bias")?;
        if let Some(v) = meta
            .cues
            .as_deref()
            .filter(|v| *v != crate::text::cues::VERSION)
        {
            return Err(Error::model(format!(
                "{}: the head reads lexical cues {v:?}, this build computes {:?}; retrain it",
                jpath.display(),
                crate::text::cues::VERSION
            )));
        }
        let head = LinearHead::new(
            meta.task,
            meta.labels,
            meta.languages,
            meta.version,
            weight,
            bias,
            meta.temperature,
        )
        .and_then(|h| h.with_kind(meta.kind, meta.thresholds))
        .and_then(|h| h.with_language_calibration(meta.language_calibration))
        .and_then(|h| h.with_language_thresholds(meta.language_thresholds))
        .and_then(|h| h.with_cues(meta.cues.is_some()))
        .map_err(|e| Error::model(format!("{}: {e}", dir.display())))?;
        Ok((head, meta.encoder_sha256, meta.adapter_sha256))
    }
}

/// The manifest's encoder pin plus every head it lists, checked against the loaded encoder.
#[derive(Debug, Clone)]
pub struct HeadSet {
    encoder: ManifestEncoder,
    adapter: Option<AdapterPin>,
    heads: BTreeMap<String, LinearHead>,
    order: Vec<String>,
}

impl HeadSet {
    /// Loads `dir/manifest.json` and every head it lists. Fails with `Error::Model` when a head's
    /// width differs from `encoder.hidden_size`, or when the manifest's or a head's encoder sha256
    /// differs from `encoder.sha256` (with `allow_mismatch`, the sha256 check only warns).
    pub fn load(dir: &Path, encoder: &EncoderInfo, allow_mismatch: bool) -> Result<HeadSet> {
        let manifest = Manifest::load(dir)?;
        let mismatch = |what: String| -> Result<()> {
            if allow_mismatch {
                tracing::warn!("{what}; continuing because mismatches are allowed");
                Ok(())
            } else {
                Err(Error::model(format!(
                    "{what}; the heads were trained on other encoder weights (retrain them, or allow the mismatch explicitly)"
                )))
            }
        };
        if !manifest
            .encoder
            .sha256
            .eq_ignore_ascii_case(&encoder.sha256)
        {
            mismatch(format!(
                "{}: encoder sha256 {} differs from the loaded encoder's {}",
                dir.join(MANIFEST_FILE).display(),
                manifest.encoder.sha256,
                encoder.sha256
            ))?;
        }
        let pinned = manifest.adapter.as_ref().map(|a| a.sha256.as_str());
        if pinned != encoder.adapter_sha256.as_deref() {
            mismatch(format!(
                "{}: pins adapter {}, the encoder was loaded with {}",
                dir.join(MANIFEST_FILE).display(),
                pinned.unwrap_or("none"),
                encoder.adapter_sha256.as_deref().unwrap_or("none")
            ))?;
        }
        if manifest.encoder.prefix != encoder.prefix {
            tracing::warn!(
                manifest = %manifest.encoder.prefix,
                encoder = %encoder.prefix,
                "input prefix differs from the one the heads were trained with"
            );
        }
        if manifest.heads.is_empty() {
            return Err(Error::model(format!(
                "{}: lists no heads",
                dir.join(MANIFEST_FILE).display()
            )));
        }
        let mut heads = BTreeMap::new();
        for task in &manifest.heads {
            let hdir = dir.join(task);
            let (head, sha, adapter) = LinearHead::load(&hdir)?;
            if head.task != *task {
                return Err(Error::model(format!(
                    "{}: head.json says task {:?}, the manifest lists it as {task:?}",
                    hdir.display(),
                    head.task
                )));
            }
            let cues = if head.cues { crate::text::cues::LEN } else { 0 };
            if head.dim() != encoder.hidden_size + cues {
                return Err(Error::model(format!(
                    "{}: head width {} differs from the encoder's hidden size {} plus {cues} cues",
                    hdir.display(),
                    head.dim(),
                    encoder.hidden_size
                )));
            }
            if !sha.eq_ignore_ascii_case(&encoder.sha256) {
                mismatch(format!(
                    "{}: head trained on encoder sha256 {sha}, loaded encoder is {}",
                    hdir.join(HEAD_JSON_FILE).display(),
                    encoder.sha256
                ))?;
            }
            if adapter != encoder.adapter_sha256 {
                mismatch(format!(
                    "{}: head trained with adapter {}, the loaded encoder has {}",
                    hdir.join(HEAD_JSON_FILE).display(),
                    adapter.as_deref().unwrap_or("none"),
                    encoder.adapter_sha256.as_deref().unwrap_or("none")
                ))?;
            }
            heads.insert(task.clone(), head);
        }
        Ok(HeadSet {
            encoder: manifest.encoder,
            adapter: manifest.adapter,
            heads,
            order: manifest.heads,
        })
    }

    pub fn encoder(&self) -> &ManifestEncoder {
        &self.encoder
    }

    pub fn get(&self, task: &str) -> Option<&LinearHead> {
        self.heads.get(task)
    }

    pub fn sentiment(&self) -> Result<&LinearHead> {
        self.get("sentiment")
            .ok_or_else(|| Error::model("no sentiment head in the models directory's manifest"))
    }

    /// `<encoder sha256[..8]>[+adapter-<sha256[..8]>]+<head version>+...` in manifest order: one
    /// string naming the encoder weights, the adapter and every head.
    pub fn version(&self) -> String {
        let short: String = self.encoder.sha256.chars().take(8).collect();
        let mut parts = vec![short];
        if let Some(a) = &self.adapter {
            parts.push(format!("adapter-{}", &a.sha256[..a.sha256.len().min(8)]));
        }
        parts.extend(self.heads().map(|h| h.version.clone()));
        parts.join("+")
    }

    /// Heads in manifest order.
    pub fn heads(&self) -> impl Iterator<Item = &LinearHead> {
        self.order.iter().filter_map(|t| self.heads.get(t))
    }

    /// Some head reads the lexical cues, so every sequence must carry them.
    pub fn reads_cues(&self) -> bool {
        self.heads().any(|h| h.cues)
    }

    /// Every head's outputs for one text (`probs` in [`Self::heads`] order, as the engine returns
    /// them) recalibrated for the text's language `lang`.
    pub fn for_language(&self, probs: &[Vec<f32>], lang: &str) -> Vec<Vec<f32>> {
        self.heads()
            .zip(probs)
            .map(|(h, p)| {
                let mut p = p.clone();
                h.calibrate_for_language(lang, &mut p);
                p
            })
            .collect()
    }

    /// Writes a manifest and randomly initialised heads (seeded) for `encoder`; for tests that run
    /// a tiny random model.
    pub fn write_random(
        dir: &Path,
        encoder: &EncoderInfo,
        tasks: &[(&str, HeadKind, &[&str])],
        seed: u64,
    ) -> Result<()> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let d = encoder.hidden_size;
        let scale = 1.0 / (d as f32).sqrt();
        for (task, kind, labels) in tasks {
            let c = labels.len();
            let w: Vec<f32> = (0..c * d)
                .map(|_| (rng.random::<f32>() * 2.0 - 1.0) * scale)
                .collect();
            let b: Vec<f32> = (0..c).map(|_| (rng.random::<f32>() - 0.5) * 0.1).collect();
            let head = LinearHead::new(
                *task,
                labels.iter().map(|s| s.to_string()).collect(),
                vec!["en".into(), "ru".into()],
                format!("{task}-random-{seed}"),
                Tensor::from_vec(w, (c, d), &Device::Cpu)?,
                Tensor::from_vec(b, c, &Device::Cpu)?,
                1.0,
            )?
            .with_kind(*kind, None)?;
            head.save(
                &dir.join(task),
                serde_json::json!({"metrics": {}, "training": {"random_init_seed": seed}}),
                encoder,
            )?;
        }
        Manifest {
            encoder: ManifestEncoder::from_info(encoder),
            adapter: None,
            heads: tasks.iter().map(|(t, _, _)| t.to_string()).collect(),
        }
        .save(dir)
    }
}

/// Writes pretty JSON (with a trailing newline) atomically.
pub(crate) fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value).expect("json serialises");
    text.push('\n');
    let tmp: PathBuf = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-label (binary) en + ru head whose logit is the sum of the embedding plus 0.5.
    fn toxicity_head(d: usize) -> LinearHead {
        LinearHead::new(
            "toxicity",
            vec!["toxic".into()],
            vec!["en".into(), "ru".into()],
            "toxicity-test",
            Tensor::ones((1, d), DType::F32, &Device::Cpu).unwrap(),
            Tensor::new(&[0.5f32], &Device::Cpu).unwrap(),
            1.0,
        )
        .unwrap()
    }

    fn info(d: usize, sha: &str) -> EncoderInfo {
        EncoderInfo {
            source: "test".into(),
            model_id: "test/tiny".into(),
            sha256: sha.into(),
            hidden_size: d,
            max_tokens: 32,
            prefix: "query: ".into(),
            precision: crate::model::Precision::Int8,
            adapter_sha256: None,
            adapter_version: None,
        }
    }

    const SHA: &str = "1571fc98aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    /// Saves `heads` under `dir`, each in its task's folder, with a manifest listing them.
    fn write_set(dir: &Path, enc: &EncoderInfo, heads: &[&LinearHead]) {
        for h in heads {
            h.save(&dir.join(&h.task), serde_json::Value::Null, enc)
                .unwrap();
        }
        Manifest {
            encoder: ManifestEncoder::from_info(enc),
            adapter: None,
            heads: heads.iter().map(|h| h.task.clone()).collect(),
        }
        .save(dir)
        .unwrap();
    }

    fn labels() -> Vec<String> {
        ["negative", "neutral", "positive"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn head(d: usize) -> LinearHead {
        let w: Vec<f32> = (0..3 * d).map(|i| ((i % 7) as f32 - 3.0) * 0.1).collect();
        LinearHead::new(
            "sentiment",
            labels(),
            vec!["en".into(), "ru".into()],
            "sentiment-test",
            Tensor::from_vec(w, (3, d), &Device::Cpu).unwrap(),
            Tensor::new(&[0.1f32, -0.2, 0.3], &Device::Cpu).unwrap(),
            1.5,
        )
        .unwrap()
    }

    fn emb(b: usize, d: usize) -> Tensor {
        let v: Vec<f32> = (0..b * d)
            .map(|i| ((i * 31 % 17) as f32 - 8.0) / 8.0)
            .collect();
        Tensor::from_vec(v, (b, d), &Device::Cpu).unwrap()
    }

    #[test]
    fn probabilities_sum_to_one_and_follow_temperature() {
        let h = head(8);
        let p = h.probabilities(&emb(4, 8)).unwrap();
        assert_eq!(p.len(), 4);
        for row in &p {
            assert_eq!(row.len(), 3);
            let s: f32 = row.iter().sum();
            assert!((s - 1.0).abs() < 1e-5, "sum {s}");
            assert!(row.iter().all(|&x| x > 0.0));
        }
        // by hand for row 0: softmax((e·Wᵀ+b)/T)
        let e = emb(1, 8).to_vec2::<f32>().unwrap().remove(0);
        let w = h.weight().to_vec2::<f32>().unwrap();
        let b = h.bias().to_vec1::<f32>().unwrap();
        let z: Vec<f32> = (0..3)
            .map(|c| (e.iter().zip(&w[c]).map(|(a, b)| a * b).sum::<f32>() + b[c]) / 1.5)
            .collect();
        let m = z.iter().cloned().fold(f32::MIN, f32::max);
        let s: f32 = z.iter().map(|x| (x - m).exp()).sum();
        for c in 0..3 {
            assert!((p[0][c] - (z[c] - m).exp() / s).abs() < 1e-5);
        }
        // higher temperature -> flatter distribution
        let mut hot = h.clone();
        hot.temperature = 100.0;
        let q = hot.probabilities(&emb(1, 8)).unwrap();
        let spread = |r: &[f32]| {
            r.iter().cloned().fold(0.0, f32::max) - r.iter().cloned().fold(1.0, f32::min)
        };
        assert!(spread(&q[0]) < spread(&p[0]));
    }

    #[test]
    fn rejects_bad_shapes_and_temperature() {
        let d = Device::Cpu;
        let w = Tensor::zeros((2, 4), DType::F32, &d).unwrap();
        let b = Tensor::zeros(3, DType::F32, &d).unwrap();
        assert!(LinearHead::new("s", labels(), vec![], "v", w, b.clone(), 1.0).is_err());
        let w = Tensor::zeros((3, 4), DType::F32, &d).unwrap();
        assert!(LinearHead::new("s", labels(), vec![], "v", w.clone(), b.clone(), 0.0).is_err());
        let h = LinearHead::new("s", labels(), vec![], "v", w, b, 1.0).unwrap();
        assert!(h.probabilities(&emb(2, 5)).is_err());
    }

    #[test]
    fn save_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let h = head(8);
        let enc = info(8, SHA);
        h.save(
            &dir.path().join("sentiment"),
            serde_json::json!({"metrics": {"dev": {"macro_f1": 0.5}}, "training": {"seed": 1}}),
            &enc,
        )
        .unwrap();
        Manifest {
            encoder: ManifestEncoder::from_info(&enc),
            adapter: None,
            heads: vec!["sentiment".into()],
        }
        .save(dir.path())
        .unwrap();
        let set = HeadSet::load(dir.path(), &enc, false).unwrap();
        let g = set.sentiment().unwrap();
        assert_eq!(g.labels, h.labels);
        assert_eq!(g.languages, h.languages);
        assert_eq!(g.version, "sentiment-test");
        assert_eq!(g.temperature, 1.5);
        assert_eq!(g.dim(), 8);
        assert_eq!(
            g.weight().to_vec2::<f32>().unwrap(),
            h.weight().to_vec2::<f32>().unwrap()
        );
        assert_eq!(
            g.probabilities(&emb(3, 8)).unwrap(),
            h.probabilities(&emb(3, 8)).unwrap()
        );
        assert_eq!(set.version(), "1571fc98+sentiment-test");
        assert_eq!(set.heads().count(), 1);
        assert!(set.get("toxicity").is_none());
        let json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("sentiment/head.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(json["metrics"]["dev"]["macro_f1"], 0.5);
        assert_eq!(json["encoder_sha256"], SHA);
        assert_eq!(json["task"], "sentiment");
    }

    #[test]
    fn a_head_reading_cues_takes_them_after_the_embedding_and_records_their_version() {
        use crate::text::cues;
        let (d, n) = (8, cues::LEN);
        let please = cues::NAMES.iter().position(|c| *c == "please").unwrap();
        // embedding weights 0.1, one cue weight 3 on "please"
        let mut w = vec![0.1f32; d + n];
        w[d..].fill(0.0);
        w[d + please] = 3.0;
        let h = LinearHead::new(
            "politeness",
            vec!["polite".into()],
            vec!["en".into()],
            "politeness-cues",
            Tensor::from_vec(w, (1, d + n), &Device::Cpu).unwrap(),
            Tensor::new(&[-1.0f32], &Device::Cpu).unwrap(),
            1.0,
        )
        .unwrap()
        .with_kind(HeadKind::Score, Some(vec![0.5]))
        .unwrap()
        .with_cues(true)
        .unwrap();
        let texts = ["Help me now.", "Could you help me, please?"];
        let rows: Vec<f32> = texts.iter().flat_map(|t| cues::cues_of(t)).collect();
        let c = Tensor::from_vec(rows, (2, n), &Device::Cpu).unwrap();
        let e = Tensor::ones((2, d), DType::F32, &Device::Cpu).unwrap();
        let p = h.probabilities(&h.input(&e, &c).unwrap()).unwrap();
        let sigmoid = |z: f32| 1.0 / (1.0 + (-z).exp());
        assert!((p[0][0] - sigmoid(0.8 - 1.0)).abs() < 1e-6, "{p:?}");
        assert!((p[1][0] - sigmoid(0.8 + 3.0 - 1.0)).abs() < 1e-6, "{p:?}");
        // a head without cues takes the embedding alone
        let plain = head(d);
        assert_eq!(plain.input(&e, &c).unwrap().dims(), &[2, d]);

        // saved with the cues' version, loaded back as a cue reader of width d + n
        let dir = tempfile::tempdir().unwrap();
        let enc = info(d, SHA);
        write_set(dir.path(), &enc, &[&h]);
        let json_path = dir.path().join("politeness/head.json");
        let json = std::fs::read_to_string(&json_path).unwrap();
        assert!(json.contains(cues::VERSION), "{json}");
        let set = HeadSet::load(dir.path(), &enc, false).unwrap();
        let g = set.get("politeness").unwrap();
        assert!(g.cues);
        assert_eq!(g.probabilities(&g.input(&e, &c).unwrap()).unwrap(), p);
        // the encoder's width plus the cues' must match the head's
        let err = HeadSet::load(dir.path(), &info(d + 1, SHA), true).unwrap_err();
        assert!(err.to_string().contains("cues"), "{err}");
        // cues of another version (another layout or meaning) are refused, not misread
        std::fs::write(&json_path, json.replace(cues::VERSION, "cues-v0")).unwrap();
        let err = HeadSet::load(dir.path(), &enc, false).unwrap_err();
        assert!(err.to_string().contains("cues-v0"), "{err}");
    }

    #[test]
    fn dim_and_sha_mismatch_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let enc = info(8, SHA);
        HeadSet::write_random(
            dir.path(),
            &enc,
            &[("sentiment", HeadKind::Softmax, &["a", "b", "c"])],
            7,
        )
        .unwrap();
        assert!(HeadSet::load(dir.path(), &enc, false).is_ok());

        let err = HeadSet::load(dir.path(), &info(16, SHA), false).unwrap_err();
        assert!(err.to_string().contains("hidden size 16"), "{err}");
        // width mismatch is not waived by allow_mismatch
        assert!(HeadSet::load(dir.path(), &info(16, SHA), true).is_err());

        let other = info(8, &"0".repeat(64));
        let err = HeadSet::load(dir.path(), &other, false).unwrap_err();
        assert!(err.to_string().contains("sha256"), "{err}");
        let set = HeadSet::load(dir.path(), &other, true).unwrap();
        assert_eq!(set.sentiment().unwrap().labels, vec!["a", "b", "c"]);
    }

    #[test]
    fn missing_files_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let enc = info(8, SHA);
        let err = HeadSet::load(dir.path(), &enc, false).unwrap_err();
        assert!(err.to_string().contains("manifest.json"), "{err}");
        HeadSet::write_random(
            dir.path(),
            &enc,
            &[("sentiment", HeadKind::Softmax, &["a", "b"])],
            1,
        )
        .unwrap();
        std::fs::remove_file(dir.path().join("sentiment/head.safetensors")).unwrap();
        let err = HeadSet::load(dir.path(), &enc, false).unwrap_err();
        assert!(err.to_string().contains("head.safetensors"), "{err}");
    }

    #[test]
    fn committed_models_load_against_the_pinned_encoder() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        let m = Manifest::load(&dir).unwrap();
        let enc = EncoderInfo {
            source: m.encoder.source.clone(),
            model_id: m.encoder.model_id.clone(),
            sha256: m.encoder.sha256.clone(),
            hidden_size: 384,
            max_tokens: m.encoder.max_tokens,
            prefix: m.encoder.prefix.clone(),
            precision: crate::model::Precision::Int8,
            adapter_sha256: m.adapter.as_ref().map(|a| a.sha256.clone()),
            adapter_version: None,
        };
        assert!(m.encoder.sha256.starts_with("1571fc98"));
        let set = HeadSet::load(&dir, &enc, false).unwrap();
        let h = set.sentiment().unwrap();
        assert_eq!(h.labels, vec!["negative", "neutral", "positive"]);
        assert_eq!(h.dim(), 384);
        // encoder, then the pinned adapter (when there is one), then the heads
        let prefix = match &m.adapter {
            Some(a) => format!("1571fc98+adapter-{}+sentiment-", &a.sha256[..8]),
            None => "1571fc98+sentiment-".to_string(),
        };
        assert!(set.version().starts_with(&prefix), "{}", set.version());
        let p = h.probabilities(&emb(2, 384)).unwrap();
        assert!((p[0].iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }

    #[test]
    fn write_random_is_seeded() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let enc = info(8, SHA);
        HeadSet::write_random(
            a.path(),
            &enc,
            &[("sentiment", HeadKind::Softmax, &["x", "y"])],
            3,
        )
        .unwrap();
        HeadSet::write_random(
            b.path(),
            &enc,
            &[("sentiment", HeadKind::Softmax, &["x", "y"])],
            3,
        )
        .unwrap();
        let ha = HeadSet::load(a.path(), &enc, false).unwrap();
        let hb = HeadSet::load(b.path(), &enc, false).unwrap();
        assert_eq!(
            ha.sentiment().unwrap().weight().to_vec2::<f32>().unwrap(),
            hb.sentiment().unwrap().weight().to_vec2::<f32>().unwrap()
        );
    }
    #[test]
    fn sigmoid_and_binary_kinds_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let d = 8;
        let enc = info(d, SHA);
        let w: Vec<f32> = (0..3 * d).map(|i| ((i % 5) as f32 - 2.0) * 0.3).collect();
        let emo = LinearHead::new(
            "emotions",
            vec!["joy".into(), "anger".into(), "neutral".into()],
            vec!["en".into()],
            "emotions-test",
            Tensor::from_vec(w, (3, d), &Device::Cpu).unwrap(),
            Tensor::new(&[0.0f32, -1.0, 1.0], &Device::Cpu).unwrap(),
            1.0,
        )
        .unwrap()
        .with_kind(HeadKind::Sigmoid, Some(vec![0.4, 0.3, 0.5]))
        .unwrap();
        let tox = toxicity_head(d);
        assert_eq!(tox.kind, HeadKind::Binary);
        // kinds must fit the label count
        assert!(tox.clone().with_kind(HeadKind::Softmax, None).is_err());
        assert!(emo.clone().with_kind(HeadKind::Score, None).is_err());
        assert!(emo
            .clone()
            .with_kind(HeadKind::Sigmoid, Some(vec![0.5]))
            .is_err());
        write_set(dir.path(), &enc, &[&head(d), &emo, &tox]);
        let set = HeadSet::load(dir.path(), &enc, false).unwrap();
        let kinds: Vec<_> = set.heads().map(|h| (h.task.as_str(), h.kind)).collect();
        assert_eq!(
            kinds,
            vec![
                ("sentiment", HeadKind::Softmax),
                ("emotions", HeadKind::Sigmoid),
                ("toxicity", HeadKind::Binary)
            ]
        );
        let e = emb(2, d);
        let g = set.get("emotions").unwrap();
        assert_eq!(g.thresholds, Some(vec![0.4, 0.3, 0.5]));
        let p = g.probabilities(&e).unwrap();
        let z = g.logits(&e).unwrap().to_vec2::<f32>().unwrap();
        for (pr, zr) in p.iter().zip(&z) {
            for (pv, zv) in pr.iter().zip(zr) {
                // independent sigmoids, not a softmax
                assert!((pv - 1.0 / (1.0 + (-zv).exp())).abs() < 1e-6);
            }
        }
        assert!(p.iter().any(|r| (r.iter().sum::<f32>() - 1.0).abs() > 1e-3));
        let t = set.get("toxicity").unwrap().probabilities(&e).unwrap();
        assert_eq!(t[0].len(), 1);
        let json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("emotions/head.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(json["kind"], "sigmoid");
        // the sentiment head.json says softmax; one without the field (older files) still loads
        let sj = dir.path().join("sentiment/head.json");
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&sj).unwrap()).unwrap();
        v.as_object_mut().unwrap().remove("kind");
        std::fs::write(&sj, v.to_string()).unwrap();
        let set = HeadSet::load(dir.path(), &enc, false).unwrap();
        assert_eq!(set.sentiment().unwrap().kind, HeadKind::Softmax);
    }
    #[test]
    fn language_calibration_round_trips_and_applies_per_language() {
        let dir = tempfile::tempdir().unwrap();
        let d = 8;
        let enc = info(d, SHA);
        let tox = toxicity_head(d);
        let cal: BTreeMap<String, Vec<Platt>> =
            [("ru".to_string(), vec![Platt { a: 0.5, c: -1.0 }])].into();
        // a wrong label count or a non-finite value is refused
        assert!(tox
            .clone()
            .with_language_calibration(
                [("ru".to_string(), vec![Platt { a: 1.0, c: 0.0 }; 2])].into()
            )
            .is_err());
        assert!(head(d).with_language_calibration(cal.clone()).is_err());
        let nan = vec![
            Platt {
                a: f32::NAN,
                c: 0.0
            };
            3
        ];
        assert!(head(d)
            .with_language_calibration([("ru".to_string(), nan)].into())
            .is_err());
        let tox = tox.with_language_calibration(cal).unwrap();
        // softmax: a temperature (a) and a class-prior shift (c) per language
        let soft_cal = vec![
            Platt { a: 0.5, c: 1.0 },
            Platt { a: 0.5, c: 0.0 },
            Platt { a: 0.5, c: -1.0 },
        ];
        let sentiment = head(d)
            .with_language_calibration([("ru".to_string(), soft_cal)].into())
            .unwrap();
        write_set(dir.path(), &enc, &[&sentiment, &tox]);
        let set = HeadSet::load(dir.path(), &enc, false).unwrap();
        let t = set.get("toxicity").unwrap();
        assert_eq!(
            t.language_calibration["ru"],
            vec![Platt { a: 0.5, c: -1.0 }]
        );
        let e = emb(3, d);
        let p = t.probabilities(&e).unwrap();
        let z = t.logits(&e).unwrap().to_vec2::<f32>().unwrap();
        let en = t.probabilities_in(&e, "en").unwrap();
        let ru = t.probabilities_in(&e, "ru").unwrap();
        for i in 0..3 {
            assert_eq!(en[i], p[i]);
            let want = 1.0 / (1.0 + (-(0.5 * z[i][0] - 1.0)).exp());
            assert!((ru[i][0] - want).abs() < 1e-4, "{} vs {want}", ru[i][0]);
        }
        // softmax: softmax(0.5·ln p + c) for Russian, still a distribution; others untouched
        let sh = set.sentiment().unwrap();
        let s = sh.probabilities(&e).unwrap();
        let s_ru = sh.probabilities_in(&e, "ru").unwrap();
        for i in 0..3 {
            let z: Vec<f32> = s[i]
                .iter()
                .zip([1.0f32, 0.0, -1.0])
                .map(|(p, c)| 0.5 * p.ln() + c)
                .collect();
            let sum: f32 = z.iter().map(|v| v.exp()).sum();
            for j in 0..3 {
                assert!((s_ru[i][j] - z[j].exp() / sum).abs() < 1e-5);
            }
            assert!((s_ru[i].iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
        // the engine's per-head outputs, recalibrated per language
        let out = set.for_language(&[s[0].clone(), p[0].clone()], "ru");
        assert_eq!(out[0], s_ru[0]);
        assert!((out[1][0] - ru[0][0]).abs() < 1e-6);
        let de = set.for_language(&[s[0].clone(), p[0].clone()], "de");
        assert_eq!((&de[0], &de[1]), (&s[0], &p[0]));
    }

    #[test]
    fn language_thresholds_round_trip_and_fall_back_to_the_pooled_ones() {
        let dir = tempfile::tempdir().unwrap();
        let d = 8;
        let enc = info(d, SHA);
        let tox = toxicity_head(d)
            .with_kind(HeadKind::Binary, Some(vec![0.4]))
            .unwrap();
        // a wrong count or a value outside [0, 1] is refused, naming the language
        let err = (tox.clone())
            .with_language_thresholds([("ru".to_string(), vec![0.3, 0.5])].into())
            .unwrap_err();
        assert!(err.to_string().contains("language_thresholds[ru]"), "{err}");
        assert!((tox.clone())
            .with_language_thresholds([("ru".to_string(), vec![1.5])].into())
            .is_err());
        let tox = tox
            .with_language_thresholds([("ru".to_string(), vec![0.3])].into())
            .unwrap();
        tox.save(&dir.path().join("toxicity"), serde_json::Value::Null, &enc)
            .unwrap();
        let (t, _, _) = LinearHead::load(&dir.path().join("toxicity")).unwrap();
        assert_eq!(t.thresholds_for("ru"), Some(&[0.3f32][..]));
        assert_eq!(t.thresholds_for("en"), Some(&[0.4f32][..]));
        assert_eq!(t.thresholds_for("de"), Some(&[0.4f32][..]));
        assert_eq!(toxicity_head(d).thresholds_for("ru"), None);
    }
}
