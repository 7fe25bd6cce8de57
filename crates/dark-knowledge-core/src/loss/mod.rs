//! Distillation and supervised losses in float32. Every loss built on probabilities takes
//! them in log-space, from [`SoftmaxParts`] (`log p = d − log1p(S)`, exact for confident
//! rows), and every KL is evaluated by [`kl_from_offsets`] in a form where nothing cancels;
//! DIST compares probabilities by correlation and centres them without cancellation.
//!
//! The feature-based losses of [`feature`] (hints, attention transfer, relational KD)
//! compare intermediate representations instead of logits.
//!
//! Each logit loss matches the PyTorch float64 reference vectors of `data/parity/losses.json`
//! (see `tests/parity.rs` of this crate) in value and in gradient.

/// The builder methods of a loss configuration with a temperature and two term weights:
/// `$with_temperature` sets the temperature field `$temperature`, `with_weights` the weight
/// fields `$first` and `$second`. (A macro: the configurations name their fields after
/// their papers.)
macro_rules! temperature_and_weights_builders {
    ($with_temperature:ident($temperature:ident), with_weights($first:ident, $second:ident)) => {
        /// The same configuration with another temperature.
        pub fn $with_temperature(mut self, $temperature: f64) -> Self {
            self.$temperature = $temperature;
            self
        }

        /// The same configuration with other weights.
        pub fn with_weights(mut self, $first: f64, $second: f64) -> Self {
            self.$first = $first;
            self.$second = $second;
            self
        }
    };
}

/// `forward_terms(student_logits, teacher_logits, targets)` from its doc and body, and
/// `forward`, its total: for the losses that also report their separate terms.
macro_rules! forward_with_terms {
    ($(#[$doc:meta])* fn forward_terms(&$this:ident, $s:ident, $t:ident, $y:ident) -> $terms:ty $body:block) => {
        /// The total loss, shape `[1]`.
        pub fn forward(
            &self,
            student_logits: Tensor<2>,
            teacher_logits: Tensor<2>,
            targets: Tensor<1, Int>,
        ) -> Tensor<1> {
            self.forward_terms(student_logits, teacher_logits, targets)
                .total
        }

        $(#[$doc])*
        pub fn forward_terms(&$this, $s: Tensor<2>, $t: Tensor<2>, $y: Tensor<1, Int>) -> $terms $body
    };
}

mod correlation;
mod cross_entropy;
mod decoupled;
mod dist;
pub mod feature;
mod kl;
mod logit_standardized;
mod mse;
mod soft_target;
mod stable;
mod tokens;
mod top_k;

#[cfg(test)]
mod settings_tests;

pub use cross_entropy::{CrossEntropyLoss, cross_entropy_no_reduction};
pub use decoupled::{DecoupledKdConfig, DecoupledKdLoss, DecoupledKdTerms};
pub use dist::{DistConfig, DistLoss, DistTerms};
pub use feature::{
    AttentionTransferConfig, AttentionTransferLoss, RkdConfig, RkdLoss, RkdTerms,
    check_feature_shapes, hint_loss, hint_projection, rkd_angle_loss, rkd_distance_loss,
};
pub use kl::kl_divergence_log_space;
pub use logit_standardized::{LogitStandardizedKdConfig, LogitStandardizedKdLoss};
pub use mse::{MseLogitsLoss, mse_logits_no_reduction};
pub use soft_target::{LossTerms, SoftTargetLoss, SoftTargetLossConfig};
pub use stable::{
    SoftmaxParts, kl_divergence_logits, kl_divergence_pair, kl_from_offsets, log_softmax_stable,
};
pub use tokens::{flatten_token_targets, flatten_tokens, kept_token_index};
pub use top_k::top_k_kd_no_reduction;

/// How per-sample losses are reduced to one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reduction {
    /// Mean over the batch (for KL: "batchmean", the sum over classes, mean over samples).
    #[default]
    Mean,
    /// Sum over the batch.
    Sum,
}
