//! Big Five estimates from a customer's words: a measurement model over the word-weighted mean
//! trait logit of their messages (EVAL.md, "Traits"; docs/traits.md).
//!
//! The latent trait `z` is standard normal in the population. A text of `n` words gives the
//! mean logit `L = m(n) + a z + e`, `e ~ N(0, psi + s2 / n)`: more words, less noise, down to
//! the floor `psi` that no amount of text removes (language says only so much about a person).
//! The estimate is the posterior of `z` given `L`; it is reported as a percentile (0.5 = the
//! median person) with the central interval of the posterior. Estimates for adapting
//! communication, never a diagnosis.
use serde::{Deserialize, Serialize};

/// The five traits, in the order of every array here and of the `traits` head's labels.
pub const TRAITS: [&str; 5] = [
    "openness",
    "conscientiousness",
    "extraversion",
    "agreeableness",
    "neuroticism",
];

/// E[z | z > 0] for a standard normal: the label gap of `L` is `2 a` times this.
pub const HALF_NORMAL_MEAN: f64 = 0.797_884_560_802_865_4;

/// One trait's measurement model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// `m(n) = m0 + m1 / n`: the mean logit shifts a little with length.
    pub m0: f64,
    pub m1: f64,
    /// Loading of the latent trait on the mean logit.
    pub a: f64,
    /// Noise that stays however much text there is.
    pub psi: f64,
    /// Noise that shrinks with words: `s2 / n`.
    pub s2: f64,
}

/// The posterior of one trait.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Posterior {
    /// Mean and standard deviation of the latent `z`.
    pub mean: f64,
    pub sd: f64,
}

impl Measurement {
    pub fn mean_at(&self, words: f64) -> f64 {
        self.m0 + self.m1 / words.max(1.0)
    }

    pub fn noise_at(&self, words: f64) -> f64 {
        self.psi + self.s2 / words.max(1.0)
    }

    /// The posterior of `z` given the mean logit `logit` over `words` words; `loading` scales
    /// `a` (1 for English; less where the words are in a language the model was not fitted on,
    /// which widens the interval).
    pub fn posterior(&self, logit: f64, words: f64, loading: f64) -> Posterior {
        let a = self.a * loading;
        let v = self.noise_at(words).max(1e-12);
        let total = a * a + v;
        Posterior {
            mean: a * (logit - self.mean_at(words)) / total,
            sd: (v / total).sqrt(),
        }
    }
}

impl Posterior {
    /// The expected percentile `E[Phi(z)]`.
    pub fn score(&self) -> f64 {
        phi(self.mean / (1.0 + self.sd * self.sd).sqrt())
    }

    /// The central `level` interval of the percentile.
    pub fn interval(&self, level: f64) -> (f64, f64) {
        let q = phi_inv(0.5 + level / 2.0);
        (phi(self.mean - q * self.sd), phi(self.mean + q * self.sd))
    }

    /// P(z > 0): the probability the person is above the median.
    pub fn p_high(&self) -> f64 {
        phi(self.mean / self.sd.max(1e-12))
    }

    /// The posterior probability that the central `level` interval holds `z`, given that `z` is
    /// on the side of the median `high` says. At `level` on average when the model is right: how
    /// intervals are checked against labels that only say above or below the median.
    pub fn coverage_given(&self, high: bool, level: f64) -> f64 {
        let q = phi_inv(0.5 + level / 2.0);
        let (lo, hi) = (-q, q);
        let zero = -self.mean / self.sd.max(1e-12);
        // In standardised units: the label's half is (zero, inf) or (-inf, zero).
        let (h_lo, h_hi) = if high {
            (zero, f64::INFINITY)
        } else {
            (f64::NEG_INFINITY, zero)
        };
        let half = phi(h_hi) - phi(h_lo);
        if half <= 1e-12 {
            return 0.0;
        }
        let (a, b) = (lo.max(h_lo), hi.min(h_hi));
        if b <= a {
            0.0
        } else {
            (phi(b) - phi(a)) / half
        }
    }
}

/// The served estimator: `models/traits/traits.json`, written by `rapport eval traits` beside
/// the `traits` head whose logits the profiles pool.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraitModel {
    pub version: String,
    /// Nominal level of the intervals.
    pub level: f64,
    /// Fewer (decayed) words than this and a trait abstains.
    pub min_words: f64,
    /// The languages the estimator was fitted on; words in others lower the loading.
    pub fitted_languages: Vec<String>,
    /// The loading kept for words in other languages (an assumption: no labelled data).
    pub other_language_loading: f64,
    /// One per trait, in [`TRAITS`] order.
    pub measurement: Vec<Measurement>,
    /// Weights on the profile's style features, added to the pooled head logit (None when the
    /// estimator reads the embedding alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lexical: Option<Lexical>,
}

/// A linear part over the profile's style features ("rate.pronoun_i", "mean_word_chars", ...).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lexical {
    pub names: Vec<String>,
    /// Per trait, one weight per name (on the raw feature).
    pub weights: Vec<Vec<f64>>,
    /// Per trait; zero when a head carries the intercept.
    pub intercept: Vec<f64>,
}

impl Lexical {
    /// Trait `k`'s part of the logit from a profile's style features, and each feature's share.
    pub fn logit(
        &self,
        k: usize,
        value: impl Fn(&str) -> Option<f64>,
    ) -> (f64, Vec<(String, f64, f64)>) {
        let mut total = self.intercept.get(k).copied().unwrap_or(0.0);
        let mut parts = Vec::new();
        for (name, w) in self.names.iter().zip(&self.weights[k]) {
            let v = value(name).unwrap_or(0.0);
            total += w * v;
            parts.push((name.clone(), v, w * v));
        }
        (total, parts)
    }
}

/// What the estimator file is called inside the heads directory.
pub const MODEL_FILE: &str = "traits/traits.json";

impl TraitModel {
    /// Reads `<heads_dir>/traits/traits.json`; None when the heads carry no trait estimator.
    pub fn load(heads_dir: &std::path::Path) -> crate::Result<Option<TraitModel>> {
        let path = heads_dir.join(MODEL_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(crate::Error::model(format!("{}: {e}", path.display()))),
        };
        let m: TraitModel = serde_json::from_str(&text)
            .map_err(|e| crate::Error::model(format!("{}: {e}", path.display())))?;
        if m.measurement.len() != TRAITS.len() {
            return Err(crate::Error::model(format!(
                "{}: {} measurement models, expected {}",
                path.display(),
                m.measurement.len(),
                TRAITS.len()
            )));
        }
        Ok(Some(m))
    }

    /// The loading for a profile whose messages are `fitted_share` in fitted languages.
    pub fn loading(&self, fitted_share: f64) -> f64 {
        let s = fitted_share.clamp(0.0, 1.0);
        s + (1.0 - s) * self.other_language_loading
    }
}

/// The standard normal CDF (Abramowitz & Stegun 7.1.26 through erfc; error < 1.5e-7).
pub fn phi(x: f64) -> f64 {
    if x == f64::INFINITY {
        return 1.0;
    }
    if x == f64::NEG_INFINITY {
        return 0.0;
    }
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs() / std::f64::consts::SQRT_2);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erfc = poly * (-(x * x) / 2.0).exp();
    if x >= 0.0 {
        1.0 - erfc / 2.0
    } else {
        erfc / 2.0
    }
}

/// The standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9).
pub fn phi_inv(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.024_25 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.024_25 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phi_and_its_inverse_agree_with_tables() {
        assert!((phi(0.0) - 0.5).abs() < 1e-7);
        assert!((phi(1.959_964) - 0.975).abs() < 1e-6);
        assert!((phi(-1.281_552) - 0.1).abs() < 1e-6);
        for p in [0.001, 0.1, 0.5, 0.8, 0.9, 0.999] {
            assert!((phi(phi_inv(p)) - p).abs() < 1e-6, "{p}");
        }
    }

    #[test]
    fn more_words_narrow_the_interval_down_to_the_floor() {
        let m = Measurement {
            m0: 0.0,
            m1: 0.0,
            a: 1.0,
            psi: 0.5,
            s2: 500.0,
        };
        let widths: Vec<f64> = [100.0, 1_000.0, 10_000.0, 1e9]
            .iter()
            .map(|&n| {
                let (lo, hi) = m.posterior(0.5, n, 1.0).interval(0.8);
                hi - lo
            })
            .collect();
        assert!(widths.windows(2).all(|w| w[1] < w[0]), "{widths:?}");
        // The floor: posterior variance psi / (a^2 + psi) = 1/3.
        let p = m.posterior(0.0, 1e12, 1.0);
        assert!((p.sd - (1.0f64 / 3.0).sqrt()).abs() < 1e-6);
        // A lower loading (a language the model was not fitted on) widens it.
        let (lo, hi) = m.posterior(0.5, 1_000.0, 0.5).interval(0.8);
        assert!(hi - lo > widths[1]);
    }

    #[test]
    fn coverage_given_a_label_is_the_interval_share_of_that_half() {
        // A posterior centred on the median: the 80% interval is symmetric, so given either
        // half the covered share is 0.8.
        let p = Posterior { mean: 0.0, sd: 1.0 };
        assert!((p.coverage_given(true, 0.8) - 0.8).abs() < 1e-6);
        assert!((p.coverage_given(false, 0.8) - 0.8).abs() < 1e-6);
        // Far above the median: a "low" label lies outside the interval.
        let p = Posterior { mean: 3.0, sd: 0.3 };
        assert!(p.coverage_given(false, 0.8) < 1e-6);
        assert!(p.coverage_given(true, 0.8) > 0.79);
    }
}
