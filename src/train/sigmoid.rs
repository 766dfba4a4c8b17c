//! Training and evaluation of the sigmoid-kind heads (multi-label `sigmoid`, `binary`, `score`):
//! emotions, toxicity, certainty, politeness, formality.
//!
//! Same shape as the softmax path in `mod.rs`: read and split the corpora of
//! `models/<task>/train.toml`, embed them through the resumable cache, fit on standardised
//! embeddings with early stopping on dev, then calibrate on dev. Calibration is Platt scaling
//! per output (`σ(a·z + c)`), folded into W and b, so the served head needs no extra parameters;
//! sigmoid and binary heads also get per-label decision thresholds chosen on dev.

use std::collections::BTreeMap;
use std::time::Instant;

use candle_core::{Device, Tensor};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::config::{Roots, Source, TrainConfig};
use super::corpora::{self, Item};
use super::data::ReadStats;
use super::fit::{self, FitConfig, SigmoidDev};
use super::metrics;
use crate::model::heads::{HeadKind, HeadSet, LinearHead, Platt};
use crate::model::Encoder;
use crate::{Error, Result};

/// One named slice of items, ready to embed.
pub struct Part {
    /// cache and report name
    pub name: String,
    pub lang: String,
    pub weight: f64,
    pub items: Vec<Item>,
}

/// The seed of a corpus's held-out partition: keyed by the file, not by the entry, so the
/// [[train]] and [[test]] entries naming one file agree on which rows are held out.
fn holdout_seed(seed: u64, path: &str) -> u64 {
    super::source_seed(seed, &format!("holdout:{path}"))
}

/// Reads one source and applies its holdout (`test` true: keep only the held-out part).
fn read_part(
    s: &Source,
    roots: &Roots,
    cfg: &TrainConfig,
    test: bool,
) -> Result<(Vec<Item>, ReadStats)> {
    let (items, st) = s.read_items(roots, &cfg.labels)?;
    let items = if s.holdout > 0.0 {
        corpora::partition(items, s.holdout, holdout_seed(cfg.seed, &s.path), test)
    } else {
        items
    };
    Ok((items, st))
}

fn counts_json(labels: &[String], items: &[Item]) -> serde_json::Value {
    let (pos, obs) = corpora::label_counts(items, labels.len());
    let m: BTreeMap<&str, serde_json::Value> = labels
        .iter()
        .enumerate()
        .map(|(k, l)| {
            (
                l.as_str(),
                serde_json::json!({"positive": pos[k], "observed": obs[k]}),
            )
        })
        .collect();
    serde_json::json!({"n": items.len(), "per_label": m})
}

/// What [`prepare`] returns: train parts, dev parts, the data record for head.json.
pub type Prepared = (
    Vec<Part>,
    Vec<Part>,
    serde_json::Map<String, serde_json::Value>,
);

/// Train and dev parts of a config, split and capped exactly as training uses them (the cache
/// keys depend on the texts, so `--embed-only` and training must agree).
pub fn prepare(cfg: &TrainConfig, roots: &Roots) -> Result<Prepared> {
    let mut train = Vec::new();
    let mut dev = Vec::new();
    let mut record = serde_json::Map::new();
    for s in &cfg.train {
        let (all, stats) = read_part(s, roots, cfg, false)?;
        let seed = super::source_seed(cfg.seed, &s.name);
        let (dv, mut tr) = if s.dev_fraction > 0.0 {
            corpora::split_groups(all, s.dev_fraction, seed)
        } else {
            (Vec::new(), all)
        };
        if let Some(k) = s.per_class {
            tr = corpora::balance_items(tr, k, seed.wrapping_add(1));
        }
        if let Some(m) = s.max_items {
            tr = corpora::cap_items(tr, m, seed.wrapping_add(2));
        }
        record.insert(
            s.name.clone(),
            serde_json::json!({
                "path": s.path, "lang": s.lang, "read": stats, "weight": s.weight,
                "holdout": s.holdout, "per_class_cap": s.per_class, "max_items": s.max_items,
                "note": s.note,
                "train": counts_json(&cfg.labels, &tr), "dev_slice": counts_json(&cfg.labels, &dv),
            }),
        );
        if !dv.is_empty() {
            dev.push(Part {
                name: format!("{}-devslice", s.name),
                lang: s.lang.clone(),
                weight: 1.0,
                items: dv,
            });
        }
        train.push(Part {
            name: format!("{}-train", s.name),
            lang: s.lang.clone(),
            weight: s.weight,
            items: tr,
        });
    }
    for s in &cfg.dev {
        let (mut items, stats) = read_part(s, roots, cfg, false)?;
        if let Some(m) = s.max_items {
            items = corpora::cap_items(items, m, super::source_seed(cfg.seed, &s.name));
        }
        record.insert(
            s.name.clone(),
            serde_json::json!({"path": s.path, "lang": s.lang, "read": stats, "note": s.note,
                               "max_items": s.max_items, "dev": counts_json(&cfg.labels, &items)}),
        );
        dev.push(Part {
            name: s.name.clone(),
            lang: s.lang.clone(),
            weight: 1.0,
            items,
        });
    }
    if dev.is_empty() {
        return Err(Error::invalid(
            "dev",
            "no dev data: add [[dev]] or a dev_fraction",
        ));
    }
    Ok((train, dev, record))
}

/// The test parts of a config (held-out partitions and documented subsamples applied).
pub fn prepare_tests(cfg: &TrainConfig, roots: &Roots) -> Result<Vec<(Source, Part, ReadStats)>> {
    let mut out = Vec::new();
    for s in &cfg.test {
        let (mut items, stats) = read_part(s, roots, cfg, true)?;
        if let Some(m) = s.max_items {
            items = corpora::cap_items(items, m, super::source_seed(cfg.seed, &s.name));
        }
        out.push((
            s.clone(),
            Part {
                name: s.name.clone(),
                lang: s.lang.clone(),
                weight: 1.0,
                items,
            },
            stats,
        ));
    }
    Ok(out)
}

/// An embedded part.
pub struct Embedded {
    pub part: Part,
    pub x: Tensor,
    pub seconds: f64,
    pub embedded_now: usize,
}

impl Embedded {
    fn y(&self) -> Vec<Vec<f32>> {
        self.part.items.iter().map(|i| i.y.clone()).collect()
    }
    fn mask(&self) -> Vec<Vec<bool>> {
        self.part.items.iter().map(|i| i.mask.clone()).collect()
    }
}

/// Embeds a part; with `cues`, each row is followed by its text's lexical cues (the input of a
/// head that reads them, [`LinearHead::input`]).
pub fn embed_part(
    enc: &Encoder,
    cache: &std::path::Path,
    part: Part,
    batch: usize,
    cues: bool,
) -> Result<Embedded> {
    let texts: Vec<String> = part.items.iter().map(|i| i.text.clone()).collect();
    let e = super::cache::embed_cached(enc, cache, &part.name, &texts, batch)?;
    let mut x = Tensor::from_vec(e.data, (e.n, e.dim), &Device::Cpu)?;
    if cues {
        x = Tensor::cat(&[&x, &cue_rows(&texts)?], 1)?;
    }
    tracing::info!(part = %part.name, n = e.n, embedded_now = e.embedded_now,
                   secs = format!("{:.0}", e.seconds), "embedded");
    Ok(Embedded {
        part,
        x,
        seconds: e.seconds,
        embedded_now: e.embedded_now,
    })
}

/// The lexical cues of each text, [n, cues::LEN].
pub fn cue_rows<S: AsRef<str>>(texts: &[S]) -> Result<Tensor> {
    let v: Vec<f32> = texts
        .iter()
        .flat_map(|t| crate::text::cues::cues_of(t.as_ref()))
        .collect();
    Ok(Tensor::from_vec(
        v,
        (texts.len(), crate::text::cues::LEN),
        &Device::Cpu,
    )?)
}

/// Decisions of `p` at per-output thresholds.
fn decide(p: &[Vec<f32>], thr: &[f32]) -> Vec<Vec<bool>> {
    p.iter()
        .map(|r| r.iter().zip(thr).map(|(v, t)| v >= t).collect())
        .collect()
}

/// Per-output F1 over observed cells (None for an output the set never observes or never has
/// positive).
fn per_label_f1(
    p: &[Vec<f32>],
    y: &[Vec<f32>],
    mask: &[Vec<bool>],
    thr: &[f32],
) -> Vec<Option<f64>> {
    let k = thr.len();
    let d = decide(p, thr);
    (0..k)
        .map(|j| {
            let (mut tp, mut fp, mut fn_, mut pos) = (0, 0, 0, 0);
            for ((di, yi), mi) in d.iter().zip(y).zip(mask) {
                if !mi[j] {
                    continue;
                }
                let t = yi[j] >= 0.5;
                pos += usize::from(t);
                match (di[j], t) {
                    (true, true) => tp += 1,
                    (true, false) => fp += 1,
                    (false, true) => fn_ += 1,
                    _ => {}
                }
            }
            (pos > 0).then(|| metrics::f1_counts(tp, fp, fn_))
        })
        .collect()
}

fn mean_some(v: &[Option<f64>]) -> f64 {
    let s: Vec<f64> = v.iter().flatten().copied().collect();
    if s.is_empty() {
        0.0
    } else {
        s.iter().sum::<f64>() / s.len() as f64
    }
}

/// Binary decisions of a one-output head as class ids (1 = the label).
fn classes(p: &[Vec<f32>], y: &[Vec<f32>], thr: f32) -> (Vec<usize>, Vec<usize>) {
    let t = y.iter().map(|r| usize::from(r[0] >= 0.5)).collect();
    let pr = p.iter().map(|r| usize::from(r[0] >= thr)).collect();
    (t, pr)
}

/// The figure early stopping, thresholds and reports revolve around, per head kind:
/// sigmoid -> macro-F1 over observed labels; binary -> 2-class macro-F1; score -> Spearman.
fn primary(kind: HeadKind, p: &[Vec<f32>], y: &[Vec<f32>], mask: &[Vec<bool>], thr: &[f32]) -> f64 {
    match kind {
        HeadKind::Sigmoid => mean_some(&per_label_f1(p, y, mask, thr)),
        HeadKind::Binary => {
            let (t, pr) = classes(p, y, thr[0]);
            metrics::macro_f1(&t, &pr, 2)
        }
        HeadKind::Score | HeadKind::Softmax => {
            let a: Vec<f64> = y.iter().map(|r| r[0] as f64).collect();
            let b: Vec<f64> = p.iter().map(|r| r[0] as f64).collect();
            metrics::spearman(&a, &b)
        }
    }
}

/// Calibration error over all observed cells.
fn cells_ece(p: &[Vec<f32>], y: &[Vec<f32>], mask: &[Vec<bool>]) -> f64 {
    let (mut pp, mut yy) = (Vec::new(), Vec::new());
    for ((pi, yi), mi) in p.iter().zip(y).zip(mask) {
        for j in 0..pi.len() {
            if mi[j] {
                pp.push(pi[j]);
                yy.push(yi[j]);
            }
        }
    }
    metrics::binary_ece(&pp, &yy, 15)
}

/// The sampling floor of [`cells_ece`] over the same observed cells.
fn cells_ece_floor(p: &[Vec<f32>], mask: &[Vec<bool>]) -> metrics::EceFloor {
    let pp: Vec<f32> = p
        .iter()
        .zip(mask)
        .flat_map(|(pi, mi)| pi.iter().zip(mi).filter(|(_, &m)| m).map(|(&x, _)| x))
        .collect();
    metrics::binary_ece_floor(&pp, 15)
}

/// Everything reported for one set.
#[derive(Debug, Clone, Serialize)]
pub struct ItemReport {
    pub n: usize,
    /// the task's headline figure (see `metric`)
    pub primary: f64,
    pub metric: String,
    /// ECE over observed cells (15 bins; soft targets for score heads)
    pub ece_15: f64,
    /// What `ece_15` would read from sampling alone (0/1 targets only; see
    /// [`metrics::EceFloor`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ece_15_floor: Option<metrics::EceFloor>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub f1: BTreeMap<String, f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub macro_f1_at_0_5: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weighted_f1: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub positive_rate_pred: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spearman: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pearson: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quartile_accuracy: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quartile_n: Option<usize>,
}

pub fn report(
    kind: HeadKind,
    labels: &[String],
    p: &[Vec<f32>],
    y: &[Vec<f32>],
    mask: &[Vec<bool>],
    thr: &[f32],
) -> ItemReport {
    let mut r = ItemReport {
        n: p.len(),
        primary: primary(kind, p, y, mask, thr),
        metric: String::new(),
        ece_15: cells_ece(p, y, mask),
        ece_15_floor: (kind != HeadKind::Score).then(|| cells_ece_floor(p, mask)),
        f1: BTreeMap::new(),
        macro_f1_at_0_5: None,
        weighted_f1: None,
        accuracy: None,
        positive_rate_pred: None,
        spearman: None,
        pearson: None,
        quartile_accuracy: None,
        quartile_n: None,
    };
    match kind {
        HeadKind::Sigmoid => {
            r.metric = "macro-F1 over the labels the set observes (dev thresholds)".into();
            for (l, f) in labels.iter().zip(per_label_f1(p, y, mask, thr)) {
                if let Some(f) = f {
                    r.f1.insert(l.clone(), f);
                }
            }
            r.macro_f1_at_0_5 = Some(mean_some(&per_label_f1(p, y, mask, &vec![0.5; thr.len()])));
        }
        HeadKind::Binary => {
            r.metric = "2-class macro-F1 (dev threshold)".into();
            let (t, pr) = classes(p, y, thr[0]);
            let f = metrics::per_class_f1(&t, &pr, 2);
            r.f1.insert(format!("not_{}", labels[0]), f[0]);
            r.f1.insert(labels[0].clone(), f[1]);
            r.weighted_f1 = Some(metrics::weighted_f1(&t, &pr, 2));
            r.accuracy = Some(metrics::accuracy(&t, &pr));
            r.positive_rate_pred = Some(pr.iter().sum::<usize>() as f64 / pr.len().max(1) as f64);
        }
        HeadKind::Score | HeadKind::Softmax => {
            r.metric = "Spearman".into();
            let a: Vec<f64> = y.iter().map(|r| r[0] as f64).collect();
            let b: Vec<f64> = p.iter().map(|r| r[0] as f64).collect();
            r.spearman = Some(metrics::spearman(&a, &b));
            r.pearson = Some(metrics::pearson(&a, &b));
            let (acc, n) = metrics::quartile_accuracy(&a, &b, thr[0] as f64);
            r.quartile_accuracy = Some(acc);
            r.quartile_n = Some(n);
        }
    }
    r
}

/// Thresholds chosen on dev: per label the F1-maximising one (sigmoid), the 2-class macro-F1
/// maximising one (binary), the quartile-accuracy maximising one (score); grid 0.02..0.98.
fn choose_thresholds(
    kind: HeadKind,
    p: &[Vec<f32>],
    y: &[Vec<f32>],
    mask: &[Vec<bool>],
) -> Vec<f32> {
    let k = y.first().map_or(0, Vec::len);
    let grid: Vec<f32> = (1..50).map(|i| i as f32 * 0.02).collect();
    (0..k)
        .map(|j| {
            let mut best = (f64::NEG_INFINITY, 0.5f32);
            for &t in &grid {
                let mut thr = vec![0.5; k];
                thr[j] = t;
                let s = match kind {
                    HeadKind::Sigmoid => per_label_f1(p, y, mask, &thr)[j].unwrap_or(0.0),
                    HeadKind::Binary => primary(kind, p, y, mask, &thr),
                    _ => {
                        let a: Vec<f64> = y.iter().map(|r| r[0] as f64).collect();
                        let b: Vec<f64> = p.iter().map(|r| r[0] as f64).collect();
                        metrics::quartile_accuracy(&a, &b, t as f64).0
                    }
                };
                // prefer the threshold nearest 0.5 among ties (stable across reruns)
                if s > best.0 + 1e-12
                    || (s > best.0 - 1e-12 && (t - 0.5).abs() < (best.1 - 0.5).abs())
                {
                    best = (s, t);
                }
            }
            best.1
        })
        .collect()
}

/// One dev set's embeddings and targets, as calibration sees them.
struct DevRows {
    name: String,
    lang: String,
    /// takes part in its language's recalibration and thresholds (`recalibrate` in the config)
    recalibrate: bool,
    x: Tensor,
    y: Vec<Vec<f32>>,
    m: Vec<Vec<bool>>,
}

impl DevRows {
    fn select(&self, idx: &[u32]) -> Result<Self> {
        let rows = Tensor::new(idx, &Device::Cpu)?;
        fn pick<T: Clone>(v: &[T], idx: &[u32]) -> Vec<T> {
            idx.iter().map(|&i| v[i as usize].clone()).collect()
        }
        Ok(Self {
            name: self.name.clone(),
            lang: self.lang.clone(),
            recalibrate: self.recalibrate,
            x: self.x.index_select(&rows, 0)?,
            y: pick(&self.y, idx),
            m: pick(&self.m, idx),
        })
    }
}

/// What calibration fits on dev for a head `(w, b)`.
struct Calibration {
    /// W and b with the pooled Platt scaling folded in
    w: Tensor,
    b: Tensor,
    platt: Vec<(f64, f64)>,
    lang_cal: BTreeMap<String, Vec<Platt>>,
    thresholds: Vec<f32>,
    lang_thresholds: BTreeMap<String, Vec<f32>>,
}

impl Calibration {
    /// Calibrated outputs for texts in `lang`, as the served head gives them.
    fn probabilities(&self, lang: &str, x: &Tensor) -> Result<Vec<Vec<f32>>> {
        let mut p = fit::sigmoid_rows(x, &self.w, &self.b)?;
        if let Some(cal) = self.lang_cal.get(lang) {
            for row in &mut p {
                Platt::apply_each(cal, row);
            }
        }
        Ok(p)
    }

    fn thresholds_for(&self, lang: &str) -> &[f32] {
        self.lang_thresholds.get(lang).unwrap_or(&self.thresholds)
    }
}

/// Calibrates the fitted head `(w, b)` on `dev`: Platt scaling per output on the pooled dev
/// logits (observed cells), or on the out-of-fold training logits `oof` where given, folded into
/// W and b; with dev data in two or more languages, a second
/// Platt scaling per (language, output) on that language's `recalibrate` sets, applied by the
/// text's language (LinearHead::calibrate_for_language); then per-label thresholds on the pooled
/// calibrated outputs and, with `per_language_thresholds`, on each recalibrated language's own
/// `recalibrate` sets.
fn calibrate(
    kind: HeadKind,
    w: &Tensor,
    b: &Tensor,
    oof: Option<&Cells>,
    dev: &[DevRows],
    per_language_thresholds: bool,
) -> Result<Calibration> {
    let k = b.dims1()?;
    let mut zs = vec![Vec::new(); k];
    let mut ys = vec![Vec::new(); k];
    let mut add = |z: &[Vec<f32>], y: &[Vec<f32>], m: &[Vec<bool>]| {
        for ((zi, yi), mi) in z.iter().zip(y).zip(m) {
            for j in 0..k {
                if mi[j] {
                    zs[j].push(zi[j]);
                    ys[j].push(yi[j]);
                }
            }
        }
    };
    match oof {
        Some((z, y, m)) => add(z, y, m),
        None => {
            for d in dev {
                let z = d.x.matmul(&w.t()?)?.broadcast_add(b)?.to_vec2::<f32>()?;
                add(&z, &d.y, &d.m);
            }
        }
    }
    let platt: Vec<(f64, f64)> = (0..k).map(|j| fit::fit_platt(&zs[j], &ys[j])).collect();
    let vec_t = |v: Vec<f32>| Tensor::from_vec(v, k, &Device::Cpu);
    let a_t = vec_t(platt.iter().map(|p| p.0 as f32).collect())?;
    let c_t = vec_t(platt.iter().map(|p| p.1 as f32).collect())?;
    let mut cal = Calibration {
        w: w.broadcast_mul(&a_t.unsqueeze(1)?)?,
        b: ((b * &a_t)? + &c_t)?,
        platt,
        lang_cal: BTreeMap::new(),
        thresholds: Vec::new(),
        lang_thresholds: BTreeMap::new(),
    };
    let langs: std::collections::BTreeSet<&str> = dev.iter().map(|d| d.lang.as_str()).collect();
    // (p, y, mask) of the given sets, calibrated as `cal` stands
    let outputs = |cal: &Calibration, sets: &[&DevRows]| -> Result<Cells> {
        let mut out: Cells = Default::default();
        for d in sets {
            out.0.extend(cal.probabilities(&d.lang, &d.x)?);
            out.1.extend(d.y.iter().cloned());
            out.2.extend(d.m.iter().cloned());
        }
        Ok(out)
    };
    let own = |lang: &str| -> Vec<&DevRows> {
        dev.iter()
            .filter(|d| d.lang == lang && d.recalibrate)
            .collect()
    };
    if langs.len() >= 2 {
        for &lang in &langs {
            let sets = own(lang);
            if sets.is_empty() {
                continue;
            }
            let (p, y, m) = outputs(&cal, &sets)?;
            let fitted = (0..k)
                .map(|j| {
                    let (mut z, mut yy) = (Vec::new(), Vec::new());
                    for ((pi, yi), mi) in p.iter().zip(&y).zip(&m) {
                        if mi[j] {
                            let q = pi[j].clamp(1e-7, 1.0 - 1e-7);
                            z.push((q / (1.0 - q)).ln());
                            yy.push(yi[j]);
                        }
                    }
                    let (a, c) = if z.is_empty() {
                        (1.0, 0.0)
                    } else {
                        fit::fit_platt(&z, &yy)
                    };
                    Platt {
                        a: a as f32,
                        c: c as f32,
                    }
                })
                .collect();
            cal.lang_cal.insert(lang.to_string(), fitted);
        }
    }
    let (p, y, m) = outputs(&cal, &dev.iter().collect::<Vec<_>>())?;
    cal.thresholds = choose_thresholds(kind, &p, &y, &m);
    if per_language_thresholds && langs.len() >= 2 {
        for &lang in &langs {
            let sets = own(lang);
            if !sets.is_empty() {
                let (p, y, m) = outputs(&cal, &sets)?;
                let t = choose_thresholds(kind, &p, &y, &m);
                cal.lang_thresholds.insert(lang.to_string(), t);
            }
        }
    }
    Ok(cal)
}

/// Outputs (or logits), targets and masks of some rows, one row per text.
type Cells = (Vec<Vec<f32>>, Vec<Vec<f32>>, Vec<Vec<bool>>);

/// Out-of-fold logits over the training set: the head refitted `folds` times (same
/// hyper-parameters, early stopping on dev), each fit scoring the training rows it left out.
struct OutOfFold {
    folds: usize,
    seed: u64,
}

impl OutOfFold {
    /// `(logits, targets, masks)` per training row, in row order; `x` standardised as in the fit.
    #[allow(clippy::too_many_arguments)]
    fn logits(
        &self,
        x: &Tensor,
        y: &Tensor,
        cw: &Tensor,
        dev: &[SigmoidDev],
        score: &fit::DevScore,
        fc: &FitConfig,
        items: &[&Item],
    ) -> Result<Cells> {
        use rand::{seq::SliceRandom, SeedableRng};
        let n = x.dims2()?.0;
        let k = y.dims2()?.1;
        let mut order: Vec<u32> = (0..n as u32).collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(super::source_seed(self.seed, "oof"));
        order.shuffle(&mut rng);
        let mut z = vec![vec![0f32; k]; n];
        for f in 0..self.folds {
            let fold = |inside: bool| -> Vec<u32> {
                (order.iter().enumerate())
                    .filter(|(i, _)| (i % self.folds == f) == inside)
                    .map(|(_, &row)| row)
                    .collect()
            };
            let (held, kept) = (fold(true), fold(false));
            let kept_t = Tensor::new(kept.as_slice(), &Device::Cpu)?;
            let held_t = Tensor::new(held.as_slice(), &Device::Cpu)?;
            let r = fit::fit_sigmoid(
                &x.index_select(&kept_t, 0)?,
                &y.index_select(&kept_t, 0)?,
                &cw.index_select(&kept_t, 0)?,
                dev,
                score,
                fc,
            )?;
            let zf = x
                .index_select(&held_t, 0)?
                .matmul(&r.weight.t()?)?
                .broadcast_add(&r.bias)?
                .to_vec2::<f32>()?;
            for (row, zr) in held.iter().zip(zf) {
                z[*row as usize] = zr;
            }
        }
        let targets = items.iter().map(|i| i.y.clone()).collect();
        let masks = items.iter().map(|i| i.mask.clone()).collect();
        Ok((z, targets, masks))
    }
}

/// Dev figures of the calibration on data it did not see: every dev set is cut in two halves
/// (seeded), [`calibrate`] is fitted on one half of every set and scored on the other halves,
/// then the other way round. Per set: the mean over the two halves of the primary figure (at
/// the fitted thresholds) and of the ECE. This is what compares calibration choices on dev:
/// figures on the very rows the thresholds were chosen on always favour more thresholds.
fn crossfit(
    kind: HeadKind,
    labels: &[String],
    (w, b): (&Tensor, &Tensor),
    oof: Option<&Cells>,
    dev: &[DevRows],
    per_language_thresholds: bool,
    seed: u64,
) -> Result<BTreeMap<String, serde_json::Value>> {
    use rand::{seq::SliceRandom, SeedableRng};
    let halves: Vec<[Vec<u32>; 2]> = dev
        .iter()
        .map(|d| {
            let mut idx: Vec<u32> = (0..d.y.len() as u32).collect();
            let mut rng = rand::rngs::StdRng::seed_from_u64(super::source_seed(
                seed,
                &format!("crossfit:{}", d.name),
            ));
            idx.shuffle(&mut rng);
            let (a, b) = idx.split_at(idx.len() / 2);
            [a.to_vec(), b.to_vec()]
        })
        .collect();
    let mut sums: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for fold in 0..2 {
        let fit_on = (dev.iter().zip(&halves))
            .map(|(d, h)| d.select(&h[fold]))
            .collect::<Result<Vec<_>>>()?;
        let cal = calibrate(kind, w, b, oof, &fit_on, per_language_thresholds)?;
        for (d, h) in dev.iter().zip(&halves) {
            let held = d.select(&h[1 - fold])?;
            let p = cal.probabilities(&held.lang, &held.x)?;
            let r = report(
                kind,
                labels,
                &p,
                &held.y,
                &held.m,
                cal.thresholds_for(&held.lang),
            );
            let e = sums.entry(d.name.clone()).or_default();
            e.0 += r.primary / 2.0;
            e.1 += r.ece_15 / 2.0;
        }
    }
    Ok(sums
        .into_iter()
        .map(|(name, (primary, ece))| {
            (name, serde_json::json!({"primary": primary, "ece_15": ece}))
        })
        .collect())
}

/// Per-cell loss weights: 0 for missing targets; for 0/1 targets of sigmoid/binary heads, each
/// label's positives and negatives weigh the same in total (`w = N / (2 n_side)`, capped at 20 so a
/// label with a handful of positives cannot dominate), times the source weight; score heads
/// (soft targets) weigh every cell 1 × source weight.
fn cell_weights(kind: HeadKind, parts: &[&Embedded], k: usize) -> (Vec<f32>, Vec<f64>, Vec<f64>) {
    let all: Vec<&Item> = parts.iter().flat_map(|p| p.part.items.iter()).collect();
    let mut pos = vec![0f64; k];
    let mut obs = vec![0f64; k];
    for it in &all {
        for j in 0..k {
            if it.mask[j] {
                obs[j] += 1.0;
                pos[j] += f64::from(u8::from(it.y[j] >= 0.5));
            }
        }
    }
    let wp: Vec<f64> = (0..k)
        .map(|j| (obs[j] / (2.0 * pos[j].max(1.0))).min(20.0))
        .collect();
    let wn: Vec<f64> = (0..k)
        .map(|j| (obs[j] / (2.0 * (obs[j] - pos[j]).max(1.0))).min(20.0))
        .collect();
    let mut out = Vec::new();
    for p in parts {
        for it in &p.part.items {
            for j in 0..k {
                let w = if !it.mask[j] {
                    0.0
                } else if kind == HeadKind::Score {
                    p.part.weight
                } else if it.y[j] >= 0.5 {
                    wp[j] * p.part.weight
                } else {
                    wn[j] * p.part.weight
                };
                out.push(w as f32);
            }
        }
    }
    (out, wp, wn)
}

/// Concatenates parts by language: (name, x, y, mask).
type LangSet = (String, Tensor, Vec<Vec<f32>>, Vec<Vec<bool>>);

fn by_language(sets: &[&Embedded]) -> Result<Vec<LangSet>> {
    let langs: std::collections::BTreeSet<&str> =
        sets.iter().map(|s| s.part.lang.as_str()).collect();
    let mut out = Vec::new();
    for lang in langs {
        let ps: Vec<&Embedded> = sets
            .iter()
            .copied()
            .filter(|s| s.part.lang == lang)
            .collect();
        let x = Tensor::cat(&ps.iter().map(|p| &p.x).collect::<Vec<_>>(), 0)?;
        let y = ps.iter().flat_map(|p| p.y()).collect();
        let m = ps.iter().flat_map(|p| p.mask()).collect();
        out.push((format!("dev-{lang}"), x, y, m));
    }
    Ok(out)
}

/// Trains a sigmoid-kind head; the caller has loaded the config and the encoder.
pub fn train(
    args: &super::TrainArgs,
    cfg: &TrainConfig,
    enc: &Encoder,
    train_parts: Vec<Part>,
    dev_parts: Vec<Part>,
    data_record: serde_json::Map<String, serde_json::Value>,
    t_all: Instant,
) -> Result<()> {
    let cache = args.sources.embedding_cache();
    let eb = cfg.optim.embed_batch;
    let kind = cfg.kind;
    let k = cfg.labels.len();
    let info = enc.info().clone();
    let mut train_sets = Vec::new();
    for p in train_parts {
        train_sets.push(embed_part(enc, &cache, p, eb, cfg.cues)?);
    }
    let mut dev_sets = Vec::new();
    for p in dev_parts {
        dev_sets.push(embed_part(enc, &cache, p, eb, cfg.cues)?);
    }
    if args.embed_only {
        // also embed the test sets, so one job fills the cache for train and eval
        let roots = args.sources.roots();
        for (_, p, _) in prepare_tests(cfg, &roots)? {
            embed_part(enc, &cache, p, eb, cfg.cues)?;
        }
        tracing::info!("embed-only: done");
        return Ok(());
    }
    let embed_seconds: f64 = train_sets.iter().chain(&dev_sets).map(|s| s.seconds).sum();
    let embedded_now: usize = train_sets
        .iter()
        .chain(&dev_sets)
        .map(|s| s.embedded_now)
        .sum();

    // ---- assemble
    let x = Tensor::cat(&train_sets.iter().map(|s| &s.x).collect::<Vec<_>>(), 0)?;
    let n = x.dims2()?.0;
    let yv: Vec<f32> = train_sets
        .iter()
        .flat_map(|s| s.part.items.iter().flat_map(|i| i.y.clone()))
        .collect();
    let (cw, wpos, wneg) = cell_weights(kind, &train_sets.iter().collect::<Vec<_>>(), k);
    let y = Tensor::from_vec(yv, (n, k), &Device::Cpu)?;
    let cw = Tensor::from_vec(cw, (n, k), &Device::Cpu)?;
    let std = fit::Standardizer::fit(&x)?;
    let xz = std.apply(&x)?;
    let dev_lang = by_language(&dev_sets.iter().collect::<Vec<_>>())?;
    let dev_z: Vec<SigmoidDev> = dev_lang
        .iter()
        .map(|(name, x, y, m)| {
            Ok(SigmoidDev {
                name: name.clone(),
                x: std.apply(x)?,
                y: y.clone(),
                mask: m.clone(),
            })
        })
        .collect::<Result<_>>()?;
    let half = vec![0.5f32; k];
    let score = move |p: &[Vec<f32>], d: &SigmoidDev| primary(kind, p, &d.y, &d.mask, &half);

    // ---- fit: weight-decay grid, early stopping on the mean over languages
    let t_fit = Instant::now();
    let mut grid = Vec::new();
    let mut best: Option<(fit::FitResult, f64)> = None;
    let fit_config = |wd: f64| FitConfig::new(&cfg.optim, wd, cfg.seed);
    for &wd in &cfg.optim.weight_decay {
        let fc = fit_config(wd);
        let r = fit::fit_sigmoid(&xz, &y, &cw, &dev_z, &score, &fc)?;
        tracing::info!(
            weight_decay = wd,
            best_epoch = r.best_epoch,
            epochs = r.history.len(),
            dev = format!("{:.4}", r.dev_score),
            "fit"
        );
        grid.push(
            serde_json::json!({"weight_decay": wd, "best_epoch": r.best_epoch,
                                     "epochs_run": r.history.len(), "dev_score": r.dev_score}),
        );
        if best.as_ref().is_none_or(|(b, _)| r.dev_score > b.dev_score) {
            best = Some((r, wd));
        }
    }
    let (best, best_wd) = best.expect("non-empty grid");
    let fit_seconds = t_fit.elapsed().as_secs_f64();
    let (w, b) = std.fold(&best.weight, &best.bias)?;
    // ---- out-of-fold logits over the training set, for a Platt scaling on more than dev
    let oof = if cfg.calibration_folds >= 2 {
        let cells: Vec<&Item> = train_sets.iter().flat_map(|s| &s.part.items).collect();
        let folds = OutOfFold {
            folds: cfg.calibration_folds,
            seed: cfg.seed,
        };
        Some(folds.logits(&xz, &y, &cw, &dev_z, &score, &fit_config(best_wd), &cells)?)
    } else {
        None
    };

    // ---- calibration on dev (Platt, per-language Platt, thresholds), and its figures on dev
    // halves it did not see
    let no_recal: Vec<&str> = cfg
        .dev
        .iter()
        .filter(|s| !s.recalibrate)
        .map(|s| s.name.as_str())
        .collect();
    let dev_rows: Vec<DevRows> = dev_sets
        .iter()
        .map(|d| DevRows {
            name: d.part.name.clone(),
            lang: d.part.lang.clone(),
            recalibrate: !no_recal.contains(&d.part.name.as_str()),
            x: d.x.clone(),
            y: d.y(),
            m: d.mask(),
        })
        .collect();
    let per_lang_thr = cfg.language_thresholds;
    let cal = calibrate(kind, &w, &b, oof.as_ref(), &dev_rows, per_lang_thr)?;
    let crossfit = crossfit(
        kind,
        &cfg.labels,
        (&w, &b),
        oof.as_ref(),
        &dev_rows,
        per_lang_thr,
        cfg.seed,
    )?;
    let mut dev_metrics = serde_json::Map::new();
    let mut dev_uncal = serde_json::Map::new();
    let mut dev_pooled_ece = serde_json::Map::new();
    for (name, dx, dy, dm) in &dev_lang {
        let lang = name.trim_start_matches("dev-");
        let p0 = fit::sigmoid_rows(dx, &w, &b)?;
        let r0 = report(kind, &cfg.labels, &p0, dy, dm, &vec![0.5; k]);
        dev_uncal.insert(name.clone(), serde_json::to_value(r0).expect("json"));
        let pp = fit::sigmoid_rows(dx, &cal.w, &cal.b)?;
        dev_pooled_ece.insert(name.clone(), serde_json::json!(cells_ece(&pp, dy, dm)));
        let p1 = cal.probabilities(lang, dx)?;
        let r1 = report(kind, &cfg.labels, &p1, dy, dm, cal.thresholds_for(lang));
        tracing::info!(dev = %name, primary = format!("{:.4}", r1.primary),
                       ece = format!("{:.4}", r1.ece_15), "dev (calibrated)");
        dev_metrics.insert(name.clone(), serde_json::to_value(r1).expect("json"));
    }
    for (set, v) in &crossfit {
        tracing::info!(dev = %set, primary = format!("{:.4}", v["primary"].as_f64().unwrap_or(f64::NAN)),
                       ece = format!("{:.4}", v["ece_15"].as_f64().unwrap_or(f64::NAN)), "dev (cross-fitted)");
    }
    let Calibration {
        w: w_cal,
        b: b_cal,
        platt,
        lang_cal,
        thresholds,
        lang_thresholds,
    } = cal;

    // ---- version + save
    let mut h = Sha256::new();
    for v in w_cal
        .flatten_all()?
        .to_vec1::<f32>()?
        .iter()
        .chain(&b_cal.to_vec1::<f32>()?)
    {
        h.update(v.to_le_bytes());
    }
    // the version names all that moves the outputs or the decisions, not the weights alone
    for (lang, cal) in &lang_cal {
        h.update(lang.as_bytes());
        for p in cal {
            h.update(p.a.to_le_bytes());
            h.update(p.c.to_le_bytes());
        }
    }
    let per_lang = lang_thresholds.iter().map(|(l, t)| (l.as_str(), t));
    for (lang, t) in std::iter::once(("", &thresholds)).chain(per_lang) {
        h.update(lang.as_bytes());
        for v in t {
            h.update(v.to_le_bytes());
        }
    }
    let whash = hex::encode(h.finalize());
    let version = format!(
        "{}-{}-{}",
        cfg.task,
        super::today().replace('-', ""),
        &whash[..8]
    );
    let head = LinearHead::new(
        &cfg.task,
        cfg.labels.clone(),
        cfg.languages.clone(),
        version,
        w_cal,
        b_cal,
        1.0,
    )?
    .with_kind(
        kind,
        (kind != HeadKind::Softmax).then(|| thresholds.clone()),
    )?
    .with_language_calibration(lang_cal.clone())?
    .with_language_thresholds(lang_thresholds.clone())?
    .with_cues(cfg.cues)?;
    let train_record = serde_json::json!({
        "date": super::today(),
        "kind": kind,
        "model": "independent logistic outputs on frozen mean-pooled L2-normalised embeddings; inputs standardised during fitting, folded into W and b",
        "inputs": if cfg.cues { format!("embedding, then the text's lexical cues ({})", crate::text::cues::VERSION) } else { "embedding".to_string() },
        "loss": "weighted binary cross-entropy over observed cells (missing targets weigh 0; 0/1 targets balanced per label: w = N_obs / (2 n_side), capped at 20; soft score targets weigh 1), times the source weight, + 0.5 * weight_decay * ||W||^2 (standardised space)",
        "optimizer": "Adam (candle-nn AdamW with decoupled decay 0)",
        "selection": "early stopping and weight-decay grid on the mean over languages of the dev figure at threshold 0.5 (sigmoid: macro-F1 over observed labels; binary: 2-class macro-F1; score: Spearman)",
        "calibration": "Platt scaling per output (sigma(a z + c)) fitted on the pooled dev sets by Newton's method on the BCE, folded into W and b; temperature stays 1",
        "language_calibration": "with dev data in two or more languages: a second Platt scaling per (language, output) fitted on that language's dev set (less the sets marked recalibrate = false) on top of the pooled one, stored in head.json language_calibration and applied by the text's language; thresholds are chosen after it",
        "language_platt": lang_cal,
        "platt": platt.iter().zip(&cfg.labels).map(|((a, c), l)| (l.clone(), serde_json::json!({"a": a, "c": c}))).collect::<BTreeMap<_, _>>(),
        "thresholds": "chosen on the pooled calibrated dev outputs (sigmoid: per-label F1; binary: 2-class macro-F1; score: quartile accuracy); with language_thresholds = true, also per recalibrated language on that language's own recalibration sets (head.json language_thresholds)",
        "language_thresholds": lang_thresholds,
        "config": cfg,
        "config_path": args.config,
        "seed": cfg.seed,
        "encoder": {"model_id": info.model_id, "sha256": info.sha256, "source": info.source,
                    "max_tokens": info.max_tokens, "prefix": info.prefix, "precision": info.precision},
        "data": data_record,
        "train_size": n,
        "label_weights": {"positive": wpos, "negative": wneg},
        "dev_sizes": dev_sets.iter().map(|d| (d.part.name.clone(), d.part.items.len())).collect::<BTreeMap<_, _>>(),
        "grid": grid,
        "chosen_weight_decay": best_wd,
        "best_epoch": best.best_epoch,
        "history": best.history,
        "wall_clock_s": {"embedding_this_run": embed_seconds, "texts_embedded_this_run": embedded_now,
                          "fit_all_grid": fit_seconds, "total": t_all.elapsed().as_secs_f64()},
    });
    let metrics = serde_json::json!({
        "dev": dev_metrics,
        "dev_before_calibration_at_0_5": dev_uncal,
        "dev_ece_pooled_platt_only": dev_pooled_ece,
        "dev_mean_over_languages": best.dev_score,
        "dev_crossfit": crossfit,
    });
    super::save_head_and_manifest(
        args,
        cfg,
        &head,
        &info,
        serde_json::json!({"metrics": metrics, "training": train_record}),
    )
}

/// Scores a sigmoid-kind head on its config's test sets; returns (results, markdown table).
pub fn eval(
    args: &super::EvalArgs,
    cfg: &TrainConfig,
    enc: &Encoder,
    heads: &HeadSet,
) -> Result<(serde_json::Map<String, serde_json::Value>, String, String)> {
    let head = heads.get(&args.task).ok_or_else(|| {
        Error::model(format!(
            "no {} head in {}",
            args.task,
            args.models_dir.display()
        ))
    })?;
    if head.kind != cfg.kind {
        return Err(Error::model(format!(
            "head {} is {:?} but its config says {:?}",
            head.task, head.kind, cfg.kind
        )));
    }
    let roots = args.sources.roots();
    let cache = args.sources.embedding_cache();
    let half = vec![0.5; head.labels.len()];
    let mut results = serde_json::Map::new();
    let mut table = String::from(
        "| test set | lang | n | ours | published | ECE (15 bins) |\n|---|---|---|---|---|---|\n",
    );
    for (s, part, stats) in prepare_tests(cfg, &roots)? {
        let e = embed_part(enc, &cache, part, cfg.optim.embed_batch, head.cues)?;
        // recalibrated for the set's language, as the analysis does for a message
        let p = head.probabilities_in(&e.x, &s.lang)?;
        let thr = head.thresholds_for(&s.lang).unwrap_or(&half);
        let r = report(head.kind, &head.labels, &p, &e.y(), &e.mask(), thr);
        let ours = match head.kind {
            HeadKind::Sigmoid => format!(
                "macro-F1 **{:.3}** (at 0.5: {:.3}); per label: {}",
                r.primary,
                r.macro_f1_at_0_5.unwrap_or(f64::NAN),
                r.f1
                    .iter()
                    .map(|(l, f)| format!("{l} {f:.2}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            HeadKind::Binary => format!(
                "F1({}) **{:.3}**, weighted F1 **{:.3}**, 2-class macro-F1 {:.3}, accuracy {:.3}, predicted positive {:.3}",
                head.labels[0],
                r.f1.get(&head.labels[0]).copied().unwrap_or(f64::NAN),
                r.weighted_f1.unwrap_or(f64::NAN),
                r.primary,
                r.accuracy.unwrap_or(f64::NAN),
                r.positive_rate_pred.unwrap_or(f64::NAN)
            ),
            _ => format!(
                "Spearman **{:.3}**, top-vs-bottom-quartile accuracy **{:.3}** (n {}), Pearson {:.3}",
                r.primary,
                r.quartile_accuracy.unwrap_or(f64::NAN),
                r.quartile_n.unwrap_or(0),
                r.pearson.unwrap_or(f64::NAN)
            ),
        };
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.3} |\n",
            s.name,
            s.lang,
            r.n,
            ours,
            if s.published.is_empty() {
                "–"
            } else {
                &s.published
            },
            r.ece_15
        ));
        let mut v = serde_json::to_value(&r).expect("json");
        if head.language_calibration.contains_key(&s.lang) {
            let p0 = head.probabilities(&e.x)?;
            v["ece_15_without_language_calibration"] =
                serde_json::json!(cells_ece(&p0, &e.y(), &e.mask()));
        }
        v["path"] = serde_json::json!(s.path);
        v["lang"] = serde_json::json!(s.lang);
        v["read"] = serde_json::to_value(&stats).expect("json");
        v["holdout"] = serde_json::json!(s.holdout);
        v["max_items"] = serde_json::json!(s.max_items);
        v["note"] = serde_json::json!(s.note);
        v["published"] = serde_json::json!(s.published);
        results.insert(s.name.clone(), v);
    }
    Ok((results, table, head.version.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// A one-output set whose embedding is the head's logit `z` and whose labels are drawn
    /// from `σ(z + shift)`: `shift` is how far the language's truth sits from the head.
    fn set(name: &str, lang: &str, recalibrate: bool, shift: f32, seed: u64) -> DevRows {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let z: Vec<f32> = (0..3000).map(|_| rng.random_range(-4.0f32..4.0)).collect();
        let y = z
            .iter()
            .map(|v| {
                vec![f32::from(u8::from(
                    rng.random::<f32>() < 1.0 / (1.0 + (-(v + shift)).exp()),
                ))]
            })
            .collect();
        DevRows {
            name: name.into(),
            lang: lang.into(),
            recalibrate,
            x: Tensor::from_vec(z.clone(), (z.len(), 1), &Device::Cpu).unwrap(),
            y,
            m: vec![vec![true]; z.len()],
        }
    }

    #[test]
    fn each_language_is_calibrated_and_thresholded_on_its_own_recalibration_sets() {
        let w = Tensor::new(&[[1.0f32]], &Device::Cpu).unwrap();
        let b = Tensor::new(&[0.0f32], &Device::Cpu).unwrap();
        let en = set("en-dev", "en", true, 0.0, 1);
        let ru = set("ru-native", "ru", true, -2.0, 2);
        // a set of the same language kept out of its recalibration (e.g. a machine translation)
        let ru_mt = set("ru-mt", "ru", false, 2.0, 3);
        let probe = Tensor::new(&[[-1.0f32], [0.0], [1.0], [2.5]], &Device::Cpu).unwrap();
        let kind = HeadKind::Binary;
        let with_mt = calibrate(kind, &w, &b, None, &[en, ru, ru_mt], true).unwrap();
        let (en, ru) = (
            set("en-dev", "en", true, 0.0, 1),
            set("ru-native", "ru", true, -2.0, 2),
        );
        let without = calibrate(kind, &w, &b, None, &[en, ru], true).unwrap();
        // Russian ends where its native set puts it, with or without the translation pooled in
        let (a, c) = (
            with_mt.probabilities("ru", &probe).unwrap(),
            without.probabilities("ru", &probe).unwrap(),
        );
        for (p, q) in a.iter().zip(&c) {
            assert!((p[0] - q[0]).abs() < 0.02, "{a:?} vs {c:?}");
        }
        // ... which is about σ(z − 2)
        for (p, z) in c.iter().zip([-1.0f32, 0.0, 1.0, 2.5]) {
            let want = 1.0 / (1.0 + (-(z - 2.0)).exp());
            assert!((p[0] - want).abs() < 0.06, "{} vs {want}", p[0]);
        }
        // each language gets thresholds of its own; a language without falls back to the pooled ones
        let (t_en, t_ru) = (
            without.lang_thresholds["en"][0],
            without.lang_thresholds["ru"][0],
        );
        assert!((0.0..=1.0).contains(&t_en) && (0.0..=1.0).contains(&t_ru));
        assert_eq!(without.thresholds_for("de"), without.thresholds.as_slice());
        let en = set("en-dev", "en", true, 0.0, 1);
        let ru = set("ru-native", "ru", true, -2.0, 2);
        let pooled = calibrate(kind, &w, &b, None, &[en, ru], false).unwrap();
        assert!(pooled.lang_thresholds.is_empty());
        assert_eq!(pooled.thresholds_for("ru"), pooled.thresholds.as_slice());
    }

    #[test]
    fn cross_fitting_scores_every_set_on_halves_the_calibration_did_not_see() {
        let w = Tensor::new(&[[1.0f32]], &Device::Cpu).unwrap();
        let b = Tensor::new(&[0.0f32], &Device::Cpu).unwrap();
        let dev = [
            set("en-dev", "en", true, 0.0, 1),
            set("ru-native", "ru", true, -2.0, 2),
        ];
        let labels = vec!["toxic".to_string()];
        let kind = HeadKind::Binary;
        let a = crossfit(kind, &labels, (&w, &b), None, &dev, true, 7).unwrap();
        assert_eq!(a.keys().collect::<Vec<_>>(), ["en-dev", "ru-native"]);
        for v in a.values() {
            let (p, e) = (
                v["primary"].as_f64().unwrap(),
                v["ece_15"].as_f64().unwrap(),
            );
            assert!((0.5..=1.0).contains(&p), "{v}");
            assert!((0.0..0.1).contains(&e), "{v}");
        }
        // seeded: the same halves again
        assert_eq!(
            a,
            crossfit(kind, &labels, (&w, &b), None, &dev, true, 7).unwrap()
        );
        // out of sample it can only be at most the in-sample figure, on average over the halves
        let cal = calibrate(kind, &w, &b, None, &dev, true).unwrap();
        let d = &dev[1];
        let p = cal.probabilities("ru", &d.x).unwrap();
        let inside = report(kind, &labels, &p, &d.y, &d.m, cal.thresholds_for("ru")).primary;
        assert!(a["ru-native"]["primary"].as_f64().unwrap() <= inside + 0.02);
    }

    #[test]
    fn out_of_fold_logits_score_every_training_row_and_can_replace_dev_for_platt() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let n = 400;
        let xs: Vec<f32> = (0..n * 2).map(|_| rng.random_range(-2.0f32..2.0)).collect();
        // noisy labels, P(1) = σ(3·x₀), so that a Platt scaling has a finite optimum
        let ys: Vec<f32> = (0..n)
            .map(|i| {
                let p = 1.0 / (1.0 + (-3.0 * xs[2 * i]).exp());
                f32::from(u8::from(rng.random::<f32>() < p))
            })
            .collect();
        let x = Tensor::from_vec(xs.clone(), (n, 2), &Device::Cpu).unwrap();
        let y = Tensor::from_vec(ys.clone(), (n, 1), &Device::Cpu).unwrap();
        let cw = Tensor::ones((n, 1), candle_core::DType::F32, &Device::Cpu).unwrap();
        let dev = vec![SigmoidDev {
            name: "dev-en".into(),
            x: x.clone(),
            y: ys.iter().map(|v| vec![*v]).collect(),
            mask: vec![vec![true]; n],
        }];
        let half = [0.5f32];
        let score = move |p: &[Vec<f32>], d: &SigmoidDev| {
            primary(HeadKind::Binary, p, &d.y, &d.mask, &half)
        };
        let fc = FitConfig {
            lr: 0.05,
            weight_decay: 1e-3,
            batch_size: 64,
            max_epochs: 30,
            patience: 5,
            seed: 1,
        };
        let items: Vec<Item> = ys
            .iter()
            .map(|v| Item {
                text: String::new(),
                y: vec![*v],
                mask: vec![true],
                group: 0,
            })
            .collect();
        let refs: Vec<&Item> = items.iter().collect();
        let oof = OutOfFold { folds: 4, seed: 3 };
        let (z, t, m) = oof.logits(&x, &y, &cw, &dev, &score, &fc, &refs).unwrap();
        assert_eq!((z.len(), t.len(), m.len()), (n, n, n));
        // each row scored by a fit that left it out still gets its side right
        let right = z
            .iter()
            .zip(&ys)
            .filter(|(z, y)| (z[0] > 0.0) == (**y > 0.5))
            .count();
        assert!(right > n * 3 / 4, "{right} of {n}");
        assert_eq!(
            z,
            oof.logits(&x, &y, &cw, &dev, &score, &fc, &refs).unwrap().0
        );
        // the pooled Platt scaling is fitted on those logits when given: twice the logits, half the slope
        let w = Tensor::new(&[[1.0f32, 0.0]], &Device::Cpu).unwrap();
        let b = Tensor::new(&[0.0f32], &Device::Cpu).unwrap();
        let rows = DevRows {
            name: "dev".into(),
            lang: "en".into(),
            recalibrate: true,
            x,
            y: t.clone(),
            m: m.clone(),
        };
        let doubled: Vec<Vec<f32>> = z.iter().map(|r| vec![2.0 * r[0]]).collect();
        let a1 = calibrate(
            HeadKind::Binary,
            &w,
            &b,
            Some(&(z, t.clone(), m.clone())),
            &[],
            false,
        );
        let rows = [rows];
        let a1 = a1.unwrap().platt[0].0;
        let a2 = calibrate(
            HeadKind::Binary,
            &w,
            &b,
            Some(&(doubled, t, m)),
            &rows,
            false,
        )
        .unwrap()
        .platt[0]
            .0;
        assert!((a1 / a2 - 2.0).abs() < 0.05, "{a1} vs {a2}");
    }
}
