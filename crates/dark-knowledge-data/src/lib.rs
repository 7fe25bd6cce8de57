//! Data for dark-knowledge: datasets held whole as device tensors and batched on the device,
//! CSV files encoded for training ([`tabular`]), Fashion-MNIST's IDX files ([`idx`]), the
//! embedded churn data, reproducible stratified splits, synthetic tasks, and teacher logits
//! made elsewhere (`.npy`, safetensors: [`logits`]).
#![warn(missing_docs)]

mod assets;
mod augment;
pub mod cache;
mod cached_teacher;
mod dataset;
pub mod error;
mod file_length;
pub mod idx;
mod loader;
pub mod logits;
mod rows;
mod source;
mod split;
pub mod store;
pub mod synthetic;
pub mod tabular;

pub use assets::CHURN_CSV;
pub use augment::{Augment, Augmented, FeatureNoise, HorizontalFlip, RandomShift};
pub use cached_teacher::{CacheSettings, CachedTeacher, cache_teacher, dataset_fingerprint};
pub use dataset::{Batch, Dataset, UNLABELED};
pub use error::{Error, Result};
pub use file_length::{FileKind, FileLength};
pub use loader::{LabeledBatch, LoaderData};
pub use rows::{RowBatcher, RowItem, RowItems};
pub use source::{BatchSource, Batches, EpochPlan, mix_seed};
pub use split::{LabelBudget, Split, stratified_labeled, stratified_split};
pub use store::{RowStore, RowStoreWriter, StoreData, StoredRow, write_csv_store};
pub use synthetic::GaussianMixtureConfig;
pub use tabular::synthesize::{Generator, SynthesizerConfig};
