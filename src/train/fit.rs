//! Softmax regression on frozen embeddings with candle-nn: standardised inputs, class-balanced
//! weighted cross-entropy, L2 weight decay, Adam, early stopping on dev, then the standardisation
//! folded back into a plain linear head; temperature scaling fitted on dev NLL.

use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::{Optimizer, ParamsAdamW};
use serde::Serialize;

use super::metrics;
use crate::Result;

#[derive(Debug, Clone, Serialize)]
pub struct FitConfig {
    pub lr: f64,
    pub weight_decay: f64,
    pub batch_size: usize,
    pub max_epochs: usize,
    pub patience: usize,
    pub seed: u64,
}

impl FitConfig {
    /// A head config's optimiser settings at one weight decay of its grid.
    pub fn new(optim: &super::config::OptimConfig, weight_decay: f64, seed: u64) -> Self {
        Self {
            lr: optim.lr,
            weight_decay,
            batch_size: optim.batch_size,
            max_epochs: optim.max_epochs,
            patience: optim.patience,
            seed,
        }
    }
}

/// A dev set for early stopping: embeddings [N, D] and labels.
pub struct DevSet {
    pub name: String,
    pub x: Tensor,
    pub y: Vec<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EpochLog {
    pub epoch: usize,
    pub train_loss: f64,
    pub dev_score: f64,
}

#[derive(Debug, Clone)]
pub struct FitResult {
    /// [C, D] in the raw (unstandardised) embedding space
    pub weight: Tensor,
    /// [C]
    pub bias: Tensor,
    pub best_epoch: usize,
    pub dev_score: f64,
    pub history: Vec<EpochLog>,
}

/// Per-dimension mean and standard deviation of the training embeddings.
pub struct Standardizer {
    pub mean: Tensor,
    pub std: Tensor,
}

impl Standardizer {
    pub fn fit(x: &Tensor) -> Result<Self> {
        let mean = x.mean(0)?;
        let var = x.broadcast_sub(&mean)?.sqr()?.mean(0)?;
        let std = (var + 1e-8)?.sqrt()?;
        Ok(Self { mean, std })
    }

    pub fn apply(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.broadcast_sub(&self.mean)?.broadcast_div(&self.std)?)
    }

    /// A head `z·Wᵀ + b` on standardised `z = (e − μ)/σ` equals `e·W'ᵀ + b'` with
    /// `W' = W / σ` (per column) and `b' = b − W'·μ`.
    pub fn fold(&self, w: &Tensor, b: &Tensor) -> Result<(Tensor, Tensor)> {
        let w2 = w.broadcast_div(&self.std.unsqueeze(0)?)?;
        let b2 = (b - w2.matmul(&self.mean.unsqueeze(1)?)?.squeeze(1)?)?;
        Ok((w2, b2))
    }
}

/// Mean over dev sets of the macro-F1 (each language counts the same, whatever its size).
pub fn dev_score(w: &Tensor, b: &Tensor, dev: &[DevSet], n_classes: usize) -> Result<f64> {
    let mut s = 0.0;
    for d in dev {
        let pred: Vec<u32> =
            d.x.matmul(&w.t()?)?
                .broadcast_add(b)?
                .argmax(D::Minus1)?
                .to_vec1()?;
        let pred: Vec<usize> = pred.into_iter().map(|p| p as usize).collect();
        s += metrics::macro_f1(&d.y, &pred, n_classes);
    }
    Ok(s / dev.len().max(1) as f64)
}

/// Fits `softmax(x·Wᵀ + b)` on standardised `x` [N, D] (already standardised by the caller, as
/// are the dev sets), labels `y`, per-example weights `sw`. Deterministic for a given seed:
/// parameters start at zero and only the minibatch order is random.
pub fn fit_softmax(
    x: &Tensor,
    y: &[usize],
    sw: &[f32],
    dev: &[DevSet],
    n_classes: usize,
    cfg: &FitConfig,
) -> Result<FitResult> {
    let dev_ = Device::Cpu;
    let (n, d) = x.dims2()?;
    let w = Var::zeros((n_classes, d), DType::F32, &dev_)?;
    let b = Var::zeros(n_classes, DType::F32, &dev_)?;
    let mut opt = candle_nn::AdamW::new(
        vec![w.clone(), b.clone()],
        ParamsAdamW {
            lr: cfg.lr,
            weight_decay: 0.0, // L2 on W only, in the loss below
            ..Default::default()
        },
    )?;
    let y_t = Tensor::from_vec(y.iter().map(|&v| v as u32).collect::<Vec<_>>(), n, &dev_)?;
    let sw_t = Tensor::from_vec(sw.to_vec(), n, &dev_)?;
    let mut best: Option<(f64, usize, Tensor, Tensor)> = None;
    let mut history = Vec::new();
    let mut since_best = 0usize;
    for epoch in 1..=cfg.max_epochs {
        let perm = super::data::permutation(n, cfg.seed.wrapping_add(epoch as u64));
        let mut loss_sum = 0.0;
        let mut batches = 0usize;
        for chunk in perm.chunks(cfg.batch_size) {
            let idx = Tensor::from_vec(
                chunk.iter().map(|&i| i as u32).collect::<Vec<_>>(),
                chunk.len(),
                &dev_,
            )?;
            let xb = x.index_select(&idx, 0)?;
            let yb = y_t.index_select(&idx, 0)?;
            let swb = sw_t.index_select(&idx, 0)?;
            let logits = xb
                .matmul(&w.as_tensor().t()?)?
                .broadcast_add(b.as_tensor())?;
            let logp = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
            let nll = logp.gather(&yb.unsqueeze(1)?, 1)?.squeeze(1)?.neg()?;
            let data_loss = ((nll * &swb)?.sum_all()? / swb.sum_all()?.to_scalar::<f32>()? as f64)?;
            let l2 = (w.as_tensor().sqr()?.sum_all()? * (0.5 * cfg.weight_decay))?;
            let loss = (data_loss + l2)?;
            opt.backward_step(&loss)?;
            loss_sum += loss.to_scalar::<f32>()? as f64;
            batches += 1;
        }
        let score = dev_score(w.as_tensor(), b.as_tensor(), dev, n_classes)?;
        let train_loss = loss_sum / batches.max(1) as f64;
        history.push(EpochLog {
            epoch,
            train_loss,
            dev_score: score,
        });
        tracing::debug!(epoch, train_loss, dev_score = score, "epoch");
        if best.as_ref().is_none_or(|(s, ..)| score > *s) {
            best = Some((score, epoch, w.as_tensor().copy()?, b.as_tensor().copy()?));
            since_best = 0;
        } else {
            since_best += 1;
            if since_best >= cfg.patience {
                break;
            }
        }
    }
    let (dev_score, best_epoch, weight, bias) = best.expect("at least one epoch");
    Ok(FitResult {
        weight,
        bias,
        best_epoch,
        dev_score,
        history,
    })
}

/// Temperature `T` minimising the mean NLL of `softmax(logits / T)` (golden-section search on
/// log T over [0.05, 20]).
pub fn fit_temperature(logits: &[Vec<f32>], y: &[usize]) -> f64 {
    let nll = |log_t: f64| -> f64 {
        let t = log_t.exp();
        let mut s = 0.0;
        for (z, &c) in logits.iter().zip(y) {
            let m = z.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
            let lse = z
                .iter()
                .map(|&v| ((v as f64 - m) / t).exp())
                .sum::<f64>()
                .ln();
            s += lse - (z[c] as f64 - m) / t;
        }
        s / logits.len().max(1) as f64
    };
    let (mut a, mut b) = (0.05f64.ln(), 20f64.ln());
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let mut c = b - g * (b - a);
    let mut d = a + g * (b - a);
    let (mut fc, mut fd) = (nll(c), nll(d));
    for _ in 0..80 {
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = nll(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = nll(d);
        }
    }
    ((a + b) / 2.0).exp()
}

/// Recalibration of a softmax head's outputs for one language: the `a` and per-class `c`
/// minimising the mean NLL of `softmax(a·ln p + c)` on that language's dev outputs `p` (a
/// temperature and a class-prior shift; convex, so plain gradient descent with a backtracking step
/// finds the optimum). `c` is centred (softmax ignores a common shift). Returns `(a, c)`.
pub fn fit_softmax_recalibration(p: &[Vec<f32>], y: &[usize]) -> (f64, Vec<f64>) {
    let k = p.first().map_or(0, |r| r.len());
    let n = p.len().max(1) as f64;
    let lp: Vec<Vec<f64>> = p
        .iter()
        .map(|r| r.iter().map(|&v| (v.max(1e-12) as f64).ln()).collect())
        .collect();
    // mean NLL and its gradient in (a, c)
    let eval = |a: f64, c: &[f64]| -> (f64, f64, Vec<f64>) {
        let (mut nll, mut ga, mut gc) = (0.0, 0.0, vec![0.0; k]);
        for (l, &t) in lp.iter().zip(y) {
            let z: Vec<f64> = l.iter().zip(c).map(|(li, ci)| a * li + ci).collect();
            let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let s: f64 = z.iter().map(|v| (v - m).exp()).sum();
            nll += m + s.ln() - z[t];
            for j in 0..k {
                let g = (z[j] - m).exp() / s - if j == t { 1.0 } else { 0.0 };
                ga += g * l[j];
                gc[j] += g;
            }
        }
        (nll / n, ga / n, gc.iter().map(|g| g / n).collect())
    };
    let (mut a, mut c) = (1.0f64, vec![0.0f64; k]);
    let (mut f, mut ga, mut gc) = eval(a, &c);
    let mut step = 1.0f64;
    for _ in 0..500 {
        let gnorm = ga * ga + gc.iter().map(|g| g * g).sum::<f64>();
        if gnorm < 1e-14 {
            break;
        }
        // backtracking (Armijo) line search along the negative gradient
        loop {
            let a2 = a - step * ga;
            let c2: Vec<f64> = c.iter().zip(&gc).map(|(ci, gi)| ci - step * gi).collect();
            let (f2, ga2, gc2) = eval(a2, &c2);
            if f2 <= f - 0.5 * step * gnorm {
                (a, c, f, ga, gc) = (a2, c2, f2, ga2, gc2);
                step *= 2.0;
                break;
            }
            step *= 0.5;
            if step < 1e-12 {
                break;
            }
        }
        if step < 1e-12 {
            break;
        }
    }
    let mean = c.iter().sum::<f64>() / k.max(1) as f64;
    (a, c.iter().map(|v| v - mean).collect())
}

/// A dev set for the sigmoid kinds: standardised embeddings, targets [N][K] and masks.
pub struct SigmoidDev {
    pub name: String,
    pub x: Tensor,
    pub y: Vec<Vec<f32>>,
    pub mask: Vec<Vec<bool>>,
}

/// What early stopping maximises for a sigmoid-kind head, given the dev outputs.
pub type DevScore = dyn Fn(&[Vec<f32>], &SigmoidDev) -> f64;

/// `sigmoid(x·Wᵀ + b)` rows as vectors.
pub fn sigmoid_rows(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Vec<Vec<f32>>> {
    let z = x.matmul(&w.t()?)?.broadcast_add(b)?;
    Ok(candle_nn::ops::sigmoid(&z)?.to_vec2::<f32>()?)
}

/// Fits independent sigmoids `σ(x·Wᵀ + b)` on standardised `x` [N, D] with targets `y` [N, K]
/// in [0, 1] (soft targets allowed: a graded score is fitted as fractional logistic regression)
/// and per-cell weights `cw` [N, K] (0 where a target is missing; class balance and source
/// weight otherwise): weighted binary cross-entropy + L2 on W, Adam, early stopping on
/// `score` averaged over the dev sets. Deterministic for a seed, as [`fit_softmax`].
pub fn fit_sigmoid(
    x: &Tensor,
    y: &Tensor,
    cw: &Tensor,
    dev: &[SigmoidDev],
    score: &DevScore,
    cfg: &FitConfig,
) -> Result<FitResult> {
    let dev_ = Device::Cpu;
    let (n, d) = x.dims2()?;
    let k = y.dims2()?.1;
    let w = Var::zeros((k, d), DType::F32, &dev_)?;
    let b = Var::zeros(k, DType::F32, &dev_)?;
    let mut opt = candle_nn::AdamW::new(
        vec![w.clone(), b.clone()],
        ParamsAdamW {
            lr: cfg.lr,
            weight_decay: 0.0,
            ..Default::default()
        },
    )?;
    let mut best: Option<(f64, usize, Tensor, Tensor)> = None;
    let mut history = Vec::new();
    let mut since_best = 0usize;
    for epoch in 1..=cfg.max_epochs {
        let perm = super::data::permutation(n, cfg.seed.wrapping_add(epoch as u64));
        let mut loss_sum = 0.0;
        let mut batches = 0usize;
        for chunk in perm.chunks(cfg.batch_size) {
            let idx = Tensor::from_vec(
                chunk.iter().map(|&i| i as u32).collect::<Vec<_>>(),
                chunk.len(),
                &dev_,
            )?;
            let xb = x.index_select(&idx, 0)?;
            let yb = y.index_select(&idx, 0)?;
            let wb = cw.index_select(&idx, 0)?;
            let z = xb
                .matmul(&w.as_tensor().t()?)?
                .broadcast_add(b.as_tensor())?;
            // numerically stable BCE with logits: max(z, 0) − z·y + ln(1 + e^{−|z|})
            let bce = ((z.relu()? - (&z * &yb)?)? + (z.abs()?.neg()?.exp()? + 1.0)?.log()?)?;
            let denom = wb.sum_all()?.to_scalar::<f32>()?.max(1e-6) as f64;
            let data_loss = ((bce * &wb)?.sum_all()? / denom)?;
            let l2 = (w.as_tensor().sqr()?.sum_all()? * (0.5 * cfg.weight_decay))?;
            let loss = (data_loss + l2)?;
            opt.backward_step(&loss)?;
            loss_sum += loss.to_scalar::<f32>()? as f64;
            batches += 1;
        }
        let mut s = 0.0;
        for dset in dev {
            s += score(&sigmoid_rows(&dset.x, w.as_tensor(), b.as_tensor())?, dset);
        }
        let dev_score = s / dev.len().max(1) as f64;
        history.push(EpochLog {
            epoch,
            train_loss: loss_sum / batches.max(1) as f64,
            dev_score,
        });
        if best.as_ref().is_none_or(|(s, ..)| dev_score > *s) {
            best = Some((
                dev_score,
                epoch,
                w.as_tensor().copy()?,
                b.as_tensor().copy()?,
            ));
            since_best = 0;
        } else {
            since_best += 1;
            if since_best >= cfg.patience {
                break;
            }
        }
    }
    let (dev_score, best_epoch, weight, bias) = best.expect("at least one epoch");
    Ok(FitResult {
        weight,
        bias,
        best_epoch,
        dev_score,
        history,
    })
}

/// Platt scaling of one output: `(a, c)` minimising the mean BCE of `σ(a·z + c)` against the
/// (possibly soft) targets `y`: Newton's method on the 2-parameter convex problem with a
/// backtracking line search (a plain Newton step overshoots from far away, where the Hessian of
/// saturated logits is tiny), and a tiny ridge towards `a = 1` so that separable data cannot send
/// `a` to infinity.
pub fn fit_platt(z: &[f32], y: &[f32]) -> (f64, f64) {
    let n = z.len().max(1) as f64;
    let ridge = 1e-4;
    let loss = |a: f64, c: f64| -> f64 {
        let mut s = 0.0;
        for (&zi, &yi) in z.iter().zip(y) {
            let t = a * zi as f64 + c;
            // BCE with logits, stable: max(t, 0) − t·y + ln(1 + e^{−|t|})
            s += t.max(0.0) - t * yi as f64 + (-t.abs()).exp().ln_1p();
        }
        s / n + 0.5 * ridge * (a - 1.0) * (a - 1.0)
    };
    let (mut a, mut c) = (1.0f64, 0.0f64);
    let mut cur = loss(a, c);
    for _ in 0..100 {
        let (mut ga, mut gc, mut haa, mut hac, mut hcc) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (&zi, &yi) in z.iter().zip(y) {
            let zi = zi as f64;
            let p = 1.0 / (1.0 + (-(a * zi + c)).exp());
            let r = p - yi as f64;
            let s = (p * (1.0 - p)).max(1e-12);
            ga += r * zi;
            gc += r;
            haa += s * zi * zi;
            hac += s * zi;
            hcc += s;
        }
        ga = ga / n + ridge * (a - 1.0);
        gc /= n;
        haa = haa / n + ridge;
        hac /= n;
        hcc = hcc / n + 1e-9;
        let det = haa * hcc - hac * hac;
        if det.abs() < 1e-18 {
            break;
        }
        let da = (hcc * ga - hac * gc) / det;
        let dc = (haa * gc - hac * ga) / det;
        let mut step = 1.0;
        let mut moved = false;
        for _ in 0..40 {
            let (na, nc) = (a - step * da, c - step * dc);
            let l = loss(na, nc);
            if l <= cur {
                a = na;
                c = nc;
                moved = (cur - l) > 1e-12;
                cur = l;
                break;
            }
            step *= 0.5;
        }
        if !moved {
            break;
        }
    }
    (a, c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_matches_standardised_head() {
        let dev = Device::Cpu;
        let x = Tensor::new(&[[1f32, 2.0], [3.0, 5.0], [0.0, -1.0]], &dev).unwrap();
        let s = Standardizer::fit(&x).unwrap();
        let w = Tensor::new(&[[0.5f32, -1.0], [2.0, 0.25]], &dev).unwrap();
        let b = Tensor::new(&[0.1f32, -0.3], &dev).unwrap();
        let z = s.apply(&x).unwrap();
        let want = z
            .matmul(&w.t().unwrap())
            .unwrap()
            .broadcast_add(&b)
            .unwrap();
        let (w2, b2) = s.fold(&w, &b).unwrap();
        let got = x
            .matmul(&w2.t().unwrap())
            .unwrap()
            .broadcast_add(&b2)
            .unwrap();
        let diff = (want - got).unwrap().abs().unwrap().max_all().unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-5);
    }

    #[test]
    fn learns_a_separable_problem_reproducibly() {
        let dev = Device::Cpu;
        // three clusters in 2-d
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for i in 0..90 {
            let c = i % 3;
            let j = (i / 3) as f32 * 0.01;
            let (a, b) = [(0.0, 1.0), (1.0, 0.0), (-1.0, -1.0)][c];
            xs.extend([a + j, b - j]);
            ys.push(c);
        }
        let x = Tensor::from_vec(xs, (90, 2), &dev).unwrap();
        let cfg = FitConfig {
            lr: 0.1,
            weight_decay: 1e-4,
            batch_size: 16,
            max_epochs: 50,
            patience: 50,
            seed: 3,
        };
        let devset = [DevSet {
            name: "d".into(),
            x: x.clone(),
            y: ys.clone(),
        }];
        let sw = vec![1f32; 90];
        let r = fit_softmax(&x, &ys, &sw, &devset, 3, &cfg).unwrap();
        assert!(r.dev_score > 0.99, "{}", r.dev_score);
        let r2 = fit_softmax(&x, &ys, &sw, &devset, 3, &cfg).unwrap();
        assert_eq!(
            r.weight.to_vec2::<f32>().unwrap(),
            r2.weight.to_vec2::<f32>().unwrap()
        );
    }

    #[test]
    fn temperature_recovers_overconfidence() {
        // logits that are 3x too sharp for labels drawn to match softmax(z/3)
        let mut logits = Vec::new();
        let mut y = Vec::new();
        // for z = [3, 0]: p(class0) at T=3 = 1/(1+e^-1) = 0.731; make 73.1% of labels class 0
        for i in 0..1000 {
            logits.push(vec![3.0f32, 0.0]);
            y.push(if i < 731 { 0 } else { 1 });
        }
        let t = fit_temperature(&logits, &y);
        assert!((t - 3.0).abs() < 0.02, "{t}");
    }
    #[test]
    fn softmax_recalibration_recovers_temperature_and_prior_shift() {
        // labels drawn from softmax(0.5·ln p + c), c = [-0.5, 0.5, 0], for two inputs p (one
        // alone would only pin the target distribution, not a and c apart): the fit must find
        // a = 0.5 and that c (centred)
        let want_c = [-0.5f64, 0.5, 0.0];
        let softmax = |z: &[f64]| -> Vec<f64> {
            let s: f64 = z.iter().map(|v| v.exp()).sum();
            z.iter().map(|v| v.exp() / s).collect()
        };
        let (mut rows, mut y) = (Vec::new(), Vec::new());
        for z in [[2.0f64, 0.0, 0.0], [0.0, 0.0, 1.0]] {
            let p: Vec<f32> = softmax(&z).iter().map(|&v| v as f32).collect();
            let zt: Vec<f64> = p
                .iter()
                .zip(&want_c)
                .map(|(&pi, ci)| 0.5 * (pi as f64).ln() + ci)
                .collect();
            for (label, share) in softmax(&zt).iter().enumerate() {
                for _ in 0..(share * 10_000.0).round() as usize {
                    rows.push(p.clone());
                    y.push(label);
                }
            }
        }
        let (a, c) = fit_softmax_recalibration(&rows, &y);
        let want_mean = want_c.iter().sum::<f64>() / 3.0;
        assert!((a - 0.5).abs() < 0.02, "a = {a}");
        for (got, want) in c.iter().zip(&want_c) {
            assert!((got - (want - want_mean)).abs() < 0.02, "c = {c:?}");
        }
    }

    #[test]
    fn sigmoid_learns_separable_multi_label_with_missing_cells() {
        let dev = Device::Cpu;
        // 2 labels on 2-d points: label 0 iff x0 > 0, label 1 iff x1 > 0; label 1 is missing
        // (masked) on a third of the rows, with deliberately wrong targets there
        let (mut xs, mut ys, mut ws) = (Vec::new(), Vec::new(), Vec::new());
        let mut yv = Vec::new();
        let mut mv = Vec::new();
        for i in 0..120 {
            let a = if i % 2 == 0 { 1.0 } else { -1.0 };
            let b = if (i / 2) % 2 == 0 { 1.0 } else { -1.0 };
            let j = (i as f32) * 0.003;
            xs.extend([a + j, b - j]);
            let missing = i % 3 == 0;
            let t = [f32::from(u8::from(a > 0.0)), f32::from(u8::from(b > 0.0))];
            ys.extend([t[0], if missing { 1.0 - t[1] } else { t[1] }]);
            ws.extend([1.0f32, if missing { 0.0 } else { 1.0 }]);
            yv.push(t.to_vec());
            mv.push(vec![true, !missing]);
        }
        let x = Tensor::from_vec(xs, (120, 2), &dev).unwrap();
        let y = Tensor::from_vec(ys, (120, 2), &dev).unwrap();
        let cw = Tensor::from_vec(ws, (120, 2), &dev).unwrap();
        let d = [SigmoidDev {
            name: "d".into(),
            x: x.clone(),
            y: yv.clone(),
            mask: mv,
        }];
        // dev score: accuracy over observed cells at 0.5
        let score = |p: &[Vec<f32>], d: &SigmoidDev| {
            let mut ok = 0;
            let mut n = 0;
            for (pi, (yi, mi)) in p.iter().zip(d.y.iter().zip(&d.mask)) {
                for k in 0..2 {
                    if mi[k] {
                        n += 1;
                        ok += usize::from((pi[k] >= 0.5) == (yi[k] >= 0.5));
                    }
                }
            }
            ok as f64 / n as f64
        };
        let cfg = FitConfig {
            lr: 0.1,
            weight_decay: 1e-4,
            batch_size: 16,
            max_epochs: 40,
            patience: 40,
            seed: 5,
        };
        let r = fit_sigmoid(&x, &y, &cw, &d, &score, &cfg).unwrap();
        assert!(r.dev_score > 0.999, "{}", r.dev_score);
        // every cell right, the masked ones included (their wrong targets were ignored)
        let p = sigmoid_rows(&x, &r.weight, &r.bias).unwrap();
        for (pi, yi) in p.iter().zip(&yv) {
            for k in 0..2 {
                assert_eq!(pi[k] >= 0.5, yi[k] >= 0.5);
            }
        }
        let r2 = fit_sigmoid(&x, &y, &cw, &d, &score, &cfg).unwrap();
        assert_eq!(
            r.weight.to_vec2::<f32>().unwrap(),
            r2.weight.to_vec2::<f32>().unwrap()
        );
    }

    #[test]
    fn platt_calibration_reduces_ece() {
        // logits 4x too sharp and shifted: true P(y=1 | z) = σ(z / 4 − 0.5)
        let mut z = Vec::new();
        let mut y = Vec::new();
        let mut state = 12345u64;
        for i in 0..4000 {
            let zi = (i % 41) as f32 * 0.5 - 10.0;
            let p = 1.0 / (1.0 + (-(zi as f64 / 4.0 - 0.5)).exp());
            // deterministic LCG draw
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = (state >> 11) as f64 / (1u64 << 53) as f64;
            z.push(zi);
            y.push(f32::from(u8::from(u < p)));
        }
        let (a, c) = fit_platt(&z, &y);
        assert!((a - 0.25).abs() < 0.05, "a {a}");
        assert!((c + 0.5).abs() < 0.15, "c {c}");
        let sig = |v: f64| (1.0 / (1.0 + (-v).exp())) as f32;
        let raw: Vec<f32> = z.iter().map(|&v| sig(v as f64)).collect();
        let cal: Vec<f32> = z.iter().map(|&v| sig(a * v as f64 + c)).collect();
        let (e0, e1) = (
            metrics::binary_ece(&raw, &y, 15),
            metrics::binary_ece(&cal, &y, 15),
        );
        assert!(e1 < e0 / 3.0 && e1 < 0.03, "ECE {e0} -> {e1}");
    }
}
