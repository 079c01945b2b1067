//! The element-wise parts of the encoder: layer norm, softmax, GELU, with `exp` and `erf`
//! written so that they vectorise. [`dispatch`] runs a closure compiled for the best SIMD level
//! the CPU has (AVX-512, AVX2 + FMA, or the baseline), chosen at run time.

/// Runs `f` with the widest SIMD instructions this CPU supports enabled for the code inlined
/// into it (the kernels below are `#[inline(always)]` for that reason).
#[inline(always)]
pub fn dispatch<R>(f: impl FnOnce() -> R) -> R {
    pulp::Arch::new().dispatch(f)
}

const LANES: usize = 16;

#[inline(always)]
fn sum(x: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[inline(always)]
fn max(x: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail = chunks
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a = a.max(v);
        }
    }
    acc.iter().fold(tail, |m, &v| m.max(v))
}

/// `row ← (row − mean) / √(var + eps) · gamma + beta`.
#[inline(always)]
pub fn layer_norm(row: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let n = row.len() as f32;
    let mean = sum(row) / n;
    let mut acc = [0f32; LANES];
    let chunks = row.chunks_exact(LANES);
    let tail: f32 = chunks
        .remainder()
        .iter()
        .map(|v| (v - mean) * (v - mean))
        .sum();
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += (v - mean) * (v - mean);
        }
    }
    let var = (acc.iter().sum::<f32>() + tail) / n;
    let inv = 1.0 / (var + eps).sqrt();
    for ((x, g), b) in row.iter_mut().zip(gamma).zip(beta) {
        *x = (*x - mean) * inv * g + b;
    }
}

/// `row ← softmax(row)`.
#[inline(always)]
pub fn softmax(row: &mut [f32]) {
    let m = max(row);
    for x in row.iter_mut() {
        *x = exp(*x - m);
    }
    let inv = 1.0 / sum(row);
    for x in row.iter_mut() {
        *x *= inv;
    }
}

/// `row ← gelu(row + bias)`, with the exact (erf) GELU.
#[inline(always)]
pub fn bias_gelu(row: &mut [f32], bias: &[f32]) {
    for (x, b) in row.iter_mut().zip(bias) {
        let v = *x + b;
        *x = 0.5 * v * (1.0 + erf(v * std::f32::consts::FRAC_1_SQRT_2));
    }
}

/// `eˣ` within 2 ulp on the range where it is a normal f32 (Cephes' `expf`: reduction by
/// ln 2 in two parts, a degree-5 polynomial, the power of two put in the exponent bits).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + 0.5).floor();
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    y * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// `erf(x)` within 1.5e-7 (Abramowitz and Stegun 7.1.26).
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let mut p = 1.061_405_4_f32;
    p = p * t - 1.453_152_1;
    p = p * t + 1.421_413_8;
    p = p * t - 0.284_496_74;
    p = p * t + 0.254_829_6;
    let y = 1.0 - p * t * exp(-a * a);
    y.copysign(x)
}

/// The mean of `rows` (each `hidden` wide), L2-normalised.
pub fn mean_pool(rows: &[f32], hidden: usize) -> Vec<f32> {
    let mut out = vec![0f32; hidden];
    for row in rows.chunks_exact(hidden) {
        for (o, v) in out.iter_mut().zip(row) {
            *o += v;
        }
    }
    normalise(&mut out);
    out
}

/// Scales `v` to unit length (a zero vector stays zero).
pub fn normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= norm);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_a_few_ulp_of_the_standard_library() {
        let mut x = -87.0f32;
        while x < 88.0 {
            let (got, want) = (exp(x), x.exp());
            assert!(
                ((got - want) / want).abs() < 3e-7,
                "exp({x}) = {got}, want {want}"
            );
            x += 0.0137;
        }
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(-1000.0) >= 0.0 && exp(-1000.0) < 1e-37);
    }

    #[test]
    fn erf_is_within_its_bound_and_odd() {
        // Reference values of erf (Abramowitz and Stegun, table 7.1).
        for (x, want) in [
            (0.0f32, 0.0f32),
            (0.1, 0.112_462_92),
            (0.5, 0.520_499_9),
            (1.0, 0.842_700_8),
            (1.5, 0.966_105_16),
            (2.0, 0.995_322_3),
            (3.0, 0.999_977_9),
        ] {
            assert!(
                (erf(x) - want).abs() < 2e-7,
                "erf({x}) = {}, want {want}",
                erf(x)
            );
            assert_eq!(erf(-x), -erf(x));
        }
        assert_eq!(erf(40.0), 1.0);
    }

    #[test]
    fn softmax_sums_to_one_and_keeps_the_order() {
        let mut row: Vec<f32> = (0..37).map(|i| (i as f32 * 0.37).sin() * 20.0).collect();
        let before = row.clone();
        dispatch(|| softmax(&mut row));
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        let m = before.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let z: f32 = before.iter().map(|v| (v - m).exp()).sum();
        for (got, x) in row.iter().zip(&before) {
            assert!((got - (x - m).exp() / z).abs() < 1e-6);
        }
    }

    #[test]
    fn layer_norm_centres_and_scales_each_row() {
        let mut row: Vec<f32> = (0..384).map(|i| (i as f32).cos() * 3.0 + 1.5).collect();
        let gamma = vec![2.0; 384];
        let beta = vec![0.5; 384];
        dispatch(|| layer_norm(&mut row, &gamma, &beta, 1e-12));
        let mean = row.iter().sum::<f32>() / 384.0;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / 384.0;
        assert!((mean - 0.5).abs() < 1e-4, "{mean}");
        assert!((var - 4.0).abs() < 1e-3, "{var}");
    }

    #[test]
    fn gelu_matches_its_definition() {
        let mut row: Vec<f32> = (-40..39).map(|i| i as f32 * 0.1).collect();
        let bias = vec![0.1; row.len()];
        let want: Vec<f32> = row
            .iter()
            .map(|&x| {
                let v = f64::from(x) + f64::from(0.1f32);
                (0.5 * v * (1.0 + libm_erf(v / std::f64::consts::SQRT_2))) as f32
            })
            .collect();
        dispatch(|| bias_gelu(&mut row, &bias));
        for (g, w) in row.iter().zip(&want) {
            assert!((g - w).abs() < 1e-6, "{g} vs {w}");
        }
    }

    /// erf in f64 by its Taylor series (exact enough for |x| ≤ 3), as an independent reference.
    fn libm_erf(x: f64) -> f64 {
        assert!(x.abs() <= 3.0);
        let mut term = x;
        let mut total = x;
        let mut n = 0.0;
        while term.abs() > 1e-17 {
            n += 1.0;
            term *= -x * x / n;
            total += term / (2.0 * n + 1.0);
        }
        total * 2.0 / std::f64::consts::PI.sqrt()
    }
}
