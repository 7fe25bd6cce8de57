//! Data for dark-knowledge: datasets held whole as device tensors and batched on the device,
//! reproducible stratified splits, and synthetic tasks.
#![warn(missing_docs)]

mod dataset;
pub mod error;
mod split;
pub mod synthetic;

pub use dataset::{Batch, Dataset};
pub use error::{Error, Result};
pub use split::{Split, stratified_split};
pub use synthetic::GaussianMixtureConfig;
