//! Hidden-state distillation against f64 by hand.

use burn::tensor::{Bool, Device, Tensor, TensorData};
use dark_knowledge_core::tensor_util::to_vec_f32;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::matrix;
use crate::Error;
use crate::loss::{HiddenLoss, hidden_projection, token_hidden_loss};

/// The loss and its gradient per kept token, in f64: `(value, ∂/∂s)` of the token's term.
fn by_hand(s: &[f64], t: &[f64], kind: HiddenLoss) -> (f64, Vec<f64>) {
    let d = s.len() as f64;
    match kind {
        HiddenLoss::Mse => (
            s.iter().zip(t).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / d,
            s.iter().zip(t).map(|(a, b)| 2.0 * (a - b) / d).collect(),
        ),
        HiddenLoss::Cosine => {
            let norm = |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-8);
            let (ns, nt) = (norm(s), norm(t));
            let dot: f64 = s.iter().zip(t).map(|(a, b)| a * b).sum();
            let cos = dot / (ns * nt);
            let grad = s
                .iter()
                .zip(t)
                .map(|(a, b)| -(b / (ns * nt) - cos * a / (ns * ns)))
                .collect();
            (1.0 - cos, grad)
        }
    }
}

#[test]
fn values_and_gradients_match_f64_by_hand() {
    for kind in [HiddenLoss::Mse, HiddenLoss::Cosine] {
        for seed in 0..30 {
            let mut rng = StdRng::seed_from_u64(seed);
            let (b, n, d) = (
                1 + rng.random_range(0..3),
                1 + rng.random_range(0..5),
                1 + rng.random_range(0..16),
            );
            let scale: f32 = rng.random_range(0.1..10.0);
            let mut values = |len: usize| -> Vec<f32> {
                (0..len)
                    .map(|_| rng.random_range(-1.0f32..1.0) * scale)
                    .collect()
            };
            let (s, t) = (values(b * n * d), values(b * n * d));
            let mut keep: Vec<bool> = (0..b * n)
                .map(|i| !(i + seed as usize).is_multiple_of(3))
                .collect();
            keep[0] = true;
            let device = Device::flex().autodiff();
            let student = matrix(&s, [b, n, d], &device).require_grad();
            let mask = Tensor::<2, Bool>::from_data(TensorData::new(keep.clone(), [b, n]), &device);
            let loss =
                token_hidden_loss(student.clone(), matrix(&t, [b, n, d], &device), &mask, kind)
                    .unwrap();
            assert_eq!(loss.dims(), [1]);
            let got = f64::from(to_vec_f32(loss.clone())[0]);
            let grad = to_vec_f32(student.grad(&loss.backward()).unwrap());
            let kept = keep.iter().filter(|k| **k).count() as f64;
            let mut want = 0.0;
            for (token, _) in keep.iter().enumerate().filter(|(_, k)| **k) {
                let row = |x: &[f32]| {
                    x[token * d..(token + 1) * d]
                        .iter()
                        .map(|&v| f64::from(v))
                        .collect::<Vec<_>>()
                };
                let (value, g) = by_hand(&row(&s), &row(&t), kind);
                want += value / kept;
                for (c, g) in g.iter().enumerate() {
                    let got = f64::from(grad[token * d + c]);
                    // float32 sums of d terms: ~1e-6 relative, plus cancellation at ~1e-7 of the scale.
                    assert!(
                        (got - g / kept).abs() <= 1e-4 * (g / kept).abs() + 1e-6 / kept,
                        "{kind:?} seed {seed}: {got} vs {}",
                        g / kept
                    );
                }
            }
            assert!(
                (got - want).abs() <= 1e-5 * want.abs() + 1e-6,
                "{kind:?} seed {seed}: {got} vs {want}"
            );
        }
    }
}

#[test]
fn a_zero_state_gives_cosine_one_and_a_finite_gradient() {
    let device = Device::flex().autodiff();
    let s = matrix(&[0.0, 0.0, 0.0, 1.0, 2.0, 2.0], [1, 2, 3], &device).require_grad();
    let t = matrix(&[1.0, -1.0, 0.5, 2.0, 4.0, 4.0], [1, 2, 3], &device);
    let mask = Tensor::<2, Bool>::from_data(TensorData::new(vec![true, true], [1, 2]), &device);
    let loss = token_hidden_loss(s.clone(), t, &mask, HiddenLoss::Cosine).unwrap();
    // Token 0: cos = 0 → 1; token 1: parallel → 0. Mean 0.5.
    assert!((to_vec_f32(loss.clone())[0] - 0.5).abs() < 1e-6);
    let grad = to_vec_f32(s.grad(&loss.backward()).unwrap());
    assert!(grad.iter().all(|g| g.is_finite()), "{grad:?}");
    let zero = matrix(&[0.0; 6], [1, 2, 3], &device);
    let both = token_hidden_loss(zero.clone(), zero, &mask, HiddenLoss::Cosine).unwrap();
    assert_eq!(to_vec_f32(both), vec![1.0]);
}

#[test]
fn shapes_are_checked() {
    let device = Device::flex();
    let mask = Tensor::<2, Bool>::from_data(TensorData::new(vec![true; 6], [2, 3]), &device);
    let s = Tensor::<3>::zeros([2, 3, 4], &device);
    let shape_error = |r: crate::Result<Tensor<1>>| match r {
        Err(Error::ShapeMismatch {
            what,
            expected,
            got,
        }) => format!("{what}: {expected} / {got}"),
        other => panic!("expected a shape mismatch, got {other:?}"),
    };
    for kind in [HiddenLoss::Mse, HiddenLoss::Cosine] {
        let msg = shape_error(token_hidden_loss(
            s.clone(),
            Tensor::zeros([2, 3, 5], &device),
            &mask,
            kind,
        ));
        assert!(
            msg.contains("hidden") && msg.contains("[2, 3, 4]") && msg.contains("[2, 3, 5]"),
            "{msg}"
        );
        let wrong = Tensor::<2, Bool>::from_data(TensorData::new(vec![true; 4], [2, 2]), &device);
        let msg = shape_error(token_hidden_loss(s.clone(), s.clone(), &wrong, kind));
        assert!(msg.contains("[2, 3]"), "{msg}");
        let none = Tensor::<2, Bool>::from_data(TensorData::new(vec![false; 6], [2, 3]), &device);
        assert!(matches!(
            token_hidden_loss(s.clone(), s.clone(), &none, kind),
            Err(Error::ShapeMismatch { .. })
        ));
    }
}

#[test]
fn the_projection_maps_widths_and_is_trained_through_the_loss() {
    let device = Device::flex().autodiff();
    device.seed(3);
    let projection = hidden_projection(3, 5, &device);
    assert_eq!(projection.weight.dims(), [3, 5]);
    let states = Tensor::<3>::random(
        [2, 4, 3],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device,
    );
    assert_eq!(projection.forward(states.clone()).dims(), [2, 4, 5]);
    let teacher = Tensor::<3>::random(
        [2, 4, 5],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device,
    );
    let mask = Tensor::<2, Bool>::from_data(
        TensorData::new(
            vec![true, true, false, true, true, false, false, true],
            [2, 4],
        ),
        &device,
    );
    for kind in [HiddenLoss::Mse, HiddenLoss::Cosine] {
        let projected = projection.forward(states.clone());
        let loss = token_hidden_loss(projected, teacher.clone(), &mask, kind).unwrap();
        let grads = loss.backward();
        let w = projection
            .weight
            .val()
            .grad(&grads)
            .expect("the weight is trained");
        assert!(w.abs().sum().into_scalar::<f32>() > 1e-6, "{kind:?}");
    }
}
