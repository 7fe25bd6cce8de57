//! Knowledge distillation on standardized logits (Sun et al. 2024).

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::stable::kl_divergence_logits;
use crate::error::{Result, check_positive};

/// Added to the standard deviation before dividing by it.
const STD_EPS: f64 = 1e-7;
/// Lower bound of the variance before its square root: keeps the gradient finite for a
/// constant row (e.g. a zero-initialised head), far below any value that changes the result.
const MIN_VARIANCE: f64 = 1e-30;

/// Settings of [`LogitStandardizedKdLoss`].
///
/// Standardized logits have unit spread, so a low temperature already gives soft targets:
/// the default is `T = 2`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogitStandardizedKdConfig {
    /// Softmax temperature `T > 0` applied to both standardized logits.
    pub temperature: f64,
}

impl Default for LogitStandardizedKdConfig {
    fn default() -> Self {
        Self { temperature: 2.0 }
    }
}

impl LogitStandardizedKdConfig {
    /// A configuration with the given temperature.
    pub fn new(temperature: f64) -> Self {
        Self { temperature }
    }

    /// The same configuration with another temperature.
    pub fn with_temperature(mut self, temperature: f64) -> Self {
        self.temperature = temperature;
        self
    }

    /// Checks every value and builds the loss.
    ///
    /// # Errors
    /// [`crate::Error::InvalidValue`] for a temperature that is not a finite number > 0.
    pub fn init(&self) -> Result<LogitStandardizedKdLoss> {
        check_positive("temperature", self.temperature)?;
        Ok(LogitStandardizedKdLoss {
            temperature: self.temperature,
        })
    }
}

/// Logit-standardized knowledge distillation (Sun et al. 2024, "Logit Standardization in
/// Knowledge Distillation").
///
/// Soft-target KD on z-scored logits, so the student has to match the teacher's *ranking
/// and relative spread* of the classes, not its logit range:
///
/// ```text
/// loss = T² · (1/N) Σ_n KL(p(Z(z_t,n); T) ‖ p(Z(z_s,n); T))
/// Z(z) = (z − mean(z)) / (std(z) + 1e-7)     per row, std unbiased (divides by C − 1)
/// p(z; T) = softmax(z / T)
/// ```
///
/// Adding a constant to a row of teacher logits or multiplying it by a positive factor leaves
/// the loss unchanged (up to the `1e-7`). The KL is [`kl_divergence_logits`] of the
/// standardized logits: exact log-probabilities and no cancelling terms. The variance is clamped below at `1e-30` before its square root, so a constant
/// row (all logits equal) gives a finite gradient instead of NaN.
///
/// # Shapes
/// - student and teacher logits: `[batch_size, num_classes]`, `num_classes ≥ 2`
/// - output: `[1]`
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogitStandardizedKdLoss {
    temperature: f64,
}

impl LogitStandardizedKdLoss {
    /// The temperature `T`.
    pub fn temperature(&self) -> f64 {
        self.temperature
    }

    /// The loss, averaged over the batch, shape `[1]`.
    pub fn forward(&self, student_logits: Tensor<2>, teacher_logits: Tensor<2>) -> Tensor<1> {
        self.forward_no_reduction(student_logits, teacher_logits)
            .mean()
    }

    /// Per-sample loss `T² · KL(p(Z(z_t); T) ‖ p(Z(z_s); T))`.
    ///
    /// # Shapes
    /// - logits: `[batch_size, num_classes]`
    /// - output: `[batch_size]`
    pub fn forward_no_reduction(
        &self,
        student_logits: Tensor<2>,
        teacher_logits: Tensor<2>,
    ) -> Tensor<1> {
        let t = self.temperature;
        kl_divergence_logits(standardize(teacher_logits), standardize(student_logits), t)
            .mul_scalar(t * t)
    }
}

/// `Z(z) = (z − mean(z)) / (std(z) + 1e-7)` per row, with the unbiased standard deviation.
///
/// Computed as `Z = ĉ · (1 − 1e-7 / (std + 1e-7))` with `ĉ = (z − mean) / std`, so the part of
/// the gradient that only the `1e-7` creates (the whole gradient of a two-class row, whose
/// `ĉ = ±(1, −1)/√2` is constant) comes from its own small factor, not from the cancellation
/// of two large terms. With two classes `ĉ` carries no gradient, exactly as in the formula.
///
/// # Shapes
/// - `logits`: `[batch_size, num_classes]`, `num_classes ≥ 2`
/// - output: `[batch_size, num_classes]`
fn standardize(logits: Tensor<2>) -> Tensor<2> {
    let [_, num_classes] = logits.dims();
    let centred = logits.clone() - logits.mean_dim(1);
    let variance = (centred.clone() * centred.clone())
        .sum_dim(1)
        .div_scalar((num_classes - 1) as f64);
    let std = variance.clamp_min(MIN_VARIANCE).sqrt();
    let unit = centred / std.clone();
    let unit = if num_classes == 2 {
        unit.detach()
    } else {
        unit
    };
    let shrink = std
        .add_scalar(STD_EPS)
        .recip()
        .mul_scalar(STD_EPS)
        .neg()
        .add_scalar(1.0);
    unit * shrink
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;

    use super::*;
    use crate::test_support::{assert_finite_gradient, tensor as logits};

    #[test]
    fn shifting_and_scaling_the_teacher_logits_leaves_the_loss_unchanged() {
        let device = Device::flex();
        let zs = vec![
            1.0f32, 0.0, -1.0, 2.5, 0.5, -3.0, 0.2, 0.1, 4.0, -2.0, 1.0, 0.0,
        ];
        let zt = vec![
            3.0f32, -2.0, 0.5, 1.0, -1.0, 2.0, 0.0, 0.7, 1.5, 0.3, -0.4, 2.2,
        ];
        let moved: Vec<f32> = zt.iter().map(|v| 7.5 * v - 12.0).collect();
        let loss = LogitStandardizedKdConfig::new(4.0).init().unwrap();
        let base = loss
            .forward(
                logits(zs.clone(), [3, 4], &device),
                logits(zt, [3, 4], &device),
            )
            .into_scalar::<f32>();
        let other = loss
            .forward(logits(zs, [3, 4], &device), logits(moved, [3, 4], &device))
            .into_scalar::<f32>();
        assert!(base > 1e-3, "{base}");
        assert!((base - other).abs() < 1e-5, "{base} vs {other}");
    }

    #[test]
    fn constant_student_logits_give_a_finite_gradient() {
        let device = Device::flex().autodiff();
        let zs = logits(vec![0.0; 6], [2, 3], &device).require_grad();
        let zt = logits(vec![1.0, 2.0, 3.0, -1.0, 0.0, 4.0], [2, 3], &device);
        let loss = LogitStandardizedKdConfig::default()
            .init()
            .unwrap()
            .forward(zs.clone(), zt);
        assert_finite_gradient(&loss, &zs);
        assert!(loss.into_scalar::<f32>().is_finite());
    }
}
