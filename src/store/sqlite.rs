//! The embedded store: one SQLite file in WAL mode, for one process.
//!
//! Durability: `journal_mode=WAL` with `synchronous=NORMAL`. A committed transaction is in the
//! WAL before `COMMIT` returns, so it survives the process being killed (SIGKILL, OOM, panic);
//! only a power loss or an OS crash can lose the last transactions before a checkpoint (the
//! database is never corrupted). `synchronous=FULL` would also survive power loss at an fsync
//! per commit; a deployment needing that should use PostgreSQL.
//!
//! Locking: readers run on any pooled connection (WAL readers never block the writer or each
//! other). Every write is one `BEGIN IMMEDIATE` transaction, which takes SQLite's write lock
//! before it reads anything, so the read-fold-write of a customer cannot interleave with
//! another writer (a `BEGIN DEFERRED` transaction would read first and fail with SQLITE_BUSY
//! when upgrading). Writers of this process also queue on a mutex first, so they wait in order
//! rather than polling the lock; the 5 s busy timeout only matters for another process on the
//! same file (a CLI job beside the server).
use std::{path::Path, time::Duration};

use sqlx::{
    sqlite::{
        SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions,
        SqliteSynchronous,
    },
    Sqlite, SqlitePool, Transaction,
};
use tokio::sync::Mutex;

use super::{
    check_consent, db_error, finish, first_occurrences, ingest_detail, migrate_error, new_state,
    state_from_json, to_json, CustomerRow, EraseReason, EventRow, SegmentRow, Store, ERASE_TABLES,
    ID_CHUNK, PAGE,
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

/// How long a statement waits for another process's write lock before SQLITE_BUSY.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

pub struct SqliteStore {
    pool: SqlitePool,
    /// Serialises this process's writers (see the module docs).
    write: Mutex<()>,
}

const CUSTOMER_COLUMNS: &str = "version, model_version, consent, created_at, updated_at, \
                                last_activity, messages, events, state, derived, cluster";

impl SqliteStore {
    /// Opens (creating the file and its directory if needed) and migrates the database.
    pub async fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(db_error)?;
        sqlx::migrate!("migrations/sqlite")
            .run(&pool)
            .await
            .map_err(migrate_error)?;
        Ok(SqliteStore {
            pool,
            write: Mutex::new(()),
        })
    }

    /// A write transaction holding SQLite's write lock from its first statement.
    async fn begin(&self) -> Result<Transaction<'static, Sqlite>> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error)
    }
}

async fn audit(
    conn: &mut SqliteConnection,
    key: &str,
    at: Seconds,
    action: &str,
    detail: &str,
) -> Result<()> {
    sqlx::query("INSERT INTO audit_log (key, at, action, detail) VALUES (?, ?, ?, ?)")
        .bind(key)
        .bind(at)
        .bind(action)
        .bind(detail)
        .execute(conn)
        .await
        .map_err(db_error)?;
    Ok(())
}

async fn load(conn: &mut SqliteConnection, key: &str) -> Result<Option<CustomerRow>> {
    sqlx::query_as::<_, CustomerRow>(&format!(
        "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE key = ?"
    ))
    .bind(key)
    .fetch_optional(conn)
    .await
    .map_err(db_error)
}

async fn apply_in(
    conn: &mut SqliteConnection,
    key: &str,
    batch: &Batch,
    settings: &FoldSettings,
    now: Seconds,
) -> Result<Applied> {
    sqlx::query(
        "INSERT INTO customers (key, created_at, updated_at, last_activity) VALUES (?, ?, ?, ?) \
         ON CONFLICT (key) DO NOTHING",
    )
    .bind(key)
    .bind(now)
    .bind(now)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    let row = load(&mut *conn, key)
        .await?
        .ok_or_else(|| Error::Store(format!("customer {key:?}: row missing after insert")))?;
    check_consent(&row.consent, settings)?;

    let (messages, mut messages_duplicate) = first_occurrences(&batch.messages, |m| &m.id);
    let mut new_messages: Vec<&MessageRecord> = Vec::with_capacity(messages.len());
    for m in messages {
        let inserted = sqlx::query(
            "INSERT INTO customer_messages (key, message_id, at, redacted_text) \
             VALUES (?, ?, ?, ?) ON CONFLICT (key, message_id) DO NOTHING",
        )
        .bind(key)
        .bind(&m.id)
        .bind(m.at)
        .bind(m.redacted_text.as_deref())
        .execute(&mut *conn)
        .await
        .map_err(db_error)?
        .rows_affected();
        if inserted == 1 {
            new_messages.push(m);
        } else {
            messages_duplicate += 1;
        }
    }
    let (events, mut events_duplicate) = first_occurrences(&batch.events, |e| &e.id);
    let mut new_events: Vec<&EventRecord> = Vec::with_capacity(events.len());
    for e in events {
        let attributes = to_json(key, "customer_events.attributes", &e.attributes)?;
        let inserted = sqlx::query(
            "INSERT INTO customer_events (key, event_id, kind, custom_kind, at, channel, \
             amount_minor, currency, score, attributes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (key, event_id) DO NOTHING",
        )
        .bind(key)
        .bind(&e.id)
        .bind(e.kind.name())
        .bind(&e.custom_kind)
        .bind(e.at)
        .bind(&e.channel)
        .bind(e.amount_minor)
        .bind(&e.currency)
        .bind(e.score)
        .bind(attributes)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?
        .rows_affected();
        if inserted == 1 {
            new_events.push(e);
        } else {
            events_duplicate += 1;
        }
    }

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
            "UPDATE customers SET version = ?, model_version = ?, updated_at = ?, \
             last_activity = ?, messages = messages + ?, events = events + ?, segment = ?, \
             derive_version = ?, state = ?, derived = ? WHERE key = ?",
        )
        .bind(version)
        .bind(&settings.model_version)
        .bind(now)
        .bind(row.last_activity.max(now))
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
    conn: &mut SqliteConnection,
    key: &str,
    now: Seconds,
    reason: EraseReason,
    inactive_before: Option<Seconds>,
) -> Result<Option<Erased>> {
    let last_activity: Option<f64> =
        sqlx::query_scalar("SELECT last_activity FROM customers WHERE key = ?")
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
        let n = sqlx::query(&format!("DELETE FROM {table} WHERE key = ?"))
            .bind(key)
            .execute(&mut *conn)
            .await
            .map_err(db_error)?
            .rows_affected();
        erased.rows.insert(table.to_string(), n);
    }
    let rows = serde_json::to_string(&erased.rows).map_err(|e| Error::Store(e.to_string()))?;
    sqlx::query("INSERT INTO erasures (at, reason, rows) VALUES (?, ?, ?)")
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
    conn: &mut SqliteConnection,
    key: &str,
    before: Seconds,
    now: Seconds,
) -> Result<u64> {
    let Some(row) = load(&mut *conn, key).await? else {
        return Ok(0);
    };
    let mut deleted = [0u64; 2];
    for (i, table) in ["customer_messages", "customer_events"].iter().enumerate() {
        deleted[i] = sqlx::query(&format!("DELETE FROM {table} WHERE key = ? AND at < ?"))
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
        sqlx::query("UPDATE customers SET state = ?, updated_at = ? WHERE key = ?")
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

async fn rebuild_in(conn: &mut SqliteConnection, key: &str, now: Seconds) -> Result<bool> {
    let Some(text) = load(&mut *conn, key).await?.and_then(|r| r.state) else {
        return Ok(false);
    };
    let state = state_from_json(key, &text)?;
    let derived = behaviour::derive(&state, now);
    sqlx::query("UPDATE customers SET derived = ?, segment = ?, derive_version = ? WHERE key = ?")
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

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query_scalar::<_, i32>("SELECT 1")
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn known_messages(&self, key: &str, ids: &[String]) -> Result<Vec<String>> {
        let mut known = Vec::new();
        for chunk in ids.chunks(ID_CHUNK) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let sql = format!(
                "SELECT message_id FROM customer_messages WHERE key = ? AND message_id IN ({marks})"
            );
            let mut q = sqlx::query_scalar::<_, String>(&sql).bind(key);
            for id in chunk {
                q = q.bind(id);
            }
            known.extend(q.fetch_all(&self.pool).await.map_err(db_error)?);
        }
        Ok(known)
    }

    async fn apply(
        &self,
        key: &str,
        batch: &Batch,
        settings: &FoldSettings,
        now: Seconds,
    ) -> Result<Applied> {
        let _writer = self.write.lock().await;
        let mut tx = self.begin().await?;
        let r = apply_in(&mut tx, key, batch, settings, now).await;
        finish(tx, r).await
    }

    async fn get(&self, key: &str) -> Result<Option<StoredProfile>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        load(&mut conn, key)
            .await?
            .map(|row| row.into_profile(key))
            .transpose()
    }

    async fn export(&self, key: &str, now: Seconds) -> Result<Option<Export>> {
        let _writer = self.write.lock().await;
        let mut tx = self.begin().await?;
        let r = export_in(&mut tx, key, now).await;
        finish(tx, r).await
    }

    async fn erase(&self, key: &str, now: Seconds) -> Result<Option<Erased>> {
        let _writer = self.write.lock().await;
        let mut tx = self.begin().await?;
        let r = erase_in(&mut tx, key, now, EraseReason::Request, None).await;
        finish(tx, r).await
    }

    async fn set_consent(&self, key: &str, consent: Consent, now: Seconds) -> Result<u64> {
        let _writer = self.write.lock().await;
        let mut tx = self.begin().await?;
        let r = async {
            let version: i64 = sqlx::query_scalar(
                "INSERT INTO customers (key, consent, consent_at, created_at, updated_at, \
                 last_activity) VALUES (?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (key) DO UPDATE SET consent = excluded.consent, \
                 consent_at = excluded.consent_at, updated_at = excluded.updated_at, \
                 last_activity = MAX(customers.last_activity, excluded.last_activity) \
                 RETURNING version",
            )
            .bind(key)
            .bind(consent.name())
            .bind(now)
            .bind(now)
            .bind(now)
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
                let _writer = self.write.lock().await;
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
                "SELECT key FROM customers WHERE last_activity < ? ORDER BY key LIMIT ?",
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
                let _writer = self.write.lock().await;
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
                "SELECT key FROM customer_messages WHERE at < ? AND key > ? \
                 UNION SELECT key FROM customer_events WHERE at < ? AND key > ? \
                 ORDER BY key LIMIT ?",
            )
            .bind(before)
            .bind(&after)
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
                let _writer = self.write.lock().await;
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
        sqlx::query_scalar("SELECT key FROM customers WHERE key > ? ORDER BY key LIMIT ?")
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
        let _writer = self.write.lock().await;
        let mut tx = self.begin().await?;
        let r = async {
            sqlx::query("DELETE FROM segments")
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            for (i, s) in segments.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO segments (name, position, description, centre, customers, run_at) \
                     VALUES (?, ?, ?, ?, ?, ?)",
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
                sqlx::query("UPDATE customers SET cluster = ? WHERE key = ?")
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

async fn audit_of(conn: &mut SqliteConnection, key: &str) -> Result<Vec<AuditEntry>> {
    let rows: Vec<(f64, String, String)> =
        sqlx::query_as("SELECT at, action, detail FROM audit_log WHERE key = ? ORDER BY at, id")
            .bind(key)
            .fetch_all(conn)
            .await
            .map_err(db_error)?;
    Ok(rows
        .into_iter()
        .map(|(at, action, detail)| AuditEntry { at, action, detail })
        .collect())
}

async fn export_in(conn: &mut SqliteConnection, key: &str, now: Seconds) -> Result<Option<Export>> {
    let Some(row) = load(&mut *conn, key).await? else {
        return Ok(None);
    };
    let profile = row.into_profile(key)?;
    audit(&mut *conn, key, now, "export", "").await?;
    let messages: Vec<(String, f64, Option<String>)> = sqlx::query_as(
        "SELECT message_id, at, redacted_text FROM customer_messages WHERE key = ? \
         ORDER BY at, message_id",
    )
    .bind(key)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    let events: Vec<EventRow> = sqlx::query_as(
        "SELECT event_id, kind, custom_kind, at, channel, amount_minor, currency, score, \
         attributes FROM customer_events WHERE key = ? ORDER BY at, event_id",
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
