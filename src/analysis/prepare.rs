//! From a [`MessageInput`] to the words the models see: checks against the limits, the text
//! pipeline ([`crate::text`]) run on the message as its channel and format say, the tokenizer,
//! and a report of what the pipeline did that carries nothing of the raw input.
use std::{
    ops::Range,
    sync::Arc,
    time::{Duration, Instant},
};

use crate::{
    model::{token_span, Encoder, Tokenized},
    text::{
        self,
        cues::{cues_of, Cues},
        Channel as Layout, EmailFormat, Language, PreparedText, RawText, Sentence,
    },
    Error, Result,
};

use super::{
    evidence::{self, EvidenceMode, Stretch},
    Channel, Limits, MessageInput, RedactedCut, TextFormat, TextReport,
};

/// The stage before the engine. Cheap to clone into a blocking task.
#[derive(Clone)]
pub struct Preparer {
    encoder: Arc<Encoder>,
    /// Languages the heads cover; others are reported as unsupported and the heads abstain.
    supported: Arc<[String]>,
    limits: Limits,
    /// Some head reads the lexical cues: each message and stretch carries its own.
    cues: bool,
}

/// One message ready for the engine.
#[derive(Debug)]
pub struct PreparedMessage {
    /// The caller's message with `text` and `raw` emptied: the raw words go no further.
    pub input: MessageInput,
    pub report: TextReport,
    pub language: Language,
    /// None when nothing of the customer's own is left to encode (the heads abstain); taken by
    /// the engine.
    pub tokens: Option<Tokenized>,
    /// Tokens the encoder sees, and whether the text was cut to fit.
    pub token_count: usize,
    pub truncated: bool,
    /// The stretches that evidence cites (empty without evidence); see [`evidence`].
    pub stretches: Vec<Stretch>,
    /// Tokens of each stretch, to encode beside the message's (`--evidence-mode encoded`);
    /// empty when there is at most one stretch (a single stretch is the message itself). Taken
    /// by the engine.
    pub stretch_tokens: Vec<Tokenized>,
    /// The same stretches as token ranges of the message's own tokens, to pool (`pooled`).
    pub stretch_spans: Vec<Range<usize>>,
    /// The lexical cues of the text the encoder sees, and of each stretch in `stretch_tokens`
    /// or `stretch_spans`, when some head reads them (`None` and empty otherwise).
    pub cues: Option<Cues>,
    pub stretch_cues: Vec<Cues>,
    pub evidence_tokens: usize,
    /// Why the evidence was left out, when it was wanted but could not be had.
    pub evidence_note: Option<String>,
    pub prepare: Duration,
    pub tokenize: Duration,
    /// When preparation began, for the total time.
    pub received: Instant,
}

impl PreparedMessage {
    /// Drops the evidence of a message of several stretches (the queue cannot take them).
    pub fn shed_evidence(&mut self) {
        if self.stretches.len() > 1 {
            self.stretches.clear();
            self.stretch_tokens.clear();
            self.stretch_cues.clear();
            self.evidence_tokens = 0;
            self.evidence_note = Some(
                "evidence: left out, the inference queue could not take the sentences as well"
                    .into(),
            );
        }
    }
}

impl Preparer {
    /// `cues`: some head reads the lexical cues, so they are computed for every message.
    pub fn new(encoder: Arc<Encoder>, supported: &[String], limits: Limits, cues: bool) -> Self {
        Preparer {
            encoder,
            supported: supported.into(),
            limits,
            cues,
        }
    }

    /// Checks `m` against the limits, then prepares it. Blocking CPU work. `field` names the
    /// message in errors (`messages[3]`, `turns[0]`, `requests[2].message`; see [`field_path`]).
    pub fn prepare(&self, m: MessageInput, field: &str) -> Result<PreparedMessage> {
        self.validate(&m, field)?;
        self.prepare_unchecked(m, field)
    }

    /// How many leading sentences of a message cut at `--max-tokens` its encoding reached (at
    /// least one): evidence cites only what the message's own results saw, and the words past
    /// the cut are not encoded a second time. Counted conservatively, as each sentence
    /// tokenised alone (with its own prefix and special tokens).
    fn sentences_encoded(&self, redacted: &str, sentences: &[Sentence]) -> Result<usize> {
        let mut used = 0;
        for (i, s) in sentences.iter().enumerate() {
            used += self.encoder.tokenize(&redacted[s.range.clone()])?.ids.len();
            if used > self.limits.max_tokens {
                return Ok(i.max(1));
            }
        }
        Ok(sentences.len())
    }

    /// [`Self::prepare`] without the limits, for the server's own warm-up text.
    pub fn prepare_unchecked(&self, mut m: MessageInput, field: &str) -> Result<PreparedMessage> {
        let received = Instant::now();
        let p = pipeline(&mut m, &self.supported, field)?;
        let prepared_at = Instant::now();
        let has_words = !p.text.trim().is_empty();
        // Evidence only where there are results to explain.
        let wanted = has_words
            && p.language.supported
            && !m.skip_evidence
            && self.limits.evidence_max_sentences > 0;
        let pooled = wanted && self.limits.evidence_mode == EvidenceMode::Pooled;
        let (tokens, offsets) = match (has_words, pooled) {
            (false, _) => (None, Vec::new()),
            (true, false) => (Some(self.encoder.tokenize(&p.text)?), Vec::new()),
            (true, true) => {
                let (t, offsets) = self.encoder.tokenize_with_offsets(&p.text)?;
                (Some(t), offsets)
            }
        };
        // The token span of a range of the redacted text in the message's own tokens (the
        // encoder saw the text before redaction).
        let span =
            |range: &Range<usize>| token_span(&offsets, &evidence::original_range(range, &p.pii));
        let mut stretches = if wanted {
            let reached = match &tokens {
                Some(t) if t.truncated && pooled => p
                    .sentences
                    .iter()
                    .rposition(|s| !span(&s.range).is_empty())
                    .map_or(1, |last| last + 1),
                Some(t) if t.truncated => self.sentences_encoded(&p.redacted, &p.sentences)?,
                _ => p.sentences.len(),
            };
            evidence::stretches(
                &p.redacted,
                &p.sentences[..reached],
                self.limits.evidence_max_sentences,
            )
        } else {
            Vec::new()
        };
        // The words the message's encoding saw of a stretch, personal data included; the
        // redacted stretch if the mapping does not land on character boundaries.
        let stretch_text = |s: &Stretch| {
            p.text
                .get(evidence::original_range(&s.range, &p.pii))
                .unwrap_or(&p.redacted[s.range.clone()])
        };
        let mut stretch_spans = Vec::new();
        let mut stretch_tokens = Vec::new();
        if stretches.len() > 1 && pooled {
            // Each stretch's span, found once; a stretch with no tokens has nothing to pool.
            let (kept, spans): (Vec<_>, Vec<_>) = stretches
                .into_iter()
                .map(|s| {
                    let tokens = span(&s.range);
                    (s, tokens)
                })
                .filter(|(_, tokens)| !tokens.is_empty())
                .unzip();
            stretches = kept;
            if stretches.len() > 1 {
                stretch_spans = spans;
            }
        } else if stretches.len() > 1 {
            stretch_tokens = stretches
                .iter()
                .map(|s| self.encoder.tokenize(stretch_text(s)))
                .collect::<Result<Vec<_>>>()?;
        }
        let cues = (self.cues && tokens.is_some()).then(|| cues_of(&p.text));
        let stretch_cues = if cues.is_some() && stretches.len() > 1 {
            stretches.iter().map(|s| cues_of(stretch_text(s))).collect()
        } else {
            Vec::new()
        };
        let tokenize = prepared_at.elapsed();
        Ok(PreparedMessage {
            token_count: tokens.as_ref().map_or(0, |t| t.ids.len()),
            truncated: tokens.as_ref().is_some_and(|t| t.truncated),
            evidence_tokens: stretch_tokens.iter().map(|t| t.ids.len()).sum(),
            evidence_note: None,
            stretches,
            stretch_tokens,
            stretch_spans,
            cues,
            stretch_cues,
            input: m,
            language: p.language.clone(),
            report: report(p),
            tokens,
            prepare: prepared_at - received,
            tokenize,
            received,
        })
    }

    /// Exactly one of `text` and `raw`, within the limits, in a format that fits the channel.
    pub fn validate(&self, m: &MessageInput, field: &str) -> Result<()> {
        layout(m.channel, m.format, field)?;
        if m.segment.is_some() && matches!(m.format, TextFormat::Transcript(_)) {
            return Err(Error::invalid(
                field_path(field, "transcript"),
                "one segment's times do not fit a whole transcript, whose segments carry their own",
            ));
        }
        if m.raw.is_empty() {
            return self.validate_text(&m.text, &field_path(field, "text"));
        }
        if !m.text.is_empty() {
            return Err(Error::invalid(field, "set `text` or `raw`, not both"));
        }
        if m.raw.len() > self.limits.max_raw_bytes {
            return Err(Error::invalid(
                field_path(field, "raw"),
                format!(
                    "{} bytes, over the limit of {}",
                    m.raw.len(),
                    self.limits.max_raw_bytes
                ),
            ));
        }
        Ok(())
    }

    /// Checks one text against the limits; `field` names it in errors.
    fn validate_text(&self, text: &str, field: &str) -> Result<()> {
        if text.trim().is_empty() {
            return Err(Error::invalid(field, "must not be empty"));
        }
        // Cheap upper bound first: a char is at least one byte.
        if text.len() > self.limits.max_text_chars {
            let chars = text.chars().count();
            if chars > self.limits.max_text_chars {
                return Err(Error::invalid(
                    field,
                    format!(
                        "{chars} characters, over the limit of {}",
                        self.limits.max_text_chars
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The path of `child` inside `parent` in errors, as a client writes it for the proto field:
/// `messages[3]` + `text` is `messages[3].text`. An empty `parent` is the top (a JSONL line of
/// `rapport score`, which is one `Message`): `text`.
pub fn field_path(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_string()
    } else {
        format!("{parent}.{child}")
    }
}

/// How the pipeline must read a message of `channel` written as `format`; `field` names the
/// message in errors.
pub fn layout(channel: Channel, format: TextFormat, field: &str) -> Result<Layout> {
    let fits = |ok: &[Channel]| channel == Channel::Unspecified || ok.contains(&channel);
    let layout = match format {
        TextFormat::Unspecified if channel == Channel::Email => Layout::Email(EmailFormat::Plain),
        TextFormat::Unspecified => Layout::Plain,
        TextFormat::Html if fits(&[Channel::Email, Channel::Social]) => {
            Layout::Email(EmailFormat::Html)
        }
        TextFormat::Rfc822 if fits(&[Channel::Email]) => Layout::Email(EmailFormat::Rfc822),
        TextFormat::ChatLog if fits(&[Channel::Chat, Channel::Sms, Channel::Social]) => {
            Layout::Chat
        }
        TextFormat::Transcript(f) if fits(&[Channel::CallTranscript]) => Layout::Transcript(f),
        _ => {
            return Err(Error::invalid(
                field_path(field, "format"),
                format!("{format:?} does not fit channel {channel:?}"),
            ))
        }
    };
    Ok(layout)
}

/// Runs the text pipeline on one message, taking its `text` or `raw` body out of it.
/// `supported` lists the languages the heads cover. Errors name `field`'s text or raw body.
fn pipeline(msg: &mut MessageInput, supported: &[String], field: &str) -> Result<PreparedText> {
    let channel = layout(msg.channel, msg.format, field)?;
    let (body, body_field) = if msg.raw.is_empty() {
        (std::mem::take(&mut msg.text).into_bytes(), "text")
    } else {
        (std::mem::take(&mut msg.raw), "raw")
    };
    let raw = RawText {
        channel,
        body,
        charset: msg.charset.clone(),
        language_hint: msg.language_hint.clone(),
        customer: msg.customer_speaker.clone(),
    };
    let options = text::Options {
        supported_languages: supported.to_vec(),
        ..text::Options::default()
    };
    text::prepare_with(&raw, &options).map_err(|e| match e {
        // The pipeline names places inside the body ("body", "messages[2].text"); put the
        // message's own field in front.
        Error::InvalidArgument {
            field: inner,
            reason,
        } => match inner.as_str() {
            "charset" => Error::invalid(field_path(field, "charset"), reason),
            "body" => Error::invalid(field_path(field, body_field), reason),
            place => Error::invalid(field_path(field, body_field), format!("{reason} ({place})")),
        },
        other => other,
    })
}

/// What may leave the pipeline: the redacted text and figures, never `decoded` or `text`.
pub fn report(p: PreparedText) -> TextReport {
    let cuts = p
        .cuts
        .iter()
        .map(|c| RedactedCut {
            kind: c.kind,
            text: text::pii::redact(p.decoded[c.range.clone()].trim()).text,
        })
        .collect();
    TextReport {
        cuts,
        pii: p.pii.iter().map(|s| (s.kind, s.redacted.clone())).collect(),
        subject: p.subject.map(|s| text::pii::redact(&s).text),
        redacted: p.redacted,
        sentences: p.sentences,
        languages: p.languages,
        features: p.features,
        turns: p.turns,
        chat: p.chat,
        call: p.call,
        warnings: p.warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{CutKind, PiiKind, TranscriptFormat};

    fn en_ru() -> Vec<String> {
        vec!["en".into(), "ru".into()]
    }

    #[test]
    fn format_must_fit_the_channel() {
        let e = layout(Channel::Chat, TextFormat::Rfc822, "messages[1]")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("messages[1].format: Rfc822 does not fit channel Chat"),
            "{e}"
        );
        assert_eq!(
            layout(Channel::Unspecified, TextFormat::Rfc822, "m").unwrap(),
            Layout::Email(EmailFormat::Rfc822)
        );
        assert_eq!(
            layout(Channel::Email, TextFormat::Unspecified, "m").unwrap(),
            Layout::Email(EmailFormat::Plain)
        );
        assert_eq!(
            layout(
                Channel::CallTranscript,
                TextFormat::Transcript(TranscriptFormat::Srt),
                "m"
            )
            .unwrap(),
            Layout::Transcript(TranscriptFormat::Srt)
        );
    }

    #[test]
    fn email_reply_keeps_own_words_and_reports_redacted_cuts() {
        let mut msg = MessageInput {
            channel: Channel::Email,
            text: "The refund still has not arrived, call me at +7 916 123-45-67.\n\n\
                   On Mon, 3 Nov 2026 at 10:00, Support <help@shop.example> wrote:\n\
                   > Your refund was sent, write to anna@shop.example\n"
                .into(),
            ..Default::default()
        };
        let p = pipeline(&mut msg, &en_ru(), "messages[0]").unwrap();
        assert!(
            msg.text.is_empty(),
            "the raw text is taken out of the message"
        );
        assert!(p.text.contains("refund still has not arrived"));
        assert!(!p.text.contains("was sent"));
        let r = report(p);
        assert!(r.redacted.contains("[PHONE]"), "{}", r.redacted);
        assert!(!r.redacted.contains("916"));
        assert_eq!(r.pii.len(), 1);
        assert_eq!(r.pii[0].0, PiiKind::Phone);
        assert_eq!(&r.redacted[r.pii[0].1.clone()], "[PHONE]");
        let quote = r.cuts.iter().find(|c| c.kind == CutKind::Quote).unwrap();
        assert!(quote.text.contains("[EMAIL]"), "{}", quote.text);
        assert!(!quote.text.contains("anna@"));
    }

    #[test]
    fn pipeline_errors_name_the_message_field() {
        let mut msg = MessageInput {
            channel: Channel::CallTranscript,
            format: TextFormat::Transcript(TranscriptFormat::Json),
            text: r#"[{"speaker":"A","start":-5,"end":2,"text":"hi"}]"#.into(),
            ..Default::default()
        };
        let e = pipeline(&mut msg, &en_ru(), "messages[4]")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("messages[4].text: "), "{e}");
        let mut msg = MessageInput {
            raw: b"\xcf\xf0\xe8\xe2\xe5\xf2".to_vec(),
            charset: Some("no-such-charset".into()),
            ..Default::default()
        };
        let e = pipeline(&mut msg, &en_ru(), "messages[0]")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("messages[0].charset: "), "{e}");
    }

    #[test]
    fn raw_windows_1251_body_is_decoded() {
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode("Спасибо, всё работает отлично!");
        let mut msg = MessageInput {
            raw: bytes.into_owned(),
            charset: Some("windows-1251".into()),
            ..Default::default()
        };
        let p = pipeline(&mut msg, &en_ru(), "m").unwrap();
        assert_eq!(p.text, "Спасибо, всё работает отлично!");
        assert_eq!(p.language.code, "ru");
    }
}
