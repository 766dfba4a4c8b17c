//! Reads the input on a thread of its own (file reads and JSON parsing never block the async
//! runtime) and hands the run this shard's records in numbered chunks.
use tokio::sync::mpsc;

use super::{
    input::{Record, Source},
    shard::Shard,
};
use crate::Result;

/// Consecutive records of the input: this shard's, and how many of other shards lay among them.
pub struct Chunk {
    pub records: Vec<Record>,
    /// Records of other shards read with these (skipped).
    pub foreign: u64,
    /// Records of the input consumed once this chunk is written: the index after its last one,
    /// counting other shards' records.
    pub consumed: u64,
    /// The reader's position after it ([`Source::position`]), for the progress bar.
    pub position: u64,
}

/// Starts reading after the first `skip` records (a resumed run), `chunk` of this shard's
/// records at a time, at most `ahead` chunks ahead of the run.
pub fn spawn(
    mut source: Box<dyn Source>,
    skip: u64,
    shard: Option<Shard>,
    chunk: usize,
    ahead: usize,
) -> mpsc::Receiver<Result<Chunk>> {
    let (tx, rx) = mpsc::channel(ahead.max(1));
    std::thread::Builder::new()
        .name("score-reader".into())
        .spawn(move || {
            let result = (|| -> Result<()> {
                source.skip(skip)?;
                let mut index = skip;
                loop {
                    let mut records = Vec::with_capacity(chunk);
                    let mut foreign = 0;
                    let mut end = false;
                    while records.len() < chunk {
                        let Some(raw) = source.next()? else {
                            end = true;
                            break;
                        };
                        let i = index;
                        index += 1;
                        if shard.is_some_and(|s| !s.owns(&raw, i)) {
                            foreign += 1;
                            continue;
                        }
                        records.push(Record {
                            index: i,
                            line: raw.line,
                            id: raw.id,
                            message: raw.message,
                            extra: raw.extra,
                        });
                    }
                    if !records.is_empty() || foreign > 0 {
                        let c = Chunk {
                            records,
                            foreign,
                            consumed: index,
                            position: source.position(),
                        };
                        if tx.blocking_send(Ok(c)).is_err() {
                            return Ok(()); // the run stopped
                        }
                    }
                    if end {
                        return Ok(());
                    }
                }
            })();
            if let Err(e) = result {
                let _ = tx.blocking_send(Err(e));
            }
        })
        .expect("spawn the reader thread");
    rx
}
