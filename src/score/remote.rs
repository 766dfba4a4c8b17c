//! `--server URL` (repeatable): scoring through running servers' `rapport.v1.Scoring/Score`
//! stream instead of in-process. One channel balances over every server (tonic's own
//! client-side balancing, power of two choices per call); each chunk of records is one Score
//! stream, several in flight at once, so the chunks spread over the servers. A chunk's results
//! come back in order, each message's error in its own response; what a busy or broken server
//! could not answer (RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, UNAVAILABLE, a dropped stream) is
//! sent again, so only the messages themselves decide what is written.
use std::time::{Duration, Instant};

use tonic::{codegen::InterceptedService, transport::Channel, Code};

use super::Outcome;
use crate::{
    config::ClientSecurityArgs,
    grpc::security::{BearerToken, ClientSecurity},
    health::{check, Outcome as Health},
    proto::v1 as pb,
    Error, Result,
};

/// Per-stream and per-connection HTTP/2 receive windows: room for a stream's window of
/// analyses (tens of KB each) in flight without waiting on WINDOW_UPDATEs.
const STREAM_WINDOW: u32 = 8 << 20;
const CONNECTION_WINDOW: u32 = 32 << 20;
/// Largest message either way (a whole MIME email goes as bytes).
const MAX_MESSAGE: usize = 64 << 20;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server may take to come up (models loading) before the run gives up.
const SERVING_WAIT: Duration = Duration::from_secs(120);
/// A chunk's stream that has not finished by then is sent again.
const CHUNK_TIMEOUT: Duration = Duration::from_secs(600);
/// Tries of one chunk before the run stops (it can be resumed from its checkpoint).
const MAX_ATTEMPTS: u32 = 8;

type Client = pb::scoring_client::ScoringClient<InterceptedService<Channel, BearerToken>>;

pub struct Remote {
    client: Client,
    skip_evidence: bool,
}

impl Remote {
    /// Waits until each server answers grpc.health.v1 SERVING for `rapport.v1.Scoring` (a
    /// balanced channel would wait without end on a server that never comes up), then builds
    /// the channel.
    pub async fn connect(
        servers: &[String],
        security: &ClientSecurityArgs,
        skip_evidence: bool,
    ) -> Result<Self> {
        let sec = ClientSecurity::load(security)?;
        let mut endpoints = Vec::with_capacity(servers.len());
        for server in servers {
            wait_serving(&sec, server).await?;
            let endpoint = sec
                .endpoint(&sec.url_for(server), CONNECT_TIMEOUT)?
                .initial_stream_window_size(STREAM_WINDOW)
                .initial_connection_window_size(CONNECTION_WINDOW)
                .http2_keep_alive_interval(Duration::from_secs(20))
                .keep_alive_timeout(Duration::from_secs(20))
                .keep_alive_while_idle(true);
            endpoints.push(endpoint);
        }
        let channel = Channel::balance_list(endpoints.into_iter());
        let client =
            pb::scoring_client::ScoringClient::with_interceptor(channel, sec.interceptor())
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE);
        Ok(Remote {
            client,
            skip_evidence,
        })
    }

    /// Scores a chunk: an outcome per message, in order.
    pub async fn score(
        &self,
        messages: Vec<std::result::Result<pb::Message, String>>,
    ) -> Result<Vec<Outcome>> {
        let mut out: Vec<Option<Outcome>> = Vec::with_capacity(messages.len());
        let mut requests: Vec<Option<pb::ScoreRequest>> = Vec::with_capacity(messages.len());
        for m in messages {
            match m {
                Ok(message) => {
                    out.push(None);
                    requests.push(Some(pb::ScoreRequest {
                        message: Some(message),
                        options: Some(pb::AnalysisOptions {
                            skip_evidence: self.skip_evidence,
                            ..Default::default()
                        }),
                    }));
                }
                Err(e) => {
                    out.push(Some(Outcome::Rejected(e)));
                    requests.push(None);
                }
            }
        }
        let mut pending: Vec<usize> = (0..out.len()).filter(|i| out[*i].is_none()).collect();
        let mut attempt = 0;
        let mut backoff = Duration::from_millis(200);
        while !pending.is_empty() {
            attempt += 1;
            let batch: Vec<pb::ScoreRequest> = pending
                .iter()
                .map(|&i| {
                    requests[i]
                        .clone()
                        .expect("a request for each pending message")
                })
                .collect();
            let (responses, failure) =
                match tokio::time::timeout(CHUNK_TIMEOUT, self.stream(batch)).await {
                    Ok(r) => r,
                    Err(_) => (
                        Vec::new(),
                        Some(tonic::Status::deadline_exceeded(format!(
                            "no answer within {CHUNK_TIMEOUT:?}"
                        ))),
                    ),
                };
            let mut again = Vec::new();
            let mut why = failure
                .as_ref()
                .map(|s| format!("{:?}: {}", s.code(), s.message()));
            let answered = responses.len();
            for r in responses {
                let Some(&i) = pending.get(r.sequence as usize) else {
                    return Err(Error::Unavailable(format!(
                        "the server answered sequence {} of a stream of {}",
                        r.sequence,
                        pending.len()
                    )));
                };
                if let Some(a) = r.analysis {
                    out[i] = Some(Outcome::Scored(Box::new(a), None));
                } else if retryable(r.error_code) {
                    why = Some(format!("{:?}: {}", Code::from(r.error_code), r.error));
                    again.push(i);
                } else {
                    out[i] = Some(Outcome::Rejected(local_field(&r.error, r.sequence)));
                }
            }
            // What the stream did not reach before it broke goes again too.
            again.extend(pending.iter().skip(answered).copied());
            if let Some(s) = &failure {
                if !retryable(s.code() as i32) {
                    return Err(Error::Unavailable(format!(
                        "Score stream failed: {:?}: {}",
                        s.code(),
                        s.message()
                    )));
                }
            }
            again.sort_unstable();
            pending = again;
            if !pending.is_empty() {
                let why = why.unwrap_or_default();
                if attempt >= MAX_ATTEMPTS {
                    return Err(Error::Unavailable(format!(
                        "{} messages still unanswered after {attempt} tries ({why}); rerun to \
                         resume from the checkpoint",
                        pending.len()
                    )));
                }
                tracing::debug!(messages = pending.len(), attempt, reason = %why, "sending again");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
        Ok(out
            .into_iter()
            .map(|o| o.expect("every message answered"))
            .collect())
    }

    /// One Score stream of `batch`: the responses it gave, and how it ended if not cleanly.
    async fn stream(
        &self,
        batch: Vec<pb::ScoreRequest>,
    ) -> (Vec<pb::ScoreResponse>, Option<tonic::Status>) {
        let n = batch.len();
        let mut responses = Vec::with_capacity(n);
        let mut stream = match self.client.clone().score(tokio_stream::iter(batch)).await {
            Ok(s) => s.into_inner(),
            Err(status) => return (responses, Some(status)),
        };
        loop {
            match stream.message().await {
                Ok(Some(r)) => responses.push(r),
                Ok(None) if responses.len() == n => return (responses, None),
                Ok(None) => {
                    return (
                        responses,
                        Some(tonic::Status::unavailable(
                            "the stream ended before every message was answered",
                        )),
                    )
                }
                Err(status) => return (responses, Some(status)),
            }
        }
    }
}

/// Codes a later try can fix: a busy, restarting or unreachable server.
fn retryable(code: i32) -> bool {
    matches!(
        Code::from(code),
        Code::ResourceExhausted
            | Code::DeadlineExceeded
            | Code::Unavailable
            | Code::Cancelled
            | Code::Aborted
            | Code::Unknown
    )
}

/// The server names a message's field by its place in the stream
/// (`requests[2].message.text: ...`); a record is one `Message` at the top, so its error names
/// the field as in-process scoring does (`text: ...`).
fn local_field(error: &str, sequence: u64) -> String {
    let prefix = format!("requests[{sequence}].message");
    match error.strip_prefix(&prefix) {
        Some(rest) => rest
            .strip_prefix('.')
            .or_else(|| rest.strip_prefix(": "))
            .unwrap_or(rest)
            .to_string(),
        None => error.to_string(),
    }
}

async fn wait_serving(sec: &ClientSecurity, server: &str) -> Result<()> {
    let started = Instant::now();
    let mut told = false;
    loop {
        match check(sec, server, "rapport.v1.Scoring", CONNECT_TIMEOUT).await {
            Health::Serving => return Ok(()),
            Health::NotServing(why) | Health::Unreachable(why) => {
                if started.elapsed() > SERVING_WAIT {
                    return Err(Error::Unavailable(format!(
                        "--server {server}: not SERVING after {SERVING_WAIT:?}: {why}"
                    )));
                }
                if !told {
                    tracing::info!(server, reason = %why, "waiting for the server to serve");
                    told = true;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn errors_name_the_field_of_the_message() {
        assert_eq!(
            super::local_field("requests[12].message.text: must not be empty", 12),
            "text: must not be empty"
        );
        assert_eq!(
            super::local_field("requests[3].message: no text", 3),
            "no text"
        );
    }
}
