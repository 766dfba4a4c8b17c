//! Scoring in this process: the server's own path (checks, text pipeline, engine), a chunk of
//! records per engine submission.
use std::sync::Arc;

use super::{ingest::Pending, Outcome};
use crate::{
    analysis::{blocking, evidence::EvidenceMode, Analyzer, MessageInput},
    config::ModelArgs,
    grpc::convert::{analysis_to_proto, message_from_proto},
    proto::v1 as pb,
    Error, Result,
};

pub struct Local {
    pub analyzer: Arc<Analyzer>,
    skip_evidence: bool,
    /// With `--ingest`: build each message's profile record (`store_text` as the store's
    /// settings say).
    ingest: Option<bool>,
}

/// Why a record's `Message` was refused. A record is one `Message` at the top, so a field is
/// named by its path in it (`text`, `timestamp.nanos`).
pub fn record_error(e: Error) -> String {
    match e {
        Error::InvalidArgument { field, reason } if field.is_empty() => reason,
        e => e.to_string(),
    }
}

impl Local {
    pub async fn load(args: &ModelArgs, skip_evidence: bool, ingest: Option<bool>) -> Result<Self> {
        let args = args.clone();
        let analyzer = tokio::task::spawn_blocking(move || Analyzer::load(&args))
            .await
            .map_err(|e| Error::model(format!("model loading panicked: {e}")))??;
        Ok(Local {
            analyzer: Arc::new(analyzer),
            skip_evidence,
            ingest,
        })
    }

    /// Messages per engine submission and submissions in flight: enough to keep the engine
    /// busy, few enough to stay under its queue (a message takes one slot per sequence: itself
    /// and, with encoded evidence, its stretches).
    pub fn chunking(&self, chunk: usize) -> (usize, usize) {
        let limits = self.analyzer.limits();
        let per_message = if self.skip_evidence || limits.evidence_mode == EvidenceMode::Pooled {
            1
        } else {
            1 + limits.evidence_max_sentences
        };
        let capacity = self.analyzer.engine().queue_capacity();
        let chunk = chunk
            .clamp(1, limits.max_batch_messages)
            .min((capacity / (2 * per_message)).max(1));
        let window = (capacity / (chunk * per_message)).clamp(1, 4);
        (chunk, window)
    }

    /// Scores a chunk: an outcome per message, in order. Checks and the text pipeline run per
    /// message, so one bad body fails only its own record.
    pub async fn score(
        &self,
        messages: Vec<std::result::Result<pb::Message, String>>,
    ) -> Result<Vec<Outcome>> {
        let preparer = self.analyzer.preparer().clone();
        let skip_evidence = self.skip_evidence;
        let ingest = self.ingest;
        let (slots, good) = blocking(move || {
            let mut slots = Vec::with_capacity(messages.len());
            let mut good = Vec::new();
            for m in messages {
                let input = m.and_then(|m| message_from_proto(m, "").map_err(record_error));
                let input = match input {
                    Ok(i) => MessageInput { skip_evidence, ..i },
                    Err(e) => {
                        slots.push(Err(e));
                        continue;
                    }
                };
                let pending = ingest.map(|_| Pending::of(&input));
                match preparer.prepare(input, "") {
                    Ok(p) => {
                        good.push(p);
                        slots.push(Ok(pending));
                    }
                    Err(e) => slots.push(Err(record_error(e))),
                }
            }
            (slots, good)
        })
        .await?;
        let analyses = if good.is_empty() {
            Vec::new()
        } else {
            self.analyzer.infer(good, None).await?
        };
        let mut analyses = analyses.into_iter();
        Ok(slots
            .into_iter()
            .map(|slot| match slot {
                Err(e) => Outcome::Rejected(e),
                Ok(pending) => {
                    let a = analyses.next().expect("one analysis per prepared message");
                    let profile = pending.map(|p| p.finish(&a, ingest.unwrap_or(false)));
                    Outcome::Scored(Box::new(analysis_to_proto(a)), profile)
                }
            })
            .collect())
    }
}
