//! burn's data API as a batch source: any `burn::data::dataset::Dataset<T>` with a
//! `Batcher<T, LabeledBatch<I>>`, batched in the trainer's order, optionally on worker
//! threads.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset as BurnDataset;
use burn::tensor::{Device, Int, Tensor};
use dark_knowledge_core::ModelInput;
use dark_knowledge_core::error::Error as CoreError;

use crate::dataset::{Batch, UNLABELED, check_num_classes};
use crate::error::{Error, Result};
use crate::source::{BatchSource, Batches, EpochPlan};

/// What a user's burn `Batcher` makes of a list of items: the model's inputs and the class
/// of each item (`[batch_size]`, [`UNLABELED`] for an item without label when the source
/// allows them).
#[derive(Debug, Clone)]
pub struct LabeledBatch<I> {
    /// The model's inputs.
    pub inputs: I,
    /// `[batch_size]` class indices.
    pub targets: Tensor<1, Int>,
}

struct Inner<T, I> {
    dataset: Arc<dyn BurnDataset<T>>,
    batcher: Arc<dyn Batcher<T, LabeledBatch<I>>>,
    num_classes: usize,
    device: Device,
    partial: bool,
    num_features: Option<usize>,
}

/// burn's `Dataset` + `Batcher` as the trainer's data: for inputs of any type (images
/// `Tensor<4>`, token ids, a struct), data read lazily (from disk, generated), and burn's
/// own datasets and transforms (`PartialDataset`, `MapperDataset`, …).
///
/// A row's position in the dataset is its id (what teacher caches are keyed by). The trainer
/// draws the order of each epoch from its seed, the same way as for the in-memory
/// [`Dataset`](crate::Dataset), so the same rows give the same batches, and with
/// [`with_workers`](Self::with_workers) batches are built on threads but delivered in that
/// order: runs are bit-identical for any number of workers. Each batch's targets are checked
/// on the host (a label outside the classes is an error naming the row).
pub struct LoaderData<T, I> {
    inner: Arc<Inner<T, I>>,
    workers: usize,
}

impl<T, I> Clone for LoaderData<T, I> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            workers: self.workers,
        }
    }
}

impl<T, I> std::fmt::Debug for LoaderData<T, I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoaderData")
            .field("len", &self.inner.dataset.len())
            .field("num_classes", &self.inner.num_classes)
            .field("workers", &self.workers)
            .finish()
    }
}

impl<T: Send + 'static, I: ModelInput> LoaderData<T, I> {
    /// `dataset` batched by `batcher` on `device`, with labels in `0..num_classes`.
    ///
    /// # Errors
    /// [`Error::Empty`] for a dataset without items; fewer than 2 classes.
    pub fn new(
        dataset: impl BurnDataset<T> + 'static,
        batcher: impl Batcher<T, LabeledBatch<I>> + 'static,
        num_classes: usize,
        device: &Device,
    ) -> Result<Self> {
        if dataset.is_empty() {
            return Err(Error::Empty { what: "dataset" });
        }
        check_num_classes(num_classes)?;
        Ok(Self {
            inner: Arc::new(Inner {
                dataset: Arc::new(dataset),
                batcher: Arc::new(batcher),
                num_classes,
                device: device.clone(),
                partial: false,
                num_features: None,
            }),
            workers: 1,
        })
    }

    /// The same data with training batches built on `workers` threads (1: on the training
    /// thread). Batches still arrive in the trainer's order.
    pub fn with_workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// The same data where items may have no label ([`UNLABELED`] targets: a transfer set).
    pub fn with_unlabeled_rows(self) -> Self {
        self.map_inner(|inner| inner.partial = true)
    }

    /// The same data declaring `n` features per row (checked against the models' own).
    pub fn with_num_features(self, n: usize) -> Self {
        self.map_inner(|inner| inner.num_features = Some(n))
    }

    fn map_inner(self, f: impl FnOnce(&mut Inner<T, I>)) -> Self {
        let mut inner = Inner {
            dataset: Arc::clone(&self.inner.dataset),
            batcher: Arc::clone(&self.inner.batcher),
            num_classes: self.inner.num_classes,
            device: self.inner.device.clone(),
            partial: self.inner.partial,
            num_features: self.inner.num_features,
        };
        f(&mut inner);
        Self {
            inner: Arc::new(inner),
            workers: self.workers,
        }
    }
}

impl<T, I: ModelInput> Inner<T, I> {
    fn batch(&self, positions: &[usize]) -> Result<Batch<I>> {
        let len = self.dataset.len();
        let mut items = Vec::with_capacity(positions.len());
        for &row in positions {
            if row >= len {
                return Err(Error::RowOutOfRange { row, len });
            }
            let item = self
                .dataset
                .get(row)
                .map_err(|source| Error::Item { row, source })?;
            items.push(item);
        }
        let out = self.batcher.batch(items, &self.device);
        let got = out.inputs.batch_size();
        let [targets] = out.targets.dims();
        if got != positions.len() || targets != positions.len() {
            return Err(CoreError::ShapeMismatch {
                what: "a batch from the batcher",
                expected: format!("{} inputs and targets, one per item", positions.len()),
                got: format!("{got} inputs and {targets} targets"),
            }
            .into());
        }
        let host: Vec<i64> = out.targets.clone().into_data().iter::<i64>().collect();
        let mut labeled = 0;
        for (&row, &target) in positions.iter().zip(&host) {
            if target >= 0 && (target as usize) < self.num_classes {
                labeled += 1;
            } else if !(self.partial && target == UNLABELED) {
                return Err(Error::TargetOutOfRange {
                    row,
                    target,
                    num_classes: self.num_classes,
                    unlabeled_allowed: self.partial,
                });
            }
        }
        Ok(Batch {
            inputs: out.inputs,
            targets: out.targets,
            rows: positions.to_vec(),
            labeled,
        })
    }
}

impl<T: Send + 'static, I: ModelInput> BatchSource<I> for LoaderData<T, I> {
    fn len(&self) -> usize {
        self.inner.dataset.len()
    }

    fn num_classes(&self) -> usize {
        self.inner.num_classes
    }

    fn num_features(&self) -> Option<usize> {
        self.inner.num_features
    }

    fn device(&self) -> Device {
        self.inner.device.clone()
    }

    fn is_partially_labeled(&self) -> bool {
        self.inner.partial
    }

    fn batch(&self, positions: &[usize]) -> Result<Batch<I>> {
        self.inner.batch(positions)
    }

    fn batches<'a>(&'a self, plan: &EpochPlan) -> Batches<'a, I> {
        if self.workers <= 1 || plan.num_batches() <= 1 {
            let plan = plan.clone();
            return Box::new(
                (0..plan.num_batches()).map(move |i| self.inner.batch(&plan.batch(i))),
            );
        }
        Box::new(prefetch(
            Arc::clone(&self.inner),
            plan.clone(),
            self.workers,
        ))
    }
}

/// Builds the batches of `plan` on `workers` threads and yields them in order.
fn prefetch<T: Send + 'static, I: ModelInput>(
    inner: Arc<Inner<T, I>>,
    plan: EpochPlan,
    workers: usize,
) -> InOrder<I> {
    let total = plan.num_batches();
    let chunks = Arc::new(plan);
    let next = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = sync_channel(2 * workers);
    for _ in 0..workers {
        let (inner, chunks, next, tx) = (
            Arc::clone(&inner),
            Arc::clone(&chunks),
            Arc::clone(&next),
            tx.clone(),
        );
        std::thread::spawn(move || {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= chunks.num_batches() {
                    break;
                }
                // The receiver is gone when training stopped early: stop too.
                if tx.send((i, inner.batch(&chunks.batch(i)))).is_err() {
                    break;
                }
            }
        });
    }
    InOrder {
        rx,
        pending: BTreeMap::new(),
        next: 0,
        total,
    }
}

/// Batches received out of order, yielded in order.
struct InOrder<I> {
    rx: Receiver<(usize, Result<Batch<I>>)>,
    pending: BTreeMap<usize, Result<Batch<I>>>,
    next: usize,
    total: usize,
}

impl<I> Iterator for InOrder<I> {
    type Item = Result<Batch<I>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.total {
            return None;
        }
        loop {
            if let Some(batch) = self.pending.remove(&self.next) {
                self.next += 1;
                return Some(batch);
            }
            match self.rx.recv() {
                Ok((i, batch)) => {
                    self.pending.insert(i, batch);
                }
                Err(_) => {
                    self.next = self.total;
                    return Some(Err(Error::WorkerStopped));
                }
            }
        }
    }
}
