//! Distillation from a stronger teacher by correlation (Huang et al. 2022, DIST).

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::correlation::{CentredPair, one_minus_correlation};
use crate::error::{Result, check_positive, check_weights};

/// Settings of [`DistLoss`].
///
/// Defaults follow the paper's ImageNet recipe: `tau = 1`, `beta = 1`, `gamma = 1`
/// (its CIFAR-100 recipe is `tau = 4`, `beta = 2`, `gamma = 2`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DistConfig {
    /// Softmax temperature `tau > 0` applied to both teacher and student logits.
    pub tau: f64,
    /// Weight of the inter-class term (correlation of each sample's class probabilities).
    pub beta: f64,
    /// Weight of the intra-class term (correlation of each class's probabilities over the
    /// batch).
    pub gamma: f64,
}

impl Default for DistConfig {
    fn default() -> Self {
        Self {
            tau: 1.0,
            beta: 1.0,
            gamma: 1.0,
        }
    }
}

impl DistConfig {
    /// A configuration with the given temperature and weights.
    pub fn new(tau: f64, beta: f64, gamma: f64) -> Self {
        Self { tau, beta, gamma }
    }

    temperature_and_weights_builders!(with_tau(tau), with_weights(beta, gamma));

    /// Checks every value and builds the loss.
    ///
    /// # Errors
    /// [`crate::Error::InvalidValue`] for a `tau` that is not a finite number > 0 or a weight
    /// that is negative or not finite; [`crate::Error::AllWeightsZero`] when both weights are 0.
    pub fn init(&self) -> Result<DistLoss> {
        check_positive("tau", self.tau)?;
        check_weights(&[("beta", self.beta), ("gamma", self.gamma)])?;
        Ok(DistLoss {
            tau: self.tau,
            beta: self.beta,
            gamma: self.gamma,
        })
    }
}

/// The DIST loss and its two unweighted terms for one batch.
#[derive(Debug, Clone)]
pub struct DistTerms {
    /// `beta · inter + gamma · intra`, shape `[1]`; the value to differentiate.
    pub total: Tensor<1>,
    /// `tau² · (1 − mean_n ρ(y_s[n,:], y_t[n,:]))`, the inter-class term, shape `[1]`.
    pub inter: Tensor<1>,
    /// `tau² · (1 − mean_c ρ(y_s[:,c], y_t[:,c]))`, the intra-class term, shape `[1]`.
    pub intra: Tensor<1>,
}

/// DIST (Huang et al. 2022, "Knowledge Distillation from A Stronger Teacher").
///
/// Matches the *relations* between the teacher's and the student's predictions rather than
/// the predictions themselves, by Pearson correlation:
///
/// ```text
/// loss = beta  · tau² · (1 − (1/N) Σ_n ρ(y_s[n,:], y_t[n,:]))     inter-class
///      + gamma · tau² · (1 − (1/C) Σ_c ρ(y_s[:,c], y_t[:,c]))     intra-class
/// y_s = softmax(z_s / tau),  y_t = softmax(z_t / tau)
/// ρ(a, b) = <a − ā, b − b̄> / (max(‖a − ā‖, 1e-8) · max(‖b − b̄‖, 1e-8))
/// ```
///
/// As in PyTorch's `F.cosine_similarity`, the `1e-8` clamp applies to the value only: the
/// gradient treats each norm as unclamped. This matters only for a (nearly) constant
/// vector, e.g. a class that gets ~0 probability for every sample of the batch.
///
/// Centring loses no digits: `y − 1/C` of a row is `(expm1(d) − mean expm1(d)) / (1 + S)` with
/// `d` the logits minus the top one, over `tau` ([`SoftmaxParts`]), or, for a nearly uniform
/// row, `expm1(w)/C` with `w` the centred logits minus `log1p(mean expm1)`; a column is
/// centred as `y = h + r` with `h` the top's one-hot (or `1/C` for a flat row) and `r` the
/// small remainder, so a class every sample is sure of (`y ≈ 1` everywhere) keeps the
/// differences `1 − y` carries. `1 − ρ` is `‖â − b̂‖² / 2`, with `â − b̂` built from the
/// student-minus-teacher differences `y_s − y_t = y_t · expm1(log y_s − log y_t)`, taken from
/// the logits: a student close to its teacher gets an exact small loss, not `1 − (1 − ε)`.
///
/// The correlation ignores shifts and positive rescalings of the predictions, so the student
/// need not reproduce a much stronger teacher's exact confidence. Hard labels are not used.
///
/// The intra-class term correlates each class's probabilities across the batch, so it needs
/// `batch_size ≥ 2` to carry information: with a single sample every centred column is 0,
/// its correlation is 0 and the term is the constant `gamma · tau²` (zero gradient).
/// Small batches make it noisy.
///
/// # Shapes
/// - student and teacher logits: `[batch_size, num_classes]`
/// - output: `[1]`
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DistLoss {
    tau: f64,
    beta: f64,
    gamma: f64,
}

impl DistLoss {
    /// The temperature `tau`.
    pub fn tau(&self) -> f64 {
        self.tau
    }

    /// The weight of the inter-class term.
    pub fn beta(&self) -> f64 {
        self.beta
    }

    /// The weight of the intra-class term.
    pub fn gamma(&self) -> f64 {
        self.gamma
    }

    /// The total loss, shape `[1]`.
    pub fn forward(&self, student_logits: Tensor<2>, teacher_logits: Tensor<2>) -> Tensor<1> {
        self.forward_terms(student_logits, teacher_logits).total
    }

    /// The total loss together with each term: inter- and intra-class, each `tau²`-scaled
    /// and not multiplied by `beta` or `gamma`.
    pub fn forward_terms(&self, student_logits: Tensor<2>, teacher_logits: Tensor<2>) -> DistTerms {
        let tau = self.tau;
        let pair = CentredPair::new(student_logits, teacher_logits, tau);
        let scale = tau * tau;
        let inter = one_minus_correlation(pair.student.rows, pair.teacher.rows, pair.rows)
            .mean()
            .mul_scalar(scale);
        let intra = one_minus_correlation(
            pair.student.columns.transpose(),
            pair.teacher.columns.transpose(),
            pair.columns.transpose(),
        )
        .mean()
        .mul_scalar(scale);
        let total = inter.clone().mul_scalar(self.beta) + intra.clone().mul_scalar(self.gamma);
        DistTerms {
            total,
            inter,
            intra,
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;

    use super::*;
    use crate::test_support::{assert_finite_gradient, tensor as logits};

    #[test]
    fn identical_student_and_teacher_give_zero() {
        let device = Device::flex();
        let z = logits(
            vec![
                2.0, -1.0, 0.5, 0.0, 3.0, -4.0, 1.0, 1.5, -2.5, 0.3, 0.2, 0.1,
            ],
            [4, 3],
            &device,
        );
        let loss = DistConfig::new(4.0, 2.0, 2.0).init().unwrap();
        let value = loss.forward(z.clone(), z).into_scalar::<f32>();
        assert!(value.abs() < 1e-5, "{value}");
    }

    #[test]
    fn a_single_sample_gives_a_finite_loss_and_gradient() {
        let device = Device::flex().autodiff();
        let zs = logits(vec![1.0, 0.0, -1.0], [1, 3], &device).require_grad();
        let zt = logits(vec![0.0, 2.0, 1.0], [1, 3], &device);
        let loss = DistConfig::default()
            .init()
            .unwrap()
            .forward(zs.clone(), zt);
        assert_finite_gradient(&loss, &zs);
        let value = loss.into_scalar::<f32>();
        assert!(value.is_finite() && value > 1.0, "{value}");
    }
}
