//! Float32 building blocks that keep their digits for confident and extreme logits.
//!
//! The textbook forms lose exactly the digits the distillation losses need: with
//! `log p_y = z_y/T − logsumexp(z/T)`, a class with `p_y = 1 − 1e-7` gets a log-probability
//! that is a rounding error of `z_y/T`, and `KL = Σ p (log p − log q)` between two near-one-hot
//! distributions is a small difference of nearly equal numbers. Here:
//!
//! - [`SoftmaxParts`]: the log-softmax of `z / T` as `d − log1p(S)`, with `d = (z − z_top)/T`
//!   (0 at the most likely class, the subtraction done before the division) and `S` the sum of
//!   `exp(d)` over the *other* classes. The top class's log-probability `−log1p(S)` and every
//!   other `d_c − log1p(S)` are exact to a few float32 roundings, however confident the row.
//! - [`kl_from_offsets`]: `KL(p ‖ q) = log Σ_c p_c e^{u_c}` with `u = log q − log p` centred
//!   under `p`, evaluated as `log1p(Σ_c p_c φ(u_c))`, `φ(u) = e^u − 1 − u ≥ 0`: a sum of
//!   non-negative terms, so nothing cancels, and `φ` of a small `u` comes from its series.
//!   Only the *differences* `log q − log p` enter, so callers pass them straight from the
//!   logits (`(z_s − z_t)/T` for KD), where they are exact.
//!
//! Gradients are those of these forms (burn's autodiff), which keep the same precision:
//! the KD gradient comes out as `p_s − p_t` computed from the same exact pieces.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};

/// Above this, `max_c(log p_c + u_c)` (a lower bound of the KL) is large enough that the
/// KL is taken in a direct form (log-sum-exp or textbook sum), where nothing is small, and
/// `e^(log p + u)` could overflow in the series form.
const LARGE_KL: f64 = 60.0;
/// `1 / k!` for k = 0..15. `φ(u) = e^u − 1 − u = u² Σ_k u^k / (k + 2)!` takes the terms from
/// `1/2!` on, used for `|u| < 1` (the first omitted term is below 1e-11 relative);
/// `expm1(x) = x Σ_k x^k / (k + 1)!` the terms `1/1!` to `1/11!`, used for `|x| < 0.5`.
const INV_FACTORIAL: [f64; 15] = [
    1.0,
    1.0,
    1.0 / 2.0,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5040.0,
    1.0 / 40320.0,
    1.0 / 362880.0,
    1.0 / 3628800.0,
    1.0 / 39916800.0,
    1.0 / 479001600.0,
    1.0 / 6227020800.0,
    1.0 / 87178291200.0,
];

/// The softmax of `z / T` per row, in the pieces that keep its precision.
///
/// # Shapes
/// - `top`: `[batch_size, 1]`; `top_mask`, `shifted`: `[batch_size, num_classes]`;
///   `rest`, `log_norm`: `[batch_size, 1]`
#[derive(Debug, Clone)]
pub struct SoftmaxParts {
    /// The most likely class of each row (the first one on ties).
    pub top: Tensor<2, Int>,
    /// One-hot of `top`, as 0/1 floats.
    pub top_mask: Tensor<2>,
    /// `d = (z − z_top) / T`: 0 at the top class, ≤ 0 elsewhere.
    pub shifted: Tensor<2>,
    /// `S = Σ_{c ≠ top} exp(d_c)`, the other classes' mass relative to the top's.
    pub rest: Tensor<2>,
    /// `log1p(S)`, so that `log p = d − log1p(S)`.
    pub log_norm: Tensor<2>,
}

impl SoftmaxParts {
    /// The pieces of `softmax(logits / temperature)`.
    ///
    /// The top logit is subtracted through `gather`, so the gradient that flows through it
    /// reaches the same class the mask leaves out (on ties too).
    ///
    /// # Shapes
    /// - `logits`: `[batch_size, num_classes]`
    pub fn new(logits: Tensor<2>, temperature: f64) -> Self {
        let [batch_size, num_classes] = logits.dims();
        let top = logits.clone().detach().argmax(1);
        let top_value = logits.clone().gather(1, top.clone());
        let shifted = (logits - top_value).div_scalar(temperature);
        let top_mask = top
            .clone()
            .reshape([batch_size])
            .one_hot::<2>(num_classes)
            .float();
        let rest = (shifted.clone().exp() * complement(top_mask.clone())).sum_dim(1);
        let log_norm = rest.clone().log1p();
        Self {
            top,
            top_mask,
            shifted,
            rest,
            log_norm,
        }
    }

    /// `log softmax(z / T)`, shape `[batch_size, num_classes]`.
    pub fn log_probs(&self) -> Tensor<2> {
        self.shifted.clone() - self.log_norm.clone()
    }

    /// `softmax(z / T) = exp(d) / (1 + S)`, each entry to a few roundings (not through
    /// `exp(log p)`, whose rounding grows with `|log p|`).
    pub fn probs(&self) -> Tensor<2> {
        self.shifted.clone().exp() / self.rest.clone().add_scalar(1.0)
    }
}

/// `log softmax(logits / temperature)` per row, exact for confident rows (see the module
/// docs).
///
/// # Shapes
/// - `logits`: `[batch_size, num_classes]`
/// - output: `[batch_size, num_classes]`
pub fn log_softmax_stable(logits: Tensor<2>, temperature: f64) -> Tensor<2> {
    SoftmaxParts::new(logits, temperature).log_probs()
}

/// Per-row `KL(p ‖ q)` from `log p` and the offsets `delta = log q − log p` (any per-row
/// constant added to `delta` changes nothing).
///
/// Evaluated as `log1p(Σ_c p_c φ(u_c))` with `u = delta − Σ_c p_c delta_c` and
/// `φ(u) = e^u − 1 − u`, whose terms are all ≥ 0, or as `logsumexp_c(log p_c + u_c)` when
/// that is above 60 (where the series form would overflow and nothing is small). When
/// `log q` itself is at hand, [`kl_divergence_pair`] is more exact for a large KL.
///
/// # Shapes
/// - `log_p`, `delta`: `[batch_size, num_classes]`
/// - output: `[batch_size]`
pub fn kl_from_offsets(log_p: Tensor<2>, delta: Tensor<2>) -> Tensor<1> {
    let top = log_p.clone().detach().argmax(1);
    let p = log_p.clone().exp();
    let u = centred_offsets(&p, delta, top);
    kl_from_centred(log_p, p, u)
}

/// [`kl_from_offsets`] from `p`, `log p` and the offsets already centred
/// ([`centred_offsets`]), for callers that need `u` themselves.
pub(crate) fn kl_from_centred(log_p: Tensor<2>, p: Tensor<2>, u: Tensor<2>) -> Tensor<1> {
    let (series, x, max) = kl_series(log_p, p, u);
    let log_sum_exp = (x - max.clone()).exp().sum_dim(1).log() + max.clone();
    series
        .mask_where(max.greater_elem(LARGE_KL), log_sum_exp)
        .squeeze_dim(1)
}

/// Per-row `KL(p ‖ q)` from both log-probabilities and the offsets `delta` (`log q − log p`
/// up to a per-row constant, taken where it is exact, e.g. from the logits). A KL above 60
/// is the textbook `Σ p (log p − log q)`, exact there and with the gradient of `log q`
/// itself; below, the series of [`kl_from_offsets`].
///
/// # Shapes
/// - `log_p`, `log_q`, `delta`: `[batch_size, num_classes]`
/// - output: `[batch_size]`
pub fn kl_divergence_pair(log_p: Tensor<2>, log_q: Tensor<2>, delta: Tensor<2>) -> Tensor<1> {
    let top = log_p.clone().detach().argmax(1);
    kl_divergence_pair_at(log_p, log_q, delta, top)
}

/// [`kl_divergence_pair`] with the most likely class of `p` (`[batch_size, 1]`) known.
fn kl_divergence_pair_at(
    log_p: Tensor<2>,
    log_q: Tensor<2>,
    delta: Tensor<2>,
    top: Tensor<2, Int>,
) -> Tensor<1> {
    let p = log_p.clone().exp();
    let u = centred_offsets(&p, delta, top);
    let (series, _, max) = kl_series(log_p.clone(), p.clone(), u);
    let textbook = (p * (log_p - log_q)).sum_dim(1);
    series
        .mask_where(max.greater_elem(LARGE_KL), textbook)
        .squeeze_dim(1)
}

/// The series form `log1p(Σ p φ(u))`, `[batch_size, 1]`, from centred offsets `u`, with
/// `log p + u` and its row maximum (detached), which bounds the KL from below.
fn kl_series(log_p: Tensor<2>, p: Tensor<2>, u: Tensor<2>) -> (Tensor<2>, Tensor<2>, Tensor<2>) {
    let x = log_p + u.clone();
    let small = u.clone().abs().lower_elem(1.0);
    let near = p.clone() * phi_series(u.clone().clamp(-1.0, 1.0));
    // For |u| ≥ 1: p (e^u − 1 − u) = e^(log p + u) − p (1 + u), with nothing to cancel.
    let far = x.clone().clamp_max(LARGE_KL).exp() - p * u.add_scalar(1.0);
    let series = far.mask_where(small, near).sum_dim(1).log1p();
    let max = x.clone().detach().max_dim(1);
    (series, x, max)
}

/// Per-row `KL(softmax(teacher / T) ‖ softmax(student / T))`, from the logits: the offsets
/// are `(z_s − z_t) / T`, exact differences of the inputs. (From the facade:
/// `dark_knowledge::core::loss::kl_divergence_logits`.)
///
/// ```
/// use burn::tensor::{Device, Tensor, TensorData};
/// use dark_knowledge_core::loss::kl_divergence_logits;
///
/// // Two confident rows (p ≈ 1 − 1.5e-8 and 1 − 2.3e-7 at T = 2): the KL is ~1e-7, which
/// // the textbook float32 form cannot resolve.
/// let device = Device::flex();
/// let row = |v: [f32; 2]| Tensor::<2>::from_data(TensorData::new(v.to_vec(), [1, 2]), &device);
/// let kl = kl_divergence_logits(row([36.0, 0.0]), row([30.0, 0.0]), 2.0);
/// let value = f64::from(kl.into_scalar::<f32>());
/// let q = |g: f64| (-g / 2.0f64).exp() / (1.0 + (-g / 2.0f64).exp());
/// let (qt, qs) = (q(36.0), q(30.0));
/// let want = (1.0 - qt) * ((1.0 - qt) / (1.0 - qs)).ln() + qt * (qt / qs).ln();
/// assert!((value - want).abs() <= 1e-4 * want);
/// ```
///
/// # Shapes
/// - logits: `[batch_size, num_classes]`
/// - output: `[batch_size]`
pub fn kl_divergence_logits(
    teacher_logits: Tensor<2>,
    student_logits: Tensor<2>,
    temperature: f64,
) -> Tensor<1> {
    let teacher = SoftmaxParts::new(teacher_logits.clone(), temperature);
    let delta = (student_logits.clone() - teacher_logits).div_scalar(temperature);
    // Only rows with a KL above 60 take the textbook form, where the plain log-softmax's
    // rounding (~1e-7 · |z/T|) is far below the value.
    let log_q = log_softmax(student_logits.div_scalar(temperature), 1);
    kl_divergence_pair_at(teacher.log_probs(), log_q, delta, teacher.top)
}

/// `u = delta − Σ_c p_c delta_c`, with `delta` first shifted to 0 at the most likely class of
/// `p`: that class's `u` is then `−Σ_{c≠top} p_c (delta_c − delta_top)`, a sum of small
/// terms, not the difference of two nearly equal large ones.
/// `top` is that class, `[batch_size, 1]`.
pub(crate) fn centred_offsets(p: &Tensor<2>, delta: Tensor<2>, top: Tensor<2, Int>) -> Tensor<2> {
    // The result does not depend on the shift, so neither does its gradient: detached, it
    // sends no rounding noise back through one entry.
    let delta = delta.clone() - delta.gather(1, top).detach();
    delta.clone() - (p.clone() * delta).sum_dim(1)
}

/// `1 − x`.
pub(crate) fn complement<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    x.neg().add_scalar(1.0)
}

/// `log(1 + e^x)` without overflow or loss for negative `x`.
pub(crate) fn softplus<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    x.clone().clamp_min(0.0) + x.abs().neg().exp().log1p()
}

/// `e^x − 1`, from its series where `|x| < 0.5` (burn has no `expm1`).
pub(crate) fn expm1<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let small = x.clone().abs().lower_elem(0.5);
    let xc = x.clone().clamp(-0.5, 0.5);
    let series = horner(xc.clone(), &INV_FACTORIAL[1..12]) * xc;
    x.exp().sub_scalar(1.0).mask_where(small, series)
}

/// `φ(u) = e^u − 1 − u` from its series; meant for `|u| ≤ 1`.
fn phi_series<const D: usize>(u: Tensor<D>) -> Tensor<D> {
    horner(u.clone(), &INV_FACTORIAL[2..]) * u.clone() * u
}

/// `Σ_k c_k x^k` by Horner's rule.
fn horner<const D: usize>(x: Tensor<D>, coefficients: &[f64]) -> Tensor<D> {
    let (last, rest) = coefficients.split_last().expect("series have coefficients");
    rest.iter()
        .rev()
        .fold(x.zeros_like().add_scalar(*last), |acc, &c| {
            (acc * x.clone()).add_scalar(c)
        })
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, TensorData};

    use super::*;
    use crate::tensor_util::to_vec_f32;

    fn tensor(values: &[f32], shape: [usize; 2]) -> Tensor<2> {
        Tensor::from_data(TensorData::new(values.to_vec(), shape), &Device::flex())
    }

    #[test]
    fn series_match_the_functions_they_replace() {
        let xs: Vec<f32> = (-40..=40).map(|i| i as f32 / 40.0).collect();
        let n = xs.len();
        let e = to_vec_f32(expm1(tensor(&xs, [1, n])));
        let phi = to_vec_f32(phi_series(tensor(&xs, [1, n])));
        for ((&x, &e), &phi) in xs.iter().zip(&e).zip(&phi) {
            let x = f64::from(x);
            let (want_e, want_phi) = (x.exp_m1(), x.exp_m1() - x);
            assert!(
                (f64::from(e) - want_e).abs() <= 1e-7 * want_e.abs().max(1e-30),
                "{x}"
            );
            assert!(
                (f64::from(phi) - want_phi).abs() <= 2e-7 * want_phi.abs().max(1e-30),
                "{x}: {phi} vs {want_phi}"
            );
        }
    }

    #[test]
    fn the_top_class_of_a_confident_row_keeps_its_log_probability() {
        // p_top = 1 / (1 + e^-16) = 1 − 1.125e-7: log p_top = −1.125e-7, which the textbook
        // `z − logsumexp(z)` rounds to 0 or to a multiple of 2^-23 · 16.
        let parts = SoftmaxParts::new(tensor(&[16.0, 0.0], [1, 2]), 1.0);
        let got = to_vec_f32(parts.log_probs());
        let want = -(-16f64).exp().ln_1p();
        assert!(
            (f64::from(got[0]) - want).abs() <= 1e-6 * want.abs(),
            "{got:?}"
        );
        assert!((f64::from(got[1]) - (-16.0 + want)).abs() <= 1e-6);
    }

    #[test]
    fn kl_of_two_near_one_hot_rows_is_exact_and_zero_for_equal_rows() {
        let (zt, zs) = ([9.0f32, -9.0], [8.5f32, -9.0]);
        let kl = to_vec_f32(kl_divergence_logits(
            tensor(&zt, [1, 2]),
            tensor(&zs, [1, 2]),
            1.0,
        ))[0];
        let q = |g: f64| (-g).exp() / (1.0 + (-g).exp());
        let (a, b) = (q(18.0), q(17.5));
        let want = (1.0 - a) * ((1.0 - a) / (1.0 - b)).ln() + a * (a / b).ln();
        assert!(
            (f64::from(kl) - want).abs() <= 1e-5 * want,
            "{kl} vs {want}"
        );
        let same = to_vec_f32(kl_divergence_logits(
            tensor(&zt, [1, 2]),
            tensor(&zt, [1, 2]),
            1.0,
        ));
        assert_eq!(same, vec![0.0]);
    }

    #[test]
    fn a_huge_kl_takes_the_log_sum_exp_branch_without_overflow() {
        // The teacher is sure of class 0, the student of class 1 by 400 logits: KL ≈ 400.
        let kl = to_vec_f32(kl_divergence_logits(
            tensor(&[200.0, -200.0], [1, 2]),
            tensor(&[-200.0, 200.0], [1, 2]),
            1.0,
        ))[0];
        assert!((kl - 400.0).abs() < 1e-3, "{kl}");
    }
}
