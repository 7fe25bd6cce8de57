//! The top-k teacher: k = V, the core's top-k KD, the exact rest bin.

use burn::tensor::{Device, Int, Tensor, TensorData};
use dark_knowledge_core::loss::top_k_kd_no_reduction;
use dark_knowledge_core::tensor_util::to_vec_f32;

use super::reference;
use super::{Case, all_divergences, loss, matrix};
use crate::loss::{TokenDivergence as D, TokenKdLoss};

/// The teacher's top-k of a case: indices `[n, k]`, values, and the rest's log-sum-exp at
/// T = 1 (in f64, then rounded), as a cache stores them.
struct TopK {
    k: usize,
    indices: Vec<i64>,
    values: Vec<f32>,
    rest: Vec<f32>,
}

impl TopK {
    fn of(case: &Case, k: usize) -> Self {
        let (mut indices, mut values, mut rest) = (vec![], vec![], vec![]);
        for i in 0..case.n {
            let row = Case::row(&case.zt, case.v, i);
            let mut order: Vec<usize> = (0..case.v).collect();
            order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
            indices.extend(order[..k].iter().map(|&c| c as i64));
            values.extend(order[..k].iter().map(|&c| row[c] as f32));
            let others: Vec<f64> = order[k..].iter().map(|&c| row[c]).collect();
            rest.push(log_sum_exp(&others, 1.0) as f32);
        }
        Self {
            k,
            indices,
            values,
            rest,
        }
    }

    /// The loss rows and the gradient w.r.t. the student.
    fn run(&self, kd: &TokenKdLoss, case: &Case) -> (Vec<f32>, Vec<f32>) {
        let device = Device::flex().autodiff();
        let s = matrix(&case.zs, [case.n, case.v], &device).require_grad();
        let indices = Tensor::<2, Int>::from_data(
            TensorData::new(self.indices.clone(), [case.n, self.k]),
            &device,
        );
        let values = matrix(&self.values, [case.n, self.k], &device);
        let rest = matrix(&self.rest, [case.n, 1], &device);
        let out = kd.forward_top_k_rows(s.clone(), indices, values, rest);
        let got = to_vec_f32(out.clone());
        let grads = out.sum().backward();
        (
            got,
            to_vec_f32(s.grad(&grads).expect("the student requires grad")),
        )
    }
}

fn log_sum_exp(x: &[f64], t: f64) -> f64 {
    let m = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    m + x.iter().map(|v| ((v - m) / t).exp()).sum::<f64>().ln() * t
}

#[test]
fn with_k_equal_to_the_vocabulary_it_is_the_full_loss() {
    for divergence in all_divergences() {
        for t in [1.0, 2.0] {
            let kd = loss(divergence, t);
            for seed in 0..16 {
                let case = Case::random(seed);
                let mut top = TopK::of(&case, case.v);
                top.rest = vec![f32::NAN; case.n]; // ignored at k = V
                let (got, grad) = top.run(&kd, &case);
                let (want, want_grad) = case.run(&kd);
                // The same float32 computation on the classes in another order.
                for (a, b) in got.iter().zip(&want) {
                    assert!(
                        (a - b).abs() <= 1e-5 * b.abs() + 1e-7,
                        "{divergence:?} seed {seed}: {a} vs {b}"
                    );
                }
                let scale = want_grad.iter().fold(0f32, |m, g| m.max(g.abs()));
                if divergence == D::TotalVariation {
                    continue; // |p − q|'s kinks flip with the summation order
                }
                for (a, b) in grad.iter().zip(&want_grad) {
                    // Float32 gradients summed in another order: 1e-4 above the floors of `values`.
                    assert!(
                        (a - b).abs() <= 5e-3 * b.abs() + 1e-5 * scale + 1e-8 * t as f32,
                        "{divergence:?} seed {seed}"
                    );
                }
            }
        }
    }
}

#[test]
fn forward_kl_agrees_with_the_cores_top_k_kd() {
    let device = Device::flex();
    for seed in 0..24 {
        let original = Case::random(seed);
        if original.v < 3 {
            continue;
        }
        for k in [1, 2, original.v - 1] {
            for t in [1.0, 2.0] {
                let mut case = original.clone();
                if t != 1.0 {
                    // Away from T = 1 the cache's rest bin assumes equal rest logits: make them so.
                    let top = TopK::of(&case, k);
                    for i in 0..case.n {
                        let kept = &top.indices[i * k..(i + 1) * k];
                        for c in 0..case.v {
                            if !kept.contains(&(c as i64)) {
                                case.zt[i * case.v + c] = top.values[(i + 1) * k - 1] - 3.0;
                            }
                        }
                    }
                }
                let top = TopK::of(&case, k);
                let (got, _) = top.run(&loss(D::ForwardKl, t), &case);
                let want = to_vec_f32(top_k_kd_no_reduction(
                    matrix(&case.zs, [case.n, case.v], &device),
                    matrix(&case.zt, [case.n, case.v], &device),
                    k,
                    t,
                ));
                for (a, b) in got.iter().zip(&want) {
                    assert!(
                        (a - b).abs() <= 2e-5 * b.abs() + 1e-7,
                        "seed {seed} k {k} T {t}: {a} vs {b}"
                    );
                }
            }
        }
    }
}

/// The f64 reference on the k + 1 bins, and its gradient carried back to the logits.
fn reference_on_bins(d: D, case: &Case, top: &TopK, i: usize, t: f64) -> (f64, Vec<f64>, Vec<f64>) {
    let (zs, k, v) = (Case::row(&case.zs, case.v, i), top.k, case.v);
    let kept: Vec<usize> = top.indices[i * k..(i + 1) * k]
        .iter()
        .map(|&c| c as usize)
        .collect();
    let others: Vec<usize> = (0..v).filter(|c| !kept.contains(c)).collect();
    let rest_s: Vec<f64> = others.iter().map(|&c| zs[c]).collect();
    let mut bins_s: Vec<f64> = kept.iter().map(|&c| zs[c]).collect();
    bins_s.push(log_sum_exp(&rest_s, t));
    let mut bins_t: Vec<f64> = top.values[i * k..(i + 1) * k]
        .iter()
        .map(|&x| f64::from(x))
        .collect();
    bins_t.push(f64::from(top.rest[i]) + (t - 1.0) * ((v - k) as f64).ln());
    let value = reference::value(d, &bins_s, &bins_t, t);
    let g = reference::gradient(d, &bins_s, &bins_t, t);
    let mut grad = vec![0.0; v];
    for (j, &c) in kept.iter().enumerate() {
        grad[c] = g[j];
    }
    // ∂(T logsumexp(z/T))/∂z_c is the softmax of the rest at T.
    let mut weight = vec![0.0; v];
    for &c in &others {
        weight[c] = ((zs[c] - bins_s[k]) / t).exp();
        grad[c] = g[k] * weight[c];
    }
    (value, grad, weight)
}

#[test]
fn the_rest_bins_are_exact_and_the_gradient_matches_f64() {
    let (mut worst_value, mut worst_grad) = (0f64, 0f64);
    for divergence in all_divergences() {
        for t in [1.0, 2.0] {
            let kd = loss(divergence, t);
            for seed in 0..24 {
                let case = Case::random(seed);
                if case.v < 3 {
                    continue;
                }
                for k in [1, case.v / 2, case.v - 1] {
                    let top = TopK::of(&case, k);
                    let (got, grad) = top.run(&kd, &case);
                    for i in 0..case.n {
                        let (want, want_grad, weight) =
                            reference_on_bins(divergence, &case, &top, i, t);
                        // The rest bins are float32 log-sum-exps of logits up to ~30, exact to
                        // ~ulp(30) = 2e-6 in their offsets u; a KL ~ u² moves by ~2 u du.
                        // Total variation is linear in the bins' probabilities: ~1e-6 T² absolute.
                        let linear = if divergence == D::TotalVariation {
                            1e-6 * t * t
                        } else {
                            0.0
                        };
                        let e = (f64::from(got[i]) - want).abs()
                            / (1e-4 * want + 2e-6 * t * want.sqrt() + linear + 1e-12);
                        worst_value = worst_value.max(e);
                        assert!(
                            e <= 1.0,
                            "{divergence:?} T {t} seed {seed} k {k}: {} vs {want}",
                            got[i]
                        );
                        let scale = want_grad.iter().fold(0f64, |m, g| m.max(g.abs()));
                        for (c, w) in want_grad.iter().enumerate() {
                            let g = f64::from(grad[i * case.v + c]);
                            assert!(g.is_finite());
                            // As in `values`: 1e-4 relative above float32's floors.
                            // The rest bin (a float32 log-sum-exp, a few 1e-6 off, its mass ~1 at
                            // small k) reaches each rest class c through its share w_c: 1e-4 T w_c.

                            // A kept class's gradient T (q_c − p_c) has float32's floor
                            // ~1e-7 T (p_c + q_c) ≤ 2e-6 T, as in `values`.
                            let floor = if weight[c] > 0.0 {
                                1e-4 * t * weight[c]
                            } else {
                                2e-6 * t
                            };
                            let e = (g - w).abs() / (5e-3 * w.abs() + 1e-5 * scale + floor);
                            worst_grad = worst_grad.max(e);
                            assert!(
                                e <= 1.0,
                                "{divergence:?} T {t} seed {seed} k {k} class {c}: {g} vs {w}"
                            );
                        }
                    }
                }
            }
        }
    }
    println!(
        "top-k: worst error as a fraction of the tolerance: value {worst_value:.2}, gradient {worst_grad:.2}"
    );
}

#[test]
fn the_indices_need_not_be_sorted() {
    let device = Device::flex();
    let case = Case::random(9);
    let k = case.v.min(3);
    let top = TopK::of(&case, k);
    let kd = loss(D::Jsd { beta: 0.5 }, 2.0);
    let run = |indices: Vec<i64>, values: Vec<f32>| {
        to_vec_f32(kd.forward_top_k_rows(
            matrix(&case.zs, [case.n, case.v], &device),
            Tensor::from_data(TensorData::new(indices, [case.n, k]), &device),
            matrix(&values, [case.n, k], &device),
            matrix(&top.rest, [case.n, 1], &device),
        ))
    };
    let reversed = |x: &[i64]| {
        x.chunks(k)
            .flat_map(|c| c.iter().rev().copied())
            .collect::<Vec<_>>()
    };
    let reversed_values = top
        .values
        .chunks(k)
        .flat_map(|c| c.iter().rev().copied())
        .collect();
    let (a, b) = (
        run(top.indices.clone(), top.values.clone()),
        run(reversed(&top.indices), reversed_values),
    );
    for (a, b) in a.iter().zip(&b) {
        assert!((a - b).abs() <= 1e-5 * a.abs() + 1e-7, "{a} vs {b}");
    }
}
