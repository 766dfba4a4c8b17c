//! Profile persistence: one trait, two real implementations on sqlx.
//!
//! - [`sqlite`]: the embedded default, a file in the data directory in WAL mode; one process.
//! - [`postgres`]: for deployments of many replicas sharing one database.
//!
//! Both keep the same tables (versioned migrations under `migrations/sqlite` and
//! `migrations/postgres`):
//! - `customers`: one row per subject key: version, model version, consent, counts, the
//!   statistics ([`ProfileState`], JSON) and what was derived from them ([`Derived`], JSON);
//! - `customer_messages`: each ingested message's id and time (idempotency; the redacted text
//!   only with `--store-text`);
//! - `customer_events`: each behavioural event;
//! - `audit_log`: what was done to a customer's data, never the data;
//! - `erasures`: tombstones of erased customers, with no personal data (no key, no id).
//!
//! Every write to a customer is one transaction that locks the customer's row first (PostgreSQL
//! `SELECT ... FOR UPDATE`; SQLite `BEGIN IMMEDIATE`), so concurrent updates from several
//! replicas serialise and none is lost; a batch is committed whole or not at all.
pub mod postgres;
pub mod sqlite;

use std::sync::Arc;

use crate::{
    profile::segments::Segment,
    profile::{
        Applied, AuditEntry, Batch, Consent, Derived, Erased, EventKind, EventRecord, Export,
        FoldSettings, ProfileState, Seconds, StoredProfile,
    },
    Error, Result,
};

/// What a store does. `key` is the subject's key as stored: the customer id, or its
/// pseudonym ([`crate::profile::keys`]).
#[async_trait::async_trait]
pub trait Store: Send + Sync {
    /// "sqlite" or "postgres".
    fn kind(&self) -> &'static str;

    /// Answers when the database does; UNAVAILABLE when it does not.
    async fn ping(&self) -> Result<()>;

    /// The ids among `ids` already stored for `key` (so a re-sent batch is not analysed again).
    async fn known_messages(&self, key: &str, ids: &[String]) -> Result<Vec<String>>;

    /// Folds the batch's new messages and events into the customer's statistics in one
    /// transaction (creating the customer), recomputes the derived values, bumps the version
    /// when anything was new, and appends an audit entry. Refused with FAILED_PRECONDITION
    /// when consent was withdrawn, or not granted while `settings.require_consent`.
    async fn apply(
        &self,
        key: &str,
        batch: &Batch,
        settings: &FoldSettings,
        now: Seconds,
    ) -> Result<Applied>;

    /// The stored profile; `None` for an unknown customer.
    async fn get(&self, key: &str) -> Result<Option<StoredProfile>>;

    /// Everything held about the customer; the export itself is audited.
    async fn export(&self, key: &str, now: Seconds) -> Result<Option<Export>>;

    /// Hard-deletes the customer from every table and writes a tombstone holding no personal
    /// data; `None` for an unknown customer.
    async fn erase(&self, key: &str, now: Seconds) -> Result<Option<Erased>>;

    /// Records consent (creating the customer if needed); audited.
    async fn set_consent(&self, key: &str, consent: Consent, now: Seconds) -> Result<u64>;

    /// Recomputes every customer's derived values from its stored statistics (after a model or
    /// code upgrade), in pages; returns how many were rebuilt.
    async fn rebuild(&self, settings: &FoldSettings, now: Seconds) -> Result<u64>;

    /// Deletes customers with no activity since `before` (as erasure does, with a tombstone
    /// each), and message and event rows older than `before`; returns customers deleted.
    async fn purge_expired(&self, before: Seconds, now: Seconds) -> Result<u64>;

    /// Customers per segment name (derived), largest first.
    async fn segments(&self) -> Result<Vec<(String, u64)>>;

    /// The audit trail of one customer, oldest first.
    async fn audit(&self, key: &str) -> Result<Vec<AuditEntry>>;

    /// A page of customer keys after `after`, in key order (empty at the end).
    async fn keys_after(&self, after: &str) -> Result<Vec<String>>;

    /// The latest `rapport segment` run's segments, in order.
    async fn clusters(&self) -> Result<Vec<Segment>>;

    /// Replaces the segments and every customer's segment (`members`: key, segment name) in
    /// one transaction.
    async fn save_clusters(
        &self,
        segments: &[Segment],
        members: &[(String, String)],
        now: Seconds,
    ) -> Result<()>;
}

/// A `segments` row as read back.
#[derive(sqlx::FromRow)]
pub(crate) struct SegmentRow {
    pub name: String,
    pub description: String,
    pub centre: String,
    pub customers: i64,
}

impl SegmentRow {
    pub fn into_segment(self) -> Result<Segment> {
        Ok(Segment {
            centre: from_json(&self.name, "segments.centre", &self.centre)?,
            name: self.name,
            description: self.description,
            customers: self.customers.max(0) as u64,
        })
    }
}

/// Opens the store a `--store` value names: `sqlite:PATH` (or a bare path), `postgres://...`.
pub async fn open(spec: &str) -> Result<Arc<dyn Store>> {
    if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgStore::connect(spec).await?))
    } else {
        let path = spec.strip_prefix("sqlite:").unwrap_or(spec);
        if path.is_empty() {
            return Err(Error::invalid("store", "empty SQLite path"));
        }
        Ok(Arc::new(sqlite::SqliteStore::open(path.as_ref()).await?))
    }
}

/// The state a new customer starts from.
pub fn new_state(settings: &FoldSettings) -> ProfileState {
    ProfileState::new(settings.half_life_days)
}

/// Maps a database error: a connection that cannot be made or was lost, or a transient
/// conflict a retry resolves (SQLite busy or locked past the busy timeout; PostgreSQL
/// serialization failure, deadlock, lock timeout, shutdown, too many connections), is
/// UNAVAILABLE (the caller may retry); anything else is internal.
pub fn db_error(e: sqlx::Error) -> Error {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => Error::Unavailable(format!("profile store: {e}")),
        sqlx::Error::Database(ref db) if transient(db.as_ref()) => {
            Error::Unavailable(format!("profile store: {e}"))
        }
        other => Error::Store(other.to_string()),
    }
}

fn transient(db: &dyn sqlx::error::DatabaseError) -> bool {
    let Some(code) = db.code() else {
        return false;
    };
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // Extended result codes: the primary code is the low byte (5 BUSY, 6 LOCKED).
        return code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6));
    }
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(
            &*code,
            "40001" | "40P01" | "55P03" | "57P01" | "57P02" | "57P03"
        )
}

/// Maps a migration failure: a database that cannot be reached is UNAVAILABLE, a migration
/// history that does not match this build's is a store error naming the version.
pub(crate) fn migrate_error(e: sqlx::migrate::MigrateError) -> Error {
    match e {
        sqlx::migrate::MigrateError::Execute(e) => db_error(e),
        other => Error::Store(format!("migrations: {other}")),
    }
}

// Helpers shared by both backends: row shapes, JSON columns, batch bookkeeping.

/// Commits `tx` when `r` is Ok, rolls it back (explicitly, not on drop) when it is not.
pub(crate) async fn finish<DB: sqlx::Database, T>(
    tx: sqlx::Transaction<'static, DB>,
    r: Result<T>,
) -> Result<T> {
    match r {
        Ok(v) => {
            tx.commit().await.map_err(db_error)?;
            Ok(v)
        }
        Err(e) => {
            // The error that refused the batch matters more than a failed rollback (the
            // connection then is closed, which rolls back too).
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// A `customers` row as read back (JSON columns as text).
#[derive(sqlx::FromRow)]
pub(crate) struct CustomerRow {
    pub version: i64,
    pub model_version: String,
    pub consent: String,
    pub created_at: f64,
    pub updated_at: f64,
    pub last_activity: f64,
    pub messages: i64,
    pub events: i64,
    pub state: Option<String>,
    pub derived: Option<String>,
    pub cluster: String,
}

impl CustomerRow {
    /// A customer recorded only through its consent has no statistics yet: it reads as an
    /// empty state and an empty derivation.
    pub fn into_profile(self, key: &str) -> Result<StoredProfile> {
        let state = match &self.state {
            Some(s) => state_from_json(key, s)?,
            None => ProfileState::new(0.0),
        };
        let derived = match &self.derived {
            Some(d) => from_json(key, "derived", d)?,
            None => Derived::default(),
        };
        Ok(StoredProfile {
            version: self.version.max(0) as u64,
            model_version: self.model_version,
            consent: Consent::parse(&self.consent),
            created_at: self.created_at,
            updated_at: self.updated_at,
            messages: self.messages.max(0) as u64,
            events: self.events.max(0) as u64,
            state,
            derived,
            segment: self.cluster,
        })
    }
}

/// A `customer_events` row as read back.
#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    pub event_id: String,
    pub kind: String,
    pub custom_kind: String,
    pub at: f64,
    pub channel: String,
    pub amount_minor: i64,
    pub currency: String,
    pub score: Option<f64>,
    pub attributes: String,
}

impl EventRow {
    pub fn into_record(self, key: &str) -> Result<EventRecord> {
        let kind: EventKind = serde_json::from_value(serde_json::Value::String(self.kind))
            .map_err(|e| corrupt(key, "customer_events.kind", e))?;
        Ok(EventRecord {
            id: self.event_id,
            kind,
            custom_kind: self.custom_kind,
            at: self.at,
            channel: self.channel,
            amount_minor: self.amount_minor,
            currency: self.currency,
            score: self.score,
            attributes: from_json(key, "customer_events.attributes", &self.attributes)?,
        })
    }
}

pub(crate) fn corrupt(key: &str, column: &str, e: impl std::fmt::Display) -> Error {
    Error::Store(format!("customer {key:?}: column {column} is corrupt: {e}"))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    key: &str,
    column: &str,
    text: &str,
) -> Result<T> {
    serde_json::from_str(text).map_err(|e| corrupt(key, column, e))
}

/// The stored statistics, checked for the shape folding relies on.
pub(crate) fn state_from_json(key: &str, text: &str) -> Result<ProfileState> {
    let state: ProfileState = from_json(key, "state", text)?;
    if state.hour_of_day.len() != 24 || state.day_of_week.len() != 7 {
        return Err(corrupt(
            key,
            "state",
            "hour_of_day or day_of_week has the wrong length",
        ));
    }
    Ok(state)
}

/// Serialises a value for a JSON column, refusing what would not read back: serde_json writes
/// a NaN or infinite float as `null`, which would make the row unreadable from then on.
pub(crate) fn to_json<T: serde::Serialize + serde::de::DeserializeOwned>(
    key: &str,
    column: &str,
    value: &T,
) -> Result<String> {
    let text = serde_json::to_string(value).map_err(|e| corrupt(key, column, e))?;
    serde_json::from_str::<T>(&text).map_err(|e| {
        Error::Store(format!(
            "customer {key:?}: refusing to write {column}: it does not read back (a NaN or \
             infinite number?): {e}"
        ))
    })?;
    Ok(text)
}

/// The first occurrence of each id in a batch, and how many repeats the batch itself held.
pub(crate) fn first_occurrences<T>(items: &[T], id: impl Fn(&T) -> &str) -> (Vec<&T>, u32) {
    let mut seen = std::collections::HashSet::new();
    let mut unique = Vec::with_capacity(items.len());
    for item in items {
        if seen.insert(id(item)) {
            unique.push(item);
        }
    }
    let repeats = (items.len() - unique.len()) as u32;
    (unique, repeats)
}

/// The refusal of a batch for consent, if any.
pub(crate) fn check_consent(consent: &str, settings: &FoldSettings) -> Result<()> {
    match Consent::parse(consent) {
        Consent::Withdrawn => Err(Error::FailedPrecondition(
            "consent withdrawn for this customer: nothing more is profiled".into(),
        )),
        Consent::Granted => Ok(()),
        Consent::Unknown if settings.require_consent => Err(Error::FailedPrecondition(
            "no consent recorded for this customer; record it with SetConsent".into(),
        )),
        Consent::Unknown => Ok(()),
    }
}

/// The audit detail of an applied batch: counts only, never content.
pub(crate) fn ingest_detail(a: &Applied) -> String {
    format!(
        "messages_new={} messages_duplicate={} events_new={} events_duplicate={}",
        a.messages_new, a.messages_duplicate, a.events_new, a.events_duplicate
    )
}

/// Why a tombstone was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EraseReason {
    /// The subject asked (GDPR erasure).
    Request,
    /// No activity within the retention period.
    Retention,
}

impl EraseReason {
    pub fn name(self) -> &'static str {
        match self {
            EraseReason::Request => "request",
            EraseReason::Retention => "retention",
        }
    }
}

/// The tables an erasure deletes from, children first.
pub(crate) const ERASE_TABLES: [&str; 4] = [
    "customer_messages",
    "customer_events",
    "audit_log",
    "customers",
];

/// Rows of `known_messages` ids asked at once (SQLite binds one parameter per id).
pub(crate) const ID_CHUNK: usize = 500;

/// Customers handled per page by `rebuild` and `purge_expired`.
pub(crate) const PAGE: i64 = 256;
