//! Attention transfer (Zagoruyko & Komodakis 2017, "Paying More Attention to Attention").

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::{l2_normalize, shape_mismatch};
use crate::error::{Result, check_positive};

/// Settings of [`AttentionTransferLoss`].
///
/// The default `p = 2` is the paper's choice (and its reference code's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttentionTransferConfig {
    /// The exponent `p > 0` of the activation-based attention map `mean_c |x_c|^p`.
    pub p: f64,
}

impl Default for AttentionTransferConfig {
    fn default() -> Self {
        Self { p: 2.0 }
    }
}

impl AttentionTransferConfig {
    /// A configuration with exponent `p`.
    pub fn new(p: f64) -> Self {
        Self { p }
    }

    /// Checks the exponent and builds the loss.
    ///
    /// # Errors
    /// [`crate::Error::InvalidValue`] for a `p` that is not a finite number > 0.
    pub fn init(&self) -> Result<AttentionTransferLoss> {
        check_positive("p", self.p)?;
        Ok(AttentionTransferLoss { p: self.p })
    }
}

/// Activation-based attention transfer, following the authors' code
/// (`szagoruyko/attention-transfer`, `utils.at` and `utils.at_loss`):
///
/// ```text
/// at(x)  = normalize( mean_c |x[:, c, :, :]|^p  reshaped to [n, h·w] )
/// loss   = (1 / (n·h·w)) Σ_{i,k} (at(s)_ik − at(t)_ik)²
/// normalize(v) = v / max(‖v‖₂, 1e-12)   per row (PyTorch's F.normalize)
/// ```
///
/// The mean is over all `n·h·w` elements of the maps. Student and teacher may have
/// different channel counts (the map averages over channels) but need the same batch size
/// and spatial size. The teacher's maps are detached.
///
/// The paper sums this loss over several layer pairs and weights the sum by `β/2` with
/// `β = 1000`; that weight is the trainer's, not part of this loss.
///
/// For `p = 2`, `|x|²` is computed as `x·x` (gradient `2x`, 0 at 0). For `p < 1` the
/// gradient of `|x|^p` is infinite at 0: exact zeros (common after ReLU) are given value 0
/// and gradient 0 instead of `NaN`.
///
/// # Shapes
/// - student: `[n, c_s, h, w]`, teacher: `[n, c_t, h, w]`
/// - output: `[1]`
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttentionTransferLoss {
    p: f64,
}

impl AttentionTransferLoss {
    /// The exponent `p`.
    pub fn p(&self) -> f64 {
        self.p
    }

    /// The attention-transfer loss between a student and a teacher feature map.
    ///
    /// # Errors
    /// [`crate::Error::ShapeMismatch`] naming both shapes when the batch sizes or the spatial
    /// sizes differ.
    pub fn forward(&self, student: Tensor<4>, teacher: Tensor<4>) -> Result<Tensor<1>> {
        let [n_s, _, h_s, w_s] = student.dims();
        let [n_t, _, h_t, w_t] = teacher.dims();
        if (n_s, h_s, w_s) != (n_t, h_t, w_t) {
            return Err(shape_mismatch(
                "attention transfer",
                "student maps with the teacher's batch size and spatial size",
                &student.dims(),
                &teacher.dims(),
            ));
        }
        let diff = self.attention_map(student) - self.attention_map(teacher.detach());
        Ok(diff.square().mean())
    }

    /// The normalised attention map `at(x)` of a feature map, one unit-norm row per sample
    /// (an all-zero map gives a zero row).
    ///
    /// # Shapes
    /// - `maps`: `[n, c, h, w]`
    /// - output: `[n, h·w]`
    pub fn attention_map(&self, maps: Tensor<4>) -> Tensor<2> {
        let [n, _, h, w] = maps.dims();
        let powered = if self.p == 2.0 {
            maps.clone() * maps
        } else if self.p >= 1.0 {
            maps.abs().powf_scalar(self.p)
        } else {
            // |x|^p with p < 1 has an infinite slope at 0: substitute 1 at the zeros (finite
            // gradient) and put 0 back, which also zeroes the gradient there.
            let magnitude = maps.abs();
            let zero = magnitude.clone().equal_elem(0.0);
            magnitude
                .mask_fill(zero.clone(), 1.0)
                .powf_scalar(self.p)
                .mask_fill(zero, 0.0)
        };
        let map: Tensor<2> = powered.mean_dim(1).reshape([n, h * w]);
        l2_normalize(map, 1)
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;

    use super::*;
    use crate::tensor_util::to_vec_f32;
    use crate::test_support::tensor as maps;

    /// Student `[1, 2, 2, 2]`: channel 0 = [[2, 0], [0, 0]], channel 1 = [[−2, 0], [0, 0]].
    /// Teacher `[1, 2, 2, 2]`: channel 0 = [[1, 2], [2, 0]], channel 1 = [[1, 0], [0, 0]].
    fn pair(device: &Device) -> (Tensor<4>, Tensor<4>) {
        let student = maps(
            vec![2.0, 0.0, 0.0, 0.0, -2.0, 0.0, 0.0, 0.0],
            [1, 2, 2, 2],
            device,
        );
        let teacher = maps(
            vec![1.0, 2.0, 2.0, 0.0, 1.0, 0.0, 0.0, 0.0],
            [1, 2, 2, 2],
            device,
        );
        (student, teacher)
    }

    #[test]
    fn p2_matches_the_hand_computation() {
        // Student: mean_c x² = [(4+4)/2, 0, 0, 0] = [4, 0, 0, 0] → at(s) = [1, 0, 0, 0].
        // Teacher: mean_c x² = [(1+1)/2, (4+0)/2, (4+0)/2, 0] = [1, 2, 2, 0], norm 3
        //   → at(t) = [1/3, 2/3, 2/3, 0].
        // at(s) − at(t) = [2/3, −2/3, −2/3, 0]; squares sum to 3·4/9 = 4/3; mean over the
        // 1·4 elements = 1/3.
        let device = Device::flex();
        let (s, t) = pair(&device);
        let loss = AttentionTransferConfig::default().init().unwrap();
        let at_t = to_vec_f32(loss.attention_map(t.clone()));
        for (got, want) in at_t.iter().zip([1.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0, 0.0f32]) {
            assert!((got - want).abs() < 1e-6, "{at_t:?}");
        }
        let value = loss.forward(s, t).unwrap();
        assert_eq!(value.dims(), [1]);
        assert!((value.into_scalar::<f32>() - 1.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn p1_matches_the_hand_computation() {
        // Student: mean_c |x| = [2, 0, 0, 0] → at(s) = [1, 0, 0, 0].
        // Teacher: mean_c |x| = [1, 1, 1, 0] → at(t) = [1, 1, 1, 0] / √3.
        // Squared differences: (1 − 1/√3)² + 1/3 + 1/3 = 2 − 2/√3; mean over 4 elements
        // = 1/2 − 1/(2√3) ≈ 0.211325.
        let device = Device::flex();
        let (s, t) = pair(&device);
        let loss = AttentionTransferConfig::new(1.0).init().unwrap();
        let want = 0.5 - 1.0 / (2.0 * 3.0f32.sqrt());
        let got = loss.forward(s, t).unwrap().into_scalar::<f32>();
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }

    #[test]
    fn channel_counts_may_differ_and_scale_does_not_matter() {
        // A 1-channel student [[4, 0], [0, 0]] has the attention map [1, 0, 0, 0] of the
        // 2-channel student above; the loss is the same 1/3.
        let device = Device::flex();
        let (_, t) = pair(&device);
        let s = maps(vec![4.0, 0.0, 0.0, 0.0], [1, 1, 2, 2], &device);
        let loss = AttentionTransferConfig::default().init().unwrap();
        let got = loss.forward(s, t).unwrap().into_scalar::<f32>();
        assert!((got - 1.0 / 3.0).abs() < 1e-6, "{got}");
    }

    #[test]
    fn small_p_gives_finite_gradients_at_zero_activations() {
        let device = Device::flex().autodiff();
        let (s, t) = pair(&device);
        let s = s.require_grad();
        let loss = AttentionTransferConfig::new(0.5).init().unwrap();
        let grads = loss.forward(s.clone(), t).unwrap().backward();
        let grad = to_vec_f32(s.grad(&grads).expect("the student requires grad"));
        assert!(grad.iter().all(|g| g.is_finite()), "{grad:?}");
    }

    #[test]
    fn mismatched_spatial_or_batch_sizes_are_errors_naming_both_shapes() {
        let device = Device::flex();
        let loss = AttentionTransferConfig::default().init().unwrap();
        let msg = loss
            .forward(
                Tensor::zeros([2, 4, 14, 14], &device),
                Tensor::zeros([2, 8, 7, 7], &device),
            )
            .unwrap_err()
            .to_string();
        assert!(msg.contains("attention transfer"), "{msg}");
        assert!(msg.contains("student [2, 4, 14, 14]"), "{msg}");
        assert!(msg.contains("teacher [2, 8, 7, 7]"), "{msg}");
        let msg = loss
            .forward(
                Tensor::zeros([3, 4, 7, 7], &device),
                Tensor::zeros([2, 4, 7, 7], &device),
            )
            .unwrap_err()
            .to_string();
        assert!(msg.contains("student [3, 4, 7, 7]") && msg.contains("teacher [2, 4, 7, 7]"));
    }

    #[test]
    fn init_rejects_a_non_positive_p_and_unknown_keys() {
        for bad in [0.0, -2.0, f64::NAN, f64::INFINITY] {
            let msg = AttentionTransferConfig::new(bad)
                .init()
                .unwrap_err()
                .to_string();
            assert!(msg.contains("invalid p"), "{msg}");
        }
        let config: AttentionTransferConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config, AttentionTransferConfig::default());
        let err = serde_json::from_str::<AttentionTransferConfig>(r#"{"p": 2, "beta": 1000}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("beta"), "{err}");
    }
}
