//! One error type for the whole workflow, wrapping every crate's own error.
//!
//! Each variant keeps the typed error of the step that failed, so a program can `match` on
//! it (see [`Error::root`]); [`Context`] adds what the workflow was doing ("reading
//! experiment.toml: …") the way a user reads it.

use std::fmt::Display;

/// Everything that can go wrong in dark-knowledge, from a loss setting to a run folder.
///
/// `Display` prints the context chain and the cause on one line, e.g. `reading
/// runs/a/experiment.toml: No such file or directory (os error 2)`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A loss, teacher or device setting refused by the core.
    #[error(transparent)]
    Core(#[from] dark_knowledge_core::Error),
    /// Data refused: empty, non-finite, wrong shape, an unreadable IDX or CSV file.
    #[error(transparent)]
    Data(#[from] dark_knowledge_data::Error),
    /// A CSV table that cannot be read or encoded.
    #[error(transparent)]
    Tabular(#[from] dark_knowledge_data::tabular::TabularError),
    /// An IDX (MNIST-style) file that cannot be read.
    #[error(transparent)]
    Idx(#[from] dark_knowledge_data::idx::IdxError),
    /// A teacher-logit cache that cannot be written, read or does not match the data.
    #[error(transparent)]
    Cache(#[from] dark_knowledge_data::cache::CacheError),
    /// Logits made elsewhere (`.npy`, safetensors) that cannot be imported.
    #[error(transparent)]
    Import(#[from] dark_knowledge_data::logits::ImportError),
    /// A row store that cannot be written or read.
    #[error(transparent)]
    Store(#[from] dark_knowledge_data::store::StoreError),
    /// A model file or description that cannot be saved or loaded.
    #[error(transparent)]
    Model(#[from] dark_knowledge_models::ModelError),
    /// A trainer setting refused, or training that failed.
    #[error(transparent)]
    Train(#[from] dark_knowledge_train::Error),
    /// A checkpoint that cannot be written or resumed from.
    #[error(transparent)]
    Checkpoint(#[from] dark_knowledge_train::CheckpointError),
    /// Metrics that cannot be computed (e.g. a class-count mismatch).
    #[error(transparent)]
    Metrics(#[from] dark_knowledge_eval::MetricsError),
    /// Scoring records with a saved model failed.
    #[error(transparent)]
    Infer(#[from] dark_knowledge_infer::Error),
    /// Language-model distillation (corpus, tokenizer, token cache, training) failed.
    #[error(transparent)]
    Text(#[from] dark_knowledge_text::Error),
    /// A file could not be read or written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// An experiment or sweep file that is not valid TOML for its schema.
    #[error(transparent)]
    Toml(#[from] toml::de::Error),
    /// Settings that cannot be written as TOML.
    #[error(transparent)]
    TomlWrite(#[from] toml::ser::Error),
    /// A JSON file (report, run header, results) that cannot be read or written.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// A CSV file that cannot be read or written.
    #[error(transparent)]
    Csv(#[from] csv::Error),
    /// A setting or input refused by the workflow; the message names it and what is allowed.
    #[error("{0}")]
    Invalid(String),
    /// What the workflow was doing when `source` happened.
    #[error("{context}: {source}")]
    Context {
        /// What was being done, e.g. `reading runs/a/experiment.toml`.
        context: String,
        /// What went wrong.
        source: Box<Error>,
    },
}

impl Error {
    /// An [`Error::Invalid`] with this message.
    pub fn msg(message: impl Display) -> Self {
        Self::Invalid(message.to_string())
    }

    /// The error under every [`Error::Context`]: the typed cause to `match` on.
    pub fn root(&self) -> &Error {
        let mut e = self;
        while let Error::Context { source, .. } = e {
            e = source;
        }
        e
    }
}

/// The result type of the workflow.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds what the workflow was doing to an error, as `anyhow::Context` does, keeping the
/// typed cause.
pub trait Context<T> {
    /// Wraps the error in [`Error::Context`] with `context`.
    fn context(self, context: impl Display) -> Result<T>;
    /// Wraps the error in [`Error::Context`] with the text `f` makes (only on error).
    fn with_context<C: Display>(self, f: impl FnOnce() -> C) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, context: impl Display) -> Result<T> {
        self.map_err(|e| Error::Context {
            context: context.to_string(),
            source: Box::new(e.into()),
        })
    }

    fn with_context<C: Display>(self, f: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| Error::Context {
            context: f().to_string(),
            source: Box::new(e.into()),
        })
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, context: impl Display) -> Result<T> {
        self.ok_or_else(|| Error::msg(context))
    }

    fn with_context<C: Display>(self, f: impl FnOnce() -> C) -> Result<T> {
        self.ok_or_else(|| Error::msg(f()))
    }
}

/// Returns early with an [`Error::Invalid`] made from a format string.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => {
        return ::core::result::Result::Err($crate::Error::Invalid(format!($($arg)*)))
    };
}

/// Returns early with an [`Error::Invalid`] unless the condition holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            $crate::bail!($($arg)*);
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keeps_the_typed_cause_and_reads_as_one_line() {
        let io: std::result::Result<(), _> =
            Err(std::io::Error::new(std::io::ErrorKind::NotFound, "gone"));
        let e = io
            .context("reading a.toml")
            .context("loading the run")
            .unwrap_err();
        assert_eq!(e.to_string(), "loading the run: reading a.toml: gone");
        assert!(matches!(e.root(), Error::Io(io) if io.kind() == std::io::ErrorKind::NotFound));
    }

    #[test]
    fn bail_and_ensure_give_invalid() {
        fn f(x: i32) -> Result<i32> {
            ensure!(x > 0, "x = {x}: allowed: > 0");
            if x > 10 {
                bail!("x = {x} too large");
            }
            Ok(x)
        }
        assert_eq!(f(1).unwrap(), 1);
        assert_eq!(f(0).unwrap_err().to_string(), "x = 0: allowed: > 0");
        assert!(matches!(f(11).unwrap_err(), Error::Invalid(_)));
    }
}
