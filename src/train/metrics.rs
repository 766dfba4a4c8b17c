//! Classification metrics: accuracy, per-class and macro F1, the SentiRuEval mean F1(pos, neg),
//! expected calibration error, negative log-likelihood.

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
}
