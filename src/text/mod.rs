//! Text handling before the encoder: what the customer really wrote, cleaned, split and measured.
//!
//! Real input is messy: an email carries the quoted thread, a signature and a disclaimer; a chat
//! has emoji and one-word turns and an agent's lines beside the customer's; a call transcript
//! comes from a speech recogniser with speakers, timestamps, fillers and overlaps. [`prepare`]
//! turns one such input into the customer's own words, ready for the encoder and for storage:
//!
//! ```text
//! RawText { channel, body bytes, charset?, language hint?, customer speaker? }
//!   -> decode   email: text/plain | text/html | message/rfc822 (MIME, QP, base64, charsets)
//!               a Cyrillic text that its charset decodes as gibberish is warned about
//!               chat: JSON or "[12:01] Name: text" lines; transcript: JSON | WebVTT | SRT | lines
//!   -> normalise (line ends, zero-width and bidi controls, exotic spaces)      = `decoded`
//!   -> cut      quotes, forwards, signatures, disclaimers; other speakers' turns = `cuts`
//!   -> keep     the customer's own words                                        = `text`
//!   -> redact   e-mails, phones, cards (Luhn), IBAN, IPs, INN, SNILS, passports,
//!               URLs with tokens, personal names, postal addresses -> "[EMAIL]", "[NAME]", ...                   = `redacted`, `pii`
//!   -> split    sentences (abbreviations, decimals, URLs, emoji; English and Russian),
//!               each with its language (whatlang; unsupported languages reported as such)
//!   -> measure  lexical and stylometric features; chat summary; call metrics per speaker
//! ```
//!
//! Entry point: [`prepare`] (or [`prepare_with`] for other [`Options`]) on a [`RawText`], giving a
//! [`PreparedText`]. The stages are public on their own, one module per concern: [`email`]
//! (decode, `find_cuts`), [`charset`] (mislabelled charsets), [`html`], [`chat`], [`transcript`] (parse, `call_metrics`), [`turns`]
//! (roles, times), [`normalize`], [`pii`] (`redact`), [`sentences`] (`split_sentences`),
//! [`language`] (`detect_language`, `detect_sentences`, `language_mix`), [`features`] and
//! [`lexicon`] (word lists compiled in from `models/lexicons/`).
//!
//! ```no_run
//! use rapport::text::{prepare, Channel, EmailFormat, RawText};
//! let raw = std::fs::read("message.eml").unwrap();
//! let p = prepare(&RawText::new(Channel::Email(EmailFormat::Rfc822), raw)).unwrap();
//! for s in &p.sentences {
//!     println!("{} [{}]", s.text, s.language.code); // redacted, safe to log
//! }
//! ```
//!
//! Everything is a pure function of the input. Spans are byte ranges: cuts and `kept` index
//! [`PreparedText::decoded`]; [`PiiSpan::original`] indexes [`PreparedText::text`];
//! [`PiiSpan::redacted`] and [`Sentence::range`] index [`PreparedText::redacted`].
//!
//! Privacy: `decoded`, `text` and `subject` hold the raw input and must not be logged or stored;
//! `redacted`, `sentences`, `turns` (their texts are redacted) and the figures are safe to keep.
//!
//! Hostile input gets an [`Error::InvalidArgument`](crate::Error) or a safe result, never a panic
//! or a hang: sizes are bounded ([`Options::max_input_bytes`]), every pass is linear, nesting is
//! bounded (HTML falls back to a linear stripper, JSON to serde's depth limit, MIME to
//! mail-parser's explicit stack), and bad times in transcripts are errors that name the segment.
pub mod charset;
pub mod chat;
pub mod cues;
pub mod email;
pub mod features;
pub mod html;
pub mod language;
pub mod lexicon;
pub mod normalize;
pub mod pii;
pub mod sentences;
pub mod span;
pub mod transcript;
pub mod turns;

use std::ops::Range;

pub use chat::ChatSummary;
pub use email::EmailFormat;
pub use features::Features;
pub use language::{detect_language, Language, LanguageMix};
pub use pii::{PiiKind, PiiSpan};
pub use span::{Cut, CutKind};
pub use transcript::{CallMetrics, SpeakerMetrics, TranscriptFormat};
pub use turns::{Role, Turn};

use crate::{Error, Result};

/// Where a text came from, and how it is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// A single message with no structure (a review, a form field, one chat line).
    Plain,
    Email(EmailFormat),
    Chat,
    Transcript(TranscriptFormat),
}

/// One input as it arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawText {
    pub channel: Channel,
    /// The bytes as received. UTF-8 unless `charset` says otherwise; a MIME message declares its own.
    pub body: Vec<u8>,
    /// Charset of a plain or HTML body ("windows-1251", "koi8-r"); default UTF-8.
    pub charset: Option<String>,
    /// The caller's language (ISO 639-1/3, any case): taken instead of detection.
    pub language_hint: Option<String>,
    /// In chats and transcripts, the speaker label of the customer, when the caller knows it.
    pub customer: Option<String>,
}

impl RawText {
    pub fn new(channel: Channel, body: impl Into<Vec<u8>>) -> Self {
        RawText {
            channel,
            body: body.into(),
            charset: None,
            language_hint: None,
            customer: None,
        }
    }
    pub fn with_charset(mut self, charset: impl Into<String>) -> Self {
        self.charset = Some(charset.into());
        self
    }
    pub fn with_language_hint(mut self, hint: impl Into<String>) -> Self {
        self.language_hint = Some(hint.into());
        self
    }
    pub fn with_customer(mut self, speaker: impl Into<String>) -> Self {
        self.customer = Some(speaker.into());
        self
    }
}

/// Limits and the languages the models cover.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// ISO 639-1 codes the heads were trained on; other languages are reported as unsupported.
    pub supported_languages: Vec<String>,
    /// Larger bodies are refused with InvalidArgument.
    pub max_input_bytes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            supported_languages: vec!["en".into(), "ru".into()],
            max_input_bytes: 32 << 20,
        }
    }
}

/// A sentence of the redacted text, with its language.
#[derive(Clone, Debug, PartialEq)]
pub struct Sentence {
    /// Byte range in [`PreparedText::redacted`].
    pub range: Range<usize>,
    pub text: String,
    pub language: Language,
}

/// What [`prepare`] returns.
#[derive(Clone, Debug, PartialEq)]
pub struct PreparedText {
    pub channel: Channel,
    /// Email subject (raw), when the input was a MIME message.
    pub subject: Option<String>,
    /// The whole input decoded and normalised; for chats and transcripts, one "speaker: text"
    /// line per turn. Raw: do not log or store.
    pub decoded: String,
    /// What was cut from `decoded`, sorted, non-overlapping.
    pub cuts: Vec<Cut>,
    /// What was kept of `decoded` (the customer's own words), sorted.
    pub kept: Vec<Range<usize>>,
    /// The kept pieces joined by blank lines. Raw: do not log or store.
    pub text: String,
    /// `text` with personal data replaced by typed placeholders.
    pub redacted: String,
    pub pii: Vec<PiiSpan>,
    pub sentences: Vec<Sentence>,
    /// The language of the whole customer text.
    pub language: Language,
    pub languages: LanguageMix,
    /// Features of `redacted`.
    pub features: Features,
    /// Chat or transcript turns with roles (texts redacted); empty for other channels.
    pub turns: Vec<Turn>,
    pub chat: Option<ChatSummary>,
    pub call: Option<CallMetrics>,
    /// Things the caller may want to know (replaced bytes, removed control characters, no customer found).
    pub warnings: Vec<String>,
}

/// [`prepare_with`] with the default [`Options`] (English and Russian, 32 MiB).
pub fn prepare(input: &RawText) -> Result<PreparedText> {
    prepare_with(input, &Options::default())
}

/// Prepares one input: decode, clean, cut, redact, split, detect languages, measure.
pub fn prepare_with(input: &RawText, options: &Options) -> Result<PreparedText> {
    if input.body.len() > options.max_input_bytes {
        return Err(Error::invalid(
            "body",
            format!(
                "{} bytes exceeds the limit of {} bytes",
                input.body.len(),
                options.max_input_bytes
            ),
        ));
    }
    let mut warnings = Vec::new();
    let mut subject = None;
    let mut turns = Vec::new();
    let mut chat_summary = None;
    let mut call = None;
    let (decoded, cuts) = match input.channel {
        Channel::Plain => {
            let raw = decode_text(&input.body, input.charset.as_deref(), &mut warnings)?;
            (normalized(&raw, &mut warnings), Vec::new())
        }
        Channel::Email(format) => {
            let e = email::decode(format, &input.body, input.charset.as_deref())?;
            warnings.extend(e.warnings);
            if e.attachments > 0 {
                warnings.push(format!("{} attachment(s) not analysed", e.attachments));
            }
            subject = e.subject;
            let decoded = normalized(&e.text, &mut warnings);
            let cuts = email::find_cuts(&decoded);
            (decoded, cuts)
        }
        Channel::Chat | Channel::Transcript(_) => {
            let raw = decode_text(&input.body, input.charset.as_deref(), &mut warnings)?;
            let raw = normalized(&raw, &mut warnings);
            let mut parsed = match input.channel {
                Channel::Transcript(f) => {
                    let (t, w) = transcript::parse_transcript(&raw, f)?;
                    warnings.extend(w);
                    t
                }
                _ => chat::parse_chat(&raw)?,
            };
            for t in &mut parsed {
                // JSON strings may carry what the normaliser removes from text.
                t.text = normalize::normalize(&t.text).0;
            }
            if let Some(w) = turns::assign_roles(&mut parsed, input.customer.as_deref()) {
                warnings.push(w);
            }
            if parsed.iter().all(|t| t.role != Role::Customer) {
                for t in &mut parsed {
                    if t.role == Role::Unknown {
                        t.role = Role::Customer;
                    }
                }
            }
            match input.channel {
                Channel::Transcript(_) => call = Some(transcript::call_metrics(&parsed)),
                _ => chat_summary = Some(chat::summarize(&parsed)),
            }
            let (decoded, cuts, kept) = render_turns(&parsed);
            turns = parsed;
            return finish(
                input,
                options,
                subject,
                decoded,
                cuts,
                Some(kept),
                turns,
                chat_summary,
                call,
                warnings,
            );
        }
    };
    finish(
        input,
        options,
        subject,
        decoded,
        cuts,
        None,
        turns,
        chat_summary,
        call,
        warnings,
    )
}

fn decode_text(body: &[u8], charset: Option<&str>, warnings: &mut Vec<String>) -> Result<String> {
    match charset {
        Some(label) => {
            let enc = encoding_rs::Encoding::for_label(label.trim().as_bytes())
                .ok_or_else(|| Error::invalid("charset", format!("unknown charset {label:?}")))?;
            let (text, _, bad) = enc.decode(body);
            if bad {
                warnings.push(format!("invalid {} byte sequences replaced", enc.name()));
            }
            // The caller named the charset: its decode stands, but a wrong one is said.
            charset::warn_if_mislabelled(body, enc, Some(label), "", warnings);
            Ok(text.into_owned())
        }
        None => {
            let (text, bad) = normalize::decode_utf8_lossy(body);
            if bad {
                warnings.push("invalid UTF-8 replaced with U+FFFD".into());
                charset::warn_if_mislabelled(body, encoding_rs::UTF_8, None, "", warnings);
            }
            Ok(text)
        }
    }
}

fn normalized(text: &str, warnings: &mut Vec<String>) -> String {
    let (out, report) = normalize::normalize(text);
    if report.bidi > 0 {
        warnings.push(format!(
            "{} bidirectional control character(s) removed",
            report.bidi
        ));
    }
    if report.zero_width + report.control > 0 {
        warnings.push(format!(
            "{} zero-width or control character(s) removed",
            report.zero_width + report.control
        ));
    }
    out
}

/// "speaker: text" lines; other speakers' lines are cuts, the customer's texts are kept.
fn render_turns(turns: &[Turn]) -> (String, Vec<Cut>, Vec<Range<usize>>) {
    let mut decoded = String::new();
    let mut cuts = Vec::new();
    let mut kept = Vec::new();
    for t in turns {
        if !decoded.is_empty() {
            decoded.push('\n');
        }
        let line_start = decoded.len();
        if !t.speaker.is_empty() {
            decoded.push_str(&t.speaker);
            decoded.push_str(": ");
        }
        let text_start = decoded.len();
        // One turn, one line.
        decoded.push_str(&t.text.replace('\n', " "));
        if t.role == Role::Customer {
            if decoded.len() > text_start {
                kept.push(text_start..decoded.len());
            }
        } else {
            cuts.push(Cut {
                kind: CutKind::OtherSpeaker,
                range: line_start..decoded.len(),
            });
        }
    }
    (decoded, cuts, kept)
}

#[allow(clippy::too_many_arguments)]
fn finish(
    input: &RawText,
    options: &Options,
    subject: Option<String>,
    decoded: String,
    cuts: Vec<Cut>,
    kept: Option<Vec<Range<usize>>>,
    mut turns: Vec<Turn>,
    chat: Option<ChatSummary>,
    call: Option<CallMetrics>,
    mut warnings: Vec<String>,
) -> Result<PreparedText> {
    let kept = kept.unwrap_or_else(|| email::kept_ranges(&decoded, &cuts));
    let text = kept
        .iter()
        .map(|r| &decoded[r.clone()])
        .collect::<Vec<_>>()
        .join("\n\n");
    if text.trim().is_empty() && !decoded.trim().is_empty() {
        warnings.push("nothing of the customer's own is left after the cuts".into());
    }
    let red = pii::redact(&text);
    for t in &mut turns {
        t.text = pii::redact(&t.text).text;
    }
    let hint = input.language_hint.as_deref();
    let supported = &options.supported_languages;
    let sentence_ranges = sentences::split_sentences(&red.text);
    let (sentences, language) =
        language::detect_sentences(&red.text, &sentence_ranges, hint, supported);
    let sentences: Vec<Sentence> = sentence_ranges
        .iter()
        .zip(sentences)
        .map(|(r, language)| Sentence {
            range: r.clone(),
            text: red.text[r.clone()].to_string(),
            language,
        })
        .collect();
    let languages = language::language_mix(
        sentences.iter().map(|s| (s.text.as_str(), &s.language)),
        &red.text,
    );
    let features = features::features(&red.text, &sentence_ranges);
    Ok(PreparedText {
        channel: input.channel,
        subject,
        decoded,
        cuts,
        kept,
        text,
        redacted: red.text,
        pii: red.spans,
        sentences,
        language,
        languages,
        features,
        turns,
        chat,
        call,
        warnings,
    })
}
