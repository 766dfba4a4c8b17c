//! tonic service implementations: conversion, readiness and error mapping only; every score is
//! computed in `analysis`.
use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, OnceLock},
    time::{Duration, Instant},
};

use futures::{stream::FuturesOrdered, Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::convert::{
    analysis_to_proto, apply_options, conversation_to_proto, info_to_proto, message_from_proto,
    messages_from_proto,
};
use crate::{analysis::Analyzer, proto::v1 as pb, Error};

/// The analyzer once models are loaded and warmed; empty before that.
pub type Ready = Arc<OnceLock<Arc<Analyzer>>>;

pub(super) fn ready(state: &Ready) -> Result<Arc<Analyzer>, Status> {
    state
        .get()
        .cloned()
        .ok_or_else(|| Status::unavailable("models are still loading; watch grpc.health.v1"))
}

/// The caller's deadline from the `grpc-timeout` header, if any.
pub fn deadline<T>(req: &Request<T>) -> Option<Instant> {
    let v = req.metadata().get("grpc-timeout")?.to_str().ok()?;
    let (num, unit) = v.split_at(v.len().checked_sub(1)?);
    let n: u64 = num.parse().ok()?;
    let d = match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    };
    Instant::now().checked_add(d)
}

/// Runs `work` until the caller's deadline: past it the call answers DEADLINE_EXCEEDED at once,
/// even if its batch is still running (the late result is dropped).
async fn until<T>(
    deadline: Option<Instant>,
    work: impl Future<Output = Result<T, Status>>,
) -> Result<T, Status> {
    match deadline {
        Some(d) => tokio::time::timeout_at(d.into(), work)
            .await
            .unwrap_or_else(|_| {
                Err(Status::deadline_exceeded(
                    "deadline passed during inference",
                ))
            }),
        None => work.await,
    }
}

/// Records the outcome of one call in Prometheus.
pub(super) fn observe<T>(rpc: &'static str, started: Instant, result: &Result<T, Status>) {
    let code = match result {
        Ok(_) => "Ok".to_string(),
        Err(s) => format!("{:?}", s.code()),
    };
    metrics::counter!("rapport_requests_total", "rpc" => rpc, "code" => code).increment(1);
    metrics::histogram!("rapport_request_seconds", "rpc" => rpc)
        .record(started.elapsed().as_secs_f64());
}

pub struct AnalyzerService {
    pub state: Ready,
}

#[tonic::async_trait]
impl pb::analyzer_server::Analyzer for AnalyzerService {
    #[tracing::instrument(skip_all, fields(rpc = "Analyze", messages))]
    async fn analyze(
        &self,
        req: Request<pb::AnalyzeRequest>,
    ) -> Result<Response<pb::AnalyzeResponse>, Status> {
        let started = Instant::now();
        let result = async {
            let analyzer = ready(&self.state)?;
            let deadline = deadline(&req);
            let req = req.into_inner();
            let msgs = req.messages;
            tracing::Span::current().record("messages", msgs.len());
            // Check the count before converting a huge batch.
            analyzer.check_batch_len(msgs.len(), "messages")?;
            let mut msgs = messages_from_proto(msgs, "messages")?;
            apply_options(&mut msgs, req.options.as_ref())?;
            let analyses = until(deadline, async {
                Ok(analyzer.analyze(msgs, deadline, "messages").await?)
            })
            .await?;
            Ok(Response::new(pb::AnalyzeResponse {
                analyses: analyses.into_iter().map(analysis_to_proto).collect(),
            }))
        }
        .await;
        observe("Analyze", started, &result);
        result
    }

    #[tracing::instrument(skip_all, fields(rpc = "AnalyzeConversation", turns))]
    async fn analyze_conversation(
        &self,
        req: Request<pb::AnalyzeConversationRequest>,
    ) -> Result<Response<pb::AnalyzeConversationResponse>, Status> {
        let started = Instant::now();
        let result = async {
            let analyzer = ready(&self.state)?;
            let deadline = deadline(&req);
            let req = req.into_inner();
            tracing::Span::current().record("turns", req.turns.len());
            analyzer.check_batch_len(req.turns.len(), "turns")?;
            let mut turns = messages_from_proto(req.turns, "turns")?;
            apply_options(&mut turns, req.options.as_ref())?;
            let conv = until(deadline, async {
                Ok(analyzer
                    .analyze_conversation(req.conversation_id, turns, deadline)
                    .await?)
            })
            .await?;
            Ok(Response::new(conversation_to_proto(conv)))
        }
        .await;
        observe("AnalyzeConversation", started, &result);
        result
    }
}

pub struct ScoringService {
    pub state: Ready,
    /// Messages of one stream in flight at once.
    pub window: usize,
}

type ScoreStream = Pin<Box<dyn Stream<Item = Result<pb::ScoreResponse, Status>> + Send>>;

#[tonic::async_trait]
impl pb::scoring_server::Scoring for ScoringService {
    type ScoreStream = ScoreStream;

    /// Reads messages while fewer than `window` are in flight and sends analyses in arrival
    /// order. A message that cannot be scored is answered in its place with its error, naming
    /// its position (`requests[2].message.text`); the stream goes on.
    async fn score(
        &self,
        req: Request<Streaming<pb::ScoreRequest>>,
    ) -> Result<Response<Self::ScoreStream>, Status> {
        let analyzer = ready(&self.state)?;
        let window = self.window.max(1);
        let mut input = req.into_inner();
        let (tx, rx) = mpsc::channel::<Result<pb::ScoreResponse, Status>>(window);
        tokio::spawn(async move {
            let mut in_flight: FuturesOrdered<
                Pin<Box<dyn Future<Output = (u64, Result<pb::MessageAnalysis, Status>)> + Send>>,
            > = FuturesOrdered::new();
            let mut sequence: u64 = 0;
            let mut input_open = true;
            loop {
                tokio::select! {
                    biased;
                    Some((seq, result)) = in_flight.next(), if !in_flight.is_empty() => {
                        let item = match result {
                            Ok(analysis) => pb::ScoreResponse {
                                sequence: seq,
                                analysis: Some(analysis),
                                ..Default::default()
                            },
                            Err(status) => pb::ScoreResponse {
                                sequence: seq,
                                analysis: None,
                                error: status.message().to_string(),
                                error_code: status.code() as i32,
                            },
                        };
                        if tx.send(Ok(item)).await.is_err() {
                            return; // client gone
                        }
                    }
                    next = input.message(), if input_open && in_flight.len() < window => {
                        match next {
                            Ok(Some(req)) => {
                                let seq = sequence;
                                sequence += 1;
                                let analyzer = analyzer.clone();
                                in_flight.push_back(Box::pin(async move {
                                    (seq, score_one(&analyzer, req, seq).await)
                                }));
                            }
                            Ok(None) => input_open = false,
                            Err(status) => {
                                let _ = tx.send(Err(status)).await;
                                return;
                            }
                        }
                    }
                    else => return,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

async fn score_one(
    analyzer: &Analyzer,
    req: pb::ScoreRequest,
    seq: u64,
) -> Result<pb::MessageAnalysis, Status> {
    // The stream's requests are named by their position in it, from 0 (as
    // `ScoreResponse.sequence` counts them): `requests[2].message.text`.
    let field = format!("requests[{seq}].message");
    let mut msg = req
        .message
        .ok_or_else(|| Error::invalid(&field, "missing"))
        .and_then(|m| message_from_proto(m, &field))?;
    apply_options(std::slice::from_mut(&mut msg), req.options.as_ref())?;
    Ok(analysis_to_proto(analyzer.analyze_one(msg, &field).await?))
}

pub struct InfoService {
    pub state: Ready,
}

#[tonic::async_trait]
impl pb::info_server::Info for InfoService {
    async fn get_info(
        &self,
        _req: Request<pb::GetInfoRequest>,
    ) -> Result<Response<pb::GetInfoResponse>, Status> {
        let analyzer = ready(&self.state)?;
        Ok(Response::new(info_to_proto(analyzer.info())))
    }
}
