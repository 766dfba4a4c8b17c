//! Encoder-only throughput of each forward pass on a file of texts (one per line), in the same
//! sitting: `cargo run --release --example encoder_speed -- TEXTS [BATCH] [PRECISION...]`.
//! Sorts by length like `rapport bench --sorted`. For profiling (`perf record`) and A/B checks;
//! `rapport bench` gives the figures BENCH.md records.
use std::time::Instant;

use rapport::model::{default_bundle_dir, Encoder, EncoderOptions, ModelSource, Precision};

fn main() -> rapport::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .first()
        .expect("usage: encoder_speed TEXTS [BATCH] [PRECISION...]");
    let batch: usize = args.get(1).and_then(|b| b.parse().ok()).unwrap_or(32);
    let precisions: Vec<Precision> = if args.len() > 2 {
        args[2..].iter().map(|p| p.parse().unwrap()).collect()
    } else {
        vec![Precision::Int8, Precision::F32]
    };
    rapport::config::configure_threads(0);
    let mut texts: Vec<String> = std::fs::read_to_string(path)
        .expect("texts")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    texts.sort_by_key(|t| t.len());
    let src = ModelSource::Bundle(default_bundle_dir());
    for p in precisions {
        let enc = Encoder::load(
            &src,
            &EncoderOptions {
                precision: p,
                ..EncoderOptions::default()
            },
        )?;
        let toks = texts
            .iter()
            .map(|t| enc.tokenize(t))
            .collect::<rapport::Result<Vec<_>>>()?;
        let t0 = Instant::now();
        let mut tokens = 0;
        for chunk in toks.chunks(batch) {
            let refs: Vec<_> = chunk.iter().collect();
            tokens += chunk.iter().map(|t| t.ids.len()).sum::<usize>();
            enc.embed(&refs)?;
        }
        let s = t0.elapsed().as_secs_f64();
        println!(
            "{p}: {:.1} msgs/s, {:.0} tok/s ({} texts, batch {batch}, {:.2}s)",
            texts.len() as f64 / s,
            tokens as f64 / s,
            texts.len(),
            s
        );
    }
    Ok(())
}
