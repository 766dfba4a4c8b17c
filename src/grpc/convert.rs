//! proto <-> domain conversion. Also used by the CLI, whose JSONL is the proto3 JSON mapping.
use crate::{
    analysis::{
        Channel, ConversationAnalysis, MessageAnalysis, MessageInput, Role, Segment, ServiceInfo,
        Trajectory,
    },
    proto::v1 as pb,
    Error, Result,
};

/// Converts and checks a proto message; `field` is its path for errors, e.g. `messages[3]`.
pub fn message_from_proto(m: pb::Message, field: &str) -> Result<MessageInput> {
    let channel = match pb::Channel::try_from(m.channel) {
        Ok(pb::Channel::Unspecified) => Channel::Unspecified,
        Ok(pb::Channel::Email) => Channel::Email,
        Ok(pb::Channel::Chat) => Channel::Chat,
        Ok(pb::Channel::CallTranscript) => Channel::CallTranscript,
        Ok(pb::Channel::Sms) => Channel::Sms,
        Ok(pb::Channel::Social) => Channel::Social,
        Err(_) => {
            return Err(Error::invalid(
                format!("{field}.channel"),
                format!(
                    "unknown value {}; expected 0..=5 (CHANNEL_UNSPECIFIED..CHANNEL_SOCIAL)",
                    m.channel
                ),
            ))
        }
    };
    let role = match pb::Role::try_from(m.role) {
        Ok(pb::Role::Unspecified) => Role::Unspecified,
        Ok(pb::Role::Customer) => Role::Customer,
        Ok(pb::Role::Agent) => Role::Agent,
        Ok(pb::Role::Bot) => Role::Bot,
        Err(_) => {
            return Err(Error::invalid(
                format!("{field}.role"),
                format!(
                    "unknown value {}; expected 0..=3 (ROLE_UNSPECIFIED..ROLE_BOT)",
                    m.role
                ),
            ))
        }
    };
    let timestamp = match m.timestamp {
        None => None,
        Some(ts) if !(0..1_000_000_000).contains(&ts.nanos) => {
            return Err(Error::invalid(
                format!("{field}.timestamp.nanos"),
                format!("{} is outside 0..999999999", ts.nanos),
            ))
        }
        Some(ts) => Some(ts.seconds as f64 + ts.nanos as f64 * 1e-9),
    };
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
                    format!("{field}.transcript"),
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
        timestamp,
        language_hint: Some(m.language_hint).filter(|h| !h.is_empty()),
        email_subject,
        segment,
    })
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

pub fn analysis_to_proto(a: MessageAnalysis) -> pb::MessageAnalysis {
    pb::MessageAnalysis {
        id: a.id,
        language: Some(pb::LanguageInfo {
            code: a.language.code,
            confidence: a.language.confidence,
            supported: a.language.supported,
            from_hint: a.language.from_hint,
        }),
        sentiment: a.sentiment.map(|s| pb::Sentiment {
            label: s.label,
            score: s.score,
            confidence: s.confidence,
            probabilities: s.probabilities.into_iter().collect(),
        }),
        emotions: Default::default(),
        tokens: u32::try_from(a.tokens).unwrap_or(u32::MAX),
        truncated: a.truncated,
        model_version: a.model_version.to_string(),
        timings: Some(pb::Timings {
            tokenize_us: micros(a.timings.tokenize),
            queue_us: micros(a.timings.queue),
            inference_us: micros(a.timings.inference),
            total_us: micros(a.timings.total),
        }),
    }
}

fn role_to_proto(r: Role) -> pb::Role {
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
            max_batch_messages: i.limits.max_batch_messages as u32,
            max_tokens: i.limits.max_tokens as u32,
        }),
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
