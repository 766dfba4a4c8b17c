//! The profile store against real databases: every test body runs on SQLite (a file in a
//! temporary directory) and on PostgreSQL (a schema of its own, dropped at the end).
//!
//! PostgreSQL: `RAPPORT_TEST_POSTGRES` names the server (a URL); by default
//! postgres://postgres@127.0.0.1:5432/test, then the same as `root`. Where none answers, the
//! PostgreSQL tests fail naming the prerequisite (scripts/test.sh starts the machine's).
mod common;

use std::{
    collections::{BTreeMap, BTreeSet},
    future::Future,
    panic::AssertUnwindSafe,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use futures::FutureExt;
use rapport::{
    profile::{
        behaviour::{self, DERIVE_VERSION},
        Batch, Consent, EventKind, EventRecord, FoldSettings, MessageRecord,
    },
    store::{self, postgres::PgStore, sqlite::SqliteStore, Store},
    Error,
};
use sqlx::{
    sqlite::{SqliteConnectOptions, SqlitePool},
    PgPool,
};

const T0: f64 = 1_780_000_000.0;
const DAY: f64 = 86_400.0;
const TABLES: [&str; 4] = [
    "customers",
    "customer_messages",
    "customer_events",
    "audit_log",
];

// ---------------------------------------------------------------------------------------------
// Fixtures

fn settings() -> FoldSettings {
    FoldSettings {
        half_life_days: 30.0,
        require_consent: false,
        model_version: "test-model-1".into(),
    }
}

/// The customer's own analysed message, quoting evidence for its sentiment.
fn msg(id: &str, at: f64, sentiment: f64) -> MessageRecord {
    MessageRecord {
        id: id.into(),
        at,
        conversation_id: "conv-1".into(),
        channel: "chat".into(),
        own: true,
        analysed: true,
        language: "en".into(),
        words: 12,
        signals: [
            ("sentiment.score".to_string(), sentiment),
            ("emotions.anger".to_string(), 0.1),
        ]
        .into(),
        features: [("pronoun_i".to_string(), 2.0)].into(),
        evidence: [("sentiment.score".to_string(), format!("sentence of {id}"))].into(),
        redacted_text: None,
        traits: [("openness".to_string(), 0.3)].into(),
        trait_evidence: [(
            "trait.openness.high".to_string(),
            (3.6, format!("sentence of {id}")),
        )]
        .into(),
    }
}

/// The other side's turn: only marks the conversation.
fn agent(id: &str, at: f64) -> MessageRecord {
    MessageRecord {
        id: id.into(),
        at,
        conversation_id: "conv-1".into(),
        channel: "chat".into(),
        own: false,
        analysed: false,
        ..Default::default()
    }
}

fn event(id: &str, kind: EventKind, at: f64, amount_minor: i64) -> EventRecord {
    EventRecord {
        id: id.into(),
        kind,
        custom_kind: String::new(),
        at,
        channel: "web".into(),
        amount_minor,
        currency: "EUR".into(),
        score: None,
        attributes: BTreeMap::new(),
    }
}

fn batch(messages: Vec<MessageRecord>, events: Vec<EventRecord>) -> Batch {
    Batch { messages, events }
}

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Equal up to the last bits of a float: serde_json (without its `float_roundtrip` feature)
/// may read a float back one ulp off, so what was written and what is derived again from what
/// was read back can differ there.
fn assert_close<T: serde::Serialize + std::fmt::Debug>(a: &T, b: &T) {
    fn close(a: &serde_json::Value, b: &serde_json::Value) -> bool {
        use serde_json::Value::*;
        match (a, b) {
            (Number(x), Number(y)) => {
                let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                (x - y).abs() <= 1e-12 * x.abs().max(y.abs()).max(1e-300)
            }
            (Array(x), Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| close(x, y)),
            (Object(x), Object(y)) => {
                x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| close(v, w)))
            }
            (x, y) => x == y,
        }
    }
    let (x, y) = (
        serde_json::to_value(a).unwrap(),
        serde_json::to_value(b).unwrap(),
    );
    assert!(close(&x, &y), "{a:?}\n  !=\n{b:?}");
}

// ---------------------------------------------------------------------------------------------
// The two backends

/// A direct connection beside the store, for what the tests check in the tables themselves.
enum Raw {
    Sqlite(SqlitePool),
    Pg(PgPool),
}

struct Db {
    store: Arc<dyn Store>,
    /// The `--store` value that opens the same database again.
    spec: String,
    raw: Raw,
}

impl Db {
    fn kind(&self) -> &'static str {
        match self.raw {
            Raw::Sqlite(_) => "sqlite",
            Raw::Pg(_) => "postgres",
        }
    }

    /// A second store on the same database: another pool (another replica, for PostgreSQL).
    async fn reopen(&self) -> Arc<dyn Store> {
        store::open(&self.spec).await.expect("reopen the store")
    }

    /// Rows of `table` whose key is `key`.
    async fn count(&self, table: &str, key: &str) -> i64 {
        match &self.raw {
            Raw::Sqlite(p) => {
                sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE key = ?"))
                    .bind(key)
                    .fetch_one(p)
                    .await
                    .unwrap()
            }
            Raw::Pg(p) => {
                sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE key = $1"))
                    .bind(key)
                    .fetch_one(p)
                    .await
                    .unwrap()
            }
        }
    }

    async fn exec(&self, sql: &str) {
        match &self.raw {
            Raw::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
            Raw::Pg(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Every tombstone, all its columns as one text each: (whole row, reason, rows JSON).
    async fn erasures(&self) -> Vec<(String, String, String)> {
        match &self.raw {
            Raw::Sqlite(p) => sqlx::query_as(
                "SELECT CAST(id AS TEXT) || '|' || CAST(at AS TEXT) || '|' || reason || '|' \
                 || rows, reason, rows FROM erasures ORDER BY id",
            )
            .fetch_all(p)
            .await
            .unwrap(),
            Raw::Pg(p) => sqlx::query_as(
                "SELECT id::text || '|' || at::text || '|' || reason || '|' || rows::text, \
                 reason, rows::text FROM erasures ORDER BY id",
            )
            .fetch_all(p)
            .await
            .unwrap(),
        }
    }
}

async fn on_sqlite<F, Fut>(body: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    // A directory that does not exist yet: open creates it.
    let path: PathBuf = dir.path().join("data/profiles/profiles.db");
    let store = SqliteStore::open(&path)
        .await
        .expect("open the SQLite store");
    let raw = SqlitePool::connect_with(SqliteConnectOptions::new().filename(&path))
        .await
        .unwrap();
    body(Db {
        store: Arc::new(store),
        spec: format!("sqlite:{}", path.display()),
        raw: Raw::Sqlite(raw),
    })
    .await;
}

/// Runs `body` on a PostgreSQL schema of its own (`common::pg`), dropped even when it panics.
async fn on_postgres<F, Fut>(body: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()>,
{
    let schema = common::pg::Schema::new().await;
    let url = schema.url.clone();
    let outcome = AssertUnwindSafe(async {
        let store = PgStore::connect(&url).await.expect("connect the PgStore");
        let raw = PgPool::connect(&url).await.unwrap();
        body(Db {
            store: Arc::new(store),
            spec: url.clone(),
            raw: Raw::Pg(raw),
        })
        .await;
    })
    .catch_unwind()
    .await;
    schema.drop_now().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// One module per test body, with a test on each backend: `<body>::sqlite`, `<body>::postgres`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::on_sqlite(super::$name).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                super::on_postgres(super::$name).await
            }
        }
    )*};
}

on_both!(
    apply_then_get,
    batches_are_idempotent,
    consent_is_enforced,
    export_holds_everything,
    erase_leaves_only_a_tombstone,
    purge_expired_erases_the_inactive_and_old_rows,
    segments_largest_first,
    rebuild_rederives_every_customer,
    concurrent_applies_lose_nothing,
    corrupt_json_is_a_store_error_naming_key_and_column,
    known_messages_of_a_large_batch,
);

// ---------------------------------------------------------------------------------------------
// Test bodies

async fn apply_then_get(db: Db) {
    let s = db.store.as_ref();
    assert_eq!(s.kind(), db.kind());
    s.ping().await.unwrap();
    assert_eq!(s.get("cust-1").await.unwrap(), None);

    let mut csat = event("e2", EventKind::Csat, T0 - 1800.0, 0);
    csat.score = Some(4.0);
    let b = batch(
        vec![
            agent("a1", T0 - 4.0 * 3600.0),
            msg("m1", T0 - 3.0 * 3600.0, 0.4),
            msg("m2", T0 - 2.0 * 3600.0, 0.6),
            msg("m3", T0 - 3600.0, -0.2),
        ],
        vec![event("e1", EventKind::Purchase, T0 - 7200.0, 2500), csat],
    );
    let applied = s.apply("cust-1", &b, &settings(), T0).await.unwrap();
    assert_eq!(applied.version, 1);
    assert_eq!((applied.messages_new, applied.messages_duplicate), (4, 0));
    assert_eq!((applied.events_new, applied.events_duplicate), (2, 0));

    let p = s.get("cust-1").await.unwrap().expect("stored");
    assert_eq!(p.version, 1);
    assert_eq!(p.model_version, "test-model-1");
    assert_eq!(p.consent, Consent::Unknown);
    assert_eq!((p.created_at, p.updated_at), (T0, T0));
    assert_eq!(
        p.messages, 3,
        "the agent's turn is not the customer's message"
    );
    assert_eq!(p.events, 2);
    assert_eq!(p.state.messages.n, 3);
    assert_eq!(p.state.half_life_days, 30.0);
    assert_eq!(p.state.events["purchase"].n, 1);
    assert_eq!(
        p.state.reply_latency.n, 3,
        "m1, m2 and m3 come after a1's turn"
    );
    assert_close(&p.derived, &behaviour::derive(&p.state, T0));
    assert_eq!(p.derived.version, DERIVE_VERSION);
    assert_eq!(p.derived.segment, "new");

    let known: BTreeSet<String> = s
        .known_messages("cust-1", &ids(&["m1", "a1", "m9"]))
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(known, BTreeSet::from(["a1".to_string(), "m1".to_string()]));
    assert!(s
        .known_messages("someone-else", &ids(&["m1"]))
        .await
        .unwrap()
        .is_empty());

    let audit = s.audit("cust-1").await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "ingest");
    assert_eq!(audit[0].at, T0);
    assert!(
        audit[0].detail.contains("messages_new=4"),
        "{}",
        audit[0].detail
    );
    assert!(
        !audit[0].detail.contains("sentence"),
        "no content in the audit"
    );
}

async fn batches_are_idempotent(db: Db) {
    let s = db.store.as_ref();
    let b = batch(
        vec![
            msg("m1", T0 - 300.0, 0.5),
            msg("m2", T0 - 200.0, 0.1),
            msg("m2", T0 - 200.0, 0.1),
        ],
        vec![
            event("e1", EventKind::Purchase, T0 - 100.0, 1000),
            event("e1", EventKind::Purchase, T0 - 100.0, 1000),
        ],
    );
    let first = s.apply("idem", &b, &settings(), T0).await.unwrap();
    assert_eq!(first.version, 1);
    assert_eq!((first.messages_new, first.messages_duplicate), (2, 1));
    assert_eq!((first.events_new, first.events_duplicate), (1, 1));
    let p1 = s.get("idem").await.unwrap().unwrap();
    assert_eq!((p1.messages, p1.events), (2, 1));
    assert_eq!(p1.state.signals["sentiment.score"].n, 2, "m2 folded once");
    assert_eq!(p1.state.events["purchase"].n, 1, "e1 folded once");

    let again = s.apply("idem", &b, &settings(), T0 + 60.0).await.unwrap();
    assert_eq!(again.version, 1, "nothing new: the version stays");
    assert_eq!((again.messages_new, again.messages_duplicate), (0, 3));
    assert_eq!((again.events_new, again.events_duplicate), (0, 2));
    let p2 = s.get("idem").await.unwrap().unwrap();
    assert_eq!(p2, p1, "the same batch again changes nothing");

    let more = batch(vec![msg("m1", T0 - 300.0, 0.5), msg("m3", T0, 0.9)], vec![]);
    let third = s
        .apply("idem", &more, &settings(), T0 + 120.0)
        .await
        .unwrap();
    assert_eq!(third.version, 2);
    assert_eq!((third.messages_new, third.messages_duplicate), (1, 1));
    let p3 = s.get("idem").await.unwrap().unwrap();
    assert_eq!((p3.version, p3.messages, p3.events), (2, 3, 1));
    assert_eq!(p3.state.signals["sentiment.score"].n, 3);
    assert_eq!(db.count("customer_messages", "idem").await, 3);
    assert_eq!(db.count("customer_events", "idem").await, 1);
    let audit = s.audit("idem").await.unwrap();
    assert_eq!(
        audit.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(),
        ["ingest"; 3],
        "every batch is audited, duplicates too"
    );
}

async fn consent_is_enforced(db: Db) {
    let s = db.store.as_ref();
    let b = batch(vec![msg("m1", T0, 0.2)], vec![]);
    let strict = FoldSettings {
        require_consent: true,
        ..settings()
    };

    // Required and not recorded: refused, and the customer row created for it rolled back.
    let err = s.apply("no-consent", &b, &strict, T0).await.unwrap_err();
    assert!(
        matches!(&err, Error::FailedPrecondition(m) if m.contains("SetConsent")),
        "{err:?}"
    );
    assert_eq!(s.get("no-consent").await.unwrap(), None);
    for table in TABLES {
        assert_eq!(db.count(table, "no-consent").await, 0, "{table}");
    }

    // Granted: profiled.
    assert_eq!(s.set_consent("ok", Consent::Granted, T0).await.unwrap(), 0);
    let applied = s.apply("ok", &b, &strict, T0 + 1.0).await.unwrap();
    assert_eq!(applied.version, 1);
    let p = s.get("ok").await.unwrap().unwrap();
    assert_eq!((p.consent, p.messages), (Consent::Granted, 1));

    // Withdrawn: refused whatever the server requires; nothing of the batch is stored.
    assert_eq!(
        s.set_consent("ok", Consent::Withdrawn, T0 + 2.0)
            .await
            .unwrap(),
        1
    );
    let late = batch(vec![msg("m2", T0 + 3.0, 0.2)], vec![]);
    let err = s
        .apply("ok", &late, &settings(), T0 + 3.0)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::FailedPrecondition(m) if m.contains("withdrawn")),
        "{err:?}"
    );
    let p = s.get("ok").await.unwrap().unwrap();
    assert_eq!(
        (p.consent, p.version, p.messages),
        (Consent::Withdrawn, 1, 1)
    );
    assert!(s
        .known_messages("ok", &ids(&["m2"]))
        .await
        .unwrap()
        .is_empty());
    let audit = s.audit("ok").await.unwrap();
    let trail: Vec<(&str, &str)> = audit
        .iter()
        .map(|a| (a.action.as_str(), a.detail.as_str()))
        .collect();
    assert_eq!(trail[0], ("consent", "granted"));
    assert_eq!(trail[1].0, "ingest");
    assert_eq!(trail[2], ("consent", "withdrawn"));
    assert_eq!(
        trail.len(),
        3,
        "a refused batch leaves no audit entry: {trail:?}"
    );

    // A consent-only customer reads back with empty statistics.
    s.set_consent("only-consent", Consent::Granted, T0)
        .await
        .unwrap();
    let p = s.get("only-consent").await.unwrap().unwrap();
    assert_eq!((p.version, p.messages, p.state.messages.n), (0, 0, 0));
    assert_eq!(p.derived.segment, "");
}

async fn export_holds_everything(db: Db) {
    let s = db.store.as_ref();
    let mut with_text = msg("m2", T0 - 100.0, 0.3);
    with_text.redacted_text = Some("My card is [CARD], please call me".into());
    let mut refund = event("e2", EventKind::Refund, T0 - 50.0, 700);
    refund.attributes = [("order".to_string(), "A-17".to_string())].into();
    let mut nps = event("e1", EventKind::Nps, T0 - 500.0, 0);
    nps.score = Some(9.0);
    let mut custom = event("e3", EventKind::Other, T0 - 10.0, 0);
    custom.custom_kind = "webinar".into();
    // Out of time order on purpose: the export is ordered by time.
    let b = batch(
        vec![with_text, msg("m1", T0 - 200.0, 0.1)],
        vec![refund.clone(), nps.clone(), custom.clone()],
    );
    s.set_consent("exp", Consent::Granted, T0 - 1000.0)
        .await
        .unwrap();
    s.apply("exp", &b, &settings(), T0).await.unwrap();

    let x = s.export("exp", T0 + 10.0).await.unwrap().expect("exported");
    assert_eq!(Some(x.profile.clone()), s.get("exp").await.unwrap());
    let msgs: Vec<(&str, f64, Option<&str>)> = x
        .messages
        .iter()
        .map(|m| (m.id.as_str(), m.at, m.redacted_text.as_deref()))
        .collect();
    assert_eq!(
        msgs,
        [
            ("m1", T0 - 200.0, None),
            ("m2", T0 - 100.0, Some("My card is [CARD], please call me")),
        ]
    );
    assert_eq!(x.events, [nps, refund, custom]);
    let actions: Vec<&str> = x.audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["consent", "ingest", "export"]);
    assert_eq!(x.audit[2].at, T0 + 10.0);

    assert!(s.export("nobody", T0).await.unwrap().is_none());
    assert_eq!(db.count("audit_log", "nobody").await, 0);
    assert_eq!(db.count("customers", "nobody").await, 0);
}

async fn erase_leaves_only_a_tombstone(db: Db) {
    let s = db.store.as_ref();
    let key = "cust-erase-5731";
    let mut m = msg("msg-erase-901", T0 - 60.0, 0.2);
    m.redacted_text = Some("text of msg-erase-901".into());
    let b = batch(
        vec![m, msg("msg-erase-902", T0 - 30.0, 0.4)],
        vec![event("evt-erase-77", EventKind::Purchase, T0 - 10.0, 990)],
    );
    s.set_consent(key, Consent::Granted, T0 - 100.0)
        .await
        .unwrap();
    s.apply(key, &b, &settings(), T0).await.unwrap();
    s.export(key, T0 + 1.0).await.unwrap();
    s.apply(
        "bystander",
        &batch(vec![msg("b1", T0, 0.0)], vec![]),
        &settings(),
        T0,
    )
    .await
    .unwrap();

    let erased = s.erase(key, T0 + 2.0).await.unwrap().expect("erased");
    let expected: BTreeMap<String, u64> = [
        ("customers", 1),
        ("customer_messages", 2),
        ("customer_events", 1),
        ("audit_log", 3),
    ]
    .into_iter()
    .map(|(t, n)| (t.to_string(), n))
    .collect();
    assert_eq!(erased.rows, expected);

    assert_eq!(s.get(key).await.unwrap(), None);
    assert!(s.audit(key).await.unwrap().is_empty());
    assert!(s.export(key, T0 + 3.0).await.unwrap().is_none());
    for table in TABLES {
        assert_eq!(db.count(table, key).await, 0, "{table} still holds {key}");
    }
    let tombstones = db.erasures().await;
    assert_eq!(tombstones.len(), 1);
    let (row, reason, rows) = &tombstones[0];
    assert_eq!(reason, "request");
    for secret in [
        key,
        "msg-erase-901",
        "msg-erase-902",
        "evt-erase-77",
        "text of",
    ] {
        assert!(
            !row.contains(secret),
            "the tombstone holds {secret:?}: {row}"
        );
    }
    let counts: BTreeMap<String, u64> = serde_json::from_str(rows).unwrap();
    assert_eq!(counts, expected);

    assert_eq!(s.erase(key, T0 + 4.0).await.unwrap(), None, "unknown now");
    assert_eq!(db.erasures().await.len(), 1);
    assert_eq!(s.get("bystander").await.unwrap().unwrap().messages, 1);
}

async fn purge_expired_erases_the_inactive_and_old_rows(db: Db) {
    let s = db.store.as_ref();
    let then = T0 - 400.0 * DAY;
    let before = T0 - 365.0 * DAY;
    // Inactive since `then`: erased.
    s.apply(
        "gone",
        &batch(vec![msg("g1", then - DAY, 0.1)], vec![]),
        &settings(),
        then,
    )
    .await
    .unwrap();
    // Active then and now: its old rows and the evidence quoted from them go, the rest stays.
    let old = batch(
        vec![msg("old1", then - DAY, 0.9)],
        vec![event("olde", EventKind::Purchase, then - DAY, 100)],
    );
    s.apply("mixed", &old, &settings(), then).await.unwrap();
    let new = batch(
        vec![msg("new1", T0 - DAY, 0.1)],
        vec![event("newe", EventKind::Purchase, T0 - DAY, 100)],
    );
    s.apply("mixed", &new, &settings(), T0).await.unwrap();
    let quoted = |p: &rapport::profile::StoredProfile| -> Vec<String> {
        p.state.evidence["sentiment.score"]
            .iter()
            .map(|e| e.message_id.clone())
            .collect()
    };
    let before_purge = s.get("mixed").await.unwrap().unwrap();
    assert_eq!(quoted(&before_purge), ["old1", "new1"]);
    // Recent only: untouched.
    s.apply(
        "fresh",
        &batch(vec![msg("f1", T0 - DAY, 0.1)], vec![]),
        &settings(),
        T0,
    )
    .await
    .unwrap();
    let fresh = s.get("fresh").await.unwrap().unwrap();

    assert_eq!(s.purge_expired(before, T0).await.unwrap(), 1);

    assert_eq!(s.get("gone").await.unwrap(), None);
    for table in TABLES {
        assert_eq!(db.count(table, "gone").await, 0, "{table}");
    }
    let tombstones = db.erasures().await;
    assert_eq!(tombstones.len(), 1);
    assert_eq!(tombstones[0].1, "retention");
    assert!(!tombstones[0].0.contains("gone"));

    let mixed = s.get("mixed").await.unwrap().unwrap();
    assert_eq!(quoted(&mixed), ["new1"]);
    assert!(s
        .known_messages("mixed", &ids(&["old1"]))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.known_messages("mixed", &ids(&["new1"])).await.unwrap(),
        ["new1"]
    );
    assert_eq!(db.count("customer_events", "mixed").await, 1);
    let x = s.export("mixed", T0).await.unwrap().unwrap();
    assert_eq!(
        x.events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["newe"]
    );
    let retention: Vec<_> = x.audit.iter().filter(|a| a.action == "retention").collect();
    assert_eq!(retention.len(), 1);
    assert!(
        retention[0].detail.contains("messages_deleted=1"),
        "{}",
        retention[0].detail
    );
    assert!(
        retention[0].detail.contains("events_deleted=1"),
        "{}",
        retention[0].detail
    );
    // The statistics themselves stay (they hold no message), counts included.
    assert_eq!((mixed.messages, mixed.events), (2, 2));

    assert_eq!(s.get("fresh").await.unwrap().unwrap(), fresh);
    assert_eq!(
        s.purge_expired(before, T0).await.unwrap(),
        0,
        "nothing left to purge"
    );
    assert_eq!(db.erasures().await.len(), 1);
}

async fn segments_largest_first(db: Db) {
    let s = db.store.as_ref();
    for key in ["champ-a", "champ-b"] {
        let events = (0..5)
            .map(|i| {
                event(
                    &format!("{key}-p{i}"),
                    EventKind::Purchase,
                    T0 - i as f64 * 3.0 * DAY,
                    1500,
                )
            })
            .collect();
        let b = batch(
            vec![msg(&format!("{key}-m"), T0 - 100.0 * DAY, 0.3)],
            events,
        );
        s.apply(key, &b, &settings(), T0).await.unwrap();
    }
    s.apply(
        "newbie",
        &batch(vec![msg("n1", T0 - DAY, 0.3)], vec![]),
        &settings(),
        T0,
    )
    .await
    .unwrap();
    s.set_consent("consent-only", Consent::Granted, T0)
        .await
        .unwrap();
    assert_eq!(
        s.segments().await.unwrap(),
        [("champion".to_string(), 2), ("new".to_string(), 1)]
    );
}

async fn rebuild_rederives_every_customer(db: Db) {
    let s = db.store.as_ref();
    for key in ["r1", "r2", "r3"] {
        let b = batch(vec![msg(&format!("{key}-m"), T0 - 3600.0, 0.3)], vec![]);
        s.apply(key, &b, &settings(), T0).await.unwrap();
    }
    s.set_consent("r0-consent-only", Consent::Granted, T0)
        .await
        .unwrap();
    let before: Vec<_> = [
        s.get("r1").await.unwrap().unwrap(),
        s.get("r2").await.unwrap().unwrap(),
    ]
    .into();
    assert_eq!(before[0].derived.segment, "new");
    // Make the stored derivation stale, as an older release would have left it.
    db.exec("UPDATE customers SET derive_version = 'derive-v0'")
        .await;

    let later = T0 + 200.0 * DAY;
    assert_eq!(s.rebuild(&settings(), later).await.unwrap(), 3);
    for key in ["r1", "r2", "r3"] {
        let p = s.get(key).await.unwrap().unwrap();
        assert_close(&p.derived, &behaviour::derive(&p.state, later));
        assert_eq!(p.derived.segment, "dormant");
        assert_eq!(p.derived.computed_at, later);
        assert_eq!(p.version, 1, "statistics unchanged: the version stays");
        let audit = s.audit(key).await.unwrap();
        assert_eq!(audit.last().unwrap().action, "rebuild");
    }
    assert_eq!(before[1].state, s.get("r2").await.unwrap().unwrap().state);
    assert_eq!(s.segments().await.unwrap(), [("dormant".to_string(), 3)]);
    let stale: i64 = match &db.raw {
        Raw::Sqlite(p) => sqlx::query_scalar(
            "SELECT COUNT(*) FROM customers WHERE derive_version = 'derive-v0' AND state IS NOT NULL",
        )
        .fetch_one(p)
        .await
        .unwrap(),
        Raw::Pg(p) => sqlx::query_scalar(
            "SELECT COUNT(*) FROM customers WHERE derive_version = 'derive-v0' AND state IS NOT NULL",
        )
        .fetch_one(p)
        .await
        .unwrap(),
    };
    assert_eq!(stale, 0);
}

async fn concurrent_applies_lose_nothing(db: Db) {
    // Two stores on one database: two pools (two replicas, on PostgreSQL; on SQLite two
    // stores in one process, which only BEGIN IMMEDIATE and the busy timeout keep apart).
    let stores = [db.store.clone(), db.reopen().await];
    let key = "busy-customer";
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = stores[i % 2].clone();
            tokio::spawn(async move {
                let messages = (0..5)
                    .map(|j| msg(&format!("t{i}-m{j}"), T0 - (i * 10 + j) as f64 * 60.0, 0.1))
                    .collect();
                let events = vec![event(
                    &format!("t{i}-e"),
                    EventKind::Purchase,
                    T0 - i as f64,
                    100,
                )];
                store
                    .apply(key, &batch(messages, events), &settings(), T0)
                    .await
            })
        })
        .collect();
    let mut versions = BTreeSet::new();
    for t in tasks {
        let applied = t.await.unwrap().expect("every concurrent apply succeeds");
        assert_eq!((applied.messages_new, applied.events_new), (5, 1));
        versions.insert(applied.version);
    }
    assert_eq!(
        versions,
        (1..=8).collect(),
        "each batch saw the one before it"
    );
    let p = stores[1].get(key).await.unwrap().unwrap();
    assert_eq!((p.version, p.messages, p.events), (8, 40, 8));
    assert_eq!(p.state.messages.n, 40);
    assert_eq!(p.state.signals["sentiment.score"].n, 40);
    assert_eq!(p.state.events["purchase"].n, 8);
    assert_eq!(db.count("customers", key).await, 1);
    assert_eq!(db.count("customer_messages", key).await, 40);
    assert_eq!(db.count("customer_events", key).await, 8);
    assert_eq!(db.count("audit_log", key).await, 8);
}

async fn corrupt_json_is_a_store_error_naming_key_and_column(db: Db) {
    let s = db.store.as_ref();
    let b = batch(vec![msg("m1", T0, 0.2)], vec![]);
    s.apply("broken-state", &b, &settings(), T0).await.unwrap();
    s.apply("broken-derived", &b, &settings(), T0)
        .await
        .unwrap();
    db.exec("UPDATE customers SET state = '{\"half_life_days\": ' WHERE key = 'broken-state'")
        .await;
    // Valid JSON (PostgreSQL keeps `derived` as JSONB) of the wrong shape.
    db.exec("UPDATE customers SET derived = '{\"segment\": 3}' WHERE key = 'broken-derived'")
        .await;
    for (key, column) in [("broken-state", "state"), ("broken-derived", "derived")] {
        let err = s.get(key).await.unwrap_err();
        match &err {
            Error::Store(m) => assert!(m.contains(key) && m.contains(column), "{m}"),
            other => panic!("{key}: {other:?}"),
        }
    }
    let more = batch(vec![msg("m2", T0 + 1.0, 0.2)], vec![]);
    let err = s
        .apply("broken-state", &more, &settings(), T0 + 1.0)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Store(m) if m.contains("broken-state")),
        "{err:?}"
    );
    assert!(
        s.known_messages("broken-state", &ids(&["m2"]))
            .await
            .unwrap()
            .is_empty(),
        "the refused batch rolled back"
    );
}

async fn known_messages_of_a_large_batch(db: Db) {
    let s = db.store.as_ref();
    let messages: Vec<MessageRecord> = (0..1200)
        .map(|i| msg(&format!("bulk-{i}"), T0 - i as f64, 0.0))
        .collect();
    let applied = s
        .apply("bulk", &batch(messages, vec![]), &settings(), T0)
        .await
        .unwrap();
    assert_eq!(applied.messages_new, 1200);
    let asked: Vec<String> = (0..1300).map(|i| format!("bulk-{i}")).collect();
    let known: BTreeSet<String> = s
        .known_messages("bulk", &asked)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(known, asked[..1200].iter().cloned().collect());
    assert_eq!(s.get("bulk").await.unwrap().unwrap().messages, 1200);
}

// ---------------------------------------------------------------------------------------------
// One backend only

#[tokio::test]
async fn postgres_down_is_unavailable_quickly() {
    let started = Instant::now();
    let err = match PgStore::connect("postgres://postgres@127.0.0.1:1/test").await {
        Ok(_) => panic!("connected to port 1"),
        Err(e) => e,
    };
    assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
    let err = match store::open("postgres://postgres@127.0.0.1:1/test").await {
        Ok(_) => panic!("connected to port 1"),
        Err(e) => e,
    };
    assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn sqlite_file_is_wal_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/profiles.db");
    let s = SqliteStore::open(&path).await.unwrap();
    s.apply(
        "k",
        &batch(vec![msg("m1", T0, 0.2)], vec![]),
        &settings(),
        T0,
    )
    .await
    .unwrap();
    drop(s);
    let raw = SqlitePool::connect_with(SqliteConnectOptions::new().filename(&path))
        .await
        .unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&raw)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    // Opened again (migrations already applied), the data is there.
    let s = store::open(path.to_str().unwrap()).await.unwrap();
    assert_eq!(s.kind(), "sqlite");
    assert_eq!(s.get("k").await.unwrap().unwrap().messages, 1);
    assert!(matches!(
        store::open("sqlite:").await.map(|_| ()),
        Err(Error::InvalidArgument { .. })
    ));
}
