//! Distillation and supervised losses, all computed in log-space in float32.
//!
//! Each loss matches the PyTorch float64 reference vectors of `parity/losses.json`
//! (see the `parity` test of the facade crate) in value and in gradient.

mod cross_entropy;
mod kl;
mod mse;
mod soft_target;

pub use cross_entropy::{CrossEntropyLoss, cross_entropy_no_reduction};
pub use kl::kl_divergence_log_space;
pub use mse::{MseLogitsLoss, mse_logits_no_reduction};
pub use soft_target::{LossTerms, SoftTargetLoss, SoftTargetLossConfig};

/// How per-sample losses are reduced to one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reduction {
    /// Mean over the batch (for KL: "batchmean", the sum over classes, mean over samples).
    #[default]
    Mean,
    /// Sum over the batch.
    Sum,
}
