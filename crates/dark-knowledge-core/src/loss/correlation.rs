//! The Pearson correlations of DIST without cancellation: probabilities centred from their
//! logits, and `1 − ρ` from the student-minus-teacher differences (see [`super::DistLoss`]).

use burn::tensor::{Bool, Tensor};

use super::stable::{SoftmaxParts, centred_offsets, complement, expm1, kl_from_centred};

/// Lower bound of each vector's norm in the Pearson correlation.
const NORM_EPS: f64 = 1e-8;
/// Lower bound of a squared norm before its square root (finite gradient at a constant row).
const MIN_SQUARED_NORM: f64 = 1e-30;
/// A row whose centred scaled logits `(z − mean z)/tau` all lie within ±this is "flat": its
/// probabilities are centred from those logits, where they keep their digits.
const FLAT_ROW: f64 = 1.0;

/// `softmax(z / tau)` centred per row and per column (over the batch).
pub(crate) struct CentredProbs {
    /// `y − 1/C`, shape `[batch_size, num_classes]`.
    pub rows: Tensor<2>,
    /// `y − mean_batch(y)`, shape `[batch_size, num_classes]`.
    pub columns: Tensor<2>,
}

impl CentredProbs {
    /// From the logits and the pieces of their softmax at `tau`.
    fn new(logits: Tensor<2>, parts: SoftmaxParts, tau: f64) -> Self {
        let [batch_size, num_classes] = logits.dims();
        let (c, device) = (num_classes as f64, logits.device());
        // Rows with a clear top class: y = exp(d) / (1 + S).
        let p_top = parts.rest.clone().add_scalar(1.0).recip();
        let em = expm1(parts.shifted.clone());
        let rows_peaked = (em.clone() - em.mean_dim(1)) * p_top.clone();
        let y = parts.shifted.clone().exp() * p_top.clone();
        // y − onehot(top): −S / (1 + S) at the top, y elsewhere.
        let rest_peaked =
            y * complement(parts.top_mask.clone()) - parts.top_mask.clone() * (parts.rest * p_top);
        // Nearly uniform rows: y = exp(w) / C, w = v − log(mean exp v), v the centred logits.
        let v = (logits.clone() - logits.mean_dim(1)).div_scalar(tau);
        let flat: Tensor<2, Bool> = v
            .clone()
            .detach()
            .abs()
            .max_dim(1)
            .lower_equal_elem(FLAT_ROW)
            .expand([batch_size, num_classes]);
        let v = v.clamp(-FLAT_ROW, FLAT_ROW);
        let w = v.clone() - expm1(v).mean_dim(1).log1p();
        let rest_flat = expm1(w).div_scalar(c);
        let uniform = Tensor::full([batch_size, num_classes], 1.0 / c, &device);
        let base = parts.top_mask.mask_where(flat.clone(), uniform);
        let rest = rest_peaked.mask_where(flat.clone(), rest_flat.clone());
        let columns = (base.clone() - base.mean_dim(0)) + (rest.clone() - rest.mean_dim(0));
        Self {
            rows: rows_peaked.mask_where(flat, rest_flat),
            columns,
        }
    }
}

/// Student and teacher probabilities centred, and their differences centred the same way.
pub(crate) struct CentredPair {
    pub student: CentredProbs,
    pub teacher: CentredProbs,
    /// `y_s − y_t` (the row centring cancels), shape `[batch_size, num_classes]`.
    pub rows: Tensor<2>,
    /// `(y_s − y_t) − mean_batch(y_s − y_t)`.
    pub columns: Tensor<2>,
}

impl CentredPair {
    pub fn new(student_logits: Tensor<2>, teacher_logits: Tensor<2>, tau: f64) -> Self {
        // log y_s − log y_t = u − KL(y_t ‖ y_s), u = δ − Σ y_t δ, δ = (z_s − z_t)/tau.
        let teacher = SoftmaxParts::new(teacher_logits.clone(), tau);
        let (log_yt, yt) = (teacher.log_probs(), teacher.probs());
        let delta = (student_logits.clone() - teacher_logits.clone()).div_scalar(tau);
        let u = centred_offsets(&yt, delta, teacher.top.clone());
        let kl = kl_from_centred(log_yt.clone(), yt.clone(), u.clone()).unsqueeze_dim(1);
        let gap = u - kl;
        let small = gap.clone().abs().lower_elem(0.5);
        // y_t (e^gap − 1): from expm1 near 0, as y_s − y_t elsewhere (no overflow).
        let near = yt.clone() * expm1(gap.clone().clamp(-0.5, 0.5));
        let rows = ((log_yt + gap).exp() - yt).mask_where(small, near);
        let columns = rows.clone() - rows.clone().mean_dim(0);
        Self {
            student: CentredProbs::new(
                student_logits.clone(),
                SoftmaxParts::new(student_logits, tau),
                tau,
            ),
            teacher: CentredProbs::new(teacher_logits, teacher, tau),
            rows,
            columns,
        }
    }
}

/// `1 − ρ(a, b)` per row for centred rows `a` and `b` and their difference `d = a − b`.
///
/// ρ's norms are clamped below at `1e-8` in value only: the gradient flows through the
/// unclamped norm, as in PyTorch's `F.cosine_similarity` (which the reference vectors use);
/// below `1e-15` (squared norm `1e-30`) the norm's own gradient is cut, so an exactly
/// constant row gives a zero rather than a NaN gradient. Where neither norm is clamped, the
/// rows point the same way (`a·b > 0`) and their norms are within a factor 2,
/// `1 − ρ = ‖â − b̂‖² / 2` with `â − b̂ = d/‖a‖ − b (d·(a + b)) / ((‖a‖ + ‖b‖) ‖a‖ ‖b‖)`:
/// exact for a student close to its teacher, where `1 − a·b/(‖a‖‖b‖)` keeps no digits.
///
/// # Shapes
/// - `a`, `b`, `d`: `[rows, len]`
/// - output: `[rows]`
pub(crate) fn one_minus_correlation(a: Tensor<2>, b: Tensor<2>, d: Tensor<2>) -> Tensor<1> {
    let norm = |x: &Tensor<2>| {
        (x.clone() * x.clone())
            .sum_dim(1)
            .clamp_min(MIN_SQUARED_NORM)
            .sqrt()
    };
    let (na, nb) = (norm(&a), norm(&b));
    let lift = |n: Tensor<2>| n.clone() + (n.clone().clamp_min(NORM_EPS) - n).detach();
    let dot = (a.clone() * b.clone()).sum_dim(1);
    let standard = complement(dot.clone() / (lift(na.clone()) * lift(nb.clone())));
    let clamped: Tensor<2, Bool> = na
        .clone()
        .lower_elem(NORM_EPS)
        .bool_or(nb.clone().lower_elem(NORM_EPS));
    let [rows, len] = a.dims();
    if len == 2 {
        // Two-element centred vectors are ±(1, −1) multiples: ρ is exactly ±1 and its
        // gradient exactly 0 unless a norm is clamped (float32's rounded unit vectors would
        // leave noise).
        let exact = complement(dot.detach().sign());
        return exact.mask_where(clamped, standard).squeeze_dim(1);
    }
    // The difference form, for rows that point the same way with norms within a factor 2
    // (elsewhere its two terms would cancel). The other rows are replaced by a harmless one
    // (a = b, d = 0), so that nothing on them overflows, not even in the gradient.
    let use_standard = clamped
        .bool_or(na.clone().greater(nb.clone().mul_scalar(2.0)))
        .bool_or(nb.greater(na.mul_scalar(2.0)))
        .bool_or(dot.lower_equal_elem(0.0));
    let skip = use_standard.clone().expand([rows, len]);
    let ones = a.ones_like();
    let a = a.mask_where(skip.clone(), ones.clone());
    let b = b.mask_where(skip.clone(), ones);
    let d = d.mask_where(skip, a.zeros_like());
    let (na, nb) = (norm(&a), norm(&b));
    let along = (d.clone() * (a + b.clone())).sum_dim(1);
    // One norm per division: the gradient of x/y squares y, and a product of norms near 1e-8
    // squared would underflow.
    let e = d / na.clone() - b * (along / na.clone() / nb.clone() / (na + nb));
    let parallel = (e.clone() * e).sum_dim(1).mul_scalar(0.5);
    parallel.mask_where(use_standard, standard).squeeze_dim(1)
}
