//! Encoder-only throughput of each forward pass on a file of texts (one per line), in the same
//! sitting: `cargo run --release --example encoder_speed -- TEXTS [BATCH] [PRECISION...]`.
//! Sorts by length like `rapport bench --sorted`. For profiling (`perf record`) and A/B checks;
//! `rapport bench` gives the figures BENCH.md records.
use std::time::Instant;

use rapport::model::cpu::gemm_i8::{self, Kernel, PackedI8, QuantRows};
use rapport::model::{default_bundle_dir, Encoder, EncoderOptions, ModelSource, Precision};

fn main() -> rapport::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("gemm") {
        gemm_speed();
        return Ok(());
    }
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

/// GEMM alone, e5-small's two FFN shapes at 704 tokens (32 tweets): the int8 kernels against
/// f32 `gemm` (what candle and the f32 path use), same process, alternating.
fn gemm_speed() {
    rapport::config::configure_threads(0);
    let threads = rayon::current_num_threads();
    for (m, n, k) in [(704, 1536, 384), (704, 384, 1536)] {
        let x: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7919 % 1000) as f32 - 500.0) / 500.0)
            .collect();
        let w: Vec<f32> = (0..n * k)
            .map(|i| ((i * 104729 % 1000) as f32 - 500.0) / 5e4)
            .collect();
        let bias = vec![0.1f32; n];
        let pw = PackedI8::quantize(&w, n, k);
        let mut q = QuantRows::default();
        let mut out = vec![0f32; m * n];
        let ops = 2.0 * (m * n * k) as f64;
        let reps = 20;
        for _round in 0..2 {
            for kernel in Kernel::available().into_iter().rev() {
                let t = Instant::now();
                for _ in 0..if kernel == Kernel::Scalar { 2 } else { reps } {
                    q.quantize(&x, m, k);
                    gemm_i8::matmul(&q, &pw, &bias, &mut out, kernel);
                }
                let r = if kernel == Kernel::Scalar { 2 } else { reps };
                println!(
                    "{m}x{n}x{k} int8 {kernel:?}: {:.1} GOP/s",
                    ops * r as f64 / t.elapsed().as_secs_f64() / 1e9
                );
            }
            let t = Instant::now();
            for _ in 0..reps {
                // SAFETY: shapes as documented in rapport's cpu::Linear::forward.
                unsafe {
                    gemm::gemm(
                        m,
                        n,
                        k,
                        out.as_mut_ptr(),
                        1,
                        n as isize,
                        false,
                        x.as_ptr(),
                        1,
                        k as isize,
                        w.as_ptr(),
                        k as isize,
                        1,
                        0.0f32,
                        1.0f32,
                        false,
                        false,
                        false,
                        gemm::Parallelism::Rayon(threads),
                    )
                }
            }
            println!(
                "{m}x{n}x{k} f32 gemm: {:.1} GFLOP/s",
                ops * reps as f64 / t.elapsed().as_secs_f64() / 1e9
            );
        }
    }
}
