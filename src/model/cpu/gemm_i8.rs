//! 8-bit GEMM for the encoder's dense layers: `C = (A Wᵀ) · scales + bias`, with `A`
//! quantised per row (per token, at run time) and `W` per output channel (once, at load).
//!
//! Why this shape: the target CPUs have AVX2 but neither AVX-512 nor VNNI, so the product is
//! `_mm256_madd_epi16` on int8 values widened to int16. That instruction multiplies 16 pairs
//! and adds neighbours into 8 i32 lanes *exactly* (|q| <= 127, so a pair sum is at most 32258
//! and K = 1536 sums stay far inside i32), unlike `_mm256_maddubs_epi16`, which saturates in
//! i16 for u8 x s8 operands of full range. The scalar kernel does the same integer arithmetic,
//! so both give bit-identical i32 results and therefore identical f32 outputs.
//!
//! Layout: `W` is packed once into panels of [`NR`] = 16 output columns; within a panel,
//! for each pair of K indices (k, k+1), the 16 columns' two weights are interleaved
//! (`[c0k, c0k1, c1k, c1k1, ...]`, 32 i16 = two AVX2 registers), so one broadcast 32-bit word
//! of `A` (`A[m,k], A[m,k+1]`) times one register gives 8 columns' partial dot products.
//! `A` rows are stored as i16 with K rounded up to even (the pad is 0). The micro-kernel
//! computes a [`MR`] x 16 tile with 8 register accumulators.
//!
//! Work is split over (row block x panel group) tasks on rayon's pool, so it uses the
//! configured thread count (`configure_threads`) and never more.
use rayon::prelude::*;

/// Output columns per packed panel (two AVX2 registers of i32).
pub const NR: usize = 16;
/// Rows per micro-kernel tile.
pub const MR: usize = 4;
/// Rows per task: the task's slice of `A` (MB x K i16, 192 KiB at K = 1536) stays in L2.
const MB: usize = 64;
/// Panels per task.
const PG: usize = 8;

/// Which micro-kernel runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// Portable Rust, same integer results.
    Scalar,
    /// x86-64 AVX2 `vpmaddwd`.
    Avx2,
}

impl Kernel {
    /// The best kernel this CPU runs (checked at run time).
    pub fn detect() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") {
                return Kernel::Avx2;
            }
        }
        Kernel::Scalar
    }

    /// Every kernel this CPU can run (for tests).
    pub fn available() -> Vec<Kernel> {
        let mut v = vec![Kernel::Scalar];
        if Kernel::detect() == Kernel::Avx2 {
            v.push(Kernel::Avx2);
        }
        v
    }
}

/// A weight matrix `[n][k]` (row-major, as HF `Linear` stores it) quantised to int8 per output
/// channel and packed into the kernel's panel layout.
#[derive(Clone, Debug)]
pub struct PackedI8 {
    n: usize,
    k: usize,
    /// K rounded up to even.
    kp: usize,
    /// `ceil(n / NR)` panels of `kp * NR` i16.
    panels: Vec<i16>,
    /// Per output column: `W[c, :] ≈ q[c, :] * scales[c]`.
    scales: Vec<f32>,
}

impl PackedI8 {
    /// Quantise `w` (`[n][k]` row-major f32) symmetrically per row (output channel):
    /// scale = max|w| / 127, q = round(w / scale).
    pub fn quantize(w: &[f32], n: usize, k: usize) -> PackedI8 {
        assert_eq!(w.len(), n * k, "weight is not {n} x {k}");
        let mut q = vec![0i8; n * k];
        let mut scales = vec![0f32; n];
        for ((row, qrow), s) in w
            .chunks_exact(k)
            .zip(q.chunks_exact_mut(k))
            .zip(&mut scales)
        {
            *s = quantize_row_i8(row, qrow);
        }
        PackedI8::from_i8(&q, scales, n, k)
    }

    /// Pack already quantised weights (`[n][k]` row-major) with their per-row scales.
    pub fn from_i8(q: &[i8], scales: Vec<f32>, n: usize, k: usize) -> PackedI8 {
        assert_eq!(q.len(), n * k);
        assert_eq!(scales.len(), n);
        let kp = k.next_multiple_of(2);
        let np = n.div_ceil(NR);
        let mut panels = vec![0i16; np * kp * NR];
        for c in 0..n {
            let (panel, col) = (c / NR, c % NR);
            let base = panel * kp * NR;
            for (kk, &v) in q[c * k..(c + 1) * k].iter().enumerate() {
                panels[base + (kk / 2) * 2 * NR + col * 2 + kk % 2] = v as i16;
            }
        }
        PackedI8 {
            n,
            k,
            kp,
            panels,
            scales,
        }
    }

    pub fn rows(&self) -> usize {
        self.n
    }

    pub fn cols(&self) -> usize {
        self.k
    }

    /// Bytes held (the panels are i16).
    pub fn bytes(&self) -> usize {
        self.panels.len() * 2 + self.scales.len() * 4
    }
}

/// Quantise one row symmetrically to int8; returns the scale (0 for an all-zero row).
fn quantize_row_i8(x: &[f32], q: &mut [i8]) -> f32 {
    let max = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    if max == 0.0 || !max.is_finite() {
        q.fill(0);
        return 0.0;
    }
    let inv = 127.0 / max;
    for (d, v) in q.iter_mut().zip(x) {
        *d = (v * inv).round().clamp(-127.0, 127.0) as i8;
    }
    max / 127.0
}

/// Activations quantised per row, stored as i16 (the kernel's operand width), K padded to even.
/// Reused across calls to avoid per-layer allocations.
#[derive(Clone, Debug, Default)]
pub struct QuantRows {
    m: usize,
    kp: usize,
    data: Vec<i16>,
    scales: Vec<f32>,
}

impl QuantRows {
    /// Quantise `x` (`[m][k]` row-major) in place of the previous contents.
    pub fn quantize(&mut self, x: &[f32], m: usize, k: usize) {
        assert_eq!(x.len(), m * k);
        let kp = k.next_multiple_of(2);
        self.m = m;
        self.kp = kp;
        self.data.clear();
        self.data.resize(m * kp, 0);
        self.scales.clear();
        self.scales.resize(m, 0.0);
        let rows = self.data.par_chunks_mut(kp).zip(self.scales.par_iter_mut());
        rows.zip(x.par_chunks(k.max(1)))
            .with_min_len(64)
            .for_each(|((q, s), row)| *s = super::ops::quantize_row_i16(row, q));
    }

    /// Rows already quantised (for tests): `q` is `[m][k]` int8.
    pub fn from_i8(q: &[i8], scales: Vec<f32>, m: usize, k: usize) -> QuantRows {
        assert_eq!(q.len(), m * k);
        let kp = k.next_multiple_of(2);
        let mut data = vec![0i16; m * kp];
        for (d, s) in data.chunks_exact_mut(kp).zip(q.chunks_exact(k.max(1))) {
            for (a, b) in d.iter_mut().zip(s) {
                *a = *b as i16;
            }
        }
        QuantRows {
            m,
            kp,
            data,
            scales,
        }
    }
}

/// Raw output pointer shared by tasks that write disjoint tiles.
#[derive(Clone, Copy)]
struct OutPtr<T>(*mut T);
// SAFETY: every task writes a disjoint set of (row, column) cells; see `run_tiles`.
unsafe impl<T> Send for OutPtr<T> {}
unsafe impl<T> Sync for OutPtr<T> {}

impl<T> OutPtr<T> {
    /// A method (not `.0`) so that closures capture the whole `Send + Sync` wrapper.
    fn get(self) -> *mut T {
        self.0
    }
}

/// Calls `tile(m0, rows, panel, acc)` for every MR x NR tile of the product, in parallel over
/// (row block x panel group) tasks. `acc[r][c]` is the exact i32 dot product of row `m0 + r`
/// of `a` and column `panel * NR + c` of `w` (zero for the padding columns).
fn run_tiles<F>(a: &QuantRows, w: &PackedI8, kernel: Kernel, tile: F)
where
    F: Fn(usize, usize, usize, &[[i32; NR]; MR]) + Sync,
{
    assert_eq!(a.kp, w.kp, "inner dimensions differ");
    let m = a.m;
    let np = w.n.div_ceil(NR);
    let mblocks = m.div_ceil(MB);
    let pgroups = np.div_ceil(PG);
    let task = |t: usize| {
        let (mb, pg) = (t / pgroups, t % pgroups);
        let (m_lo, m_hi) = (mb * MB, ((mb + 1) * MB).min(m));
        for p in pg * PG..((pg + 1) * PG).min(np) {
            let wp = &w.panels[p * w.kp * NR..(p + 1) * w.kp * NR];
            let mut m0 = m_lo;
            while m0 < m_hi {
                let rows = (m_hi - m0).min(MR);
                let ap = &a.data[m0 * a.kp..(m0 + rows) * a.kp];
                let mut acc = [[0i32; NR]; MR];
                micro(kernel, ap, a.kp, rows, wp, &mut acc);
                tile(m0, rows, p, &acc);
                m0 += rows;
            }
        }
    };
    let tasks = mblocks * pgroups;
    // Rough MACs: below ~2M the fork/join costs more than it saves.
    if rayon::current_num_threads() == 1 || m * w.n * w.kp < (1 << 21) {
        (0..tasks).for_each(task);
    } else {
        (0..tasks).into_par_iter().for_each(task);
    }
}

/// One tile: `rows` (1..=MR) rows of `a` (row stride `kp`) times one panel.
#[inline]
fn micro(kernel: Kernel, a: &[i16], kp: usize, rows: usize, w: &[i16], acc: &mut [[i32; NR]; MR]) {
    debug_assert!(a.len() >= rows * kp && w.len() == kp * NR);
    match kernel {
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 => {
            // SAFETY: `Kernel::Avx2` is only handed out by `detect` / `available` after
            // `is_x86_feature_detected!("avx2")`; the slices cover every index read.
            unsafe {
                match rows {
                    4 => avx2::tile::<4>(a.as_ptr(), kp, w.as_ptr(), acc),
                    3 => avx2::tile::<3>(a.as_ptr(), kp, w.as_ptr(), acc),
                    2 => avx2::tile::<2>(a.as_ptr(), kp, w.as_ptr(), acc),
                    _ => avx2::tile::<1>(a.as_ptr(), kp, w.as_ptr(), acc),
                }
            }
        }
        _ => scalar_tile(a, kp, rows, w, acc),
    }
}

fn scalar_tile(a: &[i16], kp: usize, rows: usize, w: &[i16], acc: &mut [[i32; NR]; MR]) {
    for (r, acc_row) in acc.iter_mut().enumerate().take(rows) {
        let arow = &a[r * kp..(r + 1) * kp];
        for (pair, wk) in arow.chunks_exact(2).zip(w.chunks_exact(2 * NR)) {
            let (a0, a1) = (pair[0] as i32, pair[1] as i32);
            for (c, out) in acc_row.iter_mut().enumerate() {
                *out += a0 * wk[2 * c] as i32 + a1 * wk[2 * c + 1] as i32;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{MR, NR};
    use std::arch::x86_64::*;

    /// `R` rows x 16 columns; `a` points at row 0 (row stride `kp` i16), `w` at the panel.
    #[target_feature(enable = "avx2")]
    pub unsafe fn tile<const R: usize>(
        a: *const i16,
        kp: usize,
        w: *const i16,
        out: &mut [[i32; NR]; MR],
    ) {
        let mut lo = [_mm256_setzero_si256(); R];
        let mut hi = [_mm256_setzero_si256(); R];
        for p in 0..kp / 2 {
            let w0 = _mm256_loadu_si256(w.add(p * 2 * NR) as *const __m256i);
            let w1 = _mm256_loadu_si256(w.add(p * 2 * NR + NR) as *const __m256i);
            for r in 0..R {
                // (A[r, 2p], A[r, 2p+1]) as one 32-bit word, in every lane.
                let pair = (a.add(r * kp + 2 * p) as *const i32).read_unaligned();
                let av = _mm256_set1_epi32(pair);
                lo[r] = _mm256_add_epi32(lo[r], _mm256_madd_epi16(av, w0));
                hi[r] = _mm256_add_epi32(hi[r], _mm256_madd_epi16(av, w1));
            }
        }
        for r in 0..R {
            _mm256_storeu_si256(out[r].as_mut_ptr() as *mut __m256i, lo[r]);
            _mm256_storeu_si256(out[r].as_mut_ptr().add(8) as *mut __m256i, hi[r]);
        }
    }
}

/// Exact integer product `A Wᵀ` (`[m][n]` row-major), for tests and as the reference of the
/// kernels' agreement.
pub fn matmul_i32(a: &QuantRows, w: &PackedI8, kernel: Kernel) -> Vec<i32> {
    let n = w.n;
    let mut out = vec![0i32; a.m * n];
    let ptr = OutPtr(out.as_mut_ptr());
    run_tiles(a, w, kernel, |m0, rows, p, acc| {
        for (r, acc_row) in acc.iter().enumerate().take(rows) {
            for (c, &v) in acc_row.iter().enumerate() {
                let col = p * NR + c;
                if col < n {
                    // SAFETY: (m0 + r, col) is inside [m][n] and written by this tile only.
                    unsafe { *ptr.get().add((m0 + r) * n + col) = v };
                }
            }
        }
    });
    out
}

/// `out = dequant(A Wᵀ) + bias` (`out` is `[m][n]` row-major, overwritten).
pub fn matmul(a: &QuantRows, w: &PackedI8, bias: &[f32], out: &mut [f32], kernel: Kernel) {
    let n = w.n;
    assert_eq!(out.len(), a.m * n);
    assert_eq!(bias.len(), n);
    let ptr = OutPtr(out.as_mut_ptr());
    run_tiles(a, w, kernel, |m0, rows, p, acc| {
        let c_hi = (n - p * NR).min(NR);
        let ws = &w.scales[p * NR..p * NR + c_hi];
        let bs = &bias[p * NR..p * NR + c_hi];
        for (r, acc_row) in acc.iter().enumerate().take(rows) {
            let sa = a.scales[m0 + r];
            // SAFETY: row m0 + r, columns p*NR .. p*NR + c_hi are inside `out` and written by
            // this tile only.
            let dst = unsafe {
                std::slice::from_raw_parts_mut(ptr.get().add((m0 + r) * n + p * NR), c_hi)
            };
            for (((d, &v), &s), &b) in dst.iter_mut().zip(acc_row).zip(ws).zip(bs) {
                *d = v as f32 * (sa * s) + b;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random int8 values.
    fn lcg(seed: &mut u64) -> i8 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 33) % 255) as i8 as i16 as i8 // any i8
    }

    fn reference(a: &[i8], w: &[i8], m: usize, n: usize, k: usize) -> Vec<i32> {
        let mut out = vec![0i32; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k)
                    .map(|kk| a[i * k + kk] as i32 * w[j * k + kk] as i32)
                    .sum();
            }
        }
        out
    }

    #[test]
    fn kernels_equal_the_i32_reference_on_odd_shapes() {
        let mut seed = 7;
        // (m, n, k): none a multiple of the tiles, plus extremes and a big-enough one to go
        // parallel.
        for (m, n, k) in [
            (1, 1, 1),
            (3, 17, 5),
            (5, 15, 33),
            (7, 33, 64),
            (66, 40, 129),
            (130, 200, 384),
            (9, 16, 2),
        ] {
            let a: Vec<i8> = (0..m * k)
                .map(|_| lcg(&mut seed).clamp(-127, 127))
                .collect();
            let mut w: Vec<i8> = (0..n * k)
                .map(|_| lcg(&mut seed).clamp(-127, 127))
                .collect();
            // extremes: a full row of +-127 products
            w[..k].fill(127);
            let mut a = a;
            a[..k].fill(-127);
            let want = reference(&a, &w, m, n, k);
            let qa = QuantRows::from_i8(&a, vec![1.0; m], m, k);
            let pw = PackedI8::from_i8(&w, vec![1.0; n], n, k);
            for kernel in Kernel::available() {
                let got = matmul_i32(&qa, &pw, kernel);
                assert_eq!(got, want, "{kernel:?} {m}x{n}x{k}");
            }
        }
    }

    #[test]
    fn dequantised_product_is_close_to_f32() {
        let (m, n, k) = (37, 45, 100);
        let mut s = 1u64;
        let mut f = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
            ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        };
        let x: Vec<f32> = (0..m * k).map(|_| f()).collect();
        let w: Vec<f32> = (0..n * k).map(|_| f()).collect();
        let bias: Vec<f32> = (0..n).map(|i| i as f32 * 0.01).collect();
        let pw = PackedI8::quantize(&w, n, k);
        let mut qa = QuantRows::default();
        qa.quantize(&x, m, k);
        let mut outs = Vec::new();
        for kernel in Kernel::available() {
            let mut out = vec![0f32; m * n];
            matmul(&qa, &pw, &bias, &mut out, kernel);
            for i in 0..m {
                for j in 0..n {
                    let exact: f32 =
                        (0..k).map(|kk| x[i * k + kk] * w[j * k + kk]).sum::<f32>() + bias[j];
                    let got = out[i * n + j];
                    // two 8-bit roundings of values in [-0.5, 0.5] over K = 100
                    assert!(
                        (got - exact).abs() < 0.03,
                        "{kernel:?} [{i},{j}] {got} vs {exact}"
                    );
                }
            }
            outs.push(out);
        }
        // every kernel gives the same f32 output bit for bit
        assert!(outs.windows(2).all(|p| p[0] == p[1]));
    }
}
