//! Domain types of the analysis, independent of the transport.
use std::{sync::Arc, time::Duration};

use crate::text::{
    CallMetrics, ChatSummary, CutKind, Features, Language, LanguageMix, PiiKind, Sentence,
    TranscriptFormat, Turn,
};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Channel {
    #[default]
    Unspecified,
    Email,
    Chat,
    CallTranscript,
    Sms,
    Social,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Role {
    #[default]
    Unspecified,
    Customer,
    Agent,
    Bot,
}

/// How a message's text is laid out (see `TextFormat` in the proto).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TextFormat {
    /// One message; on the email channel a plain-text email body.
    #[default]
    Unspecified,
    Html,
    Rfc822,
    ChatLog,
    Transcript(TranscriptFormat),
}

/// Transcript segment timing, seconds from the start of the call.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Segment {
    pub speaker: String,
    pub start_seconds: f64,
    pub end_seconds: f64,
    pub asr_confidence: f32,
}

/// A message to analyse.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MessageInput {
    pub id: String,
    pub customer_id: String,
    pub conversation_id: String,
    pub channel: Channel,
    pub role: Role,
    /// The input as UTF-8 text; empty when `raw` carries it.
    pub text: String,
    /// The input as bytes (a MIME email, or a body in `charset`); empty when `text` carries it.
    pub raw: Vec<u8>,
    pub charset: Option<String>,
    pub format: TextFormat,
    /// The customer's speaker label in a chat log or transcript.
    pub customer_speaker: Option<String>,
    /// Seconds since the Unix epoch.
    pub timestamp: Option<f64>,
    pub language_hint: Option<String>,
    pub email_subject: Option<String>,
    pub segment: Option<Segment>,
    /// Leave out the evidence (and the sentence encodings it needs); see [`super::evidence`].
    pub skip_evidence: bool,
    /// The calibration domain for this message; `None`: the server's `--domain`.
    pub domain: Option<super::domain::Domain>,
}

/// Three-class polarity with its distribution.
#[derive(Clone, Debug, PartialEq)]
pub struct Sentiment {
    pub label: String,
    /// P(positive) - P(negative), in [-1, 1].
    pub score: f32,
    /// Probability of `label`.
    pub confidence: f32,
    /// (label, probability) in the head's label order.
    pub probabilities: Vec<(String, f32)>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Timings {
    /// The text pipeline (decode, cut, redact, split, measure).
    pub prepare: Duration,
    pub tokenize: Duration,
    pub queue: Duration,
    pub inference: Duration,
    pub total: Duration,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MessageAnalysis {
    pub id: String,
    pub language: Language,
    /// None when the text's language is not one the sentiment head covers (it abstains).
    pub sentiment: Option<Sentiment>,
    /// Emotions, style, toxicity, tones and purpose; see [`super::compose`].
    pub results: Results,
    pub tokens: usize,
    pub truncated: bool,
    /// Tokens encoded for the evidence stretches, beside `tokens`.
    pub evidence_tokens: usize,
    /// What the text pipeline made of the input; safe to store and log.
    pub text: TextReport,
    pub model_version: Arc<str>,
    pub timings: Timings,
    /// The `traits` head's logits, for profiles to pool (None without that head or for a
    /// language the heads do not cover). Never reported per message: one message says next to
    /// nothing about a person.
    pub traits: Option<MessageTraits>,
}

/// The `traits` head's logits (in `profile::traits::TRAITS` order) for a message and for each
/// of its evidence stretches.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MessageTraits {
    pub logits: [f32; 5],
    /// The logit of a person at the population's median (the head's decision thresholds): a
    /// message above it leans towards the trait.
    pub centre: [f32; 5],
    /// Byte range in the redacted text and logits, per stretch; empty with a single stretch.
    pub stretches: Vec<(std::ops::Range<usize>, [f32; 5])>,
}

/// A stretch of the input that was not analysed, redacted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedactedCut {
    pub kind: CutKind,
    pub text: String,
}

/// The text pipeline's result without the raw input: everything here is redacted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TextReport {
    /// The analysed words with personal data replaced by typed placeholders.
    pub redacted: String,
    pub cuts: Vec<RedactedCut>,
    /// Placeholders as byte ranges of `redacted`.
    pub pii: Vec<(PiiKind, std::ops::Range<usize>)>,
    pub sentences: Vec<Sentence>,
    pub languages: LanguageMix,
    pub features: Features,
    pub subject: Option<String>,
    /// Chat or transcript turns (texts redacted).
    pub turns: Vec<Turn>,
    pub chat: Option<ChatSummary>,
    pub call: Option<CallMetrics>,
    pub warnings: Vec<String>,
}

/// How one role's sentiment moved through a conversation.
#[derive(Clone, Debug, PartialEq)]
pub struct Trajectory {
    pub role: Role,
    pub scores: Vec<f32>,
    pub first: f32,
    pub last: f32,
    pub mean: f32,
    pub slope: f32,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct TurnMetrics {
    pub turns: usize,
    pub customer_turns: usize,
    pub agent_turns: usize,
    pub customer_word_share: f32,
    pub mean_agent_response_seconds: f64,
    pub mean_customer_response_seconds: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConversationAnalysis {
    pub conversation_id: String,
    pub turns: Vec<MessageAnalysis>,
    pub trajectories: Vec<Trajectory>,
    pub metrics: TurnMetrics,
    pub model_version: Arc<str>,
}

/// A result in [0, 1] with its confidence and provenance.
#[derive(Clone, Debug, PartialEq)]
pub struct Signal {
    pub value: f32,
    pub confidence: f32,
    /// "head:<task>", "composed", "composed:address".
    pub source: String,
    /// The head was trained on other languages than the text's.
    pub cross_lingual: bool,
    /// The stretches of the text that drove this result, strongest first.
    pub evidence: Vec<Evidence>,
}

/// A stretch of the redacted text (one sentence, or consecutive sentences) and a result's value
/// on it alone; see [`super::evidence`].
#[derive(Clone, Debug, PartialEq)]
pub struct Evidence {
    /// Index of the stretch's first sentence in [`TextReport::sentences`].
    pub sentence: usize,
    /// Sentences in the stretch.
    pub sentences: usize,
    /// Byte range in [`TextReport::redacted`].
    pub range: std::ops::Range<usize>,
    /// The stretch, redacted.
    pub text: String,
    pub score: f32,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Style {
    pub formality: Option<Signal>,
    pub politeness: Option<Signal>,
    pub certainty: Option<Signal>,
    pub directness: Option<Signal>,
    pub emotionality: Option<Signal>,
    pub urgency: Option<Signal>,
}

/// What the heads and the composed formulas give for one message.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Results {
    /// (label, probability) in the head's label order; empty when abstaining.
    pub emotions: Vec<(String, f32)>,
    /// The labels of `emotions` at or over the head's decision threshold for the text's
    /// language (0.5 for a head without thresholds), in the head's label order.
    pub emotion_labels: Vec<String>,
    pub style: Style,
    pub toxicity: Option<Signal>,
    pub tones: Vec<(String, f32)>,
    pub purpose: Vec<(String, f32)>,
    /// "emotions.joy", "tones.frustrated", "purpose.action_seeking" -> confidence, provenance.
    pub label_signals: Vec<(String, Signal)>,
    /// Results left out and why.
    pub abstentions: Vec<String>,
    /// The heads' general outputs (after their language recalibration, before any domain map):
    /// what a domain's maps are fitted on (`rapport eval support --fit`). Not sent to callers.
    pub general: Option<super::compose::HeadScores>,
}

fn probability(list: &[(String, f32)], label: &str) -> f32 {
    list.iter()
        .find(|(l, _)| l == label)
        .map_or(0.0, |(_, p)| *p)
}

/// The two-sided style scales: 1 and 0 are both answers (polite / rude), unlike the other
/// results, where 0 is the absence of the label.
pub const TWO_SIDED: [&str; 4] = [
    "style.politeness",
    "style.formality",
    "style.certainty",
    "style.directness",
];

impl Results {
    /// P(`label`) among the emotions; 0 when absent (abstaining).
    pub fn emotion(&self, label: &str) -> f32 {
        probability(&self.emotions, label)
    }

    /// The strength of a tone (`frustrated`, `sympathetic`, ...); 0 when absent.
    pub fn tone(&self, label: &str) -> f32 {
        probability(&self.tones, label)
    }

    /// Every [`Signal`] with a key: "toxicity", "style.<dimension>", and the `label_signals`
    /// keys ("emotions.joy", ...).
    pub fn signals(&self) -> Vec<(String, &Signal)> {
        let s = &self.style;
        let mut out: Vec<(String, &Signal)> = [
            ("toxicity", &self.toxicity),
            ("style.formality", &s.formality),
            ("style.politeness", &s.politeness),
            ("style.certainty", &s.certainty),
            ("style.directness", &s.directness),
            ("style.emotionality", &s.emotionality),
            ("style.urgency", &s.urgency),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k.to_string(), v)))
        .collect();
        out.extend(self.label_signals.iter().map(|(k, v)| (k.clone(), v)));
        out
    }

    /// [`Self::signals`], mutable.
    pub fn signals_mut(&mut self) -> Vec<(String, &mut Signal)> {
        let s = &mut self.style;
        let mut out: Vec<(String, &mut Signal)> = [
            ("toxicity", &mut self.toxicity),
            ("style.formality", &mut s.formality),
            ("style.politeness", &mut s.politeness),
            ("style.certainty", &mut s.certainty),
            ("style.directness", &mut s.directness),
            ("style.emotionality", &mut s.emotionality),
            ("style.urgency", &mut s.urgency),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_mut().map(|v| (k.to_string(), v)))
        .collect();
        out.extend(self.label_signals.iter_mut().map(|(k, v)| (k.clone(), v)));
        out
    }
}
