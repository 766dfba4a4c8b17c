//! On-disk embedding cache, keyed by (encoder sha256 and adapter, dataset, max_tokens, text
//! content).
//!
//! ```text
//! <cache>/<encoder sha256[..16]>[-a<adapter sha256[..12]>]/<dataset>-t<max_tokens>-<sha256(prefix, texts)[..12]>/
//!     meta.json           what the directory holds
//!     chunk-00000.f32     rows [0, 512) of the length-sorted order, raw little-endian f32 [rows, D]
//!     chunk-00001.f32     ...
//! ```
//! Texts are tokenized up front, sorted by token count, and embedded in batches of `batch`; each
//! chunk is written (atomically, via rename) as soon as it is complete, so an interrupted run
//! resumes at the first missing chunk.

use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::model::{Encoder, Tokenized};
use crate::{Error, Result};

pub const CHUNK_ROWS: usize = 512;

/// Embeddings of one dataset, rows in the caller's text order.
#[derive(Debug, Clone)]
pub struct Embedded {
    pub n: usize,
    pub dim: usize,
    pub data: Vec<f32>,
    /// texts cut at max_tokens
    pub truncated: usize,
    /// rows embedded now (not read from the cache)
    pub embedded_now: usize,
    /// wall-clock seconds spent embedding now
    pub seconds: f64,
}

impl Embedded {
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
}

pub fn default_cache_dir() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".cache/rapport/embeddings")
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The cache directory for a dataset; `weights` names the encoder weights (and adapter).
pub fn dataset_dir(
    cache: &Path,
    weights: &str,
    dataset: &str,
    max_tokens: usize,
    prefix: &str,
    texts: &[String],
) -> PathBuf {
    let mut h = Sha256::new();
    h.update(prefix.as_bytes());
    h.update([0u8]);
    for t in texts {
        h.update(t.as_bytes());
        h.update([0u8]);
    }
    let th = hex::encode(h.finalize());
    cache
        .join(weights)
        .join(format!("{}-t{max_tokens}-{}", sanitize(dataset), &th[..12]))
}

/// Embeds `texts` with `encoder`, reading and writing the cache under `cache`.
pub fn embed_cached(
    encoder: &Encoder,
    cache: &Path,
    dataset: &str,
    texts: &[String],
    batch: usize,
) -> Result<Embedded> {
    let info = encoder.info().clone();
    // f32 and candle agree within 1e-4 and share entries; int8 embeddings are kept apart, per
    // revision of the int8 forward pass (its last bits change with the kernels).
    let int8_root;
    let cache = if info.precision == crate::model::Precision::Int8 {
        int8_root = cache.join(format!("int8-r{}", crate::model::cpu::INT8_REVISION));
        &int8_root
    } else {
        cache
    };
    // An adapter changes the weights: its embeddings live under their own key.
    let weights = match &info.adapter_sha256 {
        None => info.sha256.chars().take(16).collect::<String>(),
        Some(a) => format!(
            "{}-a{}",
            info.sha256.chars().take(16).collect::<String>(),
            a.chars().take(12).collect::<String>()
        ),
    };
    let dir = dataset_dir(
        cache,
        &weights,
        dataset,
        info.max_tokens,
        &info.prefix,
        texts,
    );
    let tokenized: Vec<Tokenized> = texts
        .iter()
        .map(|t| encoder.tokenize(t))
        .collect::<Result<_>>()?;
    let meta = serde_json::json!({
        "dataset": dataset,
        "n": texts.len(),
        "dim": info.hidden_size,
        "chunk_rows": CHUNK_ROWS,
        "encoder_model_id": info.model_id,
        "encoder_sha256": info.sha256,
        "adapter_sha256": info.adapter_sha256,
        "prefix": info.prefix,
        "max_tokens": info.max_tokens,
        "order": "stable sort by token count",
    });
    embed_cached_with(
        &dir,
        dataset,
        &tokenized,
        info.hidden_size,
        batch,
        &meta,
        |b| {
            let t = encoder.embed(b)?;
            Ok(t.to_dtype(candle_core::DType::F32)?
                .to_device(&candle_core::Device::Cpu)?
                .flatten_all()?
                .to_vec1::<f32>()?)
        },
    )
}

/// The cache mechanics, with the embedding function injected (`embed` returns [B·D] row-major).
pub fn embed_cached_with(
    dir: &Path,
    dataset: &str,
    tokenized: &[Tokenized],
    dim: usize,
    batch: usize,
    meta: &serde_json::Value,
    mut embed: impl FnMut(&[&Tokenized]) -> Result<Vec<f32>>,
) -> Result<Embedded> {
    let n = tokenized.len();
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let meta_path = dir.join("meta.json");
    if !meta_path.exists() {
        crate::model::heads::write_json(&meta_path, meta)?;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| tokenized[i].ids.len());
    let truncated = tokenized.iter().filter(|t| t.truncated).count();

    let mut data = vec![0f32; n * dim];
    let n_chunks = n.div_ceil(CHUNK_ROWS);
    let todo_rows: usize = (0..n_chunks)
        .filter(|&k| !chunk_ok(&chunk_path(dir, k), chunk_rows(n, k) * dim))
        .map(|k| chunk_rows(n, k))
        .sum();
    if todo_rows > 0 {
        tracing::info!(
            dataset,
            total = n,
            cached = n - todo_rows,
            to_embed = todo_rows,
            dir = %dir.display(),
            "embedding"
        );
    }
    let start = Instant::now();
    let mut done_now = 0usize;
    let mut next_log = 256usize;
    for k in 0..n_chunks {
        let lo = k * CHUNK_ROWS;
        let rows = chunk_rows(n, k);
        let path = chunk_path(dir, k);
        let values = if chunk_ok(&path, rows * dim) {
            read_f32(&path)?
        } else {
            let mut values = Vec::with_capacity(rows * dim);
            for b in order[lo..lo + rows].chunks(batch.max(1)) {
                let refs: Vec<&Tokenized> = b.iter().map(|&i| &tokenized[i]).collect();
                let out = embed(&refs)?;
                if out.len() != refs.len() * dim {
                    return Err(Error::model(format!(
                        "embedding returned {} values for {} texts of width {dim}",
                        out.len(),
                        refs.len()
                    )));
                }
                values.extend_from_slice(&out);
                done_now += refs.len();
                if done_now >= next_log {
                    let secs = start.elapsed().as_secs_f64();
                    let rate = done_now as f64 / secs.max(1e-9);
                    tracing::info!(
                        dataset,
                        done = done_now,
                        of = todo_rows,
                        per_s = format!("{rate:.1}"),
                        eta_s = ((todo_rows - done_now) as f64 / rate.max(1e-9)) as u64,
                        "embedding progress"
                    );
                    next_log = done_now + 256;
                }
            }
            write_f32(&path, &values)?;
            values
        };
        for (j, &i) in order[lo..lo + rows].iter().enumerate() {
            data[i * dim..(i + 1) * dim].copy_from_slice(&values[j * dim..(j + 1) * dim]);
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    if done_now > 0 {
        tracing::info!(
            dataset,
            embedded = done_now,
            seconds = format!("{seconds:.1}"),
            per_s = format!("{:.1}", done_now as f64 / seconds.max(1e-9)),
            "embedding done"
        );
    }
    Ok(Embedded {
        n,
        dim,
        data,
        truncated,
        embedded_now: done_now,
        seconds,
    })
}

fn chunk_rows(n: usize, k: usize) -> usize {
    CHUNK_ROWS.min(n - k * CHUNK_ROWS)
}

fn chunk_path(dir: &Path, k: usize) -> PathBuf {
    dir.join(format!("chunk-{k:05}.f32"))
}

fn chunk_ok(path: &Path, values: usize) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() == (values * 4) as u64)
}

fn read_f32(path: &Path) -> Result<Vec<f32>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

fn write_f32(path: &Path, values: &[f32]) -> Result<()> {
    let mut bytes = Vec::with_capacity(values.len() * 4);
    for v in values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    let tmp = path.with_extension("f32.tmp");
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(len: usize, tag: u32) -> Tokenized {
        Tokenized {
            ids: vec![tag; len],
            truncated: len > 5,
        }
    }

    // fake embedding: row = [tag, len, 0...]
    fn fake(b: &[&Tokenized], dim: usize) -> Vec<f32> {
        let mut v = Vec::new();
        for t in b {
            let mut row = vec![0f32; dim];
            row[0] = t.ids[0] as f32;
            row[1] = t.ids.len() as f32;
            v.extend(row);
        }
        v
    }

    #[test]
    fn embeds_in_caller_order_and_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let n = CHUNK_ROWS * 2 + 7;
        let toks: Vec<Tokenized> = (0..n).map(|i| tok(1 + (i * 7919) % 13, i as u32)).collect();
        let meta = serde_json::json!({});
        let mut calls = 0usize;
        let e = embed_cached_with(dir.path(), "t", &toks, 4, 32, &meta, |b| {
            calls += b.len();
            // length-sorted within a batch
            assert!(b.windows(2).all(|w| w[0].ids.len() <= w[1].ids.len()));
            Ok(fake(b, 4))
        })
        .unwrap();
        assert_eq!(calls, n);
        assert_eq!(e.embedded_now, n);
        for (i, t) in toks.iter().enumerate() {
            assert_eq!(e.row(i)[0], i as f32);
            assert_eq!(e.row(i)[1], t.ids.len() as f32);
        }
        // simulate an interrupted run: drop the second chunk
        std::fs::remove_file(chunk_path(dir.path(), 1)).unwrap();
        let mut calls = 0usize;
        let e2 = embed_cached_with(dir.path(), "t", &toks, 4, 32, &meta, |b| {
            calls += b.len();
            Ok(fake(b, 4))
        })
        .unwrap();
        assert_eq!(calls, CHUNK_ROWS);
        assert_eq!(e2.data, e.data);
        // fully cached: no calls
        let e3 = embed_cached_with(dir.path(), "t", &toks, 4, 32, &meta, |_| {
            panic!("should be cached")
        })
        .unwrap();
        assert_eq!(e3.data, e.data);
        assert_eq!(e3.truncated, toks.iter().filter(|t| t.truncated).count());
    }

    #[test]
    fn key_depends_on_texts_prefix_and_tokens() {
        let c = Path::new("/c");
        let t = vec!["a".to_string()];
        let base = dataset_dir(
            c,
            "abcdef0123456789-a0123456789ab",
            "go/train",
            256,
            "query: ",
            &t,
        );
        assert!(base.starts_with("/c/abcdef0123456789-a0123456789ab"));
        assert!(base
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("go_train-t256-"));
        assert_ne!(
            base,
            dataset_dir(
                c,
                "abcdef0123456789-a0123456789ab",
                "go/train",
                128,
                "query: ",
                &t
            )
        );
        assert_ne!(
            base,
            dataset_dir(c, "abcdef0123456789-a0123456789ab", "go/train", 256, "", &t)
        );
        assert_ne!(
            base,
            dataset_dir(
                c,
                "abcdef0123456789-a0123456789ab",
                "go/train",
                256,
                "query: ",
                &["b".into()]
            )
        );
    }
}
