//! Psychographic segments: k-means (linfa) over standardised trait and behaviour features of
//! every stored profile, k chosen by silhouette, seeded, each segment named and described from
//! its centre, and labels carried over from the previous run by matching centres.
use linfa::prelude::*;
use linfa_clustering::KMeans;
use ndarray::{Array2, Axis};
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;
use serde::{Deserialize, Serialize};

use super::behaviour::Derived;
use super::persona::{style_value, TraitScore};

/// The features a segment is drawn on, with how each reads in a description.
pub const FEATURES: [(&str, &str, &str); 10] = [
    ("openness", "more open to new ideas", "more conventional"),
    ("conscientiousness", "more orderly", "more spontaneous"),
    ("extraversion", "more outgoing", "more reserved"),
    ("agreeableness", "warmer", "more matter-of-fact"),
    ("neuroticism", "more anxious", "calmer"),
    ("sentiment", "more positive", "more negative"),
    ("formality", "more formal", "more casual"),
    (
        "log_words_per_message",
        "longer messages",
        "shorter messages",
    ),
    (
        "log_messages_per_week",
        "writes more often",
        "writes less often",
    ),
    ("log_reply_latency", "slower replies", "faster replies"),
];

/// Most segments tried; fewer profiles than `MIN_PER_SEGMENT * k` rule a k out.
pub const MAX_K: usize = 6;
const MIN_PER_SEGMENT: usize = 5;
/// Silhouette is computed on at most this many profiles (seeded sample).
const SILHOUETTE_SAMPLE: usize = 2_000;
/// A centre coordinate this far from the mean (in standard deviations) is worth naming.
const NOTABLE: f64 = 0.5;

/// One profile's features; `None` where the profile has nothing to say (filled with the mean).
pub fn features(d: &Derived, traits: &[TraitScore]) -> Vec<Option<f64>> {
    let trait_of = |name: &str| {
        traits
            .iter()
            .find(|t| t.name == name && !t.abstained)
            .map(|t| t.score)
    };
    let signal = |name: &str| d.signals.iter().find(|s| s.name == name).map(|s| s.mean);
    let behaviour = |name: &str| d.behaviour.iter().find(|f| f.name == name).map(|f| f.value);
    vec![
        trait_of("openness"),
        trait_of("conscientiousness"),
        trait_of("extraversion"),
        trait_of("agreeableness"),
        trait_of("neuroticism"),
        signal("sentiment.score"),
        signal("style.formality"),
        style_value(d, "words_per_message").map(|w| w.max(0.0).ln_1p()),
        behaviour("messages_per_week").map(|w| w.max(0.0).ln_1p()),
        behaviour("reply_latency_seconds").map(|s| s.max(0.0).ln_1p()),
    ]
}

/// A segment as stored: its stable name, description, centre (in feature units) and size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub name: String,
    pub description: String,
    pub centre: Vec<f64>,
    pub customers: u64,
}

/// The result of a run: the segments and each profile's segment (in input order).
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    pub segments: Vec<Segment>,
    pub assignment: Vec<usize>,
    pub k: usize,
    pub silhouette: f64,
}

/// Clusters `rows` (one per profile, [`FEATURES`] order). `previous` segments keep their names
/// where a new centre matches one of them (the assignment of centres that minimises the total
/// distance, in the new run's standardised units). None with too few profiles for two segments.
pub fn run(rows: &[Vec<Option<f64>>], previous: &[Segment], seed: u64) -> Option<Run> {
    let n = rows.len();
    if n < 2 * MIN_PER_SEGMENT {
        return None;
    }
    let d = FEATURES.len();
    // Column means and standard deviations over the values present.
    let mut mean = vec![0.0; d];
    let mut sd = vec![1.0; d];
    for j in 0..d {
        let vals: Vec<f64> = rows.iter().filter_map(|r| r[j]).collect();
        if vals.is_empty() {
            continue;
        }
        let m = vals.iter().sum::<f64>() / vals.len() as f64;
        let v = vals.iter().map(|x| (x - m).powi(2)).sum::<f64>() / vals.len() as f64;
        mean[j] = m;
        sd[j] = if v > 1e-12 { v.sqrt() } else { 1.0 };
    }
    let x = Array2::from_shape_fn((n, d), |(i, j)| {
        rows[i][j].map_or(0.0, |v| (v - mean[j]) / sd[j])
    });
    let dataset = DatasetBase::from(x.clone());
    let sample: Vec<usize> = {
        let mut idx: Vec<usize> = (0..n).collect();
        if n > SILHOUETTE_SAMPLE {
            let perm = crate::train::data::permutation(n, seed);
            idx = perm.into_iter().take(SILHOUETTE_SAMPLE).collect();
        }
        idx
    };
    let mut best: Option<(f64, usize, Array2<f64>, Vec<usize>)> = None;
    for k in 2..=MAX_K.min(n / MIN_PER_SEGMENT) {
        let model = KMeans::params_with_rng(k, Xoshiro256Plus::seed_from_u64(seed))
            .n_runs(10)
            .max_n_iterations(300)
            .tolerance(1e-6)
            .fit(&dataset)
            .ok()?;
        let labels: Vec<usize> = model.predict(&x).to_vec();
        let s = silhouette(&x, &labels, &sample);
        if best.as_ref().is_none_or(|(b, ..)| s > *b) {
            best = Some((s, k, model.centroids().clone(), labels));
        }
    }
    let (silhouette, k, centres, labels) = best?;
    // Centres back in feature units, for naming and for the next run's matching.
    let raw: Vec<Vec<f64>> = centres
        .axis_iter(Axis(0))
        .map(|c| {
            c.iter()
                .zip(&mean)
                .zip(&sd)
                .map(|((z, m), s)| z * s + m)
                .collect()
        })
        .collect();
    let order = match_previous(&raw, previous, &mean, &sd);
    let mut used: Vec<String> = Vec::new();
    let mut segments = Vec::new();
    for (c, z) in centres.axis_iter(Axis(0)).enumerate() {
        let (name, description) = describe(&z.to_vec());
        let name = match order[c] {
            Some(p) => previous[p].name.clone(),
            None => unique(name, &used, previous),
        };
        used.push(name.clone());
        segments.push(Segment {
            name,
            description,
            centre: raw[c].clone(),
            customers: labels.iter().filter(|&&l| l == c).count() as u64,
        });
    }
    Some(Run {
        segments,
        assignment: labels,
        k,
        silhouette,
    })
}

/// A name not taken by this run or an earlier segment it did not match.
fn unique(name: String, used: &[String], previous: &[Segment]) -> String {
    let taken = |n: &str| used.iter().any(|u| u == n) || previous.iter().any(|p| p.name == n);
    if !taken(&name) {
        return name;
    }
    (2..)
        .map(|i| format!("{name} ({i})"))
        .find(|n| !taken(n))
        .expect("a free name")
}

/// For each new centre, the previous segment it continues (None: a new segment). Centres are
/// compared in the new run's standardised units; the assignment minimising the total distance
/// wins (k is at most 6: every permutation is tried).
fn match_previous(
    raw: &[Vec<f64>],
    previous: &[Segment],
    mean: &[f64],
    sd: &[f64],
) -> Vec<Option<usize>> {
    let k = raw.len();
    let prev: Vec<&Segment> = previous
        .iter()
        .filter(|p| p.centre.len() == mean.len())
        .collect();
    if prev.is_empty() {
        return vec![None; k];
    }
    let dist = |a: &[f64], b: &[f64]| -> f64 {
        a.iter()
            .zip(b)
            .zip(sd)
            .map(|((x, y), s)| ((x - y) / s).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    // Try every injective map of the smaller side into the larger.
    let mut best: (f64, Vec<Option<usize>>) = (f64::INFINITY, vec![None; k]);
    let slots: Vec<Option<usize>> = (0..prev.len())
        .map(Some)
        .chain((0..k).map(|_| None))
        .collect();
    permute(&slots, k, &mut Vec::new(), &mut |assign: &[Option<
        usize,
    >]| {
        let cost: f64 = assign
            .iter()
            .enumerate()
            .map(|(c, p)| p.map_or(3.0, |p| dist(&raw[c], &prev[p].centre).min(3.0)))
            .sum();
        if cost < best.0 {
            best = (cost, assign.to_vec());
        }
    });
    // Map the filtered index back to `previous`.
    best.1
        .into_iter()
        .map(|p| p.and_then(|i| previous.iter().position(|q| std::ptr::eq(q, prev[i]))))
        .collect()
}

/// Calls `f` with every sequence of `k` picks from `slots` in which no `Some` repeats.
fn permute(
    slots: &[Option<usize>],
    k: usize,
    cur: &mut Vec<Option<usize>>,
    f: &mut dyn FnMut(&[Option<usize>]),
) {
    if cur.len() == k {
        f(cur);
        return;
    }
    let mut tried_none = false;
    for s in slots {
        match s {
            Some(_) if cur.contains(s) => continue,
            None if tried_none => continue,
            None => tried_none = true,
            _ => {}
        }
        cur.push(*s);
        permute(slots, k, cur, f);
        cur.pop();
    }
}

/// A name and a plain description from a standardised centre: its notable coordinates.
pub fn describe(z: &[f64]) -> (String, String) {
    let mut notable: Vec<(usize, f64)> = z
        .iter()
        .enumerate()
        .filter(|(_, v)| v.abs() >= NOTABLE)
        .map(|(j, v)| (j, *v))
        .collect();
    notable.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    let phrase = |(j, v): (usize, f64)| {
        if v > 0.0 {
            FEATURES[j].1
        } else {
            FEATURES[j].2
        }
    };
    if notable.is_empty() {
        return (
            "typical".into(),
            "Close to the average customer on every trait and behaviour.".into(),
        );
    }
    let name = notable
        .iter()
        .take(2)
        .map(|&n| phrase(n))
        .collect::<Vec<_>>()
        .join(", ");
    let description = format!(
        "Compared with the average customer: {}.",
        notable
            .iter()
            .map(|&(j, v)| format!("{} ({:+.1} sd)", phrase((j, v)), v))
            .collect::<Vec<_>>()
            .join("; ")
    );
    (name, description)
}

/// Mean silhouette over `sample` (Rousseeuw 1987), Euclidean.
pub fn silhouette(x: &Array2<f64>, labels: &[usize], sample: &[usize]) -> f64 {
    let k = labels.iter().copied().max().map_or(0, |m| m + 1);
    let mut total = 0.0;
    let mut counted = 0usize;
    for &i in sample {
        let mut sum = vec![0.0; k];
        let mut cnt = vec![0usize; k];
        for &j in sample {
            if i == j {
                continue;
            }
            let d = x
                .row(i)
                .iter()
                .zip(x.row(j).iter())
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>()
                .sqrt();
            sum[labels[j]] += d;
            cnt[labels[j]] += 1;
        }
        let own = labels[i];
        if cnt[own] == 0 {
            continue;
        }
        let a = sum[own] / cnt[own] as f64;
        let b = (0..k)
            .filter(|&c| c != own && cnt[c] > 0)
            .map(|c| sum[c] / cnt[c] as f64)
            .fold(f64::INFINITY, f64::min);
        if b.is_finite() {
            total += (b - a) / a.max(b).max(1e-12);
            counted += 1;
        }
    }
    if counted == 0 {
        0.0
    } else {
        total / counted as f64
    }
}

/// Adjusted Rand index of two labelings (Hubert & Arabie 1985).
pub fn adjusted_rand(a: &[usize], b: &[usize]) -> f64 {
    let ka = a.iter().copied().max().map_or(0, |m| m + 1);
    let kb = b.iter().copied().max().map_or(0, |m| m + 1);
    let mut table = vec![vec![0u64; kb]; ka];
    for (&x, &y) in a.iter().zip(b) {
        table[x][y] += 1;
    }
    let c2 = |n: u64| (n * n.saturating_sub(1)) as f64 / 2.0;
    let index: f64 = table.iter().flatten().map(|&n| c2(n)).sum();
    let rows: f64 = table.iter().map(|r| c2(r.iter().sum())).sum();
    let cols: f64 = (0..kb).map(|j| c2(table.iter().map(|r| r[j]).sum())).sum();
    let total = c2(a.len() as u64);
    let expected = rows * cols / total.max(1.0);
    let max = (rows + cols) / 2.0;
    if (max - expected).abs() < 1e-12 {
        1.0
    } else {
        (index - expected) / (max - expected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng as _};

    /// Three groups of customers around distinct centres (formal, long, slow writers; casual,
    /// brief, fast; anxious and negative), with noise.
    fn seeded(n_per: usize, seed: u64) -> (Vec<Vec<Option<f64>>>, Vec<usize>) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let centres: [[f64; 10]; 3] = [
            [0.5, 0.6, 0.4, 0.5, 0.4, 0.3, 0.85, 4.5, 0.5, 9.0],
            [0.5, 0.4, 0.6, 0.6, 0.4, 0.4, 0.2, 2.3, 1.8, 5.0],
            [0.5, 0.5, 0.5, 0.4, 0.7, -0.6, 0.5, 3.4, 1.0, 7.0],
        ];
        let spread = [0.05, 0.05, 0.05, 0.05, 0.05, 0.15, 0.07, 0.3, 0.3, 0.6];
        let mut rows = Vec::new();
        let mut truth = Vec::new();
        for (g, c) in centres.iter().enumerate() {
            for _ in 0..n_per {
                rows.push(
                    c.iter()
                        .zip(&spread)
                        .map(|(m, s)| Some(m + s * (rng.random::<f64>() * 2.0 - 1.0) * 1.7))
                        .collect(),
                );
                truth.push(g);
            }
        }
        (rows, truth)
    }

    #[test]
    fn known_clusters_are_recovered_and_a_rerun_keeps_their_names() {
        let (rows, truth) = seeded(60, 1);
        let first = run(&rows, &[], 7).expect("enough profiles");
        assert_eq!(first.k, 3, "silhouette {:.3}", first.silhouette);
        let ari = adjusted_rand(&truth, &first.assignment);
        assert!(ari >= 0.8, "ARI {ari:.3}");
        assert!(first.segments.iter().all(|s| !s.description.is_empty()));
        // New customers of the same kinds arrive; a rerun keeps each group's name.
        let (more, more_truth) = seeded(70, 2);
        let second = run(&more, &first.segments, 8).expect("enough profiles");
        for g in 0..3 {
            let name_of = |r: &Run, t: &[usize]| {
                let i = t.iter().position(|&x| x == g).unwrap();
                r.segments[r.assignment[i]].name.clone()
            };
            assert_eq!(name_of(&first, &truth), name_of(&second, &more_truth));
        }
        // Names are distinct and say something about the centre.
        let mut names: Vec<&str> = first.segments.iter().map(|s| s.name.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 3);
        assert!(first
            .segments
            .iter()
            .any(|s| s.name.contains("formal") || s.description.contains("formal")));
    }

    #[test]
    fn adjusted_rand_by_hand() {
        assert!((adjusted_rand(&[0, 0, 1, 1], &[1, 1, 0, 0]) - 1.0).abs() < 1e-12);
        assert!(adjusted_rand(&[0, 0, 1, 1], &[0, 1, 0, 1]) < 0.0);
    }

    #[test]
    fn too_few_profiles_make_no_segments() {
        let (rows, _) = seeded(3, 1);
        assert!(run(&rows, &[], 1).is_none());
    }
}
