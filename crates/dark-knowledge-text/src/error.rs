//! The error type of the sequence-distillation crate.

use std::path::PathBuf;

/// What can go wrong when tokenizing, loading a corpus or a cache, or training a language
/// model. User input never panics: it gives one of these, naming the problem and what is
/// allowed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting or an argument outside its allowed range.
    #[error("{name} is {value}; allowed: {allowed}")]
    InvalidValue {
        /// The setting.
        name: &'static str,
        /// The value given.
        value: String,
        /// What is allowed.
        allowed: String,
    },
    /// Tensors, token ids or files whose shapes disagree.
    #[error("{what}: expected {expected}, got {got}")]
    ShapeMismatch {
        /// What was checked.
        what: &'static str,
        /// The shape that was expected.
        expected: String,
        /// The shape that was found.
        got: String,
    },
    /// A file that cannot be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file that is not what it claims to be (a corpus, a tokenizer, a token-logit cache).
    #[error("{}: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A dataset item that could not be read.
    #[error("reading the dataset: {0}")]
    Dataset(String),
    /// An error of the core crate (losses, devices).
    #[error(transparent)]
    Core(#[from] dark_knowledge_core::Error),
}

/// The result type of the sequence-distillation crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An [`Error::InvalidValue`].
    pub fn invalid(name: &'static str, value: impl ToString, allowed: impl Into<String>) -> Self {
        Self::InvalidValue {
            name,
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }

    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// An [`Error::Format`] for `path`.
    pub fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::Format {
            path: path.into(),
            message: message.into(),
        }
    }
}
