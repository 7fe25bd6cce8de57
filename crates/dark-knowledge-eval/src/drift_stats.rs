//! Statistics helpers behind the drift measures: type-7 quantiles, the interpolated
//! reference CDF and Kolmogorov–Smirnov distance, and the χ² upper-tail p-value (via
//! `ln Γ` and the regularized incomplete gamma `Q`).

/// Quantile `p ∈ [0, 1]` of sorted, non-empty `sorted` by linear interpolation between
/// order statistics (type 7, NumPy's default): position `p · (n − 1)`.
pub(crate) fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    let pos = p.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, frac) = (pos.floor() as usize, pos.fract());
    match sorted.get(lo + 1) {
        Some(&hi) if frac > 0.0 => sorted[lo] + frac * (hi - sorted[lo]),
        _ => sorted[lo],
    }
}

/// Reference CDF interpolated linearly between `quantiles` (at probabilities
/// `k / (len − 1)`): `F(x)` when `left` is false, the left limit `F(x−)` when true.
pub(crate) fn interpolated_cdf(quantiles: &[f64], x: f64, left: bool) -> f64 {
    let step = 1.0 / (quantiles.len().max(2) - 1) as f64;
    // `k` = number of quantiles below x (left limit) or at most x.
    let k = if left {
        quantiles.partition_point(|&q| q < x)
    } else {
        quantiles.partition_point(|&q| q <= x)
    };
    if k == 0 {
        return 0.0;
    }
    if k == quantiles.len() {
        return 1.0;
    }
    let (lo, hi) = (quantiles[k - 1], quantiles[k]);
    let frac = if hi > lo { (x - lo) / (hi - lo) } else { 0.0 };
    ((k - 1) as f64 + frac) * step
}

/// `sup_x |F(x) − F_cur(x)|` for sorted, non-empty `sorted` and a monotone `cdf(x, left)`:
/// checked on both sides of every jump of the empirical CDF, which is where it peaks.
pub(crate) fn ks_distance(sorted: &[f64], cdf: impl Fn(f64, bool) -> f64) -> f64 {
    let n = sorted.len() as f64;
    let mut d = 0.0f64;
    let mut start = 0;
    while start < sorted.len() {
        let x = sorted[start];
        let end = start + sorted[start..].partition_point(|&v| v <= x);
        d = d.max((cdf(x, true) - start as f64 / n).abs());
        d = d.max((cdf(x, false) - end as f64 / n).abs());
        start = end;
    }
    d
}

/// `ln Γ(x)` for `x > 0` (Lanczos approximation, Numerical Recipes' `gammln`, relative
/// error below 2e-10).
fn ln_gamma(x: f64) -> f64 {
    const COF: [f64; 6] = [
        76.180_091_729_471_46,
        -86.505_320_329_416_77,
        24.014_098_240_830_91,
        -1.231_739_572_450_155,
        0.001_208_650_973_866_179,
        -0.000_005_395_239_384_953,
    ];
    let tmp = x + 5.5 - (x + 0.5) * (x + 5.5).ln();
    let mut ser = 1.000_000_000_190_015;
    for (j, c) in COF.iter().enumerate() {
        ser += c / (x + 1.0 + j as f64);
    }
    -tmp + (2.506_628_274_631_000_5 * ser / x).ln()
}

/// Regularized upper incomplete gamma `Q(a, x) = Γ(a, x) / Γ(a)` for `a > 0`, `x >= 0`:
/// the series for `P = 1 − Q` when `x < a + 1`, else the continued fraction (modified
/// Lentz), as Numerical Recipes' `gammq`. Converges to 1e-14 relative.
pub(crate) fn gamma_q(a: f64, x: f64) -> f64 {
    const EPS: f64 = 1e-14;
    const TINY: f64 = 1e-300;
    const MAX_ITER: usize = 1000;
    if x <= 0.0 {
        return 1.0;
    }
    let log_prefix = -x + a * x.ln() - ln_gamma(a);
    if x < a + 1.0 {
        let (mut ap, mut del) = (a, 1.0 / a);
        let mut sum = del;
        for _ in 0..MAX_ITER {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * EPS {
                break;
            }
        }
        return (1.0 - sum * log_prefix.exp()).clamp(0.0, 1.0);
    }
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / TINY;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..=MAX_ITER {
        let an = -(i as f64) * (i as f64 - a);
        b += 2.0;
        d = an * d + b;
        d = if d.abs() < TINY { TINY } else { d };
        c = b + an / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < EPS {
            break;
        }
    }
    (log_prefix.exp() * h).clamp(0.0, 1.0)
}

/// Upper-tail p-value `P(X >= chi_square)` of a χ² distribution with `dof > 0` degrees of
/// freedom: `Q(dof / 2, chi_square / 2)`. NaN input gives NaN.
pub fn chi_square_p_value(chi_square: f64, dof: f64) -> f64 {
    if chi_square.is_nan() || dof.is_nan() || dof <= 0.0 {
        return f64::NAN;
    }
    gamma_q(dof / 2.0, chi_square / 2.0)
}
