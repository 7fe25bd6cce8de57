//! The per-row divergences in float32, in forms that keep their digits for confident rows.
//!
//! - Forward and reverse KL are the core's [`kl_divergence_logits`] (offsets straight from
//!   the logits, a series where nothing cancels).
//! - The mixtures need the log-ratio itself, constant included: `r = log q − log p`. It is
//!   `r = δ − log Σ_c p_c e^{δ_c}` with `δ = (z_s − z_t) / T` shifted to 0 at the teacher's
//!   top class — exact differences of the inputs — and the log-sum taken as
//!   `log1p(Σ p (e^δ − 1))` with `e^δ − 1` from its series for small `δ` (so `r` of two
//!   nearly equal rows keeps its relative digits).
//! - `log m − log p` for `m = w p + (1 − w) q` is `log(w + (1 − w) e^r)`:
//!   `log1p((1 − w) expm1(r))` for `|r| < ½`, else the two-term log-sum-exp
//!   `b + softplus(log w − b)`, `b = log(1 − w) + r`. The KLs against `m` are then the core's
//!   [`kl_from_offsets`]; they are bounded (by `−log w`), so always in its series form.
//! - Total variation takes `q − p = p · expm1(r)` where `|r| < ½`, else `q − p` itself.
//!
//! Branches not taken get clamped inputs, so their (masked-out) gradients stay finite.

use burn::tensor::Tensor;
use dark_knowledge_core::loss::{SoftmaxParts, kl_divergence_logits, kl_from_offsets};

use super::TokenDivergence;

/// Where `expm1` and the mixture switch from their series forms.
const SERIES_LIMIT: f64 = 0.5;
/// Above this the log-sum `log Σ p e^δ` is taken as a plain log-sum-exp (the series form
/// would overflow; nothing is small there).
const LARGE: f64 = 60.0;
/// `1 / (k + 1)!` for k = 0..10: `expm1(x) = x Σ_k x^k / (k + 1)!`, first omitted term below
/// 1e-12 relative for `|x| ≤ ½`.
const EXPM1_SERIES: [f64; 11] = [
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
];

/// Per row `D(softmax(teacher / T), softmax(student / T))`, without the `T²` factor. The
/// teacher is expected detached.
///
/// # Shapes
/// - `student`, `teacher`: `[n, vocab]`
/// - output: `[n]`
pub(super) fn divergence_rows(
    divergence: TokenDivergence,
    student: Tensor<2>,
    teacher: Tensor<2>,
    t: f64,
) -> Tensor<1> {
    use TokenDivergence as D;
    match divergence {
        D::ForwardKl | D::Jsd { beta: 0.0 } | D::SkewKl { lambda: 0.0 } => {
            kl_divergence_logits(teacher, student, t)
        }
        D::ReverseKl | D::Jsd { beta: 1.0 } | D::SkewReverseKl { lambda: 0.0 } => {
            kl_divergence_logits(student, teacher, t)
        }
        D::Jsd { beta } => {
            let pair = Pair::new(student, teacher, t);
            let to_teacher = kl_from_offsets(
                pair.teacher.log_probs(),
                mixture_offsets(pair.log_ratio.clone(), beta),
            );
            let to_student = kl_from_offsets(
                pair.student.log_probs(),
                mixture_offsets(pair.log_ratio.neg(), 1.0 - beta),
            );
            to_teacher.mul_scalar(beta) + to_student.mul_scalar(1.0 - beta)
        }
        D::SkewKl { lambda } => {
            let pair = Pair::new(student, teacher, t);
            kl_from_offsets(
                pair.teacher.log_probs(),
                mixture_offsets(pair.log_ratio, lambda),
            )
        }
        D::SkewReverseKl { lambda } => {
            let pair = Pair::new(student, teacher, t);
            kl_from_offsets(
                pair.student.log_probs(),
                mixture_offsets(pair.log_ratio.neg(), lambda),
            )
        }
        D::TotalVariation => Pair::new(student, teacher, t).total_variation(),
    }
}

/// Both softmaxes in their exact pieces, with the exact log-ratio `r = log q − log p`.
struct Pair {
    /// `p = softmax(teacher / T)`.
    teacher: SoftmaxParts,
    /// `q = softmax(student / T)`.
    student: SoftmaxParts,
    /// `r = log q − log p`, `[n, vocab]`.
    log_ratio: Tensor<2>,
}

impl Pair {
    fn new(student: Tensor<2>, teacher: Tensor<2>, t: f64) -> Self {
        let teacher_parts = SoftmaxParts::new(teacher.clone(), t);
        let student_parts = SoftmaxParts::new(student.clone(), t);
        let delta = (student - teacher).div_scalar(t);
        // r does not depend on a per-row shift of δ, so neither does its gradient: the shift
        // is detached and sends no rounding noise back through one entry.
        let delta = delta.clone() - delta.gather(1, teacher_parts.top.clone()).detach();
        let log_norm = log_mean_exp(teacher_parts.log_probs(), teacher_parts.probs(), &delta);
        Self {
            teacher: teacher_parts,
            student: student_parts,
            log_ratio: delta - log_norm,
        }
    }

    /// `½ Σ |p − q|` per row, with `q − p = p · expm1(r)` where the two are close.
    fn total_variation(self) -> Tensor<1> {
        let p = self.teacher.probs();
        let r = self.log_ratio;
        let close = r.clone().abs().lower_elem(SERIES_LIMIT);
        let near = p.clone() * expm1_series(r.clamp(-SERIES_LIMIT, SERIES_LIMIT));
        let difference = (self.student.probs() - p).mask_where(close, near);
        difference.abs().sum_dim(1).mul_scalar(0.5).squeeze_dim(1)
    }
}

/// `log Σ_c p_c e^{δ_c}` per row, `[n, 1]`: `log1p(Σ p (e^δ − 1))`, each term from the series
/// for small `|δ|` (exact for nearly equal rows), or a log-sum-exp above [`LARGE`].
fn log_mean_exp(log_p: Tensor<2>, p: Tensor<2>, delta: &Tensor<2>) -> Tensor<2> {
    let x = log_p + delta.clone();
    let small = delta.clone().abs().lower_elem(SERIES_LIMIT);
    let near = p.clone() * expm1_series(delta.clone().clamp(-SERIES_LIMIT, SERIES_LIMIT));
    // For |δ| ≥ ½: p (e^δ − 1) = e^(log p + δ) − p, the two never close.
    let far = x.clone().clamp_max(LARGE).exp() - p;
    let series = far.mask_where(small, near).sum_dim(1).log1p();
    let max = x.clone().detach().max_dim(1);
    let log_sum_exp = (x - max.clone()).exp().sum_dim(1).log() + max.clone();
    series.mask_where(max.greater_elem(LARGE), log_sum_exp)
}

/// `log(w + (1 − w) e^r)` elementwise, `w` in `(0, 1)`: the offset `log m − log p` of the
/// mixture `m = w p + (1 − w) q` when `r = log q − log p`.
fn mixture_offsets(r: Tensor<2>, w: f64) -> Tensor<2> {
    let close = r.clone().abs().lower_elem(SERIES_LIMIT);
    let near = expm1_series(r.clone().clamp(-SERIES_LIMIT, SERIES_LIMIT))
        .mul_scalar(1.0 - w)
        .log1p();
    let b = r.add_scalar((-w).ln_1p());
    let far = b.clone() + softplus(b.neg().add_scalar(w.ln()));
    far.mask_where(close, near)
}

/// `log(1 + e^x)` without overflow or loss for negative `x`.
fn softplus(x: Tensor<2>) -> Tensor<2> {
    x.clone().clamp_min(0.0) + x.abs().neg().exp().log1p()
}

/// `e^x − 1` from its series; meant for `|x| ≤ ½` (burn has no `expm1`).
fn expm1_series(x: Tensor<2>) -> Tensor<2> {
    let (last, rest) = EXPM1_SERIES.split_last().expect("the series has terms");
    let sum = rest
        .iter()
        .rev()
        .fold(x.zeros_like().add_scalar(*last), |acc, &c| {
            (acc * x.clone()).add_scalar(c)
        });
    sum * x
}
