//! The error type of model files: saving, loading, int8 copies.

use std::path::PathBuf;

/// What can go wrong when saving or loading a model; every variant names the file or the
/// parameter at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A file could not be read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file could not be written (the error names it, see
    /// [`dark_knowledge_core::io::write_atomic`]).
    #[error(transparent)]
    Write(std::io::Error),
    /// A file is not what was written: its checksum differs from its folder's manifest.
    #[error(transparent)]
    Checksum(#[from] dark_knowledge_core::checksums::ChecksumError),
    /// The bytes are not a model file of ours (burnpack weights).
    #[error("{} is not a valid model file: {reason}", path.display())]
    NotAModelFile {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The weights are for another architecture than the model they are loaded into.
    #[error("model file {} does not fit this architecture: {reason}", path.display())]
    Architecture {
        /// The file.
        path: PathBuf,
        /// The first parameter that differs, as burn reports it.
        reason: String,
    },
    /// `model.json` is not a model description.
    #[error("{} is not a valid model description: {reason}", path.display())]
    Description {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// Int8 weights bytes that are not such a file or do not fit the model.
    #[error("{0}")]
    Int8(String),
    /// An error in a named file.
    #[error("{}: {source}", path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// What was wrong with it.
        source: Box<ModelError>,
    },
    /// A model specification refused (e.g. a size of 0).
    #[error(transparent)]
    Core(#[from] dark_knowledge_core::Error),
}

impl ModelError {
    pub(crate) fn io(
        action: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_path_buf();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }

    pub(crate) fn in_file(path: &std::path::Path) -> impl FnOnce(Self) -> Self {
        let path = path.to_path_buf();
        move |source| Self::InFile {
            path,
            source: Box::new(source),
        }
    }
}
