//! Classification metrics: accuracy, per-class and macro F1, the SentiRuEval mean F1(pos, neg),
//! expected calibration error, negative log-likelihood.

use rand::{Rng, SeedableRng};
use serde::Serialize;

/// `m[t][p]`: examples of true class `t` predicted as `p`.
pub fn confusion(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Vec<Vec<usize>> {
    let mut m = vec![vec![0usize; n_classes]; n_classes];
    for (&t, &p) in y_true.iter().zip(y_pred) {
        m[t][p] += 1;
    }
    m
}

/// F1 per class; a class with no true and no predicted examples gets 0 (as scikit-learn's
/// `zero_division=0`).
pub fn per_class_f1(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Vec<f64> {
    let m = confusion(y_true, y_pred, n_classes);
    (0..n_classes)
        .map(|c| {
            let tp = m[c][c] as f64;
            let fn_: f64 = (0..n_classes)
                .filter(|&p| p != c)
                .map(|p| m[c][p] as f64)
                .sum();
            let fp: f64 = (0..n_classes)
                .filter(|&t| t != c)
                .map(|t| m[t][c] as f64)
                .sum();
            let denom = 2.0 * tp + fp + fn_;
            if denom == 0.0 {
                0.0
            } else {
                2.0 * tp / denom
            }
        })
        .collect()
}

/// Unweighted mean of the per-class F1 over all classes.
pub fn macro_f1(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> f64 {
    let f = per_class_f1(y_true, y_pred, n_classes);
    f.iter().sum::<f64>() / n_classes as f64
}

pub fn accuracy(y_true: &[usize], y_pred: &[usize]) -> f64 {
    if y_true.is_empty() {
        return 0.0;
    }
    let ok = y_true.iter().zip(y_pred).filter(|(t, p)| t == p).count();
    ok as f64 / y_true.len() as f64
}

/// Expected calibration error with `bins` equal-width confidence bins over (0, 1]:
/// `Σ_b |B_b|/N · |acc(B_b) − conf(B_b)|`, where confidence is the top probability.
pub fn ece(probs: &[Vec<f32>], y_true: &[usize], bins: usize) -> f64 {
    let n = probs.len();
    if n == 0 {
        return 0.0;
    }
    let mut count = vec![0usize; bins];
    let mut conf_sum = vec![0f64; bins];
    let mut correct = vec![0usize; bins];
    for (p, &t) in probs.iter().zip(y_true) {
        let (arg, conf) = argmax(p);
        let conf = conf as f64;
        // bin b holds (b/bins, (b+1)/bins]; conf 0 goes to bin 0
        let b = ((conf * bins as f64).ceil() as usize).clamp(1, bins) - 1;
        count[b] += 1;
        conf_sum[b] += conf;
        if arg == t {
            correct[b] += 1;
        }
    }
    (0..bins)
        .filter(|&b| count[b] > 0)
        .map(|b| {
            let c = count[b] as f64;
            (c / n as f64) * (correct[b] as f64 / c - conf_sum[b] / c).abs()
        })
        .sum()
}

/// Mean negative log-likelihood of the true class.
pub fn nll(probs: &[Vec<f32>], y_true: &[usize]) -> f64 {
    if probs.is_empty() {
        return 0.0;
    }
    let s: f64 = probs
        .iter()
        .zip(y_true)
        .map(|(p, &t)| -(p[t].max(1e-12) as f64).ln())
        .sum();
    s / probs.len() as f64
}

pub fn argmax(p: &[f32]) -> (usize, f32) {
    let mut best = (0, f32::NEG_INFINITY);
    for (i, &v) in p.iter().enumerate() {
        if v > best.1 {
            best = (i, v);
        }
    }
    best
}

/// F1 of the positive class from counts (0 when undefined).
pub fn f1_counts(tp: usize, fp: usize, fn_: usize) -> f64 {
    let d = 2 * tp + fp + fn_;
    if d == 0 {
        0.0
    } else {
        2.0 * tp as f64 / d as f64
    }
}

/// Support-weighted mean of the per-class F1 (scikit-learn's `average="weighted"`).
pub fn weighted_f1(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> f64 {
    if y_true.is_empty() {
        return 0.0;
    }
    let f = per_class_f1(y_true, y_pred, n_classes);
    let mut support = vec![0usize; n_classes];
    for &t in y_true {
        support[t] += 1;
    }
    f.iter()
        .zip(&support)
        .map(|(f, &s)| f * s as f64)
        .sum::<f64>()
        / y_true.len() as f64
}

/// Ranks 1..n with ties given their average rank.
pub fn average_ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

/// Pearson correlation (0 when either side is constant).
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    if n < 2 {
        return 0.0;
    }
    let ma = a[..n].iter().sum::<f64>() / n as f64;
    let mb = b[..n].iter().sum::<f64>() / n as f64;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (x, y) = (a[i] - ma, b[i] - mb);
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    if saa == 0.0 || sbb == 0.0 {
        0.0
    } else {
        sab / (saa * sbb).sqrt()
    }
}

/// Spearman's rank correlation: Pearson on average ranks (ties handled).
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    pearson(&average_ranks(a), &average_ranks(b))
}

/// Danescu-Niculescu-Mizil et al.'s politeness evaluation: the items in the top quartile of the
/// gold score are "polite", those in the bottom quartile "impolite" (the middle half is left
/// out); accuracy of `pred >= threshold` on those. Returns (accuracy, items scored). Quartiles
/// are `n / 4` items from each end of the gold order (ties broken by position, deterministic).
pub fn quartile_accuracy(gold: &[f64], pred: &[f64], threshold: f64) -> (f64, usize) {
    let n = gold.len().min(pred.len());
    let q = n / 4;
    if q == 0 {
        return (0.0, 0);
    }
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| gold[a].total_cmp(&gold[b]).then(a.cmp(&b)));
    let low = idx[..q].iter().filter(|&&i| pred[i] < threshold).count();
    let high = idx[n - q..]
        .iter()
        .filter(|&&i| pred[i] >= threshold)
        .count();
    ((low + high) as f64 / (2 * q) as f64, 2 * q)
}

/// Calibration error of probabilities `p` for (possibly soft) targets `y` in [0, 1], with `bins`
/// equal-width bins over [0, 1]: `Σ_b |B_b|/N · |mean(y in B_b) − mean(p in B_b)|`. For 0/1
/// targets this is the reliability-diagram ECE of a binary (or one-vs-rest) predictor.
pub fn binary_ece(p: &[f32], y: &[f32], bins: usize) -> f64 {
    let n = p.len().min(y.len());
    if n == 0 {
        return 0.0;
    }
    let mut count = vec![0usize; bins];
    let mut ps = vec![0f64; bins];
    let mut ys = vec![0f64; bins];
    for i in 0..n {
        let b = ((p[i] as f64 * bins as f64).floor() as usize).min(bins - 1);
        count[b] += 1;
        ps[b] += p[i] as f64;
        ys[b] += y[i] as f64;
    }
    (0..bins)
        .filter(|&b| count[b] > 0)
        .map(|b| (count[b] as f64 / n as f64) * ((ys[b] - ps[b]) / count[b] as f64).abs())
        .sum()
}

/// The ECE that sampling alone gives a set of this size: the ECE a perfectly calibrated model
/// with the same predicted probabilities would show, its labels drawn from those probabilities
/// (500 seeded draws). A measured ECE under `p95` is within sampling noise of calibrated; on a
/// few hundred texts that noise alone is about the 0.05 bound.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct EceFloor {
    pub mean: f64,
    pub p95: f64,
}

const FLOOR_DRAWS: usize = 500;
const FLOOR_SEED: u64 = 0x00ec_e0f1;

/// Mean and p95 of `draw_ece` (labels drawn, then scored) over the seeded draws.
fn floor_of(mut draw_ece: impl FnMut(&mut rand::rngs::StdRng) -> f64) -> EceFloor {
    let mut rng = rand::rngs::StdRng::seed_from_u64(FLOOR_SEED);
    let mut eces: Vec<f64> = (0..FLOOR_DRAWS).map(|_| draw_ece(&mut rng)).collect();
    eces.sort_by(f64::total_cmp);
    let mean = eces.iter().sum::<f64>() / FLOOR_DRAWS as f64;
    let p95 = eces[(FLOOR_DRAWS as f64 * 0.95) as usize];
    EceFloor { mean, p95 }
}

/// [`EceFloor`] of [`binary_ece`] for probabilities `p` (0/1 targets).
pub fn binary_ece_floor(p: &[f32], bins: usize) -> EceFloor {
    let mut y = vec![0f32; p.len()];
    floor_of(|rng| {
        for (yi, &pi) in y.iter_mut().zip(p) {
            *yi = f32::from(rng.random::<f32>() < pi);
        }
        binary_ece(p, &y, bins)
    })
}

/// [`EceFloor`] of the top-label [`ece`] for class distributions `probs`.
pub fn ece_floor(probs: &[Vec<f32>], bins: usize) -> EceFloor {
    let mut y = vec![0usize; probs.len()];
    floor_of(|rng| {
        for (yi, p) in y.iter_mut().zip(probs) {
            // The first class whose cumulative probability passes u (the last if rounding
            // leaves the sum under it).
            let u = rng.random::<f32>();
            let mut acc = 0.0;
            *yi = p
                .iter()
                .position(|&pc| {
                    acc += pc;
                    u < acc
                })
                .unwrap_or(p.len() - 1);
        }
        ece(probs, &y, bins)
    })
}

/// ROC-AUC of `scores` for the binary truth `positive`: the probability that a random positive
/// scores above a random negative (ties count one half), by the Mann-Whitney rank sum. NaN when
/// either class is absent.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> f64 {
    let n = scores.len().min(positive.len());
    let n_pos = positive[..n].iter().filter(|&&p| p).count();
    let n_neg = n - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return f64::NAN;
    }
    let ranks = average_ranks(&scores[..n]);
    let rank_sum: f64 = (0..n).filter(|&i| positive[i]).map(|i| ranks[i]).sum();
    let (p, q) = (n_pos as f64, n_neg as f64);
    (rank_sum - p * (p + 1.0) / 2.0) / (p * q)
}

/// Standard error of an ROC-AUC `auc` from `n_pos` positives and `n_neg` negatives (Hanley &
/// McNeil 1982, their exponential approximation for Q1 and Q2).
pub fn auc_standard_error(auc: f64, n_pos: usize, n_neg: usize) -> f64 {
    if n_pos == 0 || n_neg == 0 || !auc.is_finite() {
        return f64::NAN;
    }
    let (p, q) = (n_pos as f64, n_neg as f64);
    let q1 = auc / (2.0 - auc);
    let q2 = 2.0 * auc * auc / (1.0 + auc);
    let v =
        (auc * (1.0 - auc) + (p - 1.0) * (q1 - auc * auc) + (q - 1.0) * (q2 - auc * auc)) / (p * q);
    v.max(0.0).sqrt()
}

/// Everything reported for one evaluation set.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub n: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    /// label -> F1
    pub f1: std::collections::BTreeMap<String, f64>,
    /// SentiRuEval's shared-task figure: mean of F1(positive) and F1(negative).
    pub mean_f1_pos_neg: f64,
    pub ece_15: f64,
    /// What `ece_15` would read from sampling alone (see [`EceFloor`]).
    pub ece_15_floor: EceFloor,
    pub nll: f64,
    /// confusion[true][pred] in label order
    pub confusion: Vec<Vec<usize>>,
}

impl Report {
    pub fn new(labels: &[String], probs: &[Vec<f32>], y_true: &[usize]) -> Report {
        let c = labels.len();
        let y_pred: Vec<usize> = probs.iter().map(|p| argmax(p).0).collect();
        let f = per_class_f1(y_true, &y_pred, c);
        let idx = |name: &str| labels.iter().position(|l| l == name);
        let mean_f1_pos_neg = match (idx("positive"), idx("negative")) {
            (Some(p), Some(n)) => (f[p] + f[n]) / 2.0,
            _ => f64::NAN,
        };
        Report {
            n: y_true.len(),
            accuracy: accuracy(y_true, &y_pred),
            macro_f1: f.iter().sum::<f64>() / c as f64,
            f1: labels.iter().cloned().zip(f.iter().cloned()).collect(),
            mean_f1_pos_neg,
            ece_15: ece(probs, y_true, 15),
            ece_15_floor: ece_floor(probs, 15),
            nll: nll(probs, y_true),
            confusion: confusion(y_true, &y_pred, c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn f1_by_hand() {
        // true: 0 0 0 1 1 2 ; pred: 0 0 1 1 2 2
        let t = [0, 0, 0, 1, 1, 2];
        let p = [0, 0, 1, 1, 2, 2];
        // class0: tp2 fp0 fn1 -> 4/5 ; class1: tp1 fp1 fn1 -> 2/4 ; class2: tp1 fp1 fn0 -> 2/3
        let f = per_class_f1(&t, &p, 3);
        assert!(close(f[0], 0.8));
        assert!(close(f[1], 0.5));
        assert!(close(f[2], 2.0 / 3.0));
        assert!(close(macro_f1(&t, &p, 3), (0.8 + 0.5 + 2.0 / 3.0) / 3.0));
        assert!(close(accuracy(&t, &p), 4.0 / 6.0));
        assert_eq!(
            confusion(&t, &p, 3),
            vec![vec![2, 1, 0], vec![0, 1, 1], vec![0, 0, 1]]
        );
    }

    #[test]
    fn f1_absent_class_is_zero() {
        // class 2 never true, never predicted -> 0, pulls the macro mean down (sklearn behaviour)
        let t = [0, 1];
        let p = [0, 1];
        let f = per_class_f1(&t, &p, 3);
        assert_eq!(f, vec![1.0, 1.0, 0.0]);
        assert!(close(macro_f1(&t, &p, 3), 2.0 / 3.0));
    }

    #[test]
    fn ece_by_hand() {
        // 4 examples, 15 bins.
        // conf 0.9 correct, conf 0.9 wrong -> same bin (0.8667, 0.9333]: acc 0.5 conf 0.9 -> |0.4|*2/4
        // conf 0.5 correct -> bin (0.4667, 0.5333]: |1-0.5| * 1/4
        // conf 0.4 wrong   -> bin (0.3333, 0.4]:    |0-0.4| * 1/4
        let probs = vec![
            vec![0.9, 0.1],
            vec![0.9, 0.1],
            vec![0.5, 0.5],
            vec![0.4, 0.3, 0.3],
        ];
        let t = [0, 1, 0, 1];
        let e = ece(&probs, &t, 15);
        let want = 0.4 * 0.5 + 0.5 * 0.25 + 0.4 * 0.25;
        assert!((e - want).abs() < 1e-6, "{e} vs {want}");
        // perfectly calibrated: conf 1.0 and always right
        assert!(ece(&[vec![1.0, 0.0]], &[0], 15).abs() < 1e-12);
    }

    #[test]
    fn report_mean_pos_neg() {
        let labels: Vec<String> = ["negative", "neutral", "positive"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let probs = vec![
            vec![0.8, 0.1, 0.1],
            vec![0.1, 0.8, 0.1],
            vec![0.1, 0.1, 0.8],
            vec![0.1, 0.8, 0.1],
        ];
        let t = [0, 1, 2, 2];
        let r = Report::new(&labels, &probs, &t);
        // neg F1 1, neu: tp1 fp1 fn0 -> 2/3, pos: tp1 fp0 fn1 -> 2/3
        assert!(close(r.mean_f1_pos_neg, (1.0 + 2.0 / 3.0) / 2.0));
        assert!(close(r.macro_f1, (1.0 + 2.0 / 3.0 + 2.0 / 3.0) / 3.0));
        assert!(close(r.accuracy, 0.75));
        assert!(r.nll > 0.0);
    }
    #[test]
    fn weighted_f1_by_hand() {
        // true: 0 0 0 1 1 2 ; pred: 0 0 1 1 2 2 -> F1 0.8, 0.5, 2/3 with supports 3, 2, 1
        let t = [0, 0, 0, 1, 1, 2];
        let p = [0, 0, 1, 1, 2, 2];
        let want = (3.0 * 0.8 + 2.0 * 0.5 + 2.0 / 3.0) / 6.0;
        assert!(close(weighted_f1(&t, &p, 3), want));
        assert!(close(f1_counts(2, 0, 1), 0.8));
        assert_eq!(f1_counts(0, 0, 0), 0.0);
    }

    #[test]
    fn spearman_by_hand() {
        // monotone -> 1, reversed -> -1
        assert!(close(spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 90.0]), 1.0));
        assert!(close(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), -1.0));
        // no ties: 1 - 6 Σd² / (n(n²-1)); ranks a = 1 2 3 4 5, b = 2 1 4 3 5 -> Σd² = 4 -> 0.8
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [0.2, 0.1, 0.4, 0.3, 0.5];
        assert!(close(spearman(&a, &b), 0.8));
        // ties get average ranks
        assert_eq!(
            average_ranks(&[5.0, 1.0, 5.0, 2.0]),
            vec![3.5, 1.0, 3.5, 2.0]
        );
        // a = 1 2 3 4, b = 1 2 2 3 -> ranks b = 1 2.5 2.5 4: Pearson of ranks by hand
        let r = spearman(&[1.0, 2.0, 3.0, 4.0], &[1.0, 2.0, 2.0, 3.0]);
        // x = -1.5 -.5 .5 1.5 ; y = -1.5 0 0 1.5 -> sxy 4.5, sxx 5, syy 4.5
        assert!(close(r, 4.5 / (5.0f64 * 4.5).sqrt()), "{r}");
    }

    #[test]
    fn quartile_accuracy_by_hand() {
        // 8 items: bottom quartile = gold 0.1, 0.2 ; top = 0.8, 0.9
        let gold = [0.5, 0.1, 0.9, 0.2, 0.6, 0.8, 0.4, 0.3];
        // predictions: the 0.1 item wrongly high, the rest right
        let pred = [0.5, 0.7, 0.9, 0.2, 0.5, 0.6, 0.5, 0.5];
        let (acc, n) = quartile_accuracy(&gold, &pred, 0.5);
        assert_eq!(n, 4);
        assert!(close(acc, 0.75));
        let (acc, _) = quartile_accuracy(&gold, &pred, 0.8);
        // threshold 0.8: 0.1->0.7 low ok, 0.2 ok, 0.9->0.9 ok, 0.8->0.6 wrong
        assert!(close(acc, 0.75));
    }

    #[test]
    fn ece_floor_shrinks_with_the_set_and_flags_miscalibration() {
        // Calibrated draws score about the floor; a set this size cannot read 0 by chance.
        let small: Vec<f32> = (0..200)
            .map(|i| 0.05 + 0.9 * (i % 10) as f32 / 9.0)
            .collect();
        let large: Vec<f32> = small.iter().cycle().take(20_000).copied().collect();
        let (fs, fl) = (binary_ece_floor(&small, 15), binary_ece_floor(&large, 15));
        assert!(fs.mean > 0.02 && fs.p95 > fs.mean, "{fs:?}");
        assert!(fl.p95 < fs.mean / 3.0, "{fl:?} vs {fs:?}");
        // Labels 0.2 off every probability: far over the floor.
        let y: Vec<f32> = small.iter().map(|&p| f32::from(p > 0.3)).collect();
        assert!(binary_ece(&small, &y, 15) > fs.p95);
        // The top-label floor of confident two-class predictions sits near the binary one.
        let probs: Vec<Vec<f32>> = small.iter().map(|&p| vec![p, 1.0 - p]).collect();
        let f2 = ece_floor(&probs, 15);
        assert!(f2.mean > 0.01 && f2.mean < 0.2, "{f2:?}");
        assert_eq!(ece_floor(&probs, 15).mean, f2.mean, "seeded");
    }

    #[test]
    fn binary_ece_by_hand() {
        // bin [0.2,0.3): p 0.25 x2, y 0 and 1 -> |0.5-0.25| * 2/4 ; bin [0.9,1]: p 0.9, 1.0, y 1, 1
        // -> |1 - 0.95| * 2/4
        let p = [0.25, 0.25, 0.9, 1.0];
        let y = [0.0, 1.0, 1.0, 1.0];
        let e = binary_ece(&p, &y, 10);
        assert!((e - (0.25 * 0.5 + 0.05 * 0.5)).abs() < 1e-6, "{e}");
        assert!(binary_ece(&[0.3, 0.3], &[0.3, 0.3], 10) < 1e-6);
    }

    #[test]
    fn roc_auc_by_hand() {
        // positives 0.9, 0.4; negatives 0.5, 0.1: pairs (0.9>0.5, 0.9>0.1, 0.4<0.5, 0.4>0.1) -> 3/4
        let s = [0.9, 0.5, 0.4, 0.1];
        let y = [true, false, true, false];
        assert!(close(roc_auc(&s, &y), 0.75));
        // perfect, reversed, all tied
        assert!(close(roc_auc(&[0.8, 0.9, 0.1], &[true, true, false]), 1.0));
        assert!(close(roc_auc(&[0.1, 0.2, 0.9], &[true, true, false]), 0.0));
        assert!(close(roc_auc(&[0.5; 4], &y), 0.5));
        // positives 0.7, 0.2 against the negative 0.7: a tie (one half) and a loss -> 0.5 / 2
        assert!(close(roc_auc(&[0.7, 0.7, 0.2], &[true, false, true]), 0.25));
        assert!(roc_auc(&[0.1, 0.2], &[true, true]).is_nan());
    }

    #[test]
    fn auc_standard_error_by_hand() {
        // AUC 0.8, 50 + 50: Q1 = 0.8 / 1.2, Q2 = 1.28 / 1.8,
        // var = (0.16 + 49 (Q1 - 0.64) + 49 (Q2 - 0.64)) / 2500 = 0.0019804 -> SE 0.04450
        let se = auc_standard_error(0.8, 50, 50);
        assert!((se - 0.04450).abs() < 1e-4, "{se}");
        // more data, smaller error; a perfect AUC has none
        assert!(auc_standard_error(0.8, 200, 200) < se);
        assert!(auc_standard_error(1.0, 50, 50) < 1e-9);
        assert!(auc_standard_error(0.8, 0, 5).is_nan());
    }
}
