//! Data-parallel distillation through burn-train's `MultiDevice` strategy matches training on
//! one device on the same batches.
//!
//! This machine has one CPU device: flex has a single device (`Device::flex()` twice is the
//! same device, and flex does not support collectives, so burn's DDP is refused). What runs
//! here is burn's multi-device code path with two workers on that device: the training data
//! split in two halves, one model fork per worker on its own thread, both workers' gradients
//! gathered on the main device, one optimizer step. That path is the same for two GPUs; only
//! the devices change (see docs/devices.md).

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::optim::SgdConfig;
use burn::tensor::{Device, Tensor};
use burn::train::metric::LossMetric;
use burn::train::{ExecutionStrategy, Learner, MultiDeviceOptim, SupervisedTraining};
use dark_knowledge_core::loss::SoftTargetLossConfig;
use dark_knowledge_core::tensor_util::parameters_to_vec;
use dark_knowledge_data::{Dataset, GaussianMixtureConfig, LabeledBatch, RowBatcher, RowItems};
use dark_knowledge_models::MlpConfig;
use dark_knowledge_train::learner::{DistillLearnerConfig, QuietRenderer};

use crate::common::max_abs_diff;

type Loader = Arc<dyn DataLoader<LabeledBatch<Tensor<2>>>>;

/// Rows per worker batch, steps per epoch, epochs.
const B: usize = 32;
const STEPS: usize = 4;
const EPOCHS: usize = 2;

fn loader(data: &Dataset, batch_size: usize) -> Loader {
    let items = RowItems::from_dataset(data).unwrap();
    DataLoaderBuilder::new(RowBatcher::new(items.num_features()))
        .batch_size(batch_size)
        .build(items)
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The student's weights after distilling under `strategy` with SGD at `lr` over `train`
/// batched by `batch_size`, from the same initial pair every time.
fn train(strategy: ExecutionStrategy, train: &Dataset, batch_size: usize, lr: f64) -> Vec<f32> {
    let device = Device::flex();
    device.seed(5);
    let teacher = MlpConfig::new(6, vec![32], 3).init(&device);
    let student = MlpConfig::new(6, vec![16], 3).init(&device);
    let model = DistillLearnerConfig::new()
        .with_loss(SoftTargetLossConfig::new(2.0, 0.5, 0.5))
        .init(student, teacher)
        .unwrap();
    let dir = TempDir(std::env::temp_dir().join(format!(
        "dk-multi-device-{}-{batch_size}",
        std::process::id()
    )));
    let valid = train.subset(&(0..B).collect::<Vec<_>>()).unwrap();
    let result = SupervisedTraining::new(&dir.0, loader(train, batch_size), loader(&valid, B))
        .metric_train_numeric(LossMetric::new())
        .num_epochs(EPOCHS)
        .with_training_strategy(strategy.into())
        .renderer(Box::new(QuietRenderer))
        .with_application_logger(None)
        .launch(Learner::new(model, SgdConfig::new().init(), lr));
    assert!(result.error.is_none(), "{:?}", result.error);
    parameters_to_vec(result.model.student())
}

#[test]
fn two_workers_match_one_device_on_the_same_batches() {
    let device = Device::flex();
    let rows = 2 * B * STEPS;
    let data = GaussianMixtureConfig::new(rows, 6, 3)
        .with_seed(2)
        .dataset(&device)
        .unwrap();
    let lr = 0.2;

    // burn's MultiDevice gives worker 0 rows 0..rows/2 and worker 1 the rest; at step i each
    // takes its i-th batch of B rows, and the main device sums the two gradients:
    // w ← w − lr · (g_0 + g_1), each g_k the gradient of the mean loss over its B rows.
    let two = train(
        ExecutionStrategy::multi(
            vec![device.clone(), device.clone()],
            MultiDeviceOptim::OptimMainDevice,
        ),
        &data,
        B,
        lr,
    );

    // One device on batches of 2B holding the same rows: worker 0's i-th batch, then worker
    // 1's. The mean over 2B rows has gradient (g_0 + g_1) / 2, so lr doubles for the same
    // update.
    let half = rows / 2;
    let order: Vec<usize> = (0..STEPS)
        .flat_map(|i| (i * B..(i + 1) * B).chain(half + i * B..half + (i + 1) * B))
        .collect();
    let paired = data.subset(&order).unwrap();
    let one = train(
        ExecutionStrategy::single(device.clone()),
        &paired,
        2 * B,
        2.0 * lr,
    );

    // Tolerance. The two runs differ only in rounding: a mean over 2B rows against two means
    // over B rows added, the same f32 kernels otherwise (halving and doubling are exact).
    // Each gradient carries a relative error of a few ulps of a sum of 2B = 64 terms, at most
    // 64 · 2^-24 ≈ 4e-6 of |g| (|g| < 1 here), times lr = 0.2: under 1e-6 per step, and
    // 8 steps of a small, well-conditioned network do not amplify it beyond 1e-5.
    let difference = max_abs_diff(&two, &one);
    eprintln!("two workers vs one device: max weight difference {difference:e}");
    assert!(difference < 1e-5, "max weight difference {difference}");

    // The tolerance separates: the same single-device run at lr (half the update) lands far
    // away, so a strategy that averaged instead of summing would fail the check above.
    let averaged = train(ExecutionStrategy::single(device), &paired, 2 * B, lr);
    let apart = max_abs_diff(&two, &averaged);
    eprintln!("two workers vs one device at half the step: {apart:e}");
    assert!(apart > 100.0 * 1e-5, "difference {apart}");
}
