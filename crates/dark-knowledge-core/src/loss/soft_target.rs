//! Soft-target distillation (Hinton, Vinyals & Dean 2015).

use burn::tensor::{Int, Tensor};
use serde::{Deserialize, Serialize};

use super::{
    cross_entropy::cross_entropy_no_reduction, stable::kl_divergence_logits,
    top_k::top_k_kd_no_reduction,
};
use crate::error::{Result, check_positive, check_weights};

/// Settings of [`SoftTargetLoss`].
///
/// The two weights are explicit (no single `alpha` whose meaning differs between
/// libraries). Defaults follow mdistiller's KD recipe: `T = 4`, `ce_weight = 0.1`,
/// `kd_weight = 0.9`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SoftTargetLossConfig {
    /// Softmax temperature `T > 0` applied to both teacher and student logits.
    pub temperature: f64,
    /// Weight of the hard-label cross-entropy term (at temperature 1).
    pub ce_weight: f64,
    /// Weight of the `T²`-scaled KL term.
    pub kd_weight: f64,
    /// Compare the distributions over the teacher's `k` most likely classes plus one bin
    /// for the rest (see [`top_k_kd_no_reduction`]); `None` (the default) uses every class.
    /// Pair with a top-k teacher cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<usize>,
}

impl Default for SoftTargetLossConfig {
    fn default() -> Self {
        Self {
            temperature: 4.0,
            ce_weight: 0.1,
            kd_weight: 0.9,
            top_k: None,
        }
    }
}

impl SoftTargetLossConfig {
    /// A configuration with the given temperature and weights.
    pub fn new(temperature: f64, ce_weight: f64, kd_weight: f64) -> Self {
        Self {
            temperature,
            ce_weight,
            kd_weight,
            top_k: None,
        }
    }

    /// The same configuration with the KL term over the teacher's top `k` classes.
    pub fn with_top_k(mut self, k: usize) -> Self {
        self.top_k = Some(k);
        self
    }

    temperature_and_weights_builders!(
        with_temperature(temperature),
        with_weights(ce_weight, kd_weight)
    );

    /// Checks every value and builds the loss.
    ///
    /// # Errors
    /// [`crate::Error::InvalidValue`] for a temperature that is not a finite number > 0 or a weight
    /// that is negative or not finite; [`crate::Error::AllWeightsZero`] when both weights are 0.
    pub fn init(&self) -> Result<SoftTargetLoss> {
        check_positive("temperature", self.temperature)?;
        check_weights(&[("ce_weight", self.ce_weight), ("kd_weight", self.kd_weight)])?;
        if self.top_k == Some(0) {
            return Err(crate::Error::InvalidValue {
                name: "top_k",
                value: "0".into(),
                allowed: "a class count >= 1 (or no top_k for every class)",
            });
        }
        Ok(SoftTargetLoss {
            temperature: self.temperature,
            ce_weight: self.ce_weight,
            kd_weight: self.kd_weight,
            top_k: self.top_k,
        })
    }
}

/// The loss and its separate, unweighted terms for one batch.
#[derive(Debug, Clone)]
pub struct LossTerms {
    /// `ce_weight · ce + kd_weight · kd`, shape `[1]`; the value to differentiate.
    pub total: Tensor<1>,
    /// Hard-label cross-entropy at temperature 1, when `ce_weight > 0`.
    pub ce: Option<Tensor<1>>,
    /// `T² · batchmean KL(p(z_t; T) ‖ p(z_s; T))`, when `kd_weight > 0`.
    pub kd: Option<Tensor<1>>,
}

/// Soft-target knowledge distillation (Hinton et al. 2015, "Distilling the Knowledge in a
/// Neural Network").
///
/// ```text
/// loss = ce_weight · CE(z_s, y) + kd_weight · T² · (1/N) Σ_n KL(p(z_t,n; T) ‖ p(z_s,n; T))
/// p(z; T) = softmax(z / T)
/// ```
///
/// `T²` keeps the gradient of the soft term on the same scale whatever the temperature;
/// it multiplies the KL term only. The KL is [`kl_divergence_logits`]: the teacher's
/// log-probabilities keep their digits however confident it is, the student enters only
/// through `(z_s − z_t)/T`, and the sum has no cancelling terms, so logits in the hundreds
/// neither overflow nor lose the tail, and two near-one-hot rows give an exact small KL.
///
/// # Shapes
/// - student and teacher logits: `[batch_size, num_classes]`
/// - targets: `[batch_size]`
/// - output: `[1]`
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SoftTargetLoss {
    temperature: f64,
    ce_weight: f64,
    kd_weight: f64,
    top_k: Option<usize>,
}

impl SoftTargetLoss {
    /// The temperature `T`.
    pub fn temperature(&self) -> f64 {
        self.temperature
    }

    /// The weight of the cross-entropy term.
    pub fn ce_weight(&self) -> f64 {
        self.ce_weight
    }

    /// The weight of the distillation term.
    pub fn kd_weight(&self) -> f64 {
        self.kd_weight
    }

    /// The number of teacher classes kept by the top-k variant, when set.
    pub fn top_k(&self) -> Option<usize> {
        self.top_k
    }

    /// The settings this loss was built from.
    pub fn config(&self) -> SoftTargetLossConfig {
        SoftTargetLossConfig {
            temperature: self.temperature,
            ce_weight: self.ce_weight,
            kd_weight: self.kd_weight,
            top_k: self.top_k,
        }
    }

    forward_with_terms! {
        /// The total loss together with each unweighted term.
        fn forward_terms(&self, student_logits, teacher_logits, targets) -> LossTerms {
            let ce = (self.ce_weight > 0.0)
                .then(|| cross_entropy_no_reduction(student_logits.clone(), targets).mean());
            let kd = (self.kd_weight > 0.0)
                .then(|| self.kd_no_reduction(student_logits, teacher_logits).mean());
            let total = match (&ce, &kd) {
                (Some(ce), Some(kd)) => {
                    ce.clone().mul_scalar(self.ce_weight) + kd.clone().mul_scalar(self.kd_weight)
                }
                (Some(ce), None) => ce.clone().mul_scalar(self.ce_weight),
                (None, Some(kd)) => kd.clone().mul_scalar(self.kd_weight),
                (None, None) => unreachable!("SoftTargetLossConfig::init rejects two zero weights"),
            };
            LossTerms { total, ce, kd }
        }
    }

    /// Per-sample distillation term `T² · KL(p(z_t; T) ‖ p(z_s; T))`, unweighted (over the
    /// teacher's top-k bins when `top_k` is set).
    ///
    /// # Shapes
    /// - logits: `[batch_size, num_classes]`
    /// - output: `[batch_size]`
    pub fn kd_no_reduction(
        &self,
        student_logits: Tensor<2>,
        teacher_logits: Tensor<2>,
    ) -> Tensor<1> {
        let t = self.temperature;
        if let Some(k) = self.top_k {
            return top_k_kd_no_reduction(student_logits, teacher_logits, k, t);
        }
        kl_divergence_logits(teacher_logits, student_logits, t).mul_scalar(t * t)
    }
}
