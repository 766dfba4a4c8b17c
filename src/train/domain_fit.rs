//! Fits a domain's maps ([`crate::analysis::domain`]) on the support set's dev split by EVAL.md's
//! rule ("Domain calibration: the rule"): per head, candidates from simplest to richest, each
//! scored by 5-fold cross-validation inside dev (folds by pair, so both languages of a pair are
//! held out together), a richer one chosen only when it beats every simpler one by 0.01; the
//! chosen one refitted on the whole of dev.
use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::metrics;
use crate::analysis::{
    compose::EMOTIONS,
    domain::{General, LanguageMaps, Map},
};

/// Cross-validation folds.
pub const FOLDS: usize = 5;
/// A richer candidate must beat every simpler one by this much.
pub const MARGIN: f64 = 0.01;
pub const LANGUAGES: [&str; 2] = ["en", "ru"];

/// The fold of a pair: sha256 of `support-cal-v1:` and the pair id, modulo [`FOLDS`].
pub fn fold_of(pair_id: &str) -> usize {
    let d = Sha256::digest(format!("support-cal-v1:{pair_id}").as_bytes());
    (u64::from_be_bytes(d[..8].try_into().expect("8 bytes")) % FOLDS as u64) as usize
}

/// One labelled dev message with the general outputs the maps read.
#[derive(Clone, Debug)]
pub struct Row {
    pub lang: String,
    pub fold: usize,
    /// [`domain::INPUTS`](crate::analysis::domain::INPUTS).
    pub x: Vec<f32>,
    pub g: General,
    /// The served general politeness and formality (`None` where style abstains), frustrated
    /// tone and urgency (same).
    pub politeness: Option<f32>,
    pub formality: Option<f32>,
    pub frustrated: Option<f32>,
    pub urgency: Option<f32>,
    /// Gold: sentiment class (negative, neutral, positive), emotions, politeness class
    /// ("rude", "neutral", "polite"), formality target (1, 0.5, 0), frustration, urgency.
    pub sentiment: usize,
    pub emotions: [bool; 7],
    pub politeness_class: String,
    pub formality_target: f32,
    pub frustration: bool,
    pub urgent: bool,
}

/// The candidates of one head, simplest first.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum Candidate {
    None,
    /// Platt (scalars), temperature and prior shift (sentiment) or cut points (politeness).
    Simple,
    /// A logistic over [`domain::INPUTS`](crate::analysis::domain::INPUTS), one fit over both languages with a language intercept.
    Pooled {
        l2: f64,
    },
    /// A logistic over [`domain::INPUTS`](crate::analysis::domain::INPUTS) per language.
    PerLanguage {
        l2: f64,
    },
}

impl Candidate {
    pub fn name(&self) -> String {
        match self {
            Candidate::None => "none".into(),
            Candidate::Simple => "simple".into(),
            Candidate::Pooled { l2 } => format!("pooled-l2-{l2}"),
            Candidate::PerLanguage { l2 } => format!("per-language-l2-{l2}"),
        }
    }
}

/// The heads and signals a domain maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Sentiment,
    Emotions,
    Politeness,
    Formality,
    Frustration,
    Urgency,
}

pub const TARGETS: [Target; 6] = [
    Target::Sentiment,
    Target::Emotions,
    Target::Politeness,
    Target::Formality,
    Target::Frustration,
    Target::Urgency,
];

impl Target {
    pub fn candidates(self) -> Vec<Candidate> {
        let mut c = vec![Candidate::None, Candidate::Simple];
        if self != Target::Politeness {
            for l2 in [10.0, 1.0] {
                c.push(Candidate::Pooled { l2 });
            }
            for l2 in [10.0, 1.0] {
                c.push(Candidate::PerLanguage { l2 });
            }
        }
        c
    }

    /// Whether the row takes part (its general output exists, as the evaluation reads it).
    fn has(self, r: &Row) -> bool {
        match self {
            Target::Sentiment => r.g.h.sentiment.is_some(),
            Target::Emotions => r.g.h.emotions.is_some(),
            Target::Politeness => r.politeness.is_some(),
            Target::Formality => r.formality.is_some(),
            Target::Frustration => r.frustrated.is_some(),
            Target::Urgency => r.urgency.is_some(),
        }
    }
}

/// Softmax regression with soft targets and an L2 penalty `l2` on the weights (not the biases),
/// by Newton's method on standardised inputs. Returns `(mean, scale, W, b)`.
#[allow(clippy::type_complexity)]
pub fn fit_softmax_l2(
    x: &[Vec<f32>],
    y: &[Vec<f64>],
    l2: f64,
) -> (Vec<f32>, Vec<f32>, Vec<Vec<f32>>, Vec<f32>) {
    let n = x.len();
    let d = x.first().map_or(0, Vec::len);
    let k = y.first().map_or(0, Vec::len);
    let mut mean = vec![0f64; d];
    let mut var = vec![0f64; d];
    for r in x {
        for j in 0..d {
            mean[j] += r[j] as f64 / n.max(1) as f64;
        }
    }
    for r in x {
        for j in 0..d {
            var[j] += (r[j] as f64 - mean[j]).powi(2) / n.max(1) as f64;
        }
    }
    // A constant input (a cue that never fires in this data) gets scale 1: it stays 0 and its
    // weight is held at 0 by the penalty.
    let scale: Vec<f64> = var
        .iter()
        .map(|v| if v.sqrt() > 1e-6 { v.sqrt() } else { 1.0 })
        .collect();
    let z: Vec<Vec<f64>> = x
        .iter()
        .map(|r| {
            (0..d)
                .map(|j| (r[j] as f64 - mean[j]) / scale[j])
                .chain([1.0])
                .collect()
        })
        .collect();
    let d1 = d + 1;
    let m = k * d1;
    let mut theta = vec![0f64; m];
    let probs = |theta: &[f64], zi: &[f64]| -> Vec<f64> {
        let s: Vec<f64> = (0..k)
            .map(|c| (0..d1).map(|j| theta[c * d1 + j] * zi[j]).sum())
            .collect();
        let mx = s.iter().copied().fold(f64::MIN, f64::max);
        let e: Vec<f64> = s.iter().map(|v| (v - mx).exp()).collect();
        let t: f64 = e.iter().sum();
        e.iter().map(|v| v / t).collect()
    };
    let penalty = |idx: usize| if idx % d1 == d { 1e-6 } else { l2 };
    let objective = |theta: &[f64]| -> f64 {
        let mut s = 0.0;
        for (zi, yi) in z.iter().zip(y) {
            let p = probs(theta, zi);
            for c in 0..k {
                s -= yi[c] * p[c].max(1e-300).ln();
            }
        }
        s + (0..m)
            .map(|i| 0.5 * penalty(i) * theta[i] * theta[i])
            .sum::<f64>()
    };
    let mut current = objective(&theta);
    for _ in 0..50 {
        let mut g = vec![0f64; m];
        let mut h = vec![0f64; m * m];
        for (zi, yi) in z.iter().zip(y) {
            let p = probs(&theta, zi);
            for c in 0..k {
                let r = p[c] - yi[c];
                for j in 0..d1 {
                    g[c * d1 + j] += r * zi[j];
                }
                for c2 in 0..k {
                    let w = p[c] * (if c == c2 { 1.0 } else { 0.0 } - p[c2]);
                    if w == 0.0 {
                        continue;
                    }
                    for j in 0..d1 {
                        let wz = w * zi[j];
                        let row = (c * d1 + j) * m + c2 * d1;
                        for (l, zl) in zi.iter().enumerate() {
                            h[row + l] += wz * zl;
                        }
                    }
                }
            }
        }
        for i in 0..m {
            g[i] += penalty(i) * theta[i];
            h[i * m + i] += penalty(i);
        }
        let Some(step) = solve(h, g.clone(), m) else {
            break;
        };
        // backtracking: a full Newton step can overshoot from far away
        let mut t = 1.0;
        let mut improved = false;
        while t > 1e-4 {
            let next: Vec<f64> = theta.iter().zip(&step).map(|(a, s)| a - t * s).collect();
            let o = objective(&next);
            if o <= current {
                improved = current - o > 1e-9 * current.abs().max(1.0);
                theta = next;
                current = o;
                break;
            }
            t *= 0.5;
        }
        if !improved {
            break;
        }
    }
    let w: Vec<Vec<f32>> = (0..k)
        .map(|c| (0..d).map(|j| theta[c * d1 + j] as f32).collect())
        .collect();
    let b: Vec<f32> = (0..k).map(|c| theta[c * d1 + d] as f32).collect();
    (
        mean.iter().map(|v| *v as f32).collect(),
        scale.iter().map(|v| *v as f32).collect(),
        w,
        b,
    )
}

/// Solves `a x = b` (a symmetric positive definite, `m` × `m`) by Gaussian elimination with
/// partial pivoting; `None` when singular.
fn solve(mut a: Vec<f64>, mut b: Vec<f64>, m: usize) -> Option<Vec<f64>> {
    for col in 0..m {
        let piv =
            (col..m).max_by(|&i, &j| a[i * m + col].abs().total_cmp(&a[j * m + col].abs()))?;
        if a[piv * m + col].abs() < 1e-12 {
            return None;
        }
        if piv != col {
            for j in 0..m {
                a.swap(col * m + j, piv * m + j);
            }
            b.swap(col, piv);
        }
        for i in col + 1..m {
            let f = a[i * m + col] / a[col * m + col];
            if f == 0.0 {
                continue;
            }
            for j in col..m {
                a[i * m + j] -= f * a[col * m + j];
            }
            b[i] -= f * b[col];
        }
    }
    let mut x = vec![0f64; m];
    for i in (0..m).rev() {
        let s: f64 = (i + 1..m).map(|j| a[i * m + j] * x[j]).sum();
        x[i] = (b[i] - s) / a[i * m + i];
    }
    Some(x)
}

/// A binary logistic (soft targets `y`) as a [`Map::Logistic`].
pub fn fit_logistic(x: &[Vec<f32>], y: &[f32], l2: f64) -> Map {
    let yy: Vec<Vec<f64>> = y.iter().map(|v| vec![1.0 - *v as f64, *v as f64]).collect();
    let (mean, scale, w, b) = fit_softmax_l2(x, &yy, l2);
    Map::Logistic {
        w: w[1].iter().zip(&w[0]).map(|(a, c)| a - c).collect(),
        b: b[1] - b[0],
        mean,
        scale,
    }
}

/// A pooled fit has one more input, the language (0 en, 1 ru): folded into each language's
/// intercept so that the served map reads [`domain::INPUTS`](crate::analysis::domain::INPUTS) alone.
fn drop_language(map: &Map, lang_value: f32) -> Map {
    let fold = |mean: &[f32], scale: &[f32], w: &[f32], b: f32| {
        let last = w.len() - 1;
        let shift = w[last] * (lang_value - mean[last]) / scale[last];
        (
            mean[..last].to_vec(),
            scale[..last].to_vec(),
            w[..last].to_vec(),
            b + shift,
        )
    };
    match map {
        Map::Logistic { mean, scale, w, b } => {
            let (mean, scale, w, b) = fold(mean, scale, w, *b);
            Map::Logistic { mean, scale, w, b }
        }
        Map::Multinomial { mean, scale, w, b } => {
            let parts: Vec<_> = w
                .iter()
                .zip(b)
                .map(|(w, b)| fold(mean, scale, w, *b))
                .collect();
            Map::Multinomial {
                mean: parts[0].0.clone(),
                scale: parts[0].1.clone(),
                w: parts.iter().map(|p| p.2.clone()).collect(),
                b: parts.iter().map(|p| p.3).collect(),
            }
        }
        other => other.clone(),
    }
}

fn with_language(r: &Row) -> Vec<f32> {
    let mut x = r.x.clone();
    x.push(if r.lang == "ru" { 1.0 } else { 0.0 });
    x
}

/// One map of `target` (or, for emotions, of one label `label`) fitted on `rows` (one language
/// for `Simple` and `PerLanguage`; both for `Pooled`, then returned per language).
fn fit_one(
    target: Target,
    label: usize,
    cand: Candidate,
    rows: &[&Row],
) -> BTreeMap<String, Option<Map>> {
    let langs: Vec<String> = LANGUAGES.iter().map(|l| l.to_string()).collect();
    let mut out = BTreeMap::new();
    let binary_y = |r: &Row| -> f32 {
        match target {
            Target::Emotions => r.emotions[label] as u8 as f32,
            Target::Formality => r.formality_target,
            Target::Frustration => r.frustration as u8 as f32,
            Target::Urgency => r.urgent as u8 as f32,
            _ => 0.0,
        }
    };
    let general = |r: &Row| -> f32 {
        match target {
            Target::Emotions => r.g.h.emotions.map_or(0.5, |e| e[label]),
            Target::Politeness => r.politeness.unwrap_or(0.5),
            Target::Formality => r.formality.unwrap_or(0.5),
            Target::Frustration => r.frustrated.unwrap_or(0.0),
            Target::Urgency => r.urgency.unwrap_or(0.0),
            Target::Sentiment => 0.0,
        }
    };
    let fit_rows = |rows: &[&Row], x: &dyn Fn(&Row) -> Vec<f32>, l2: f64| -> Map {
        let xs: Vec<Vec<f32>> = rows.iter().map(|r| x(r)).collect();
        if target == Target::Sentiment {
            let y: Vec<Vec<f64>> = rows
                .iter()
                .map(|r| (0..3).map(|c| (c == r.sentiment) as u8 as f64).collect())
                .collect();
            let (mean, scale, w, b) = fit_softmax_l2(&xs, &y, l2);
            Map::Multinomial { mean, scale, w, b }
        } else {
            let y: Vec<f32> = rows.iter().map(|r| binary_y(r)).collect();
            fit_logistic(&xs, &y, l2)
        }
    };
    match cand {
        Candidate::None => {
            for l in langs {
                out.insert(l, None);
            }
        }
        Candidate::Pooled { l2 } => {
            let m = fit_rows(rows, &with_language, l2);
            for (v, l) in langs.into_iter().enumerate() {
                out.insert(l, Some(drop_language(&m, v as f32)));
            }
        }
        Candidate::PerLanguage { l2 } => {
            for l in langs {
                let of: Vec<&Row> = rows.iter().copied().filter(|r| r.lang == l).collect();
                out.insert(l, Some(fit_rows(&of, &|r: &Row| r.x.clone(), l2)));
            }
        }
        Candidate::Simple => {
            for l in langs {
                let of: Vec<&Row> = rows.iter().copied().filter(|r| r.lang == l).collect();
                let map = match target {
                    Target::Sentiment => {
                        let p: Vec<Vec<f32>> = of
                            .iter()
                            .map(|r| r.g.h.sentiment.unwrap_or([1.0 / 3.0; 3]).to_vec())
                            .collect();
                        let y: Vec<usize> = of.iter().map(|r| r.sentiment).collect();
                        let (a, c) = super::fit::fit_softmax_recalibration(&p, &y);
                        Map::Softmax {
                            a: a as f32,
                            c: c.iter().map(|v| *v as f32).collect(),
                        }
                    }
                    Target::Politeness => {
                        let scored: Vec<(f32, &str)> = of
                            .iter()
                            .map(|r| (general(r), r.politeness_class.as_str()))
                            .collect();
                        fit_cuts(&scored)
                    }
                    _ => {
                        let z: Vec<f32> = of.iter().map(|r| logit(general(r))).collect();
                        let y: Vec<f32> = of.iter().map(|r| binary_y(r)).collect();
                        let (a, c) = super::fit::fit_platt(&z, &y);
                        Map::Platt {
                            a: a as f32,
                            c: c as f32,
                        }
                    }
                };
                out.insert(l, Some(map));
            }
        }
    }
    out
}

fn logit(p: f32) -> f32 {
    let p = p.clamp(1e-4, 1.0 - 1e-4);
    (p / (1.0 - p)).ln()
}

fn polite_class(p: f32) -> &'static str {
    if p < 0.4 {
        "rude"
    } else if p > 0.6 {
        "polite"
    } else {
        "neutral"
    }
}

/// Cut points `lo < hi` (grid of 0.01) that read the most three-class labels right; among
/// equals, the first found (lowest `lo`, then `hi`).
pub fn fit_cuts(scored: &[(f32, &str)]) -> Map {
    let mut best = (f64::MIN, 0.4, 0.6);
    for i in 1..99 {
        for j in i + 1..100 {
            let (lo, hi) = (i as f32 / 100.0, j as f32 / 100.0);
            let ok = scored
                .iter()
                .filter(|(v, y)| {
                    let c = if *v < lo {
                        "rude"
                    } else if *v > hi {
                        "polite"
                    } else {
                        "neutral"
                    };
                    c == *y
                })
                .count() as f64;
            if ok > best.0 {
                best = (ok, lo, hi);
            }
        }
    }
    Map::Cuts {
        lo: best.1,
        hi: best.2,
    }
}

/// What a language's maps of `target` make of a row: the scored value(s) the rule reads.
#[derive(Clone, Debug)]
enum Out {
    Dist(Vec<f32>),
    Scalar(f32),
    Emotions([f32; 7]),
}

fn predict(target: Target, maps: &LanguageMaps, r: &Row) -> Out {
    // as `domain::apply` does, with the inputs precomputed
    let x = &r.x;
    match target {
        Target::Sentiment => Out::Dist(match &maps.sentiment {
            Some(m) => m.distribution(&r.g.h.sentiment.unwrap_or([1.0 / 3.0; 3]), x),
            None => r.g.h.sentiment.unwrap_or([1.0 / 3.0; 3]).to_vec(),
        }),
        Target::Emotions => {
            let e = r.g.h.emotions.unwrap_or([0.0; 7]);
            Out::Emotions(std::array::from_fn(|k| {
                maps.emotions
                    .get(EMOTIONS[k])
                    .map_or(e[k], |m| m.scalar(e[k], x))
            }))
        }
        Target::Politeness => Out::Scalar(
            maps.politeness
                .as_ref()
                .map_or(r.politeness.unwrap_or(0.5), |m| {
                    m.scalar(r.politeness.unwrap_or(0.5), x)
                }),
        ),
        Target::Formality => Out::Scalar(
            maps.formality
                .as_ref()
                .map_or(r.formality.unwrap_or(0.5), |m| {
                    m.scalar(r.formality.unwrap_or(0.5), x)
                }),
        ),
        Target::Frustration => Out::Scalar(
            maps.frustration
                .as_ref()
                .map_or(r.frustrated.unwrap_or(0.0), |m| {
                    m.scalar(r.frustrated.unwrap_or(0.0), x)
                }),
        ),
        Target::Urgency => {
            Out::Scalar(maps.urgency.as_ref().map_or(r.urgency.unwrap_or(0.0), |m| {
                m.scalar(r.urgency.unwrap_or(0.0), x)
            }))
        }
    }
}

/// The figures the rule reads for one target on `rows` with predictions `out` (one language).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Score {
    /// The rule's score (the targeted figure, or the mean of two).
    pub score: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auc: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ece: Option<f64>,
}

fn score(target: Target, rows: &[&Row], out: &[Out]) -> Score {
    let scalar = |o: &Out| match o {
        Out::Scalar(v) => *v,
        _ => 0.0,
    };
    let auc_ece = |p: &[f32], y: &[bool]| {
        let s: Vec<f64> = p.iter().map(|v| *v as f64).collect();
        let yf: Vec<f32> = y.iter().map(|b| *b as u8 as f32).collect();
        (metrics::roc_auc(&s, y), metrics::binary_ece(p, &yf, 15))
    };
    match target {
        Target::Sentiment => {
            let ok = rows
                .iter()
                .zip(out)
                .filter(|(r, o)| match o {
                    Out::Dist(d) => metrics::argmax(d).0 == r.sentiment,
                    _ => false,
                })
                .count();
            let acc = ok as f64 / rows.len().max(1) as f64;
            Score {
                score: acc,
                accuracy: Some(acc),
                ..Default::default()
            }
        }
        Target::Emotions => {
            let mut top = 0;
            let (mut p, mut y) = (Vec::new(), Vec::new());
            for (r, o) in rows.iter().zip(out) {
                if let Out::Emotions(e) = o {
                    let k = metrics::argmax(e).0;
                    top += r.emotions[k] as usize;
                    p.push(e[0]);
                    y.push(r.emotions[0]);
                }
            }
            let acc = top as f64 / rows.len().max(1) as f64;
            let (auc, ece) = auc_ece(&p, &y);
            Score {
                score: 0.5 * (acc + auc),
                auc: Some(auc),
                accuracy: Some(acc),
                ece: Some(ece),
            }
        }
        Target::Politeness => {
            let ok = rows
                .iter()
                .zip(out)
                .filter(|(r, o)| polite_class(scalar(o)) == r.politeness_class)
                .count();
            let acc = ok as f64 / rows.len().max(1) as f64;
            Score {
                score: acc,
                accuracy: Some(acc),
                ..Default::default()
            }
        }
        Target::Formality => {
            let (mut p, mut y) = (Vec::new(), Vec::new());
            for (r, o) in rows.iter().zip(out) {
                if r.formality_target != 0.5 {
                    p.push(scalar(o));
                    y.push(r.formality_target == 1.0);
                }
            }
            let (auc, ece) = auc_ece(&p, &y);
            let acc = p
                .iter()
                .zip(&y)
                .filter(|(p, y)| (**p >= 0.5) == **y)
                .count() as f64
                / p.len().max(1) as f64;
            Score {
                score: 0.5 * (auc + acc),
                auc: Some(auc),
                accuracy: Some(acc),
                ece: Some(ece),
            }
        }
        Target::Frustration | Target::Urgency => {
            let p: Vec<f32> = out.iter().map(scalar).collect();
            let y: Vec<bool> = rows
                .iter()
                .map(|r| {
                    if target == Target::Frustration {
                        r.frustration
                    } else {
                        r.urgent
                    }
                })
                .collect();
            let (auc, ece) = auc_ece(&p, &y);
            Score {
                score: auc,
                auc: Some(auc),
                ece: Some(ece),
                ..Default::default()
            }
        }
    }
}

/// Fits every map of `target` with `cand` on `rows`, per language.
fn fit_target(target: Target, cand: Candidate, rows: &[&Row]) -> BTreeMap<String, LanguageMaps> {
    let mut maps: BTreeMap<String, LanguageMaps> = LANGUAGES
        .iter()
        .map(|l| (l.to_string(), LanguageMaps::default()))
        .collect();
    let labels = if target == Target::Emotions { 7 } else { 1 };
    for (label, name) in EMOTIONS.iter().enumerate().take(labels) {
        for (lang, m) in fit_one(target, label, cand, rows) {
            let lm = maps.get_mut(&lang).expect("known language");
            match target {
                Target::Sentiment => lm.sentiment = m,
                Target::Emotions => {
                    if let Some(m) = m {
                        lm.emotions.insert(name.to_string(), m);
                    }
                }
                Target::Politeness => lm.politeness = m,
                Target::Formality => lm.formality = m,
                Target::Frustration => lm.frustration = m,
                Target::Urgency => lm.urgency = m,
            }
        }
    }
    maps
}

/// A candidate's cross-validated figures: per language, and the rule's score (their mean).
#[derive(Clone, Debug, Serialize)]
pub struct CvResult {
    pub candidate: String,
    pub score: f64,
    pub languages: BTreeMap<String, Score>,
}

pub fn cross_validate(target: Target, cand: Candidate, rows: &[Row]) -> CvResult {
    let rows: Vec<&Row> = rows.iter().filter(|r| target.has(r)).collect();
    let mut preds: Vec<Option<Out>> = vec![None; rows.len()];
    for fold in 0..FOLDS {
        let train: Vec<&Row> = rows.iter().copied().filter(|r| r.fold != fold).collect();
        let maps = fit_target(target, cand, &train);
        for (i, r) in rows.iter().enumerate() {
            if r.fold == fold {
                preds[i] = Some(predict(target, &maps[&r.lang], r));
            }
        }
    }
    let mut languages = BTreeMap::new();
    for lang in LANGUAGES {
        let (rs, os): (Vec<&Row>, Vec<Out>) = rows
            .iter()
            .zip(&preds)
            .filter(|(r, _)| r.lang == lang)
            .map(|(r, o)| (*r, o.clone().expect("every row has a fold")))
            .unzip();
        languages.insert(lang.to_string(), score(target, &rs, &os));
    }
    CvResult {
        candidate: cand.name(),
        score: languages.values().map(|s| s.score).sum::<f64>() / languages.len() as f64,
        languages,
    }
}

/// The rule's choice among `results` (simplest first): a candidate is chosen when it beats
/// every simpler one by [`MARGIN`]. Returns its index.
pub fn choose(results: &[CvResult]) -> usize {
    let mut chosen = 0;
    let mut best_simpler = f64::MIN;
    for (i, r) in results.iter().enumerate() {
        if i == 0 || r.score >= best_simpler + MARGIN {
            chosen = i;
        }
        best_simpler = best_simpler.max(r.score);
    }
    chosen
}

/// Everything the fit decided, for the artifact and EVAL.md.
#[derive(Clone, Debug, Serialize)]
pub struct Fitted {
    pub chosen: BTreeMap<Target, String>,
    pub cv: BTreeMap<Target, Vec<CvResult>>,
    pub languages: BTreeMap<String, LanguageMaps>,
}

pub fn fit(rows: &[Row]) -> Fitted {
    let mut chosen = BTreeMap::new();
    let mut cv = BTreeMap::new();
    let mut languages: BTreeMap<String, LanguageMaps> = LANGUAGES
        .iter()
        .map(|l| (l.to_string(), LanguageMaps::default()))
        .collect();
    for target in TARGETS {
        let cands = target.candidates();
        let results: Vec<CvResult> = cands
            .iter()
            .map(|c| cross_validate(target, *c, rows))
            .collect();
        let i = choose(&results);
        tracing::info!(
            target = ?target,
            chosen = %results[i].candidate,
            score = results[i].score,
            "domain calibration chosen"
        );
        let all: Vec<&Row> = rows.iter().filter(|r| target.has(r)).collect();
        for (lang, m) in fit_target(target, cands[i], &all) {
            let lm = languages.get_mut(&lang).expect("known language");
            match target {
                Target::Sentiment => lm.sentiment = m.sentiment,
                Target::Emotions => lm.emotions = m.emotions,
                Target::Politeness => lm.politeness = m.politeness,
                Target::Formality => lm.formality = m.formality,
                Target::Frustration => lm.frustration = m.frustration,
                Target::Urgency => lm.urgency = m.urgency,
            }
        }
        chosen.insert(target, results[i].candidate.clone());
        cv.insert(target, results);
    }
    Fitted {
        chosen,
        cv,
        languages,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{compose::HeadScores, domain::INPUTS};

    /// Synthetic rows where frustration follows one cue that the general tone does not see:
    /// the logistic candidates must find it and be chosen; the general tone stays at chance.
    #[test]
    fn fitting_finds_a_signal_the_general_output_misses_and_the_rule_prefers_it() {
        let mut rows = Vec::new();
        for i in 0..240 {
            let cue = (i * 7919 % 13) < 5;
            let noise = ((i * 104729) % 97) as f32 / 97.0;
            let mut x = vec![0.0f32; INPUTS.len()];
            x[INPUTS.iter().position(|n| *n == "cue.outrage").unwrap()] = cue as u8 as f32;
            x[0] = noise;
            let lang = if i % 2 == 0 { "en" } else { "ru" };
            rows.push(Row {
                lang: lang.into(),
                fold: fold_of(&format!("p-{}", i / 2)),
                x,
                g: General {
                    h: HeadScores {
                        sentiment: Some([0.3, 0.4, 0.3]),
                        emotions: Some([0.2; 7]),
                        ..Default::default()
                    },
                    ..Default::default()
                },
                politeness: Some(noise),
                formality: Some(0.5),
                frustrated: Some(noise),
                urgency: Some(0.1),
                sentiment: if cue { 0 } else { 1 },
                emotions: [cue, false, false, false, false, false, !cue],
                politeness_class: if noise < 0.3 { "rude" } else { "neutral" }.into(),
                formality_target: 0.5,
                frustration: cue,
                urgent: false,
            });
        }
        let none = cross_validate(Target::Frustration, Candidate::None, &rows);
        let pooled = cross_validate(Target::Frustration, Candidate::Pooled { l2: 1.0 }, &rows);
        assert!(none.score < 0.7, "{none:?}");
        assert!(pooled.score > 0.95, "{pooled:?}");
        let fitted = fit(&rows);
        assert_ne!(fitted.chosen[&Target::Frustration], "none");
        assert_ne!(fitted.chosen[&Target::Sentiment], "none");
        // politeness: cut points read the three classes (rude under 0.3 of the general score)
        let p = cross_validate(Target::Politeness, Candidate::Simple, &rows);
        assert!(p.score > 0.9, "{p:?}");
        // the refitted maps serve: an outrage cue reads frustrated in both languages
        for lang in LANGUAGES {
            let m = fitted.languages[lang].frustration.as_ref().unwrap();
            let mut x = vec![0.0f32; INPUTS.len()];
            let low = m.scalar(0.5, &x);
            x[INPUTS.iter().position(|n| *n == "cue.outrage").unwrap()] = 1.0;
            assert!(m.scalar(0.5, &x) > 0.8 && low < 0.2, "{lang}");
        }
    }

    #[test]
    fn the_rule_needs_a_margin_over_every_simpler_candidate() {
        let r = |s: f64| CvResult {
            candidate: String::new(),
            score: s,
            languages: BTreeMap::new(),
        };
        assert_eq!(choose(&[r(0.80), r(0.805), r(0.812)]), 0);
        assert_eq!(choose(&[r(0.80), r(0.805), r(0.816)]), 2);
        assert_eq!(choose(&[r(0.80), r(0.79)]), 0);
        assert_eq!(choose(&[r(0.60), r(0.75), r(0.755)]), 1);
    }

    #[test]
    fn newton_softmax_recovers_a_separating_direction() {
        let x: Vec<Vec<f32>> = (0..200).map(|i| vec![(i as f32 - 100.0) / 50.0]).collect();
        let y: Vec<f32> = (0..200).map(|i| (i >= 100) as u8 as f32).collect();
        let m = fit_logistic(&x, &y, 1.0);
        assert!(m.scalar(0.0, &[1.5]) > 0.9 && m.scalar(0.0, &[-1.5]) < 0.1);
        // soft targets: a constant 0.3 is learned as 0.3
        let soft = fit_logistic(&x, &[0.3; 200], 1.0);
        assert!((soft.scalar(0.0, &[0.2]) - 0.3).abs() < 0.02);
    }
}
