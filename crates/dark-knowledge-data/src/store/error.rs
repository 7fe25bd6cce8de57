//! The error type of the row store.

use std::path::PathBuf;

use crate::FileLength;

use crate::tabular::TabularError;

/// Result alias of the row store.
pub type Result<T> = std::result::Result<T, StoreError>;

/// Everything that can go wrong while writing, reading or filling a row store.
///
/// Variants about a file carry its path; every message names what is wrong and what is
/// expected instead.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An operating-system I/O operation failed.
    #[error("row store '{}': {action} failed: {source}", .path.display())]
    Io {
        /// File (or folder) concerned.
        path: PathBuf,
        /// What was being done, e.g. "creating the temporary file".
        action: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The output path cannot be used (e.g. it has no file name).
    #[error("row store '{}': invalid output path: {reason}", .path.display())]
    InvalidPath {
        /// The offending path.
        path: PathBuf,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// A shape given to the writer is not allowed.
    #[error("row store '{}': {what} is {value}, expected {allowed}", .path.display())]
    InvalidShape {
        /// File concerned.
        path: PathBuf,
        /// Which value (`num_features`, `num_classes`).
        what: &'static str,
        /// The value given.
        value: usize,
        /// What is allowed.
        allowed: &'static str,
    },
    /// The file does not start with the store's magic bytes.
    #[error(
        "'{}' is not a row store: expected magic bytes \"DKRSTORE\", found {found:02x?}",
        .path.display()
    )]
    BadMagic {
        /// File concerned.
        path: PathBuf,
        /// The first bytes found (up to 8).
        found: Vec<u8>,
    },
    /// The file's format version is not the one this library reads.
    #[error(
        "row store '{}': unsupported format version {found}, expected {expected}; rebuild the \
         store with this version of the library",
        .path.display()
    )]
    UnsupportedVersion {
        /// File concerned.
        path: PathBuf,
        /// Version found in the file.
        found: u32,
        /// Version this library reads and writes.
        expected: u32,
    },
    /// The header's checksum does not match its bytes, or a header field is impossible.
    #[error("row store '{}' has a corrupt header: {reason}", .path.display())]
    CorruptHeader {
        /// File concerned.
        path: PathBuf,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// The file is shorter (truncated) or longer (trailing bytes) than its header says.
    #[error(transparent)]
    FileLength(#[from] FileLength),
    /// The payload's CRC32 does not match its bytes.
    #[error(
        "row store '{}' is corrupt: stored payload CRC32 {stored:#010x} but the rows hash to \
         {computed:#010x}; rebuild the store",
        .path.display()
    )]
    Checksum {
        /// File concerned.
        path: PathBuf,
        /// CRC32 stored at the end of the file.
        stored: u32,
        /// CRC32 of the payload as read.
        computed: u32,
    },
    /// A stored row breaks the format's rules although the checksum matched.
    #[error("row store '{}': stored row {row} is invalid: {reason}", .path.display())]
    CorruptRow {
        /// File concerned.
        path: PathBuf,
        /// Row index (0-based).
        row: usize,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// A pushed row does not have `num_features` values.
    #[error(
        "row store '{}': row {row} has {found} feature values, expected num_features = {expected}",
        .path.display()
    )]
    RowLength {
        /// File being written.
        path: PathBuf,
        /// Row index (0-based, counting every row pushed so far).
        row: usize,
        /// `num_features`.
        expected: usize,
        /// Values given.
        found: usize,
    },
    /// A pushed feature value is NaN or infinite.
    #[error(
        "row store '{}': row {row}, feature {column} is {value}; only finite numbers are allowed",
        .path.display()
    )]
    NonFinite {
        /// File being written.
        path: PathBuf,
        /// Row index (0-based).
        row: usize,
        /// Feature index (0-based).
        column: usize,
        /// The value given.
        value: f32,
    },
    /// A pushed label is not a class index.
    #[error(
        "row store '{}': row {row} has label {label}; labels must be in 0..{num_classes} \
         (or no label)",
        .path.display()
    )]
    LabelOutOfRange {
        /// File being written.
        path: PathBuf,
        /// Row index (0-based).
        row: usize,
        /// The label given.
        label: usize,
        /// `num_classes`.
        num_classes: usize,
    },
    /// A row index is not in the store.
    #[error("row store '{}' has {num_rows} rows: row {row} is out of range", .path.display())]
    RowOutOfRange {
        /// Rows in the store.
        num_rows: usize,
        /// The requested row.
        row: usize,
        /// File concerned.
        path: PathBuf,
    },
    /// The writer hit an I/O error earlier and cannot continue.
    #[error(
        "row store '{}': the writer failed earlier and cannot be used; start a new writer",
        .path.display()
    )]
    WriterFailed {
        /// File being written.
        path: PathBuf,
    },
    /// The CSV changed between two passes over it.
    #[error(
        "CSV '{}' changed while the row store was being built: {reason}; build it again from \
         a file that is not being written to",
        .path.display()
    )]
    CsvChanged {
        /// The CSV file.
        path: PathBuf,
        /// What differed between the passes.
        reason: String,
    },
    /// A CSV file or its encoding is invalid (errors about a cell name its line).
    #[error(transparent)]
    Tabular(#[from] TabularError),
    /// Building an in-memory dataset from the store failed.
    #[error(transparent)]
    Data(#[from] crate::Error),
}
