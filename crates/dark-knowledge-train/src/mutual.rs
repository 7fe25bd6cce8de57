//! Deep mutual learning (Zhang et al. 2018, "Deep Mutual Learning"): students teach each
//! other while they train.

use burn::tensor::Tensor;
use burn::tensor::activation::log_softmax;
use dark_knowledge_core::error::{Result, check_non_negative, check_positive};
use dark_knowledge_core::loss::kl_divergence_log_space;
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
/// student `i` sends gradients to student `i` only.
///
/// # Shapes
/// - `logits`: K tensors `[batch_size, num_classes]`
/// - output: K tensors `[1]`
pub fn mutual_terms(logits: &[Tensor<2>], temperature: f64) -> Vec<Tensor<1>> {
    let t = temperature;
    let k = logits.len();
    let own: Vec<Tensor<2>> = logits
        .iter()
        .map(|z| log_softmax(z.clone().div_scalar(t), 1))
        .collect();
    let peers: Vec<Tensor<2>> = own.iter().map(|l| l.clone().detach()).collect();
    (0..k)
        .map(|i| {
            let mut acc: Option<Tensor<1>> = None;
            for (j, peer) in peers.iter().enumerate() {
                if j == i {
                    continue;
                }
                let kl = kl_divergence_log_space(peer.clone(), own[i].clone()).mean();
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
