//! Deep mutual learning (Zhang et al. 2018, "Deep Mutual Learning"): students teach each
//! other while they train.

use burn::tensor::Tensor;
use dark_knowledge_core::error::{Result, check_non_negative, check_positive};
use dark_knowledge_core::loss::kl_divergence_logits;
use serde::{Deserialize, Serialize};

/// The name of the mutual term in a student's history.
pub const MUTUAL_TERM: &str = "mutual";

/// Settings of deep mutual learning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MutualConfig {
    /// Number of students trained together, `>= 2`.
    #[serde(default = "two")]
    pub students: usize,
    /// Weight of the mutual term, `>= 0`.
    #[serde(default = "one")]
    pub weight: f64,
    /// Softmax temperature `T > 0` of the mutual term (1 in the paper).
    #[serde(default = "one")]
    pub temperature: f64,
}

fn two() -> usize {
    2
}
fn one() -> f64 {
    1.0
}

impl Default for MutualConfig {
    fn default() -> Self {
        Self {
            students: two(),
            weight: one(),
            temperature: one(),
        }
    }
}

impl MutualConfig {
    /// Checks every setting.
    ///
    /// # Errors
    /// [`dark_knowledge_core::Error::InvalidValue`] naming the setting.
    pub fn validate(&self) -> Result<()> {
        if self.students < 2 {
            return Err(dark_knowledge_core::Error::InvalidValue {
                name: "students",
                value: self.students.to_string(),
                allowed: "an integer >= 2",
            });
        }
        check_non_negative("weight", self.weight)?;
        check_positive("temperature", self.temperature)
    }
}

/// Each student's mutual term, `T² · (1 / (K − 1)) Σ_{j≠i} batchmean KL(p_j(T) ‖ p_i(T))`,
/// where the peers' distributions `p_j` are computed from detached logits: the term of
/// student `i` sends gradients to student `i` only. Each KL is the exact form of
/// `kl_divergence_logits` (no cancelling terms for two confident peers).
///
/// # Shapes
/// - `logits`: K tensors `[batch_size, num_classes]`
/// - output: K tensors `[1]`
pub fn mutual_terms(logits: &[Tensor<2>], temperature: f64) -> Vec<Tensor<1>> {
    let t = temperature;
    let k = logits.len();
    let peers: Vec<Tensor<2>> = logits.iter().map(|z| z.clone().detach()).collect();
    (0..k)
        .map(|i| {
            let mut acc: Option<Tensor<1>> = None;
            for (j, peer) in peers.iter().enumerate() {
                if j == i {
                    continue;
                }
                let kl = kl_divergence_logits(peer.clone(), logits[i].clone(), t).mean();
                acc = Some(match acc {
                    None => kl,
                    Some(a) => a + kl,
                });
            }
            acc.expect("mutual learning needs at least two students")
                .mul_scalar(t * t / (k.max(2) - 1) as f64)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, TensorData};
    use dark_knowledge_core::tensor_util::to_vec_f32;

    use super::*;

    #[test]
    fn two_confident_peers_get_the_exact_kl_and_gradient() {
        // Both sure of class 0 (p ≈ 1 − 2.3e-7 and 1 − 1.5e-8 at T = 2): the KL is ~1e-7,
        // a cancellation of log-probabilities near 0 in the textbook form.
        let device = Device::flex().autodiff();
        let (a, b) = ([30.0f32, 0.0], [36.0f32, 0.0]);
        let za =
            Tensor::<2>::from_data(TensorData::new(a.to_vec(), [1, 2]), &device).require_grad();
        let zb = Tensor::<2>::from_data(TensorData::new(b.to_vec(), [1, 2]), &device);
        let t = 2.0;
        let terms = mutual_terms(&[za.clone(), zb], t);
        let grads = terms[0].backward();
        let (value, grad) = (
            to_vec_f32(terms[0].clone())[0],
            to_vec_f32(za.grad(&grads).unwrap()),
        );
        let q = |g: f64| (-g / t).exp() / (1.0 + (-g / t).exp());
        let (qa, qb) = (q(30.0), q(36.0));
        // T² · KL(p_b ‖ p_a) for two classes, and its gradient T · (p_a − p_b).
        let kl = (1.0 - qb) * ((1.0 - qb) / (1.0 - qa)).ln() + qb * (qb / qa).ln();
        let want = t * t * kl;
        assert!(
            (f64::from(value) - want).abs() <= 1e-4 * want,
            "{value} vs {want}"
        );
        let want_grad = t * (qb - qa);
        assert!(
            (f64::from(grad[0]) - want_grad).abs() <= 1e-4 * want_grad.abs(),
            "{grad:?}"
        );
        assert!(
            (f64::from(grad[1]) + want_grad).abs() <= 1e-4 * want_grad.abs(),
            "{grad:?}"
        );
    }
}
