//! The shared store: PostgreSQL, for deployments of many replicas on one database.
//!
//! Locking: every write to a customer is one READ COMMITTED transaction that first locks the
//! customer's row (`SELECT ... FOR UPDATE`, after `INSERT ... ON CONFLICT DO NOTHING` has
//! made sure there is one), then reads the statistics it folds into. Writers of one customer,
//! on any replica, so run one after another and each reads what the previous committed; writers
//! of different customers do not wait for each other. A transaction locks one customer row at
//! most, so they cannot deadlock on each other.
//!
//! Migrations run at connect; sqlx's migrator holds a PostgreSQL advisory lock while it runs,
//! so replicas starting together apply them once.
use std::{collections::HashSet, str::FromStr, time::Duration};

use sqlx::{
    postgres::{PgConnectOptions, PgConnection, PgPoolOptions},
    PgPool, Postgres, Transaction,
};

use super::{
    check_consent, db_error, finish, first_occurrences, ingest_detail, migrate_error, new_state,
    state_from_json, to_json, CustomerRow, EraseReason, EventRow, SegmentRow, Store, ERASE_TABLES,
    PAGE,
};
use crate::{
    profile::{
        behaviour::{self, DERIVE_VERSION},
        segments::Segment,
        Applied, AuditEntry, Batch, Consent, Erased, EventRecord, Export, FoldSettings,
        MessageRecord, Seconds, StoredMessage, StoredProfile,
    },
    Error, Result,
};

/// How long a call waits for a pooled connection (or for a new one to be made) before the
/// store answers UNAVAILABLE: a database that is down is reported quickly, not waited on.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Attempts at locking a customer's row that a concurrent erasure deleted in between.
const LOCK_ATTEMPTS: usize = 3;

pub struct PgStore {
    pool: PgPool,
}

const CUSTOMER_COLUMNS: &str = "version, model_version, consent, created_at, updated_at, \
                                last_activity, messages, events, state, derived::text AS derived, \
                                cluster";

impl PgStore {
    /// Connects to `url` (a libpq-style URL: `postgres://user:pass@host:port/db?options=...`,
    /// passed through as is) and migrates the database.
    pub async fn connect(url: &str) -> Result<Self> {
        // The URL may hold a password: its parse error is reported without it.
        let mut options = PgConnectOptions::from_str(url)
            .map_err(|e| Error::invalid("store", format!("not a PostgreSQL URL: {e}")))?;
        if options.get_application_name().is_none() {
            options = options.application_name("rapport");
        }
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(db_error)?;
        sqlx::migrate!("migrations/postgres")
            .run(&pool)
            .await
            .map_err(migrate_error)?;
        Ok(PgStore { pool })
    }

    async fn begin(&self) -> Result<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(db_error)
    }
}

async fn audit(
    conn: &mut PgConnection,
    key: &str,
    at: Seconds,
    action: &str,
    detail: &str,
) -> Result<()> {
    sqlx::query("INSERT INTO audit_log (key, at, action, detail) VALUES ($1, $2, $3, $4)")
        .bind(key)
        .bind(at)
        .bind(action)
        .bind(detail)
        .execute(conn)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// The customer's row, locked with `lock` ("FOR UPDATE", "FOR SHARE") or not ("").
async fn load(conn: &mut PgConnection, key: &str, lock: &str) -> Result<Option<CustomerRow>> {
    sqlx::query_as::<_, CustomerRow>(&format!(
        "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE key = $1 {lock}"
    ))
    .bind(key)
    .fetch_optional(conn)
    .await
    .map_err(db_error)
}

/// Creates the customer's row if there is none and locks it.
async fn create_and_lock(conn: &mut PgConnection, key: &str, now: Seconds) -> Result<CustomerRow> {
    for _ in 0..LOCK_ATTEMPTS {
        sqlx::query(
            "INSERT INTO customers (key, created_at, updated_at, last_activity) \
             VALUES ($1, $2, $2, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
        // Under READ COMMITTED, a row another transaction deleted (an erasure) after the insert
        // saw it is not returned here: insert again.
        if let Some(row) = load(&mut *conn, key, "FOR UPDATE").await? {
            return Ok(row);
        }
    }
    Err(Error::Unavailable(format!(
        "customer {key:?}: its row was deleted while being locked; retry"
    )))
}

async fn apply_in(
    conn: &mut PgConnection,
    key: &str,
    batch: &Batch,
    settings: &FoldSettings,
    now: Seconds,
) -> Result<Applied> {
    let row = create_and_lock(&mut *conn, key, now).await?;
    check_consent(&row.consent, settings)?;

    let (messages, messages_repeated) = first_occurrences(&batch.messages, |m| &m.id);
    let mut inserted: HashSet<String> = HashSet::new();
    if !messages.is_empty() {
        let ids: Vec<&str> = messages.iter().map(|m| m.id.as_str()).collect();
        let ats: Vec<f64> = messages.iter().map(|m| m.at).collect();
        let texts: Vec<Option<&str>> = messages
            .iter()
            .map(|m| m.redacted_text.as_deref())
            .collect();
        let returned: Vec<String> = sqlx::query_scalar(
            "INSERT INTO customer_messages (key, message_id, at, redacted_text) \
             SELECT $1, m.id, m.at, m.text \
             FROM UNNEST($2::text[], $3::float8[], $4::text[]) AS m (id, at, text) \
             ON CONFLICT (key, message_id) DO NOTHING RETURNING message_id",
        )
        .bind(key)
        .bind(ids)
        .bind(ats)
        .bind(texts)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?;
        inserted.extend(returned);
    }
    let new_messages: Vec<&MessageRecord> = messages
        .iter()
        .copied()
        .filter(|m| inserted.contains(&m.id))
        .collect();
    let messages_duplicate = messages_repeated + (messages.len() - new_messages.len()) as u32;

    let (events, events_repeated) = first_occurrences(&batch.events, |e| &e.id);
    let mut inserted: HashSet<String> = HashSet::new();
    if !events.is_empty() {
        let attributes = events
            .iter()
            .map(|e| to_json(key, "customer_events.attributes", &e.attributes))
            .collect::<Result<Vec<String>>>()?;
        let returned: Vec<String> = sqlx::query_scalar(
            "INSERT INTO customer_events (key, event_id, kind, custom_kind, at, channel, \
             amount_minor, currency, score, attributes) \
             SELECT $1, e.id, e.kind, e.custom_kind, e.at, e.channel, e.amount_minor, \
             e.currency, e.score, e.attributes::jsonb \
             FROM UNNEST($2::text[], $3::text[], $4::text[], $5::float8[], $6::text[], \
             $7::int8[], $8::text[], $9::float8[], $10::text[]) \
             AS e (id, kind, custom_kind, at, channel, amount_minor, currency, score, attributes) \
             ON CONFLICT (key, event_id) DO NOTHING RETURNING event_id",
        )
        .bind(key)
        .bind(events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.kind.name()).collect::<Vec<_>>())
        .bind(
            events
                .iter()
                .map(|e| e.custom_kind.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(events.iter().map(|e| e.at).collect::<Vec<_>>())
        .bind(
            events
                .iter()
                .map(|e| e.channel.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(events.iter().map(|e| e.amount_minor).collect::<Vec<_>>())
        .bind(
            events
                .iter()
                .map(|e| e.currency.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(events.iter().map(|e| e.score).collect::<Vec<_>>())
        .bind(attributes)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?;
        inserted.extend(returned);
    }
    let new_events: Vec<&EventRecord> = events
        .iter()
        .copied()
        .filter(|e| inserted.contains(&e.id))
        .collect();
    let events_duplicate = events_repeated + (events.len() - new_events.len()) as u32;

    let anything_new = !new_messages.is_empty() || !new_events.is_empty();
    let mut version = row.version;
    if anything_new || row.state.is_none() {
        let mut state = match &row.state {
            Some(text) => state_from_json(key, text)?,
            None => new_state(settings),
        };
        state.fold_messages(&new_messages);
        state.fold_events(&new_events);
        let derived = behaviour::derive(&state, now);
        if anything_new {
            version += 1;
        }
        let own = new_messages.iter().filter(|m| m.own).count() as i64;
        sqlx::query(
            "UPDATE customers SET version = $1, model_version = $2, updated_at = $3, \
             last_activity = GREATEST(last_activity, $3), messages = messages + $4, \
             events = events + $5, segment = $6, derive_version = $7, state = $8, \
             derived = $9::jsonb WHERE key = $10",
        )
        .bind(version)
        .bind(&settings.model_version)
        .bind(now)
        .bind(own)
        .bind(new_events.len() as i64)
        .bind(&derived.segment)
        .bind(DERIVE_VERSION)
        .bind(to_json(key, "state", &state)?)
        .bind(to_json(key, "derived", &derived)?)
        .bind(key)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    }
    let applied = Applied {
        version: version.max(0) as u64,
        messages_new: new_messages.len() as u32,
        messages_duplicate,
        events_new: new_events.len() as u32,
        events_duplicate,
    };
    audit(conn, key, now, "ingest", &ingest_detail(&applied)).await?;
    Ok(applied)
}

/// Deletes the customer from every table and writes its tombstone; `None` when there is no
/// such customer (or, with `inactive_before`, when it was active since).
async fn erase_in(
    conn: &mut PgConnection,
    key: &str,
    now: Seconds,
    reason: EraseReason,
    inactive_before: Option<Seconds>,
) -> Result<Option<Erased>> {
    let last_activity: Option<f64> =
        sqlx::query_scalar("SELECT last_activity FROM customers WHERE key = $1 FOR UPDATE")
            .bind(key)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_error)?;
    match (last_activity, inactive_before) {
        (None, _) => return Ok(None),
        (Some(last), Some(before)) if last >= before => return Ok(None),
        _ => {}
    }
    let mut erased = Erased::default();
    for table in ERASE_TABLES {
        let n = sqlx::query(&format!("DELETE FROM {table} WHERE key = $1"))
            .bind(key)
            .execute(&mut *conn)
            .await
            .map_err(db_error)?
            .rows_affected();
        erased.rows.insert(table.to_string(), n);
    }
    let rows = serde_json::to_string(&erased.rows).map_err(|e| Error::Store(e.to_string()))?;
    sqlx::query("INSERT INTO erasures (at, reason, rows) VALUES ($1, $2, $3::jsonb)")
        .bind(now)
        .bind(reason.name())
        .bind(rows)
        .execute(conn)
        .await
        .map_err(db_error)?;
    Ok(Some(erased))
}

/// Deletes the customer's messages and events older than `before`, and the evidence quoted
/// from them; returns the rows deleted (0 when the customer is gone).
async fn forget_before_in(
    conn: &mut PgConnection,
    key: &str,
    before: Seconds,
    now: Seconds,
) -> Result<u64> {
    let Some(row) = load(&mut *conn, key, "FOR UPDATE").await? else {
        return Ok(0);
    };
    let mut deleted = [0u64; 2];
    for (i, table) in ["customer_messages", "customer_events"].iter().enumerate() {
        deleted[i] = sqlx::query(&format!("DELETE FROM {table} WHERE key = $1 AND at < $2"))
            .bind(key)
            .bind(before)
            .execute(&mut *conn)
            .await
            .map_err(db_error)?
            .rows_affected();
    }
    if deleted == [0, 0] {
        return Ok(0);
    }
    if let Some(text) = &row.state {
        let mut state = state_from_json(key, text)?;
        state.forget_evidence_before(before);
        sqlx::query("UPDATE customers SET state = $1, updated_at = $2 WHERE key = $3")
            .bind(to_json(key, "state", &state)?)
            .bind(now)
            .bind(key)
            .execute(&mut *conn)
            .await
            .map_err(db_error)?;
    }
    let detail = format!(
        "before={before} messages_deleted={} events_deleted={}",
        deleted[0], deleted[1]
    );
    audit(conn, key, now, "retention", &detail).await?;
    Ok(deleted[0] + deleted[1])
}

async fn rebuild_in(conn: &mut PgConnection, key: &str, now: Seconds) -> Result<bool> {
    let Some(text) = load(&mut *conn, key, "FOR UPDATE")
        .await?
        .and_then(|r| r.state)
    else {
        return Ok(false);
    };
    let state = state_from_json(key, &text)?;
    let derived = behaviour::derive(&state, now);
    sqlx::query(
        "UPDATE customers SET derived = $1::jsonb, segment = $2, derive_version = $3 \
         WHERE key = $4",
    )
    .bind(to_json(key, "derived", &derived)?)
    .bind(&derived.segment)
    .bind(DERIVE_VERSION)
    .bind(key)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    audit(conn, key, now, "rebuild", DERIVE_VERSION).await?;
    Ok(true)
}

async fn audit_of(conn: &mut PgConnection, key: &str) -> Result<Vec<AuditEntry>> {
    let rows: Vec<(f64, String, String)> =
        sqlx::query_as("SELECT at, action, detail FROM audit_log WHERE key = $1 ORDER BY at, id")
            .bind(key)
            .fetch_all(conn)
            .await
            .map_err(db_error)?;
    Ok(rows
        .into_iter()
        .map(|(at, action, detail)| AuditEntry { at, action, detail })
        .collect())
}

async fn export_in(conn: &mut PgConnection, key: &str, now: Seconds) -> Result<Option<Export>> {
    // FOR SHARE: no batch is folded in while the export reads.
    let Some(row) = load(&mut *conn, key, "FOR SHARE").await? else {
        return Ok(None);
    };
    let profile = row.into_profile(key)?;
    audit(&mut *conn, key, now, "export", "").await?;
    let messages: Vec<(String, f64, Option<String>)> = sqlx::query_as(
        "SELECT message_id, at, redacted_text FROM customer_messages WHERE key = $1 \
         ORDER BY at, message_id",
    )
    .bind(key)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    let events: Vec<EventRow> = sqlx::query_as(
        "SELECT event_id, kind, custom_kind, at, channel, amount_minor, currency, score, \
         attributes::text AS attributes FROM customer_events WHERE key = $1 \
         ORDER BY at, event_id",
    )
    .bind(key)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(Some(Export {
        profile,
        messages: messages
            .into_iter()
            .map(|(id, at, redacted_text)| StoredMessage {
                id,
                at,
                redacted_text,
            })
            .collect(),
        events: events
            .into_iter()
            .map(|e| e.into_record(key))
            .collect::<Result<_>>()?,
        audit: audit_of(conn, key).await?,
    }))
}

#[async_trait::async_trait]
impl Store for PgStore {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query_scalar::<_, i32>("SELECT 1")
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn known_messages(&self, key: &str, ids: &[String]) -> Result<Vec<String>> {
        // One array parameter, however many ids: no chunking needed.
        sqlx::query_scalar(
            "SELECT message_id FROM customer_messages WHERE key = $1 AND message_id = ANY($2)",
        )
        .bind(key)
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)
    }

    async fn apply(
        &self,
        key: &str,
        batch: &Batch,
        settings: &FoldSettings,
        now: Seconds,
    ) -> Result<Applied> {
        let mut tx = self.begin().await?;
        let r = apply_in(&mut tx, key, batch, settings, now).await;
        finish(tx, r).await
    }

    async fn get(&self, key: &str) -> Result<Option<StoredProfile>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        load(&mut conn, key, "")
            .await?
            .map(|row| row.into_profile(key))
            .transpose()
    }

    async fn export(&self, key: &str, now: Seconds) -> Result<Option<Export>> {
        let mut tx = self.begin().await?;
        let r = export_in(&mut tx, key, now).await;
        finish(tx, r).await
    }

    async fn erase(&self, key: &str, now: Seconds) -> Result<Option<Erased>> {
        let mut tx = self.begin().await?;
        let r = erase_in(&mut tx, key, now, EraseReason::Request, None).await;
        finish(tx, r).await
    }

    async fn set_consent(&self, key: &str, consent: Consent, now: Seconds) -> Result<u64> {
        let mut tx = self.begin().await?;
        let r = async {
            // The upsert locks the row: concurrent consent changes serialise.
            let version: i64 = sqlx::query_scalar(
                "INSERT INTO customers (key, consent, consent_at, created_at, updated_at, \
                 last_activity) VALUES ($1, $2, $3, $3, $3, $3) \
                 ON CONFLICT (key) DO UPDATE SET consent = excluded.consent, \
                 consent_at = excluded.consent_at, updated_at = excluded.updated_at, \
                 last_activity = GREATEST(customers.last_activity, excluded.last_activity) \
                 RETURNING version",
            )
            .bind(key)
            .bind(consent.name())
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
            audit(&mut tx, key, now, "consent", consent.name()).await?;
            Ok(version.max(0) as u64)
        }
        .await;
        finish(tx, r).await
    }

    async fn rebuild(&self, _settings: &FoldSettings, now: Seconds) -> Result<u64> {
        let mut rebuilt = 0;
        let mut after = String::new();
        loop {
            let keys = self.keys_after(&after).await?;
            let Some(last) = keys.last() else {
                return Ok(rebuilt);
            };
            after = last.clone();
            for key in &keys {
                let mut tx = self.begin().await?;
                let r = rebuild_in(&mut tx, key, now).await;
                if finish(tx, r).await? {
                    rebuilt += 1;
                }
            }
        }
    }

    async fn purge_expired(&self, before: Seconds, now: Seconds) -> Result<u64> {
        let mut erased = 0;
        let mut previous: Vec<String> = Vec::new();
        loop {
            // Erased rows leave the query, so each page starts again from the first key.
            let keys: Vec<String> = sqlx::query_scalar(
                "SELECT key FROM customers WHERE last_activity < $1 ORDER BY key LIMIT $2",
            )
            .bind(before)
            .bind(PAGE)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
            // A key that was not erased (active again, or erased by another replica
            // meanwhile) leaves the query too; the same page twice would mean it does not.
            if keys.is_empty() || keys == previous {
                break;
            }
            for key in &keys {
                let mut tx = self.begin().await?;
                let r = erase_in(&mut tx, key, now, EraseReason::Retention, Some(before)).await;
                if finish(tx, r).await?.is_some() {
                    erased += 1;
                }
            }
            previous = keys;
        }
        let mut after = String::new();
        loop {
            let keys: Vec<String> = sqlx::query_scalar(
                "SELECT key FROM customer_messages WHERE at < $1 AND key > $2 \
                 UNION SELECT key FROM customer_events WHERE at < $1 AND key > $2 \
                 ORDER BY key LIMIT $3",
            )
            .bind(before)
            .bind(&after)
            .bind(PAGE)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
            let Some(last) = keys.last() else {
                break;
            };
            after = last.clone();
            for key in &keys {
                let mut tx = self.begin().await?;
                let r = forget_before_in(&mut tx, key, before, now).await;
                finish(tx, r).await?;
            }
        }
        Ok(erased)
    }

    async fn segments(&self) -> Result<Vec<(String, u64)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT segment, COUNT(*) AS n FROM customers WHERE segment <> '' \
             GROUP BY segment ORDER BY n DESC, segment",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|(s, n)| (s, n.max(0) as u64))
            .collect())
    }

    async fn audit(&self, key: &str) -> Result<Vec<AuditEntry>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        audit_of(&mut conn, key).await
    }

    async fn keys_after(&self, after: &str) -> Result<Vec<String>> {
        sqlx::query_scalar("SELECT key FROM customers WHERE key > $1 ORDER BY key LIMIT $2")
            .bind(after)
            .bind(PAGE)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)
    }

    async fn clusters(&self) -> Result<Vec<Segment>> {
        let rows: Vec<SegmentRow> = sqlx::query_as(
            "SELECT name, description, centre, customers FROM segments ORDER BY position",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.into_iter().map(SegmentRow::into_segment).collect()
    }

    async fn save_clusters(
        &self,
        segments: &[Segment],
        members: &[(String, String)],
        now: Seconds,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let r = async {
            sqlx::query("DELETE FROM segments")
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            for (i, s) in segments.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO segments (name, position, description, centre, customers, run_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&s.name)
                .bind(i as i64)
                .bind(&s.description)
                .bind(to_json(&s.name, "segments.centre", &s.centre)?)
                .bind(s.customers as i64)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            }
            sqlx::query("UPDATE customers SET cluster = ''")
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            for (key, name) in members {
                sqlx::query("UPDATE customers SET cluster = $1 WHERE key = $2")
                    .bind(name)
                    .bind(key)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
            }
            Ok(())
        }
        .await;
        finish(tx, r).await
    }
}
