//! Per-token outputs of sequence models as rows, so every logit loss applies to them.

use burn::tensor::{Bool, Int, Tensor, TensorData};

use crate::error::{Error, Result};

/// The rows of per-token logits `[batch, seq, classes]` at the tokens `mask` keeps
/// (`true` = a real token, `false` = padding), as `[tokens, classes]` in batch-then-position
/// order: the input every logit loss takes. A loss with [`Reduction::Mean`] over these rows is
/// the mean over unmasked tokens, the same value as on the unmasked rows flattened by hand.
///
/// Use the same `mask` for the teacher's logits and for the targets
/// ([`flatten_token_targets`]) so rows line up.
///
/// # Shapes
/// - `logits`: `[batch, seq, classes]`
/// - `mask`: `[batch, seq]`
/// - output: `[tokens, classes]`, `tokens` = the number of `true` entries of `mask`
///
/// # Errors
/// [`Error::ShapeMismatch`] when `mask` is not `[batch, seq]` of the logits, or keeps no
/// token.
///
/// [`Reduction::Mean`]: crate::loss::Reduction::Mean
pub fn flatten_tokens(logits: Tensor<3>, mask: &Tensor<2, Bool>) -> Result<Tensor<2>> {
    let [batch, seq, classes] = logits.dims();
    let index = kept_positions(mask, [batch, seq])?;
    Ok(logits.reshape([batch * seq, classes]).select(0, index))
}

/// The targets `[batch, seq]` at the tokens `mask` keeps, as `[tokens]`, in the order of
/// [`flatten_tokens`].
///
/// # Errors
/// As [`flatten_tokens`].
pub fn flatten_token_targets(
    targets: Tensor<2, Int>,
    mask: &Tensor<2, Bool>,
) -> Result<Tensor<1, Int>> {
    let [batch, seq] = targets.dims();
    let index = kept_positions(mask, [batch, seq])?;
    Ok(targets.reshape([batch * seq]).select(0, index))
}

/// Flat indices `b · seq + s` of the tokens `mask` keeps (`[batch, seq]`), on the mask's
/// device: the rows [`flatten_tokens`] selects from `[batch · seq, …]`.
///
/// # Errors
/// [`Error::ShapeMismatch`] when `mask` keeps no token.
pub fn kept_token_index(mask: &Tensor<2, Bool>) -> Result<Tensor<1, Int>> {
    kept_positions(mask, mask.dims())
}

/// Flat indices `b · seq + s` of the kept tokens, on the mask's device.
fn kept_positions(mask: &Tensor<2, Bool>, dims: [usize; 2]) -> Result<Tensor<1, Int>> {
    if mask.dims() != dims {
        return Err(Error::ShapeMismatch {
            what: "token mask",
            expected: format!(
                "[{}, {}], the batch and sequence of the logits",
                dims[0], dims[1]
            ),
            got: format!("{:?}", mask.dims()),
        });
    }
    let kept: Vec<i64> = mask
        .clone()
        .into_data()
        .iter::<bool>()
        .enumerate()
        .filter_map(|(i, keep)| keep.then_some(i as i64))
        .collect();
    if kept.is_empty() {
        return Err(Error::ShapeMismatch {
            what: "token mask",
            expected: "at least one kept (true) token".into(),
            got: "every token masked out".into(),
        });
    }
    let n = kept.len();
    Ok(Tensor::from_data(
        TensorData::new(kept, [n]),
        &mask.device(),
    ))
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    use super::*;
    use crate::loss::{DecoupledKdConfig, SoftTargetLossConfig};
    use crate::tensor_util::to_vec_f32;

    /// Random per-token logits, targets and a mask with at least one kept token per row.
    fn sequence_case(
        seed: u64,
    ) -> (
        Tensor<3>,
        Tensor<3>,
        Tensor<2, Int>,
        Tensor<2, Bool>,
        Vec<bool>,
    ) {
        let device = Device::flex();
        let mut rng = StdRng::seed_from_u64(seed);
        let (b, s, c) = (
            1 + rng.random_range(0..4),
            1 + rng.random_range(0..7),
            2 + rng.random_range(0..6),
        );
        let mut logits = |scale: f32| {
            let v: Vec<f32> = (0..b * s * c)
                .map(|_| rng.random_range(-1.0f32..1.0) * scale)
                .collect();
            Tensor::<3>::from_data(TensorData::new(v, [b, s, c]), &device)
        };
        let (zs, zt) = (logits(3.0), logits(12.0));
        let mut rng = StdRng::seed_from_u64(seed + 1000);
        let targets: Vec<i64> = (0..b * s).map(|_| rng.random_range(0..c) as i64).collect();
        let mut keep: Vec<bool> = (0..b * s)
            .map(|_| rng.random_range(0.0..1.0) < 0.6)
            .collect();
        for row in 0..b {
            keep[row * s] = true;
        }
        let mask = Tensor::<2, Bool>::from_data(TensorData::new(keep.clone(), [b, s]), &device);
        let targets = Tensor::<2, Int>::from_data(TensorData::new(targets, [b, s]), &device);
        (zs, zt, targets, mask, keep)
    }

    /// The kept rows gathered on the host, one by one, as `[tokens, classes]`.
    fn by_hand(z: &Tensor<3>, keep: &[bool]) -> Tensor<2> {
        let [_, _, c] = z.dims();
        let values = to_vec_f32(z.clone());
        let rows: Vec<f32> = keep
            .iter()
            .enumerate()
            .filter(|(_, k)| **k)
            .flat_map(|(i, _)| values[i * c..(i + 1) * c].to_vec())
            .collect();
        let n = rows.len() / c;
        Tensor::from_data(TensorData::new(rows, [n, c]), &z.device())
    }

    #[test]
    fn masked_tokens_give_the_loss_of_the_kept_rows_flattened() {
        for seed in 0..20 {
            let (zs, zt, targets, mask, keep) = sequence_case(seed);
            let kd = SoftTargetLossConfig::new(2.0, 0.0, 1.0).init().unwrap();
            let flat = kd
                .kd_no_reduction(
                    flatten_tokens(zs.clone(), &mask).unwrap(),
                    flatten_tokens(zt.clone(), &mask).unwrap(),
                )
                .mean();
            let hand = kd
                .kd_no_reduction(by_hand(&zs, &keep), by_hand(&zt, &keep))
                .mean();
            assert_eq!(to_vec_f32(flat), to_vec_f32(hand), "KD, seed {seed}");

            let flat_targets = flatten_token_targets(targets.clone(), &mask).unwrap();
            let hand_targets: Vec<i64> = targets
                .into_data()
                .iter::<i64>()
                .zip(&keep)
                .filter_map(|(t, k)| k.then_some(t))
                .collect();
            let got: Vec<i64> = flat_targets.clone().into_data().iter::<i64>().collect();
            assert_eq!(got, hand_targets, "targets, seed {seed}");
            let dkd = DecoupledKdConfig::new(4.0, 1.0, 8.0).init().unwrap();
            let n = hand_targets.len();
            let hand_t =
                Tensor::<1, Int>::from_data(TensorData::new(hand_targets, [n]), &zs.device());
            let a = dkd.forward(
                flatten_tokens(zs.clone(), &mask).unwrap(),
                flatten_tokens(zt.clone(), &mask).unwrap(),
                flat_targets,
            );
            let b = dkd.forward(by_hand(&zs, &keep), by_hand(&zt, &keep), hand_t);
            assert_eq!(to_vec_f32(a), to_vec_f32(b), "DKD, seed {seed}");
        }
    }

    #[test]
    fn a_wrong_or_empty_mask_is_an_error() {
        let device = Device::flex();
        let logits = Tensor::<3>::zeros([2, 3, 4], &device);
        let wrong = Tensor::<2, Bool>::from_bool(TensorData::new(vec![true; 4], [2, 2]), &device);
        let msg = flatten_tokens(logits.clone(), &wrong)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("[2, 3]"), "{msg}");
        let none = Tensor::<2, Bool>::from_bool(TensorData::new(vec![false; 6], [2, 3]), &device);
        assert!(flatten_tokens(logits, &none).is_err());
    }
}
