//! A masked position changes no loss and no gradient, whatever its logits or states.

use burn::tensor::{Bool, Device, Tensor, TensorData};
use dark_knowledge_core::tensor_util::to_vec_f32;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::{all_divergences, loss, matrix};
use crate::loss::{HiddenLoss, token_hidden_loss};

/// Random `[b, s, v]` student and teacher values and a mask keeping at least one token.
struct Sequence {
    dims: [usize; 3],
    student: Vec<f32>,
    teacher: Vec<f32>,
    keep: Vec<bool>,
}

impl Sequence {
    fn random(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let dims = [
            1 + rng.random_range(0..3),
            1 + rng.random_range(0..6),
            2 + rng.random_range(0..12),
        ];
        let size = dims.iter().product::<usize>();
        let scale: f32 = rng.random_range(1.0..30.0);
        let mut values = || -> Vec<f32> {
            (0..size)
                .map(|_| rng.random_range(-1.0f32..1.0) * scale)
                .collect()
        };
        let (student, teacher) = (values(), values());
        let mut keep: Vec<bool> = (0..dims[0] * dims[1])
            .map(|_| rng.random_range(0.0..1.0) < 0.6)
            .collect();
        keep[rng.random_range(0..dims[0] * dims[1])] = true;
        Self {
            dims,
            student,
            teacher,
            keep,
        }
    }

    /// The same sequence with every masked position overwritten: huge, infinite, NaN or
    /// random values, in the student and the teacher.
    fn perturbed(&self, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed + 7_000);
        let v = self.dims[2];
        let junk = [1e30f32, -1e30, f32::INFINITY, f32::NAN, 5e3, -7e2];
        let mut out = Self {
            dims: self.dims,
            student: self.student.clone(),
            teacher: self.teacher.clone(),
            keep: self.keep.clone(),
        };
        for (token, _) in self.keep.iter().enumerate().filter(|(_, k)| !**k) {
            for x in out.student[token * v..(token + 1) * v]
                .iter_mut()
                .chain(out.teacher[token * v..(token + 1) * v].iter_mut())
            {
                *x = match rng.random_range(0..3) {
                    0 => junk[rng.random_range(0..junk.len())],
                    _ => rng.random_range(-1e4f32..1e4),
                };
            }
        }
        out
    }

    /// The loss (`[1]`, as f32 bits) and its gradient w.r.t. the student, from `f`.
    fn run(
        &self,
        f: impl Fn(Tensor<3>, Tensor<3>, &Tensor<2, Bool>) -> Tensor<1>,
    ) -> (u32, Vec<f32>) {
        let device = Device::flex().autodiff();
        let s = matrix(&self.student, self.dims, &device).require_grad();
        let t = matrix(&self.teacher, self.dims, &device);
        let [b, n, _] = self.dims;
        let mask =
            Tensor::<2, Bool>::from_data(TensorData::new(self.keep.clone(), [b, n]), &device);
        let value = f(s.clone(), t, &mask);
        assert_eq!(value.dims(), [1]);
        let bits = to_vec_f32(value.clone())[0].to_bits();
        let grads = value.backward();
        (
            bits,
            to_vec_f32(s.grad(&grads).expect("the student requires grad")),
        )
    }

    /// Asserts that `f` gives the same loss bits and kept gradients after the perturbation,
    /// and exactly zero gradients at masked positions.
    fn assert_invariant(
        &self,
        seed: u64,
        what: &str,
        f: impl Fn(Tensor<3>, Tensor<3>, &Tensor<2, Bool>) -> Tensor<1>,
    ) {
        let (bits, grad) = self.run(&f);
        let (bits_perturbed, grad_perturbed) = self.perturbed(seed).run(&f);
        assert!(f32::from_bits(bits).is_finite(), "{what}, seed {seed}");
        assert_eq!(
            bits, bits_perturbed,
            "{what}, seed {seed}: the loss changed"
        );
        let v = self.dims[2];
        for (token, keep) in self.keep.iter().enumerate() {
            let (a, b) = (
                &grad[token * v..(token + 1) * v],
                &grad_perturbed[token * v..(token + 1) * v],
            );
            if *keep {
                let same = a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(same, "{what}, seed {seed}, token {token}: {a:?} vs {b:?}");
                assert!(a.iter().all(|x| x.is_finite()), "{what}, seed {seed}");
            } else {
                let zero = a.iter().chain(b).all(|x| x.to_bits() == 0);
                assert!(
                    zero,
                    "{what}, seed {seed}, masked token {token}: {a:?} / {b:?}"
                );
            }
        }
    }
}

#[test]
fn a_masked_token_changes_no_token_kd_loss_and_no_gradient() {
    for divergence in all_divergences() {
        for t in [1.0, 2.0] {
            let kd = loss(divergence, t);
            for seed in 0..12 {
                Sequence::random(seed).assert_invariant(
                    seed,
                    &format!("{divergence:?} at T {t}"),
                    |s, t, mask| kd.forward(s, t, mask).unwrap(),
                );
            }
        }
    }
}

#[test]
fn a_masked_token_changes_no_hidden_loss_and_no_gradient() {
    for kind in [HiddenLoss::Mse, HiddenLoss::Cosine] {
        for seed in 0..20 {
            Sequence::random(seed).assert_invariant(seed, &format!("{kind:?}"), |s, t, mask| {
                token_hidden_loss(s, t, mask, kind).unwrap()
            });
        }
    }
}
