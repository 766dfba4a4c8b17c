//! Profiles through a real gRPC channel to a real server, on real SQLite and the machine's real
//! PostgreSQL: ingestion, reads, export, erasure (checked by SQL over every table), consent,
//! pseudonyms, bad input, and a store that is down.
mod common;

use common::{
    pg::Schema,
    server::{start_tiny, TestServer},
};
use rapport::proto::v1 as pb;
use tonic::Code;

/// A store for one test: a SQLite file or a PostgreSQL schema of its own, with a way to look
/// at its rows directly.
enum Db {
    Sqlite(tempfile::TempDir),
    Pg(Schema),
}

impl Db {
    async fn sqlite() -> Db {
        Db::Sqlite(tempfile::tempdir().unwrap())
    }

    async fn postgres() -> Db {
        Db::Pg(Schema::new().await)
    }

    fn spec(&self) -> String {
        match self {
            Db::Sqlite(d) => format!("sqlite:{}", d.path().join("profiles.db").display()),
            Db::Pg(s) => s.url.clone(),
        }
    }

    /// Rows, over every column of every table, whose text holds `needle`, as "table.column".
    async fn rows_mentioning(&self, needle: &str) -> Vec<String> {
        let like = format!("%{needle}%");
        let mut hits = Vec::new();
        match self {
            Db::Sqlite(d) => {
                let pool = sqlx::SqlitePool::connect(&format!(
                    "sqlite:{}",
                    d.path().join("profiles.db").display()
                ))
                .await
                .unwrap();
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
                )
                .fetch_all(&pool)
                .await
                .unwrap();
                for t in tables {
                    let cols: Vec<String> =
                        sqlx::query_scalar(&format!("SELECT name FROM pragma_table_info('{t}')"))
                            .fetch_all(&pool)
                            .await
                            .unwrap();
                    for c in cols {
                        let n: i64 = sqlx::query_scalar(&format!(
                            "SELECT COUNT(*) FROM \"{t}\" WHERE CAST(\"{c}\" AS TEXT) LIKE ?"
                        ))
                        .bind(&like)
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                        if n > 0 {
                            hits.push(format!("{t}.{c}"));
                        }
                    }
                }
                pool.close().await;
            }
            Db::Pg(s) => {
                let pool = s.pool().await;
                let cols: Vec<(String, String)> = sqlx::query_as(
                    "SELECT table_name::text, column_name::text FROM information_schema.columns \
                     WHERE table_schema = $1",
                )
                .bind(&s.name)
                .fetch_all(&pool)
                .await
                .unwrap();
                assert!(cols.len() > 10, "no tables in {}: {cols:?}", s.name);
                for (t, c) in cols {
                    let n: i64 = sqlx::query_scalar(&format!(
                        "SELECT COUNT(*) FROM \"{t}\" WHERE CAST(\"{c}\" AS TEXT) LIKE $1"
                    ))
                    .bind(&like)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                    if n > 0 {
                        hits.push(format!("{t}.{c}"));
                    }
                }
                pool.close().await;
            }
        }
        hits
    }

    async fn done(self) {
        if let Db::Pg(s) = self {
            s.drop_now().await;
        }
    }
}

fn ts(seconds: i64) -> Option<pbjson_types::Timestamp> {
    Some(pbjson_types::Timestamp { seconds, nanos: 0 })
}

/// 2026-11-02 09:00 UTC, a Monday.
const T0: i64 = 1_793_610_000;

fn turn(id: &str, role: pb::Role, at: i64, text: &str) -> pb::Message {
    pb::Message {
        id: id.into(),
        conversation_id: "conv-1".into(),
        channel: pb::Channel::Chat as i32,
        role: role as i32,
        timestamp: ts(at),
        text: text.into(),
        ..Default::default()
    }
}

fn emails_and_chats() -> Vec<pb::Message> {
    let mut email = turn(
        "m1",
        pb::Role::Customer,
        T0,
        "Hello, my order 5531 arrived broken. Please write to anna.k@example.com or call +7 915 123-45-67.",
    );
    email.channel = pb::Channel::Email as i32;
    email.conversation_id = "conv-0".into();
    vec![
        email,
        turn(
            "a1",
            pb::Role::Agent,
            T0 + 3600,
            "Sorry to hear that! Could you send a photo?",
        ),
        turn(
            "m2",
            pb::Role::Customer,
            T0 + 3600 + 120,
            "Sure, here it is. Thanks for the quick answer.",
        ),
        turn(
            "a2",
            pb::Role::Agent,
            T0 + 3600 + 300,
            "A replacement is on its way.",
        ),
        turn(
            "m3",
            pb::Role::Customer,
            T0 + 3600 + 300 + 60,
            "Great, thank you so much!",
        ),
    ]
}

fn event(id: &str, kind: pb::EventKind, at: i64) -> pb::BehaviourEvent {
    pb::BehaviourEvent {
        id: id.into(),
        kind: kind as i32,
        timestamp: ts(at),
        ..Default::default()
    }
}

fn purchases_and_tickets() -> Vec<pb::BehaviourEvent> {
    let mut p1 = event("p1", pb::EventKind::Purchase, T0 - 20 * 86_400);
    p1.amount_minor = 4_990;
    p1.currency = "EUR".into();
    let mut p2 = event("p2", pb::EventKind::Purchase, T0 - 86_400);
    p2.amount_minor = 1_990;
    p2.currency = "EUR".into();
    let mut csat = event("s1", pb::EventKind::Csat, T0 + 7200);
    csat.score = Some(5.0);
    vec![
        p1,
        p2,
        event("t1", pb::EventKind::TicketOpened, T0),
        event("t2", pb::EventKind::TicketClosed, T0 + 3600 + 400),
        csat,
    ]
}

async fn ingest(
    server: &TestServer,
    customer: &str,
    messages: Vec<pb::Message>,
) -> Result<pb::IngestResponse, tonic::Status> {
    server
        .profiles()
        .ingest_messages(pb::IngestMessagesRequest {
            customer_id: customer.into(),
            messages,
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner())
}

async fn ingest_events(
    server: &TestServer,
    customer: &str,
    events: Vec<pb::BehaviourEvent>,
) -> Result<pb::IngestResponse, tonic::Status> {
    server
        .profiles()
        .ingest_events(pb::IngestEventsRequest {
            customer_id: customer.into(),
            events,
        })
        .await
        .map(|r| r.into_inner())
}

async fn get(server: &TestServer, customer: &str) -> Result<pb::Profile, tonic::Status> {
    server
        .profiles()
        .get_profile(pb::GetProfileRequest {
            customer_id: customer.into(),
        })
        .await
        .map(|r| r.into_inner())
}

fn feature<'a>(p: &'a pb::Profile, name: &str) -> &'a pb::Feature {
    p.behaviour
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("{name} missing from {:?}", p.behaviour))
}

async fn lifecycle(db: Db) {
    let customer = "crm-customer-7f3a9e";
    let server = start_tiny(&["--store", &db.spec()]).await;
    let r = ingest(&server, customer, emails_and_chats()).await.unwrap();
    assert_eq!((r.accepted, r.duplicates, r.version), (5, 0, 1));
    let r = ingest_events(&server, customer, purchases_and_tickets())
        .await
        .unwrap();
    assert_eq!((r.accepted, r.version), (5, 2));

    let p = get(&server, customer).await.unwrap();
    assert_eq!((p.messages, p.events, p.version), (3, 5, 2));
    assert_eq!(p.customer_id, customer);
    assert!(!p.model_version.is_empty());
    // The customer answered the agent after 120 s and 60 s.
    let latency = feature(&p, "reply_latency_seconds");
    assert!((latency.value - 90.0).abs() < 1.0, "{latency:?}");
    assert_eq!(latency.count, 2);
    assert_eq!(latency.first.unwrap().seconds, T0 + 3600 + 120);
    let recency = feature(&p, "recency_days");
    assert_eq!(recency.count, 2);
    assert!(feature(&p, "csat_mean").value == 5.0);
    // two chats, one email (decayed a little more: an hour older)
    assert!(
        (p.channel_mix["chat"] - 2.0 / 3.0).abs() < 1e-3,
        "{:?}",
        p.channel_mix
    );
    assert_eq!(p.hour_of_day.len(), 24);
    assert!(p
        .signals
        .iter()
        .any(|s| s.name == "sentiment.score" && s.count == 3));
    // Evidence is redacted: the e-mail address and phone are placeholders.
    assert!(!p.evidence.is_empty());
    for e in &p.evidence {
        assert!(
            !e.text.contains("anna.k@") && !e.text.contains("123-45-67"),
            "{e:?}"
        );
    }

    // Sending the same batch again counts once.
    let again = ingest(&server, customer, emails_and_chats()).await.unwrap();
    assert_eq!((again.accepted, again.duplicates, again.version), (0, 5, 2));
    let same = get(&server, customer).await.unwrap();
    assert_eq!((same.messages, same.version), (3, 2));

    // The export holds the events, the message ids and the audit trail; never the raw text.
    let export = server
        .profiles()
        .export_profile(pb::ExportProfileRequest {
            customer_id: customer.into(),
        })
        .await
        .unwrap()
        .into_inner();
    let data: serde_json::Value = serde_json::from_str(&export.data_json).unwrap();
    let text = export.data_json.as_str();
    for needle in ["\"p1\"", "\"t2\"", "\"m3\"", "ingest", "reply_latency"] {
        assert!(text.contains(needle), "{needle} missing from the export");
    }
    assert!(
        !text.contains("anna.k@example.com"),
        "raw PII in the export"
    );
    // Evidence keeps single sentences, not whole messages.
    assert!(
        !text.contains("Sure, here it is. Thanks for the quick answer."),
        "whole text stored without --store-text"
    );
    assert!(data["export"]["audit"].as_array().unwrap().len() >= 2);

    // Erase, then nothing is left of the customer anywhere.
    let erased = server
        .profiles()
        .erase_profile(pb::EraseProfileRequest {
            customer_id: customer.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(erased.erased);
    assert!(erased.rows.values().sum::<u64>() >= 1 + 5 + 5);
    let err = get(&server, customer).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    server.stop().await.unwrap();
    let left = db.rows_mentioning(customer).await;
    assert!(left.is_empty(), "rows still hold the customer: {left:?}");
    for id in ["\"p1\"", "conv-1"] {
        let left = db.rows_mentioning(id).await;
        assert!(left.is_empty(), "{id} left in {left:?}");
    }
    db.done().await;
}

#[tokio::test]
async fn lifecycle_on_sqlite() {
    lifecycle(Db::sqlite().await).await;
}

#[tokio::test]
async fn lifecycle_on_postgres() {
    lifecycle(Db::postgres().await).await;
}

#[tokio::test]
async fn bad_input_names_the_field_and_stores_nothing() {
    let server = start_tiny(&["--max-batch-events", "3"]).await;
    let expect = |r: Result<pb::IngestResponse, tonic::Status>, code: Code, want: &str| {
        let e = r.unwrap_err();
        assert_eq!(e.code(), code, "{e:?}");
        assert!(
            e.message().contains(want),
            "{want:?} not in {:?}",
            e.message()
        );
    };
    let good = || event("e1", pb::EventKind::Login, T0);
    expect(
        ingest_events(&server, "", vec![good()]).await,
        Code::InvalidArgument,
        "customer_id: must not be empty",
    );
    expect(
        ingest_events(&server, &"x".repeat(300), vec![good()]).await,
        Code::InvalidArgument,
        "customer_id: 300 bytes, over the limit of 256",
    );
    let mut unknown = good();
    unknown.kind = 42;
    expect(
        ingest_events(&server, "c", vec![good(), unknown]).await,
        Code::InvalidArgument,
        "events[1].kind: unknown value 42",
    );
    let mut negative = event("e2", pb::EventKind::Purchase, T0);
    negative.amount_minor = -100;
    expect(
        ingest_events(&server, "c", vec![good(), negative]).await,
        Code::InvalidArgument,
        "events[1].amount_minor: -100 is negative",
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let future = event("e3", pb::EventKind::Login, now + 30 * 86_400);
    expect(
        ingest_events(&server, "c", vec![good(), future]).await,
        Code::InvalidArgument,
        "events[1].timestamp: 720 hours in the future",
    );
    expect(
        ingest_events(&server, "c", vec![good(), good(), good(), good()]).await,
        Code::InvalidArgument,
        "events: 4 events, over the limit of 3 per call",
    );
    let mut no_id = turn("", pb::Role::Customer, T0, "Where is my parcel?");
    no_id.id.clear();
    expect(
        ingest(
            &server,
            "c",
            vec![turn("ok", pb::Role::Customer, T0, "Hi there"), no_id],
        )
        .await,
        Code::InvalidArgument,
        "messages[1].id: must not be empty",
    );
    expect(
        ingest(
            &server,
            "c",
            vec![
                turn("ok", pb::Role::Customer, T0, "Hi there"),
                turn("empty", pb::Role::Customer, T0, ""),
            ],
        )
        .await,
        Code::InvalidArgument,
        "messages[1].text: must not be empty",
    );
    // Every batch above was refused whole: the customer was never created.
    let err = get(&server, "c").await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = server
        .profiles()
        .export_profile(pb::ExportProfileRequest {
            customer_id: "nobody".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn consent_and_subject_role_switch_profiling() {
    let server = start_tiny(&["--require-consent"]).await;
    let events = || vec![event("e1", pb::EventKind::Login, T0)];
    let e = ingest_events(&server, "c1", events()).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    assert!(e.message().contains("consent"), "{}", e.message());
    assert_eq!(get(&server, "c1").await.unwrap_err().code(), Code::NotFound);
    let consent = |state: pb::ConsentState| pb::SetConsentRequest {
        customer_id: "c1".into(),
        consent: state as i32,
    };
    server
        .profiles()
        .set_consent(consent(pb::ConsentState::Granted))
        .await
        .unwrap();
    ingest_events(&server, "c1", events()).await.unwrap();
    let p = get(&server, "c1").await.unwrap();
    assert_eq!((p.events, p.consent), (1, pb::ConsentState::Granted as i32));
    server
        .profiles()
        .set_consent(consent(pb::ConsentState::Withdrawn))
        .await
        .unwrap();
    let e = ingest_events(&server, "c1", vec![event("e2", pb::EventKind::Login, T0)])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    // Agents are not profiled without --profile-agents.
    let e = server
        .profiles()
        .ingest_messages(pb::IngestMessagesRequest {
            customer_id: "agent-7".into(),
            messages: vec![turn("a1", pb::Role::Agent, T0, "How can I help?")],
            subject: pb::Subject::Agent as i32,
            return_analyses: false,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(e.message().contains("--profile-agents"), "{}", e.message());
    server.stop().await.unwrap();
}

#[tokio::test]
async fn pseudonymous_ids_never_reach_the_store() {
    let db = Db::sqlite().await;
    let key_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(key_file.path(), "a deployment secret of enough bytes\n").unwrap();
    let key_path = key_file.path().display().to_string();
    let server = start_tiny(&["--store", &db.spec(), "--pseudonym-key-file", &key_path]).await;
    let customer = "crm-id-5f1c2b";
    ingest_events(&server, customer, purchases_and_tickets())
        .await
        .unwrap();
    let p = get(&server, customer).await.unwrap();
    assert_eq!((p.customer_id.as_str(), p.events), (customer, 5));
    server.stop().await.unwrap();
    let hits = db.rows_mentioning(customer).await;
    assert!(hits.is_empty(), "the CRM id is stored in {hits:?}");
    db.done().await;
}

#[tokio::test]
async fn a_store_that_is_down_answers_unavailable_and_health_says_so() {
    // Nothing listens on port 1.
    let server = start_tiny(&["--store", "postgres://postgres@127.0.0.1:1/test"]).await;
    let e = ingest_events(&server, "c", vec![event("e1", pb::EventKind::Login, T0)])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unavailable, "{e:?}");
    let status = server
        .health()
        .check(tonic_health::pb::HealthCheckRequest {
            service: "rapport.v1.Profiles".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::NotServing as i32
    );
    // Analysis goes on without the store.
    server
        .analyze_one(common::server::message("x", "still analysing"))
        .await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn segments_are_listed_with_counts() {
    let server = start_tiny(&[]).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    ingest_events(
        &server,
        "fresh",
        vec![event("l", pb::EventKind::Login, now - 60)],
    )
    .await
    .unwrap();
    let segments = server
        .profiles()
        .list_segments(pb::ListSegmentsRequest {})
        .await
        .unwrap()
        .into_inner()
        .lifecycle;
    assert!(segments.len() >= 6, "{segments:?}");
    let new = segments.iter().find(|s| s.name == "new").unwrap();
    assert_eq!(new.customers, 1);
    assert!(segments.iter().all(|s| !s.description.is_empty()));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn store_text_keeps_the_whole_redacted_text_and_never_the_raw() {
    let server = start_tiny(&["--store-text"]).await;
    let text = "My card stopped working at the till. Write to me at olga.v@example.org today.";
    ingest(
        &server,
        "c-text",
        vec![turn("m1", pb::Role::Customer, T0, text)],
    )
    .await
    .unwrap();
    let export = server
        .profiles()
        .export_profile(pb::ExportProfileRequest {
            customer_id: "c-text".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .data_json;
    assert!(
        export.contains("My card stopped working at the till. Write to me at [EMAIL] today."),
        "{export}"
    );
    assert!(!export.contains("olga.v@example.org"), "raw PII stored");
    server.stop().await.unwrap();
}

/// Sentences for `n` messages of about 12 words each, one a week apart in two-day steps.
fn chat_messages(prefix: &str, n: usize, texts: &[&str]) -> Vec<pb::Message> {
    (0..n)
        .map(|i| {
            let mut m = turn(
                &format!("{prefix}{i}"),
                pb::Role::Customer,
                T0 - 40 * 86_400 + i as i64 * 2 * 86_400,
                texts[i % texts.len()],
            );
            m.conversation_id = format!("{prefix}-conv-{}", i / 4);
            m
        })
        .collect()
}

#[tokio::test]
async fn what_the_profile_says_about_a_person_comes_through_the_api() {
    let db = Db::sqlite().await;
    let server = start_tiny(&["--store", &db.spec()]).await;
    let english = [
        "Hello, I would like to know when my parcel will finally arrive at home.",
        "Could you please check the order again and write to maria.p@example.com today?",
        "Thank you, the replacement works well and I am happy with the quick service.",
    ];
    // Too few words: every trait abstains, with the population's interval and a reason.
    ingest(&server, "few", chat_messages("f", 2, &english))
        .await
        .unwrap();
    let p = get(&server, "few").await.unwrap();
    assert_eq!(p.big_five.len(), 5);
    assert_eq!(p.traits_version, "traits-tiny");
    for t in &p.big_five {
        assert!(t.abstained, "{t:?}");
        assert!(t.note.contains("estimates start at 50"), "{}", t.note);
        assert!((t.lower - 0.1).abs() < 0.01 && (t.upper - 0.9).abs() < 0.01);
    }
    assert!(p
        .type_letters
        .iter()
        .all(|l| l.abstained && l.letter.is_empty()));
    assert!(p.disc.as_ref().unwrap().abstained);

    // Enough words: estimates with intervals narrower than the population's, each citing the
    // messages (redacted) that moved it.
    ingest(&server, "many", chat_messages("m", 24, &english))
        .await
        .unwrap();
    let p = get(&server, "many").await.unwrap();
    let names: Vec<&str> = p.big_five.iter().map(|t| t.r#trait.as_str()).collect();
    assert_eq!(
        names,
        [
            "openness",
            "conscientiousness",
            "extraversion",
            "agreeableness",
            "neuroticism"
        ]
    );
    for t in &p.big_five {
        assert!(!t.abstained, "{t:?}");
        assert!(t.lower < t.score && t.score < t.upper, "{t:?}");
        assert!(t.upper - t.lower < 0.8 - 0.01, "{t:?}");
        assert!(t.words > 250.0, "{t:?}");
        assert!((t.level - 0.8).abs() < 1e-6);
        assert!(!t.evidence.is_empty(), "{t:?}");
        for e in &t.evidence {
            assert_eq!(e.kind, "message");
            assert!(e.message_id.starts_with('m') && e.timestamp.is_some());
            assert!(!e.text.contains("maria.p@example.com"), "{}", e.text);
            assert!(e.contribution != 0.0);
        }
    }
    assert_eq!(p.type_letters.len(), 4);
    let prefs = p.preferences.as_ref().unwrap();
    assert_eq!(prefs.language, "en");
    assert_eq!(prefs.channel, "chat");
    assert_eq!(prefs.detail, "brief");
    assert!(prefs.hours.contains(&9), "{prefs:?}");
    // BE_BRIEF from 24 short messages, with both texts and its evidence.
    let brief = p
        .recommendations
        .iter()
        .find(|r| r.kind == pb::RecommendationKind::BeBrief as i32)
        .unwrap_or_else(|| panic!("{:?}", p.recommendations));
    assert!(brief.confidence > 0.8 && !brief.text_en.is_empty() && !brief.text_ru.is_empty());
    assert_eq!(brief.text, brief.text_en);
    assert_eq!(brief.evidence[0].name, "words_per_message");
    assert!(p
        .recommendations
        .iter()
        .any(|r| r.kind == pb::RecommendationKind::ContactInTheMorning as i32));
    // The timeline: a week per bucket, every message counted once.
    let total: u32 = p.timeline.iter().map(|w| w.messages).sum();
    assert_eq!(total, 24);
    assert!(p.timeline.len() >= 7);
    assert!(p.timeline.windows(2).all(|w| {
        w[0].week_start.as_ref().unwrap().seconds < w[1].week_start.as_ref().unwrap().seconds
    }));
    assert!(p.timeline.iter().all(|w| w.scored <= w.messages));

    // Russian text: the estimator was fitted on English, so its estimates say so and widen.
    let russian = [
        "Здравствуйте, подскажите, пожалуйста, когда придёт моя посылка домой?",
        "Прошу проверить заказ ещё раз и ответить мне сегодня по почте.",
        "Спасибо, замена работает отлично, я очень доволен быстрым сервисом.",
    ];
    ingest(&server, "ru", chat_messages("r", 24, &russian))
        .await
        .unwrap();
    let r = get(&server, "ru").await.unwrap();
    assert_eq!(r.preferences.as_ref().unwrap().language, "ru");
    for (ru, en) in r.big_five.iter().zip(&p.big_five) {
        assert!(ru.note.contains("not fitted on"), "{}", ru.note);
        if ru.words > en.words * 0.9 {
            assert!(
                ru.upper - ru.lower > en.upper - en.lower - 0.02,
                "{ru:?} {en:?}"
            );
        }
    }
    let ru_text = r
        .recommendations
        .iter()
        .find(|x| x.kind == pb::RecommendationKind::WriteInTheirLanguage as i32)
        .expect("write in Russian");
    assert_eq!(ru_text.text, ru_text.text_ru);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn segments_are_clustered_listed_and_keep_their_names_on_a_rerun() {
    use rapport::profile::service::{ProfileSettings, Profiles};
    let db = Db::sqlite().await;
    let server = start_tiny(&["--store", &db.spec()]).await;
    // Three kinds of customers: long formal emails now and then, short chats many times a day,
    // mid-length messages daily.
    let long = "Dear support team, I am writing regarding the invoice for last month, which lists \
                two services that I never ordered, and I would kindly ask you to review the \
                charges, correct the amount and send me a corrected document by email.";
    let short = "ok thx";
    let mid = "Hi, the app keeps logging me out after the update, can you check my account?";
    let kinds: [(&str, usize, i64, &str); 3] = [
        ("long", 5, 5 * 86_400, long),
        ("short", 20, 3_600, short),
        ("mid", 10, 86_400, mid),
    ];
    let mut truth = Vec::new();
    for (g, (kind, n, step, text)) in kinds.iter().enumerate() {
        for c in 0..8 {
            let customer = format!("{kind}-{c}");
            let messages = (0..*n)
                .map(|i| {
                    turn(
                        &format!("{customer}-{i}"),
                        pb::Role::Customer,
                        T0 - 20 * 86_400 + i as i64 * step + c,
                        text,
                    )
                })
                .collect();
            ingest(&server, &customer, messages).await.unwrap();
            truth.push((customer, g));
        }
    }
    let store = rapport::store::open(&db.spec()).await.unwrap();
    let profiles = Profiles::new(
        store,
        rapport::profile::keys::Keys::new(None).unwrap(),
        ProfileSettings::default(),
    );
    let first = profiles
        .run_segments(5)
        .await
        .unwrap()
        .expect("24 profiles");
    assert_eq!(first.k, 3, "silhouette {}", first.silhouette);
    // Each profile's segment through the API; the three kinds are recovered.
    let mut assigned = Vec::new();
    for (customer, _) in &truth {
        assigned.push(get(&server, customer).await.unwrap().segment);
    }
    let names: Vec<String> = first.segments.iter().map(|s| s.name.clone()).collect();
    let labels: Vec<usize> = assigned
        .iter()
        .map(|a| names.iter().position(|n| n == a).expect("a listed segment"))
        .collect();
    let groups: Vec<usize> = truth.iter().map(|(_, g)| *g).collect();
    let ari = rapport::profile::segments::adjusted_rand(&groups, &labels);
    assert!(ari >= 0.8, "ARI {ari}: {assigned:?}");
    let listed = server
        .profiles()
        .list_segments(pb::ListSegmentsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.segments.len(), 3);
    assert!(listed.segments.iter().all(|s| !s.description.is_empty()
        && s.customers == 8
        && s.centre.contains_key("log_words_per_message")));
    assert!(!listed.lifecycle.is_empty());
    // More customers of the first kind arrive; a rerun with another seed keeps every name.
    for c in 8..12 {
        let customer = format!("long-{c}");
        let messages = (0..5)
            .map(|i| {
                turn(
                    &format!("{customer}-{i}"),
                    pb::Role::Customer,
                    T0 - 20 * 86_400 + i * 5 * 86_400 + c,
                    long,
                )
            })
            .collect();
        ingest(&server, &customer, messages).await.unwrap();
    }
    let second = profiles
        .run_segments(99)
        .await
        .unwrap()
        .expect("28 profiles");
    let mut again: Vec<String> = second.segments.iter().map(|s| s.name.clone()).collect();
    let mut before = names.clone();
    again.sort();
    before.sort();
    assert_eq!(again, before);
    for (customer, _) in &truth {
        let now = get(&server, customer).await.unwrap().segment;
        let was = &assigned[truth.iter().position(|(c, _)| c == customer).unwrap()];
        assert_eq!(&now, was, "{customer}");
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn ingestion_returns_the_analyses_it_made_when_asked() {
    let server = start_tiny(&[]).await;
    let request = |return_analyses| pb::IngestMessagesRequest {
        customer_id: "crm-9".into(),
        messages: vec![
            turn("q1", pb::Role::Agent, T0, "How can I help?"),
            turn(
                "m1",
                pb::Role::Customer,
                T0 + 60,
                "My card was blocked at the till.",
            ),
            turn(
                "m2",
                pb::Role::Customer,
                T0 + 90,
                "Please unblock it today.",
            ),
        ],
        return_analyses,
        ..Default::default()
    };
    let plain = server
        .profiles()
        .ingest_messages(request(false))
        .await
        .unwrap()
        .into_inner();
    assert!(plain.analyses.is_empty(), "not asked for");
    // The same ids again: nothing new is analysed, so nothing comes back.
    let again = server
        .profiles()
        .ingest_messages(request(true))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((again.accepted, again.duplicates), (0, 3));
    assert!(again.analyses.is_empty());

    let mut fresh = request(true);
    fresh.customer_id = "crm-10".into();
    let r = server
        .profiles()
        .ingest_messages(fresh)
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<&str> = r.analyses.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["m1", "m2"], "the customer's own, in request order");
    let analysed = server
        .analyze_one(turn(
            "m1",
            pb::Role::Customer,
            T0 + 60,
            "My card was blocked at the till.",
        ))
        .await;
    assert_eq!(
        r.analyses[0].sentiment.as_ref().map(|s| s.label.clone()),
        analysed.sentiment.as_ref().map(|s| s.label.clone()),
        "the same analysis as Analyze"
    );
    server.stop().await.unwrap();
}
