//! Results composed from the heads and the text pipeline's features: the style dimensions that
//! have no head of their own (directness, emotionality, urgency), service tones and
//! communication purpose. No labelled data for these exists in ../shared/datasets, so they are
//! documented formulas over trained outputs and counted cues, not trained models; every input
//! and weight is here, and each result says what it came from.
//!
//! Evidence (which sentences drove each result) is computed by running [`results`] again on
//! each sentence alone, its own embedding through the same heads and its own lexical features
//! through the same formulas, so a composed result's evidence is the sentence where the composed
//! formula itself is strongest, not a borrowed head's; the selection rule is in
//! [`super::evidence`].
//!
//! Notation: `P(x)` a head's calibrated probability, `sat(c, k) = 1 - exp(-c / k)` a saturating
//! map of a count rate into [0, 1) (at `c = k` it is 0.63), rates are per sentence unless noted.
use crate::{
    model::{HeadSet, LinearHead},
    text::{Features, Language},
};

use super::{
    domain::{Applied, General, LanguageMaps},
    types::{Results, Signal, Style},
};

/// Fewer words than this and the style, tone and purpose results abstain: a word or two says
/// little about how someone communicates. Emotions and toxicity still answer.
pub const MIN_STYLE_WORDS: usize = 3;

/// What the heads said about one text; `None` where a head is not loaded or abstained.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HeadScores {
    /// P(negative), P(neutral), P(positive).
    pub sentiment: Option<[f32; 3]>,
    /// Ekman six + neutral, in [`EMOTIONS`] order.
    pub emotions: Option<[f32; 7]>,
    pub politeness: Option<f32>,
    pub formality: Option<f32>,
    /// P(certain) (high = assertive, low = hedged).
    pub certainty: Option<f32>,
    pub toxicity: Option<f32>,
}

pub const EMOTIONS: [&str; 7] = [
    "anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral",
];
pub const TONES: [&str; 7] = [
    "frustrated",
    "satisfied",
    "polite",
    "impolite",
    "sympathetic",
    "excited",
    "sad",
];
pub const PURPOSES: [&str; 4] = [
    "fact_oriented",
    "information_seeking",
    "action_seeking",
    "self_revealing",
];

/// The composed style dimensions (each in [0, 1]); `None` when an input they need is missing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ComposedStyle {
    pub directness: Option<f32>,
    pub emotionality: Option<f32>,
    pub urgency: f32,
}

fn sat(count: f32, k: f32) -> f32 {
    1.0 - (-count.max(0.0) / k).exp()
}

fn per_sentence(f: &Features, count: usize) -> f32 {
    count as f32 / f.sentences.max(1) as f32
}

/// Expressive cues per word: exclamations, intensifiers, elongations, capitalised words, emoji
/// and emoticons, repeated punctuation.
fn expressive_rate(f: &Features) -> f32 {
    let cues = f.exclamations
        + f.intensifiers
        + f.elongations
        + f.caps_words
        + f.emoji
        + f.emoticons_positive
        + f.emoticons_negative
        + f.repeated_punctuation;
    f.rate(cues)
}

/// Directness (assertiveness): `0.35 P(certain) + 0.25 (1 - politeness) + 0.25 sat(imperatives,
/// 0.5) + 0.15 (1 - sat(hedges, 0.5))`. Commands, conviction and little softening read as direct.
pub fn directness(h: &HeadScores, f: &Features) -> Option<f32> {
    let certain = h.certainty?;
    let polite = h.politeness?;
    Some(
        0.35 * certain
            + 0.25 * (1.0 - polite)
            + 0.25 * sat(per_sentence(f, f.imperatives), 0.5)
            + 0.15 * (1.0 - sat(per_sentence(f, f.hedges), 0.5)),
    )
}

/// Emotionality: `0.6 (1 - P(neutral)) + 0.4 sat(expressive cues per word, 0.08)`.
pub fn emotionality(h: &HeadScores, f: &Features) -> Option<f32> {
    let neutral = h.emotions?[6];
    Some(0.6 * (1.0 - neutral) + 0.4 * sat(expressive_rate(f), 0.08))
}

/// Urgency: `0.55 sat(urgency words, 0.5) + 0.2 sat(exclamations + repeated punctuation + caps
/// words, 1) + 0.25 max(P(anger), P(fear)) P(negative)`; without the heads, the cue terms alone
/// rescaled to [0, 1].
pub fn urgency(h: &HeadScores, f: &Features) -> f32 {
    let words = sat(per_sentence(f, f.urgency), 0.5);
    let shouting = sat(
        per_sentence(f, f.exclamations + f.repeated_punctuation + f.caps_words),
        1.0,
    );
    match (h.emotions, h.sentiment) {
        (Some(e), Some(s)) => 0.55 * words + 0.2 * shouting + 0.25 * e[0].max(e[2]) * s[0],
        _ => (0.55 * words + 0.2 * shouting) / 0.75,
    }
}

pub fn style(h: &HeadScores, f: &Features) -> ComposedStyle {
    ComposedStyle {
        directness: directness(h, f),
        emotionality: emotionality(h, f),
        urgency: urgency(h, f),
    }
}

/// Service tones of a dialogue turn, each in [0, 1] (several can hold at once):
/// - frustrated = P(neg) (0.5 + 0.5 max(anger, disgust)) (0.7 + 0.3 urgency)
/// - satisfied = P(pos) (0.5 + 0.5 joy)
/// - polite = politeness; impolite = max(P(toxic), (1 - politeness) P(neg))
/// - sympathetic = sat(apologies, 0.5) (0.5 + 0.5 politeness)
/// - excited = P(pos) max(joy, surprise) (0.5 + 0.5 emotionality)
/// - sad = sadness (0.5 + 0.5 P(neg))
///
/// `None` without the sentiment, emotion and politeness heads.
pub fn tones(h: &HeadScores, f: &Features) -> Option<[f32; 7]> {
    let s = h.sentiment?;
    let e = h.emotions?;
    let polite = h.politeness?;
    let (neg, pos) = (s[0], s[2]);
    let urgent = urgency(h, f);
    let emotional = emotionality(h, f).unwrap_or(0.0);
    let impolite = ((1.0 - polite) * neg).max(h.toxicity.unwrap_or(0.0));
    Some(
        [
            neg * (0.5 + 0.5 * e[0].max(e[1])) * (0.7 + 0.3 * urgent),
            pos * (0.5 + 0.5 * e[3]),
            polite,
            impolite,
            sat(per_sentence(f, f.apologies), 0.5) * (0.5 + 0.5 * polite),
            pos * e[3].max(e[5]) * (0.5 + 0.5 * emotional),
            e[4] * (0.5 + 0.5 * neg),
        ]
        .map(|v| v.clamp(0.0, 1.0)),
    )
}

/// Communication purpose, raw scores normalised to sum to 1:
/// - information-seeking = sat(questions, 0.5)
/// - action-seeking = sat(imperatives + politeness markers, 0.6)
/// - self-revealing = sat(first-person singular per word, 0.08) (0.5 + 0.5 emotionality)
/// - fact-oriented = 0.15 + 0.35 sat(numbers per word, 0.05) + 0.5 (1 - emotionality)
///
/// The floor on fact-oriented makes a plain statement fact-oriented rather than undefined.
pub fn purpose(h: &HeadScores, f: &Features) -> [f32; 4] {
    let emotional = emotionality(h, f).unwrap_or_else(|| sat(expressive_rate(f), 0.08));
    let raw = [
        0.15 + 0.35 * sat(f.rate(f.numbers), 0.05) + 0.5 * (1.0 - emotional),
        sat(per_sentence(f, f.questions), 0.5),
        sat(per_sentence(f, f.imperatives + f.politeness), 0.6),
        sat(f.rate(f.pronoun_i), 0.08) * (0.5 + 0.5 * emotional),
    ];
    let sum: f32 = raw.iter().sum();
    raw.map(|v| v / sum)
}

/// Formality with Russian forms of address folded in: where "Вы" or "ты" is used, the head's
/// score is averaged with the address signal mapped to [0, 1].
pub fn formality(head: Option<f32>, f: &Features) -> Option<f32> {
    let head = head?;
    if f.you_formal + f.you_informal == 0 {
        return Some(head);
    }
    Some(0.5 * head + 0.5 * (f.address_formality() + 1.0) / 2.0)
}

fn confidence(p: f32) -> f32 {
    p.max(1.0 - p)
}

/// A head's output on this text: its probabilities, and whether the text's language is outside
/// the head's training languages (cross-lingual transfer).
fn head_output<'a>(
    heads: &'a HeadSet,
    probs: &'a [Vec<f32>],
    task: &str,
    language: &Language,
) -> Option<(&'a LinearHead, &'a [f32], bool)> {
    let i = heads.heads().position(|h| h.task == task)?;
    let head = heads.heads().nth(i)?;
    let cross = !head.languages.contains(&language.code);
    Some((head, probs.get(i)?.as_slice(), cross))
}

fn head_signal(task: &str, value: f32, cross_lingual: bool) -> Signal {
    Signal {
        value,
        confidence: confidence(value),
        source: format!("head:{task}"),
        cross_lingual,
        evidence: Vec::new(),
    }
}

/// Composed results take the mean confidence of the heads they use.
fn composed(value: f32, inputs: &[Option<&Signal>], cross_lingual: bool) -> Signal {
    let used: Vec<f32> = inputs.iter().flatten().map(|s| s.confidence).collect();
    let confidence = if used.is_empty() {
        confidence(value)
    } else {
        used.iter().sum::<f32>() / used.len() as f32
    };
    Signal {
        value: value.clamp(0.0, 1.0),
        confidence,
        source: "composed".into(),
        cross_lingual,
        evidence: Vec::new(),
    }
}

/// Everything beyond sentiment for one message, from the heads' outputs (`probs`, in
/// `heads.heads()` order) and the text's features. Only for languages the encoder's heads cover
/// (the caller checks); heads trained on other languages are applied and flagged cross-lingual.
pub fn results(
    heads: &HeadSet,
    probs: &[Vec<f32>],
    language: &Language,
    features: &Features,
) -> Results {
    results_in(heads, probs, language, features, None)
}

/// A domain's maps for the text's language, and the redacted text its cues are read from.
#[derive(Clone, Copy, Debug)]
pub struct DomainView<'a> {
    pub name: &'a str,
    pub maps: &'a LanguageMaps,
    pub text: &'a str,
}

/// The head outputs of one text as [`HeadScores`] (`probs` already recalibrated for its
/// language).
pub fn head_scores(heads: &HeadSet, probs: &[Vec<f32>], language: &Language) -> HeadScores {
    let mut h = HeadScores::default();
    let scalar = |task: &str| Some(*head_output(heads, probs, task, language)?.1.first()?);
    h.politeness = scalar("politeness");
    h.formality = scalar("formality");
    h.certainty = scalar("certainty");
    h.toxicity = scalar("toxicity");
    if let Some((head, p, _)) = head_output(heads, probs, "sentiment", language) {
        let get = |l: &str| head.labels.iter().position(|x| x == l).map(|i| p[i]);
        if let (Some(n), Some(u), Some(q)) = (get("negative"), get("neutral"), get("positive")) {
            h.sentiment = Some([n, u, q]);
        }
    }
    if let Some((head, p, _)) = head_output(heads, probs, "emotions", language) {
        let e: Option<Vec<f32>> = EMOTIONS
            .iter()
            .map(|label| head.labels.iter().position(|l| l == label).map(|i| p[i]))
            .collect();
        h.emotions = e.map(|e| std::array::from_fn(|k| e[k]));
    }
    h
}

/// Each head's outputs after its own language recalibration and, with a domain, the domain's
/// maps (sentiment, emotions and politeness written back into the heads' label order), with
/// what the maps made of the composed signals.
pub fn calibrated(
    heads: &HeadSet,
    probs: &[Vec<f32>],
    language: &Language,
    features: &Features,
    domain: Option<DomainView<'_>>,
) -> (Vec<Vec<f32>>, Option<(General, Applied)>) {
    // each head's per-language recalibration (fitted on that language's dev set), if it has one
    let mut probs = heads.for_language(probs, &language.code);
    let Some(d) = domain else {
        return (probs, None);
    };
    let general = General::of(&head_scores(heads, &probs, language), features);
    let applied = super::domain::apply(d.maps, &general, features, d.text);
    for (head, p) in heads.heads().zip(probs.iter_mut()) {
        let set = |p: &mut Vec<f32>, label: &str, v: f32| {
            if let Some(i) = head.labels.iter().position(|l| l == label) {
                p[i] = v;
            }
        };
        match head.task.as_str() {
            "sentiment" => {
                if let Some(s) = applied.sentiment {
                    for (label, v) in ["negative", "neutral", "positive"].iter().zip(s) {
                        set(p, label, v);
                    }
                }
            }
            "emotions" => {
                if let Some(e) = applied.emotions {
                    for (label, v) in EMOTIONS.iter().zip(e) {
                        set(p, label, v);
                    }
                }
            }
            "politeness" => {
                if let (Some(v), Some(first)) = (applied.politeness, p.first_mut()) {
                    *first = v;
                }
            }
            _ => {}
        }
    }
    (probs, Some((general, applied)))
}

/// [`results`] under a domain's maps (`None`: the general outputs).
pub fn results_in(
    heads: &HeadSet,
    probs: &[Vec<f32>],
    language: &Language,
    features: &Features,
    domain: Option<DomainView<'_>>,
) -> Results {
    let (probs, domain_out) = calibrated(heads, probs, language, features, domain);
    let probs = &probs;
    let domain_source = domain.map(|d| format!("domain:{}", d.name));
    let mut out = Results::default();
    let mut h = HeadScores::default();
    let mut any_cross = false;
    let mut scalar = |task: &str, h_field: &mut Option<f32>| -> Option<Signal> {
        let (_, p, cross) = head_output(heads, probs, task, language)?;
        let v = *p.first()?;
        *h_field = Some(v);
        any_cross |= cross;
        Some(head_signal(task, v, cross))
    };
    let politeness = scalar("politeness", &mut h.politeness);
    let formality_head = scalar("formality", &mut h.formality);
    let certainty = scalar("certainty", &mut h.certainty);
    let toxicity = scalar("toxicity", &mut h.toxicity);
    if let Some((head, p, cross)) = head_output(heads, probs, "sentiment", language) {
        let get = |l: &str| head.labels.iter().position(|x| x == l).map(|i| p[i]);
        if let (Some(n), Some(u), Some(q)) = (get("negative"), get("neutral"), get("positive")) {
            h.sentiment = Some([n, u, q]);
        }
        // The sentiment message itself is built by the caller; its labels' signals (and their
        // evidence) live beside the other labels'.
        for (label, v) in head.labels.iter().zip(p) {
            out.label_signals.push((
                format!("sentiment.{label}"),
                head_signal("sentiment", *v, cross),
            ));
        }
    }
    if let Some((head, p, cross)) = head_output(heads, probs, "emotions", language) {
        let mut e = [0.0f32; 7];
        let mut complete = true;
        for (k, label) in EMOTIONS.iter().enumerate() {
            match head.labels.iter().position(|l| l == label) {
                Some(i) => e[k] = p[i],
                None => complete = false,
            }
        }
        if complete {
            h.emotions = Some(e);
        }
        // A domain's emotion maps are calibrated probabilities: 0.5 decides; the head's own
        // thresholds belong to its general calibration.
        let thresholds = head.thresholds_for(&language.code).filter(|_| {
            domain_out
                .as_ref()
                .is_none_or(|(_, a)| a.emotions.is_none())
        });
        for (j, (label, v)) in head.labels.iter().zip(p).enumerate() {
            if *v >= thresholds.map_or(0.5, |t| t[j]) {
                out.emotion_labels.push(label.clone());
            }
            out.emotions.push((label.clone(), *v));
            out.label_signals.push((
                format!("emotions.{label}"),
                head_signal("emotions", *v, cross),
            ));
        }
    }
    out.toxicity = toxicity;
    out.general = Some(match &domain_out {
        Some((g, _)) => g.h.clone(),
        None => h.clone(),
    });
    if features.words < MIN_STYLE_WORDS {
        out.abstentions.push(format!(
            "style, tones, purpose: {} word(s), fewer than {MIN_STYLE_WORDS}",
            features.words
        ));
        return out;
    }
    let mut style = self::style(&h, features);
    let address = features.you_formal + features.you_informal > 0;
    // Under a domain, frustration and urgency are the maps' (or, without a map, the general
    // values): they were fitted on, and stand for, the general composed values.
    let mut frustrated = None;
    if let Some((general, applied)) = &domain_out {
        style.urgency = applied.urgency.unwrap_or(general.urgency);
        frustrated = applied.frustration.or(general.frustrated);
    }
    let domain_formality = domain_out.as_ref().and_then(|(_, a)| a.formality);
    out.style = Style {
        formality: domain_formality
            .or_else(|| formality(h.formality, features))
            .map(|v| Signal {
                value: v,
                confidence: confidence(v),
                source: match (&domain_source, domain_formality) {
                    (Some(d), Some(_)) => d.clone(),
                    _ if address => "composed:address".into(),
                    _ => "head:formality".into(),
                },
                cross_lingual: formality_head.as_ref().is_some_and(|s| s.cross_lingual),
                evidence: Vec::new(),
            }),
        directness: style
            .directness
            .map(|v| composed(v, &[certainty.as_ref(), politeness.as_ref()], any_cross)),
        emotionality: style.emotionality.map(|v| {
            let neutral = out
                .label_signals
                .iter()
                .find(|(k, _)| k == "emotions.neutral");
            composed(v, &[neutral.map(|(_, s)| s)], false)
        }),
        urgency: Some(composed(style.urgency, &[], false)),
        politeness,
        certainty,
    };
    if let Some(mut t) = tones(&h, features) {
        if let Some(v) = frustrated {
            t[0] = v;
        }
        for (label, v) in TONES.iter().zip(t) {
            out.tones.push((label.to_string(), v));
            out.label_signals
                .push((format!("tones.{label}"), composed(v, &[], any_cross)));
        }
    } else {
        out.abstentions
            .push("tones: needs the sentiment, emotions and politeness heads".into());
    }
    for (label, v) in PURPOSES.iter().zip(purpose(&h, features)) {
        out.purpose.push((label.to_string(), v));
        out.label_signals
            .push((format!("purpose.{label}"), composed(v, &[], false)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(sentences: usize, words: usize) -> Features {
        Features {
            sentences,
            words,
            ..Default::default()
        }
    }

    fn heads() -> HeadScores {
        HeadScores {
            sentiment: Some([0.1, 0.3, 0.6]),
            emotions: Some([0.05, 0.02, 0.03, 0.6, 0.05, 0.1, 0.3]),
            politeness: Some(0.7),
            formality: Some(0.5),
            certainty: Some(0.8),
            toxicity: Some(0.02),
        }
    }

    #[test]
    fn orders_and_questions_change_purpose_and_directness() {
        let h = heads();
        let mut ask = features(2, 12);
        ask.questions = 2;
        let mut order = features(2, 12);
        order.imperatives = 2;
        let p_ask = purpose(&h, &ask);
        let p_order = purpose(&h, &order);
        assert!((p_ask.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(p_ask[1] > p_ask[2] && p_ask[1] > p_ask[3], "{p_ask:?}");
        assert!(p_order[2] > p_order[1], "{p_order:?}");
        assert!(directness(&h, &order).unwrap() > directness(&h, &ask).unwrap());
        let mut hedged = ask.clone();
        hedged.hedges = 3;
        assert!(directness(&h, &hedged).unwrap() < directness(&h, &ask).unwrap());
    }

    #[test]
    fn an_angry_urgent_complaint_is_frustrated_not_satisfied() {
        let h = HeadScores {
            sentiment: Some([0.9, 0.08, 0.02]),
            emotions: Some([0.8, 0.3, 0.1, 0.02, 0.2, 0.1, 0.05]),
            politeness: Some(0.2),
            toxicity: Some(0.1),
            ..heads()
        };
        let mut f = features(3, 25);
        f.urgency = 2;
        f.exclamations = 3;
        f.caps_words = 2;
        let t = tones(&h, &f).unwrap();
        assert!(t[0] > 0.7, "frustrated {t:?}");
        assert!(t[1] < 0.05, "satisfied {t:?}");
        assert!(t[3] > t[2], "impolite over polite {t:?}");
        assert!(urgency(&h, &f) > urgency(&heads(), &features(3, 25)));
        assert!(emotionality(&h, &f).unwrap() > 0.8);
        for v in t {
            assert!((0.0..=1.0).contains(&v));
        }
    }

    #[test]
    fn missing_heads_leave_results_out_instead_of_guessing() {
        let h = HeadScores::default();
        let f = features(1, 5);
        assert_eq!(directness(&h, &f), None);
        assert_eq!(emotionality(&h, &f), None);
        assert_eq!(tones(&h, &f), None);
        assert!((0.0..=1.0).contains(&urgency(&h, &f)));
        assert!((purpose(&h, &f).iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }

    #[test]
    fn russian_address_moves_formality() {
        let mut vy = features(1, 6);
        vy.you_formal = 2;
        let mut ty = features(1, 6);
        ty.you_informal = 2;
        assert!(formality(Some(0.5), &vy).unwrap() > 0.7);
        assert!(formality(Some(0.5), &ty).unwrap() < 0.3);
        assert_eq!(formality(Some(0.4), &features(1, 6)), Some(0.4));
        assert_eq!(formality(None, &vy), None);
    }
}
