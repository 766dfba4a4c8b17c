//! The Profiles service: proto <-> domain conversion and error mapping; the work is in
//! `profile::service`.
use std::{sync::Arc, time::Instant};

use tonic::{Request, Response, Status};

use super::{
    convert::{
        analysis_to_proto, channel_from_proto, messages_from_proto, seconds_from_proto,
        timestamp_to_proto,
    },
    services::{deadline, observe, ready, Ready},
};
use crate::{
    analysis::Channel,
    profile::{
        ingest::channel_name,
        persona::{Advice, Contribution, Disc, Persona, Preferences, Recommendation, TraitScore},
        service::{Profiles, ProfilesReady, Subject},
        Consent, EventKind, EventRecord, Feature, StoredProfile,
    },
    proto::v1 as pb,
    Error,
};

#[derive(Clone)]
pub struct ProfilesService {
    pub analyzer: Ready,
    pub profiles: ProfilesReady,
    /// Started with `--store off`.
    pub off: bool,
}

impl ProfilesService {
    fn profiles(&self) -> Result<Arc<Profiles>, Status> {
        if self.off {
            return Err(Error::FailedPrecondition(
                "profiles are off on this server (--store off)".into(),
            )
            .into());
        }
        self.profiles.get().cloned().ok_or_else(|| {
            Status::unavailable("the profile store is not open yet; watch grpc.health.v1")
        })
    }
}

/// Converts events; an unknown enum value or a missing field is INVALID_ARGUMENT naming it.
pub fn events_from_proto(events: Vec<pb::BehaviourEvent>) -> Result<Vec<EventRecord>, Error> {
    events
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let field = format!("events[{i}]");
            let kind = match pb::EventKind::try_from(e.kind) {
                Ok(pb::EventKind::Purchase) => EventKind::Purchase,
                Ok(pb::EventKind::Refund) => EventKind::Refund,
                Ok(pb::EventKind::Return) => EventKind::Return,
                Ok(pb::EventKind::TicketOpened) => EventKind::TicketOpened,
                Ok(pb::EventKind::TicketClosed) => EventKind::TicketClosed,
                Ok(pb::EventKind::Escalation) => EventKind::Escalation,
                Ok(pb::EventKind::Csat) => EventKind::Csat,
                Ok(pb::EventKind::Nps) => EventKind::Nps,
                Ok(pb::EventKind::Login) => EventKind::Login,
                Ok(pb::EventKind::ChannelSwitch) => EventKind::ChannelSwitch,
                Ok(pb::EventKind::Other) => EventKind::Other,
                Ok(pb::EventKind::Unspecified) => {
                    return Err(Error::invalid(
                        format!("{field}.kind"),
                        "required (EVENT_KIND_PURCHASE..EVENT_KIND_OTHER)",
                    ))
                }
                Err(_) => {
                    return Err(Error::invalid(
                        format!("{field}.kind"),
                        format!(
                        "unknown value {}; expected 1..=11 (EVENT_KIND_PURCHASE..EVENT_KIND_OTHER)",
                        e.kind
                    ),
                    ))
                }
            };
            // An event's channel is "" when none is given.
            let channel = match channel_from_proto(e.channel, &field)? {
                Channel::Unspecified => "",
                c => channel_name(c),
            };
            let at = match &e.timestamp {
                Some(ts) => seconds_from_proto(ts, &format!("{field}.timestamp"))?,
                None => {
                    return Err(Error::invalid(
                        format!("{field}.timestamp"),
                        "required: when the event happened",
                    ))
                }
            };
            Ok(EventRecord {
                id: e.id,
                kind,
                custom_kind: e.custom_kind,
                at,
                channel: channel.into(),
                amount_minor: e.amount_minor,
                currency: e.currency,
                score: e.score,
                attributes: e.attributes.into_iter().collect(),
            })
        })
        .collect()
}

fn feature_to_proto(f: &Feature) -> pb::Feature {
    pb::Feature {
        name: f.name.clone(),
        value: f.value,
        unit: f.unit.clone(),
        count: f.count,
        first: timestamp_to_proto(f.first),
        last: timestamp_to_proto(f.last),
    }
}

fn consent_to_proto(c: Consent) -> pb::ConsentState {
    match c {
        Consent::Unknown => pb::ConsentState::Unknown,
        Consent::Granted => pb::ConsentState::Granted,
        Consent::Withdrawn => pb::ConsentState::Withdrawn,
    }
}

pub fn profile_to_proto(customer_id: &str, p: &StoredProfile, persona: &Persona) -> pb::Profile {
    let d = &p.derived;
    let mut evidence: Vec<pb::ProfileEvidence> = p
        .state
        .evidence
        .iter()
        .flat_map(|(signal, items)| {
            items.iter().map(move |e| pb::ProfileEvidence {
                signal: signal.clone(),
                message_id: e.message_id.clone(),
                timestamp: timestamp_to_proto(e.at),
                score: e.score,
                text: e.text.clone(),
            })
        })
        .collect();
    evidence.sort_by(|a, b| a.signal.cmp(&b.signal));
    pb::Profile {
        customer_id: customer_id.to_string(),
        big_five: persona.big_five.iter().map(trait_to_proto).collect(),
        segment: p.segment.clone(),
        lifecycle: d.segment.clone(),
        disc: Some(disc_to_proto(&persona.disc)),
        type_letters: persona
            .letters
            .iter()
            .map(|l| pb::TypeLetter {
                axis: l.axis.into(),
                letter: l.letter.clone(),
                confidence: l.confidence as f32,
                abstained: l.abstained,
                r#trait: l.trait_name.into(),
            })
            .collect(),
        preferences: Some(preferences_to_proto(&persona.preferences)),
        recommendations: persona
            .recommendations
            .iter()
            .map(|r| recommendation_to_proto(r, &persona.preferences.language))
            .collect(),
        timeline: persona
            .timeline
            .iter()
            .map(|w| pb::WeekPoint {
                week_start: timestamp_to_proto(w.start),
                messages: w.messages,
                sentiment: w.sentiment as f32,
                scored: w.scored,
            })
            .collect(),
        traits_version: persona.traits_version.clone(),
        messages: p.messages.min(u32::MAX as u64) as u32,
        events: p.events.min(u32::MAX as u64) as u32,
        updated_at: timestamp_to_proto(p.updated_at),
        created_at: timestamp_to_proto(p.created_at),
        version: p.version,
        consent: consent_to_proto(p.consent) as i32,
        behaviour: d.behaviour.iter().map(feature_to_proto).collect(),
        signals: d
            .signals
            .iter()
            .map(|s| pb::SignalSummary {
                name: s.name.clone(),
                mean: s.mean,
                stddev: s.sd,
                weight: s.weight,
                count: s.count,
                first: timestamp_to_proto(s.first),
                last: timestamp_to_proto(s.last),
            })
            .collect(),
        style: d.style.iter().map(feature_to_proto).collect(),
        hour_of_day: d.hour_of_day.clone(),
        day_of_week: d.day_of_week.clone(),
        channel_mix: d.channel_mix.clone().into_iter().collect(),
        languages: d.languages.clone().into_iter().collect(),
        evidence,
        half_life_days: p.state.half_life_days,
        derive_version: d.version.clone(),
        model_version: p.model_version.clone(),
    }
}

fn contribution_to_proto(c: &Contribution) -> pb::Contribution {
    pb::Contribution {
        kind: c.kind.clone(),
        name: c.name.clone(),
        message_id: c.message_id.clone(),
        timestamp: timestamp_to_proto(c.at),
        text: c.text.clone(),
        value: c.value,
        contribution: c.contribution,
    }
}

fn trait_to_proto(t: &TraitScore) -> pb::TraitEstimate {
    pb::TraitEstimate {
        r#trait: t.name.into(),
        score: t.score as f32,
        lower: t.lower as f32,
        upper: t.upper as f32,
        abstained: t.abstained,
        evidence: t.evidence.iter().map(contribution_to_proto).collect(),
        p_high: t.p_high as f32,
        level: t.level as f32,
        words: t.words,
        note: t.note.clone(),
    }
}

fn disc_to_proto(d: &Disc) -> pb::DiscStyle {
    pb::DiscStyle {
        style: d.style.clone(),
        pace: d.pace as f32,
        priority: d.priority as f32,
        confidence: d.confidence as f32,
        abstained: d.abstained,
        evidence: d.evidence.iter().map(contribution_to_proto).collect(),
    }
}

fn preferences_to_proto(p: &Preferences) -> pb::CommunicationPreferences {
    pb::CommunicationPreferences {
        formality: p.formality.clone(),
        formality_score: p.formality_score as f32,
        address: p.address.clone(),
        detail: p.detail.clone(),
        words_per_message: p.words_per_message,
        pace: p.pace.clone(),
        reply_latency_seconds: p.reply_latency_seconds,
        channel: p.channel.clone(),
        hours: p.hours.clone(),
        language: p.language.clone(),
    }
}

fn advice_to_proto(a: Advice) -> pb::RecommendationKind {
    use pb::RecommendationKind as K;
    match a {
        Advice::UseFormalAddress => K::UseFormalAddress,
        Advice::UseInformalAddress => K::UseInformalAddress,
        Advice::BeBrief => K::BeBrief,
        Advice::GiveDetail => K::GiveDetail,
        Advice::LeadWithFacts => K::LeadWithFacts,
        Advice::AcknowledgeFeelings => K::AcknowledgeFeelings,
        Advice::OfferCallback => K::OfferCallback,
        Advice::ContactInTheMorning => K::ContactInTheMorning,
        Advice::ContactInTheAfternoon => K::ContactInTheAfternoon,
        Advice::ContactInTheEvening => K::ContactInTheEvening,
        Advice::ReplyQuickly => K::ReplyQuickly,
        Advice::UseTheirChannel => K::UseTheirChannel,
        Advice::WriteInTheirLanguage => K::WriteInTheirLanguage,
        Advice::Reassure => K::Reassure,
        Advice::GiveClearStructure => K::GiveClearStructure,
        Advice::KeepItWarm => K::KeepItWarm,
    }
}

fn recommendation_to_proto(r: &Recommendation, language: &str) -> pb::Recommendation {
    pb::Recommendation {
        kind: advice_to_proto(r.kind) as i32,
        text: if language == "ru" {
            r.text_ru
        } else {
            r.text_en
        }
        .into(),
        text_en: r.text_en.into(),
        text_ru: r.text_ru.into(),
        confidence: r.confidence as f32,
        evidence: r.evidence.iter().map(contribution_to_proto).collect(),
    }
}

fn ingest_response(applied: &crate::profile::Applied) -> pb::IngestResponse {
    pb::IngestResponse {
        accepted: applied.messages_new + applied.events_new,
        duplicates: applied.messages_duplicate + applied.events_duplicate,
        version: applied.version,
        analyses: Vec::new(),
    }
}

#[tonic::async_trait]
impl pb::profiles_server::Profiles for ProfilesService {
    #[tracing::instrument(skip_all, fields(rpc = "IngestMessages", messages))]
    async fn ingest_messages(
        &self,
        req: Request<pb::IngestMessagesRequest>,
    ) -> Result<Response<pb::IngestResponse>, Status> {
        let started = Instant::now();
        let result = async {
            let profiles = self.profiles()?;
            let analyzer = ready(&self.analyzer)?;
            let deadline = deadline(&req);
            let req = req.into_inner();
            tracing::Span::current().record("messages", req.messages.len());
            let subject = match pb::Subject::try_from(req.subject) {
                Ok(pb::Subject::Unspecified | pb::Subject::Customer) => Subject::Customer,
                Ok(pb::Subject::Agent) => Subject::Agent,
                Err(_) => {
                    return Err(Error::invalid(
                        "subject",
                        format!(
                            "unknown value {}; expected 0..=2 (SUBJECT_UNSPECIFIED..SUBJECT_AGENT)",
                            req.subject
                        ),
                    )
                    .into())
                }
            };
            let msgs = messages_from_proto(req.messages, "messages")?;
            let done = profiles
                .ingest_messages(&analyzer, &req.customer_id, subject, msgs, deadline)
                .await?;
            let mut response = ingest_response(&done.applied);
            if req.return_analyses {
                response.analyses = done.analyses.into_iter().map(analysis_to_proto).collect();
            }
            Ok(Response::new(response))
        }
        .await;
        observe("IngestMessages", started, &result);
        result
    }

    #[tracing::instrument(skip_all, fields(rpc = "IngestEvents", events))]
    async fn ingest_events(
        &self,
        req: Request<pb::IngestEventsRequest>,
    ) -> Result<Response<pb::IngestResponse>, Status> {
        let started = Instant::now();
        let result = async {
            let profiles = self.profiles()?;
            let req = req.into_inner();
            tracing::Span::current().record("events", req.events.len());
            let model_version = self
                .analyzer
                .get()
                .map(|a| a.model_version().to_string())
                .unwrap_or_default();
            let events = events_from_proto(req.events)?;
            let applied = profiles
                .ingest_events(&req.customer_id, events, &model_version)
                .await?;
            Ok(Response::new(ingest_response(&applied)))
        }
        .await;
        observe("IngestEvents", started, &result);
        result
    }

    async fn get_profile(
        &self,
        req: Request<pb::GetProfileRequest>,
    ) -> Result<Response<pb::Profile>, Status> {
        let started = Instant::now();
        let result = async {
            let profiles = self.profiles()?;
            let id = req.into_inner().customer_id;
            let p = profiles.get(&id).await?;
            Ok(Response::new(profile_to_proto(
                &id,
                &p,
                &profiles.persona(&p),
            )))
        }
        .await;
        observe("GetProfile", started, &result);
        result
    }

    async fn export_profile(
        &self,
        req: Request<pb::ExportProfileRequest>,
    ) -> Result<Response<pb::ExportProfileResponse>, Status> {
        let started = Instant::now();
        let result = async {
            let profiles = self.profiles()?;
            let id = req.into_inner().customer_id;
            let export = profiles.export(&id).await?;
            let data_json = serde_json::to_string_pretty(&serde_json::json!({
                "customer_id": id,
                "export": export,
            }))
            .map_err(|e| Error::Store(format!("export: {e}")))?;
            Ok(Response::new(pb::ExportProfileResponse {
                profile: Some(profile_to_proto(
                    &id,
                    &export.profile,
                    &profiles.persona(&export.profile),
                )),
                data_json,
            }))
        }
        .await;
        observe("ExportProfile", started, &result);
        result
    }

    async fn erase_profile(
        &self,
        req: Request<pb::EraseProfileRequest>,
    ) -> Result<Response<pb::EraseProfileResponse>, Status> {
        let started = Instant::now();
        let result = async {
            let profiles = self.profiles()?;
            let erased = profiles.erase(&req.into_inner().customer_id).await?;
            Ok(Response::new(pb::EraseProfileResponse {
                erased: true,
                rows: erased.rows.into_iter().collect(),
            }))
        }
        .await;
        observe("EraseProfile", started, &result);
        result
    }

    async fn set_consent(
        &self,
        req: Request<pb::SetConsentRequest>,
    ) -> Result<Response<pb::SetConsentResponse>, Status> {
        let started = Instant::now();
        let result = async {
            let profiles = self.profiles()?;
            let req = req.into_inner();
            let consent = match pb::ConsentState::try_from(req.consent) {
                Ok(pb::ConsentState::Granted) => Consent::Granted,
                Ok(pb::ConsentState::Withdrawn) => Consent::Withdrawn,
                _ => {
                    return Err(Error::invalid(
                        "consent",
                        format!(
                            "{} is not one to record; expected CONSENT_STATE_GRANTED (2) or CONSENT_STATE_WITHDRAWN (3)",
                            req.consent
                        ),
                    )
                    .into())
                }
            };
            let version = profiles.set_consent(&req.customer_id, consent).await?;
            Ok(Response::new(pb::SetConsentResponse { version }))
        }
        .await;
        observe("SetConsent", started, &result);
        result
    }

    async fn list_segments(
        &self,
        _req: Request<pb::ListSegmentsRequest>,
    ) -> Result<Response<pb::ListSegmentsResponse>, Status> {
        let started = Instant::now();
        let result = async {
            let profiles = self.profiles()?;
            let segments = profiles
                .clusters()
                .await?
                .into_iter()
                .map(|s| pb::Segment {
                    name: s.name,
                    description: s.description,
                    customers: s.customers,
                    centre: crate::profile::segments::FEATURES
                        .iter()
                        .map(|f| f.0.to_string())
                        .zip(s.centre)
                        .collect(),
                })
                .collect();
            let lifecycle = profiles
                .segments()
                .await?
                .into_iter()
                .map(|(name, description, customers)| pb::Segment {
                    name,
                    description,
                    customers,
                    centre: Default::default(),
                })
                .collect();
            Ok(Response::new(pb::ListSegmentsResponse {
                segments,
                lifecycle,
            }))
        }
        .await;
        observe("ListSegments", started, &result);
        result
    }
}
