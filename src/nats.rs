//! The NATS JetStream feed (`serve --nats URL`): a transport beside gRPC. Feed messages carry
//! the proto3 JSON mapping of `IngestMessagesRequest` or `IngestEventsRequest` and go through
//! the same Profiles service as the RPCs, so validation, idempotency and errors are the same.
//!
//! Delivery is at least once; ingestion is idempotent by message and event id, so each one
//! counts once. A feed message is acknowledged only after the store has committed it; one that
//! can never be ingested (bad JSON, INVALID_ARGUMENT, FAILED_PRECONDITION) is published to
//! `<prefix>.dead` and terminated; a transient failure is retried with a growing delay.
use std::{sync::Arc, time::Duration};

use async_nats::{
    jetstream::{self, consumer::pull, AckKind},
    HeaderMap,
};
use futures::StreamExt;
use tokio::sync::watch;
use tonic::{Code, Request, Status};

use crate::{
    config::{redact_url_userinfo, NatsArgs},
    grpc::{profiles::ProfilesService, services::Ready},
    profile::service::ProfilesReady,
    proto::v1::{self as pb, profiles_server::Profiles as _},
    Error, Result,
};

/// How long one fetch waits for messages before asking again (and checking for shutdown).
const FETCH_WAIT: Duration = Duration::from_secs(2);
/// Longest delay before a transiently failed message is redelivered.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);

/// Subjects of one deployment, all under `--nats-prefix`.
#[derive(Clone, Debug)]
pub struct Subjects {
    pub messages: String,
    pub events: String,
    pub dead: String,
    /// What the stream captures (and the consumer filters on).
    pub ingest: String,
}

impl Subjects {
    pub fn new(prefix: &str) -> Subjects {
        Subjects {
            messages: format!("{prefix}.ingest.messages"),
            events: format!("{prefix}.ingest.events"),
            dead: format!("{prefix}.dead"),
            ingest: format!("{prefix}.ingest.>"),
        }
    }
}

/// What became of one feed message.
enum Outcome {
    Acked,
    /// Published to the dead-letter subject and terminated.
    Dead,
    /// Negatively acknowledged, for redelivery after a delay.
    Retried,
}

impl Outcome {
    fn name(&self) -> &'static str {
        match self {
            Outcome::Acked => "acked",
            Outcome::Dead => "dead",
            Outcome::Retried => "retried",
        }
    }
}

/// Runs the feed until `stop` turns true: waits for the models and the store, sets up the
/// stream and the durable consumer (retrying while NATS cannot be reached), then fetches and
/// ingests. Messages in hand when `stop` turns are finished and acknowledged first.
pub async fn run(
    args: NatsArgs,
    service: ProfilesService,
    models: Ready,
    profiles: ProfilesReady,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let url = args
        .nats
        .clone()
        .ok_or_else(|| Error::invalid("nats", "no NATS URL given"))?;
    if args.nats_concurrency == 0 {
        return Err(Error::invalid("nats_concurrency", "must be at least 1"));
    }
    let mut options = async_nats::ConnectOptions::new()
        .name(format!("rapport {}", crate::VERSION))
        .retry_on_initial_connect();
    if let Some(creds) = &args.nats_creds {
        options = options
            .credentials_file(creds)
            .await
            .map_err(|e| Error::io(creds, e))?;
    }
    if let Some(ca) = &args.nats_ca {
        options = options.add_root_certificates(ca.clone());
    }
    let shown = redact_url_userinfo(&url);
    let client = options
        .connect(url.as_str())
        .await
        .map_err(|e| Error::Unavailable(format!("NATS {shown}: {e}")))?;
    let subjects = Subjects::new(&args.nats_prefix);

    // Ingest nothing before the models are warm and the store is open.
    while models.get().is_none() || profiles.get().is_none() {
        if *stop.borrow() {
            return Ok(());
        }
        let _ = tokio::time::timeout(Duration::from_millis(200), stop.changed()).await;
    }
    let js = jetstream::new(client.clone());
    let mut delay = Duration::from_millis(500);
    let consumer = loop {
        match consumer(&js, &args, &subjects).await {
            Ok(c) => break c,
            Err(e) => {
                tracing::warn!(nats = %shown, error = %e, "NATS feed not set up; retrying");
                let _ = tokio::time::timeout(delay, stop.changed()).await;
                if *stop.borrow() {
                    return Ok(());
                }
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    };
    tracing::info!(
        nats = %shown,
        stream = %args.nats_stream,
        consumer = %args.nats_consumer,
        subjects = %subjects.ingest,
        "NATS feed consuming"
    );
    let feed = Arc::new(Feed {
        client,
        service,
        subjects,
        results: args.nats_results.clone(),
    });
    while !*stop.borrow() {
        let batch = consumer
            .fetch()
            .max_messages(args.nats_concurrency)
            .expires(FETCH_WAIT)
            .messages()
            .await;
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "NATS fetch failed; retrying");
                let _ = tokio::time::timeout(Duration::from_secs(1), stop.changed()).await;
                continue;
            }
        };
        batch
            .for_each_concurrent(args.nats_concurrency, |m| {
                let feed = feed.clone();
                async move {
                    match m {
                        Ok(m) => feed.handle(m).await,
                        Err(e) => tracing::warn!(error = %e, "NATS delivery failed"),
                    }
                }
            })
            .await;
    }
    // Acks and dead letters out before the connection closes.
    let _ = feed.client.flush().await;
    tracing::info!("NATS feed stopped");
    Ok(())
}

/// The stream (created where missing) and the durable pull consumer every replica shares.
async fn consumer(
    js: &jetstream::Context,
    args: &NatsArgs,
    subjects: &Subjects,
) -> std::result::Result<jetstream::consumer::PullConsumer, async_nats::Error> {
    let stream = js
        .get_or_create_stream(jetstream::stream::Config {
            name: args.nats_stream.clone(),
            subjects: vec![subjects.ingest.clone()],
            // Each message is work to be done once: it leaves the stream when acknowledged.
            retention: jetstream::stream::RetentionPolicy::WorkQueue,
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await?;
    let consumer = stream
        .get_or_create_consumer(
            &args.nats_consumer,
            pull::Config {
                durable_name: Some(args.nats_consumer.clone()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: Duration::from_secs(args.nats_ack_wait_seconds.max(1)),
                max_deliver: args.nats_max_deliver,
                filter_subject: subjects.ingest.clone(),
                ..Default::default()
            },
        )
        .await?;
    Ok(consumer)
}

struct Feed {
    client: async_nats::Client,
    service: ProfilesService,
    subjects: Subjects,
    results: Option<String>,
}

impl Feed {
    async fn handle(&self, m: jetstream::Message) {
        let started = std::time::Instant::now();
        let (stream, sequence, delivered) = match m.info() {
            Ok(i) => (i.stream.to_string(), i.stream_sequence, i.delivered),
            Err(_) => (String::new(), 0, 1),
        };
        let kind = if m.subject.as_str() == self.subjects.messages {
            "messages"
        } else if m.subject.as_str() == self.subjects.events {
            "events"
        } else {
            "other"
        };
        let result = self.ingest(kind, &m.payload).await;
        let outcome = match result {
            Ok((customer_id, response)) => {
                if let Some(subject) = &self.results {
                    self.publish_result(subject, &stream, sequence, &customer_id, &response)
                        .await;
                }
                // Only now: the store has committed. A lost ack means a redelivery, which
                // idempotent ingestion counts once.
                if let Err(e) = m.double_ack().await {
                    tracing::warn!(sequence, error = %e, "NATS ack not confirmed");
                }
                Outcome::Acked
            }
            Err(status) if permanent(status.code()) => {
                // The payload may hold personal data: it goes back to the bus, never the log.
                tracing::warn!(
                    subject = %m.subject,
                    sequence,
                    code = ?status.code(),
                    error = status.message(),
                    "feed message cannot be ingested; dead-lettered"
                );
                self.dead_letter(&m, &stream, sequence, &status).await;
                if let Err(e) = m.ack_with(AckKind::Term).await {
                    tracing::warn!(sequence, error = %e, "NATS term not sent");
                }
                Outcome::Dead
            }
            Err(status) => {
                let delay = retry_delay(delivered);
                tracing::warn!(
                    sequence,
                    delivered,
                    code = ?status.code(),
                    error = status.message(),
                    retry_in_s = delay.as_secs_f64(),
                    "feed message not ingested; will be redelivered"
                );
                if let Err(e) = m.ack_with(AckKind::Nak(Some(delay))).await {
                    tracing::warn!(sequence, error = %e, "NATS nak not sent");
                }
                Outcome::Retried
            }
        };
        metrics::counter!("rapport_nats_messages_total", "kind" => kind, "outcome" => outcome.name())
            .increment(1);
        metrics::histogram!("rapport_nats_ingest_seconds", "kind" => kind)
            .record(started.elapsed().as_secs_f64());
    }

    /// Decodes and ingests one feed message; returns its customer id and the response.
    async fn ingest(
        &self,
        kind: &str,
        payload: &[u8],
    ) -> std::result::Result<(String, pb::IngestResponse), Status> {
        let invalid = |e: serde_json::Error| {
            Status::invalid_argument(format!(
                "payload: not the proto3 JSON of Ingest{}Request: {e}",
                if kind == "events" {
                    "Events"
                } else {
                    "Messages"
                }
            ))
        };
        match kind {
            "messages" => {
                let mut req: pb::IngestMessagesRequest =
                    serde_json::from_slice(payload).map_err(invalid)?;
                req.return_analyses |= self.results.is_some();
                let customer = req.customer_id.clone();
                let r = self.service.ingest_messages(Request::new(req)).await?;
                Ok((customer, r.into_inner()))
            }
            "events" => {
                let req: pb::IngestEventsRequest =
                    serde_json::from_slice(payload).map_err(invalid)?;
                let customer = req.customer_id.clone();
                let r = self.service.ingest_events(Request::new(req)).await?;
                Ok((customer, r.into_inner()))
            }
            _ => Err(Status::invalid_argument(format!(
                "subject: expected {} or {}",
                self.subjects.messages, self.subjects.events
            ))),
        }
    }

    async fn publish_result(
        &self,
        subject: &str,
        stream: &str,
        sequence: u64,
        customer_id: &str,
        response: &pb::IngestResponse,
    ) {
        let body = match serde_json::to_vec(response) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "result not serialised");
                return;
            }
        };
        let mut headers = source_headers(stream, sequence);
        headers.insert("Rapport-Customer-Id", customer_id);
        // A redelivered message publishes its result again; a stream that captures the results
        // subject drops the repeat within its duplicate window.
        headers.insert(
            async_nats::header::NATS_MESSAGE_ID,
            format!("rapport-result-{stream}-{sequence}").as_str(),
        );
        if let Err(e) = self
            .client
            .publish_with_headers(subject.to_string(), headers, body.into())
            .await
        {
            tracing::warn!(sequence, error = %e, "result not published");
        }
    }

    async fn dead_letter(
        &self,
        m: &jetstream::Message,
        stream: &str,
        sequence: u64,
        status: &Status,
    ) {
        let mut headers = source_headers(stream, sequence);
        headers.insert("Rapport-Source-Subject", m.subject.as_str());
        headers.insert(
            "Rapport-Error-Code",
            format!("{:?}", status.code()).as_str(),
        );
        // Header values are one line.
        headers.insert(
            "Rapport-Error",
            status.message().replace(['\r', '\n'], " ").as_str(),
        );
        if let Err(e) = self
            .client
            .publish_with_headers(self.subjects.dead.clone(), headers, m.payload.clone())
            .await
        {
            tracing::warn!(sequence, error = %e, "dead letter not published");
        }
    }
}

fn source_headers(stream: &str, sequence: u64) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("Rapport-Source-Stream", stream);
    headers.insert("Rapport-Source-Sequence", sequence.to_string().as_str());
    headers
}

/// Errors no redelivery can fix: the message itself is wrong, or the customer may not be
/// profiled. Everything else (store or engine unavailable, overload, a timeout) is retried.
fn permanent(code: Code) -> bool {
    matches!(
        code,
        Code::InvalidArgument
            | Code::FailedPrecondition
            | Code::OutOfRange
            | Code::NotFound
            | Code::PermissionDenied
            | Code::Unimplemented
    )
}

/// 1 s after the first delivery, doubling, at most a minute.
fn retry_delay(delivered: i64) -> Duration {
    let exp = delivered.clamp(1, 7) as u32 - 1;
    (Duration::from_secs(1) * 2u32.pow(exp)).min(MAX_RETRY_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_grows_and_caps() {
        assert_eq!(retry_delay(1), Duration::from_secs(1));
        assert_eq!(retry_delay(2), Duration::from_secs(2));
        assert_eq!(retry_delay(4), Duration::from_secs(8));
        assert_eq!(retry_delay(100), MAX_RETRY_DELAY);
    }

    #[test]
    fn only_errors_of_the_message_itself_are_permanent() {
        assert!(permanent(Code::InvalidArgument));
        assert!(permanent(Code::FailedPrecondition));
        assert!(!permanent(Code::Unavailable));
        assert!(!permanent(Code::ResourceExhausted));
        assert!(!permanent(Code::DeadlineExceeded));
        assert!(!permanent(Code::Internal));
    }

    #[test]
    fn urls_lose_their_credentials_when_shown() {
        assert_eq!(
            redact_url_userinfo("nats://u:p@a:4222,nats://b:4222"),
            "nats://[redacted]@a:4222,nats://b:4222"
        );
        assert_eq!(
            redact_url_userinfo("postgres://app:secret@db/x"),
            "postgres://[redacted]@db/x"
        );
        assert_eq!(redact_url_userinfo("sqlite:/a@b/p.db"), "sqlite:/a@b/p.db");
    }
}
