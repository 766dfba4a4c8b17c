//! `rapport train --config models/adapter/train.toml`: one LoRA adapter on the top blocks of the
//! encoder, trained multi-task on the heads' own training data ([`crate::model::adapter`] merges
//! it into the weights at load time).
//!
//! Shaped for 2-core CPUs and sessions that end:
//! - Only the top `layers` blocks are adapted. The frozen blocks below are run once per run by
//!   the forward pass the server uses (int8 by default), and their token states are kept in
//!   memory; each step then goes forward and backward through the adapted blocks only (candle
//!   f32 autograd), on batches of similar lengths with `max_tokens` tokens at most.
//! - Every step takes a batch of one task and its own loss through that task's head. The heads
//!   start from the committed heads (B = 0, so with no adapter pinned step 0 is exactly the
//!   frozen model; with one pinned, its heads are only a starting point) and are trained along. Afterwards each head is retrained on the adapted embeddings by its own
//!   `train.toml` and the server still runs one forward pass for all heads.
//! - A checkpoint (adapter, heads, step) is written every `checkpoint_every` steps; a rerun of
//!   the same config resumes from it with the same batch order (the optimiser's moments
//!   restart).
//! - The dev sets of every task are scored before training and after each epoch; the best
//!   epoch's adapter is written, and the manifest pins it.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::config::TrainConfig;
use super::{metrics, source_seed, TrainArgs};
use crate::model::adapter::{update_name, Adapter, AdapterJson, AdapterPin, Updates, TARGETS};
use crate::model::heads::{HeadKind, LinearHead, Manifest};
use crate::model::{Encoder, EncoderOptions};
use crate::{Error, Result};

/// `models/adapter/train.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdapterConfig {
    /// Must be "adapter": the directory under the models directory it is written to.
    pub task: String,
    pub seed: u64,
    /// Heads whose `[[train]]` and `[[dev]]` data (models/<task>/train.toml, split exactly as
    /// the head's own training splits it) and loss the adapter is trained on.
    pub tasks: Vec<String>,
    /// How many of the top blocks are adapted.
    pub layers: usize,
    pub rank: usize,
    pub alpha: f64,
    /// Dense layers adapted in each block (see `crate::model::adapter::TARGETS`).
    pub targets: Vec<String>,
    pub max_tokens: usize,
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// Training texts per task per run (a seeded subsample of the task's training data).
    pub per_task: usize,
    /// Dev texts per task (seeded subsample of its dev data) for epoch selection.
    pub dev_per_task: usize,
    /// Draw `per_task` and `dev_per_task` evenly over a task's languages (a language with fewer
    /// texts gives all it has, the rest go to the others) instead of in proportion to the data:
    /// the heads' own selection scores weigh each language the same.
    #[serde(default)]
    pub balance_languages: bool,
    /// Start from the adapter the manifest pins (same layers, rank, alpha and targets) instead
    /// of B = 0, so a run continues the served adapter on its own draw of the data; the heads
    /// start from the committed heads either way. Dev before training is then the pinned
    /// adapter's, and only an epoch that beats it is written.
    #[serde(default)]
    pub warm_start: bool,
    pub epochs: usize,
    pub batch_size: usize,
    /// Peak learning rate of the adapter (linear warm-up, then linear decay to 0).
    pub lr: f64,
    /// Learning rate of the task heads trained along.
    pub head_lr: f64,
    #[serde(default)]
    pub warmup_steps: usize,
    pub checkpoint_every: usize,
}

fn default_prefix() -> String {
    "query: ".into()
}

/// Whether `path` is an adapter config (`task = "adapter"`) rather than a head's.
pub fn is_adapter_config(path: &Path) -> Result<bool> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let v: toml::Value = toml::from_str(&text)
        .map_err(|e| Error::invalid("config", format!("{}: {e}", path.display())))?;
    Ok(v.get("task").and_then(|t| t.as_str()) == Some("adapter"))
}

impl AdapterConfig {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let cfg: AdapterConfig = toml::from_str(&text)
            .map_err(|e| Error::invalid("config", format!("{}: {e}", path.display())))?;
        let bad = |m: String| Err(Error::invalid("config", format!("{}: {m}", path.display())));
        if cfg.tasks.is_empty() || cfg.targets.is_empty() {
            return bad("tasks and targets must not be empty".into());
        }
        if let Some(t) = cfg.targets.iter().find(|t| !TARGETS.contains(&t.as_str())) {
            return bad(format!("unknown target {t:?} (known: {TARGETS:?})"));
        }
        if cfg.layers == 0 || cfg.rank == 0 || cfg.batch_size == 0 || cfg.checkpoint_every == 0 {
            return bad("layers, rank, batch_size and checkpoint_every must be positive".into());
        }
        Ok(cfg)
    }

    /// Identifies a run: checkpoints are only resumed by the same config.
    fn hash(&self) -> String {
        let text = serde_json::to_string(self).expect("config serialises");
        hex::encode(Sha256::digest(text.as_bytes()))[..16].to_string()
    }
}

/// One training or dev text of a task, with its targets.
struct Sample {
    text: String,
    y: Vec<f32>,
    mask: Vec<bool>,
    weight: f32,
}

/// A task's data, its head and how its loss is computed.
struct Task {
    name: String,
    kind: HeadKind,
    labels: Vec<String>,
    train: Vec<Sample>,
    dev: Vec<Sample>,
    /// softmax: per-class weights; sigmoid kinds: per-label weights of the positive term.
    class_weights: Vec<f32>,
}

fn read_task(
    name: &str,
    models_dir: &Path,
    roots: &super::config::Roots,
    cfg: &AdapterConfig,
) -> Result<Task> {
    let tcfg = TrainConfig::load(&models_dir.join(name).join("train.toml"))?;
    // (language, sample) until the draw below
    let (mut train, mut dev) = (Vec::new(), Vec::new());
    let k = tcfg.labels.len();
    if tcfg.kind.is_sigmoid() {
        let (tr, dv, _) = super::sigmoid::prepare(&tcfg, roots)?;
        for p in tr {
            let w = p.weight as f32;
            train.extend(p.items.into_iter().map(|i| {
                let s = Sample {
                    text: i.text,
                    y: i.y,
                    mask: i.mask,
                    weight: w,
                };
                (p.lang.clone(), s)
            }));
        }
        for p in dv {
            dev.extend(p.items.into_iter().map(|i| {
                let s = Sample {
                    text: i.text,
                    y: i.y,
                    mask: i.mask,
                    weight: 1.0,
                };
                (p.lang.clone(), s)
            }));
        }
    } else {
        let (tr, dv, _) = super::prepare_softmax(&tcfg, roots)?;
        let one_hot = |label: usize| (0..k).map(|c| f32::from(c == label)).collect();
        for (s, ex) in tr {
            train.extend(ex.into_iter().map(|e| {
                let sample = Sample {
                    text: e.text,
                    y: one_hot(e.label),
                    mask: vec![true; k],
                    weight: s.weight as f32,
                };
                (s.lang.clone(), sample)
            }));
        }
        for (_, lang, ex) in dv {
            dev.extend(ex.into_iter().map(|e| {
                let s = Sample {
                    text: e.text,
                    y: one_hot(e.label),
                    mask: vec![true; k],
                    weight: 1.0,
                };
                (lang.clone(), s)
            }));
        }
    }
    let seed = source_seed(cfg.seed, name);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let train = draw(train, cfg.per_task, cfg.balance_languages, &mut rng);
    let dev = draw(dev, cfg.dev_per_task, cfg.balance_languages, &mut rng);
    if train.is_empty() || dev.is_empty() {
        return Err(Error::invalid(
            "tasks",
            format!("{name}: no training or dev data"),
        ));
    }
    let class_weights = class_weights(tcfg.kind, &train, k);
    Ok(Task {
        name: name.to_string(),
        kind: tcfg.kind,
        labels: tcfg.labels,
        train,
        dev,
        class_weights,
    })
}

/// A seeded draw of `n` of `items`: uniform, or (`balance`) evenly over their languages, a
/// language with fewer than its share giving all it has and the rest going to the others.
fn draw<T>(
    mut items: Vec<(String, T)>,
    n: usize,
    balance: bool,
    rng: &mut rand::rngs::StdRng,
) -> Vec<T> {
    items.shuffle(rng);
    if !balance {
        return items.into_iter().take(n).map(|(_, t)| t).collect();
    }
    let mut by_lang: BTreeMap<String, Vec<T>> = BTreeMap::new();
    for (lang, t) in items {
        by_lang.entry(lang).or_default().push(t);
    }
    // smallest language first, so what it cannot fill passes to the larger ones
    let mut groups: Vec<Vec<T>> = by_lang.into_values().collect();
    groups.sort_by_key(Vec::len);
    let (mut left, langs) = (n, groups.len());
    let mut out = Vec::new();
    for (i, mut g) in groups.into_iter().enumerate() {
        let take = g.len().min(left / (langs - i));
        g.truncate(take);
        left -= take;
        out.extend(g);
    }
    out.shuffle(rng);
    out
}

/// Softmax: `n / (k · n_c)`, capped at 20 (balanced classes). Sigmoid and binary: negatives /
/// positives per label, in [1, 20] (the positive term weighs as much as the negatives). Score
/// (soft targets): 1.
fn class_weights(kind: HeadKind, train: &[Sample], k: usize) -> Vec<f32> {
    let mut pos = vec![0f64; k];
    let mut obs = vec![0f64; k];
    for s in train {
        for c in 0..k {
            if s.mask[c] {
                obs[c] += 1.0;
                pos[c] += f64::from(s.y[c]);
            }
        }
    }
    match kind {
        HeadKind::Softmax => {
            let n = train.len() as f64;
            pos.iter()
                .map(|&p| (n / (k as f64 * p.max(1.0))).min(20.0) as f32)
                .collect()
        }
        HeadKind::Score => vec![1.0; k],
        _ => pos
            .iter()
            .zip(&obs)
            .map(|(&p, &o)| ((o - p) / p.max(1.0)).clamp(1.0, 20.0) as f32)
            .collect(),
    }
}

/// Token states of the frozen blocks for a list of texts: `[tokens][hidden]` per text.
struct States {
    hidden: usize,
    data: Vec<f32>,
    /// (offset in tokens, length) of each text.
    spans: Vec<(usize, usize)>,
    /// Each text's lexical cues `[n, cues::LEN]` where the task's head reads them.
    cues: Option<Tensor>,
}

impl States {
    fn compute(enc: &Encoder, texts: &[&str], layers: usize, cues: bool) -> Result<States> {
        let cpu = enc.cpu_model().ok_or_else(|| {
            Error::invalid(
                "precision",
                "adapter training runs the frozen blocks on the CPU forward pass: use --precision int8 or f32",
            )
        })?;
        let hidden = enc.info().hidden_size;
        let toks: Vec<Vec<u32>> = texts
            .iter()
            .map(|t| enc.tokenize(t).map(|t| t.ids))
            .collect::<Result<_>>()?;
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| toks[i].len());
        let total: usize = toks.iter().map(Vec::len).sum();
        let mut spans = vec![(0, 0); texts.len()];
        let mut off = 0;
        for &i in &order {
            spans[i] = (off, toks[i].len());
            off += toks[i].len();
        }
        let mut data = vec![0f32; total * hidden];
        for chunk in order.chunks(64) {
            let seqs: Vec<&[u32]> = chunk.iter().map(|&i| toks[i].as_slice()).collect();
            let out = cpu.hidden_states(&seqs, layers);
            let start = spans[chunk[0]].0 * hidden;
            data[start..start + out.len()].copy_from_slice(&out);
        }
        let cues = cues.then(|| super::sigmoid::cue_rows(texts)).transpose()?;
        Ok(States {
            hidden,
            data,
            spans,
            cues,
        })
    }

    fn len(&self, i: usize) -> usize {
        self.spans[i].1
    }

    /// `[b, t, hidden]` states of `idx` padded to the longest, and the `[b, t]` mask, on `device`.
    fn batch(&self, idx: &[usize], device: &Device) -> Result<(Tensor, Tensor)> {
        let h = self.hidden;
        let t = idx.iter().map(|&i| self.len(i)).max().unwrap_or(1);
        let mut x = vec![0f32; idx.len() * t * h];
        let mut m = vec![0f32; idx.len() * t];
        for (r, &i) in idx.iter().enumerate() {
            let (off, len) = self.spans[i];
            x[r * t * h..(r * t + len) * h].copy_from_slice(&self.data[off * h..(off + len) * h]);
            m[r * t..r * t + len].fill(1.0);
        }
        Ok((
            Tensor::from_vec(x, (idx.len(), t, h), device)?,
            Tensor::from_vec(m, (idx.len(), t), device)?,
        ))
    }

    /// `[b, cues::LEN]` cues of `idx` on `device`, or None where the head reads none.
    fn cue_batch(&self, idx: &[usize], device: &Device) -> Result<Option<Tensor>> {
        let Some(cues) = &self.cues else {
            return Ok(None);
        };
        let rows: Vec<u32> = idx.iter().map(|&i| i as u32).collect();
        let rows = Tensor::from_vec(rows, idx.len(), &Device::Cpu)?;
        Ok(Some(cues.index_select(&rows, 0)?.to_device(device)?))
    }
}

/// `x Wᵀ` for a frozen `W`: candle's matmul backward also computes the gradient of its right
/// side, which for a frozen weight is a third of the step's work thrown away; this op only
/// passes the gradient on to `x`.
struct FrozenMatmul {
    /// `[out, in]`
    w: Tensor,
    /// `[in, out]`
    wt: Tensor,
}

impl candle_core::CustomOp1 for FrozenMatmul {
    fn name(&self) -> &'static str {
        "frozen-matmul"
    }

    fn cpu_fwd(
        &self,
        storage: &candle_core::CpuStorage,
        layout: &candle_core::Layout,
    ) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
        let (n, k) = layout.shape().dims2()?;
        let (candle_core::CpuStorage::F32(x), Some((a, b))) =
            (storage, layout.contiguous_offsets())
        else {
            candle_core::bail!("frozen-matmul takes a contiguous f32 matrix");
        };
        let y = Tensor::from_slice(&x[a..b], (n, k), &Device::Cpu)?.matmul(&self.wt)?;
        let out = y.dim(1)?;
        Ok((
            candle_core::CpuStorage::F32(y.flatten_all()?.to_vec1::<f32>()?),
            (n, out).into(),
        ))
    }

    fn bwd(
        &self,
        _arg: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(grad.matmul(&self.w)?))
    }
}

/// `x Wᵀ` for a frozen `W` on the training device.
enum Frozen {
    /// CPU: [`FrozenMatmul`], which skips the weight's gradient.
    Cpu(std::sync::Arc<Box<dyn candle_core::CustomOp1 + Send + Sync>>),
    /// Other devices (CUDA): candle's own matmul on `Wᵀ` `[in, out]`; its backward also computes
    /// the unused weight gradient, which a GPU affords better than a custom kernel per device.
    Plain(Tensor),
}

impl Frozen {
    fn new(w: Tensor, device: &Device) -> Result<Frozen> {
        let wt = w.t()?.contiguous()?;
        Ok(if device.is_cpu() {
            Frozen::Cpu(std::sync::Arc::new(Box::new(FrozenMatmul { wt, w })))
        } else {
            Frozen::Plain(wt.to_device(device)?)
        })
    }

    fn apply(&self, x: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Frozen::Cpu(op) => x.contiguous()?.apply_op1_arc(op.clone())?,
            Frozen::Plain(wt) => x.matmul(wt)?,
        })
    }
}

/// A frozen dense layer (`x Wᵀ + b`) with its trainable low-rank update `scale · x Aᵀ Bᵀ`
/// (A `[rank, in]`, B `[out, rank]`, kept transposed as vars).
struct Dense {
    frozen: Frozen,
    b: Tensor,
    lora: Option<(Var, Var)>,
}

impl Dense {
    fn forward(&self, x: &Tensor, scale: f64) -> Result<Tensor> {
        let y = self.frozen.apply(x)?.broadcast_add(&self.b)?;
        Ok(match &self.lora {
            Some((at, bt)) => (y + (x.matmul(at.as_tensor())?.matmul(bt.as_tensor())? * scale)?)?,
            None => y,
        })
    }
}

struct Block {
    q: Dense,
    k: Dense,
    v: Dense,
    o: Dense,
    ln1: (Tensor, Tensor),
    i: Dense,
    out: Dense,
    ln2: (Tensor, Tensor),
}

/// The adapted top blocks plus one head per task.
struct Model {
    blocks: Vec<Block>,
    /// Index of the first adapted block.
    first: usize,
    heads: usize,
    eps: f64,
    scale: f64,
    /// (W `[k, hidden]`, b `[k]`) per task.
    task_heads: Vec<(Var, Var)>,
    /// Where the adapted blocks and the heads train.
    device: Device,
}

impl Model {
    fn build(
        weights: &HashMap<String, Tensor>,
        n_layers: usize,
        cfg: &AdapterConfig,
        heads: usize,
        eps: f64,
        task_heads: Vec<(Var, Var)>,
        device: &Device,
    ) -> Result<Model> {
        let first = n_layers.checked_sub(cfg.layers).ok_or_else(|| {
            Error::invalid(
                "layers",
                format!("{} adapted blocks, the encoder has {n_layers}", cfg.layers),
            )
        })?;
        let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.seed);
        let get = |name: &str| -> Result<Tensor> {
            weights
                .get(name)
                .cloned()
                .ok_or_else(|| Error::model(format!("encoder has no tensor {name}")))
        };
        let mut blocks = Vec::new();
        for l in first..n_layers {
            let mut dense = |target: &str| -> Result<Dense> {
                let w = get(&format!("encoder.layer.{l}.{target}.weight"))?;
                let b = get(&format!("encoder.layer.{l}.{target}.bias"))?.to_device(device)?;
                let (out, inp) = w.dims2()?;
                let lora = if cfg.targets.iter().any(|t| t == target) {
                    // A: small random (Kaiming-like), B: zero, so the update starts at 0.
                    let std = 1.0 / (inp as f32).sqrt();
                    let a: Vec<f32> = (0..inp * cfg.rank)
                        .map(|_| (rng.random::<f32>() * 2.0 - 1.0) * std * 3f32.sqrt())
                        .collect();
                    let at = Var::from_tensor(&Tensor::from_vec(a, (inp, cfg.rank), device)?)?;
                    let bt = Var::zeros((cfg.rank, out), DType::F32, device)?;
                    Some((at, bt))
                } else {
                    None
                };
                Ok(Dense {
                    frozen: Frozen::new(w, device)?,
                    b,
                    lora,
                })
            };
            let q = dense("attention.self.query")?;
            let k = dense("attention.self.key")?;
            let v = dense("attention.self.value")?;
            let o = dense("attention.output.dense")?;
            let i = dense("intermediate.dense")?;
            let out = dense("output.dense")?;
            let ln = |p: &str| -> Result<(Tensor, Tensor)> {
                Ok((
                    get(&format!("encoder.layer.{l}.{p}.LayerNorm.weight"))?.to_device(device)?,
                    get(&format!("encoder.layer.{l}.{p}.LayerNorm.bias"))?.to_device(device)?,
                ))
            };
            blocks.push(Block {
                q,
                k,
                v,
                o,
                ln1: ln("attention.output")?,
                i,
                out,
                ln2: ln("output")?,
            });
        }
        Ok(Model {
            blocks,
            first,
            heads,
            eps,
            scale: cfg.alpha / cfg.rank as f64,
            task_heads,
            device: device.clone(),
        })
    }

    /// Each adapted dense layer's (A^T, B^T) under its update name, block by block in
    /// `TARGETS` order: the one walk that vars, checkpoints, saves and warm starts share.
    fn adapted(&self) -> impl Iterator<Item = (String, &(Var, Var))> + '_ {
        self.blocks.iter().enumerate().flat_map(move |(bi, b)| {
            TARGETS
                .iter()
                .zip([&b.q, &b.k, &b.v, &b.o, &b.i, &b.out])
                .filter_map(move |(t, d)| {
                    d.lora
                        .as_ref()
                        .map(|lora| (update_name(self.first + bi, t), lora))
                })
        })
    }

    fn lora_vars(&self) -> Vec<Var> {
        self.adapted()
            .flat_map(|(_, (a, b))| [a.clone(), b.clone()])
            .collect()
    }

    fn head_vars(&self) -> Vec<Var> {
        self.task_heads
            .iter()
            .flat_map(|(w, b)| [w.clone(), b.clone()])
            .collect()
    }

    /// Every var under a stable name, for checkpoints.
    fn named_vars(&self) -> Vec<(String, Var)> {
        let mut out = Vec::new();
        for (name, (a, bb)) in self.adapted() {
            out.push((format!("{name}.at"), a.clone()));
            out.push((format!("{name}.bt"), bb.clone()));
        }
        for (i, (w, b)) in self.task_heads.iter().enumerate() {
            out.push((format!("head.{i}.weight"), w.clone()));
            out.push((format!("head.{i}.bias"), b.clone()));
        }
        out
    }

    /// Mean-pooled, L2-normalised embeddings `[b, hidden]` of frozen states `x` `[b, t, hidden]`.
    fn embed(&self, x: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (b, t, h) = x.dims3()?;
        let nh = self.heads;
        let d = h / nh;
        // 0 where attended, a large negative where padded: [b, 1, 1, t].
        let bias = ((mask.ones_like()? - mask)? * -1e4)?.reshape((b, 1, 1, t))?;
        let mut x = x.reshape((b * t, h))?;
        for blk in &self.blocks {
            let split = |y: Tensor| -> Result<Tensor> {
                Ok(y.reshape((b, t, nh, d))?.transpose(1, 2)?.contiguous()?)
            };
            let q = split(blk.q.forward(&x, self.scale)?)?;
            let k = split(blk.k.forward(&x, self.scale)?)?;
            let v = split(blk.v.forward(&x, self.scale)?)?;
            let scores = (q.matmul(&k.transpose(2, 3)?.contiguous()?)? / (d as f64).sqrt())?
                .broadcast_add(&bias)?;
            let p = candle_nn::ops::softmax(&scores, D::Minus1)?;
            let ctx = p
                .matmul(&v)?
                .transpose(1, 2)?
                .contiguous()?
                .reshape((b * t, h))?;
            let a = blk.o.forward(&ctx, self.scale)?;
            x = self.add_norm(a, &x, &blk.ln1)?;
            let inter = blk.i.forward(&x, self.scale)?.gelu_erf()?;
            let o = blk.out.forward(&inter, self.scale)?;
            x = self.add_norm(o, &x, &blk.ln2)?;
        }
        let x = x.reshape((b, t, h))?;
        let m = mask.unsqueeze(2)?;
        let mean = x.broadcast_mul(&m)?.sum(1)?.broadcast_div(&m.sum(1)?)?;
        let norm = mean
            .sqr()?
            .sum_keepdim(1)?
            .sqrt()?
            .clamp(1e-12f32, f32::MAX)?;
        Ok(mean.broadcast_div(&norm)?)
    }

    /// `LN(y + x)`: the residual add and layer norm closing each half of a block.
    fn add_norm(&self, y: Tensor, x: &Tensor, ln: &(Tensor, Tensor)) -> Result<Tensor> {
        Ok(candle_nn::ops::layer_norm_slow(
            &(y + x)?,
            &ln.0,
            &ln.1,
            self.eps as f32,
        )?)
    }

    /// Task `task`'s logits of `emb`, with the batch's cues appended where its head reads them
    /// (the input `LinearHead::input` builds when serving).
    fn logits(&self, task: usize, emb: &Tensor, cues: Option<&Tensor>) -> Result<Tensor> {
        let (w, b) = &self.task_heads[task];
        let input = match cues {
            Some(c) => Tensor::cat(&[emb, c], 1)?,
            None => emb.clone(),
        };
        Ok(input
            .matmul(&w.as_tensor().t()?)?
            .broadcast_add(b.as_tensor())?)
    }

    /// Sets the low-rank updates from a saved adapter, which must adapt exactly these blocks and
    /// targets with the same rank and alpha (the inverse of `updates`).
    fn start_from(&self, meta: &AdapterJson, updates: &Updates) -> Result<()> {
        let layers: Vec<usize> = (self.first..self.first + self.blocks.len()).collect();
        let rank = self.adapted().next().map_or(0, |(_, (a, _))| a.dims()[1]);
        let scale = meta.alpha / meta.rank as f64;
        if meta.layers != layers || meta.rank != rank || (scale - self.scale).abs() > 1e-12 {
            return Err(Error::invalid(
                "warm_start",
                format!(
                    "the pinned adapter {} adapts layers {:?} at rank {} (scale {scale}); this config adapts {layers:?} at rank {rank} (scale {})",
                    meta.version, meta.layers, meta.rank, self.scale
                ),
            ));
        }
        let differ = |what: String| {
            Error::invalid(
                "warm_start",
                format!("the pinned adapter {} {what}", meta.version),
            )
        };
        let mut used = 0;
        for (name, (at, bt)) in self.adapted() {
            let (a, b) = updates.get(&name).ok_or_else(|| {
                differ(format!(
                    "has no update for {name}, which this config adapts"
                ))
            })?;
            at.set(&a.t()?.contiguous()?.to_device(&self.device)?)?;
            bt.set(&b.t()?.contiguous()?.to_device(&self.device)?)?;
            used += 1;
        }
        // Targets the pinned adapter has and this config does not (its layers are the same).
        if used != updates.len() {
            return Err(differ(format!(
                "holds {} updates, this config adapts {used}",
                updates.len()
            )));
        }
        Ok(())
    }

    /// The low-rank updates as the adapter file stores them: A `[rank, in]`, B `[out, rank]`.
    fn updates(&self) -> Result<Updates> {
        let mut out = BTreeMap::new();
        for (name, (at, bt)) in self.adapted() {
            out.insert(
                name,
                (
                    at.as_tensor().t()?.contiguous()?,
                    bt.as_tensor().t()?.contiguous()?,
                ),
            );
        }
        Ok(out)
    }
}

/// The loss of a batch of task `t`: weighted cross-entropy (softmax) or weighted, masked binary
/// cross-entropy (the sigmoid kinds), averaged over the batch.
fn loss(task: &Task, logits: &Tensor, idx: &[usize]) -> Result<Tensor> {
    let k = task.labels.len();
    let b = idx.len();
    let dev = logits.device();
    let y: Vec<f32> = idx.iter().flat_map(|&i| task.train[i].y.clone()).collect();
    let y = Tensor::from_vec(y, (b, k), dev)?;
    let sw: Vec<f32> = idx.iter().map(|&i| task.train[i].weight).collect();
    let sw = Tensor::from_vec(sw, (b, 1), dev)?;
    let cw = Tensor::from_vec(task.class_weights.clone(), (1, k), dev)?;
    let per_cell = match task.kind {
        HeadKind::Softmax => {
            let logp = candle_nn::ops::log_softmax(logits, D::Minus1)?;
            (logp * y.broadcast_mul(&cw)?)?.neg()?
        }
        _ => {
            // -(w·y·log σ(z) + (1 - y)·log(1 - σ(z))), with log σ(z) = -softplus(-z).
            let m: Vec<f32> = idx
                .iter()
                .flat_map(|&i| task.train[i].mask.iter().map(|&o| f32::from(o)))
                .collect();
            let m = Tensor::from_vec(m, (b, k), dev)?;
            let log_p = softplus(&logits.neg()?)?.neg()?;
            let log_q = softplus(logits)?.neg()?;
            let pos = (y.broadcast_mul(&cw)? * log_p)?;
            let neg = (y.ones_like()? - &y)? * log_q;
            ((pos + neg?)? * m)?.neg()?
        }
    };
    let per_row = per_cell.sum_keepdim(1)?.broadcast_mul(&sw)?;
    Ok((per_row.sum_all()? / b as f64)?)
}

/// `log(1 + e^x)`, stable: `max(x, 0) + log(1 + e^-|x|)`.
fn softplus(x: &Tensor) -> Result<Tensor> {
    Ok((x.relu()? + (x.abs()?.neg()?.exp()? + 1.0)?.log()?)?)
}

/// The dev metric of a task from its outputs: macro-F1 (softmax: argmax; sigmoid: at 0.5, over
/// observed cells), F1 of the positive label (binary), Spearman (score).
fn dev_metric(task: &Task, probs: &[Vec<f32>]) -> f64 {
    let k = task.labels.len();
    match task.kind {
        HeadKind::Softmax => {
            let yt: Vec<usize> = task.dev.iter().map(|s| metrics::argmax(&s.y).0).collect();
            let yp: Vec<usize> = probs.iter().map(|p| metrics::argmax(p).0).collect();
            metrics::macro_f1(&yt, &yp, k)
        }
        HeadKind::Score => {
            let g: Vec<f64> = task.dev.iter().map(|s| f64::from(s.y[0])).collect();
            let p: Vec<f64> = probs.iter().map(|p| f64::from(p[0])).collect();
            metrics::spearman(&g, &p)
        }
        _ => {
            let mut f1 = Vec::new();
            for c in 0..k {
                let (mut tp, mut fp, mut fn_) = (0, 0, 0);
                for (s, p) in task.dev.iter().zip(probs) {
                    if !s.mask[c] {
                        continue;
                    }
                    match (s.y[c] >= 0.5, p[c] >= 0.5) {
                        (true, true) => tp += 1,
                        (false, true) => fp += 1,
                        (true, false) => fn_ += 1,
                        _ => {}
                    }
                }
                if tp + fn_ > 0 {
                    f1.push(metrics::f1_counts(tp, fp, fn_));
                }
            }
            f1.iter().sum::<f64>() / f1.len().max(1) as f64
        }
    }
}

/// Scores every task's dev set; returns per-task metrics and their mean.
fn evaluate(model: &Model, tasks: &[Task], dev: &[States]) -> Result<(BTreeMap<String, f64>, f64)> {
    let mut out = BTreeMap::new();
    for (ti, (task, states)) in tasks.iter().zip(dev).enumerate() {
        let mut order: Vec<usize> = (0..task.dev.len()).collect();
        order.sort_by_key(|&i| states.len(i));
        let mut probs = vec![Vec::new(); task.dev.len()];
        for chunk in order.chunks(64) {
            let (x, m) = states.batch(chunk, &model.device)?;
            let c = states.cue_batch(chunk, &model.device)?;
            let z = model
                .logits(ti, &model.embed(&x, &m)?, c.as_ref())?
                .detach();
            let p = match task.kind {
                HeadKind::Softmax => candle_nn::ops::softmax(&z, D::Minus1)?,
                _ => candle_nn::ops::sigmoid(&z)?,
            };
            for (&i, row) in chunk.iter().zip(p.to_vec2::<f32>()?) {
                probs[i] = row;
            }
        }
        out.insert(task.name.clone(), dev_metric(task, &probs));
    }
    let mean = out.values().sum::<f64>() / out.len().max(1) as f64;
    Ok((out, mean))
}

/// The batches of one epoch, as (task, sample indices): each task's samples shuffled, cut into
/// runs of 16 batches that are sorted by length (little padding), then all batches shuffled.
fn epoch_batches(
    tasks: &[Task],
    states: &[States],
    cfg: &AdapterConfig,
    epoch: usize,
) -> Vec<(usize, Vec<usize>)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.seed ^ ((epoch as u64 + 1) * 0x9e37_79b9));
    let mut out = Vec::new();
    for (ti, task) in tasks.iter().enumerate() {
        let mut idx: Vec<usize> = (0..task.train.len()).collect();
        idx.shuffle(&mut rng);
        for run in idx.chunks(cfg.batch_size * 16) {
            let mut run = run.to_vec();
            run.sort_by_key(|&i| states[ti].len(i));
            out.extend(run.chunks(cfg.batch_size).map(|c| (ti, c.to_vec())));
        }
    }
    out.shuffle(&mut rng);
    out
}

fn checkpoint_dir(cfg: &AdapterConfig) -> PathBuf {
    super::home_cache("adapter-checkpoints").join(cfg.hash())
}

#[derive(Serialize, Deserialize)]
struct CheckpointJson {
    /// Steps done in total (over epochs).
    step: usize,
    /// Dev results so far, per epoch (0 = before training).
    dev: Vec<BTreeMap<String, f64>>,
    best_epoch: usize,
}

fn save_checkpoint(
    dir: &Path,
    model: &Model,
    meta: &CheckpointJson,
    best: Option<&Updates>,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut t: HashMap<String, Tensor> = model
        .named_vars()
        .into_iter()
        .map(|(n, v)| (n, v.as_tensor().clone()))
        .collect();
    if let Some(best) = best {
        for (n, (a, b)) in best {
            t.insert(format!("best.{n}.lora_a"), a.clone());
            t.insert(format!("best.{n}.lora_b"), b.clone());
        }
    }
    let tmp = dir.join("checkpoint.safetensors.tmp");
    candle_core::safetensors::save(&t, &tmp)?;
    std::fs::rename(&tmp, dir.join("checkpoint.safetensors")).map_err(|e| Error::io(dir, e))?;
    crate::model::heads::write_json(
        &dir.join("checkpoint.json"),
        &serde_json::to_value(meta).expect("checkpoint json"),
    )
}

/// Restores vars (and the best adapter so far) from a checkpoint; `None` when there is none.
fn load_checkpoint(dir: &Path, model: &Model) -> Result<Option<(CheckpointJson, Option<Updates>)>> {
    let (wpath, jpath) = (
        dir.join("checkpoint.safetensors"),
        dir.join("checkpoint.json"),
    );
    if !wpath.is_file() || !jpath.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&jpath).map_err(|e| Error::io(&jpath, e))?;
    let meta: CheckpointJson = serde_json::from_str(&text)
        .map_err(|e| Error::model(format!("{}: {e}", jpath.display())))?;
    let mut t = candle_core::safetensors::load(&wpath, &model.device)?;
    for (name, var) in model.named_vars() {
        let v = t
            .remove(&name)
            .ok_or_else(|| Error::model(format!("{}: missing {name}", wpath.display())))?;
        var.set(&v)?;
    }
    let mut best = BTreeMap::new();
    let names: Vec<String> = t
        .keys()
        .filter(|k| k.ends_with(".lora_a"))
        .cloned()
        .collect();
    for a_name in names {
        let base = a_name
            .trim_start_matches("best.")
            .trim_end_matches(".lora_a")
            .to_string();
        let a = t.remove(&a_name).expect("listed");
        let b = t.remove(&format!("best.{base}.lora_b")).ok_or_else(|| {
            Error::model(format!("{}: missing best.{base}.lora_b", wpath.display()))
        })?;
        best.insert(base, (a, b));
    }
    Ok(Some((meta, (!best.is_empty()).then_some(best))))
}

pub fn train(args: &TrainArgs) -> Result<()> {
    let t_all = Instant::now();
    let mut cfg = AdapterConfig::load(&args.config)?;
    if let Some(s) = args.seed {
        cfg.seed = s;
    }
    if cfg.task != "adapter" {
        return Err(Error::invalid(
            "task",
            "an adapter config has task = \"adapter\"",
        ));
    }
    let roots = args.sources.roots();
    let models_dir = &args.output;

    // ---- data first: fail fast on a missing corpus
    let mut tasks = Vec::new();
    for name in &cfg.tasks {
        let t = read_task(name, models_dir, &roots, &cfg)?;
        tracing::info!(task = %name, train = t.train.len(), dev = t.dev.len(), "read");
        tasks.push(t);
    }

    // ---- the base encoder (no adapter) for the frozen blocks, always on the CPU forward pass,
    // and the f32 weights above them, on the training device
    let device = args.sources.device.device()?;
    let source = super::model_source(&args.sources.model)?;
    let enc = Encoder::load(
        &source,
        &EncoderOptions {
            device: Device::Cpu,
            max_tokens: cfg.max_tokens,
            prefix: cfg.prefix.clone(),
            precision: args.sources.precision,
            adapter: None,
        },
    )?;
    let cpu = enc.cpu_model().ok_or_else(|| {
        Error::invalid(
            "precision",
            "adapter training needs --precision int8 or f32",
        )
    })?;
    let dims = cpu.dims().clone();
    let (weights, sha) = crate::model::encoder::block_weights(&source)?;
    if sha != enc.info().sha256 {
        return Err(Error::model("the encoder's weights changed while loading"));
    }
    let frozen = dims.layers.saturating_sub(cfg.layers);

    // ---- task heads, initialised from the committed heads
    let mut task_heads = Vec::new();
    let mut reads_cues = Vec::new();
    for t in &tasks {
        let (head, _, _) = LinearHead::load(&models_dir.join(&t.name))?;
        if head.labels != t.labels {
            return Err(Error::model(format!(
                "{}: head labels {:?} differ from train.toml's {:?}",
                t.name, head.labels, t.labels
            )));
        }
        reads_cues.push(head.cues);
        task_heads.push((
            Var::from_tensor(&head.weight().to_device(&device)?)?,
            Var::from_tensor(&head.bias().to_device(&device)?)?,
        ));
    }
    let model = Model::build(
        &weights,
        dims.layers,
        &cfg,
        dims.heads,
        f64::from(dims.eps),
        task_heads,
        &device,
    )?;
    drop(weights);
    if cfg.warm_start {
        let pinned = crate::model::adapter::pinned(models_dir)?.ok_or_else(|| {
            Error::invalid(
                "warm_start",
                format!("{} pins no adapter to start from", models_dir.display()),
            )
        })?;
        if !pinned
            .meta
            .encoder_sha256
            .eq_ignore_ascii_case(&enc.info().sha256)
        {
            return Err(Error::model(format!(
                "warm_start: the pinned adapter {} was trained on encoder {}, this one is {}",
                pinned.meta.version,
                pinned.meta.encoder_sha256,
                enc.info().sha256
            )));
        }
        model.start_from(&pinned.meta, &pinned.updates)?;
        tracing::info!(adapter = %pinned.meta.version, "warm start from the pinned adapter");
    }

    // ---- frozen states, once per run
    let t_states = Instant::now();
    let mut train_states = Vec::new();
    let mut dev_states = Vec::new();
    for (t, &cues) in tasks.iter().zip(&reads_cues) {
        let texts: Vec<&str> = t.train.iter().map(|s| s.text.as_str()).collect();
        train_states.push(States::compute(&enc, &texts, frozen, cues)?);
        let texts: Vec<&str> = t.dev.iter().map(|s| s.text.as_str()).collect();
        dev_states.push(States::compute(&enc, &texts, frozen, cues)?);
    }
    let tokens: usize = train_states.iter().map(|s| s.data.len() / s.hidden).sum();
    tracing::info!(
        frozen_blocks = frozen,
        train_tokens = tokens,
        secs = format!("{:.0}", t_states.elapsed().as_secs_f64()),
        "frozen states computed"
    );

    // ---- resume or start
    let ckpt = checkpoint_dir(&cfg);
    let (mut meta, mut best) = match load_checkpoint(&ckpt, &model)? {
        Some((m, best)) => {
            tracing::info!(dir = %ckpt.display(), step = m.step, "resuming from checkpoint");
            (m, best)
        }
        None => {
            let (dev, mean) = evaluate(&model, &tasks, &dev_states)?;
            tracing::info!(epoch = 0, mean = format!("{mean:.4}"), dev = ?dev, "dev before training");
            (
                CheckpointJson {
                    step: 0,
                    dev: vec![dev],
                    best_epoch: 0,
                },
                None,
            )
        }
    };
    let per_epoch: Vec<usize> = (0..cfg.epochs)
        .map(|e| epoch_batches(&tasks, &train_states, &cfg, e).len())
        .collect();
    let total_steps: usize = per_epoch.iter().sum();
    let lr_at = |step: usize, peak: f64| {
        if step < cfg.warmup_steps {
            peak * (step + 1) as f64 / cfg.warmup_steps as f64
        } else {
            peak * (total_steps - step) as f64 / (total_steps - cfg.warmup_steps).max(1) as f64
        }
    };
    let params = |lr| ParamsAdamW {
        lr,
        weight_decay: 0.0,
        ..ParamsAdamW::default()
    };
    let mut opt_lora = AdamW::new(model.lora_vars(), params(cfg.lr))?;
    let mut opt_head = AdamW::new(model.head_vars(), params(cfg.head_lr))?;
    let mean_of = |d: &BTreeMap<String, f64>| d.values().sum::<f64>() / d.len().max(1) as f64;

    let mut step0 = 0;
    for epoch in 0..cfg.epochs {
        let batches = epoch_batches(&tasks, &train_states, &cfg, epoch);
        let end = step0 + batches.len();
        if meta.step >= end {
            step0 = end;
            continue;
        }
        let t_epoch = Instant::now();
        let (mut run_loss, mut run_n, mut run_tok) = (0.0, 0usize, 0usize);
        let mut t_log = Instant::now();
        for (j, (ti, idx)) in batches.iter().enumerate() {
            let step = step0 + j;
            if step < meta.step {
                continue;
            }
            let (x, m) = train_states[*ti].batch(idx, &device)?;
            let c = train_states[*ti].cue_batch(idx, &device)?;
            let emb = model.embed(&x, &m)?;
            let l = loss(&tasks[*ti], &model.logits(*ti, &emb, c.as_ref())?, idx)?;
            let grads = l.backward()?;
            opt_lora.set_learning_rate(lr_at(step, cfg.lr));
            opt_head.set_learning_rate(lr_at(step, cfg.head_lr));
            opt_lora.step(&grads)?;
            opt_head.step(&grads)?;
            run_loss += f64::from(l.to_scalar::<f32>()?);
            run_n += 1;
            run_tok += x.dims()[0] * x.dims()[1];
            meta.step = step + 1;
            if meta.step % 50 == 0 {
                tracing::info!(
                    epoch = epoch + 1,
                    step = meta.step,
                    of = total_steps,
                    loss = format!("{:.4}", run_loss / run_n as f64),
                    tokens_per_s = format!("{:.0}", run_tok as f64 / t_log.elapsed().as_secs_f64()),
                    "training"
                );
                (run_loss, run_n, run_tok) = (0.0, 0, 0);
                t_log = Instant::now();
            }
            if meta.step % cfg.checkpoint_every == 0 {
                save_checkpoint(&ckpt, &model, &meta, best.as_ref())?;
            }
        }
        step0 = end;
        let (dev, mean) = evaluate(&model, &tasks, &dev_states)?;
        tracing::info!(
            epoch = epoch + 1,
            mean = format!("{mean:.4}"),
            dev = ?dev,
            secs = format!("{:.0}", t_epoch.elapsed().as_secs_f64()),
            "dev after epoch"
        );
        let best_mean = mean_of(&meta.dev[meta.best_epoch]);
        meta.dev.push(dev);
        if mean > best_mean {
            meta.best_epoch = epoch + 1;
            best = Some(model.updates()?);
        }
        save_checkpoint(&ckpt, &model, &meta, best.as_ref())?;
    }

    // ---- write the best adapter and pin it
    let Some(updates) = best else {
        return Err(Error::model(format!(
            "no epoch beat the frozen encoder on dev (mean {:.4}); no adapter written (dev per epoch: {:?})",
            mean_of(&meta.dev[0]),
            meta.dev
        )));
    };
    let version = format!(
        "adapter-{}-{}",
        super::today().replace('-', ""),
        &cfg.hash()[..8]
    );
    let mut extra = BTreeMap::new();
    extra.insert(
        "config".into(),
        serde_json::to_value(&cfg).expect("config json"),
    );
    extra.insert(
        "training".into(),
        serde_json::json!({
            "trained": super::today(),
            "frozen_blocks_precision": enc.info().precision,
            "tasks": tasks.iter().map(|t| serde_json::json!({
                "task": t.name, "train": t.train.len(), "dev": t.dev.len(),
                "class_weights": t.class_weights,
            })).collect::<Vec<_>>(),
            "steps": total_steps,
            "train_tokens_per_epoch": tokens,
            "seconds": t_all.elapsed().as_secs_f64().round(),
        }),
    );
    extra.insert(
        "dev".into(),
        serde_json::json!({
            "metric": "per task: macro-F1 (softmax argmax; sigmoid at 0.5), F1 (binary at 0.5), Spearman (score); heads trained along with the adapter",
            "per_epoch": meta.dev,
            "best_epoch": meta.best_epoch,
        }),
    );
    let adapter_meta = AdapterJson {
        version: version.clone(),
        rank: cfg.rank,
        alpha: cfg.alpha,
        layers: (frozen..dims.layers).collect(),
        targets: cfg.targets.clone(),
        encoder_sha256: enc.info().sha256.clone(),
        extra,
    };
    let dir = models_dir.join(&cfg.task);
    let sha = Adapter::save(&dir, &adapter_meta, &updates)?;
    let mut manifest = Manifest::load(models_dir)?;
    manifest.adapter = Some(AdapterPin {
        dir: cfg.task.clone(),
        sha256: sha.clone(),
    });
    manifest.save(models_dir)?;
    tracing::warn!(
        adapter = %version,
        sha256 = %sha,
        best_epoch = meta.best_epoch,
        "adapter written and pinned in the manifest: retrain every head on it (rapport train --config models/<task>/train.toml), they no longer match the encoder"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::cpu::{CpuBert, DenseMode, Dims, TensorSource};

    struct Src(HashMap<String, Tensor>);

    impl TensorSource for Src {
        fn get(&mut self, name: &str, len: usize) -> Result<Vec<f32>> {
            let v = self.0[name].flatten_all()?.to_vec1::<f32>()?;
            assert!(len == 0 || v.len() == len, "{name}");
            Ok(v)
        }
    }

    /// A random 3-block BERT (hidden 32, 4 heads) in HF naming.
    fn random_bert(seed: u64) -> (Dims, HashMap<String, Tensor>) {
        let dims = Dims {
            hidden: 32,
            layers: 3,
            heads: 4,
            ff: 64,
            vocab: 40,
            max_positions: 24,
            eps: 1e-12,
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut m = HashMap::new();
        let mut put = |name: String, shape: &[usize], base: f32, spread: f32| {
            let n: usize = shape.iter().product();
            let v: Vec<f32> = (0..n)
                .map(|_| base + (rng.random::<f32>() * 2.0 - 1.0) * spread)
                .collect();
            m.insert(name, Tensor::from_vec(v, shape, &Device::Cpu).unwrap());
        };
        let (h, ff) = (dims.hidden, dims.ff);
        put(
            "embeddings.word_embeddings.weight".into(),
            &[dims.vocab, h],
            0.0,
            1.0,
        );
        put(
            "embeddings.position_embeddings.weight".into(),
            &[dims.max_positions, h],
            0.0,
            0.3,
        );
        put(
            "embeddings.token_type_embeddings.weight".into(),
            &[2, h],
            0.0,
            0.1,
        );
        put("embeddings.LayerNorm.weight".into(), &[h], 1.0, 0.1);
        put("embeddings.LayerNorm.bias".into(), &[h], 0.0, 0.1);
        for l in 0..dims.layers {
            let p = format!("encoder.layer.{l}");
            for (t, out, inp) in [
                ("attention.self.query", h, h),
                ("attention.self.key", h, h),
                ("attention.self.value", h, h),
                ("attention.output.dense", h, h),
                ("intermediate.dense", ff, h),
                ("output.dense", h, ff),
            ] {
                put(format!("{p}.{t}.weight"), &[out, inp], 0.0, 0.3);
                put(format!("{p}.{t}.bias"), &[out], 0.0, 0.1);
            }
            for ln in ["attention.output", "output"] {
                put(format!("{p}.{ln}.LayerNorm.weight"), &[h], 1.0, 0.1);
                put(format!("{p}.{ln}.LayerNorm.bias"), &[h], 0.0, 0.1);
            }
        }
        (dims, m)
    }

    fn config(layers: usize) -> AdapterConfig {
        AdapterConfig {
            task: "adapter".into(),
            seed: 7,
            tasks: vec!["toy".into()],
            layers,
            rank: 4,
            alpha: 8.0,
            targets: TARGETS.iter().map(|t| t.to_string()).collect(),
            max_tokens: 24,
            prefix: String::new(),
            per_task: 100,
            dev_per_task: 10,
            balance_languages: false,
            warm_start: false,
            epochs: 1,
            batch_size: 4,
            lr: 1e-2,
            head_lr: 1e-2,
            warmup_steps: 0,
            checkpoint_every: 100,
        }
    }

    const SEQS: [&[u32]; 4] = [
        &[1, 5, 7, 2],
        &[1, 9, 3, 3, 8, 11, 2],
        &[1, 4, 2],
        &[1, 6, 6, 6, 2],
    ];

    fn states(cpu: &CpuBert, seqs: &[&[u32]], frozen: usize) -> States {
        let mut spans = Vec::new();
        let mut off = 0;
        for s in seqs {
            spans.push((off, s.len()));
            off += s.len();
        }
        States {
            hidden: cpu.dims().hidden,
            data: cpu.hidden_states(seqs, frozen),
            spans,
            cues: None,
        }
    }

    fn max_diff(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn adapted_blocks_match_the_packed_forward_pass_before_and_after_merging() {
        let (dims, map) = random_bert(1);
        let cpu = CpuBert::load(dims.clone(), &mut Src(map.clone()), None, DenseMode::F32).unwrap();
        let want = cpu.embed(&SEQS);
        let cfg = config(2);
        let model = Model::build(
            &map,
            dims.layers,
            &cfg,
            dims.heads,
            1e-12,
            vec![],
            &Device::Cpu,
        )
        .unwrap();
        let st = states(&cpu, &SEQS, 1);
        let (x, m) = st.batch(&[0, 1, 2, 3], &Device::Cpu).unwrap();
        let embed = |model: &Model| {
            model
                .embed(&x, &m)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        };
        // B = 0: the adapted blocks are the frozen ones, padding and all.
        let got = embed(&model);
        assert!(max_diff(&got, &want) < 1e-4, "{}", max_diff(&got, &want));

        // Random updates: the training forward pass equals the merged weights' forward pass.
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for (_, bt) in model
            .named_vars()
            .iter()
            .filter(|(n, _)| n.ends_with(".bt"))
        {
            let (r, out) = bt.as_tensor().dims2().unwrap();
            let v: Vec<f32> = (0..r * out).map(|_| rng.random::<f32>() - 0.5).collect();
            bt.set(&Tensor::from_vec(v, (r, out), &Device::Cpu).unwrap())
                .unwrap();
        }
        let adapted = embed(&model);
        assert!(
            max_diff(&adapted, &want) > 1e-2,
            "the updates must change the output"
        );
        let meta = AdapterJson {
            version: "t".into(),
            rank: cfg.rank,
            alpha: cfg.alpha,
            layers: vec![1, 2],
            targets: cfg.targets.clone(),
            encoder_sha256: "x".into(),
            extra: BTreeMap::new(),
        };
        let adapter = Adapter {
            meta,
            sha256: "y".into(),
            updates: model.updates().unwrap(),
        };
        assert_eq!(adapter.updates.len(), 12);
        let mut merged = map.clone();
        adapter.merge_into(&mut merged).unwrap();
        let cpu2 = CpuBert::load(dims, &mut Src(merged), None, DenseMode::F32).unwrap();
        let want2 = cpu2.embed(&SEQS);
        assert!(
            max_diff(&adapted, &want2) < 1e-4,
            "{}",
            max_diff(&adapted, &want2)
        );
    }

    #[test]
    fn training_steps_lower_the_loss_of_a_learnable_task() {
        let (dims, map) = random_bert(2);
        let cpu = CpuBert::load(dims.clone(), &mut Src(map.clone()), None, DenseMode::F32).unwrap();
        // Label: does the text contain token 6? Two classes, softmax.
        let seqs: Vec<Vec<u32>> = (0..32u32)
            .map(|i| {
                let mut s = vec![1, 3 + i % 5, 10 + i % 7];
                if i % 2 == 0 {
                    s.push(6);
                }
                s.push(2);
                s
            })
            .collect();
        let refs: Vec<&[u32]> = seqs.iter().map(Vec::as_slice).collect();
        let task = Task {
            name: "toy".into(),
            kind: HeadKind::Softmax,
            labels: vec!["no".into(), "yes".into()],
            train: (0..32)
                .map(|i| Sample {
                    text: String::new(),
                    y: if i % 2 == 0 {
                        vec![0.0, 1.0]
                    } else {
                        vec![1.0, 0.0]
                    },
                    mask: vec![true; 2],
                    weight: 1.0,
                })
                .collect(),
            dev: Vec::new(),
            class_weights: vec![1.0, 1.0],
        };
        let head = (
            Var::zeros((2, dims.hidden), DType::F32, &Device::Cpu).unwrap(),
            Var::zeros(2, DType::F32, &Device::Cpu).unwrap(),
        );
        let cfg = config(1);
        let model = Model::build(
            &map,
            dims.layers,
            &cfg,
            dims.heads,
            1e-12,
            vec![head],
            &Device::Cpu,
        )
        .unwrap();
        let st = states(&cpu, &refs, 2);
        let idx: Vec<usize> = (0..32).collect();
        let (x, m) = st.batch(&idx, &Device::Cpu).unwrap();
        let mut opt = AdamW::new(
            [model.lora_vars(), model.head_vars()].concat(),
            ParamsAdamW {
                lr: 1e-2,
                weight_decay: 0.0,
                ..ParamsAdamW::default()
            },
        )
        .unwrap();
        let mut losses = Vec::new();
        for _ in 0..40 {
            let l = loss(
                &task,
                &model
                    .logits(0, &model.embed(&x, &m).unwrap(), None)
                    .unwrap(),
                &idx,
            )
            .unwrap();
            losses.push(l.to_scalar::<f32>().unwrap());
            opt.backward_step(&l).unwrap();
        }
        assert!(
            (losses[0] - std::f32::consts::LN_2).abs() < 1e-4,
            "{losses:?}"
        );
        assert!(losses[39] < 0.5 * losses[0], "{losses:?}");
        // The adapter itself moved, not only the head.
        assert!(model.updates().unwrap().values().any(|(_, b)| b
            .abs()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
            > 0.0));
    }

    #[test]
    fn a_cue_reading_head_sees_each_texts_own_cues_after_the_embedding() {
        use crate::text::cues::{cues_of, LEN};
        let (dims, map) = random_bert(2);
        let cpu = CpuBert::load(dims.clone(), &mut Src(map.clone()), None, DenseMode::F32).unwrap();
        let texts = ["Could you please help me? Thanks!", "FIX IT NOW"];
        let mut st = states(&cpu, &[&[1, 5, 2], &[1, 7, 7, 2]], 1);
        st.cues = Some(crate::train::sigmoid::cue_rows(&texts).unwrap());
        // Zero on the embedding, cue j weighted j + 1: each logit is that text's weighted cues.
        let mut w = vec![0f32; dims.hidden + LEN];
        for (j, v) in w[dims.hidden..].iter_mut().enumerate() {
            *v = (j + 1) as f32;
        }
        let head = (
            Var::from_tensor(&Tensor::from_vec(w, (1, dims.hidden + LEN), &Device::Cpu).unwrap())
                .unwrap(),
            Var::zeros(1, DType::F32, &Device::Cpu).unwrap(),
        );
        let model = Model::build(
            &map,
            dims.layers,
            &config(1),
            dims.heads,
            1e-12,
            vec![head],
            &Device::Cpu,
        )
        .unwrap();
        let idx = [1, 0];
        let (x, m) = st.batch(&idx, &Device::Cpu).unwrap();
        let c = st.cue_batch(&idx, &Device::Cpu).unwrap();
        let z = model
            .logits(0, &model.embed(&x, &m).unwrap(), c.as_ref())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let want: Vec<f32> = idx
            .iter()
            .map(|&i| {
                cues_of(texts[i])
                    .iter()
                    .enumerate()
                    .map(|(j, v)| (j + 1) as f32 * v)
                    .sum()
            })
            .collect();
        assert!(want[0] != want[1], "{want:?}");
        assert!(max_diff(&z, &want) < 1e-4, "{z:?} vs {want:?}");
        // A head that reads none gets no cue batch.
        st.cues = None;
        assert!(st.cue_batch(&idx, &Device::Cpu).unwrap().is_none());
    }

    #[test]
    fn a_warm_start_continues_from_the_saved_updates_and_refuses_another_shape() {
        let (dims, map) = random_bert(3);
        let head = || {
            vec![(
                Var::zeros((2, dims.hidden), DType::F32, &Device::Cpu).unwrap(),
                Var::zeros(2, DType::F32, &Device::Cpu).unwrap(),
            )]
        };
        let build = |cfg: &AdapterConfig| {
            Model::build(
                &map,
                dims.layers,
                cfg,
                dims.heads,
                1e-12,
                head(),
                &Device::Cpu,
            )
            .unwrap()
        };
        let cfg = config(1);
        let trained = build(&cfg);
        // Stand in for training: B gets non-zero values, so the update is not the B = 0 start.
        for v in trained.lora_vars() {
            v.set(&v.randn_like(0.0, 0.1).unwrap()).unwrap();
        }
        let saved = trained.updates().unwrap();
        let meta = AdapterJson {
            version: "adapter-test".into(),
            rank: cfg.rank,
            alpha: cfg.alpha,
            layers: vec![dims.layers - 1],
            targets: cfg.targets.clone(),
            encoder_sha256: String::new(),
            extra: BTreeMap::new(),
        };
        // A second model built with another seed starts elsewhere, then takes the saved updates.
        let fresh = build(&AdapterConfig {
            seed: 99,
            ..config(1)
        });
        fresh.start_from(&meta, &saved).unwrap();
        let restored = fresh.updates().unwrap();
        assert_eq!(restored.len(), saved.len());
        for (name, (a, b)) in &saved {
            let (ra, rb) = &restored[name];
            let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            assert_eq!(flat(a), flat(ra), "{name} A");
            assert_eq!(flat(b), flat(rb), "{name} B");
        }
        // Another rank, or other blocks, is refused with the reason.
        let err = fresh
            .start_from(
                &AdapterJson {
                    rank: 8,
                    ..meta.clone()
                },
                &saved,
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("rank"), "{err}");
        let two = build(&config(2));
        let err = two.start_from(&meta, &saved).unwrap_err().to_string();
        assert!(err.contains("layers"), "{err}");
    }

    #[test]
    fn frozen_matmuls_agree_in_value_and_input_gradient() {
        // The CPU op and the plain matmul other devices use: same output, same gradient of x.
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut rand =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random::<f32>() - 0.5).collect() };
        let w = Tensor::from_vec(rand(6 * 4), (6, 4), &Device::Cpu).unwrap();
        let x = Var::from_vec(rand(3 * 4), (3, 4), &Device::Cpu).unwrap();
        let g = Tensor::from_vec(rand(3 * 6), (3, 6), &Device::Cpu).unwrap();
        let cpu = Frozen::new(w.clone(), &Device::Cpu).unwrap();
        assert!(matches!(cpu, Frozen::Cpu(_)));
        let plain = Frozen::Plain(w.t().unwrap().contiguous().unwrap());
        let run = |f: &Frozen| {
            let y = f.apply(x.as_tensor()).unwrap();
            let grads = (&y * &g).unwrap().sum_all().unwrap().backward().unwrap();
            let dx = grads.get(x.as_tensor()).unwrap();
            (
                y.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                dx.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            )
        };
        let ((y1, d1), (y2, d2)) = (run(&cpu), run(&plain));
        assert!(max_diff(&y1, &y2) < 1e-6 && max_diff(&d1, &d2) < 1e-6);
        // dx = g W
        let want = g
            .matmul(&w)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert!(max_diff(&d1, &want) < 1e-6);
    }

    #[test]
    fn class_weights_balance_each_kind() {
        let s = |y: Vec<f32>| Sample {
            text: String::new(),
            mask: vec![true; y.len()],
            y,
            weight: 1.0,
        };
        let train = vec![
            s(vec![1.0, 0.0]),
            s(vec![1.0, 0.0]),
            s(vec![1.0, 0.0]),
            s(vec![0.0, 1.0]),
        ];
        let w = class_weights(HeadKind::Softmax, &train, 2);
        assert!(
            (w[0] - 4.0 / 6.0).abs() < 1e-6 && (w[1] - 2.0).abs() < 1e-6,
            "{w:?}"
        );
        let w = class_weights(HeadKind::Sigmoid, &train, 2);
        assert_eq!(w, vec![1.0, 3.0]);
        assert_eq!(class_weights(HeadKind::Score, &train, 2), vec![1.0, 1.0]);
    }

    #[test]
    fn balanced_draw_splits_evenly_and_passes_on_what_a_language_lacks() {
        let items = |en: usize, ru: usize| -> Vec<(String, (String, usize))> {
            let mut v = Vec::new();
            for i in 0..en {
                v.push(("en".into(), ("en".into(), i)));
            }
            for i in 0..ru {
                v.push(("ru".into(), ("ru".into(), i)));
            }
            v
        };
        let count = |v: &[(String, usize)], l: &str| v.iter().filter(|(x, _)| x == l).count();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let d = draw(items(900, 300), 400, true, &mut rng);
        assert_eq!((count(&d, "en"), count(&d, "ru")), (200, 200));
        // Russian has only 100: English fills the rest
        let d = draw(items(900, 100), 400, true, &mut rng);
        assert_eq!((count(&d, "en"), count(&d, "ru")), (300, 100));
        // fewer than asked in all: everything, once
        let d = draw(items(50, 20), 400, true, &mut rng);
        assert_eq!(d.len(), 70);
        let mut seen: Vec<_> = d.clone();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 70);
        // the plain draw takes n at random, whatever the languages
        let d = draw(items(900, 100), 400, false, &mut rng);
        assert_eq!(d.len(), 400);
        // seeded: the same seed gives the same draw
        let a = draw(
            items(900, 300),
            400,
            true,
            &mut rand::rngs::StdRng::seed_from_u64(1),
        );
        let b = draw(
            items(900, 300),
            400,
            true,
            &mut rand::rngs::StdRng::seed_from_u64(1),
        );
        assert_eq!(a, b);
    }

    #[test]
    fn softplus_is_stable_and_exact() {
        let x = Tensor::new(&[-100f32, -1.0, 0.0, 1.0, 100.0], &Device::Cpu).unwrap();
        let y = softplus(&x).unwrap().to_vec1::<f32>().unwrap();
        let want = [
            0.0f32,
            0.313_261_7,
            std::f32::consts::LN_2,
            1.313_261_7,
            100.0,
        ];
        for (a, b) in y.iter().zip(want) {
            assert!((a - b).abs() < 1e-5, "{y:?}");
        }
    }
}
