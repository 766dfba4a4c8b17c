//! The inference thread's loop: gather waiting messages, cut a length-grouped batch within the
//! token budget, run the encoder and every head, answer each message.
use std::{ops::Range, sync::Arc, time::Instant};

use candle_core::{DType, Device, Tensor};
use crossbeam_channel::{Receiver, RecvError};

use super::{Backlog, Inference, WorkItem};
use crate::{
    model::{Encoder, HeadSet},
    text::cues::{self, Cues},
    Error, Result,
};

#[derive(Clone, Copy, Debug)]
pub(crate) struct BatchPolicy {
    pub token_budget: usize,
    pub max_batch: usize,
}

pub(crate) fn run(
    rx: Receiver<WorkItem>,
    encoder: Arc<Encoder>,
    heads: Arc<HeadSet>,
    policy: BatchPolicy,
    backlog: &Backlog,
) {
    let mut pending: Vec<WorkItem> = Vec::new();
    loop {
        if pending.is_empty() {
            match rx.recv() {
                Ok(item) => pending.push(item),
                Err(RecvError) => return, // every Engine handle is gone: shut down
            }
        }
        pending.extend(rx.try_iter());
        drop_abandoned(&mut pending);
        if pending.is_empty() {
            continue;
        }
        let batch = take_batch(&mut pending, policy);
        run_batch(batch, &encoder, &heads, backlog);
    }
}

/// Answers expired items with an error and forgets those whose caller went away.
fn drop_abandoned(pending: &mut Vec<WorkItem>) {
    let now = Instant::now();
    let before = pending.len();
    let mut kept = Vec::with_capacity(pending.len());
    for item in pending.drain(..) {
        if item.reply.is_closed() {
            continue;
        }
        if item.deadline.is_some_and(|d| d <= now) {
            let _ = item.reply.send(Err(Error::Cancelled(
                "deadline passed while waiting for inference".into(),
            )));
            continue;
        }
        kept.push(item);
    }
    let dropped = before - kept.len();
    if dropped > 0 {
        metrics::counter!("rapport_dropped_messages_total").increment(dropped as u64);
    }
    *pending = kept;
}

/// Removes and returns the next batch: the oldest waiting item plus the items nearest to it in
/// length, while batch size x longest length stays within the token budget.
fn take_batch(pending: &mut Vec<WorkItem>, policy: BatchPolicy) -> Vec<WorkItem> {
    pending.sort_by_key(|it| it.tokens.ids.len());
    let lens: Vec<usize> = pending
        .iter()
        .map(|it| it.tokens.ids.len().max(1))
        .collect();
    let oldest = (0..pending.len())
        .min_by_key(|&i| pending[i].enqueued)
        .expect("pending is not empty");
    let (lo, hi) = grow_window(&lens, oldest, policy);
    pending.drain(lo..=hi).collect()
}

/// The widest window [lo, hi] around `start` in length-sorted `lens` that fits the policy,
/// extended each step towards the neighbour closest in length. A single item always fits.
fn grow_window(lens: &[usize], start: usize, policy: BatchPolicy) -> (usize, usize) {
    let (mut lo, mut hi) = (start, start);
    loop {
        let count = hi - lo + 1;
        if count >= policy.max_batch {
            break;
        }
        let left = (lo > 0).then(|| lens[lo - 1]);
        let right = (hi + 1 < lens.len()).then(|| lens[hi + 1]);
        let target = lens[start];
        let go_left = match (left, right) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => target - l <= r - target,
        };
        // Sorted, so the longest in the window is always lens[hi]. Growing left keeps it; if
        // growing right (to a longer item) breaks the budget, a shorter one may still fit.
        let fits = |longest: usize| (count + 1) * longest <= policy.token_budget;
        if go_left && fits(lens[hi]) {
            lo -= 1;
        } else if !go_left && fits(lens[hi + 1]) {
            hi += 1;
        } else if !go_left && lo > 0 && fits(lens[hi]) {
            lo -= 1;
        } else {
            break;
        }
    }
    (lo, hi)
}

fn run_batch(batch: Vec<WorkItem>, encoder: &Encoder, heads: &HeadSet, backlog: &Backlog) {
    let started = Instant::now();
    let tokens: Vec<_> = batch.iter().map(|it| &it.tokens).collect();
    let spans: Vec<_> = batch.iter().map(|it| it.spans.as_slice()).collect();
    let cues: Vec<_> = batch.iter().map(|it| it.cues.as_slice()).collect();
    let result = forward(&tokens, &spans, &cues, encoder, heads);
    let elapsed = started.elapsed();
    backlog.record(tokens.iter().map(|t| t.ids.len()).sum(), elapsed);
    let n = batch.len();
    metrics::histogram!("rapport_batch_size").record(n as f64);
    metrics::histogram!("rapport_batch_tokens")
        .record((n * tokens.iter().map(|t| t.ids.len()).max().unwrap_or(0)) as f64);
    metrics::histogram!("rapport_inference_seconds").record(elapsed.as_secs_f64());
    match result {
        Ok(per_item) => {
            for (item, (head_probs, span_probs)) in batch.into_iter().zip(per_item) {
                let queue = started.saturating_duration_since(item.enqueued);
                metrics::histogram!("rapport_queue_seconds").record(queue.as_secs_f64());
                let _ = item.reply.send(Ok(Inference {
                    head_probs,
                    span_probs,
                    queue,
                    inference: elapsed,
                    batch_size: n,
                }));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, batch = n, "inference failed");
            let msg = e.to_string();
            for item in batch {
                let _ = item
                    .reply
                    .send(Err(Error::Unavailable(format!("inference failed: {msg}"))));
            }
        }
    }
}

/// Per item: each head's probabilities, then the same for each of its spans.
type ItemProbs = (Vec<Vec<f32>>, Vec<Vec<Vec<f32>>>);

/// The cue rows in the embeddings' row order (messages, then each message's spans), [rows, LEN];
/// an empty tensor when no head reads them.
fn cue_rows(cues: &[&[Cues]], spans: &[&[Range<usize>]], heads: &HeadSet) -> Result<Tensor> {
    if !heads.reads_cues() {
        return Ok(Tensor::zeros((0, cues::LEN), DType::F32, &Device::Cpu)?);
    }
    for (c, s) in cues.iter().zip(spans) {
        if c.len() != 1 + s.len() {
            return Err(Error::model(format!(
                "a sequence with {} spans carries {} cue rows, the heads need {}",
                s.len(),
                c.len(),
                1 + s.len()
            )));
        }
    }
    let own = cues.iter().map(|c| &c[0]);
    let of_spans = cues.iter().flat_map(|c| &c[1..]);
    let flat: Vec<f32> = own.chain(of_spans).flatten().copied().collect();
    let rows = flat.len() / cues::LEN;
    Ok(Tensor::from_vec(flat, (rows, cues::LEN), &Device::Cpu)?)
}

/// Encoder once, then every head on the same embeddings (the messages', then their spans').
fn forward(
    tokens: &[&crate::model::Tokenized],
    spans: &[&[Range<usize>]],
    cues: &[&[Cues]],
    encoder: &Encoder,
    heads: &HeadSet,
) -> Result<Vec<ItemProbs>> {
    let cues = cue_rows(cues, spans, heads)?;
    // The heads are small products ([B, hidden] x [hidden, C]) whose results are wanted on the
    // host: on a GPU, one read-back of the embeddings and the heads on the CPU replace each
    // head's weight uploads, kernels and read-back (a no-op on the CPU).
    let emb = encoder
        .embed_with_spans(tokens, spans)?
        .to_device(&Device::Cpu)?;
    let mut per_row = vec![Vec::new(); emb.dim(0)?];
    for head in heads.heads() {
        let input = head.input(&emb, &cues)?;
        for (slot, probs) in per_row.iter_mut().zip(head.probabilities(&input)?) {
            slot.push(probs);
        }
    }
    let mut rows = per_row.into_iter();
    let messages: Vec<_> = rows.by_ref().take(tokens.len()).collect();
    Ok(messages
        .into_iter()
        .zip(spans)
        .map(|(m, s)| (m, rows.by_ref().take(s.len()).collect()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(token_budget: usize, max_batch: usize) -> BatchPolicy {
        BatchPolicy {
            token_budget,
            max_batch,
        }
    }

    #[test]
    fn window_respects_token_budget() {
        let lens = [5, 6, 7, 8, 100];
        // 4 items x longest 8 = 32 fits; adding 100 would not.
        assert_eq!(grow_window(&lens, 1, policy(32, 64)), (0, 3));
        assert_eq!(grow_window(&lens, 4, policy(32, 64)), (4, 4));
    }

    #[test]
    fn window_respects_max_batch() {
        let lens = [3; 10];
        let (lo, hi) = grow_window(&lens, 5, policy(1000, 4));
        assert_eq!(hi - lo + 1, 4);
        assert!(lo <= 5 && 5 <= hi);
    }

    #[test]
    fn window_prefers_nearest_lengths() {
        let lens = [2, 10, 11, 30];
        assert_eq!(grow_window(&lens, 1, policy(32, 64)), (1, 2));
        // With room for a third, the shorter neighbour joins before the much longer one.
        assert_eq!(grow_window(&lens, 1, policy(33, 64)), (0, 2));
    }

    #[test]
    fn single_item_over_budget_still_runs() {
        assert_eq!(grow_window(&[500], 0, policy(64, 64)), (0, 0));
    }
}
