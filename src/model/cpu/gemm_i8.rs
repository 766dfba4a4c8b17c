//! 8-bit GEMM for the encoder's dense layers: `C = (A Wᵀ) · scales + bias`, with `A`
//! quantised per row (per token, at run time) and `W` per output channel (once, at load).
//! Both are symmetric int8 in [-127, 127].
//!
//! Every kernel computes the *exact* i32 dot products of those int8 values, so all of them give
//! bit-identical outputs (the tests check it) and the choice is purely one of speed, made at
//! run time from the CPU's features:
//! - [`Kernel::Vnni`] (AVX-512 VNNI, e.g. Zen 4, Ice Lake and later): `vpdpbusd` multiplies
//!   u8 x s8 and adds groups of four into i32 lanes, 64 products per instruction, without
//!   intermediate saturation. `A` enters as u8 `a + 128`; the extra `128 · Σ_k W[c, k]` is
//!   subtracted per column afterwards (`PackedI8::colsum`).
//! - [`Kernel::Avx2`]: `vpmaddubsw` multiplies u8 x s8 and adds pairs into *saturating* i16.
//!   With `|a|` as the unsigned operand and `W` carrying `a`'s sign (`vpsignb`), a pair sum is
//!   at most 2 · 127 · 127 = 32258, so it never saturates; `vpmaddwd` by ones widens to i32.
//!   In a register-only micro-benchmark (Zen 4) that is 1.4x the multiply-adds per second of
//!   `vpmaddwd` on int8 widened to i16, which this kernel replaced (same results).
//! - [`Kernel::Scalar`]: portable Rust, the reference.
//!
//! Layout: `W` is packed once into panels of [`NR`] = 16 output columns of int8; within a
//! panel, for each group of four K indices, the 16 columns' four weights are adjacent
//! (`[c0k0..c0k3, c1k0..c1k3, ...]`, 64 bytes: one AVX-512 register or two AVX2 ones), so one
//! broadcast 32-bit word of `A` (`A[m, k..k+4]`) times one register gives 16 columns' partial
//! dot products. `A` rows are int8 with K rounded up to a multiple of 4 (the pad is 0).
//!
//! Work is split over (row block x panel group) tasks on rayon's pool, so it uses the
//! configured thread count (`configure_threads`) and never more.
use rayon::prelude::*;

/// Output columns per packed panel.
pub const NR: usize = 16;
/// Rows per micro-kernel tile.
pub const MR: usize = 8;
/// K indices per packed group (one 32-bit broadcast of `A`).
const KG: usize = 4;
/// Rows per task: the task's slice of `A` (MB x K bytes, 96 KiB at K = 1536) stays in L2.
const MB: usize = 64;
/// Panels per task, at most.
const PG: usize = 8;
/// Stored activations are `a + 128` (`a XOR 0x80` as a byte).
const OFFSET: u8 = 0x80;

/// Which micro-kernel runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// Portable Rust, same integer results.
    Scalar,
    /// x86-64 AVX2 `vpmaddubsw` with the sign trick.
    Avx2,
    /// x86-64 AVX-512 VNNI `vpdpbusd`.
    Vnni,
}

impl Kernel {
    /// The best kernel this CPU runs (checked at run time).
    pub fn detect() -> Kernel {
        *Kernel::available()
            .last()
            .expect("scalar is always available")
    }

    /// Every kernel this CPU can run, slowest first (for tests and benchmarks).
    pub fn available() -> Vec<Kernel> {
        #[allow(unused_mut)]
        let mut v = vec![Kernel::Scalar];
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") {
                v.push(Kernel::Avx2);
            }
            if std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512vnni")
            {
                v.push(Kernel::Vnni);
            }
        }
        v
    }
}

/// A weight matrix `[n][k]` (row-major, as HF `Linear` stores it) quantised to int8 per output
/// channel and packed into the kernels' panel layout.
#[derive(Clone, Debug)]
pub struct PackedI8 {
    n: usize,
    k: usize,
    /// K rounded up to a multiple of [`KG`].
    kp: usize,
    /// `ceil(n / NR)` panels of `kp * NR` int8.
    panels: Vec<i8>,
    /// Per output column (padding columns included, as 0): `Σ_k q[c, k]`, for the VNNI
    /// kernel's unsigned offset.
    colsum: Vec<i32>,
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

    /// Pack already quantised weights (`[n][k]` row-major, each in [-127, 127]) with their
    /// per-row scales.
    pub fn from_i8(q: &[i8], scales: Vec<f32>, n: usize, k: usize) -> PackedI8 {
        assert_eq!(q.len(), n * k);
        assert_eq!(scales.len(), n);
        assert!(
            q.iter().all(|&v| v != i8::MIN),
            "weights must lie in [-127, 127]"
        );
        let kp = k.next_multiple_of(KG);
        let np = n.div_ceil(NR);
        let mut panels = vec![0i8; np * kp * NR];
        let mut colsum = vec![0i32; np * NR];
        for c in 0..n {
            let (panel, col) = (c / NR, c % NR);
            let base = panel * kp * NR;
            for (kk, &v) in q[c * k..(c + 1) * k].iter().enumerate() {
                panels[base + (kk / KG) * KG * NR + col * KG + kk % KG] = v;
                colsum[c] += v as i32;
            }
        }
        PackedI8 {
            n,
            k,
            kp,
            panels,
            colsum,
            scales,
        }
    }

    pub fn rows(&self) -> usize {
        self.n
    }

    pub fn cols(&self) -> usize {
        self.k
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.panels.len() + self.colsum.len() * 4 + self.scales.len() * 4
    }
}

/// Quantise one row symmetrically to int8 in [-127, 127]; returns the scale (0 for an all-zero
/// row).
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

/// Activations quantised per row to int8 in [-127, 127] and stored as u8 `a + 128` (the VNNI
/// kernel's unsigned operand; the others flip the top bit back), K padded to a multiple of 4.
/// Reused across calls to avoid per-layer allocations.
#[derive(Clone, Debug, Default)]
pub struct QuantRows {
    m: usize,
    kp: usize,
    data: Vec<u8>,
    scales: Vec<f32>,
}

impl QuantRows {
    /// Quantise `x` (`[m][k]` row-major) in place of the previous contents.
    pub fn quantize(&mut self, x: &[f32], m: usize, k: usize) {
        assert_eq!(x.len(), m * k);
        let kp = k.next_multiple_of(KG);
        self.m = m;
        self.kp = kp;
        // Not cleared: every row's first k bytes are written below, and the pad bytes meet
        // zero weights (`PackedI8` pads with 0), so whatever they hold adds nothing.
        if self.data.len() < m * kp {
            self.data.resize(m * kp, OFFSET);
        }
        self.data.truncate(m * kp);
        self.scales.clear();
        self.scales.resize(m, 0.0);
        let rows = self.data.par_chunks_mut(kp).zip(self.scales.par_iter_mut());
        rows.zip(x.par_chunks(k.max(1)))
            .with_min_len(64)
            .for_each(|((q, s), row)| *s = super::ops::quantize_row_u8(row, q));
    }

    /// Rows already quantised (for tests): `q` is `[m][k]` int8 in [-127, 127].
    pub fn from_i8(q: &[i8], scales: Vec<f32>, m: usize, k: usize) -> QuantRows {
        assert_eq!(q.len(), m * k);
        assert!(
            q.iter().all(|&v| v != i8::MIN),
            "rows must lie in [-127, 127]"
        );
        let kp = k.next_multiple_of(KG);
        let mut data = vec![OFFSET; m * kp];
        for (d, s) in data.chunks_exact_mut(kp).zip(q.chunks_exact(k.max(1))) {
            for (d, &v) in d.iter_mut().zip(s) {
                *d = (v as u8) ^ OFFSET;
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

/// Raw output pointer shared by tasks that write disjoint parts of one buffer.
#[derive(Clone, Copy)]
pub(crate) struct OutPtr<T>(*mut T);
// SAFETY: every task writes a disjoint set of cells (see `run_tiles` and the attention).
unsafe impl<T> Send for OutPtr<T> {}
unsafe impl<T> Sync for OutPtr<T> {}

impl<T> OutPtr<T> {
    pub(crate) fn new(p: *mut T) -> OutPtr<T> {
        OutPtr(p)
    }

    /// A method (not `.0`) so that closures capture the whole `Send + Sync` wrapper.
    pub(crate) fn get(self) -> *mut T {
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
    // Few rows (a single message) give few row blocks: then narrower panel groups, so that
    // every thread gets work (about four tasks each), in even numbers of panels for the pairs.
    let threads = rayon::current_num_threads();
    let per_task = (mblocks * np / (4 * threads)).clamp(1, PG);
    let per_task = if per_task > 1 { per_task & !1 } else { 1 };
    let pgroups = np.div_ceil(per_task);
    let task = |t: usize| {
        let (mb, pg) = (t / pgroups, t % pgroups);
        let (m_lo, m_hi) = (mb * MB, ((mb + 1) * MB).min(m));
        let p_end = ((pg + 1) * per_task).min(np);
        let mut p = pg * per_task;
        // Every kernel stores (not adds) the first `rows` rows, and only those are read, so
        // the tile buffer is zeroed once per task, not per tile.
        let mut acc = [[[0i32; NR]; MR]; 2];
        while p < p_end {
            // Two panels at a time where the kernel gains from it (one broadcast of A feeds
            // both).
            let pair = kernel == Kernel::Vnni && p + 1 < p_end;
            let width = if pair { 2 } else { 1 };
            let wp = &w.panels[p * w.kp * NR..(p + width) * w.kp * NR];
            let colsum = &w.colsum[p * NR..(p + width) * NR];
            let mut m0 = m_lo;
            while m0 < m_hi {
                let rows = (m_hi - m0).min(MR);
                let ap = &a.data[m0 * a.kp..(m0 + rows) * a.kp];
                micro(kernel, ap, a.kp, rows, wp, colsum, &mut acc[..width]);
                for (i, acc) in acc[..width].iter().enumerate() {
                    tile(m0, rows, p + i, acc);
                }
                m0 += rows;
            }
            p += width;
        }
    };
    let tasks = mblocks * pgroups;
    // Rough MACs: below ~2M the fork/join costs more than it saves.
    if threads == 1 || m * w.n * w.kp < (1 << 21) {
        (0..tasks).for_each(task);
    } else {
        (0..tasks).into_par_iter().for_each(task);
    }
}

/// One tile: `rows` (1..=MR) rows of `a` (row stride `kp`) times `acc.len()` (1 or 2)
/// consecutive panels; `colsum` holds those panels' column sums.
#[inline]
fn micro(
    kernel: Kernel,
    a: &[u8],
    kp: usize,
    rows: usize,
    w: &[i8],
    colsum: &[i32],
    acc: &mut [[[i32; NR]; MR]],
) {
    debug_assert!(a.len() >= rows * kp && w.len() == acc.len() * kp * NR);
    debug_assert!(colsum.len() == acc.len() * NR);
    #[cfg(target_arch = "x86_64")]
    if kernel == Kernel::Vnni {
        // SAFETY: `Kernel::Vnni` is only handed out by `available` after checking avx512f and
        // avx512vnni; the slices cover every index read.
        unsafe {
            let (a, w, c) = (a.as_ptr(), w.as_ptr(), colsum.as_ptr());
            match (acc, rows) {
                ([x, y], 8) => vnni::pair::<8>(a, kp, w, c, x, y),
                ([x, y], 7) => vnni::pair::<7>(a, kp, w, c, x, y),
                ([x, y], 6) => vnni::pair::<6>(a, kp, w, c, x, y),
                ([x, y], 5) => vnni::pair::<5>(a, kp, w, c, x, y),
                ([x, y], 4) => vnni::pair::<4>(a, kp, w, c, x, y),
                ([x, y], 3) => vnni::pair::<3>(a, kp, w, c, x, y),
                ([x, y], 2) => vnni::pair::<2>(a, kp, w, c, x, y),
                ([x, y], _) => vnni::pair::<1>(a, kp, w, c, x, y),
                ([x], 8) => vnni::tile::<8>(a, kp, w, c, x),
                ([x], 7) => vnni::tile::<7>(a, kp, w, c, x),
                ([x], 6) => vnni::tile::<6>(a, kp, w, c, x),
                ([x], 5) => vnni::tile::<5>(a, kp, w, c, x),
                ([x], 4) => vnni::tile::<4>(a, kp, w, c, x),
                ([x], 3) => vnni::tile::<3>(a, kp, w, c, x),
                ([x], 2) => vnni::tile::<2>(a, kp, w, c, x),
                ([x], _) => vnni::tile::<1>(a, kp, w, c, x),
                _ => unreachable!("one or two panels"),
            }
        }
        return;
    }
    for (i, acc) in acc.iter_mut().enumerate() {
        let w = &w[i * kp * NR..(i + 1) * kp * NR];
        match kernel {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => {
                // SAFETY: `Kernel::Avx2` is only handed out by `available` after
                // `is_x86_feature_detected!("avx2")`; the slices cover every index read.
                unsafe {
                    let (a, w) = (a.as_ptr(), w.as_ptr());
                    let (top, rest) = acc.split_at_mut(4);
                    let top: &mut [[i32; NR]; 4] = top.try_into().unwrap();
                    let rest: &mut [[i32; NR]; 4] = rest.try_into().unwrap();
                    match rows {
                        8 => {
                            avx2::tile::<4>(a, kp, w, top);
                            avx2::tile::<4>(a.add(4 * kp), kp, w, rest);
                        }
                        7 => {
                            avx2::tile::<4>(a, kp, w, top);
                            avx2::tile::<3>(a.add(4 * kp), kp, w, rest);
                        }
                        6 => {
                            avx2::tile::<4>(a, kp, w, top);
                            avx2::tile::<2>(a.add(4 * kp), kp, w, rest);
                        }
                        5 => {
                            avx2::tile::<4>(a, kp, w, top);
                            avx2::tile::<1>(a.add(4 * kp), kp, w, rest);
                        }
                        4 => avx2::tile::<4>(a, kp, w, top),
                        3 => avx2::tile::<3>(a, kp, w, top),
                        2 => avx2::tile::<2>(a, kp, w, top),
                        _ => avx2::tile::<1>(a, kp, w, top),
                    }
                }
            }
            _ => scalar_tile(a, kp, rows, w, acc),
        }
    }
}

fn scalar_tile(a: &[u8], kp: usize, rows: usize, w: &[i8], acc: &mut [[i32; NR]; MR]) {
    for (r, acc_row) in acc.iter_mut().enumerate().take(rows) {
        let arow = &a[r * kp..(r + 1) * kp];
        acc_row.fill(0);
        for (group, wk) in arow.chunks_exact(KG).zip(w.chunks_exact(KG * NR)) {
            for (c, out) in acc_row.iter_mut().enumerate() {
                let wc = &wk[KG * c..KG * (c + 1)];
                *out += group
                    .iter()
                    .zip(wc)
                    .map(|(&x, &y)| (x as i32 - OFFSET as i32) * y as i32)
                    .sum::<i32>();
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{KG, NR};
    use std::arch::x86_64::*;

    /// `R` rows x 16 columns into `out[..R]`; `a` points at row 0 (row stride `kp` bytes), `w`
    /// at the panel.
    #[target_feature(enable = "avx2")]
    pub unsafe fn tile<const R: usize>(
        a: *const u8,
        kp: usize,
        w: *const i8,
        out: &mut [[i32; NR]; 4],
    ) {
        let ones = _mm256_set1_epi16(1);
        let flip = _mm256_set1_epi8(i8::MIN);
        let mut lo = [_mm256_setzero_si256(); R];
        let mut hi = [_mm256_setzero_si256(); R];
        for g in 0..kp / KG {
            let w0 = _mm256_loadu_si256(w.add(g * KG * NR) as *const __m256i);
            let w1 = _mm256_loadu_si256(w.add(g * KG * NR + 32) as *const __m256i);
            for r in 0..R {
                // A[r, 4g..4g+4] in every 32-bit lane; |a| is the unsigned operand and the
                // weights take a's sign, so each product keeps its value and pairs fit i16.
                let av = _mm256_set1_epi32((a.add(r * kp + g * KG) as *const i32).read_unaligned());
                let av = _mm256_xor_si256(av, flip);
                let abs = _mm256_abs_epi8(av);
                let p0 = _mm256_maddubs_epi16(abs, _mm256_sign_epi8(w0, av));
                let p1 = _mm256_maddubs_epi16(abs, _mm256_sign_epi8(w1, av));
                lo[r] = _mm256_add_epi32(lo[r], _mm256_madd_epi16(p0, ones));
                hi[r] = _mm256_add_epi32(hi[r], _mm256_madd_epi16(p1, ones));
            }
        }
        for r in 0..R {
            _mm256_storeu_si256(out[r].as_mut_ptr() as *mut __m256i, lo[r]);
            _mm256_storeu_si256(out[r].as_mut_ptr().add(8) as *mut __m256i, hi[r]);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use super::{KG, MR, NR};
    use std::arch::x86_64::*;

    /// `R` rows x 16 columns; `a` points at row 0 (row stride `kp` bytes, stored `a + 128`),
    /// `w` at the panel, `colsum` at its 16 column sums.
    #[target_feature(enable = "avx512f,avx512vnni")]
    pub unsafe fn tile<const R: usize>(
        a: *const u8,
        kp: usize,
        w: *const i8,
        colsum: *const i32,
        out: &mut [[i32; NR]; MR],
    ) {
        let mut acc = [_mm512_setzero_si512(); R];
        for g in 0..kp / KG {
            let wv = _mm512_loadu_si512(w.add(g * KG * NR) as *const __m512i);
            for (r, acc) in acc.iter_mut().enumerate() {
                let av = _mm512_set1_epi32((a.add(r * kp + g * KG) as *const i32).read_unaligned());
                *acc = _mm512_dpbusd_epi32(*acc, av, wv);
            }
        }
        store::<R>(&acc, colsum, out);
    }

    /// Like [`tile`] over two consecutive panels (32 columns): each broadcast of `A` feeds
    /// two `vpdpbusd`.
    #[target_feature(enable = "avx512f,avx512vnni")]
    pub unsafe fn pair<const R: usize>(
        a: *const u8,
        kp: usize,
        w: *const i8,
        colsum: *const i32,
        out0: &mut [[i32; NR]; MR],
        out1: &mut [[i32; NR]; MR],
    ) {
        let mut acc0 = [_mm512_setzero_si512(); R];
        let mut acc1 = [_mm512_setzero_si512(); R];
        let w1 = w.add(kp * NR);
        for g in 0..kp / KG {
            let wv0 = _mm512_loadu_si512(w.add(g * KG * NR) as *const __m512i);
            let wv1 = _mm512_loadu_si512(w1.add(g * KG * NR) as *const __m512i);
            for r in 0..R {
                let av = _mm512_set1_epi32((a.add(r * kp + g * KG) as *const i32).read_unaligned());
                acc0[r] = _mm512_dpbusd_epi32(acc0[r], av, wv0);
                acc1[r] = _mm512_dpbusd_epi32(acc1[r], av, wv1);
            }
        }
        store::<R>(&acc0, colsum, out0);
        store::<R>(&acc1, colsum.add(NR), out1);
    }

    /// `out[r] = acc[r] - 128 colsum`: Σ (a + 128) w = Σ a w + 128 Σ w.
    #[target_feature(enable = "avx512f")]
    unsafe fn store<const R: usize>(
        acc: &[__m512i; R],
        colsum: *const i32,
        out: &mut [[i32; NR]; MR],
    ) {
        let offset = _mm512_slli_epi32::<7>(_mm512_loadu_si512(colsum as *const __m512i));
        for r in 0..R {
            _mm512_storeu_si512(
                out[r].as_mut_ptr() as *mut __m512i,
                _mm512_sub_epi32(acc[r], offset),
            );
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
        let cols = p * NR..p * NR + c_hi;
        let tile = Tile {
            out: ptr,
            stride: n,
            m0,
            col0: p * NR,
        };
        // SAFETY: rows m0 .. m0 + rows, columns `cols` are inside `out` and written by this
        // tile only.
        unsafe {
            dequant_tile(
                tile,
                acc,
                &a.scales[m0..m0 + rows],
                &w.scales[cols.clone()],
                &bias[cols],
            )
        };
    });
}

/// Where a tile's f32 results go: `out[(m0 + r) * stride + col0 + c]`.
#[derive(Clone, Copy)]
struct Tile {
    out: OutPtr<f32>,
    stride: usize,
    m0: usize,
    col0: usize,
}

/// `out[r][c] = acc[r][c] · (sa[r] · ws[c]) + bs[c]` for `sa.len()` rows and `ws.len()` columns
/// (a full tile row is a fixed 16 wide, so it vectorises without a remainder loop).
///
/// # Safety
/// `tile` must address writable cells for every (row, column) of the tile, owned by the caller.
unsafe fn dequant_tile(tile: Tile, acc: &[[i32; NR]; MR], sa: &[f32], ws: &[f32], bs: &[f32]) {
    simd_fn! {
        fn rows(tile: Tile, acc: &[[i32; NR]; MR], sa: &[f32], ws: &[f32], bs: &[f32]) {
            for (r, (acc, &sa)) in acc.iter().zip(sa).enumerate() {
                // SAFETY: guaranteed by `dequant_tile`'s caller.
                let dst = unsafe {
                    let start = tile.out.get().add((tile.m0 + r) * tile.stride + tile.col0);
                    std::slice::from_raw_parts_mut(start, ws.len())
                };
                if let (Ok(dst), Ok(ws), Ok(bs)) = (
                    <&mut [f32; NR]>::try_from(&mut *dst),
                    <&[f32; NR]>::try_from(ws),
                    <&[f32; NR]>::try_from(bs),
                ) {
                    for c in 0..NR {
                        dst[c] = acc[c] as f32 * (sa * ws[c]) + bs[c];
                    }
                } else {
                    for (((d, &v), &s), &b) in dst.iter_mut().zip(acc).zip(ws).zip(bs) {
                        *d = v as f32 * (sa * s) + b;
                    }
                }
            }
        }
    }
    rows(tile, acc, sa, ws, bs)
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
