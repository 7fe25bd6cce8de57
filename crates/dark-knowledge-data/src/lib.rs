//! Data for dark-knowledge: datasets held whole as device tensors and batched on the device,
//! CSV files encoded for training ([`tabular`]), Fashion-MNIST's IDX files ([`idx`]), the
//! embedded churn data, reproducible stratified splits, and synthetic tasks.
#![warn(missing_docs)]

mod assets;
mod dataset;
pub mod error;
pub mod idx;
mod split;
pub mod synthetic;
pub mod tabular;

pub use assets::CHURN_CSV;
pub use dataset::{Batch, Dataset};
pub use error::{Error, Result};
pub use split::{Split, stratified_split};
pub use synthetic::GaussianMixtureConfig;
