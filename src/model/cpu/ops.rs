//! Fused element-wise kernels of the CPU forward pass: layer norm (with the residual add),
//! erf GELU, softmax, and the fast `exp` they share. Plain scalar code over slices, written so
//! that LLVM vectorises the inner loops (no calls into libm in hot loops: `f32::exp` is a
//! scalar call and would dominate the GELU over [tokens, 1536]).

/// `exp(x)` for f32 with a relative error of about 2e-7 over the range softmax and GELU use.
/// Cody-Waite range reduction (`x = n ln2 + r`, |r| <= ln2/2) and a degree-6 polynomial;
/// branch-free so that it vectorises. Inputs below -87 give 0, above 88 give a huge finite value.
#[inline(always)]
pub fn fast_exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let n = round_small(x * std::f32::consts::LOG2_E);
    // ln 2 split into a part exact in f32 and the rest.
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (0.166_666_67
                    + r * (0.041_666_668 + r * (0.008_333_334 + r * 0.001_388_889)))));
    // 2^n built from its exponent bits; n + 127 is an integer in [1, 254], read off the low
    // mantissa bits of `n + 127 + 1.5 * 2^23` (an `as i32` cast would not vectorise: Rust's
    // saturating conversion becomes scalar compares).
    let bits = (((n + 127.0) + MAGIC).to_bits() & 0xff) << 23;
    p * f32::from_bits(bits)
}

/// `erf(x)`, Abramowitz & Stegun 7.1.26 (absolute error <= 1.5e-7).
#[inline(always)]
fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let y = 1.0
        - t * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_8 + t * (-1.453_152_1 + t * 1.061_405_4))))
            * fast_exp(-a * a);
    y.copysign(x)
}

simd_fn! {
    /// In place: `x = 0.5 x (1 + erf(x / sqrt 2))`, the exact GELU of BERT
    /// (`hidden_act = "gelu"`).
    pub fn gelu_erf(xs: &mut [f32]) {
        for x in xs.iter_mut() {
            let v = *x;
            *x = 0.5 * v * (1.0 + erf(v * std::f32::consts::FRAC_1_SQRT_2));
        }
    }
}

simd_fn! {
    /// In place over rows of `w.len()`: `x = LayerNorm(x + residual) * w + b`; `residual` has
    /// the same shape as `x`. The residual add is fused here so the sum is never stored.
    pub fn add_layer_norm(x: &mut [f32], residual: &[f32], w: &[f32], b: &[f32], eps: f32) {
        let h = w.len();
        for (row, res) in x.chunks_exact_mut(h).zip(residual.chunks_exact(h)) {
            for (v, r) in row.iter_mut().zip(res) {
                *v += r;
            }
            layer_norm_row(row, w, b, eps);
        }
    }
}

simd_fn! {
    /// In place over rows of `w.len()`: `x = LayerNorm(x) * w + b`.
    pub fn layer_norm(x: &mut [f32], w: &[f32], b: &[f32], eps: f32) {
        for row in x.chunks_exact_mut(w.len()) {
            layer_norm_row(row, w, b, eps);
        }
    }
}

simd_fn! {
    /// Quantise `x` symmetrically to int8 `q` in [-127, 127], stored as u8 `q + 128` (the int8
    /// GEMM's activation operand); returns the scale (`x ≈ q * scale`, 0 for an all-zero or
    /// non-finite row).
    pub fn quantize_row_u8(x: &[f32], q: &mut [u8]) -> f32 {
        let max = max_abs(x);
        if max == 0.0 || !max.is_finite() {
            q.fill(128);
            return 0.0;
        }
        let inv = 127.0 / max;
        for (d, v) in q.iter_mut().zip(x) {
            // v * inv + 128 is in [1, 255] (max(1) also maps a NaN there, inside the kernels'
            // [-127, 127] contract); adding 1.5 * 2^23 rounds it to nearest even and leaves the
            // integer in the low mantissa byte, which vectorises where `as u8` does not.
            *d = ((v * inv + 128.0).max(1.0) + MAGIC).to_bits() as u8;
        }
        max / 127.0
    }
}

/// Round to nearest (ties to even) for |x| < 2^22, with two adds instead of `f32::round`
/// (a libm call on baseline x86-64, which stops vectorisation).
#[inline(always)]
pub fn round_small(x: f32) -> f32 {
    (x + MAGIC) - MAGIC
}

/// 1.5 * 2^23: adding it to |x| < 2^22 rounds x to an integer held in the low mantissa bits.
const MAGIC: f32 = 12_582_912.0;

#[inline(always)]
fn layer_norm_row(row: &mut [f32], w: &[f32], b: &[f32], eps: f32) {
    let n = row.len() as f32;
    // Two passes (mean, then centred variance) as torch and candle do: one-pass E[x^2]-E[x]^2
    // loses digits on BERT's large residual-stream values.
    let mean = sum(row) / n;
    let var = sum_sq_dev(row, mean) / n;
    let inv = 1.0 / (var + eps).sqrt();
    for ((v, w), b) in row.iter_mut().zip(w).zip(b) {
        *v = (*v - mean) * inv * w + b;
    }
}

/// Sum with 8 partial accumulators (vectorises; `iter().sum()` on f32 does not).
#[inline(always)]
pub fn sum(xs: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = xs.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            acc[i] += c[i];
        }
    }
    acc.iter().sum::<f32>() + rest.iter().sum::<f32>()
}

/// `Σ (x - mean)²` with 8 partial accumulators.
#[inline(always)]
fn sum_sq_dev(xs: &[f32], mean: f32) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = xs.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            acc[i] += (c[i] - mean) * (c[i] - mean);
        }
    }
    acc.iter().sum::<f32>() + rest.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>()
}

/// `max |x|` with 8 lanes (vectorises; a folded `f32::max` does not). NaN propagates as
/// "not finite" to the caller only if it lands in the result, like the scalar fold.
#[inline(always)]
pub fn max_abs(xs: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = xs.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            let a = c[i].abs();
            acc[i] = if a > acc[i] { a } else { acc[i] };
        }
    }
    acc.iter().chain(rest).fold(0f32, |m, v| m.max(v.abs()))
}

/// Dot product with 8 partial accumulators.
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let rest: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + rest
}

/// In place: a numerically stable softmax of one row.
pub fn softmax(row: &mut [f32]) {
    softmax_inline(row)
}

/// [`softmax`], inlined into the caller (for callers compiled for AVX2).
#[inline(always)]
pub fn softmax_inline(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for v in row.iter_mut() {
        *v = fast_exp(*v - max);
    }
    let inv = 1.0 / sum(row);
    for v in row.iter_mut() {
        *v *= inv;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_is_close_to_std() {
        let mut worst = 0f32;
        for i in -8700..=8800 {
            let x = i as f32 / 100.0;
            let rel = ((fast_exp(x) - x.exp()) / x.exp()).abs();
            worst = worst.max(rel);
        }
        assert!(worst < 1e-6, "worst relative error {worst}");
        assert_eq!(fast_exp(-1000.0), fast_exp(-87.0));
        assert!(fast_exp(-1000.0) < 1e-37);
    }

    #[test]
    fn gelu_matches_the_erf_definition() {
        // erf by its Taylor series / continued evaluation in f64 as the reference
        fn erf64(x: f64) -> f64 {
            // 1 - erfc via high-precision series for |x| < 3, else asymptotically 1
            if x.abs() > 5.0 {
                return x.signum();
            }
            let mut sum = 0f64;
            let mut term = x;
            let mut n = 0f64;
            while term.abs() > 1e-17 {
                sum += term / (2.0 * n + 1.0);
                n += 1.0;
                term *= -x * x / n;
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        }
        let xs: Vec<f32> = (-600..=600).map(|i| i as f32 / 100.0).collect();
        let mut g = xs.clone();
        gelu_erf(&mut g);
        for (x, y) in xs.iter().zip(&g) {
            let x64 = *x as f64;
            let want = 0.5 * x64 * (1.0 + erf64(x64 / std::f64::consts::SQRT_2));
            assert!(
                (*y as f64 - want).abs() < 2e-6,
                "gelu({x}) = {y}, want {want}"
            );
        }
    }

    #[test]
    fn round_small_rounds_to_nearest() {
        for (x, r) in [
            (0.4, 0.0),
            (0.6, 1.0),
            (-0.6, -1.0),
            (126.7, 127.0),
            (2.5, 2.0),
        ] {
            assert_eq!(round_small(x), r, "{x}");
        }
        let mut q = [0u8; 3];
        assert_eq!(quantize_row_u8(&[0.5, -1.0, 0.25], &mut q), 1.0 / 127.0);
        assert_eq!(q, [128 + 64, 128 - 127, 128 + 32]);
    }

    #[test]
    fn layer_norm_and_softmax() {
        let mut x = vec![1.0, 2.0, 3.0, 4.0, 10.0, 10.0, 10.0, 10.0];
        let res = vec![0.0; 8];
        add_layer_norm(&mut x, &res, &[1.0; 4], &[0.5; 4], 1e-12);
        let want = [-1.341_640_8, -0.447_213_6, 0.447_213_6, 1.341_640_8];
        for (a, b) in x[..4].iter().zip(want) {
            assert!((a - 0.5 - b).abs() < 1e-5, "{a} vs {b}");
        }
        assert!(x[4..].iter().all(|v| (v - 0.5).abs() < 1e-6));
        let mut s = vec![1.0, 2.0, 3.0, -1e30];
        softmax(&mut s);
        let e: Vec<f32> = [1.0f32, 2.0, 3.0].iter().map(|v| v.exp()).collect();
        let z: f32 = e.iter().sum();
        for (a, b) in s.iter().zip(&e) {
            assert!((a - b / z).abs() < 1e-6);
        }
        assert!(s[3] < 1e-30);
    }
}
