//! The LiveAssist service: proto <-> domain conversion and the stream's request loop; sessions,
//! state and hints are in `hints`.
use std::{pin::Pin, sync::Arc};

use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::{
    convert::{
        analysis_to_proto, channel_from_proto, role_from_proto, role_to_proto, seconds_from_proto,
    },
    services::{ready, Ready},
};
use crate::{
    hints::{
        service::{Closed, Handle, LiveAssist, Opened, Snapshot, Start, TurnIn, TurnOutcome},
        state::SideState,
        Hint, HintKind, Severity,
    },
    proto::v1 as pb,
    Error,
};

pub struct LiveAssistService {
    pub state: Ready,
    pub live: Arc<LiveAssist>,
}

type AssistStream = Pin<Box<dyn Stream<Item = Result<pb::AssistResponse, Status>> + Send>>;

fn reply(kind: pb::assist_response::Kind) -> Result<pb::AssistResponse, Status> {
    Ok(pb::AssistResponse { kind: Some(kind) })
}

#[tonic::async_trait]
impl pb::live_assist_server::LiveAssist for LiveAssistService {
    type AssistStream = AssistStream;

    /// One session a stream: `start`, then turns (each answered in order), then `end`. A
    /// stream that breaks or half-closes without `end` detaches its session for the grace
    /// period; a stream silent for the idle period is closed with `closed{reason: "idle"}`.
    async fn assist(
        &self,
        req: Request<Streaming<pb::AssistRequest>>,
    ) -> Result<Response<Self::AssistStream>, Status> {
        let analyzer = ready(&self.state)?;
        let live = self.live.clone();
        let idle = live.settings().idle;
        let mut input = req.into_inner();
        let (tx, rx) = mpsc::channel::<Result<pb::AssistResponse, Status>>(8);
        tokio::spawn(async move {
            let first = match tokio::time::timeout(idle, input.message()).await {
                Ok(Ok(Some(r))) => r,
                Ok(Ok(None)) | Ok(Err(_)) => return,
                Err(_) => {
                    let _ = tx
                        .send(Err(Status::deadline_exceeded(
                            "no `start` request within the idle period",
                        )))
                        .await;
                    return;
                }
            };
            let start = match first.kind {
                Some(pb::assist_request::Kind::Start(s)) => start_from_proto(s),
                _ => Err(Error::invalid(
                    "requests[0]",
                    "the first request must be `start`, naming the conversation",
                )),
            };
            let opened = match start {
                Ok(s) => live.open(s).await,
                Err(e) => Err(e),
            };
            let handle = match opened {
                Ok((h, o)) => {
                    let msg = reply(pb::assist_response::Kind::Opened(opened_to_proto(&h, o)));
                    if tx.send(msg).await.is_err() {
                        live.detach(&h);
                        return;
                    }
                    h
                }
                Err(e) => {
                    let _ = tx.send(Err(e.into())).await;
                    return;
                }
            };
            let mut index = 0usize;
            loop {
                index += 1;
                let next = match tokio::time::timeout(idle, input.message()).await {
                    Err(_) => {
                        let closed = live.close(handle, "idle").await;
                        let _ = tx.send(closed_reply(closed)).await;
                        return;
                    }
                    Ok(Ok(Some(r))) => r,
                    // Broken or half-closed without `end`: resumable within the grace period.
                    Ok(Ok(None)) | Ok(Err(_)) => {
                        live.detach(&handle);
                        return;
                    }
                };
                let response = match next.kind {
                    Some(pb::assist_request::Kind::Turn(t)) => {
                        let turn_id = t.turn_id.clone();
                        match turn_from_proto(t, &format!("requests[{index}].turn")) {
                            Ok(t) => match live.turn(&analyzer, &handle, t).await {
                                Ok(out) => outcome_to_proto(out),
                                Err(e) => {
                                    let _ = tx.send(Err(e.into())).await;
                                    return;
                                }
                            },
                            // A malformed turn is answered in its place; the stream goes on.
                            Err(e) => pb::TurnResult {
                                turn_id,
                                error: e.to_string(),
                                ..Default::default()
                            },
                        }
                    }
                    Some(pb::assist_request::Kind::End(_)) => {
                        let closed = live.close(handle, "ended").await;
                        let _ = tx.send(closed_reply(closed)).await;
                        return;
                    }
                    Some(pb::assist_request::Kind::Start(_)) => {
                        let e = Error::invalid(
                            format!("requests[{index}].start"),
                            format!(
                                "this stream already holds conversation {}; open another \
                                 stream for another conversation",
                                handle.conversation_id
                            ),
                        );
                        let _ = tx.send(Err(e.into())).await;
                        live.detach(&handle);
                        return;
                    }
                    None => {
                        let e = Error::invalid(
                            format!("requests[{index}]"),
                            "empty request: set start, turn or end",
                        );
                        let _ = tx.send(Err(e.into())).await;
                        live.detach(&handle);
                        return;
                    }
                };
                let sent = tx
                    .send(reply(pb::assist_response::Kind::Turn(response)))
                    .await;
                if sent.is_err() {
                    live.detach(&handle);
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

fn closed_reply(closed: Result<Closed, Error>) -> Result<pb::AssistResponse, Status> {
    let c = closed?;
    reply(pb::assist_response::Kind::Closed(pb::SessionClosed {
        conversation_id: c.conversation_id,
        reason: c.reason,
        profile_messages: c.profile_messages,
        profile_note: c.profile_note,
    }))
}

fn start_from_proto(s: pb::SessionStart) -> Result<Start, Error> {
    Ok(Start {
        conversation_id: s.conversation_id,
        customer_id: s.customer_id,
        channel: channel_from_proto(s.channel, "start")?,
        languages: s.languages,
        update_profile: s.update_profile,
    })
}

fn turn_from_proto(t: pb::LiveTurn, field: &str) -> Result<TurnIn, Error> {
    let role = role_from_proto(t.role, field)?;
    let timestamp = t
        .timestamp
        .as_ref()
        .map(|ts| seconds_from_proto(ts, &format!("{field}.timestamp")))
        .transpose()?;
    let span = if t.end_seconds > 0.0 || t.start_seconds > 0.0 {
        if !(t.start_seconds.is_finite()
            && t.end_seconds.is_finite()
            && t.start_seconds >= 0.0
            && t.end_seconds >= t.start_seconds)
        {
            return Err(Error::invalid(
                format!("{field}.end_seconds"),
                format!(
                    "start {} and end {} must be offsets with 0 <= start <= end",
                    t.start_seconds, t.end_seconds
                ),
            ));
        }
        Some((t.start_seconds, t.end_seconds))
    } else {
        None
    };
    Ok(TurnIn {
        turn_id: t.turn_id,
        role,
        text: t.text,
        timestamp,
        span,
        language_hint: Some(t.language_hint).filter(|l| !l.is_empty()),
    })
}

fn opened_to_proto(h: &Handle, o: Opened) -> pb::SessionOpened {
    pb::SessionOpened {
        conversation_id: h.conversation_id.clone(),
        resumed: o.resumed,
        turns: o.turns,
        has_baseline: o.has_baseline,
        hints: o.hints.into_iter().map(hint_to_proto).collect(),
    }
}

fn hint_kind_to_proto(k: HintKind) -> pb::HintKind {
    match k {
        HintKind::EscalationRisk => pb::HintKind::EscalationRisk,
        HintKind::CustomerFrustrated => pb::HintKind::CustomerFrustrated,
        HintKind::ToneMismatch => pb::HintKind::ToneMismatch,
        HintKind::MissingEmpathy => pb::HintKind::MissingEmpathy,
        HintKind::UnansweredQuestion => pb::HintKind::UnansweredQuestion,
        HintKind::SlowReply => pb::HintKind::SlowReply,
        HintKind::PositiveMoment => pb::HintKind::PositiveMoment,
        HintKind::SuggestStyle => pb::HintKind::SuggestStyle,
        HintKind::AbusiveLanguage => pb::HintKind::AbusiveLanguage,
    }
}

fn hint_to_proto(h: Hint) -> pb::Hint {
    pb::Hint {
        id: h.id,
        kind: hint_kind_to_proto(h.kind) as i32,
        severity: match h.severity {
            Severity::Info => pb::Severity::Info,
            Severity::Warning => pb::Severity::Warning,
            Severity::Critical => pb::Severity::Critical,
        } as i32,
        confidence: h.confidence,
        text: h.text,
        language: h.language.code().to_string(),
        turn_ids: h.turn_ids,
        signals: h.signals,
    }
}

fn side_to_proto(s: &SideState) -> pb::SideState {
    pb::SideState {
        turns: s.turns,
        sentiment: s.sentiment.unwrap_or(0.0),
        emotions: s.emotions.clone().into_iter().collect(),
        frustration: s.frustration,
        politeness: s.politeness.get().unwrap_or(0.0),
        formality: s.formality.get().unwrap_or(0.0),
        address: s.address(),
        words_per_turn: s.words_per_turn(),
        talk_seconds: s.talk_seconds,
    }
}

fn state_to_proto(s: Snapshot) -> pb::ConversationState {
    let m = &s.agent_metrics;
    let talk = s.customer.talk_seconds + s.agent.talk_seconds;
    pb::ConversationState {
        customer: Some(side_to_proto(&s.customer)),
        agent: Some(side_to_proto(&s.agent)),
        escalation_risk: s.escalation_risk,
        baseline_deviation: s.baseline_deviation,
        has_baseline: s.has_baseline,
        agent_metrics: Some(pb::AgentMetrics {
            mean_reply_seconds: m.reply_seconds.get().map_or(0.0, f64::from),
            last_reply_seconds: m.last_reply_seconds.unwrap_or(0.0),
            apologies: m.apologies,
            acknowledgements: m.acknowledgements,
            talk_ratio: if talk > 0.0 {
                (s.agent.talk_seconds / talk) as f32
            } else {
                0.0
            },
            interruptions: m.interruptions,
            open_questions: s.open_questions,
        }),
        language: s.language.code().to_string(),
    }
}

fn outcome_to_proto(o: TurnOutcome) -> pb::TurnResult {
    pb::TurnResult {
        turn_id: o.turn_id,
        role: role_to_proto(o.role) as i32,
        analysis: o.analysis.map(analysis_to_proto),
        state: Some(state_to_proto(o.state)),
        hints: o.hints.into_iter().map(hint_to_proto).collect(),
        withdrawn: o.withdrawn,
        duplicate: o.duplicate,
        out_of_order: o.out_of_order,
        error: o.error.unwrap_or_default(),
    }
}
