//! Domains: per-language maps applied after the heads' own calibration, fitted on a domain's
//! labelled dev set (issue 20; the rule is EVAL.md's "Domain calibration: the rule").
//!
//! `general` applies nothing: every output is the heads' and the composed formulas' as trained
//! on the academic corpora. `support` applies `models/domains/support.json`, fitted on the support
//! set's dev split by `rapport eval support --fit`: sentiment and emotions recalibrated (or
//! recomposed from [`INPUTS`]), politeness cut points, formality, and the frustration tone and
//! urgency as fitted scores. Every map reads the general outputs of the same text, so the maps
//! are independent of one another and of their order. Cost: one pass of a few word lists over
//! the redacted text and a few hundred multiply-adds per message.
use std::{collections::BTreeMap, path::Path, str::FromStr, sync::LazyLock};

use serde::{Deserialize, Serialize};

use crate::{
    text::{
        cues::{self, NAMES as CUE_NAMES},
        features::tokenize,
        lexicon::{
            Lexicon, ACKNOWLEDGEMENTS, LEAVING, NEGATIONS, OUTRAGE, POLITENESS, REPEATED, SLANG,
            THREATS, WAITING,
        },
        Features,
    },
    Error, Result,
};

use super::compose::{self, HeadScores, EMOTIONS};

/// Where a heads directory keeps its domains: `<heads dir>/domains/<name>.json`.
pub const DOMAINS_DIR: &str = "domains";

/// Which calibration a request is analysed under.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Domain {
    /// Customer support (the default): `models/domains/support.json` applied.
    #[default]
    Support,
    /// The heads as trained on the academic corpora, nothing applied.
    General,
}

impl Domain {
    pub fn as_str(self) -> &'static str {
        match self {
            Domain::Support => "support",
            Domain::General => "general",
        }
    }
}

impl std::fmt::Display for Domain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Domain {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "support" => Ok(Domain::Support),
            "general" => Ok(Domain::General),
            other => Err(Error::invalid(
                "domain",
                format!("unknown domain {other:?}; known: support, general"),
            )),
        }
    }
}

/// One map from general outputs to the domain's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Map {
    /// `σ(a·logit(v) + c)` of a scalar.
    Platt { a: f32, c: f32 },
    /// `softmax(a·ln p + c)` of a distribution (temperature and class-prior shift).
    Softmax { a: f32, c: Vec<f32> },
    /// Cut points of a three-class score: `lo → 0.4`, `hi → 0.6`, linear between and beyond.
    Cuts { lo: f32, hi: f32 },
    /// `σ(w·z + b)`, `z = (x − mean) / scale` of [`INPUTS`].
    Logistic {
        mean: Vec<f32>,
        scale: Vec<f32>,
        w: Vec<f32>,
        b: f32,
    },
    /// `softmax(W z + b)` over classes, `z` as for `Logistic`.
    Multinomial {
        mean: Vec<f32>,
        scale: Vec<f32>,
        w: Vec<Vec<f32>>,
        b: Vec<f32>,
    },
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

fn logit(p: f32) -> f32 {
    let p = p.clamp(1e-4, 1.0 - 1e-4);
    (p / (1.0 - p)).ln()
}

fn standardised(x: &[f32], mean: &[f32], scale: &[f32]) -> Vec<f32> {
    x.iter()
        .zip(mean.iter().zip(scale))
        .map(|(v, (m, s))| (v - m) / s)
        .collect()
}

fn dot(w: &[f32], z: &[f32]) -> f32 {
    w.iter().zip(z).map(|(a, b)| a * b).sum()
}

fn softmax(z: &mut [f32]) {
    let m = z.iter().copied().fold(f32::MIN, f32::max);
    let mut s = 0.0;
    for v in z.iter_mut() {
        *v = (*v - m).exp();
        s += *v;
    }
    for v in z.iter_mut() {
        *v /= s;
    }
}

impl Map {
    /// A scalar in [0, 1]: `v` the general value, `x` the inputs.
    pub fn scalar(&self, v: f32, x: &[f32]) -> f32 {
        match self {
            Map::Platt { a, c } => sigmoid(a * logit(v) + c),
            Map::Cuts { lo, hi } => {
                let (lo, hi) = (lo.clamp(0.001, 0.998), hi.clamp(0.002, 0.999));
                let out = if v < lo {
                    0.4 * v / lo
                } else if v <= hi {
                    0.4 + 0.2 * (v - lo) / (hi - lo).max(1e-6)
                } else {
                    0.6 + 0.4 * (v - hi) / (1.0 - hi).max(1e-6)
                };
                out.clamp(0.0, 1.0)
            }
            Map::Logistic { mean, scale, w, b } => {
                sigmoid(dot(w, &standardised(x, mean, scale)) + b)
            }
            // A distribution map on a scalar has no meaning; leave the value alone.
            Map::Softmax { .. } | Map::Multinomial { .. } => v,
        }
    }

    /// A distribution: `p` the general probabilities, `x` the inputs.
    pub fn distribution(&self, p: &[f32], x: &[f32]) -> Vec<f32> {
        match self {
            Map::Softmax { a, c } => {
                let mut z: Vec<f32> = p
                    .iter()
                    .zip(c)
                    .map(|(q, c)| a * q.max(1e-7).ln() + c)
                    .collect();
                softmax(&mut z);
                z
            }
            Map::Multinomial { mean, scale, w, b } => {
                let zx = standardised(x, mean, scale);
                let mut z: Vec<f32> = w.iter().zip(b).map(|(w, b)| dot(w, &zx) + b).collect();
                softmax(&mut z);
                z
            }
            _ => p.to_vec(),
        }
    }

    /// The map reads [`INPUTS`] (and so needs them computed).
    pub fn reads_inputs(&self) -> bool {
        matches!(self, Map::Logistic { .. } | Map::Multinomial { .. })
    }
}

/// The maps of one language; a head or signal without one keeps its general output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LanguageMaps {
    /// Over (negative, neutral, positive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentiment: Option<Map>,
    /// Per emotion label.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub emotions: BTreeMap<String, Map>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub politeness: Option<Map>,
    /// Of the served formality (the head with the Russian address folded in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formality: Option<Map>,
    /// Of the `frustrated` tone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frustration: Option<Map>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urgency: Option<Map>,
}

impl LanguageMaps {
    fn reads_inputs(&self) -> bool {
        [
            &self.sentiment,
            &self.politeness,
            &self.formality,
            &self.frustration,
            &self.urgency,
        ]
        .into_iter()
        .flatten()
        .chain(self.emotions.values())
        .any(Map::reads_inputs)
    }
}

/// A domain's artifact (`models/domains/<name>.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DomainCalibration {
    pub domain: String,
    /// `<domain>-<date>-<sha256 of the maps, 8 hex>`.
    pub version: String,
    /// [`INPUTS`] as the maps were fitted on them; a different list is refused at load.
    pub inputs: Vec<String>,
    /// The heads version (`HeadSet::version`) the maps were fitted on.
    pub heads_version: String,
    pub languages: BTreeMap<String, LanguageMaps>,
    /// What it was fitted on (set, split, sha256 of the lines) and the rule's choices and
    /// cross-validated dev figures; informative only.
    #[serde(default)]
    pub fitted_on: serde_json::Value,
    #[serde(default)]
    pub chosen: serde_json::Value,
    #[serde(default)]
    pub metrics: serde_json::Value,
}

impl DomainCalibration {
    pub fn path(heads_dir: &Path, domain: Domain) -> std::path::PathBuf {
        heads_dir
            .join(DOMAINS_DIR)
            .join(format!("{}.json", domain.as_str()))
    }

    /// Loads `<heads_dir>/domains/<domain>.json`; `Ok(None)` when there is none.
    pub fn load(heads_dir: &Path, domain: Domain) -> Result<Option<DomainCalibration>> {
        let path = Self::path(heads_dir, domain);
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let cal: DomainCalibration = serde_json::from_str(&text)
            .map_err(|e| Error::model(format!("{}: invalid domain file: {e}", path.display())))?;
        if cal.inputs != INPUTS {
            return Err(Error::model(format!(
                "{}: fitted on inputs {:?}, this build computes {:?}; refit it (rapport eval \
                 support --fit)",
                path.display(),
                cal.inputs,
                INPUTS
            )));
        }
        Ok(Some(cal))
    }

    pub fn for_language(&self, lang: &str) -> Option<&LanguageMaps> {
        self.languages.get(lang)
    }
}

/// The inputs the fitted maps read, in this order (EVAL.md's X): logits of the general outputs,
/// then text cues on the redacted text (presence 0/1; length as ln(1 + words)).
pub const INPUTS: [&str; 41] = [
    "sentiment.negative",
    "sentiment.neutral",
    "sentiment.positive",
    "emotions.anger",
    "emotions.disgust",
    "emotions.fear",
    "emotions.joy",
    "emotions.sadness",
    "emotions.surprise",
    "emotions.neutral",
    "politeness",
    "formality",
    "certainty",
    "toxicity",
    "urgency",
    "tones.frustrated",
    "cue.exclamation",
    "cue.repeated_punctuation",
    "cue.caps_word",
    "cue.question",
    "cue.urgency_words",
    "cue.outrage",
    "cue.repeated_contact",
    "cue.waiting",
    "cue.threats",
    "cue.leaving",
    "cue.thanks",
    "cue.apologies",
    "cue.politeness_markers",
    "cue.contrast",
    "cue.negations",
    "cue.emoji_negative",
    "cue.emoji_positive",
    "cue.slang",
    "cue.you_formal",
    "cue.you_informal",
    "cue.greeting",
    "cue.contraction",
    "cue.lowercase_start",
    "cue.length",
    "cue.official",
];

/// Formal-register markers, the ones the support set's labelling guidelines name
/// (eval/support/README.md, formality), plus patronymics matched by their endings in
/// [`official`].
static OFFICIAL: LazyLock<Lexicon> = LazyLock::new(|| {
    Lexicon::parse(
        "dear\nkindly\nhereby\nherewith\nregards\nsincerely\nfaithfully\npursuant\n\
         in accordance with\nplease find attached\nmadam\nformally\nприлагаю\nпрошу\nуважаем*\n\
         с уважением\nв связи с\nнастоящим\nобращаюсь\nденежн*\nсогласно\nпредоставить\n\
         надлежащ*\nуведомля*\nвышеуказанн*\nрассмотреть\n",
    )
});

fn official(words: &[&str]) -> bool {
    OFFICIAL.count(words) > 0
        || words.iter().any(|w| {
            w.chars().count() > 6
                && ["ович", "евич", "овна", "евна", "ична"]
                    .iter()
                    .any(|e| w.ends_with(e))
        })
}

/// [`INPUTS`] for one text: `h` the general head outputs, `formality` the served (general)
/// formality, `urgency` and `frustrated` the general composed values, `text` the redacted text.
pub fn inputs(
    h: &HeadScores,
    formality: Option<f32>,
    urgency: f32,
    frustrated: Option<f32>,
    f: &Features,
    text: &str,
) -> Vec<f32> {
    let tokens = tokenize(text);
    let words: Vec<&str> = tokens.iter().map(|t| t.lower.as_str()).collect();
    let c = cues::cues_of(text);
    let cue = |name: &str| {
        CUE_NAMES
            .iter()
            .position(|n| *n == name)
            .map_or(0.0, |i| c[i])
    };
    let b = |x: bool| if x { 1.0 } else { 0.0 };
    let s = h.sentiment.unwrap_or([1.0 / 3.0; 3]);
    let e = h.emotions.unwrap_or([0.5; 7]);
    let mut x = Vec::with_capacity(INPUTS.len());
    x.extend(s.iter().map(|p| logit(*p)));
    x.extend(e.iter().map(|p| logit(*p)));
    for v in [
        h.politeness,
        formality,
        h.certainty,
        h.toxicity,
        Some(urgency),
        frustrated,
    ] {
        x.push(logit(v.unwrap_or(0.5)));
    }
    x.extend([
        b(f.exclamations > 0),
        b(f.repeated_punctuation > 0),
        b(f.caps_words > 0),
        b(f.questions > 0),
        b(f.urgency > 0),
        b(OUTRAGE.count(&words) > 0),
        b(REPEATED.count(&words) > 0),
        b(WAITING.count(&words) > 0),
        b(THREATS.count(&words) > 0),
        b(LEAVING.count(&words) > 0),
        b(f.thanks > 0),
        b(f.apologies > 0),
        b(POLITENESS.count(&words) > 0 || f.politeness > 0),
        b(words
            .iter()
            .any(|w| matches!(*w, "but" | "however" | "но" | "однако" | "зато"))),
        b(NEGATIONS.count(&words) > 0),
        b(f.emoji_negative + f.emoticons_negative > 0),
        b(f.emoji_positive + f.emoticons_positive > 0),
        b(SLANG.count(&words) > 0),
        b(f.you_formal > 0),
        b(f.you_informal > 0),
        cue("greeting"),
        cue("contraction"),
        cue("lowercase_start"),
        (1.0 + f.words as f32).ln(),
        b(official(&words)),
    ]);
    debug_assert_eq!(x.len(), INPUTS.len());
    x
}

/// Apologies and acknowledgements in a text (its features' apologies, and the acknowledgements
/// LiveAssist reads): what an agent turn's empathy is counted from.
pub fn empathy_cues(f: &Features, text: &str) -> usize {
    let tokens = tokenize(text);
    let words: Vec<&str> = tokens.iter().map(|t| t.lower.as_str()).collect();
    f.apologies + ACKNOWLEDGEMENTS.count(&words)
}

/// An agent turn under a domain (EVAL.md, "Agent turns"): with an apology or acknowledgement and
/// not toxic, the negative probability of `sentiment` (negative, neutral, positive) moves to
/// neutral, and the sympathetic tone is returned, `sat(cues, 0.5) (0.5 + 0.5 politeness)`.
/// `None`: the turn is left as it is.
pub fn agent_empathy(
    sentiment: &mut [f32; 3],
    cues: usize,
    toxicity: f32,
    politeness: f32,
) -> Option<f32> {
    if cues == 0 || toxicity >= 0.5 {
        return None;
    }
    sentiment[1] += sentiment[0];
    sentiment[0] = 0.0;
    Some((1.0 - (-(cues as f32) / 0.5).exp()) * (0.5 + 0.5 * politeness))
}

/// The general outputs of one text that the maps read or replace, and their inputs.
#[derive(Clone, Debug, Default)]
pub struct General {
    pub h: HeadScores,
    pub formality: Option<f32>,
    pub urgency: f32,
    pub frustrated: Option<f32>,
}

impl General {
    pub fn of(h: &HeadScores, f: &Features) -> General {
        General {
            h: h.clone(),
            formality: compose::formality(h.formality, f),
            urgency: compose::urgency(h, f),
            frustrated: compose::tones(h, f).map(|t| t[0]),
        }
    }
}

/// What a language's maps make of one text's general outputs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Applied {
    pub sentiment: Option<[f32; 3]>,
    pub emotions: Option<[f32; 7]>,
    pub politeness: Option<f32>,
    pub formality: Option<f32>,
    pub frustration: Option<f32>,
    pub urgency: Option<f32>,
}

/// Applies `maps` to the general outputs `g` of a text (`f` its features, `text` its redacted
/// text). Each field is `Some` only where a map exists and its general output does.
pub fn apply(maps: &LanguageMaps, g: &General, f: &Features, text: &str) -> Applied {
    let x = if maps.reads_inputs() {
        inputs(&g.h, g.formality, g.urgency, g.frustrated, f, text)
    } else {
        Vec::new()
    };
    let scalar = |m: &Option<Map>, v: Option<f32>| Some(m.as_ref()?.scalar(v?, &x));
    Applied {
        sentiment: maps.sentiment.as_ref().zip(g.h.sentiment).map(|(m, p)| {
            let q = m.distribution(&p, &x);
            [q[0], q[1], q[2]]
        }),
        emotions: g.h.emotions.filter(|_| !maps.emotions.is_empty()).map(|e| {
            std::array::from_fn(|k| match maps.emotions.get(EMOTIONS[k]) {
                Some(m) => m.scalar(e[k], &x),
                None => e[k],
            })
        }),
        politeness: scalar(&maps.politeness, g.h.politeness),
        formality: scalar(&maps.formality, g.formality),
        frustration: scalar(&maps.frustration, g.frustrated),
        urgency: scalar(&maps.urgency, Some(g.urgency)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_do_what_they_say() {
        let p = Map::Platt { a: 1.0, c: 0.0 };
        assert!((p.scalar(0.3, &[]) - 0.3).abs() < 1e-4);
        let cuts = Map::Cuts { lo: 0.2, hi: 0.5 };
        assert!((cuts.scalar(0.2, &[]) - 0.4).abs() < 1e-6);
        assert!((cuts.scalar(0.5, &[]) - 0.6).abs() < 1e-6);
        assert!(cuts.scalar(0.1, &[]) < 0.4 && cuts.scalar(0.9, &[]) > 0.6);
        let s = Map::Softmax {
            a: 1.0,
            c: vec![0.0; 3],
        };
        let q = s.distribution(&[0.2, 0.3, 0.5], &[]);
        assert!((q[2] - 0.5).abs() < 1e-5);
        let l = Map::Logistic {
            mean: vec![0.0, 1.0],
            scale: vec![1.0, 2.0],
            w: vec![1.0, 0.0],
            b: 0.0,
        };
        assert!((l.scalar(0.9, &[0.0, 5.0]) - 0.5).abs() < 1e-6);
        assert_eq!("General".parse::<Domain>().unwrap(), Domain::General);
        assert!("retail".parse::<Domain>().is_err());
    }

    #[test]
    fn an_agents_apology_is_empathy_not_negativity() {
        let mut s = [0.7, 0.2, 0.1];
        let t = agent_empathy(&mut s, 1, 0.1, 0.8).unwrap();
        assert_eq!(s[0], 0.0);
        assert!((s[1] - 0.9).abs() < 1e-6);
        assert!(t > 0.7, "{t}");
        let mut rude = [0.7, 0.2, 0.1];
        assert_eq!(agent_empathy(&mut rude, 1, 0.9, 0.1), None);
        assert_eq!(agent_empathy(&mut rude, 0, 0.1, 0.8), None);
        assert_eq!(rude, [0.7, 0.2, 0.1]);
        let text = "I completely understand, sorry for the wait.";
        let f = crate::text::features::features_of_tokens(
            text,
            &tokenize(text),
            &crate::text::sentences::split_sentences(text),
        );
        assert!(empathy_cues(&f, text) >= 2);
    }

    #[test]
    fn inputs_have_the_listed_width_and_read_the_register() {
        let f = crate::text::features::features_of_tokens(
            "Уважаемая служба поддержки, прошу предоставить выписку.",
            &tokenize("Уважаемая служба поддержки, прошу предоставить выписку."),
            &crate::text::sentences::split_sentences(
                "Уважаемая служба поддержки, прошу предоставить выписку.",
            ),
        );
        let x = inputs(
            &HeadScores::default(),
            None,
            0.2,
            None,
            &f,
            "Уважаемая служба поддержки, прошу предоставить выписку.",
        );
        assert_eq!(x.len(), INPUTS.len());
        assert_eq!(x[INPUTS.len() - 1], 1.0, "official register");
        let x = inputs(&HeadScores::default(), None, 0.2, None, &f, "hey guys wtf");
        assert_eq!(x[INPUTS.len() - 1], 0.0);
    }
}
