//! Reference teachers and students for dark-knowledge: an [`Mlp`] for tabular data and
//! flattened images, and a small [`Cnn`] for 28×28 images. Each is a `XxxConfig` with
//! `init(&device)` and a burn module implementing [`Classifier`](dark_knowledge_core::Classifier).
#![warn(missing_docs)]

mod cnn;
mod mlp;
mod persist;
mod saved;
mod spec;

pub use cnn::{Cnn, CnnConfig};
pub use mlp::{Mlp, MlpConfig};
pub use persist::{load_model, model_bytes, save_model};
pub use saved::{ModelInfo, load_saved_model, save_saved_model};
pub use spec::{AnyModel, ModelSpec};
