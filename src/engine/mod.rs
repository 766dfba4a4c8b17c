//! The inference engine: synchronous model work on a dedicated OS thread, fed by a channel from
//! the async side and answered through oneshot channels, so the tokio runtime never blocks.
//!
//! - Admission: a semaphore counts sequences waiting or running (a message, and each encoded
//!   evidence stretch of it, is one sequence; pooled stretches ride in their message's
//!   [`Sequence::spans`]). A call that would push it past
//!   the queue capacity is refused at once with [`Error::Overloaded`], so overload answers
//!   RESOURCE_EXHAUSTED instead of queueing without bound. A call with a deadline is also refused
//!   when the backlog (the batches the queued tokens make, each at the measured cost of a batch
//!   its size: [`CostModel`]) would not be done by then: the excess is told at once instead of
//!   timing out later. An idle engine never refuses for backlog.
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
        Arc, Mutex,
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

/// Tokens waiting or running, and what forward passes measurably cost, shared by the async side
/// (admission) and the inference thread (measurement).
#[derive(Default)]
pub(crate) struct Backlog {
    tokens: AtomicU64,
    cost: Mutex<CostModel>,
}

impl Backlog {
    /// Folds one batch's cost into the model.
    pub fn record(&self, tokens: usize, elapsed: Duration) {
        if tokens == 0 {
            return;
        }
        self.cost
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .record(tokens, elapsed);
    }

    /// Time to work through what is queued plus `extra` tokens in `extra_seqs` sequences, as the
    /// batcher would cut it; `None` when the engine is idle (nothing queued or running) or no
    /// batch has been measured yet: there is no backlog to refuse for.
    fn drain_time(
        &self,
        queued_seqs: usize,
        extra_seqs: usize,
        extra: usize,
        policy: batcher::BatchPolicy,
    ) -> Option<Duration> {
        let queued = self.tokens.load(Ordering::Relaxed);
        if queued == 0 {
            return None;
        }
        let tokens = queued as f64 + extra as f64;
        let seqs = (queued_seqs + extra_seqs).max(1) as f64;
        let batches = (seqs / policy.max_batch as f64)
            .ceil()
            .max((tokens / policy.token_budget as f64).ceil())
            .max(1.0);
        let cost = self.cost.lock().unwrap_or_else(|e| e.into_inner());
        let per_batch = cost.batch_nanos(tokens / batches)?;
        Some(Duration::from_nanos((batches * per_batch) as u64))
    }
}

/// What a forward pass costs by its size in tokens. A pass has a fixed part (threads, heads,
/// small matrices) and a part that grows with its tokens, so the cost of a token read off small
/// batches says little about large ones: each power-of-two size class keeps its own moving
/// average of (tokens, nanoseconds), and a batch's cost is interpolated between the classes
/// measured, or extrapolated past the largest along the slope of the two largest. The averages
/// move a third of the way to each new measurement, so a load that has come or gone (another
/// process on the cores) is forgotten within a few batches.
#[derive(Default, Clone, Debug)]
pub(crate) struct CostModel {
    classes: [Option<(f64, f64)>; COST_CLASSES],
}

const COST_CLASSES: usize = 20;

impl CostModel {
    /// Weight of the newest measurement in its class's average.
    const RATE: f64 = 1.0 / 3.0;

    pub fn record(&mut self, tokens: usize, elapsed: Duration) {
        let class = (usize::BITS - tokens.leading_zeros()) as usize;
        let slot = &mut self.classes[class.min(COST_CLASSES - 1)];
        let (t, n) = (tokens as f64, elapsed.as_nanos() as f64);
        *slot = Some(match *slot {
            None => (t, n),
            Some((pt, pn)) => (pt + Self::RATE * (t - pt), pn + Self::RATE * (n - pn)),
        });
    }

    /// Estimated nanoseconds of one forward pass over `tokens`; `None` before any measurement.
    pub fn batch_nanos(&self, tokens: f64) -> Option<f64> {
        // A larger batch never costs less than a smaller one: noise aside, keep the points
        // monotone so interpolation cannot dip.
        let mut points: Vec<(f64, f64)> = Vec::with_capacity(COST_CLASSES);
        for &(t, n) in self.classes.iter().flatten() {
            let n = points.last().map_or(n, |&(_, prev)| n.max(prev));
            points.push((t, n));
        }
        let &(t_first, n_first) = points.first()?;
        if tokens <= t_first {
            return Some(n_first);
        }
        if let Some(w) = points.windows(2).find(|w| tokens <= w[1].0) {
            let ((t0, n0), (t1, n1)) = (w[0], w[1]);
            return Some(n0 + (n1 - n0) * (tokens - t0) / (t1 - t0).max(1.0));
        }
        // Past the largest class measured: the slope between the two largest, kept between half
        // and all of the largest class's cost per token (a wider batch amortises less and less).
        let &(t_last, n_last) = points.last()?;
        let per_token = n_last / t_last;
        let slope = match points.len() {
            1 => per_token,
            k => {
                let (t_prev, n_prev) = points[k - 2];
                ((n_last - n_prev) / (t_last - t_prev).max(1.0)).clamp(0.5 * per_token, per_token)
            }
        };
        Some(n_last + slope * (tokens - t_last))
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
    policy: batcher::BatchPolicy,
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
            policy,
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
            let drain = self
                .backlog
                .drain_time(self.queue_depth(), items.len(), new_tokens, self.policy)
                .unwrap_or_default();
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

    /// The most sequences one forward pass takes.
    pub fn max_batch(&self) -> usize {
        self.policy.max_batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: f64) -> Duration {
        Duration::from_secs_f64(n / 1000.0)
    }

    /// A pass of `t` tokens costs 2 ms fixed + 0.2 ms per token.
    fn affine(t: usize) -> Duration {
        ms(2.0 + 0.2 * t as f64)
    }

    #[test]
    fn small_batches_do_not_make_large_ones_look_dear() {
        let mut m = CostModel::default();
        for _ in 0..6 {
            m.record(6, affine(6));
        }
        m.record(1300, affine(1300));
        // Interpolated between the measured sizes, not 1300 x the small batches' cost per token.
        let est = m.batch_nanos(640.0).unwrap() / 1e6;
        let truth = affine(640).as_secs_f64() * 1000.0;
        assert!((est - truth).abs() < 0.05 * truth, "{est} vs {truth}");
        // Past the largest size measured, along the slope of the two largest.
        let est = m.batch_nanos(2600.0).unwrap() / 1e6;
        let truth = affine(2600).as_secs_f64() * 1000.0;
        assert!((est - truth).abs() < 0.05 * truth, "{est} vs {truth}");
    }

    #[test]
    fn the_estimate_follows_what_it_observes() {
        let mut m = CostModel::default();
        // Measured while another process held the cores: ten times the real cost.
        m.record(100, ms(200.0));
        for _ in 0..15 {
            m.record(100, ms(20.0));
        }
        let est = m.batch_nanos(100.0).unwrap() / 1e6;
        assert!(
            est < 21.0,
            "{est} ms: the busy measurement is not forgotten"
        );
    }

    #[test]
    fn a_larger_batch_is_never_estimated_cheaper() {
        let mut m = CostModel::default();
        m.record(10, ms(5.0));
        m.record(40, ms(3.0)); // noise
        m.record(200, ms(30.0));
        let mut prev = 0.0;
        for t in [1.0, 10.0, 20.0, 40.0, 100.0, 200.0, 800.0] {
            let est = m.batch_nanos(t).unwrap();
            assert!(est >= prev, "{t} tokens: {est} < {prev}");
            prev = est;
        }
    }

    #[test]
    fn an_idle_or_unmeasured_engine_has_no_backlog_to_refuse_for() {
        let policy = batcher::BatchPolicy {
            token_budget: 8192,
            max_batch: 64,
        };
        let b = Backlog::default();
        b.record(6, ms(50.0));
        // Nothing queued or running: whatever the measurements say, no backlog.
        assert_eq!(b.drain_time(0, 64, 1300, policy), None);
        b.tokens.store(1300, Ordering::Relaxed);
        let busy = b.drain_time(64, 64, 1300, policy).unwrap();
        assert!(busy > Duration::ZERO);
        assert_eq!(Backlog::default().drain_time(0, 1, 10, policy), None);
    }

    #[test]
    fn the_backlog_is_cut_into_batches_each_paying_its_fixed_cost() {
        let policy = batcher::BatchPolicy {
            token_budget: 8192,
            max_batch: 64,
        };
        let b = Backlog::default();
        b.record(8, affine(8));
        b.record(1280, affine(1280));
        // 640 one-word sequences of 8 tokens: at most 64 a batch, so 10 batches of 512 tokens.
        b.tokens.store(640 * 8, Ordering::Relaxed);
        let est = b.drain_time(640, 0, 0, policy).unwrap().as_secs_f64() * 1000.0;
        let truth = 10.0 * affine(512).as_secs_f64() * 1000.0;
        assert!((est - truth).abs() < 0.05 * truth, "{est} vs {truth}");
    }
}
