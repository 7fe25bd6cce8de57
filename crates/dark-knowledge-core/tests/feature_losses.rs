//! Finite-difference gradient checks of the feature losses (hint, attention transfer, RKD
//! distance and angle) with respect to the student's features.
//!
//! The analytic gradient comes from burn's autodiff (`Device::flex().autodiff()`), the
//! numeric one from central differences `(f(x + h·e_i) − f(x − h·e_i)) / 2h` with
//! `h = 1e-3`, both in float32, on fixed pseudo-random inputs. Tolerance: for every element
//! `|g_i − ĝ_i| ≤ 1e-2 · max(|ĝ_i|, 0.1 · max_k |ĝ_k|)` — 1e-2 relative, with a floor at a
//! tenth of the largest entry so that near-zero entries are not held to the float32 noise of
//! the central difference (about `ulp(f) / 2h`).

use burn::tensor::{Device, Tensor, TensorData};
use dark_knowledge_core::loss::{
    AttentionTransferConfig, hint_loss, rkd_angle_loss, rkd_distance_loss,
};
use dark_knowledge_core::tensor_util::to_vec_f32;

const H: f32 = 1e-3;
const REL_TOL: f32 = 1e-2;
/// Entries below this fraction of the largest gradient entry are compared against it.
const FLOOR: f32 = 0.1;

/// Fixed pseudo-random values in about `[-1.5, 1.5]`.
fn values(len: usize, seed: f32) -> Vec<f32> {
    (0..len)
        .map(|k| {
            ((k as f32) * 1.37 + seed).sin() * 1.5 + ((k as f32) * 0.61 + 2.0 * seed).cos() * 0.3
        })
        .collect()
}

fn tensor<const D: usize>(values: &[f32], dims: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values.to_vec(), dims), device)
}

/// Asserts that burn's gradient of `loss` at `x` matches central differences within the
/// tolerance above, and prints the largest relative error.
fn check_gradient<const D: usize>(
    name: &str,
    dims: [usize; D],
    x: &[f32],
    loss: impl Fn(Tensor<D>) -> Tensor<1>,
) {
    let autodiff = Device::flex().autodiff();
    let student = tensor(x, dims, &autodiff).require_grad();
    let grads = loss(student.clone()).backward();
    let analytic = to_vec_f32(student.grad(&grads).expect("the student requires grad"));

    let plain = Device::flex();
    let at = |values: &[f32]| loss(tensor(values, dims, &plain)).into_scalar::<f32>();
    let numeric: Vec<f32> = (0..x.len())
        .map(|i| {
            let mut plus = x.to_vec();
            let mut minus = x.to_vec();
            plus[i] += H;
            minus[i] -= H;
            (at(&plus) - at(&minus)) / (2.0 * H)
        })
        .collect();

    let largest = numeric.iter().fold(0.0f32, |m, g| m.max(g.abs()));
    assert!(
        largest > 1e-4,
        "{name}: the gradient is (nearly) zero: {numeric:?}"
    );
    let mut worst = 0.0f32;
    for (i, (a, n)) in analytic.iter().zip(&numeric).enumerate() {
        let scale = n.abs().max(FLOOR * largest);
        let err = (a - n).abs() / scale;
        worst = worst.max(err);
        assert!(
            err <= REL_TOL,
            "{name}: element {i}: analytic {a}, numeric {n} (relative error {err})"
        );
    }
    eprintln!("{name}: largest relative error {worst:.2e} (tolerance {REL_TOL:.0e})");
}

#[test]
fn hint_loss_gradient_matches_finite_differences() {
    let teacher = values(12, 4.0);
    check_gradient("hint", [3, 4], &values(12, 0.5), |s| {
        let t = tensor(&teacher, [3, 4], &s.device());
        hint_loss(s, t).unwrap()
    });
}

#[test]
fn attention_transfer_gradient_matches_finite_differences() {
    // Different channel counts (3 for the student, 5 for the teacher), same 3×3 maps.
    let teacher = values(2 * 5 * 9, 1.3);
    for p in [2.0, 3.0] {
        let loss = AttentionTransferConfig::new(p).init().unwrap();
        check_gradient(
            &format!("attention p={p}"),
            [2, 3, 3, 3],
            &values(54, 0.2),
            |s| {
                let t = tensor(&teacher, [2, 5, 3, 3], &s.device());
                loss.forward(s, t).unwrap()
            },
        );
    }
}

#[test]
fn rkd_distance_gradient_matches_finite_differences() {
    let teacher = values(5 * 4, 2.7);
    check_gradient("rkd distance", [5, 3], &values(15, 0.9), |s| {
        let t = tensor(&teacher, [5, 4], &s.device());
        rkd_distance_loss(s, t).unwrap()
    });
}

#[test]
fn rkd_angle_gradient_matches_finite_differences() {
    let teacher = values(5 * 4, 2.7);
    check_gradient("rkd angle", [5, 3], &values(15, 0.9), |s| {
        let t = tensor(&teacher, [5, 4], &s.device());
        rkd_angle_loss(s, t).unwrap()
    });
}
