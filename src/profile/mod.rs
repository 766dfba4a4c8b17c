//! Customer profiles: what is folded in from each message and event, the time-decayed
//! sufficient statistics that hold it, and the values derived from them.
//!
//! ```text
//! IngestMessages -> analysis (the engine's batches) -> MessageRecord (observation, redacted)
//! IngestEvents   -> EventRecord
//!                -> store::Store::apply: one transaction per customer batch, new ids only
//!                   -> fold (aggregate.rs) -> derive (behaviour.rs) -> one row written
//! ```
//! Nothing here keeps raw text: a [`MessageRecord`] holds the analysis's numbers and, for the
//! bounded evidence, redacted sentences; the whole redacted text only with `--store-text`.
pub mod aggregate;
pub mod behaviour;
pub mod ingest;
pub mod keys;
pub mod persona;
pub mod segments;
pub mod service;
pub mod traits;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use aggregate::{ProfileState, Stat};
pub use behaviour::{Derived, Feature};

/// Seconds since the Unix epoch.
pub type Seconds = f64;

/// One message as it is folded into a profile: the numbers the analysis gave and where it came
/// from. Built from a [`crate::analysis::MessageAnalysis`] by [`ingest::observe`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageRecord {
    /// The caller's id: ingestion is idempotent by it.
    pub id: String,
    pub at: Seconds,
    pub conversation_id: String,
    /// "email", "chat", "call", "sms", "social" or "unspecified".
    pub channel: String,
    /// The profiled subject's own message. The other side's turns (an agent's, for a customer)
    /// are not analysed into the profile: they only mark when they were written, for the
    /// subject's reply latency.
    pub own: bool,
    /// False for a message the analysis could not score (nothing of the subject's own words).
    pub analysed: bool,
    pub language: String,
    pub words: u64,
    /// Signal name ("sentiment.score", "emotions.anger", "style.formality", "toxicity", ...) ->
    /// value.
    pub signals: BTreeMap<String, f64>,
    /// Lexical feature counts ("pronoun_i", "hedges", "you_formal", ...) and ratios.
    pub features: BTreeMap<String, f64>,
    /// Signal name -> the redacted sentence that drove it most (evidence candidates).
    pub evidence: BTreeMap<String, String>,
    /// The whole redacted text, only with `--store-text`.
    pub redacted_text: Option<String>,
    /// The trait head's logits per trait ("openness" -> logit), pooled weighted by words.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub traits: BTreeMap<String, f64>,
    /// Per trait and direction ("trait.openness.high" / ".low"): the redacted sentence that
    /// leans that way most, and the message's lean (words times its logit's distance from the
    /// population's centre: what it moves the pooled logit by, before dividing by all words).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub trait_evidence: BTreeMap<String, (f64, String)>,
}

/// What kind of behavioural event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Purchase,
    Refund,
    Return,
    TicketOpened,
    TicketClosed,
    Escalation,
    Csat,
    Nps,
    Login,
    ChannelSwitch,
    /// A kind of the caller's own, named in [`EventRecord::custom_kind`].
    Other,
}

impl EventKind {
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Purchase => "purchase",
            EventKind::Refund => "refund",
            EventKind::Return => "return",
            EventKind::TicketOpened => "ticket_opened",
            EventKind::TicketClosed => "ticket_closed",
            EventKind::Escalation => "escalation",
            EventKind::Csat => "csat",
            EventKind::Nps => "nps",
            EventKind::Login => "login",
            EventKind::ChannelSwitch => "channel_switch",
            EventKind::Other => "other",
        }
    }
}

/// One behavioural event, validated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// The caller's id: ingestion is idempotent by it.
    pub id: String,
    pub kind: EventKind,
    /// For [`EventKind::Other`]: the caller's name for it.
    pub custom_kind: String,
    pub at: Seconds,
    /// The channel the event happened on ("" when none); for a channel switch, the new one.
    pub channel: String,
    /// Money in the currency's minor units (purchases, refunds, returns); never negative.
    pub amount_minor: i64,
    pub currency: String,
    /// CSAT (1-5) or NPS (0-10) score.
    pub score: Option<f64>,
    pub attributes: BTreeMap<String, String>,
}

/// Whether the customer agreed to be profiled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Consent {
    /// Nothing recorded: profiling runs unless the server requires consent.
    #[default]
    Unknown,
    Granted,
    /// Withdrawn: nothing more is profiled, whatever the server's setting.
    Withdrawn,
}

impl Consent {
    pub fn name(self) -> &'static str {
        match self {
            Consent::Unknown => "unknown",
            Consent::Granted => "granted",
            Consent::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Consent {
        match s {
            "granted" => Consent::Granted,
            "withdrawn" => Consent::Withdrawn,
            _ => Consent::Unknown,
        }
    }
}

/// How a batch is folded: the deployment's settings.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FoldSettings {
    /// Half-life of the time decay, in days.
    pub half_life_days: f64,
    /// Refuse the batch unless consent was granted.
    pub require_consent: bool,
    /// The model version recorded with the update.
    pub model_version: String,
}

/// One customer's batch, all of it or none: messages and events are folded only where their
/// ids are new.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    pub messages: Vec<MessageRecord>,
    pub events: Vec<EventRecord>,
}

/// What one applied batch did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Applied {
    /// The profile's version after the batch (unchanged when nothing was new).
    pub version: u64,
    pub messages_new: u32,
    pub messages_duplicate: u32,
    pub events_new: u32,
    pub events_duplicate: u32,
}

/// A stored profile: the statistics and what was derived from them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoredProfile {
    pub version: u64,
    pub model_version: String,
    pub consent: Consent,
    pub created_at: Seconds,
    pub updated_at: Seconds,
    pub messages: u64,
    pub events: u64,
    pub state: ProfileState,
    pub derived: Derived,
    /// The segment of the latest `rapport segment` run ("" before any).
    pub segment: String,
}

/// One audit-trail entry: what was done to a customer's data and when; never the data itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: Seconds,
    /// "ingest", "consent", "export", "rebuild", "retention".
    pub action: String,
    pub detail: String,
}

/// A stored message's row: its id and time (and, with `--store-text`, its redacted text).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredMessage {
    pub id: String,
    pub at: Seconds,
    pub redacted_text: Option<String>,
}

/// Everything held about one customer (GDPR access).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Export {
    pub profile: StoredProfile,
    pub messages: Vec<StoredMessage>,
    pub events: Vec<EventRecord>,
    pub audit: Vec<AuditEntry>,
}

/// What an erasure removed: row counts per table, for the tombstone.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Erased {
    pub rows: BTreeMap<String, u64>,
}
