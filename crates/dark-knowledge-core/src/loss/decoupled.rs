//! Decoupled knowledge distillation (Zhao et al. 2022, DKD).

use burn::tensor::{Int, Tensor};
use serde::{Deserialize, Serialize};

use super::stable::{SoftmaxParts, complement, kl_divergence_pair, log_softmax_stable, softplus};
use crate::error::{Result, check_positive, check_weights};

/// What is subtracted from the target logit (after dividing by `T`) to leave it out of the
/// non-target distribution, as in the paper's reference implementation (mdistiller).
const TARGET_MASK: f64 = 1000.0;

/// Settings of [`DecoupledKdLoss`].
///
/// Defaults follow the paper's CIFAR-100 recipe: `T = 4`, `alpha = 1`, `beta = 8`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecoupledKdConfig {
    /// Softmax temperature `T > 0` applied to both teacher and student logits.
    pub temperature: f64,
    /// Weight of the target-class term (TCKD).
    pub alpha: f64,
    /// Weight of the non-target-class term (NCKD).
    pub beta: f64,
}

impl Default for DecoupledKdConfig {
    fn default() -> Self {
        Self {
            temperature: 4.0,
            alpha: 1.0,
            beta: 8.0,
        }
    }
}

impl DecoupledKdConfig {
    /// A configuration with the given temperature and weights.
    pub fn new(temperature: f64, alpha: f64, beta: f64) -> Self {
        Self {
            temperature,
            alpha,
            beta,
        }
    }

    temperature_and_weights_builders!(with_temperature(temperature), with_weights(alpha, beta));

    /// Checks every value and builds the loss.
    ///
    /// # Errors
    /// [`crate::Error::InvalidValue`] for a temperature that is not a finite number > 0 or a weight
    /// that is negative or not finite; [`crate::Error::AllWeightsZero`] when both weights are 0.
    pub fn init(&self) -> Result<DecoupledKdLoss> {
        check_positive("temperature", self.temperature)?;
        check_weights(&[("alpha", self.alpha), ("beta", self.beta)])?;
        Ok(DecoupledKdLoss {
            temperature: self.temperature,
            alpha: self.alpha,
            beta: self.beta,
        })
    }
}

/// The DKD loss and its two unweighted terms for one batch.
#[derive(Debug, Clone)]
pub struct DecoupledKdTerms {
    /// `alpha · tckd + beta · nckd`, shape `[1]`; the value to differentiate.
    pub total: Tensor<1>,
    /// `T² · batchmean KL(b(z_t) ‖ b(z_s))`, the target-class term, shape `[1]`.
    pub tckd: Tensor<1>,
    /// `T² · batchmean KL(p̂(z_t) ‖ p̂(z_s))`, the non-target-class term, shape `[1]`.
    pub nckd: Tensor<1>,
}

/// Decoupled knowledge distillation (Zhao et al. 2022, "Decoupled Knowledge Distillation").
///
/// The KD loss split into a target-class part (how confident the teacher is in the label)
/// and a non-target part (how it ranks the wrong classes), weighted separately:
///
/// ```text
/// loss  = T² · (1/N) Σ_n (alpha · TCKD_n + beta · NCKD_n)
/// b(z)  = [p_y, 1 − p_y],  p = p(z; T) = softmax(z / T)
/// TCKD  = KL(b(z_t) ‖ b(z_s))
/// NCKD  = KL(softmax(z_t/T − 1000·onehot(y)) ‖ softmax(z_s/T − 1000·onehot(y)))
/// ```
///
/// Everything is computed in log-space from [`SoftmaxParts`] (`log p = d − log1p(S)`, `d` the
/// logits minus the top one, over `T`): `log p_y` is exact whether the label is the top class
/// (`−log1p(S)`) or not, and `log(1 − p_y)` is the log-sum-exp of `d` over the classes other
/// than `y` and the top (plus `log1p` of it when `y` is not the top), minus `log1p(S)`.
/// Neither `p_y` nor `1 − p_y` is ever formed and logged back, so a confident teacher
/// (`p_y → 1`) keeps an exact `log(1 − p_y)`. Both KL terms are evaluated by
/// [`kl_divergence_pair`], with no cancelling terms; NCKD's offsets are `(z_s − z_t)/T`, since
/// the mask cancels.
///
/// The paper ramps the weight of the whole loss up linearly over the first epochs
/// (warm-up, 20 epochs on CIFAR-100). That schedule is **not** part of this loss: the trainer
/// scales the loss's weight per epoch.
///
/// # Shapes
/// - student and teacher logits: `[batch_size, num_classes]`, `num_classes ≥ 2`
/// - targets: `[batch_size]`
/// - output: `[1]`
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecoupledKdLoss {
    temperature: f64,
    alpha: f64,
    beta: f64,
}

impl DecoupledKdLoss {
    /// The temperature `T`.
    pub fn temperature(&self) -> f64 {
        self.temperature
    }

    /// The weight of the target-class term.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// The weight of the non-target-class term.
    pub fn beta(&self) -> f64 {
        self.beta
    }

    forward_with_terms! {
        /// The total loss together with each term: TCKD and NCKD, each `T²`-scaled, averaged
        /// over the batch and not multiplied by `alpha` or `beta`.
        fn forward_terms(&self, student_logits, teacher_logits, targets) -> DecoupledKdTerms {
            let (tckd, nckd) = self.terms_no_reduction(student_logits, teacher_logits, targets);
            let (tckd, nckd) = (tckd.mean(), nckd.mean());
            let total = tckd.clone().mul_scalar(self.alpha) + nckd.clone().mul_scalar(self.beta);
            DecoupledKdTerms { total, tckd, nckd }
        }
    }

    /// Per-sample `(TCKD, NCKD)`, each `T²`-scaled and unweighted.
    ///
    /// # Shapes
    /// - logits: `[batch_size, num_classes]`
    /// - targets: `[batch_size]`
    /// - outputs: `[batch_size]` each
    pub fn terms_no_reduction(
        &self,
        student_logits: Tensor<2>,
        teacher_logits: Tensor<2>,
        targets: Tensor<1, Int>,
    ) -> (Tensor<1>, Tensor<1>) {
        let t = self.temperature;
        let [batch_size, num_classes] = student_logits.dims();
        let target_mask = targets.clone().one_hot::<2>(num_classes).float();
        let index = targets.reshape([batch_size, 1]);
        let binary_s = binary_log_probs(student_logits.clone(), t, &target_mask, &index);
        let binary_t = binary_log_probs(teacher_logits.clone(), t, &target_mask, &index);
        let offsets = binary_s.clone() - binary_t.clone();
        let tckd = kl_divergence_pair(binary_t, binary_s, offsets).mul_scalar(t * t);
        let mask = target_mask.mul_scalar(TARGET_MASK * t);
        let non_target_t = log_softmax_stable(teacher_logits.clone() - mask.clone(), t);
        let non_target_s = log_softmax_stable(student_logits.clone() - mask, t);
        let offsets = (student_logits - teacher_logits).div_scalar(t);
        let nckd = kl_divergence_pair(non_target_t, non_target_s, offsets).mul_scalar(t * t);
        (tckd, nckd)
    }
}

/// Below any `d` a row can have: what the classes left out of a log-sum-exp are moved to
/// (finite, so an empty selection gives a finite value and gradient).
const LEFT_OUT: f64 = 1e30;

/// `[log p_y, log(1 − p_y)]` of `softmax(z / T)`, shape `[batch_size, 2]`, without forming
/// `p_y` or `1 − p_y` (see [`DecoupledKdLoss`]).
fn binary_log_probs(
    logits: Tensor<2>,
    t: f64,
    target_mask: &Tensor<2>,
    index: &Tensor<2, Int>,
) -> Tensor<2> {
    let parts = SoftmaxParts::new(logits, t);
    let log_p_target = parts.log_probs().gather(1, index.clone());
    // log Σ exp(d) over the classes that are neither y nor the top.
    let left_out = (parts.top_mask.clone() + target_mask.clone()).clamp_max(1.0);
    let others =
        parts.shifted.clone() * complement(left_out.clone()) - left_out.mul_scalar(LEFT_OUT);
    let max = others.clone().detach().max_dim(1);
    let log_rest = (others - max.clone()).exp().sum_dim(1).log() + max;
    // y is the top: 1 − p_y is the rest over (1 + S); otherwise the top's 1 joins the rest.
    let label_is_top = parts.top.clone().equal(index.clone());
    let log_others = softplus(log_rest.clone()).mask_where(label_is_top, log_rest);
    Tensor::cat(vec![log_p_target, log_others - parts.log_norm], 1)
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, TensorData};

    use super::*;

    #[test]
    fn identical_student_and_teacher_give_zero_even_when_confident() {
        let device = Device::flex();
        let logits = Tensor::<2>::from_data(
            TensorData::new(
                vec![2.0f32, -1.0, 0.5, 0.0, 300.0, -40.0, 10.0, 0.0, -250.0],
                [3, 3],
            ),
            &device,
        );
        let targets = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 1, 2], [3]), &device);
        let loss = DecoupledKdConfig::default().init().unwrap();
        let terms = loss.forward_terms(logits.clone(), logits, targets);
        for (name, value) in [
            ("total", terms.total),
            ("tckd", terms.tckd),
            ("nckd", terms.nckd),
        ] {
            let value = value.into_scalar::<f32>();
            assert!(value.abs() < 1e-6, "{name} = {value}");
        }
    }

    #[test]
    fn total_is_the_weighted_sum_of_the_terms() {
        let device = Device::flex();
        let student = Tensor::<2>::from_data(
            TensorData::new(vec![1.0f32, 0.0, -1.0, 0.5, 0.5, 2.0], [2, 3]),
            &device,
        );
        let teacher = Tensor::<2>::from_data(
            TensorData::new(vec![3.0f32, -2.0, 0.0, -1.0, 1.0, 4.0], [2, 3]),
            &device,
        );
        let targets = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 2], [2]), &device);
        let loss = DecoupledKdConfig::new(2.0, 0.5, 3.0).init().unwrap();
        let terms = loss.forward_terms(student, teacher, targets);
        let tckd = terms.tckd.into_scalar::<f32>();
        let nckd = terms.nckd.into_scalar::<f32>();
        let total = terms.total.into_scalar::<f32>();
        assert!(tckd > 0.0 && nckd > 0.0, "tckd = {tckd}, nckd = {nckd}");
        assert!((total - (0.5 * tckd + 3.0 * nckd)).abs() < 1e-6);
    }
}
