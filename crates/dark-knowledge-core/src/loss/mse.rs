//! Mean squared error between student and teacher logits.

use burn::tensor::Tensor;

use super::Reduction;

/// Per-sample mean over classes of `(z_s − z_t)²`.
///
/// # Shapes
/// - `student`, `teacher`: `[batch_size, num_classes]`
/// - output: `[batch_size]`
pub fn mse_logits_no_reduction(student: Tensor<2>, teacher: Tensor<2>) -> Tensor<1> {
    let diff = student - teacher;
    (diff.clone() * diff).mean_dim(1).squeeze_dim(1)
}

/// Logit matching (Ba & Caruana 2014): `mean over all N·C elements of (z_s − z_t)²`.
///
/// With [`Reduction::Mean`] this is the mean over every element, as PyTorch's `mse_loss`;
/// with [`Reduction::Sum`] the per-sample means are summed.
#[derive(Debug, Clone, Copy, Default)]
pub struct MseLogitsLoss;

impl MseLogitsLoss {
    /// A new logit-matching loss.
    pub fn new() -> Self {
        Self
    }

    /// The reduced loss, a one-element tensor.
    ///
    /// # Shapes
    /// - `student`, `teacher`: `[batch_size, num_classes]`
    /// - output: `[1]`
    pub fn forward(
        &self,
        student: Tensor<2>,
        teacher: Tensor<2>,
        reduction: Reduction,
    ) -> Tensor<1> {
        let per_sample = self.forward_no_reduction(student, teacher);
        match reduction {
            Reduction::Mean => per_sample.mean(),
            Reduction::Sum => per_sample.sum(),
        }
    }

    /// Per-sample loss, shape `[batch_size]`.
    pub fn forward_no_reduction(&self, student: Tensor<2>, teacher: Tensor<2>) -> Tensor<1> {
        mse_logits_no_reduction(student, teacher)
    }
}
