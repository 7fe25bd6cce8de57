//! FitNets hints (Romero et al. 2015, "FitNets: Hints for Thin Deep Nets").

use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use super::check_feature_shapes;
use crate::error::Result;

/// The FitNets hint loss: the mean squared error between the student's hidden layer, mapped
/// to the teacher's width by a learned projection, and the teacher's hidden layer.
///
/// ```text
/// loss = (1 / (n·d_t)) Σ_{i,k} (s_ik − t_ik)²      s = projection(student hidden)
/// ```
///
/// The mean is over all `n·d_t` elements (PyTorch's `F.mse_loss` with `reduction="mean"`).
/// The teacher's features are detached: no gradient flows into them.
///
/// The projection (a `Linear` `d_s → d_t`, see [`hint_projection`]) belongs to the trainer,
/// which trains it together with the student; this function only compares.
///
/// # Shapes
/// - `projected_student`, `teacher`: `[batch_size, d_t]`
/// - output: `[1]`
///
/// # Errors
/// [`crate::Error::ShapeMismatch`] naming both shapes when they differ.
pub fn hint_loss(projected_student: Tensor<2>, teacher: Tensor<2>) -> Result<Tensor<1>> {
    check_feature_shapes("hint loss", &projected_student.dims(), &teacher.dims())?;
    let diff = projected_student - teacher.detach();
    Ok(diff.square().mean())
}

/// The learned regressor of FitNets: a `Linear` layer `student_dim → teacher_dim` (with
/// bias, burn's default initialisation) on `device`.
///
/// Build it on the training (autodiff) device and train its parameters with the student's;
/// its parameters are drawn from the device's random generator.
pub fn hint_projection(student_dim: usize, teacher_dim: usize, device: &Device) -> Linear {
    LinearConfig::new(student_dim, teacher_dim).init(device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor_util::to_vec_f32;
    use crate::test_support::tensor as matrix;

    #[test]
    fn hint_loss_is_the_mean_of_the_squared_differences() {
        // s = [[1, 2], [3, 4]], t = [[0, 2], [1, 1]]: differences 1, 0, 2, 3;
        // squares 1 + 0 + 4 + 9 = 14; mean over the 4 elements = 3.5.
        let device = Device::flex();
        let s = matrix(vec![1.0, 2.0, 3.0, 4.0], [2, 2], &device);
        let t = matrix(vec![0.0, 2.0, 1.0, 1.0], [2, 2], &device);
        let loss = hint_loss(s, t).unwrap();
        assert_eq!(loss.dims(), [1]);
        assert!((loss.into_scalar::<f32>() - 3.5).abs() < 1e-6);
    }

    #[test]
    fn hint_loss_rejects_mismatched_shapes_naming_both() {
        let device = Device::flex();
        let msg = hint_loss(
            Tensor::zeros([4, 3], &device),
            Tensor::zeros([4, 5], &device),
        )
        .unwrap_err()
        .to_string();
        assert!(msg.contains("hint loss"), "{msg}");
        assert!(msg.contains("student [4, 3]"), "{msg}");
        assert!(msg.contains("teacher [4, 5]"), "{msg}");
    }

    #[test]
    fn a_detached_teacher_receives_no_gradient() {
        let device = Device::flex().autodiff();
        let s = matrix(vec![1.0, 2.0, 3.0, 4.0], [2, 2], &device).require_grad();
        let t = matrix(vec![0.0, 2.0, 1.0, 1.0], [2, 2], &device).require_grad();
        let grads = hint_loss(s.clone(), t.clone().detach()).unwrap().backward();
        // d/ds mean((s − t)²) = 2 (s − t) / 4 = [[0.5, 0], [1, 1.5]].
        let grad_s = to_vec_f32(s.grad(&grads).expect("the student requires grad"));
        assert_eq!(grad_s, vec![0.5, 0.0, 1.0, 1.5]);
        let no_grad =
            |g: Option<Tensor<2>>| g.is_none_or(|g| to_vec_f32(g).iter().all(|&v| v == 0.0));
        assert!(no_grad(t.grad(&grads)), "a detached teacher got a gradient");

        // The loss detaches the teacher itself, too.
        let grads = hint_loss(s, t.clone()).unwrap().backward();
        assert!(
            no_grad(t.grad(&grads)),
            "the loss let a gradient into the teacher"
        );
    }

    #[test]
    fn the_projection_is_trained_through_the_hint_loss() {
        let device = Device::flex().autodiff();
        device.seed(7);
        let projection = hint_projection(3, 2, &device);
        assert_eq!(projection.weight.dims(), [3, 2]);
        let student = matrix(
            vec![
                0.5, -1.0, 2.0, 1.5, 0.0, -0.5, 1.0, 1.0, 1.0, -2.0, 0.5, 0.25,
            ],
            [4, 3],
            &device,
        );
        let teacher = matrix(
            vec![1.0, -1.0, 0.0, 2.0, 3.0, 0.5, -1.0, 0.0],
            [4, 2],
            &device,
        );
        let loss = hint_loss(projection.forward(student), teacher.detach()).unwrap();
        let grads = loss.backward();
        let weight_grad = projection
            .weight
            .val()
            .grad(&grads)
            .expect("the projection's weight requires grad");
        assert_eq!(weight_grad.dims(), [3, 2]);
        let size = weight_grad.abs().sum().into_scalar::<f32>();
        assert!(size > 1e-4, "|grad W| = {size}");
        let bias = projection.bias.as_ref().expect("the projection has a bias");
        assert!(bias.val().grad(&grads).is_some());
    }
}
