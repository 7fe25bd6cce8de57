//! Cross-entropy on logits with integer class targets.

use burn::tensor::{Int, Tensor};

use super::{Reduction, stable::log_softmax_stable};

/// Per-sample cross-entropy `−log softmax(z)_y`, from [`log_softmax_stable`]: for a confident,
/// correct row it is `log1p(S)` (S the other classes' relative mass), exact however small.
///
/// # Shapes
/// - `logits`: `[batch_size, num_classes]`
/// - `targets`: `[batch_size]`, class indices in `0..num_classes`
/// - output: `[batch_size]`
pub fn cross_entropy_no_reduction(logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
    let [batch_size, _] = logits.dims();
    let log_probs = log_softmax_stable(logits, 1.0);
    let picked = log_probs.gather(1, targets.reshape([batch_size, 1]));
    picked.squeeze_dim::<1>(1).neg()
}

/// Cross-entropy between the student's logits and hard labels.
///
/// `CE(z, y) = −(1/N) Σ_n log softmax(z_n)_{y_n}` with [`Reduction::Mean`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CrossEntropyLoss;

impl CrossEntropyLoss {
    /// A new cross-entropy loss.
    pub fn new() -> Self {
        Self
    }

    /// The reduced loss, a one-element tensor.
    ///
    /// # Shapes
    /// - `logits`: `[batch_size, num_classes]`
    /// - `targets`: `[batch_size]`
    /// - output: `[1]`
    pub fn forward(
        &self,
        logits: Tensor<2>,
        targets: Tensor<1, Int>,
        reduction: Reduction,
    ) -> Tensor<1> {
        let per_sample = self.forward_no_reduction(logits, targets);
        match reduction {
            Reduction::Mean => per_sample.mean(),
            Reduction::Sum => per_sample.sum(),
        }
    }

    /// Per-sample loss, shape `[batch_size]`.
    pub fn forward_no_reduction(&self, logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
        cross_entropy_no_reduction(logits, targets)
    }
}
