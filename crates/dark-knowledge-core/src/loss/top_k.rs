//! Top-k soft-target distillation: the KL term over the teacher's `k` most likely classes
//! plus one bin for all the others, so a teacher cache that keeps only the top-k logits (and
//! the log-sum-exp of the rest) loses nothing the loss uses.
//!
//! ```text
//! K      = the k classes with the largest teacher logits (per row)
//! b(z)   = [ z_i / T for i in K ]  ++  [ logsumexp_{j ∉ K} z_j / T ]      (k + 1 bins)
//! kd_k   = T² · KL( softmax(b(z_t)) ‖ softmax(b(z_s)) )
//! ```
//!
//! The student's rest bin is the log-sum-exp of its own logits outside `K`, so its
//! probability is exactly the student's mass on those classes. With `k = C` the rest bin is
//! empty and `kd_k` is the full soft-target KL term.
//!
//! A top-k cache stores `L = logsumexp_{j ∉ K} z_j` (at `T = 1`) and serves the rest classes
//! as `L − ln(C − k)` each, so the teacher's rest bin is exact at `T = 1`; at another
//! temperature it is computed as if the rest logits were equal (`L/T − ln(C−k)/T + ln(C−k)`),
//! the only choice that needs no more than `L`.

use burn::tensor::{Bool, IndexingUpdateOp, Int, Tensor};

use super::stable::kl_divergence_logits;

/// Per-sample top-k distillation term `T² · KL` over `k + 1` bins (see the module docs).
/// `k ≥ num_classes` gives the full soft-target term.
///
/// # Shapes
/// - logits: `[batch_size, num_classes]`
/// - output: `[batch_size]`
pub fn top_k_kd_no_reduction(
    student_logits: Tensor<2>,
    teacher_logits: Tensor<2>,
    k: usize,
    temperature: f64,
) -> Tensor<1> {
    let t = temperature;
    let [batch, classes] = teacher_logits.dims();
    if k >= classes {
        return kl_divergence_logits(teacher_logits, student_logits, t).mul_scalar(t * t);
    }
    let k = k.max(1);
    let teacher_logits = teacher_logits.detach();
    let (_, top) = teacher_logits.clone().topk_with_indices(k, 1);
    let device = teacher_logits.device();
    let in_top: Tensor<2, Bool> = Tensor::<2>::zeros([batch, classes], &device)
        .scatter(
            1,
            top.clone(),
            Tensor::ones([batch, k], &device),
            IndexingUpdateOp::Add,
        )
        .greater_elem(0.5);
    let bins_t = bins(teacher_logits, &top, &in_top, t);
    let bins_s = bins(student_logits, &top, &in_top, t);
    // The bins are logits of the (k + 1)-class distributions: the KD term on them.
    kl_divergence_logits(bins_t, bins_s, t).mul_scalar(t * t)
}

/// The bins in logit units, `[z_K, T · logsumexp(z_rest / T)]`, shape `[batch, k + 1]`: the
/// KL divides them by `T` after taking differences, which keeps their digits.
fn bins(logits: Tensor<2>, top: &Tensor<2, Int>, in_top: &Tensor<2, Bool>, t: f64) -> Tensor<2> {
    let top_values = logits.clone().gather(1, top.clone());
    let rest = logits.mask_fill(in_top.clone(), f32::NEG_INFINITY);
    let max = rest.clone().max_dim(1).detach();
    let rest_lse = (rest - max.clone())
        .div_scalar(t)
        .exp()
        .sum_dim(1)
        .log()
        .mul_scalar(t)
        + max;
    Tensor::cat(vec![top_values, rest_lse], 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::SoftTargetLossConfig;
    use crate::tensor_util::to_vec_f32;
    use burn::tensor::{Device, Distribution, TensorData};

    fn log_softmax64(v: &[f64]) -> Vec<f64> {
        let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = v.iter().map(|x| (x - m).exp()).sum::<f64>().ln() + m;
        v.iter().map(|x| x - lse).collect()
    }

    /// The formula of the module docs in f64, row by row.
    fn reference(s: &[f64], t_logits: &[f64], k: usize, temp: f64) -> f64 {
        let mut order: Vec<usize> = (0..t_logits.len()).collect();
        order.sort_by(|&a, &b| t_logits[b].total_cmp(&t_logits[a]));
        let (top, rest) = order.split_at(k);
        let bins = |z: &[f64]| {
            let mut b: Vec<f64> = top.iter().map(|&i| z[i] / temp).collect();
            let r: Vec<f64> = rest.iter().map(|&i| z[i] / temp).collect();
            let m = r.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            b.push(r.iter().map(|x| (x - m).exp()).sum::<f64>().ln() + m);
            log_softmax64(&b)
        };
        let (lt, ls) = (bins(t_logits), bins(s));
        temp * temp
            * lt.iter()
                .zip(&ls)
                .map(|(a, b)| a.exp() * (a - b))
                .sum::<f64>()
    }

    #[test]
    fn matches_the_formula_and_equals_the_full_loss_at_k_equal_c() {
        let device = Device::flex();
        device.seed(5);
        let (b, c) = (6, 7);
        let s = Tensor::<2>::random([b, c], Distribution::Normal(0.0, 3.0), &device);
        let t = Tensor::<2>::random([b, c], Distribution::Normal(0.0, 3.0), &device);
        let (sv, tv) = (to_vec_f32(s.clone()), to_vec_f32(t.clone()));
        for (k, temp) in [(1, 1.0), (3, 2.0), (6, 4.0)] {
            let got = to_vec_f32(top_k_kd_no_reduction(s.clone(), t.clone(), k, temp));
            for r in 0..b {
                let row = |v: &[f32]| {
                    v[r * c..(r + 1) * c]
                        .iter()
                        .map(|&x| f64::from(x))
                        .collect::<Vec<_>>()
                };
                let want = reference(&row(&sv), &row(&tv), k, temp);
                assert!(
                    (f64::from(got[r]) - want).abs() <= 1e-4 * want.abs().max(1e-2),
                    "k {k} T {temp} row {r}: {} vs {want}",
                    got[r]
                );
            }
        }
        let full = SoftTargetLossConfig::new(2.0, 0.0, 1.0).init().unwrap();
        let want = to_vec_f32(full.kd_no_reduction(s.clone(), t.clone()));
        let got = to_vec_f32(top_k_kd_no_reduction(s.clone(), t.clone(), c, 2.0));
        assert_eq!(got, want);
        // k = C − 1 is a different loss from the full one only through the bucketing.
        let near = to_vec_f32(top_k_kd_no_reduction(s, t, c - 1, 2.0));
        assert_ne!(near, want);
    }

    #[test]
    fn gradients_are_finite_and_vanish_when_student_equals_teacher() {
        let device = Device::flex().autodiff();
        let z = vec![3.0f32, 1.0, -2.0, 0.5, 9.0, -40.0, 2.0, 2.0];
        let t = Tensor::<2>::from_data(TensorData::new(z.clone(), [2, 4]), &device);
        let s = Tensor::<2>::from_data(TensorData::new(z, [2, 4]), &device).require_grad();
        let loss = top_k_kd_no_reduction(s.clone(), t, 2, 3.0).mean();
        assert!(to_vec_f32(loss.clone())[0].abs() < 1e-6);
        let grads = loss.backward();
        let g = to_vec_f32(s.grad(&grads).unwrap());
        assert!(g.iter().all(|v| v.is_finite() && v.abs() < 1e-5), "{g:?}");
    }
}
