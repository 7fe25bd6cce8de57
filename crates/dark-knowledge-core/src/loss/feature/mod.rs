//! Feature-based distillation losses: the student imitates the teacher's intermediate
//! representations rather than (only) its logits.
//!
//! - [`hint_loss`]: FitNets hints (Romero et al. 2015), a mean squared error between a
//!   projected student layer and a teacher layer; [`hint_projection`] builds the projection.
//! - [`AttentionTransferLoss`]: attention transfer (Zagoruyko & Komodakis 2017), comparing
//!   normalised spatial attention maps of convolutional feature maps.
//! - [`RkdLoss`]: relational knowledge distillation (Park et al. 2019), comparing the
//!   distances and angles between the samples of a batch.
//!
//! All are float32 and device-agnostic, and return a one-element tensor (shape `[1]`) like
//! the logit losses. The teacher's features are treated as constants: every loss detaches
//! them, so no gradient can reach a teacher through a feature term.
//!
//! Shapes are checked on every call: a mismatch is an [`Error::ShapeMismatch`] naming the
//! student's and the teacher's shapes, never a panic inside burn. [`check_feature_shapes`]
//! runs the same check ahead of time (e.g. when a trainer wires up its terms).

use burn::tensor::Tensor;

use crate::error::{Error, Result};

mod attention;
mod hint;
mod rkd;

pub use attention::{AttentionTransferConfig, AttentionTransferLoss};
pub use hint::{hint_loss, hint_projection};
pub use rkd::{RkdConfig, RkdLoss, RkdTerms, rkd_angle_loss, rkd_distance_loss};

/// The `eps` of PyTorch's `F.normalize`: a vector is divided by `max(‖x‖₂, NORMALIZE_EPS)`.
const NORMALIZE_EPS: f64 = 1e-12;

/// Checks that student and teacher features have the same shape.
///
/// `what` names the loss term in the message, e.g. `"hint loss"`.
///
/// # Errors
/// [`Error::ShapeMismatch`] naming both shapes when they differ.
pub fn check_feature_shapes(
    what: &'static str,
    student_dims: &[usize],
    teacher_dims: &[usize],
) -> Result<()> {
    if student_dims == teacher_dims {
        Ok(())
    } else {
        Err(shape_mismatch(
            what,
            "student features shaped like the teacher's",
            student_dims,
            teacher_dims,
        ))
    }
}

/// A [`Error::ShapeMismatch`] stating `requirement` and naming both shapes.
fn shape_mismatch(
    what: &'static str,
    requirement: &str,
    student_dims: &[usize],
    teacher_dims: &[usize],
) -> Error {
    Error::ShapeMismatch {
        what,
        expected: format!("{requirement} (teacher {teacher_dims:?})"),
        got: format!("student {student_dims:?}"),
    }
}

/// `x / max(‖x‖₂, 1e-12)` along `dim`, as PyTorch's `F.normalize(x, p=2, dim=dim)`.
///
/// The norm is computed as `sqrt(max(Σ x², 1e-24))`: the same value, and a finite
/// gradient for an all-zero vector (whose output is the zero vector).
fn l2_normalize<const D: usize>(x: Tensor<D>, dim: usize) -> Tensor<D> {
    let norm = x
        .clone()
        .square()
        .sum_dim(dim)
        .clamp_min(NORMALIZE_EPS * NORMALIZE_EPS)
        .sqrt();
    x / norm
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, TensorData};

    use super::*;
    use crate::tensor_util::to_vec_f32;

    #[test]
    fn shape_check_names_both_shapes() {
        assert!(check_feature_shapes("hint loss", &[4, 8], &[4, 8]).is_ok());
        let msg = check_feature_shapes("hint loss", &[4, 6], &[4, 8])
            .unwrap_err()
            .to_string();
        assert!(msg.contains("hint loss"), "{msg}");
        assert!(msg.contains("student [4, 6]"), "{msg}");
        assert!(msg.contains("teacher [4, 8]"), "{msg}");
    }

    #[test]
    fn normalize_divides_by_the_norm_and_keeps_zero_rows_zero() {
        // Rows (3, 4) → (0.6, 0.8); (0, 0) → (0, 0) (divided by 1e-12, not by 0).
        let device = Device::flex();
        let x = Tensor::<2>::from_data(
            TensorData::new(vec![3.0f32, 4.0, 0.0, 0.0], [2, 2]),
            &device,
        );
        let got = to_vec_f32(l2_normalize(x, 1));
        let want = [0.6f32, 0.8, 0.0, 0.0];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{got:?}");
        }
    }

    #[test]
    fn normalize_has_a_finite_gradient_at_a_zero_row() {
        let device = Device::flex().autodiff();
        let x = Tensor::<2>::zeros([1, 3], &device).require_grad();
        let grads = l2_normalize(x.clone(), 1).sum().backward();
        let grad = to_vec_f32(x.grad(&grads).expect("x requires grad"));
        assert!(grad.iter().all(|g| g.is_finite()), "{grad:?}");
    }
}
