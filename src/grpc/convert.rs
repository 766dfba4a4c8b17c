//! proto <-> domain conversion. Also used by the CLI, whose JSONL is the proto3 JSON mapping.
use crate::{
    analysis::{
        prepare::field_path, Channel, ConversationAnalysis, MessageAnalysis, MessageInput, Role,
        Segment, ServiceInfo, Signal, TextFormat, TextReport, Trajectory,
    },
    proto::v1 as pb,
    text::{self, CutKind, PiiKind, TranscriptFormat},
    Error, Result,
};

/// A proto channel; `field` is the path of the message or event that holds it, for errors.
pub fn channel_from_proto(channel: i32, field: &str) -> Result<Channel> {
    Ok(match pb::Channel::try_from(channel) {
        Ok(pb::Channel::Unspecified) => Channel::Unspecified,
        Ok(pb::Channel::Email) => Channel::Email,
        Ok(pb::Channel::Chat) => Channel::Chat,
        Ok(pb::Channel::CallTranscript) => Channel::CallTranscript,
        Ok(pb::Channel::Sms) => Channel::Sms,
        Ok(pb::Channel::Social) => Channel::Social,
        Err(_) => {
            return Err(Error::invalid(
                field_path(field, "channel"),
                format!(
                    "unknown value {channel}; expected 0..=5 (CHANNEL_UNSPECIFIED..CHANNEL_SOCIAL)"
                ),
            ))
        }
    })
}

/// Seconds since the Unix epoch of a proto timestamp; `field` is its path, for errors.
pub fn seconds_from_proto(ts: &pbjson_types::Timestamp, field: &str) -> Result<f64> {
    if !(0..1_000_000_000).contains(&ts.nanos) {
        return Err(Error::invalid(
            field_path(field, "nanos"),
            format!("{} is outside 0..999999999", ts.nanos),
        ));
    }
    Ok(ts.seconds as f64 + ts.nanos as f64 * 1e-9)
}

/// A proto timestamp of seconds since the Unix epoch; `None` for 0 (unset).
pub fn timestamp_to_proto(at: f64) -> Option<pbjson_types::Timestamp> {
    (at > 0.0).then(|| pbjson_types::Timestamp {
        seconds: at.floor() as i64,
        nanos: ((at - at.floor()) * 1e9) as i32,
    })
}

/// A role; an unknown value is INVALID_ARGUMENT naming `field`.role.
pub fn role_from_proto(role: i32, field: &str) -> Result<Role> {
    match pb::Role::try_from(role) {
        Ok(pb::Role::Unspecified) => Ok(Role::Unspecified),
        Ok(pb::Role::Customer) => Ok(Role::Customer),
        Ok(pb::Role::Agent) => Ok(Role::Agent),
        Ok(pb::Role::Bot) => Ok(Role::Bot),
        Err(_) => Err(Error::invalid(
            field_path(field, "role"),
            format!("unknown value {role}; expected 0..=3 (ROLE_UNSPECIFIED..ROLE_BOT)"),
        )),
    }
}

/// Converts and checks a proto message; `field` is its path for errors, e.g. `messages[3]`
/// (empty for a message at the top: a JSONL line of `rapport score`).
pub fn message_from_proto(m: pb::Message, field: &str) -> Result<MessageInput> {
    let channel = channel_from_proto(m.channel, field)?;
    let role = role_from_proto(m.role, field)?;
    let format = match pb::TextFormat::try_from(m.format) {
        Ok(pb::TextFormat::Unspecified) => TextFormat::Unspecified,
        Ok(pb::TextFormat::Html) => TextFormat::Html,
        Ok(pb::TextFormat::Rfc822) => TextFormat::Rfc822,
        Ok(pb::TextFormat::ChatLog) => TextFormat::ChatLog,
        Ok(pb::TextFormat::Transcript) => TextFormat::Transcript(TranscriptFormat::Auto),
        Ok(pb::TextFormat::TranscriptJson) => TextFormat::Transcript(TranscriptFormat::Json),
        Ok(pb::TextFormat::Webvtt) => TextFormat::Transcript(TranscriptFormat::WebVtt),
        Ok(pb::TextFormat::Srt) => TextFormat::Transcript(TranscriptFormat::Srt),
        Ok(pb::TextFormat::SpeakerLines) => TextFormat::Transcript(TranscriptFormat::Lines),
        Err(_) => {
            return Err(Error::invalid(
                field_path(field, "format"),
                format!(
                    "unknown value {}; expected 0..=8 (TEXT_FORMAT_UNSPECIFIED..TEXT_FORMAT_SPEAKER_LINES)",
                    m.format
                ),
            ))
        }
    };
    let timestamp = m
        .timestamp
        .as_ref()
        .map(|ts| seconds_from_proto(ts, &field_path(field, "timestamp")))
        .transpose()?;
    let (email_subject, segment) = match m.channel_fields {
        None => (None, None),
        Some(pb::message::ChannelFields::Email(e)) => {
            (Some(e.subject).filter(|s| !s.is_empty()), None)
        }
        Some(pb::message::ChannelFields::Transcript(t)) => {
            if !(t.start_seconds.is_finite() && t.end_seconds.is_finite())
                || t.start_seconds < 0.0
                || t.end_seconds < t.start_seconds
            {
                return Err(Error::invalid(
                    field_path(field, "transcript"),
                    format!(
                        "segment times must satisfy 0 <= start <= end, got start {} end {}",
                        t.start_seconds, t.end_seconds
                    ),
                ));
            }
            (
                None,
                Some(Segment {
                    speaker: t.speaker,
                    start_seconds: t.start_seconds,
                    end_seconds: t.end_seconds,
                    asr_confidence: t.asr_confidence,
                }),
            )
        }
    };
    Ok(MessageInput {
        id: m.id,
        customer_id: m.customer_id,
        conversation_id: m.conversation_id,
        channel,
        role,
        text: m.text,
        raw: m.raw.to_vec(),
        charset: Some(m.charset).filter(|c| !c.trim().is_empty()),
        format,
        customer_speaker: Some(m.customer_speaker).filter(|c| !c.trim().is_empty()),
        timestamp,
        language_hint: Some(m.language_hint).filter(|h| !h.is_empty()),
        email_subject,
        segment,
        skip_evidence: false,
        domain: None,
    })
}

/// Applies a call's `AnalysisOptions` to its messages; an unknown domain is INVALID_ARGUMENT.
pub fn apply_options(
    msgs: &mut [MessageInput],
    options: Option<&pb::AnalysisOptions>,
) -> Result<()> {
    let Some(o) = options else { return Ok(()) };
    let domain = match o.domain.trim() {
        "" => None,
        d => Some(
            d.parse::<crate::analysis::domain::Domain>()
                .map_err(|e| Error::invalid("options.domain", e.to_string()))?,
        ),
    };
    for m in msgs {
        m.skip_evidence = o.skip_evidence;
        m.domain = domain;
    }
    Ok(())
}

/// Converts a repeated field, naming each element `field[i]` in errors.
pub fn messages_from_proto(msgs: Vec<pb::Message>, field: &str) -> Result<Vec<MessageInput>> {
    msgs.into_iter()
        .enumerate()
        .map(|(i, m)| message_from_proto(m, &format!("{field}[{i}]")))
        .collect()
}

fn micros(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn language_to_proto(l: text::Language) -> pb::LanguageInfo {
    pb::LanguageInfo {
        code: l.code,
        confidence: l.confidence,
        supported: l.supported,
        from_hint: l.from_hint,
    }
}

pub fn analysis_to_proto(a: MessageAnalysis) -> pb::MessageAnalysis {
    pb::MessageAnalysis {
        id: a.id,
        language: Some(language_to_proto(a.language)),
        sentiment: a.sentiment.map(|s| pb::Sentiment {
            label: s.label,
            score: s.score,
            confidence: s.confidence,
            probabilities: s.probabilities.into_iter().collect(),
        }),
        emotions: a.results.emotions.into_iter().collect(),
        emotion_labels: a.results.emotion_labels,
        style: Some(pb::Style {
            formality: a.results.style.formality.map(signal_to_proto),
            politeness: a.results.style.politeness.map(signal_to_proto),
            certainty: a.results.style.certainty.map(signal_to_proto),
            directness: a.results.style.directness.map(signal_to_proto),
            emotionality: a.results.style.emotionality.map(signal_to_proto),
            urgency: a.results.style.urgency.map(signal_to_proto),
        })
        .filter(|s| *s != pb::Style::default()),
        toxicity: a.results.toxicity.map(signal_to_proto),
        tones: a.results.tones.into_iter().collect(),
        purpose: a.results.purpose.into_iter().collect(),
        label_signals: a
            .results
            .label_signals
            .into_iter()
            .map(|(k, s)| (k, signal_to_proto(s)))
            .collect(),
        abstentions: a.results.abstentions,
        tokens: u32::try_from(a.tokens).unwrap_or(u32::MAX),
        truncated: a.truncated,
        evidence_tokens: u32::try_from(a.evidence_tokens).unwrap_or(u32::MAX),
        text: Some(report_to_proto(a.text)),
        model_version: a.model_version.to_string(),
        timings: Some(pb::Timings {
            prepare_us: micros(a.timings.prepare),
            tokenize_us: micros(a.timings.tokenize),
            queue_us: micros(a.timings.queue),
            inference_us: micros(a.timings.inference),
            total_us: micros(a.timings.total),
        }),
    }
}

fn signal_to_proto(s: Signal) -> pb::Signal {
    pb::Signal {
        value: s.value,
        confidence: s.confidence,
        source: s.source,
        cross_lingual: s.cross_lingual,
        evidence: s
            .evidence
            .into_iter()
            .map(|e| pb::Evidence {
                sentence: offset(e.sentence),
                sentence_count: offset(e.sentences),
                start: offset(e.range.start),
                end: offset(e.range.end),
                text: e.text,
                score: e.score,
            })
            .collect(),
    }
}

fn offset(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

fn report_to_proto(r: TextReport) -> pb::TextReport {
    let f = &r.features;
    let features = pb::TextFeatures {
        chars: offset(f.chars),
        words: offset(f.words),
        sentences: offset(f.sentences),
        mean_word_chars: f.mean_word_chars,
        mean_sentence_words: f.mean_sentence_words,
        type_token_ratio: f.type_token_ratio,
        pronoun_i: offset(f.pronoun_i),
        pronoun_we: offset(f.pronoun_we),
        pronoun_you: offset(f.pronoun_you),
        you_formal: offset(f.you_formal),
        you_informal: offset(f.you_informal),
        you_capitalised: offset(f.you_capitalised),
        address_formality: f.address_formality(),
        hedges: offset(f.hedges),
        intensifiers: offset(f.intensifiers),
        politeness: offset(f.politeness),
        apologies: offset(f.apologies),
        thanks: offset(f.thanks),
        negations: offset(f.negations),
        urgency: offset(f.urgency),
        imperatives: offset(f.imperatives),
        questions: offset(f.questions),
        exclamations: offset(f.exclamations),
        numbers: offset(f.numbers),
        emoji: offset(f.emoji),
        emoji_positive: offset(f.emoji_positive),
        emoji_negative: offset(f.emoji_negative),
        emoticons_positive: offset(f.emoticons_positive),
        emoticons_negative: offset(f.emoticons_negative),
        elongations: offset(f.elongations),
        repeated_punctuation: offset(f.repeated_punctuation),
        punctuation: offset(f.punctuation),
        caps_words: offset(f.caps_words),
        caps_ratio: f.caps_ratio,
        fillers: offset(f.fillers),
        repetitions: offset(f.repetitions),
    };
    pb::TextReport {
        redacted: r.redacted,
        cuts: r
            .cuts
            .into_iter()
            .map(|c| pb::TextCut {
                kind: cut_kind_to_proto(c.kind) as i32,
                text: c.text,
            })
            .collect(),
        pii: r
            .pii
            .into_iter()
            .map(|(kind, range)| pb::PiiSpan {
                kind: pii_kind_to_proto(kind) as i32,
                start: offset(range.start),
                end: offset(range.end),
            })
            .collect(),
        sentences: r
            .sentences
            .into_iter()
            .map(|s| pb::SentenceInfo {
                text: s.text,
                start: offset(s.range.start),
                end: offset(s.range.end),
                language: Some(language_to_proto(s.language)),
            })
            .collect(),
        language_shares: r.languages.shares.into_iter().collect(),
        mixed_language: r.languages.mixed,
        features: Some(features),
        subject: r.subject.unwrap_or_default(),
        turns: r
            .turns
            .into_iter()
            .map(|t| pb::TextTurn {
                speaker: t.speaker,
                role: text_role_to_proto(t.role) as i32,
                start_seconds: t.start,
                end_seconds: t.end,
                text: t.text,
            })
            .collect(),
        chat: r.chat.map(|c| pb::ChatSummary {
            turns: offset(c.turns),
            customer_turns: offset(c.customer_turns),
            one_word_turns: offset(c.one_word_turns),
            mean_customer_turn_words: c.mean_customer_turn_words,
            agent_response_latency_seconds: c.agent_response_latency_s,
            customer_response_latency_seconds: c.customer_response_latency_s,
        }),
        call: r.call.map(|c| pb::CallMetrics {
            timed: c.timed,
            duration_seconds: c.duration_s,
            speakers: c
                .speakers
                .into_iter()
                .map(|s| pb::SpeakerMetrics {
                    speaker: s.speaker,
                    role: s.role.map_or(pb::Role::Unspecified, text_role_to_proto) as i32,
                    segments: offset(s.segments),
                    words: offset(s.words),
                    talk_time_seconds: s.talk_time_s,
                    talk_ratio: s.talk_ratio,
                    words_per_minute: s.words_per_minute,
                    fillers: offset(s.fillers),
                    repetitions: offset(s.repetitions),
                    fillers_per_100_words: s.fillers_per_100_words,
                    interruptions_made: offset(s.interruptions_made),
                    interrupted: offset(s.interrupted),
                    overlap_seconds: s.overlap_s,
                    longest_monologue_seconds: s.longest_monologue_s,
                    mean_response_latency_seconds: s.mean_response_latency_s,
                })
                .collect(),
            overlaps: offset(c.overlaps),
            overlap_seconds: c.overlap_s,
            interruptions: offset(c.interruptions),
            pauses: offset(c.pauses),
            longest_pause_seconds: c.longest_pause_s,
            silence_seconds: c.silence_s,
            longest_monologue_seconds: c.longest_monologue_s,
        }),
        warnings: r.warnings,
    }
}

fn cut_kind_to_proto(k: CutKind) -> pb::CutKind {
    match k {
        CutKind::Quote => pb::CutKind::Quote,
        CutKind::Forward => pb::CutKind::Forward,
        CutKind::Signature => pb::CutKind::Signature,
        CutKind::Disclaimer => pb::CutKind::Disclaimer,
        CutKind::OtherSpeaker => pb::CutKind::OtherSpeaker,
    }
}

fn pii_kind_to_proto(k: PiiKind) -> pb::PiiKind {
    match k {
        PiiKind::Email => pb::PiiKind::Email,
        PiiKind::Url => pb::PiiKind::Url,
        PiiKind::Card => pb::PiiKind::Card,
        PiiKind::Iban => pb::PiiKind::Iban,
        PiiKind::Snils => pb::PiiKind::Snils,
        PiiKind::Inn => pb::PiiKind::Inn,
        PiiKind::Passport => pb::PiiKind::Passport,
        PiiKind::Phone => pb::PiiKind::Phone,
        PiiKind::Ip => pb::PiiKind::Ip,
        PiiKind::Name => pb::PiiKind::Name,
        PiiKind::Address => pb::PiiKind::Address,
    }
}

/// The pipeline's roles: system lines are reported as bot turns, unknown as unspecified.
fn text_role_to_proto(r: text::Role) -> pb::Role {
    match r {
        text::Role::Customer => pb::Role::Customer,
        text::Role::Agent => pb::Role::Agent,
        text::Role::Bot | text::Role::System => pb::Role::Bot,
        text::Role::Unknown => pb::Role::Unspecified,
    }
}

pub fn role_to_proto(r: Role) -> pb::Role {
    match r {
        Role::Unspecified => pb::Role::Unspecified,
        Role::Customer => pb::Role::Customer,
        Role::Agent => pb::Role::Agent,
        Role::Bot => pb::Role::Bot,
    }
}

fn trajectory_to_proto(t: Trajectory) -> pb::SentimentTrajectory {
    pb::SentimentTrajectory {
        role: role_to_proto(t.role) as i32,
        scores: t.scores,
        first: t.first,
        last: t.last,
        mean: t.mean,
        slope: t.slope,
    }
}

pub fn conversation_to_proto(c: ConversationAnalysis) -> pb::AnalyzeConversationResponse {
    let m = c.metrics;
    pb::AnalyzeConversationResponse {
        turns: c.turns.into_iter().map(analysis_to_proto).collect(),
        conversation: Some(pb::ConversationAnalysis {
            conversation_id: c.conversation_id,
            trajectories: c
                .trajectories
                .into_iter()
                .map(trajectory_to_proto)
                .collect(),
            metrics: Some(pb::TurnMetrics {
                turns: m.turns as u32,
                customer_turns: m.customer_turns as u32,
                agent_turns: m.agent_turns as u32,
                customer_word_share: m.customer_word_share,
                mean_agent_response_seconds: m.mean_agent_response_seconds,
                mean_customer_response_seconds: m.mean_customer_response_seconds,
            }),
            model_version: c.model_version.to_string(),
        }),
    }
}

pub fn info_to_proto(i: ServiceInfo) -> pb::GetInfoResponse {
    pb::GetInfoResponse {
        version: i.version,
        model_version: i.model_version,
        models: i
            .models
            .into_iter()
            .map(|m| pb::ModelInfo {
                name: m.name,
                source: m.source,
                version: m.version,
                sha256: m.sha256,
                languages: m.languages,
            })
            .collect(),
        languages: i.languages,
        label_sets: i
            .label_sets
            .into_iter()
            .map(|(task, labels)| pb::LabelSet { task, labels })
            .collect(),
        limits: Some(pb::Limits {
            max_text_chars: i.limits.max_text_chars as u32,
            max_raw_bytes: offset(i.limits.max_raw_bytes),
            max_batch_messages: i.limits.max_batch_messages as u32,
            max_tokens: i.limits.max_tokens as u32,
            evidence_max_sentences: offset(i.limits.evidence_max_sentences),
            evidence_mode: i.limits.evidence_mode.as_str().into(),
        }),
        domain: i.domain,
        domains: i.domains,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_enum_names_the_field() {
        let m = pb::Message {
            text: "hi".into(),
            channel: 42,
            ..Default::default()
        };
        let e = message_from_proto(m, "messages[1]")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("messages[1].channel: unknown value 42"),
            "{e}"
        );
    }

    #[test]
    fn bad_transcript_times_are_rejected() {
        let m = pb::Message {
            text: "hi".into(),
            channel_fields: Some(pb::message::ChannelFields::Transcript(
                pb::TranscriptSegment {
                    start_seconds: 5.0,
                    end_seconds: 2.0,
                    ..Default::default()
                },
            )),
            ..Default::default()
        };
        let e = message_from_proto(m, "turns[0]").unwrap_err().to_string();
        assert!(e.starts_with("turns[0].transcript:"), "{e}");
    }

    #[test]
    fn proto_json_input_round_trips_into_domain() {
        let m: pb::Message = serde_json::from_str(
            r#"{"id":"a1","text":"Hello","channel":"CHANNEL_EMAIL","role":"ROLE_CUSTOMER",
                "timestamp":"2026-11-01T10:00:00Z","email":{"subject":"Refund"}}"#,
        )
        .unwrap();
        let d = message_from_proto(m, "line 1").unwrap();
        assert_eq!((d.channel, d.role), (Channel::Email, Role::Customer));
        assert_eq!(d.email_subject.as_deref(), Some("Refund"));
        assert_eq!(d.timestamp, Some(1_793_527_200.0));
    }
}
