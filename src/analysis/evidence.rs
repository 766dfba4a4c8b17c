//! Evidence: which stretches of a message drove each result.
//!
//! Sentence-level results aggregated to the message. A message of several sentences is cut into
//! stretches: one per sentence, or, past `--evidence-max-sentences` (`max`), consecutive
//! sentences grouped into at most `max` stretches of about equal length, so the whole text is
//! still covered and the extra work stays bounded. Each stretch gets an embedding of its own
//! ([`EvidenceMode`]): by default the mean of the message's own final token states over the
//! stretch's tokens (`pooled`: no extra encoder work, the stretch read in the context of the
//! message), or the stretch encoded again on its own in the same engine submission as the
//! message (`encoded`: as it would score if sent alone, at up to twice the encoder work). Every
//! result is computed on it as on a message ([`super::compose::results`]: its embedding through
//! every head, its own lexical features through the composed formulas).
//!
//! The message-level results stay those of the whole-message embedding; evidence only points at
//! the stretches behind them. For each result (a head's label, a style dimension, toxicity, a
//! tone, a purpose) the evidence is the stretch where the result is strongest, followed by the
//! next strongest when it too goes beyond the message's value, at most [`MAX_PER_RESULT`].
//! "Strongest" is the highest value, except on the two-sided scales ([`TWO_SIDED`]: politeness,
//! formality, certainty, directness) where it is the furthest towards the side the message
//! leans to: the lowest value when the message's is under 0.5 (the rudest sentence explains an
//! impolite message). A stretch that abstains from a result (style needs 3 words) is no
//! candidate for it.
//!
//! A message of one sentence (or with `max` = 1) is one stretch: its own evidence, with the
//! message's values, at no extra cost. The stretches are scored on the text the message's
//! encoding saw (personal data included, as for the message), so that one sentence scored alone
//! and as the message agree; the evidence reports the redacted stretch. A message truncated at
//! `--max-tokens` gets stretches only from the sentences its encoding reached (pooled: those
//! with tokens before the cut; encoded: `Preparer::sentences_encoded`).
use std::{collections::HashMap, ops::Range};

use crate::text::{features, Features, PiiSpan, Sentence};

use super::types::{Evidence, Results, TWO_SIDED};

/// How a stretch gets its own embedding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EvidenceMode {
    /// The mean of the message's own final token states over the stretch's tokens: no extra
    /// encoder work, and the stretch is read in the context of the whole message.
    #[default]
    Pooled,
    /// The stretch is encoded again on its own, in the same engine batch as the message: a
    /// stretch scores as it would if sent alone, at the cost of encoding its tokens twice.
    Encoded,
}

impl EvidenceMode {
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceMode::Pooled => "pooled",
            EvidenceMode::Encoded => "encoded",
        }
    }
}

/// Most stretches cited for one result.
pub const MAX_PER_RESULT: usize = 2;

/// A stretch of the redacted text that is scored on its own.
#[derive(Clone, Debug, PartialEq)]
pub struct Stretch {
    /// Index of the first sentence, and how many sentences it covers.
    pub sentence: usize,
    pub sentences: usize,
    /// Byte range in the redacted text.
    pub range: Range<usize>,
    /// Lexical features of the stretch alone (only computed when there are several stretches).
    pub features: Features,
}

/// Groups `sentences` (byte ranges, in order) into at most `max` runs of consecutive sentences,
/// as (first, count): one per sentence when there are no more than `max`; otherwise a sentence
/// joins the run in which its middle falls when the text (counted in sentence bytes) is cut
/// into `max` equal parts. Empty when `max` is 0 or there are no sentences.
pub fn group(sentences: &[Range<usize>], max: usize) -> Vec<(usize, usize)> {
    if max == 0 || sentences.is_empty() {
        return Vec::new();
    }
    if sentences.len() <= max {
        return (0..sentences.len()).map(|i| (i, 1)).collect();
    }
    let total: usize = sentences.iter().map(|r| r.len()).sum::<usize>().max(1);
    let mut out: Vec<(usize, usize)> = Vec::with_capacity(max);
    let mut last_run = usize::MAX;
    let mut before = 0usize;
    for (i, r) in sentences.iter().enumerate() {
        let middle = 2 * before + r.len(); // twice the middle, to stay in integers
        let run = (middle * max / (2 * total)).min(max - 1);
        before += r.len();
        match out.last_mut() {
            Some((_, count)) if run == last_run => *count += 1,
            _ => out.push((i, 1)),
        }
        last_run = run;
    }
    out
}

/// The stretches of a prepared text: `group`ed sentences with their ranges in `redacted` and,
/// when there are several, their own features.
pub fn stretches(redacted: &str, sentences: &[Sentence], max: usize) -> Vec<Stretch> {
    let ranges: Vec<Range<usize>> = sentences.iter().map(|s| s.range.clone()).collect();
    let runs = group(&ranges, max);
    let several = runs.len() > 1;
    runs.into_iter()
        .map(|(first, count)| {
            let range = ranges[first].start..ranges[first + count - 1].end;
            let features = if several {
                let inner: Vec<Range<usize>> = ranges[first..first + count]
                    .iter()
                    .map(|r| r.start - range.start..r.end - range.start)
                    .collect();
                features::features(&redacted[range.clone()], &inner)
            } else {
                Features::default()
            };
            Stretch {
                sentence: first,
                sentences: count,
                range,
                features,
            }
        })
        .collect()
}

/// The byte range in the text before redaction that `range` of the redacted text came from
/// (`pii` sorted, as `pii::redact` gives them). A bound inside a placeholder widens to the whole
/// original.
pub fn original_range(range: &Range<usize>, pii: &[PiiSpan]) -> Range<usize> {
    let map = |pos: usize, is_end: bool| {
        let mut shift: isize = 0;
        for s in pii {
            if pos >= s.redacted.end {
                shift += s.original.len() as isize - s.redacted.len() as isize;
            } else if pos > s.redacted.start {
                return if is_end {
                    s.original.end
                } else {
                    s.original.start
                };
            } else {
                break;
            }
        }
        (pos as isize + shift).max(0) as usize
    };
    map(range.start, false)..map(range.end, true)
}

/// Attaches evidence to every signal of `message` from the same results computed on each
/// stretch (`per_stretch[i]` for `stretches[i]`), by the rule in the module docs. With one
/// stretch, that stretch is the evidence of every result, with the message's own value.
pub fn attach(
    message: &mut Results,
    redacted: &str,
    stretches: &[Stretch],
    per_stretch: &[Results],
) {
    let cite = |s: &Stretch, score: f32| Evidence {
        sentence: s.sentence,
        sentences: s.sentences,
        range: s.range.clone(),
        text: redacted
            .get(s.range.clone())
            .unwrap_or_default()
            .to_string(),
        score,
    };
    if let [only] = stretches {
        for (_, signal) in message.signals_mut() {
            signal.evidence = vec![cite(only, signal.value)];
        }
        return;
    }
    let values: Vec<HashMap<String, f32>> = per_stretch
        .iter()
        .map(|r| r.signals().into_iter().map(|(k, s)| (k, s.value)).collect())
        .collect();
    for (key, signal) in message.signals_mut() {
        // Oriented so that larger is stronger.
        let sign = if TWO_SIDED.contains(&key.as_str()) && signal.value < 0.5 {
            -1.0
        } else {
            1.0
        };
        let mut ranked: Vec<(usize, f32)> = values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.get(&key).map(|&v| (i, v)))
            .collect();
        ranked.sort_by(|a, b| (sign * b.1).total_cmp(&(sign * a.1)).then(a.0.cmp(&b.0)));
        signal.evidence = ranked
            .into_iter()
            .enumerate()
            .take_while(|&(rank, (_, v))| rank == 0 || sign * v > sign * signal.value)
            .take(MAX_PER_RESULT)
            .map(|(_, (i, v))| cite(&stretches[i], v))
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{analysis::Signal, text::PiiKind};

    #[test]
    fn few_sentences_are_one_stretch_each_and_many_are_grouped_in_order() {
        let r = |a: usize, b: usize| a..b;
        let three = [r(0, 10), r(11, 20), r(21, 30)];
        assert_eq!(group(&three, 8), vec![(0, 1), (1, 1), (2, 1)]);
        assert_eq!(group(&three, 0), vec![]);
        assert_eq!(group(&three, 1), vec![(0, 3)]);
        // Ten equal sentences into four runs: every sentence once, in order, at most four runs.
        let ten: Vec<_> = (0..10).map(|i| r(i * 10, i * 10 + 9)).collect();
        let runs = group(&ten, 4);
        assert!(runs.len() <= 4 && runs.len() >= 3, "{runs:?}");
        let mut next = 0;
        for (first, count) in &runs {
            assert_eq!(*first, next);
            assert!(*count >= 2 && *count <= 3, "{runs:?}");
            next += count;
        }
        assert_eq!(next, 10);
        // One long sentence among short ones keeps a run of its own.
        let lopsided = [r(0, 5), r(6, 11), r(12, 300), r(301, 306), r(307, 312)];
        let runs = group(&lopsided, 3);
        assert!(runs.contains(&(2, 1)), "{runs:?}");
    }

    #[test]
    fn stretch_features_are_the_stretch_own() {
        let text = "Thanks a lot! Where is my order? I am furious!!!";
        let p = crate::text::prepare(&crate::text::RawText::new(
            crate::text::Channel::Plain,
            text,
        ))
        .unwrap();
        let st = stretches(&p.redacted, &p.sentences, 8);
        assert_eq!(st.len(), 3);
        assert_eq!(&p.redacted[st[1].range.clone()], "Where is my order?");
        assert_eq!(st[1].features.questions, 1);
        assert_eq!(st[0].features.questions, 0);
        assert!(st[2].features.exclamations > 0);
        let one = stretches(&p.redacted, &p.sentences, 1);
        assert_eq!(one.len(), 1);
        assert_eq!((one[0].sentence, one[0].sentences), (0, 3));
    }

    #[test]
    fn redacted_ranges_map_back_to_the_original_words() {
        let original = "Mail me at anna@example.com today. Or call.";
        let red = crate::text::pii::redact(original);
        assert_eq!(red.text, "Mail me at [EMAIL] today. Or call.");
        let spans: Vec<PiiSpan> = red.spans.clone();
        assert_eq!(spans[0].kind, PiiKind::Email);
        let second = red.text.find("Or").unwrap()..red.text.len();
        assert_eq!(&original[original_range(&second, &spans)], "Or call.");
        let first = 0..red.text.find(" Or").unwrap();
        assert_eq!(
            &original[original_range(&first, &spans)],
            "Mail me at anna@example.com today."
        );
        // A bound inside a placeholder takes the whole original.
        let inside = 13..15;
        assert_eq!(
            &original[original_range(&inside, &spans)],
            "anna@example.com"
        );
        assert_eq!(original_range(&(0..4), &[]), 0..4);
    }

    fn results(pairs: &[(&str, f32)]) -> Results {
        let signal = |v: f32| Signal {
            value: v,
            confidence: v.max(1.0 - v),
            source: "head:test".into(),
            cross_lingual: false,
            evidence: Vec::new(),
        };
        let mut r = Results::default();
        for (k, v) in pairs {
            match *k {
                "toxicity" => r.toxicity = Some(signal(*v)),
                "style.politeness" => r.style.politeness = Some(signal(*v)),
                k => r.label_signals.push((k.to_string(), signal(*v))),
            }
        }
        r
    }

    fn stretch(i: usize, range: Range<usize>) -> Stretch {
        Stretch {
            sentence: i,
            sentences: 1,
            range,
            features: Features::default(),
        }
    }

    #[test]
    fn evidence_is_the_strongest_stretch_and_the_next_only_past_the_message() {
        let text = "Thanks. Broken again. I hate this.";
        let st = [stretch(0, 0..7), stretch(1, 8..21), stretch(2, 22..34)];
        let mut msg = results(&[
            ("emotions.anger", 0.5),
            ("emotions.joy", 0.3),
            ("style.politeness", 0.3),
            ("toxicity", 0.1),
        ]);
        let per = [
            results(&[
                ("emotions.anger", 0.05),
                ("emotions.joy", 0.8),
                ("style.politeness", 0.9),
                ("toxicity", 0.01),
            ]),
            results(&[
                ("emotions.anger", 0.6),
                ("emotions.joy", 0.1),
                ("style.politeness", 0.4),
                ("toxicity", 0.05),
            ]),
            // Too short for style: no candidate for politeness.
            results(&[
                ("emotions.anger", 0.9),
                ("emotions.joy", 0.05),
                ("toxicity", 0.02),
            ]),
        ];
        attach(&mut msg, text, &st, &per);
        let ev = |k: &str| {
            msg.signals()
                .into_iter()
                .find(|(key, _)| key == k)
                .unwrap()
                .1
                .evidence
                .iter()
                .map(|e| (e.sentence, e.text.clone()))
                .collect::<Vec<_>>()
        };
        // Anger: the strongest, then the next because it also beats the message's 0.5.
        assert_eq!(
            ev("emotions.anger"),
            vec![(2, "I hate this.".into()), (1, "Broken again.".into())]
        );
        // Joy: the strongest only; the next (0.1) is under the message's 0.3.
        assert_eq!(ev("emotions.joy"), vec![(0, "Thanks.".into())]);
        // Politeness leans rude (0.3): the rudest stretch that has a value.
        assert_eq!(ev("style.politeness"), vec![(1, "Broken again.".into())]);
        // Toxicity is low everywhere: still the most toxic stretch, with its own score.
        let tox = &msg.toxicity.as_ref().unwrap().evidence;
        assert_eq!((tox.len(), tox[0].sentence), (1, 1));
        assert!((tox[0].score - 0.05).abs() < 1e-6);
    }

    #[test]
    fn one_stretch_is_the_evidence_of_everything_with_the_message_values() {
        let mut msg = results(&[("emotions.joy", 0.7), ("toxicity", 0.1)]);
        attach(&mut msg, "All good.", &[stretch(0, 0..9)], &[]);
        for (_, s) in msg.signals() {
            assert_eq!(s.evidence.len(), 1);
            assert_eq!(s.evidence[0].text, "All good.");
            assert_eq!(s.evidence[0].score, s.value);
        }
    }
}
