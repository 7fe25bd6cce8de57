//! The teacher's k largest logits per token and the log-sum-exp of the rest.

use burn::tensor::IndexingUpdateOp;
use burn::tensor::{Int, Tensor};

use crate::error::{Error, Result};

/// The teacher's top-k logits for a batch of windows.
///
/// # Shapes
/// - `indices`: `[batch, seq, k]`, vocabulary ids, distinct within a token (descending logit
///   when made by [`TokenTopK::from_logits`]);
/// - `values`: `[batch, seq, k]`, the raw (temperature 1) teacher logits at those ids;
/// - `rest`: `[batch, seq]`, the log-sum-exp of the other `V − k` logits (−inf when `k = V`).
#[derive(Debug, Clone)]
pub struct TokenTopK {
    /// Vocabulary ids of the k largest logits, `[batch, seq, k]`.
    pub indices: Tensor<3, Int>,
    /// The logits at `indices`, `[batch, seq, k]`.
    pub values: Tensor<3>,
    /// Log-sum-exp of every other logit, `[batch, seq]`; −inf when `k = V`.
    pub rest: Tensor<2>,
}

impl TokenTopK {
    /// From full teacher logits `[batch, seq, V]` (on any device; computed there with
    /// `topk`): the k largest per token, in descending order, and the log-sum-exp of the
    /// rest, stable (the rest's maximum is subtracted first). With `k = V` the rest is −inf.
    ///
    /// Ties at the k-th place are broken by the backend's `topk`; the rest always excludes
    /// exactly the ids returned.
    ///
    /// # Errors
    /// `k` outside `1..=V`, an empty batch or sequence, or `V > 2³¹` (ids are I32 on disk).
    pub fn from_logits(logits: Tensor<3>, k: usize) -> Result<Self> {
        let [b, s, v] = logits.dims();
        if k == 0 || k > v {
            return Err(Error::invalid(
                "k",
                k,
                format!("1..={v} (the vocabulary size of the logits)"),
            ));
        }
        if b == 0 || s == 0 {
            return Err(Error::ShapeMismatch {
                what: "teacher logits [batch, seq, vocab]",
                expected: "batch ≥ 1 and seq ≥ 1".into(),
                got: format!("{:?}", [b, s, v]),
            });
        }
        if v - 1 > i32::MAX as usize {
            return Err(Error::invalid(
                "vocabulary size",
                v,
                format!("at most {}", i32::MAX as u64 + 1),
            ));
        }
        let device = logits.device();
        let (values, indices) = logits.clone().topk_with_indices(k, 2);
        let rest = if k == v {
            Tensor::full([b, s], f32::NEG_INFINITY, &device)
        } else {
            let hit = Tensor::<3, Int>::zeros([b, s, v], &device)
                .scatter(
                    2,
                    indices.clone(),
                    Tensor::ones([b, s, k], &device),
                    IndexingUpdateOp::Add,
                )
                .greater_elem(0);
            let others = logits.mask_fill(hit, f32::NEG_INFINITY);
            let max = others.clone().max_dim(2);
            // A tail of all −inf has max −inf: shift by 0 instead (its sum is then 0, ln → −inf).
            let shift = max.clone().mask_fill(max.is_inf(), 0.0);
            let sum = (others - shift.clone()).exp().sum_dim(2);
            (sum.log() + shift).squeeze_dim::<2>(2)
        };
        Ok(Self {
            indices,
            values,
            rest,
        })
    }

    /// The number of logits kept per token.
    pub fn k(&self) -> usize {
        self.indices.dims()[2]
    }

    /// Full logits `[batch, seq, vocab_size]` back: the k values at their ids, and every other
    /// id given `rest − ln(V − k)`, so the softmax at temperature 1 gives each top-k id its
    /// exact probability and each other id an equal share of the exact tail mass (at other
    /// temperatures the tail is an approximation). With `k = V` this is exactly — bitwise —
    /// the logits the top-k was built from: values are only copied, never computed on.
    ///
    /// The ids must be distinct and in `0..vocab_size` (true of every `TokenTopK` from
    /// [`TokenTopK::from_logits`] or a cache).
    ///
    /// # Panics
    /// If `vocab_size < k`: a caller's broken invariant.
    pub fn to_full_logits(&self, vocab_size: usize) -> Tensor<3> {
        let [b, s, k] = self.indices.dims();
        assert!(
            vocab_size >= k,
            "to_full_logits: vocab_size {vocab_size} is below k {k}"
        );
        let device = self.values.device();
        let k_i = k as i64;
        // slot[id] = position p of id among the indices, or k for an id outside the top-k:
        // scatter p + 1 into zeros, then (x + k) mod (k + 1) maps 0 → k and p + 1 → p.
        let positions = Tensor::<1, Int>::arange(1..k_i + 1, &device)
            .reshape([1, 1, k])
            .expand([b, s, k]);
        let slot = Tensor::<3, Int>::zeros([b, s, vocab_size], &device)
            .scatter(2, self.indices.clone(), positions, IndexingUpdateOp::Add)
            .add_scalar(k_i)
            .remainder_scalar(k_i + 1);
        let fill = if k == vocab_size {
            self.rest.clone()
        } else {
            self.rest.clone().sub_scalar(((vocab_size - k) as f64).ln())
        };
        let table = Tensor::cat(vec![self.values.clone(), fill.unsqueeze_dim::<3>(2)], 2);
        table.gather(2, slot)
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::activation::softmax;
    use burn::tensor::{Device, Tensor, TensorData};

    use super::TokenTopK;

    fn logits(device: &Device) -> Tensor<3> {
        let data = [
            2.0_f32, -1.0, 0.5, 3.0, 0.5, -7.0, 1.0, 1.0, 0.0, -0.0, 4.0, 2.5,
        ];
        Tensor::from_data(TensorData::new(data.to_vec(), [1, 2, 6]), device)
    }

    #[test]
    fn invalid_k_and_empty_batches_are_errors() {
        let device = Device::flex();
        for k in [0, 7] {
            let err = TokenTopK::from_logits(logits(&device), k).unwrap_err();
            assert!(err.to_string().contains("1..=6"), "{err}");
        }
        let empty = Tensor::<3>::zeros([0, 2, 6], &device);
        assert!(TokenTopK::from_logits(empty, 2).is_err());
    }

    #[test]
    fn full_logits_at_k_equal_vocab_are_the_input_bitwise() {
        let device = Device::flex();
        let top = TokenTopK::from_logits(logits(&device), 6).unwrap();
        assert_eq!(top.k(), 6);
        let back: Vec<u32> = top
            .to_full_logits(6)
            .into_data()
            .iter::<f32>()
            .map(f32::to_bits)
            .collect();
        let orig: Vec<u32> = logits(&device)
            .into_data()
            .iter::<f32>()
            .map(f32::to_bits)
            .collect();
        assert_eq!(back, orig);
        assert!(
            top.rest
                .into_data()
                .iter::<f32>()
                .all(|r| r == f32::NEG_INFINITY)
        );
    }

    #[test]
    fn full_logits_keep_top_probabilities_and_tail_mass() {
        let device = Device::flex();
        let k = 2;
        let top = TokenTopK::from_logits(logits(&device), k).unwrap();
        let p: Vec<f32> = softmax(logits(&device), 2)
            .into_data()
            .iter::<f32>()
            .collect();
        let q: Vec<f32> = softmax(top.to_full_logits(6), 2)
            .into_data()
            .iter::<f32>()
            .collect();
        let ids: Vec<i64> = top.indices.into_data().iter::<i64>().collect();
        for token in 0..2 {
            let (p, q) = (&p[token * 6..][..6], &q[token * 6..][..6]);
            let kept = &ids[token * k..][..k];
            let tail_p: f32 = (0..6)
                .filter(|i| !kept.contains(&(*i as i64)))
                .map(|i| p[i])
                .sum();
            for id in 0..6 {
                if kept.contains(&(id as i64)) {
                    assert!((p[id] - q[id]).abs() < 1e-6, "token {token} id {id}");
                } else {
                    assert!((q[id] - tail_p / 4.0).abs() < 1e-6, "token {token} id {id}");
                }
            }
        }
    }
}
