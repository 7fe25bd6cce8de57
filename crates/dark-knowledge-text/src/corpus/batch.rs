//! Batches of token windows: inputs, next-token targets and a padding mask.

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use dark_knowledge_core::ModelInput;

use super::TokenWindow;

/// One batch of windows: each row reads `inputs` and predicts `targets`, the same ids
/// shifted by one.
///
/// Windows shorter than the longest are padded at the end with id 0 and `mask` false;
/// losses average over the kept positions only.
///
/// # Shapes
/// - `inputs`, `targets`, `mask`: `[batch_size, seq]`, `seq` the longest window's length
///   minus one
/// - `windows`: `batch_size` indices
#[derive(Debug, Clone)]
pub struct TokenBatch {
    /// The ids read, `[batch_size, seq]`.
    pub inputs: Tensor<2, Int>,
    /// The next id at each position, `[batch_size, seq]` (0 where `mask` is false).
    pub targets: Tensor<2, Int>,
    /// `true` where a target exists, `[batch_size, seq]`.
    pub mask: Tensor<2, Bool>,
    /// The dataset index ([`TokenWindow::index`]) of each row.
    pub windows: Vec<usize>,
}

impl TokenBatch {
    /// The batch of `windows` (each 2 to `seq + 1` ids) on `device`, padded to the longest.
    pub fn from_windows(windows: &[TokenWindow], device: &Device) -> Self {
        let rows = windows.len();
        let seq = windows
            .iter()
            .map(|w| w.ids.len().saturating_sub(1))
            .max()
            .unwrap_or(0)
            .max(1);
        let mut inputs = vec![0i64; rows * seq];
        let mut targets = vec![0i64; rows * seq];
        let mut mask = vec![false; rows * seq];
        for (row, w) in windows.iter().enumerate() {
            for (pos, pair) in w.ids.windows(2).enumerate() {
                let at = row * seq + pos;
                inputs[at] = i64::from(pair[0]);
                targets[at] = i64::from(pair[1]);
                mask[at] = true;
            }
        }
        Self {
            inputs: Tensor::from_data(TensorData::new(inputs, [rows, seq]), device),
            targets: Tensor::from_data(TensorData::new(targets, [rows, seq]), device),
            mask: Tensor::from_data(TensorData::new(mask, [rows, seq]), device),
            windows: windows.iter().map(|w| w.index).collect(),
        }
    }

    /// The number of positions with a target (`true` in `mask`); reads the mask from the
    /// device.
    pub fn num_tokens(&self) -> usize {
        self.mask
            .clone()
            .int()
            .sum()
            .into_data()
            .iter::<i64>()
            .next()
            .unwrap_or(0) as usize
    }

    /// The number of rows.
    pub fn batch_size(&self) -> usize {
        self.inputs.dims()[0]
    }

    /// The number of positions per row.
    pub fn seq_len(&self) -> usize {
        self.inputs.dims()[1]
    }
}

/// Batches [`TokenWindow`]s into a [`TokenBatch`] (burn's [`Batcher`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenBatcher;

impl Batcher<TokenWindow, TokenBatch> for TokenBatcher {
    fn batch(&self, items: Vec<TokenWindow>, device: &Device) -> TokenBatch {
        TokenBatch::from_windows(&items, device)
    }
}

impl ModelInput for TokenBatch {
    fn autodiff(self) -> Self {
        Self {
            inputs: self.inputs.autodiff(),
            targets: self.targets.autodiff(),
            mask: self.mask.autodiff(),
            windows: self.windows,
        }
    }

    fn without_autodiff(self) -> Self {
        Self {
            inputs: self.inputs.without_autodiff(),
            targets: self.targets.without_autodiff(),
            mask: self.mask.without_autodiff(),
            windows: self.windows,
        }
    }

    fn batch_size(&self) -> usize {
        TokenBatch::batch_size(self)
    }

    fn device(&self) -> Device {
        self.inputs.device()
    }
}

#[cfg(test)]
mod tests {
    use dark_knowledge_core::tensor_util::to_vec_i64;

    use super::*;

    fn window(index: usize, ids: &[u32]) -> TokenWindow {
        TokenWindow {
            index,
            ids: ids.to_vec(),
        }
    }

    #[test]
    fn batches_shift_targets_and_pad_with_a_mask() {
        let device = Device::flex();
        let items = vec![
            window(4, &[5, 6, 7, 8]),
            window(9, &[1, 2]),
            window(2, &[3, 4, 5]),
        ];
        let b = TokenBatcher.batch(items, &device);
        assert_eq!(b.inputs.dims(), [3, 3]);
        assert_eq!(to_vec_i64(b.inputs.clone()), [5, 6, 7, 1, 0, 0, 3, 4, 0]);
        assert_eq!(to_vec_i64(b.targets.clone()), [6, 7, 8, 2, 0, 0, 4, 5, 0]);
        let mask: Vec<bool> = b.mask.clone().into_data().iter::<bool>().collect();
        let expected = [true, true, true, true, false, false, true, true, false];
        assert_eq!(mask, expected);
        assert_eq!(b.num_tokens(), 6);
        assert_eq!(b.windows, [4, 9, 2]);
        assert_eq!((b.batch_size(), b.seq_len()), (3, 3));

        let moved = b.autodiff();
        assert!(moved.inputs.is_autodiff() && moved.mask.is_autodiff());
        let back = moved.without_autodiff();
        assert!(!back.targets.is_autodiff());
        assert_eq!(back.num_tokens(), 6);
    }

    #[test]
    fn full_windows_have_a_full_mask() {
        let device = Device::flex();
        let items = vec![window(0, &[1, 2, 3]), window(1, &[4, 5, 6])];
        let b = TokenBatch::from_windows(&items, &device);
        assert_eq!(b.num_tokens(), 4);
        assert_eq!(to_vec_i64(b.targets), [2, 3, 5, 6]);
    }
}
