//! The inference engine: synchronous model work on a dedicated OS thread, fed by a channel from
//! the async side and answered through oneshot channels, so the tokio runtime never blocks.
//!
//! - Admission: a semaphore counts messages waiting or running. A call that would push it past
//!   the queue capacity is refused at once with [`Error::Overloaded`], so overload answers
//!   RESOURCE_EXHAUSTED instead of queueing without bound.
//! - Batching: by a budget of padded tokens (batch size x longest sequence), not a message count;
//!   waiting messages are grouped by length so padding stays small, and the oldest message is
//!   always in the next batch so none starves.
//! - Work whose caller has gone (dropped receiver: cancelled RPC) or whose deadline passed is
//!   dropped before it is computed.
mod batcher;

use std::{
    sync::Arc,
    thread,
    time::{Duration, Instant},
};

use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use crate::{
    config::EngineArgs,
    model::{Encoder, HeadSet, Tokenized},
    Error, Result,
};

/// What the engine returns for one message: each head's probabilities, in `HeadSet` order.
#[derive(Clone, Debug)]
pub struct Inference {
    pub head_probs: Vec<Vec<f32>>,
    /// Time between submission and the start of the forward pass that held this message.
    pub queue: Duration,
    /// Time of that forward pass (encoder + heads), shared by the whole batch.
    pub inference: Duration,
    pub batch_size: usize,
}

/// One message waiting for inference.
pub(crate) struct WorkItem {
    pub tokens: Tokenized,
    pub enqueued: Instant,
    pub deadline: Option<Instant>,
    pub reply: oneshot::Sender<Result<Inference>>,
    /// Frees one unit of queue capacity when the item is answered or dropped.
    pub _permit: OwnedSemaphorePermit,
}

/// Cheap to clone; every clone feeds the same inference thread.
#[derive(Clone)]
pub struct Engine {
    tx: crossbeam_channel::Sender<WorkItem>,
    capacity: Arc<Semaphore>,
    queue_capacity: usize,
}

impl Engine {
    /// Starts the inference thread. It stops when every `Engine` clone is dropped.
    pub fn start(encoder: Arc<Encoder>, heads: Arc<HeadSet>, args: &EngineArgs) -> Result<Self> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let policy = batcher::BatchPolicy {
            token_budget: args.batch_token_budget.max(1),
            max_batch: args.max_batch_size.max(1),
        };
        thread::Builder::new()
            .name("rapport-inference".into())
            .spawn(move || batcher::run(rx, encoder, heads, policy))
            .map_err(|e| Error::Unavailable(format!("cannot start the inference thread: {e}")))?;
        Ok(Engine {
            tx,
            capacity: Arc::new(Semaphore::new(args.queue_capacity)),
            queue_capacity: args.queue_capacity,
        })
    }

    /// Queues tokenized messages for inference, all or none. Fails at once with
    /// [`Error::Overloaded`] when they do not fit in the queue.
    pub fn submit(
        &self,
        items: Vec<Tokenized>,
        deadline: Option<Instant>,
    ) -> Result<Vec<oneshot::Receiver<Result<Inference>>>> {
        let n = u32::try_from(items.len()).unwrap_or(u32::MAX);
        let permits = match self.capacity.clone().try_acquire_many_owned(n) {
            Ok(p) => p,
            Err(_) => {
                metrics::counter!("rapport_rejected_messages_total").increment(items.len() as u64);
                return Err(Error::Overloaded(format!(
                    "inference queue is full ({} messages waiting, capacity {}); retry later",
                    self.queue_depth(),
                    self.queue_capacity
                )));
            }
        };
        let mut permits = Some(permits);
        let enqueued = Instant::now();
        let mut receivers = Vec::with_capacity(items.len());
        let count = items.len();
        for (i, tokens) in items.into_iter().enumerate() {
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
            let item = WorkItem {
                tokens,
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
