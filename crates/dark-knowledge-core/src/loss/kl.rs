//! KL divergence between two distributions given as log-probabilities.

use burn::tensor::Tensor;

/// Per-sample KL(p ‖ q) = Σ_c p_c (log p_c − log q_c), from log-probabilities.
///
/// Both arguments are log-probabilities (e.g. from `log_softmax`), so nothing is ever
/// exponentiated and logged back: the result stays exact for very confident
/// distributions, where `p_c` underflows to 0 but `log p_c` is still finite.
///
/// # Shapes
/// - `log_p`, `log_q`: `[batch_size, num_classes]`
/// - output: `[batch_size]`
pub fn kl_divergence_log_space(log_p: Tensor<2>, log_q: Tensor<2>) -> Tensor<1> {
    let p = log_p.clone().exp();
    (p * (log_p - log_q)).sum_dim(1).squeeze_dim(1)
}
