//! Post-hoc temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural
//! Networks"): one scalar `T > 0` divides every logit, fitted on a validation split to
//! minimise the negative log-likelihood, which leaves the arg-max (and so the accuracy)
//! unchanged and typically lowers the calibration error.
//!
//! Logits are a row-major `&[f32]` with `num_classes` columns, one row per label; every
//! computation is in `f64` with log-sum-exp shifted by the row maximum, so logits of
//! ±1e4 (or larger) neither overflow nor underflow.

use serde::{Deserialize, Serialize};

use crate::calibration::{brier_score, expected_calibration_error, log_loss};
use crate::error::{MetricsError, Result, check_classes, check_num_classes};
use crate::model::ECE_BINS;

/// Bounds of the fitted temperature, relative to the logits' largest within-row spread
/// `s` (the largest `max − min` of a row): [`fit_temperature`] returns a `T` in
/// `[s / F, s · F]` with `F = 1e6`.
///
/// At `T = s / F` the scaled logits of every row differ by up to `10⁶` (probabilities are
/// one-hot to `f64` precision); at `T = s · F` by at most `10⁻⁶` (uniform). Because the
/// bounds scale with the logits, `fit_temperature(c · z) = c · fit_temperature(z)` holds
/// for every `c > 0`, bounds included.
pub const TEMPERATURE_BOUND_FACTOR: f64 = 1e6;

/// Relative tolerance on the NLL derivative (in units of the spread `s`) at which the
/// solver stops.
const DERIVATIVE_TOLERANCE: f64 = 1e-12;

/// Iteration cap of the safeguarded Newton solver; geometric bisection alone converges
/// over the whole bracket in under 60 steps.
const MAX_ITERATIONS: usize = 200;

/// Calibration of one set of probabilities: the three figures [`calibrate`] compares.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalibrationFigures {
    /// Expected calibration error with [`ECE_BINS`] bins
    /// ([`crate::expected_calibration_error`]).
    pub ece: f64,
    /// Mean negative log-likelihood ([`crate::log_loss`], clipped at 1e-15).
    pub log_loss: f64,
    /// Brier score ([`crate::brier_score`]).
    pub brier: f64,
}

/// Effect of temperature scaling on a test split: the temperature fitted on the validation
/// split, and the test split's calibration at `T = 1` (before) and at that temperature
/// (after).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalibrationChange {
    /// Temperature fitted on the validation split by [`fit_temperature`].
    pub temperature: f64,
    /// Test-split figures of `softmax(logits)`.
    pub before: CalibrationFigures,
    /// Test-split figures of `softmax(logits / temperature)`.
    pub after: CalibrationFigures,
}

/// Checks `num_classes`, a non-empty label list in range, a logit matrix with one row per
/// label and finite logits.
fn check_logits(
    what: &'static str,
    logits: &[f32],
    num_classes: usize,
    labels_what: &'static str,
    labels: &[usize],
) -> Result<()> {
    check_num_classes(num_classes)?;
    if labels.is_empty() {
        return Err(MetricsError::Empty { what: labels_what });
    }
    let expected = labels.len().checked_mul(num_classes);
    if expected != Some(logits.len()) {
        return Err(MetricsError::ShapeMismatch {
            what,
            len: logits.len(),
            rows: labels.len(),
            num_classes,
            expected: expected.unwrap_or(usize::MAX),
        });
    }
    check_finite(what, logits)?;
    check_classes(labels_what, labels, num_classes)
}

/// Checks every value is finite.
fn check_finite(what: &'static str, values: &[f32]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(MetricsError::NonFinite {
            what,
            index,
            value: values[index],
        }),
        None => Ok(()),
    }
}

/// Checks a temperature is finite and positive.
fn check_temperature(temperature: f64) -> Result<()> {
    if !(temperature.is_finite() && temperature > 0.0) {
        return Err(MetricsError::InvalidArgument {
            what: "temperature",
            reason: format!("must be finite and > 0, got {temperature}"),
        });
    }
    Ok(())
}

/// The single temperature `T > 0` minimising the mean negative log-likelihood
/// `mean_i [logsumexp(z_i / T) − z_i[y_i] / T]` of `softmax(logits / T)`.
///
/// Solved exactly in `β = 1/T`, where the NLL is convex: its derivative is
/// `mean_i (E_p[z_i] − z_i[y_i])` and its second derivative `mean_i Var_p(z_i)` (`p` the
/// scaled softmax of the row). A safeguarded Newton iteration (geometric bisection
/// whenever a Newton step leaves the bracket or stalls) drives the derivative to within
/// `1e-12 · s` of zero, `s` being the largest within-row spread `max − min`. Edge cases:
///
/// * **Constant rows** — every row has all logits equal (`s = 0`): the NLL does not depend
///   on `T`; returns `T = 1`.
/// * **Separable** — every row's label attains the row maximum: the NLL keeps decreasing
///   as `T → 0`; returns the lower bound `s / TEMPERATURE_BOUND_FACTOR`
///   ([`TEMPERATURE_BOUND_FACTOR`]).
/// * The optimum lies outside `[s / F, s · F]` (e.g. `T = ∞`, when the labels sit below
///   the row means on average so uniform probabilities are best): returns the nearer
///   bound.
///
/// Errors on `num_classes < 2`, no labels, `logits.len() != labels.len() · num_classes`,
/// a non-finite logit or a label `>= num_classes`.
pub fn fit_temperature(logits: &[f32], num_classes: usize, labels: &[usize]) -> Result<f64> {
    check_logits("logits", logits, num_classes, "labels", labels)?;
    Ok(fit_checked(logits, num_classes, labels))
}

/// [`fit_temperature`] on validated input.
fn fit_checked(logits: &[f32], num_classes: usize, labels: &[usize]) -> f64 {
    let rows = || logits.chunks_exact(num_classes).zip(labels);
    let spread = rows()
        .map(|(row, _)| {
            let (lo, hi) = min_max(row);
            hi - lo
        })
        .fold(0.0f64, f64::max);
    if spread == 0.0 {
        return 1.0;
    }
    let t_min = spread / TEMPERATURE_BOUND_FACTOR;
    let t_max = spread * TEMPERATURE_BOUND_FACTOR;
    let separable = rows().all(|(row, &y)| f64::from(row[y]) == min_max(row).1);
    if separable {
        return t_min;
    }
    let derivative = |beta: f64| nll_derivatives(logits, num_classes, labels, beta);
    let (mut lo, mut hi) = (1.0 / t_max, 1.0 / t_min);
    if derivative(lo).0 >= 0.0 {
        return t_max;
    }
    if derivative(hi).0 <= 0.0 {
        return t_min;
    }
    let tolerance = DERIVATIVE_TOLERANCE * spread;
    let mut beta = 1.0f64.clamp(lo, hi);
    let mut last_step = hi - lo;
    for _ in 0..MAX_ITERATIONS {
        let (d1, d2) = derivative(beta);
        if d1.abs() <= tolerance {
            break;
        }
        if d1 < 0.0 {
            lo = beta;
        } else {
            hi = beta;
        }
        let newton = beta - d1 / d2;
        let next =
            if d2 > 0.0 && newton > lo && newton < hi && (newton - beta).abs() * 2.0 <= last_step {
                newton
            } else {
                (lo * hi).sqrt()
            };
        last_step = (next - beta).abs();
        beta = next;
        if hi - lo <= 4.0 * f64::EPSILON * hi || last_step <= f64::EPSILON * beta {
            break;
        }
    }
    (1.0 / beta).clamp(t_min, t_max)
}

/// Smallest and largest value of a row, in `f64`.
fn min_max(row: &[f32]) -> (f64, f64) {
    row.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(f64::from(v)), hi.max(f64::from(v)))
        })
}

/// First and second derivative in `β` of the mean NLL of `softmax(β · z)`:
/// `mean_i (E_p[z_i] − z_i[y_i])` and `mean_i Var_p(z_i)`. Logits are shifted by their
/// row maximum so `β · (z − max) <= 0` and nothing overflows.
fn nll_derivatives(logits: &[f32], num_classes: usize, labels: &[usize], beta: f64) -> (f64, f64) {
    let (mut d1, mut d2) = (0.0f64, 0.0f64);
    let mut weights = vec![0.0f64; num_classes];
    for (row, &y) in logits.chunks_exact(num_classes).zip(labels) {
        let max = min_max(row).1;
        let centred = |v: f32| f64::from(v) - max;
        let mut total = 0.0;
        for (w, &v) in weights.iter_mut().zip(row) {
            *w = (beta * centred(v)).exp();
            total += *w;
        }
        let mean: f64 = weights
            .iter()
            .zip(row)
            .map(|(w, &v)| w * centred(v))
            .sum::<f64>()
            / total;
        let var: f64 = weights
            .iter()
            .zip(row)
            .map(|(w, &v)| w * (centred(v) - mean).powi(2))
            .sum::<f64>()
            / total;
        d1 += mean - centred(row[y]);
        d2 += var;
    }
    let n = labels.len() as f64;
    (d1 / n, d2 / n)
}

/// Every logit divided by `temperature` (in `f64`, rounded to `f32`).
///
/// Infallible and unchecked: a very small temperature can overflow to `±∞`, and a zero,
/// negative or non-finite one gives meaningless values. Use [`softmax_with_temperature`]
/// for validated probabilities computed without the `f32` round trip.
pub fn scale_logits(logits: &[f32], temperature: f64) -> Vec<f32> {
    logits
        .iter()
        .map(|&z| (f64::from(z) / temperature) as f32)
        .collect()
}

/// Row-wise `softmax(logits / temperature)` of a row-major matrix with `num_classes`
/// columns, computed in `f64` with each row shifted by its maximum (stable for any finite
/// logits and temperature).
///
/// Errors on `num_classes < 2`, empty logits, a length that is not a multiple of
/// `num_classes`, a non-finite logit, or a temperature that is not finite and `> 0`.
pub fn softmax_with_temperature(
    logits: &[f32],
    num_classes: usize,
    temperature: f64,
) -> Result<Vec<f32>> {
    crate::error::rows_of("logits", logits, num_classes)?;
    check_finite("logits", logits)?;
    check_temperature(temperature)?;
    Ok(softmax_checked(logits, num_classes, temperature))
}

/// [`softmax_with_temperature`] on validated input.
fn softmax_checked(logits: &[f32], num_classes: usize, temperature: f64) -> Vec<f32> {
    let mut out = Vec::with_capacity(logits.len());
    let mut weights = vec![0.0f64; num_classes];
    for row in logits.chunks_exact(num_classes) {
        let max = min_max(row).1;
        let mut total = 0.0;
        for (w, &v) in weights.iter_mut().zip(row) {
            *w = ((f64::from(v) - max) / temperature).exp();
            total += *w;
        }
        out.extend(weights.iter().map(|w| (w / total) as f32));
    }
    out
}

/// ECE, log-loss and Brier score of `softmax(logits / temperature)`.
fn figures(
    logits: &[f32],
    num_classes: usize,
    labels: &[usize],
    temperature: f64,
) -> Result<CalibrationFigures> {
    let probs = softmax_checked(logits, num_classes, temperature);
    Ok(CalibrationFigures {
        ece: expected_calibration_error(&probs, num_classes, labels, ECE_BINS)?,
        log_loss: log_loss(&probs, num_classes, labels)?,
        brier: brier_score(&probs, num_classes, labels)?,
    })
}

/// Temperature scaling end to end: fits `T` on the validation split
/// ([`fit_temperature`]) and reports the test split's ECE ([`ECE_BINS`] bins), log-loss
/// and Brier score before (`T = 1`) and after scaling by `T`.
///
/// Both splits are validated as in [`fit_temperature`] (errors name `valid_logits`,
/// `valid_labels`, `test_logits` or `test_labels`).
pub fn calibrate(
    valid_logits: &[f32],
    valid_labels: &[usize],
    test_logits: &[f32],
    test_labels: &[usize],
    num_classes: usize,
) -> Result<CalibrationChange> {
    check_logits(
        "valid_logits",
        valid_logits,
        num_classes,
        "valid_labels",
        valid_labels,
    )?;
    check_logits(
        "test_logits",
        test_logits,
        num_classes,
        "test_labels",
        test_labels,
    )?;
    let temperature = fit_checked(valid_logits, num_classes, valid_labels);
    Ok(CalibrationChange {
        temperature,
        before: figures(test_logits, num_classes, test_labels, 1.0)?,
        after: figures(test_logits, num_classes, test_labels, temperature)?,
    })
}

#[cfg(test)]
#[path = "temperature_tests.rs"]
mod tests;
