//! Errors of the inference crate.

/// What can go wrong when loading a model or scoring records.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An invalid value or device name.
    #[error(transparent)]
    Core(#[from] dark_knowledge_core::Error),
    /// A record that cannot be encoded (e.g. text in a numeric field).
    #[error(transparent)]
    Encoding(#[from] dark_knowledge_data::tabular::TabularError),
    /// A run folder without a model or preprocessing, or with invalid files.
    #[error("{0}")]
    Run(String),
}

/// The result type of the inference crate.
pub type Result<T> = std::result::Result<T, Error>;
