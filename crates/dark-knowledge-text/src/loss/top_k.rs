//! Token-level distillation from a top-k teacher: the teacher's `k` largest logits per token
//! and the log-sum-exp of the others, as a top-k logit cache stores them.
//!
//! ```text
//! K        = the cached classes (per row)
//! b_s      = [ z_s,i for i in K ]  ++  [ T · logsumexp_{j ∉ K} z_s,j / T ]     (logit units)
//! b_t      = [ v_i   for i in K ]  ++  [ L + (T − 1) · ln(V − k) ]
//! loss     = T² · D(softmax(b_t / T), softmax(b_s / T))                       (k + 1 bins)
//! ```
//!
//! The student's rest bin is exactly its mass outside `K`. The teacher's is exact at `T = 1`
//! (`L` is the log-sum-exp of its other logits); at another temperature it is taken as if the
//! other logits were equal (`L − ln(V − k)` each), as the core's `top_k_kd_no_reduction`
//! serves a cache: `L/T − ln(V−k)/T + ln(V−k)` in log units, the only choice that needs no
//! more than `L`.

use burn::tensor::{Bool, IndexingUpdateOp, Int, Tensor};

use super::TokenKdLoss;

impl TokenKdLoss {
    /// The per-token loss against a top-k teacher, over `k + 1` bins: the `k` cached classes,
    /// then one bin for all others (see the module docs of `top_k.rs`):
    ///
    /// ```text
    /// b_s = [z_s[K], T · logsumexp(z_s[∉K] / T)],   b_t = [values, rest + (T − 1) ln(V − k)]
    /// loss = T² · D(softmax(b_t / T), softmax(b_s / T))
    /// ```
    ///
    /// With `k = V` there is no rest bin (`rest` is ignored) and the value is
    /// [`forward_rows`](Self::forward_rows) on the full logits (to rounding: the classes come
    /// in another order). For [`ForwardKl`](super::TokenDivergence::ForwardKl) the bins are
    /// those of the core's `top_k_kd_no_reduction`. The teacher's inputs are detached.
    ///
    /// `indices` must hold `k ≥ 1` distinct classes per row, `values` and `rest` finite.
    ///
    /// # Shapes
    /// - `student`: `[n, vocab]`
    /// - `indices` (Int), `values`: `[n, k]`, `k ≤ vocab`; `values` are the teacher's raw
    ///   logits at `indices`
    /// - `rest`: `[n, 1]`, the log-sum-exp (at `T = 1`) of the teacher's other `V − k` logits
    /// - output: `[n]`
    pub fn forward_top_k_rows(
        &self,
        student: Tensor<2>,
        indices: Tensor<2, Int>,
        values: Tensor<2>,
        rest: Tensor<2>,
    ) -> Tensor<1> {
        let t = self.temperature;
        let [rows, vocab] = student.dims();
        let k = indices.dims()[1];
        let student_top = student.clone().gather(1, indices.clone());
        if k >= vocab {
            return self.forward_rows(student_top, values);
        }
        let device = student.device();
        let in_top: Tensor<2, Bool> = Tensor::<2>::zeros([rows, vocab], &device)
            .scatter(
                1,
                indices,
                Tensor::ones([rows, k], &device),
                IndexingUpdateOp::Add,
            )
            .greater_elem(0.5);
        let student_rest = rest_bin(student, in_top, t);
        let others = (vocab - k) as f64;
        let teacher_rest = rest.detach().add_scalar((t - 1.0) * others.ln());
        self.forward_rows(
            Tensor::cat(vec![student_top, student_rest], 1),
            Tensor::cat(vec![values, teacher_rest], 1),
        )
    }
}

/// `T · logsumexp(z_j / T)` over the classes `in_top` leaves out, `[n, 1]`, in logit units
/// (the divergence divides by `T` after taking differences).
fn rest_bin(logits: Tensor<2>, in_top: Tensor<2, Bool>, t: f64) -> Tensor<2> {
    let rest = logits.mask_fill(in_top, f32::NEG_INFINITY);
    let max = rest.clone().max_dim(1).detach();
    (rest - max.clone())
        .div_scalar(t)
        .exp()
        .sum_dim(1)
        .log()
        .mul_scalar(t)
        + max
}
