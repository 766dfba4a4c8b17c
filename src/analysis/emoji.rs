//! Language-independent results from emoji and emoticons, for a message no model covers: no
//! language could be told ("😡😡😡"), or one the heads were not trained on. Sentiment and emotions
//! come from the emoji alone, with `source: "emoji"` on their signals; every other result still
//! abstains.
//!
//! Each emoji counts for its polarity (the text pipeline's positive and negative emoji and
//! emoticons) and, where it has one, its emotion (the table below). `k` emoji of one kind give
//! a probability of `1 - 0.5^k`, at most [`MAX_PROB`]: one emoji is a coin toss, three are
//! fairly sure, none is certain.
use super::types::{Results, Sentiment, Signal};
use crate::text::Features;

pub const SOURCE: &str = "emoji";
/// The most an emoji-only result claims.
pub const MAX_PROB: f32 = 0.9;

const EMOTIONS: &[(&str, &[char])] = &[
    ("anger", &['😠', '😡', '🤬', '👿', '💢', '😤']),
    ("disgust", &['🤢', '🤮', '💩']),
    ("fear", &['😱', '😨', '😰', '😧', '🙀']),
    (
        "joy",
        &[
            '😀', '😃', '😄', '😁', '😆', '😊', '🙂', '😍', '🥰', '😘', '🎉', '❤', '💕', '💖',
            '😂', '🤣', '☺', '😌', '🤗', '👍', '👏',
        ],
    ),
    (
        "sadness",
        &['😢', '😭', '😞', '😔', '☹', '🙁', '💔', '😿', '😩', '😟'],
    ),
    ("surprise", &['😲', '😮', '😯', '🤯', '😳']),
];

fn strength(count: usize) -> f32 {
    (1.0 - 0.5f32.powi(count as i32)).min(MAX_PROB)
}

fn signal(value: f32) -> Signal {
    Signal {
        value,
        confidence: value.max(1.0 - value),
        source: SOURCE.into(),
        cross_lingual: false,
        evidence: Vec::new(),
    }
}

/// Sentiment and emotions from the emoji of `text` (with its `features`); `None` without any.
/// `emotion_labels` are the head's label order; `sentiment_labels` likewise.
pub fn fallback(
    text: &str,
    features: &Features,
    sentiment_labels: &[String],
    emotion_labels: &[String],
) -> Option<(Sentiment, Results)> {
    let pos = features.emoji_positive + features.emoticons_positive;
    let neg = features.emoji_negative + features.emoticons_negative;
    if pos + neg == 0 {
        return None;
    }
    let sure = strength(pos + neg);
    let share = pos as f32 / (pos + neg) as f32;
    let prob = |label: &str| match label {
        "positive" => sure * share,
        "negative" => sure * (1.0 - share),
        _ => 1.0 - sure,
    };
    let probabilities: Vec<(String, f32)> = sentiment_labels
        .iter()
        .map(|l| (l.clone(), prob(l)))
        .collect();
    let (label, confidence) = probabilities
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(l, p)| (l.clone(), *p))?;
    let sentiment = Sentiment {
        label,
        score: prob("positive") - prob("negative"),
        confidence,
        probabilities: probabilities.clone(),
    };

    let counts: Vec<(&str, usize)> = EMOTIONS
        .iter()
        .map(|(label, set)| (*label, text.chars().filter(|c| set.contains(c)).count()))
        .collect();
    let strongest = counts
        .iter()
        .map(|(_, n)| strength(*n))
        .fold(0.0f32, f32::max);
    let emotion = |label: &str| match counts.iter().find(|(l, _)| *l == label) {
        Some((_, n)) => strength(*n),
        None if label == "neutral" => (1.0 - strongest).min(MAX_PROB),
        None => 0.0,
    };
    let emotions: Vec<(String, f32)> = emotion_labels
        .iter()
        .map(|l| (l.clone(), emotion(l)))
        .collect();
    let mut label_signals: Vec<(String, Signal)> = probabilities
        .iter()
        .map(|(l, p)| (format!("sentiment.{l}"), signal(*p)))
        .collect();
    label_signals.extend(
        emotions
            .iter()
            .map(|(l, p)| (format!("emotions.{l}"), signal(*p))),
    );
    let results = Results {
        // Neutral only where no emoji says an emotion.
        emotion_labels: emotions
            .iter()
            .filter(|(l, p)| *p >= 0.5 && (l != "neutral" || strongest < 0.5))
            .map(|(l, _)| l.clone())
            .collect(),
        emotions,
        label_signals,
        ..Results::default()
    };
    Some((sentiment, results))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn three_angry_faces_are_negative_and_angry() {
        let text = "😡😡😡";
        let f = crate::text::features::features(text, std::slice::from_ref(&(0..text.len())));
        let (s, r) = fallback(
            text,
            &f,
            &labels(&["negative", "neutral", "positive"]),
            &labels(&[
                "anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral",
            ]),
        )
        .unwrap();
        assert_eq!(s.label, "negative");
        assert!((s.score + 0.875).abs() < 1e-6, "{}", s.score);
        assert_eq!(r.emotion_labels, ["anger"]);
        assert!(r.label_signals.iter().all(|(_, sig)| sig.source == SOURCE));
    }

    #[test]
    fn no_emoji_no_result() {
        let text = "Guten Tag";
        let f = crate::text::features::features(text, std::slice::from_ref(&(0..text.len())));
        assert!(fallback(text, &f, &labels(&["negative"]), &labels(&["joy"])).is_none());
    }
}
