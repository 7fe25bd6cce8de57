//! Seeded per-batch transforms of the training inputs: random shifts and flips for images,
//! feature noise for tables, or a user's own.

use burn::tensor::{Bool, Device, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::dataset::Batch;
use crate::error::Result;
use crate::source::{BatchSource, Batches, EpochPlan};
use crate::synthetic::standard_normal;

/// A transform of one training batch's inputs, drawn from `seed` (the trainer gives each
/// batch its own seed, derived from the run's seed, the epoch and the batch: runs repeat
/// exactly). Only training batches are augmented; validation and test data never are.
pub trait Augment<I>: Send + Sync {
    /// The augmented inputs; same shape and device as `inputs`.
    fn apply(&self, inputs: I, seed: u64) -> I;

    /// A short description for logs and errors, e.g. `random shift ±2 px`.
    fn describe(&self) -> String;
}

/// Training batches of `source`, augmented by `augment`.
///
/// A teacher that runs on the inputs (a network) sees the augmented batch, the same the
/// student sees. Teachers that look logits up by row id (caches, precomputed logits) hold the
/// logits of the un-augmented rows, so the trainer refuses them for augmented data.
#[derive(Debug, Clone)]
pub struct Augmented<S, A> {
    source: S,
    augment: A,
}

impl<S, A> Augmented<S, A> {
    /// `source` with its training batches transformed by `augment`.
    pub fn new(source: S, augment: A) -> Self {
        Self { source, augment }
    }

    /// The data without augmentation.
    pub fn source(&self) -> &S {
        &self.source
    }
}

impl<I: 'static, S: BatchSource<I>, A: Augment<I>> BatchSource<I> for Augmented<S, A> {
    fn len(&self) -> usize {
        self.source.len()
    }

    fn num_classes(&self) -> usize {
        self.source.num_classes()
    }

    fn num_features(&self) -> Option<usize> {
        self.source.num_features()
    }

    fn device(&self) -> Device {
        self.source.device()
    }

    fn is_partially_labeled(&self) -> bool {
        self.source.is_partially_labeled()
    }

    fn batch(&self, positions: &[usize]) -> Result<Batch<I>> {
        self.source.batch(positions)
    }

    fn range(&self, start: usize, end: usize) -> Result<Batch<I>> {
        self.source.range(start, end)
    }

    fn batches<'a>(&'a self, plan: &EpochPlan) -> Batches<'a, I> {
        let plan = plan.clone();
        let inner = self.source.batches(&plan);
        Box::new(inner.enumerate().map(move |(i, batch)| {
            let mut batch = batch?;
            batch.inputs = self.augment.apply(batch.inputs, plan.batch_seed(i));
            Ok(batch)
        }))
    }

    fn augmentation(&self) -> Option<String> {
        Some(self.augment.describe())
    }
}

/// Shifts each image by a random whole number of pixels in `-max_shift..=max_shift` along
/// each axis (its own shift per image), filling the uncovered border with zeros.
///
/// # Shapes
/// - inputs: `[batch, channels, height, width]`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomShift {
    /// The largest shift in pixels.
    pub max_shift: usize,
}

impl Augment<Tensor<4>> for RandomShift {
    fn apply(&self, inputs: Tensor<4>, seed: u64) -> Tensor<4> {
        let s = self.max_shift;
        let [n, c, h, w] = inputs.dims();
        if s == 0 || n == 0 {
            return inputs;
        }
        let device = inputs.device();
        let padded = Tensor::<4>::zeros([n, c, h + 2 * s, w + 2 * s], &device)
            .slice_assign([0..n, 0..c, s..s + h, s..s + w], inputs);
        let mut rng = StdRng::seed_from_u64(seed);
        let images: Vec<Tensor<4>> = (0..n)
            .map(|i| {
                let dy = rng.random_range(0..=2 * s);
                let dx = rng.random_range(0..=2 * s);
                padded
                    .clone()
                    .slice([i..i + 1, 0..c, dy..dy + h, dx..dx + w])
            })
            .collect();
        Tensor::cat(images, 0)
    }

    fn describe(&self) -> String {
        format!("random shift ±{} px", self.max_shift)
    }
}

/// Mirrors each image left-right with probability `probability` (drawn per image).
///
/// # Shapes
/// - inputs: `[batch, channels, height, width]`
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HorizontalFlip {
    /// The chance that an image is mirrored, in `[0, 1]`.
    pub probability: f64,
}

impl Augment<Tensor<4>> for HorizontalFlip {
    fn apply(&self, inputs: Tensor<4>, seed: u64) -> Tensor<4> {
        let [n, c, h, w] = inputs.dims();
        let mut rng = StdRng::seed_from_u64(seed);
        let flip: Vec<bool> = (0..n)
            .map(|_| rng.random_range(0.0..1.0) < self.probability)
            .collect();
        let mask = Tensor::<1, Bool>::from_data(TensorData::new(flip, [n]), &inputs.device())
            .reshape([n, 1, 1, 1])
            .expand([n, c, h, w]);
        let flipped = inputs.clone().flip([3]);
        inputs.mask_where(mask, flipped)
    }

    fn describe(&self) -> String {
        format!("horizontal flip (p = {})", self.probability)
    }
}

/// Adds Gaussian noise of standard deviation `std` to every feature (tables, in the encoded,
/// standardised units).
///
/// # Shapes
/// - inputs: `[batch, num_features]`
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureNoise {
    /// The noise's standard deviation, `>= 0`.
    pub std: f32,
}

impl Augment<Tensor<2>> for FeatureNoise {
    fn apply(&self, inputs: Tensor<2>, seed: u64) -> Tensor<2> {
        let [n, d] = inputs.dims();
        let mut rng = StdRng::seed_from_u64(seed);
        let noise: Vec<f32> = (0..n * d)
            .map(|_| standard_normal(&mut rng) * self.std)
            .collect();
        let noise = Tensor::<2>::from_data(TensorData::new(noise, [n, d]), &inputs.device());
        inputs + noise
    }

    fn describe(&self) -> String {
        format!("feature noise (std {})", self.std)
    }
}

#[cfg(test)]
mod tests {
    use dark_knowledge_core::tensor_util::to_vec_f32;

    use super::*;

    fn images(n: usize, side: usize) -> Tensor<4> {
        let values: Vec<f32> = (0..n * side * side).map(|v| v as f32 + 1.0).collect();
        Tensor::from_data(TensorData::new(values, [n, 1, side, side]), &Device::flex())
    }

    #[test]
    fn a_shift_moves_each_image_by_at_most_max_shift_and_repeats_from_its_seed() {
        let x = images(8, 6);
        let shift = RandomShift { max_shift: 2 };
        let a = to_vec_f32(shift.apply(x.clone(), 7));
        assert_eq!(a, to_vec_f32(shift.apply(x.clone(), 7)), "same seed");
        assert_ne!(a, to_vec_f32(shift.apply(x.clone(), 8)), "other seed");
        let orig = to_vec_f32(x);
        for img in 0..8 {
            let (src, dst) = (&orig[img * 36..][..36], &a[img * 36..][..36]);
            // Each kept pixel value appears at a position shifted by the same (dy, dx).
            let found = (-2i64..=2)
                .flat_map(|dy| (-2i64..=2).map(move |dx| (dy, dx)))
                .any(|(dy, dx)| {
                    (0..6i64).all(|y| {
                        (0..6i64).all(|x| {
                            let (sy, sx) = (y + dy, x + dx);
                            let want = if (0..6).contains(&sy) && (0..6).contains(&sx) {
                                src[(sy * 6 + sx) as usize]
                            } else {
                                0.0
                            };
                            dst[(y * 6 + x) as usize] == want
                        })
                    })
                });
            assert!(found, "image {img} is not a shift of at most 2 px");
        }
    }

    #[test]
    fn a_flip_mirrors_whole_images_or_leaves_them() {
        let x = images(16, 4);
        let out = to_vec_f32(HorizontalFlip { probability: 0.5 }.apply(x.clone(), 3));
        let orig = to_vec_f32(x);
        let mut flipped = 0;
        for img in 0..16 {
            let (src, dst) = (&orig[img * 16..][..16], &out[img * 16..][..16]);
            let mirror: Vec<f32> = (0..16).map(|i| src[(i / 4) * 4 + 3 - i % 4]).collect();
            if dst == mirror.as_slice() {
                flipped += 1;
            } else {
                assert_eq!(dst, src, "image {img} neither kept nor mirrored");
            }
        }
        assert!(
            (2..=14).contains(&flipped),
            "{flipped} of 16 flipped at p = 0.5"
        );
    }

    #[test]
    fn feature_noise_has_the_asked_spread() {
        let x = Tensor::<2>::zeros([500, 20], &Device::flex());
        let out = to_vec_f32(FeatureNoise { std: 0.5 }.apply(x, 1));
        let var = out.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / out.len() as f64;
        assert!((var.sqrt() - 0.5).abs() < 0.02, "std {}", var.sqrt());
    }
}
