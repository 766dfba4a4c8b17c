//! The inference engine: synchronous model work on a dedicated OS thread, fed by a channel from
//! the async side and answered through oneshot channels, so the tokio runtime never blocks.
//!
//! - Admission: a semaphore counts sequences waiting or running (a message, and each encoded
//!   evidence stretch of it, is one sequence; pooled stretches ride in their message's
//!   [`Sequence::spans`]). A call that would push it past
//!   the queue capacity is refused at once with [`Error::Overloaded`], so overload answers
//!   RESOURCE_EXHAUSTED instead of queueing without bound. A call with a deadline is also refused
//!   when the backlog (tokens queued x the measured cost of a token) would not be done by then:
//!   the excess is told at once instead of timing out later.
//! - Batching: by a budget of padded tokens (batch size x longest sequence), not a message count;
//!   waiting messages are grouped by length so padding stays small, and the oldest message is
//!   always in the next batch so none starves.
//! - Work whose caller has gone (dropped receiver: cancelled RPC) or whose deadline passed is
//!   dropped before it is computed.
mod batcher;

use std::{
    ops::Range,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use crate::{
    config::EngineArgs,
    model::{Encoder, HeadSet, Tokenized},
    text::cues::Cues,
    Error, Result,
};

/// One sequence to encode: a message's tokens and, for pooled evidence, token ranges of it
/// (its sentences) whose pooled final states also go through every head.
#[derive(Clone, Debug)]
pub struct Sequence {
    pub tokens: Tokenized,
    pub spans: Vec<Range<usize>>,
    /// The lexical cues of the sequence's text, then of each span's, for the heads that read
    /// them (`LinearHead::cues`); empty when no head does.
    pub cues: Vec<Cues>,
}

impl Sequence {
    /// A sequence without spans.
    pub fn new(tokens: Tokenized, cues: Option<Cues>) -> Self {
        Sequence {
            tokens,
            spans: Vec::new(),
            cues: cues.into_iter().collect(),
        }
    }
}

/// What the engine returns for one message: each head's probabilities, in `HeadSet` order.
#[derive(Clone, Debug)]
pub struct Inference {
    pub head_probs: Vec<Vec<f32>>,
    /// The same for each of the sequence's spans, in order.
    pub span_probs: Vec<Vec<Vec<f32>>>,
    /// Time between submission and the start of the forward pass that held this message.
    pub queue: Duration,
    /// Time of that forward pass (encoder + heads), shared by the whole batch.
    pub inference: Duration,
    pub batch_size: usize,
}

/// One message waiting for inference.
pub(crate) struct WorkItem {
    pub tokens: Tokenized,
    pub spans: Vec<Range<usize>>,
    pub cues: Vec<Cues>,
    pub enqueued: Instant,
    pub deadline: Option<Instant>,
    pub reply: oneshot::Sender<Result<Inference>>,
    /// Frees one unit of queue capacity when the item is answered or dropped.
    pub _permit: OwnedSemaphorePermit,
    /// Takes the item's tokens off the backlog when it is answered or dropped.
    pub _backlog: BacklogShare,
}

/// Tokens waiting or running, and the measured cost of one, shared by the async side (admission)
/// and the inference thread (measurement).
#[derive(Default)]
pub(crate) struct Backlog {
    tokens: AtomicU64,
    /// Moving average of forward-pass nanoseconds per token (0 until the first batch).
    ns_per_token: AtomicU64,
}

impl Backlog {
    /// Folds one batch's cost into the moving average.
    pub fn record(&self, tokens: usize, elapsed: Duration) {
        if tokens == 0 {
            return;
        }
        let sample = elapsed.as_nanos() as f64 / tokens as f64;
        let old = self.ns_per_token.load(Ordering::Relaxed) as f64;
        let new = if old == 0.0 {
            sample
        } else {
            0.8 * old + 0.2 * sample
        };
        self.ns_per_token.store(new as u64, Ordering::Relaxed);
    }

    /// Time to work through what is queued plus `extra` tokens.
    fn drain_time(&self, extra: usize) -> Duration {
        let tokens = self.tokens.load(Ordering::Relaxed) + extra as u64;
        Duration::from_nanos(tokens.saturating_mul(self.ns_per_token.load(Ordering::Relaxed)))
    }
}

/// One item's tokens on the backlog, released on drop.
pub(crate) struct BacklogShare {
    backlog: Arc<Backlog>,
    tokens: u64,
}

impl Drop for BacklogShare {
    fn drop(&mut self) {
        self.backlog
            .tokens
            .fetch_sub(self.tokens, Ordering::Relaxed);
    }
}

/// Cheap to clone; every clone feeds the same inference thread.
#[derive(Clone)]
pub struct Engine {
    tx: crossbeam_channel::Sender<WorkItem>,
    capacity: Arc<Semaphore>,
    queue_capacity: usize,
    backlog: Arc<Backlog>,
}

impl Engine {
    /// Starts the inference thread. It stops when every `Engine` clone is dropped.
    pub fn start(encoder: Arc<Encoder>, heads: Arc<HeadSet>, args: &EngineArgs) -> Result<Self> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let policy = batcher::BatchPolicy {
            token_budget: args.batch_token_budget.max(1),
            max_batch: args.max_batch_size.max(1),
        };
        let backlog = Arc::new(Backlog::default());
        let measured = backlog.clone();
        thread::Builder::new()
            .name("rapport-inference".into())
            .spawn(move || batcher::run(rx, encoder, heads, policy, &measured))
            .map_err(|e| Error::Unavailable(format!("cannot start the inference thread: {e}")))?;
        Ok(Engine {
            tx,
            capacity: Arc::new(Semaphore::new(args.queue_capacity)),
            queue_capacity: args.queue_capacity,
            backlog,
        })
    }

    /// Queues sequences for inference, all or none. Fails at once with
    /// [`Error::Overloaded`] when they do not fit in the queue.
    pub fn submit(
        &self,
        items: Vec<Sequence>,
        deadline: Option<Instant>,
    ) -> Result<Vec<oneshot::Receiver<Result<Inference>>>> {
        let n = u32::try_from(items.len()).unwrap_or(u32::MAX);
        let new_tokens: usize = items.iter().map(|s| s.tokens.ids.len()).sum();
        if let Some(deadline) = deadline {
            let drain = self.backlog.drain_time(new_tokens);
            if Instant::now() + drain > deadline {
                metrics::counter!("rapport_rejected_messages_total").increment(items.len() as u64);
                return Err(Error::Overloaded(format!(
                    "the inference queue holds about {} ms of work, past this call's deadline; retry later",
                    drain.as_millis()
                )));
            }
        }
        let permits = match self.capacity.clone().try_acquire_many_owned(n) {
            Ok(p) => p,
            Err(_) => {
                metrics::counter!("rapport_rejected_messages_total").increment(items.len() as u64);
                return Err(Error::Overloaded(format!(
                    "inference queue is full ({} sequences waiting, capacity {}); retry later",
                    self.queue_depth(),
                    self.queue_capacity
                )));
            }
        };
        let mut permits = Some(permits);
        let enqueued = Instant::now();
        let mut receivers = Vec::with_capacity(items.len());
        let count = items.len();
        for (
            i,
            Sequence {
                tokens,
                spans,
                cues,
            },
        ) in items.into_iter().enumerate()
        {
            // One permit per item, so each frees its own slot when answered.
            let permit = if i + 1 == count {
                permits.take().expect("permits left for the last item")
            } else {
                permits
                    .as_mut()
                    .expect("permits left")
                    .split(1)
                    .expect("enough permits")
            };
            let (reply, rx) = oneshot::channel();
            let share = tokens.ids.len() as u64;
            self.backlog.tokens.fetch_add(share, Ordering::Relaxed);
            let item = WorkItem {
                _backlog: BacklogShare {
                    backlog: self.backlog.clone(),
                    tokens: share,
                },
                tokens,
                spans,
                cues,
                enqueued,
                deadline,
                reply,
                _permit: permit,
            };
            self.tx
                .send(item)
                .map_err(|_| Error::Unavailable("the inference thread has stopped".into()))?;
            receivers.push(rx);
        }
        metrics::gauge!("rapport_queue_depth").set(self.queue_depth() as f64);
        Ok(receivers)
    }

    /// Messages waiting or running now.
    pub fn queue_depth(&self) -> usize {
        self.queue_capacity - self.capacity.available_permits()
    }

    pub fn queue_capacity(&self) -> usize {
        self.queue_capacity
    }
}
