//! Errors of the inference crate.

use std::path::PathBuf;

/// What can go wrong when loading a model or scoring records.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A record that cannot be encoded (e.g. text in a numeric field).
    #[error(transparent)]
    Encoding(#[from] dark_knowledge_data::tabular::TabularError),
    /// An invalid value or device name.
    #[error(transparent)]
    Core(#[from] dark_knowledge_core::Error),
    /// The run's model is missing, invalid, or does not fit its description.
    #[error(transparent)]
    Model(#[from] dark_knowledge_models::ModelError),
    /// The run's `preprocessing.json` cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Preprocessing {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The preprocessing and the model disagree on the number of features.
    #[error("{} encodes {encoded} features but the {role} model reads {model}", path.display())]
    FeatureCountMismatch {
        /// `preprocessing.json`.
        path: PathBuf,
        /// The model's role in the run.
        role: String,
        /// Features the preprocessing makes.
        encoded: usize,
        /// Features the model reads.
        model: usize,
    },
    /// Records given to a run without `preprocessing.json` (an image run).
    #[error("this run has no preprocessing.json: pass encoded features to predict_proba_features")]
    NoPreprocessing,
}

/// The result type of the inference crate.
pub type Result<T> = std::result::Result<T, Error>;
