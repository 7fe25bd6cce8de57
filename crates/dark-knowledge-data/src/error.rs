//! The error type of dark-knowledge's data crate.

/// What can be wrong with data handed to dark-knowledge.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting or value refused by the core checks.
    #[error(transparent)]
    Core(#[from] dark_knowledge_core::Error),
    /// The data holds no rows.
    #[error("{what} is empty: at least one row is needed")]
    Empty {
        /// What was empty.
        what: &'static str,
    },
    /// An IDX image or label file could not be read.
    #[error(transparent)]
    Idx(#[from] crate::idx::IdxError),
    /// A CSV file or its encoding is invalid.
    #[error(transparent)]
    Tabular(#[from] crate::tabular::TabularError),
    /// A feature value is NaN or infinite.
    #[error(
        "feature value at row {row}, column {column} is {value}: only finite numbers are allowed"
    )]
    NonFinite {
        /// Row (0-based).
        row: usize,
        /// Column (0-based).
        column: usize,
        /// The value found.
        value: f32,
    },
    /// A label is not a class index of the dataset.
    #[error("label {label} at row {row} is out of range: labels must be in 0..{num_classes}")]
    LabelOutOfRange {
        /// Row (0-based).
        row: usize,
        /// The label found.
        label: usize,
        /// The number of classes.
        num_classes: usize,
    },
    /// A batch asked for a row beyond the data.
    #[error("row {row} requested but the data holds rows 0..{len}")]
    RowOutOfRange {
        /// The row asked for.
        row: usize,
        /// The number of rows.
        len: usize,
    },
    /// A burn dataset could not give an item.
    #[error("item {row} of the dataset could not be read: {source}")]
    Item {
        /// The item's position.
        row: usize,
        /// burn's error.
        #[source]
        source: burn::data::dataset::DatasetError,
    },
    /// A batcher gave a target that is not a class of the data.
    #[error(
        "target {target} of row {row} is not a class: targets must be in 0..{num_classes}{}",
        if *unlabeled_allowed { ", or -1 for a row without label" } else { "" }
    )]
    TargetOutOfRange {
        /// The row.
        row: usize,
        /// The target found.
        target: i64,
        /// The number of classes.
        num_classes: usize,
        /// Whether -1 (no label) is allowed.
        unlabeled_allowed: bool,
    },
    /// A row store could not be read.
    #[error(transparent)]
    Store(Box<crate::store::StoreError>),
    /// A thread building batches stopped without delivering them (it panicked).
    #[error("a data loader worker stopped before delivering its batches (it panicked)")]
    WorkerStopped,
}

impl From<crate::store::StoreError> for Error {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Store(Box::new(e))
    }
}

/// The result type of dark-knowledge's data crate.
pub type Result<T> = std::result::Result<T, Error>;
