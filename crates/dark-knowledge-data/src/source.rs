//! Where the trainer's batches come from: one trait over the in-memory dataset, burn's
//! `Dataset` + `Batcher`, and augmented data.

use std::sync::Arc;

use burn::tensor::{Device, Tensor};

use crate::dataset::{Batch, Dataset};
use crate::error::Result;

/// The batches of one training epoch: the order of the source's positions the trainer drew
/// (from its seed), cut into batches of `batch_size`, the epoch (1-based) and the run's seed.
///
/// The order is held once, as `u32` positions (4 bytes a row), and shared by every batch.
#[derive(Debug, Clone)]
pub struct EpochPlan {
    /// The epoch, 1-based.
    pub epoch: usize,
    /// The run's seed (augmentations derive their per-batch seeds from it).
    pub seed: u64,
    /// Every position of the source once, in training order.
    pub order: Arc<[u32]>,
    /// Rows per batch (the last batch may be shorter).
    pub batch_size: usize,
    /// The index within the epoch of this plan's first batch: 0 for a whole epoch, the
    /// batches already trained when a run resumes inside an epoch (`order` then holds the
    /// remaining rows only).
    pub first_batch: usize,
}

impl EpochPlan {
    /// The number of batches.
    pub fn num_batches(&self) -> usize {
        self.order.len().div_ceil(self.batch_size.max(1))
    }

    /// The positions of batch `index` (0-based), in training order.
    pub fn batch(&self, index: usize) -> Vec<usize> {
        let size = self.batch_size.max(1);
        let start = (index * size).min(self.order.len());
        let end = (start + size).min(self.order.len());
        self.order[start..end].iter().map(|&p| p as usize).collect()
    }

    /// The positions of every batch, in order.
    pub fn batches(&self) -> impl Iterator<Item = Vec<usize>> + '_ {
        (0..self.num_batches()).map(|i| self.batch(i))
    }

    /// The seed of batch `index` of this plan: a mix of the run's seed, the epoch and the
    /// batch's index within the epoch (`first_batch + index`), the same on every run and
    /// every machine, and the same for a batch whether or not the run resumed before it.
    pub fn batch_seed(&self, index: usize) -> u64 {
        let index = self.first_batch + index;
        mix_seed(
            self.seed
                .wrapping_add((self.epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
                .wrapping_add((index as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)),
        )
    }
}

/// splitmix64's finaliser: nearby inputs give unrelated seeds (per-batch and per-step seeds
/// derived from a run's seed).
pub fn mix_seed(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The batches of an epoch, in order.
pub type Batches<'a, I> = Box<dyn Iterator<Item = Result<Batch<I>>> + 'a>;

/// Labelled rows the trainer can batch: the in-memory [`Dataset`] (float rows, the fast
/// path), [`LoaderData`](crate::LoaderData) over burn's `Dataset` + `Batcher` (any input
/// type), or either with an augmentation ([`Augmented`](crate::Augmented)).
///
/// Positions are `0..len()`; each batch carries the row ids of its rows (what teacher caches
/// are keyed by). Batches are built on [`device`](Self::device), without autodiff.
pub trait BatchSource<I = Tensor<2>>: Send + Sync {
    /// The number of rows.
    fn len(&self) -> usize;

    /// Whether there is no row.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of classes of the labels.
    fn num_classes(&self) -> usize;

    /// The number of features per row, for float rows; `None` for other inputs.
    fn num_features(&self) -> Option<usize> {
        None
    }

    /// The device batches are built on.
    fn device(&self) -> Device;

    /// Whether some rows have no label (a transfer set): the trainer then averages
    /// cross-entropy over each batch's labelled rows only.
    fn is_partially_labeled(&self) -> bool {
        false
    }

    /// The rows at `positions`, as one batch.
    ///
    /// # Errors
    /// When a row cannot be read or is invalid (out of range, a label outside the classes).
    fn batch(&self, positions: &[usize]) -> Result<Batch<I>>;

    /// The rows `start..end`, as one batch (evaluation reads the data in order).
    ///
    /// # Errors
    /// As [`batch`](Self::batch).
    fn range(&self, start: usize, end: usize) -> Result<Batch<I>> {
        self.batch(&(start..end).collect::<Vec<_>>())
    }

    /// The training batches of one epoch, in the plan's order. The default builds them one
    /// by one with [`batch`](Self::batch); sources may prefetch (in order) or transform them.
    fn batches<'a>(&'a self, plan: &EpochPlan) -> Batches<'a, I> {
        let plan = plan.clone();
        Box::new((0..plan.num_batches()).map(move |i| self.batch(&plan.batch(i))))
    }

    /// A description of the augmentation applied to training batches, if any. Teachers that
    /// look logits up by row id (caches) are refused for augmented data.
    fn augmentation(&self) -> Option<String> {
        None
    }
}

impl BatchSource for Dataset {
    fn len(&self) -> usize {
        Dataset::len(self)
    }

    fn num_classes(&self) -> usize {
        Dataset::num_classes(self)
    }

    fn num_features(&self) -> Option<usize> {
        Some(Dataset::num_features(self))
    }

    fn device(&self) -> Device {
        Dataset::device(self)
    }

    fn is_partially_labeled(&self) -> bool {
        Dataset::is_partially_labeled(self)
    }

    fn batch(&self, positions: &[usize]) -> Result<Batch> {
        Ok(Dataset::batch(self, positions))
    }

    fn range(&self, start: usize, end: usize) -> Result<Batch> {
        Ok(Dataset::range(self, start, end))
    }
}
