//! LiveAssist sessions: open (or resume), turn, close, detach, and the sweep of sessions whose
//! stream went away. Transport-free: `grpc::live` converts and runs the stream.
//!
//! Bounds: at most `max_sessions` sessions (attached or detached); a detached session lives
//! `grace`; a session holds at most `max_turns` turn ids, and its turns' compact records for the
//! profile are folded in every [`PROFILE_BATCH`] turns (kept only where the profile is updated). A session's state is O(1) in its length otherwise (see [`super::state`]).
use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use super::{
    cues::cues,
    rules::Hinter,
    state::{AgentMetrics, Baseline, Conversation, Side, SideState, TurnView},
    Hint, Lang,
};
use crate::{
    analysis::{Analyzer, Channel, MessageAnalysis, MessageInput, Role, Segment},
    profile::{
        ingest::{observe, unanalysed},
        service::{now, ProfilesReady},
        MessageRecord, StoredProfile,
    },
    Error, Result,
};

/// Turns' records a session holds before folding them into the profile (and at its close).
pub const PROFILE_BATCH: usize = 64;
/// Longest conversation id accepted.
const MAX_ID_CHARS: usize = 256;

#[derive(Clone, Copy, Debug)]
pub struct LiveSettings {
    pub max_sessions: usize,
    /// How long a session whose stream broke waits to be resumed.
    pub grace: Duration,
    /// A stream with no request for this long is closed.
    pub idle: Duration,
    pub max_turns: usize,
}

impl Default for LiveSettings {
    fn default() -> Self {
        LiveSettings {
            max_sessions: 10_000,
            grace: Duration::from_secs(120),
            idle: Duration::from_secs(600),
            max_turns: 2_000,
        }
    }
}

/// The first request of a stream.
#[derive(Clone, Debug, Default)]
pub struct Start {
    pub conversation_id: String,
    pub customer_id: String,
    pub channel: Channel,
    pub languages: Vec<String>,
    pub update_profile: bool,
}

/// One turn as it happens.
#[derive(Clone, Debug, Default)]
pub struct TurnIn {
    pub turn_id: String,
    pub role: Role,
    pub text: String,
    /// Unix seconds.
    pub timestamp: Option<f64>,
    /// Call utterance offsets (start, end), seconds.
    pub span: Option<(f64, f64)>,
    pub language_hint: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Opened {
    pub resumed: bool,
    pub turns: u32,
    pub has_baseline: bool,
    pub hints: Vec<Hint>,
}

/// The conversation's state after a turn, as the API shows it.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub customer: SideState,
    pub agent: SideState,
    pub escalation_risk: f32,
    pub baseline_deviation: f32,
    pub has_baseline: bool,
    pub agent_metrics: AgentMetrics,
    pub open_questions: u32,
    pub language: Lang,
}

#[derive(Clone, Debug, Default)]
pub struct TurnOutcome {
    pub turn_id: String,
    pub role: Role,
    pub analysis: Option<MessageAnalysis>,
    pub state: Snapshot,
    pub hints: Vec<Hint>,
    pub withdrawn: Vec<String>,
    pub duplicate: bool,
    pub out_of_order: bool,
    pub error: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Closed {
    pub conversation_id: String,
    pub reason: String,
    pub profile_messages: u32,
    pub profile_note: String,
}

struct Session {
    conversation_id: String,
    customer_id: String,
    update_profile: bool,
    /// Bumped when a newer stream resumes the session; an older stream's turns are refused.
    generation: u64,
    conv: Conversation,
    hinter: Hinter,
    seen: HashSet<String>,
    last_at: Option<f64>,
    /// Kept only where the session updates a profile.
    records: Vec<MessageRecord>,
    /// Customer turns folded into the profile so far, and why the last fold failed.
    folded: u32,
    fold_error: Option<String>,
    model_version: String,
    closed: bool,
}

struct Entry {
    session: Arc<tokio::sync::Mutex<Session>>,
    generation: u64,
    detached_at: Option<Instant>,
}

/// One stream's hold on a session.
pub struct Handle {
    pub conversation_id: String,
    generation: u64,
    session: Arc<tokio::sync::Mutex<Session>>,
}

pub struct LiveAssist {
    settings: LiveSettings,
    sessions: Mutex<HashMap<String, Entry>>,
    profiles: ProfilesReady,
    /// The server runs with `--store off`.
    profiles_off: bool,
}

impl LiveAssist {
    pub fn new(settings: LiveSettings, profiles: ProfilesReady, profiles_off: bool) -> Self {
        LiveAssist {
            settings,
            sessions: Mutex::default(),
            profiles,
            profiles_off,
        }
    }

    pub fn settings(&self) -> &LiveSettings {
        &self.settings
    }

    /// Sessions held now (attached or detached).
    pub fn len(&self) -> usize {
        self.sessions.lock().expect("sessions lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Opens the session a stream's first request names, or resumes it.
    pub async fn open(&self, start: Start) -> Result<(Handle, Opened)> {
        let id = start.conversation_id.trim().to_string();
        if id.is_empty() {
            return Err(Error::invalid(
                "start.conversation_id",
                "required: the first request names the conversation",
            ));
        }
        if id.chars().count() > MAX_ID_CHARS {
            return Err(Error::invalid(
                "start.conversation_id",
                format!("over {MAX_ID_CHARS} characters"),
            ));
        }
        if let Some(resumed) = self.resume(&id).await {
            return Ok(resumed);
        }
        let baseline = self.baseline(&start.customer_id).await;
        // The caller's languages, else the language the customer's profile is mostly written in;
        // else the customer's first analysed turn decides.
        let language = start
            .languages
            .iter()
            .find_map(|l| Lang::parse(l))
            .or(baseline.as_ref().and_then(|b| b.language));
        let conv = Conversation::new(start.channel, language, baseline);
        let mut hinter = Hinter::default();
        let hints = hinter.at_open(&conv);
        let opened = Opened {
            resumed: false,
            turns: 0,
            has_baseline: conv.baseline.is_some(),
            hints,
        };
        let session = Arc::new(tokio::sync::Mutex::new(Session {
            conversation_id: id.clone(),
            customer_id: start.customer_id,
            update_profile: start.update_profile,
            generation: 0,
            conv,
            hinter,
            seen: HashSet::new(),
            last_at: None,
            records: Vec::new(),
            folded: 0,
            fold_error: None,
            model_version: String::new(),
            closed: false,
        }));
        let evicted = {
            let mut map = self.sessions.lock().expect("sessions lock");
            if map.contains_key(&id) {
                // Opened by another stream while the profile was read.
                return Err(Error::Aborted(format!(
                    "conversation {id} was opened by another stream at the same time; retry \
                     `start` to resume it"
                )));
            }
            let evicted = self.make_room(&mut map)?;
            map.insert(
                id.clone(),
                Entry {
                    session: session.clone(),
                    generation: 0,
                    detached_at: None,
                },
            );
            metrics::gauge!("rapport_live_sessions").set(map.len() as f64);
            evicted
        };
        self.finalize_all(evicted, "evicted");
        Ok((
            Handle {
                conversation_id: id,
                generation: 0,
                session,
            },
            opened,
        ))
    }

    async fn resume(&self, id: &str) -> Option<(Handle, Opened)> {
        let (session, generation) = {
            let mut map = self.sessions.lock().expect("sessions lock");
            let e = map.get_mut(id)?;
            e.generation += 1;
            e.detached_at = None;
            (e.session.clone(), e.generation)
        };
        let mut s = session.lock().await;
        s.generation = generation;
        let opened = Opened {
            resumed: true,
            turns: s.seen.len() as u32,
            has_baseline: s.conv.baseline.is_some(),
            hints: Vec::new(),
        };
        drop(s);
        Some((
            Handle {
                conversation_id: id.to_string(),
                generation,
                session,
            },
            opened,
        ))
    }

    /// Frees a slot when the registry is full: sessions detached past their grace first, then
    /// the longest-detached one. With every session attached it refuses.
    fn make_room(
        &self,
        map: &mut HashMap<String, Entry>,
    ) -> Result<Vec<Arc<tokio::sync::Mutex<Session>>>> {
        let mut evicted = self.take_expired(map);
        if map.len() >= self.settings.max_sessions {
            let oldest = map
                .iter()
                .filter_map(|(k, e)| e.detached_at.map(|t| (t, k.clone())))
                .min()
                .map(|(_, k)| k);
            if let Some(k) = oldest {
                evicted.extend(map.remove(&k).map(|e| e.session));
            }
        }
        if map.len() >= self.settings.max_sessions {
            return Err(Error::Overloaded(format!(
                "{} live sessions open, the server's limit (--live-max-sessions); end finished \
                 conversations with `end`",
                map.len()
            )));
        }
        Ok(evicted)
    }

    fn take_expired(
        &self,
        map: &mut HashMap<String, Entry>,
    ) -> Vec<Arc<tokio::sync::Mutex<Session>>> {
        let grace = self.settings.grace;
        let expired: Vec<String> = map
            .iter()
            .filter(|(_, e)| e.detached_at.is_some_and(|t| t.elapsed() >= grace))
            .map(|(k, _)| k.clone())
            .collect();
        expired
            .into_iter()
            .filter_map(|k| map.remove(&k).map(|e| e.session))
            .collect()
    }

    /// Closes sessions detached past their grace period; their profiles update in the
    /// background. Returns how many.
    pub fn sweep(&self) -> usize {
        let expired = {
            let mut map = self.sessions.lock().expect("sessions lock");
            let expired = self.take_expired(&mut map);
            metrics::gauge!("rapport_live_sessions").set(map.len() as f64);
            expired
        };
        let n = expired.len();
        self.finalize_all(expired, "expired");
        n
    }

    fn finalize_all(&self, sessions: Vec<Arc<tokio::sync::Mutex<Session>>>, reason: &'static str) {
        if sessions.is_empty() {
            return;
        }
        let profiles = self.profiles.clone();
        let off = self.profiles_off;
        tokio::spawn(async move {
            for s in sessions {
                let mut s = s.lock().await;
                let closed = finalize(&mut s, &profiles, off, reason).await;
                tracing::info!(
                    reason,
                    profile_messages = closed.profile_messages,
                    note = %closed.profile_note,
                    "live session closed"
                );
            }
        });
    }

    /// The stream broke: the session waits `grace` for a stream to resume it.
    pub fn detach(&self, h: &Handle) {
        let mut map = self.sessions.lock().expect("sessions lock");
        if let Some(e) = map.get_mut(&h.conversation_id) {
            if e.generation == h.generation {
                e.detached_at = Some(Instant::now());
            }
        }
    }

    /// Ends the session: removes it and updates the customer's profile.
    pub async fn close(&self, h: Handle, reason: &str) -> Result<Closed> {
        {
            let mut map = self.sessions.lock().expect("sessions lock");
            if map
                .get(&h.conversation_id)
                .is_some_and(|e| e.generation == h.generation)
            {
                map.remove(&h.conversation_id);
            }
            metrics::gauge!("rapport_live_sessions").set(map.len() as f64);
        }
        let mut s = h.session.lock().await;
        if s.generation != h.generation {
            return Err(taken_over(&h.conversation_id));
        }
        Ok(finalize(&mut s, &self.profiles, self.profiles_off, reason).await)
    }

    /// Analyses one turn and updates the conversation and its hints. An error in the turn
    /// itself (empty, too long, no role) comes back in [`TurnOutcome::error`]; `Err` means the
    /// stream lost the session (resumed elsewhere).
    pub async fn turn(&self, analyzer: &Analyzer, h: &Handle, t: TurnIn) -> Result<TurnOutcome> {
        let started = Instant::now();
        let mut s = h.session.lock().await;
        if s.generation != h.generation || s.closed {
            return Err(taken_over(&h.conversation_id));
        }
        let mut out = TurnOutcome {
            turn_id: t.turn_id.clone(),
            role: t.role,
            ..Default::default()
        };
        let side = match t.role {
            Role::Customer => Some(Side::Customer),
            Role::Agent | Role::Bot => Some(Side::Agent),
            Role::Unspecified => None,
        };
        let problem = if t.turn_id.trim().is_empty() {
            Some(Error::invalid("turn.turn_id", "required"))
        } else if side.is_none() {
            Some(Error::invalid(
                "turn.role",
                "required: ROLE_CUSTOMER or ROLE_AGENT",
            ))
        } else if s.seen.contains(&t.turn_id) {
            out.duplicate = true;
            None
        } else if s.seen.len() >= self.settings.max_turns {
            Some(Error::invalid(
                "turn",
                format!(
                    "the session holds {} turns, the server's limit (--live-max-turns); end it \
                     and start a new one",
                    s.seen.len()
                ),
            ))
        } else {
            None
        };
        if let Some(e) = problem {
            out.error = Some(e.to_string());
        }
        if out.error.is_some() || out.duplicate {
            out.state = snapshot(&s.conv);
            return Ok(out);
        }
        let side = side.expect("checked above");
        out.out_of_order = matches!((t.timestamp, s.last_at), (Some(at), Some(last)) if at < last);
        let input = MessageInput {
            id: t.turn_id.clone(),
            customer_id: s.customer_id.clone(),
            conversation_id: s.conversation_id.clone(),
            channel: s.conv.channel,
            role: t.role,
            text: t.text,
            timestamp: t.timestamp,
            language_hint: t.language_hint,
            segment: t.span.map(|(start, end)| Segment {
                speaker: format!("{:?}", t.role).to_lowercase(),
                start_seconds: start,
                end_seconds: end,
                asr_confidence: 0.0,
            }),
            // The hint rules' thresholds were set on the general outputs (EVAL.md, "Live
            // hints"); under the support domain's calibrated frustration and sentiment they
            // pass fewer of the live set's conversations until they are set again on it.
            domain: Some(crate::analysis::domain::Domain::General),
            ..Default::default()
        };
        let analysis = match analyzer.analyze_one(input.clone(), "turn").await {
            Ok(a) => a,
            Err(e) => {
                out.error = Some(e.to_string());
                out.state = snapshot(&s.conv);
                return Ok(out);
            }
        };
        s.seen.insert(t.turn_id.clone());
        if let Some(at) = t.timestamp {
            s.last_at = Some(s.last_at.map_or(at, |l| l.max(at)));
        }
        let turn_cues = cues(&analysis);
        let view = TurnView {
            id: &t.turn_id,
            side,
            analysis: &analysis,
            cues: &turn_cues,
            // An out-of-order timestamp says nothing about latency.
            at: t.timestamp.filter(|_| !out.out_of_order),
            span: t.span,
        };
        let session = &mut *s;
        let observed = session.conv.observe(&view);
        let decision = session.hinter.after_turn(&session.conv, &observed);
        for h in &decision.raised {
            metrics::counter!("rapport_live_hints_total", "kind" => h.kind.name()).increment(1);
        }
        session.model_version = analysis.model_version.to_string();
        if session.update_profile && !session.customer_id.is_empty() && !self.profiles_off {
            let at = t.timestamp.unwrap_or_else(now);
            let mut input = input;
            input.id = format!("{}/{}", session.conversation_id, t.turn_id);
            let base = unanalysed(&input, at);
            let store_text = self.profiles.get().is_some_and(|p| p.store_text());
            session.records.push(match side {
                Side::Customer => observe(base, &analysis, store_text),
                Side::Agent => base,
            });
            if session.records.len() >= PROFILE_BATCH {
                fold(session, &self.profiles).await;
            }
        }
        out.state = snapshot(&session.conv);
        out.hints = decision.raised;
        out.withdrawn = decision.withdrawn;
        out.analysis = Some(analysis);
        metrics::histogram!("rapport_live_turn_seconds").record(started.elapsed().as_secs_f64());
        Ok(out)
    }

    async fn baseline(&self, customer_id: &str) -> Option<Baseline> {
        if customer_id.is_empty() || self.profiles_off {
            return None;
        }
        let profiles = self.profiles.get()?.clone();
        match profiles.get(customer_id).await {
            Ok(p) => baseline_of(&p),
            Err(Error::NotFound(_)) => None,
            Err(e) => {
                tracing::warn!(error = %e, "live session without a baseline: profile not read");
                None
            }
        }
    }
}

fn taken_over(id: &str) -> Error {
    Error::Aborted(format!(
        "conversation {id} was resumed on a newer stream (or closed); this stream no longer \
         holds it"
    ))
}

fn snapshot(c: &Conversation) -> Snapshot {
    Snapshot {
        customer: c.customer.clone(),
        agent: c.agent.clone(),
        escalation_risk: c.risk,
        baseline_deviation: c.baseline_deviation(),
        has_baseline: c.baseline.is_some(),
        agent_metrics: c.agent_metrics.clone(),
        open_questions: c.open_questions.len() as u32,
        language: c.language.unwrap_or_default(),
    }
}

/// The rules' view of a stored profile; none for a profile without analysed messages.
pub fn baseline_of(p: &StoredProfile) -> Option<Baseline> {
    let st = &p.state;
    let sentiment = st.signals.get("sentiment.score")?;
    let feature = |k: &str| st.features.get(k).map_or(0.0, |s| s.s);
    let (vy, ty) = (feature("you_formal"), feature("you_informal"));
    Some(Baseline {
        sentiment_mean: sentiment.mean() as f32,
        sentiment_sd: sentiment.sd() as f32,
        messages: sentiment.n,
        formality: st.signals.get("style.formality").map(|s| s.mean() as f32),
        address: if vy + ty > 0.0 {
            ((vy - ty) / (vy + ty)) as f32
        } else {
            0.0
        },
        words_per_message: st.features.get("words").map_or(0.0, |s| s.mean() as f32),
        language: st
            .languages
            .iter()
            .filter_map(|(code, s)| Some((Lang::parse(code)?, s.w)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(l, _)| l),
    })
}

/// Folds the session's records into the customer's profile in one transaction.
async fn fold(s: &mut Session, profiles: &ProfilesReady) {
    let records = std::mem::take(&mut s.records);
    let own = records.iter().filter(|r| r.own).count() as u32;
    if own == 0 {
        return;
    }
    let result = match profiles.get() {
        None => Err("the profile store is not open".to_string()),
        Some(p) => p
            .ingest_records(&s.customer_id, records, &s.model_version)
            .await
            .map_err(|e| e.to_string()),
    };
    match result {
        // A retried turn id is stored once: count no more than the store took.
        Ok(applied) => s.folded += own.min(applied.messages_new),
        Err(e) => {
            tracing::warn!(error = %e, "live session's turns not folded into the profile");
            s.fold_error = Some(e);
        }
    }
}

/// Closes a session once: its turns update the customer's profile where that is allowed.
async fn finalize(s: &mut Session, profiles: &ProfilesReady, off: bool, reason: &str) -> Closed {
    let mut closed = Closed {
        conversation_id: s.conversation_id.clone(),
        reason: reason.to_string(),
        ..Default::default()
    };
    if s.closed {
        closed.profile_note = "already closed".into();
        return closed;
    }
    s.closed = true;
    closed.profile_note = if !s.update_profile {
        "update_profile was not set".into()
    } else if s.customer_id.is_empty() {
        "no customer_id".into()
    } else if off {
        "profiles are off on this server (--store off)".into()
    } else {
        fold(s, profiles).await;
        match (&s.fold_error, s.folded) {
            (Some(e), _) => e.clone(),
            (None, 0) => "no customer turn was analysed".into(),
            (None, _) => String::new(),
        }
    };
    closed.profile_messages = s.folded;
    closed
}
