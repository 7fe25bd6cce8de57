//! KL divergence between two distributions given as log-probabilities.

use burn::tensor::Tensor;

use super::stable::kl_divergence_pair;

/// Per-sample KL(p ‖ q) = Σ_c p_c (log p_c − log q_c), from log-probabilities.
///
/// Both arguments are log-probabilities (e.g. from [`super::log_softmax_stable`]), so nothing
/// is exponentiated and logged back, and the sum is evaluated in the cancellation-free form
/// of [`kl_divergence_pair`]: the result stays exact for very confident distributions and for
/// nearly equal ones. When both come from logits, [`super::kl_divergence_logits`] is more
/// exact still: it takes the differences from the logits themselves.
///
/// # Shapes
/// - `log_p`, `log_q`: `[batch_size, num_classes]`
/// - output: `[batch_size]`
pub fn kl_divergence_log_space(log_p: Tensor<2>, log_q: Tensor<2>) -> Tensor<1> {
    kl_divergence_pair(log_p.clone(), log_q.clone(), log_q - log_p)
}
