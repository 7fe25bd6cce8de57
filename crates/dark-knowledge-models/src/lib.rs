//! Reference teachers and students for dark-knowledge: an [`Mlp`] for tabular data and
//! flattened images, a small [`Cnn`] for 28×28 images, boosted trees ([`TreeModel`], fitted
//! by [`GbdtConfig`]) and deep ensembles ([`ModelEnsemble`]) as tabular teachers. Each is a `XxxConfig` with
//! `init(&device)` and a burn module implementing [`Classifier`](dark_knowledge_core::Classifier).
#![warn(missing_docs)]

/// burn's `init(&device)` for a configuration whose `try_init` checks the settings: the
/// same network, panicking on settings `try_init` refuses.
macro_rules! init_or_panic {
    ($model:ty) => {
        /// Builds the network on `device`.
        ///
        /// # Panics
        /// If the settings are invalid; use [`try_init`](Self::try_init) for user input.
        pub fn init(&self, device: &Device) -> $model {
            self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
        }
    };
}

mod any_model;
mod check;
mod cnn;
mod compact;
mod ensemble;
mod error;
mod host_mlp;
mod mlp;
mod persist;
mod quantize;
mod saved;
mod spec;
mod trees;
mod trees_fit;

pub use any_model::AnyModel;
pub use cnn::{Cnn, CnnConfig};
pub use compact::{compact_bytes, load_compact};
pub use ensemble::ModelEnsemble;
pub use error::ModelError;
pub use host_mlp::HostMlp;
pub use mlp::{Mlp, MlpConfig};
pub use persist::{load_model, model_bytes, save_model};
pub use quantize::{WeightFormat, int8_scheme, quantize_int8, to_format};
pub use saved::{ModelInfo, TREES_FILE, load_saved_model, save_saved_model};
pub use spec::{MAX_ENSEMBLE_MEMBERS, ModelSpec};
pub use trees::{Booster, TREES_FORMAT_VERSION, Tree, TreeEnsemble, TreeModel, TreeNode};
pub use trees_fit::{GbdtConfig, LabeledRows};
