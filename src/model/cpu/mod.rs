//! A fast CPU forward pass of a BERT encoder (multilingual-e5-small), used instead of candle's
//! `BertModel` on CPU.
//!
//! What makes it fast, compared with the stock model on padded batches:
//! - Padding-free packing: the tokens of every sequence in the batch are concatenated into
//!   one `[total_tokens, hidden]` matrix, so every dense layer is one GEMM with no padded rows;
//!   only attention is computed per sequence (and needs no mask), as (sequence, head) tasks so
//!   that even one message keeps every thread busy.
//! - The four dense layers per block run either as f32 GEMMs (the `gemm` crate, as candle
//!   uses) or as the 8-bit GEMM of [`gemm_i8`] (weights int8 per output channel, quantised
//!   once at load; activations int8 per token at run time). Q, K and V are one fused GEMM.
//! - Bias add is fused into the GEMM epilogue, the residual add into layer norm; GELU and
//!   softmax use a vectorisable `exp`. Buffers are reused by every layer, and kept per thread
//!   for the next call when the batch is small.
//! - The 250k x 384 word-embedding table stays in its 4-bit blocks (13.5 MB instead of
//!   384 MB f32); rows are dequantised on lookup.

/// Defines `fn NAME(args) -> ret { body }` that runs `body` compiled for AVX2 + FMA when the
/// CPU has them (checked at run time; std caches the check) and as baseline x86-64 / portable
/// code otherwise. The crate is built for the baseline target, where LLVM may only use SSE2 and
/// `f32::round` is a libm call; the element-wise loops are 2-4x faster with AVX2. Both
/// versions do the same IEEE operations in the same order (Rust never contracts `a * b + c`
/// into an FMA on its own), so they give identical results.
macro_rules! simd_fn {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$m])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn body($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU has the features enabled for `avx2`, checked just above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

pub mod gemm_i8;
pub mod ops;

/// Revision of the int8 forward pass's arithmetic. Bump it when a change moves its outputs
/// (rounding in a kernel, `exp`, attention), so that cached int8 embeddings (`rapport train` /
/// `eval`) are not mixed across versions. 2: the VNNI/AVX2 kernels with FMA attention.
pub const INT8_REVISION: u32 = 2;

use std::ops::Range;

use rayon::prelude::*;

use gemm_i8::{Kernel, PackedI8, QuantRows};

use super::e5s1::{Q4_BLOCK_BYTES, QK};
use crate::{Error, Result};

/// Arithmetic of the dense layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DenseMode {
    F32,
    Int8,
}

/// Model dimensions.
#[derive(Clone, Debug)]
pub struct Dims {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub ff: usize,
    pub vocab: usize,
    pub max_positions: usize,
    pub eps: f32,
}

/// The word-embedding table.
enum WordEmb {
    /// Q4_0 blocks, `hidden / 32` blocks of 18 bytes per row (the E5S1 bundle's own bytes).
    Q4(Vec<u8>),
    /// `[vocab][hidden]` f32 (models loaded from safetensors).
    F32(Vec<f32>),
}

/// Weights of one dense layer, `out = x Wᵀ + b`.
enum Weight {
    /// `[n][k]` row-major.
    F32 {
        w: Vec<f32>,
        n: usize,
        k: usize,
    },
    I8(PackedI8),
}

struct Linear {
    w: Weight,
    b: Vec<f32>,
}

impl Linear {
    fn new(w: Vec<f32>, b: Vec<f32>, n: usize, k: usize, mode: DenseMode) -> Linear {
        assert_eq!(w.len(), n * k);
        assert_eq!(b.len(), n);
        let w = match mode {
            DenseMode::F32 => Weight::F32 { w, n, k },
            DenseMode::Int8 => Weight::I8(PackedI8::quantize(&w, n, k)),
        };
        Linear { w, b }
    }

    fn bytes(&self) -> usize {
        self.b.len() * 4
            + match &self.w {
                Weight::F32 { w, .. } => w.len() * 4,
                Weight::I8(p) => p.bytes(),
            }
    }

    /// `out[m][n] = x[m][k] Wᵀ + b`; `q` is scratch for the quantised rows.
    fn forward(&self, x: &[f32], m: usize, out: &mut [f32], q: &mut QuantRows, kernel: Kernel) {
        match &self.w {
            Weight::F32 { w, n, k } => {
                let (n, k) = (*n, *k);
                debug_assert_eq!(x.len(), m * k);
                for row in out.chunks_exact_mut(n) {
                    row.copy_from_slice(&self.b);
                }
                let threads = rayon::current_num_threads();
                let par = if threads > 1 && m * n * k > 1 << 18 {
                    gemm::Parallelism::Rayon(threads)
                } else {
                    gemm::Parallelism::None
                };
                // SAFETY: dst is [m][n] (row stride n), lhs [m][k] (row stride k), rhs is the
                // [k][n] view of W[n][k] (column stride k, row stride 1); all in bounds.
                unsafe {
                    gemm::gemm(
                        m,
                        n,
                        k,
                        out.as_mut_ptr(),
                        1,
                        n as isize,
                        true,
                        x.as_ptr(),
                        1,
                        k as isize,
                        w.as_ptr(),
                        k as isize,
                        1,
                        1.0f32,
                        1.0f32,
                        false,
                        false,
                        false,
                        par,
                    )
                }
            }
            Weight::I8(p) => {
                q.quantize(x, m, p.cols());
                gemm_i8::matmul(q, p, &self.b, out, kernel);
            }
        }
    }
}

struct Layer {
    /// Q, K and V stacked: `[3 hidden][hidden]`.
    qkv: Linear,
    attn_out: Linear,
    attn_ln: (Vec<f32>, Vec<f32>),
    ff_in: Linear,
    ff_out: Linear,
    out_ln: (Vec<f32>, Vec<f32>),
}

/// Source of named f32 tensors in Hugging Face BERT naming (without the `bert.` prefix).
pub trait TensorSource {
    /// The tensor `name` flattened, checked to have `len` elements.
    fn get(&mut self, name: &str, len: usize) -> Result<Vec<f32>>;
}

/// The packed CPU BERT encoder.
pub struct CpuBert {
    dims: Dims,
    mode: DenseMode,
    kernel: Kernel,
    word: WordEmb,
    /// Position embeddings with token type 0 already added (rapport always uses type 0).
    pos_type: Vec<f32>,
    emb_ln: (Vec<f32>, Vec<f32>),
    layers: Vec<Layer>,
}

impl std::fmt::Debug for CpuBert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpuBert")
            .field("dims", &self.dims)
            .field("mode", &self.mode)
            .field("kernel", &self.kernel)
            .field("weight_bytes", &self.weight_bytes())
            .finish_non_exhaustive()
    }
}

impl CpuBert {
    /// Builds the encoder from `src`. `word_q4`: the word-embedding table as Q4_0 blocks
    /// (then `src` is not asked for it).
    pub fn load(
        dims: Dims,
        src: &mut dyn TensorSource,
        word_q4: Option<Vec<u8>>,
        mode: DenseMode,
    ) -> Result<CpuBert> {
        let (h, ff) = (dims.hidden, dims.ff);
        if h % dims.heads != 0 {
            return Err(Error::model("hidden size is not a multiple of the heads"));
        }
        let word = match word_q4 {
            Some(q) => {
                if h % QK != 0 || q.len() != dims.vocab * h / QK * Q4_BLOCK_BYTES {
                    return Err(Error::model("Q4 word embeddings have the wrong size"));
                }
                WordEmb::Q4(q)
            }
            None => WordEmb::F32(src.get("embeddings.word_embeddings.weight", dims.vocab * h)?),
        };
        let mut pos_type = src.get(
            "embeddings.position_embeddings.weight",
            dims.max_positions * h,
        )?;
        let types = src.get("embeddings.token_type_embeddings.weight", 0)?;
        if types.len() < h || types.len() % h != 0 {
            return Err(Error::model("token type embeddings have the wrong size"));
        }
        for row in pos_type.chunks_exact_mut(h) {
            for (p, t) in row.iter_mut().zip(&types[..h]) {
                *p += t;
            }
        }
        let emb_ln = (
            src.get("embeddings.LayerNorm.weight", h)?,
            src.get("embeddings.LayerNorm.bias", h)?,
        );
        let mut layers = Vec::with_capacity(dims.layers);
        for l in 0..dims.layers {
            let p = format!("encoder.layer.{l}");
            let mut get = |name: &str, len: usize| src.get(&format!("{p}.{name}"), len);
            let mut qkv_w = get("attention.self.query.weight", h * h)?;
            qkv_w.extend(get("attention.self.key.weight", h * h)?);
            qkv_w.extend(get("attention.self.value.weight", h * h)?);
            let mut qkv_b = get("attention.self.query.bias", h)?;
            qkv_b.extend(get("attention.self.key.bias", h)?);
            qkv_b.extend(get("attention.self.value.bias", h)?);
            layers.push(Layer {
                qkv: Linear::new(qkv_w, qkv_b, 3 * h, h, mode),
                attn_out: Linear::new(
                    get("attention.output.dense.weight", h * h)?,
                    get("attention.output.dense.bias", h)?,
                    h,
                    h,
                    mode,
                ),
                attn_ln: (
                    get("attention.output.LayerNorm.weight", h)?,
                    get("attention.output.LayerNorm.bias", h)?,
                ),
                ff_in: Linear::new(
                    get("intermediate.dense.weight", ff * h)?,
                    get("intermediate.dense.bias", ff)?,
                    ff,
                    h,
                    mode,
                ),
                ff_out: Linear::new(
                    get("output.dense.weight", h * ff)?,
                    get("output.dense.bias", h)?,
                    h,
                    ff,
                    mode,
                ),
                out_ln: (
                    get("output.LayerNorm.weight", h)?,
                    get("output.LayerNorm.bias", h)?,
                ),
            });
        }
        Ok(CpuBert {
            dims,
            mode,
            kernel: Kernel::detect(),
            word,
            pos_type,
            emb_ln,
            layers,
        })
    }

    pub fn mode(&self) -> DenseMode {
        self.mode
    }

    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// Use another GEMM kernel (tests compare them).
    pub fn set_kernel(&mut self, kernel: Kernel) {
        self.kernel = kernel;
    }

    /// Bytes of weights held.
    pub fn weight_bytes(&self) -> usize {
        let word = match &self.word {
            WordEmb::Q4(q) => q.len(),
            WordEmb::F32(w) => w.len() * 4,
        };
        let layers: usize = self
            .layers
            .iter()
            .map(|l| {
                l.qkv.bytes()
                    + l.attn_out.bytes()
                    + l.ff_in.bytes()
                    + l.ff_out.bytes()
                    + 16 * l.attn_ln.0.len()
            })
            .sum();
        word + self.pos_type.len() * 4 + layers
    }

    /// Mean-pooled, L2-normalised embeddings of `seqs` (token ids, already validated against
    /// the vocabulary and `max_positions`): `[seqs.len()][hidden]` row-major.
    pub fn embed(&self, seqs: &[&[u32]]) -> Vec<f32> {
        self.embed_with_spans(seqs, &vec![&[][..]; seqs.len()])
    }

    /// [`Self::embed`], then one row per span of `spans[i]` (token index ranges of `seqs[i]`,
    /// in bounds): the mean of those tokens' final states, L2-normalised.
    /// `[seqs.len() + spans][hidden]`.
    pub fn embed_with_spans(&self, seqs: &[&[u32]], spans: &[&[Range<usize>]]) -> Vec<f32> {
        let mut starts = Vec::with_capacity(seqs.len());
        let mut total = 0;
        for s in seqs {
            starts.push(total);
            total += s.len();
        }
        let mut rows: Vec<Range<usize>> = (seqs.iter().zip(&starts))
            .map(|(s, &start)| start..start + s.len())
            .collect();
        for (&start, ss) in starts.iter().zip(spans) {
            rows.extend(ss.iter().map(|s| start + s.start..start + s.end));
        }
        if total == 0 {
            return vec![0.0; rows.len() * self.dims.hidden];
        }
        self.run(seqs, self.dims.layers, |x, _| self.pool(x, &rows))
    }

    /// Token states after the first `layers` blocks, packed `[total tokens][hidden]` in the
    /// order of `seqs` (adapter training caches them below the adapted layers).
    pub fn hidden_states(&self, seqs: &[&[u32]], layers: usize) -> Vec<f32> {
        assert!(
            layers <= self.dims.layers,
            "the model has {} layers",
            self.dims.layers
        );
        if seqs.iter().all(|s| s.is_empty()) {
            return Vec::new();
        }
        self.run(seqs, layers, |x, _| x.to_vec())
    }

    pub fn dims(&self) -> &Dims {
        &self.dims
    }

    /// Embeddings, then the first `layers` blocks, then `finish(states, lens)` on the packed
    /// `[total][hidden]` token states.
    fn run<R>(
        &self,
        seqs: &[&[u32]],
        layers: usize,
        finish: impl FnOnce(&[f32], &[usize]) -> R,
    ) -> R {
        let h = self.dims.hidden;
        let lens: Vec<usize> = seqs.iter().map(|s| s.len()).collect();
        let total: usize = lens.iter().sum();
        // Buffers reused by every layer, and by the next call on this thread when small
        // enough: allocating and zeroing them per call showed up in profiles.
        let mut s = SCRATCH.with(|c| c.take());
        s.size(total, h, self.dims.ff);
        self.embeddings(seqs, &mut s.x);
        let eps = self.dims.eps;
        for layer in &self.layers[..layers] {
            layer
                .qkv
                .forward(&s.x, total, &mut s.qkv, &mut s.q, self.kernel);
            self.attention(&s.qkv, &lens, &mut s.ctx);
            layer
                .attn_out
                .forward(&s.ctx, total, &mut s.tmp, &mut s.q, self.kernel);
            // x = LN(attn + x): the result lands in `tmp`, which becomes the new `x`.
            ops::add_layer_norm(&mut s.tmp, &s.x, &layer.attn_ln.0, &layer.attn_ln.1, eps);
            std::mem::swap(&mut s.x, &mut s.tmp);
            layer
                .ff_in
                .forward(&s.x, total, &mut s.inter, &mut s.q, self.kernel);
            s.inter
                .par_chunks_mut(self.dims.ff * 16)
                .for_each(ops::gelu_erf);
            layer
                .ff_out
                .forward(&s.inter, total, &mut s.tmp, &mut s.q, self.kernel);
            ops::add_layer_norm(&mut s.tmp, &s.x, &layer.out_ln.0, &layer.out_ln.1, eps);
            std::mem::swap(&mut s.x, &mut s.tmp);
        }
        let out = finish(&s.x[..total * h], &lens);
        if total <= SCRATCH_KEEP_TOKENS {
            SCRATCH.with(|c| c.replace(s));
        }
        out
    }

    /// `x[t] = LN(word[id] + pos[p] + type[0])` for every token, packed.
    fn embeddings(&self, seqs: &[&[u32]], x: &mut [f32]) {
        let h = self.dims.hidden;
        let mut rows = x.chunks_exact_mut(h);
        for seq in seqs {
            for (p, (&id, row)) in seq.iter().zip(&mut rows).enumerate() {
                let id = id as usize;
                match &self.word {
                    WordEmb::F32(w) => row.copy_from_slice(&w[id * h..(id + 1) * h]),
                    WordEmb::Q4(q) => {
                        let per_row = h / QK * Q4_BLOCK_BYTES;
                        dequant_q4_row(&q[id * per_row..(id + 1) * per_row], row);
                    }
                }
                for (v, pt) in row.iter_mut().zip(&self.pos_type[p * h..(p + 1) * h]) {
                    *v += pt;
                }
            }
        }
        ops::layer_norm(x, &self.emb_ln.0, &self.emb_ln.1, self.dims.eps);
    }

    /// Self-attention of every sequence on its own rows of `qkv` (`[total][3 hidden]`: Q, K, V);
    /// writes the per-head contexts side by side into `ctx` (`[total][hidden]`).
    ///
    /// Tasks are (sequence, head) pairs, so that a single message still uses every thread.
    fn attention(&self, qkv: &[f32], lens: &[usize], ctx: &mut [f32]) {
        let h = self.dims.hidden;
        let heads = self.dims.heads;
        let mut offs = Vec::with_capacity(lens.len());
        let mut off = 0;
        for &len in lens {
            offs.push(off);
            off += len;
        }
        let out = gemm_i8::OutPtr::new(ctx.as_mut_ptr());
        let task = |t: usize| {
            let (seq, head) = (t / heads, t % heads);
            let (off, len) = (offs[seq], lens[seq]);
            let rows = &qkv[off * 3 * h..(off + len) * 3 * h];
            let d = h / heads;
            let mut o = vec![0f32; len * d];
            attend_head_best(rows, len, h, heads, head, &mut o);
            for (i, row) in o.chunks_exact(d).enumerate() {
                // SAFETY: row off + i, columns head*d .. head*d + d of `ctx` belong to this
                // task only: no other task has the same (sequence, head).
                unsafe {
                    let dst = out.get().add((off + i) * h + head * d);
                    std::ptr::copy_nonoverlapping(row.as_ptr(), dst, d);
                }
            }
        };
        let tasks = lens.len() * heads;
        // Below ~64k multiply-adds per sequence the fork/join costs more than it saves.
        let work: usize = lens.iter().map(|l| l * l).sum::<usize>() * h;
        if rayon::current_num_threads() == 1 || work < 1 << 16 {
            (0..tasks).for_each(task);
        } else {
            (0..tasks).into_par_iter().for_each(task);
        }
    }

    /// Mean over each range of token rows, then L2 normalisation.
    fn pool(&self, x: &[f32], rows: &[Range<usize>]) -> Vec<f32> {
        let h = self.dims.hidden;
        let mut out = vec![0f32; rows.len() * h];
        for (o, r) in out.chunks_exact_mut(h).zip(rows) {
            for row in x[r.start * h..r.end * h].chunks_exact(h) {
                for (a, b) in o.iter_mut().zip(row) {
                    *a += b;
                }
            }
            let inv_len = 1.0 / r.len().max(1) as f32;
            for v in o.iter_mut() {
                *v *= inv_len;
            }
            let norm = ops::dot(o, o).sqrt().max(1e-12);
            for v in o.iter_mut() {
                *v /= norm;
            }
        }
        out
    }
}

simd_fn! {
    /// Attention of one head of one sequence: `rows` is the sequence's `[len][3 h]` Q, K, V;
    /// `out` receives the head's `[len][h / heads]` context.
    ///
    /// Scores are computed a query row at a time as `Σ_d q[d] · Kᵀ[d][..]` over a transposed
    /// copy of the head's keys, and contexts as `Σ_j p[j] · V[j][..]`: both inner loops are
    /// contiguous multiply-adds, with no horizontal sums.
    fn attend_head(rows: &[f32], len: usize, h: usize, heads: usize, head: usize, out: &mut [f32]) {
        let d = h / heads;
        if len == 0 {
            return;
        }
        let scale = 1.0 / (d as f32).sqrt();
        let (qo, ko, vo) = (head * d, h + head * d, 2 * h + head * d);
        let mut kt = vec![0f32; d * len];
        for j in 0..len {
            for (c, &v) in rows[j * 3 * h + ko..j * 3 * h + ko + d].iter().enumerate() {
                kt[c * len + j] = v * scale;
            }
        }
        let mut scores = vec![0f32; len];
        for (i, o) in out.chunks_exact_mut(d).enumerate().take(len) {
            let qi = &rows[i * 3 * h + qo..i * 3 * h + qo + d];
            scores.fill(0.0);
            for (&q, krow) in qi.iter().zip(kt.chunks_exact(len)) {
                for (s, &k) in scores.iter_mut().zip(krow) {
                    *s += q * k;
                }
            }
            ops::softmax_inline(&mut scores);
            o.fill(0.0);
            for (j, &p) in scores.iter().enumerate() {
                let vj = &rows[j * 3 * h + vo..j * 3 * h + vo + d];
                for (a, b) in o.iter_mut().zip(vj) {
                    *a += p * b;
                }
            }
        }
    }
}

/// [`attend_head`] through the AVX2 + FMA kernel where the CPU has it and the head width is
/// 32 or 64 (e5-small's is 32), else the portable code. The two differ only in rounding
/// (FMA), by far less than the int8 GEMM's error.
fn attend_head_best(
    rows: &[f32],
    len: usize,
    h: usize,
    heads: usize,
    head: usize,
    out: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    {
        let d = h / heads;
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            assert!(rows.len() >= len * 3 * h && out.len() >= len * d && (head + 1) * d <= h);
            // SAFETY: AVX2 and FMA were just detected; the asserts above bound every access.
            match d {
                32 => return unsafe { attention_avx2::head::<4>(rows, len, h, head, out) },
                64 => return unsafe { attention_avx2::head::<8>(rows, len, h, head, out) },
                _ => {}
            }
        }
    }
    attend_head(rows, len, h, heads, head, out)
}

#[cfg(target_arch = "x86_64")]
mod attention_avx2 {
    use std::arch::x86_64::*;

    /// One head (width `8 * D8`) of one sequence: `rows` is `[len][3 h]` Q, K, V; `out` gets
    /// `[len][8 * D8]`. Scores for 8 keys at a time are 8 register dot products reduced
    /// together (`vhaddps`), so K needs no transposed copy; the context accumulates in
    /// registers.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn head<const D8: usize>(
        rows: &[f32],
        len: usize,
        h: usize,
        head: usize,
        out: &mut [f32],
    ) {
        let d = 8 * D8;
        let stride = 3 * h;
        let base = rows.as_ptr();
        let (qo, ko, vo) = (head * d, h + head * d, 2 * h + head * d);
        let scale = _mm256_set1_ps(1.0 / (d as f32).sqrt());
        let mut scores = vec![0f32; len];
        for i in 0..len {
            let mut q = [_mm256_setzero_ps(); D8];
            for (c, q) in q.iter_mut().enumerate() {
                *q = _mm256_mul_ps(_mm256_loadu_ps(base.add(i * stride + qo + 8 * c)), scale);
            }
            let dot = |j: usize| {
                let k = base.add(j * stride + ko);
                let mut acc = _mm256_mul_ps(q[0], _mm256_loadu_ps(k));
                for (c, q) in q.iter().enumerate().skip(1) {
                    acc = _mm256_fmadd_ps(*q, _mm256_loadu_ps(k.add(8 * c)), acc);
                }
                acc
            };
            let mut j = 0;
            while j + 8 <= len {
                let a: [__m256; 8] = std::array::from_fn(|jj| dot(j + jj));
                let t0 = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
                let t1 = _mm256_hadd_ps(_mm256_hadd_ps(a[4], a[5]), _mm256_hadd_ps(a[6], a[7]));
                let sums = _mm256_add_ps(
                    _mm256_permute2f128_ps::<0x20>(t0, t1),
                    _mm256_permute2f128_ps::<0x31>(t0, t1),
                );
                _mm256_storeu_ps(scores.as_mut_ptr().add(j), sums);
                j += 8;
            }
            for (jj, s) in scores.iter_mut().enumerate().skip(j) {
                *s = hsum(dot(jj));
            }
            super::ops::softmax_inline(&mut scores);
            let mut o = [_mm256_setzero_ps(); D8];
            for (j, &p) in scores.iter().enumerate() {
                let p = _mm256_set1_ps(p);
                let v = base.add(j * stride + vo);
                for (c, o) in o.iter_mut().enumerate() {
                    *o = _mm256_fmadd_ps(p, _mm256_loadu_ps(v.add(8 * c)), *o);
                }
            }
            for (c, o) in o.iter().enumerate() {
                _mm256_storeu_ps(out.as_mut_ptr().add(i * d + 8 * c), *o);
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn hsum(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps::<1>(s, s)))
    }
}

/// Calls of up to this many tokens keep their buffers for the next call on the same thread
/// (about 15 KiB per token for e5-small, so at most ~30 MiB); larger ones free them.
const SCRATCH_KEEP_TOKENS: usize = 2048;

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// The forward pass's buffers. Every element read is written first in the same call, so
/// reused buffers are not cleared.
#[derive(Default)]
struct Scratch {
    x: Vec<f32>,
    qkv: Vec<f32>,
    ctx: Vec<f32>,
    tmp: Vec<f32>,
    inter: Vec<f32>,
    q: QuantRows,
}

impl Scratch {
    fn size(&mut self, tokens: usize, h: usize, ff: usize) {
        fn fit(v: &mut Vec<f32>, n: usize) {
            if v.len() < n {
                v.resize(n, 0.0);
            }
            v.truncate(n);
        }
        fit(&mut self.x, tokens * h);
        fit(&mut self.qkv, tokens * 3 * h);
        fit(&mut self.ctx, tokens * h);
        fit(&mut self.tmp, tokens * h);
        fit(&mut self.inter, tokens * ff);
    }
}

/// Dequantise one row of Q4_0 blocks into `out`.
fn dequant_q4_row(blocks: &[u8], out: &mut [f32]) {
    for (block, o) in blocks
        .chunks_exact(Q4_BLOCK_BYTES)
        .zip(out.chunks_exact_mut(QK))
    {
        let d = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
        for j in 0..16 {
            let b = block[2 + j];
            o[j] = ((b & 0x0f) as i32 - 8) as f32 * d;
            o[j + 16] = ((b >> 4) as i32 - 8) as f32 * d;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q4_row_lookup_matches_full_dequantisation() {
        let v: Vec<f32> = (0..128)
            .map(|i| ((i * 29 % 31) as f32 - 15.0) / 9.0)
            .collect();
        let q = crate::model::e5s1::quantize_q4_0(&v).unwrap();
        let full = crate::model::e5s1::dequantize_q4_0(&q);
        let mut row = vec![0f32; 64];
        dequant_q4_row(&q[2 * Q4_BLOCK_BYTES..], &mut row);
        assert_eq!(row, full[64..]);
    }
}
