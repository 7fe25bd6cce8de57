//! The error type of this crate.

use std::path::PathBuf;

use crate::FileLength;

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, CacheError>;

/// Everything that can go wrong while writing or reading a teacher cache.
///
/// Every variant carries the path of the cache file concerned; the `Display`
/// message names the file, what is wrong and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// An operating-system I/O operation failed.
    #[error("teacher cache '{}': {action} failed: {source}", .path.display())]
    Io {
        /// File (or directory) concerned.
        path: PathBuf,
        /// What was being done, e.g. "creating temporary file".
        action: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The output path cannot be used (e.g. it has no file name).
    #[error("teacher cache '{}': invalid output path: {reason}", .path.display())]
    InvalidPath {
        /// The offending path.
        path: PathBuf,
        /// Why it is invalid.
        reason: String,
    },
    /// The file does not start with the `DKTC` magic bytes.
    #[error(
        "'{}' is not a teacher-logit cache: expected magic bytes \"DKTC\", found {found:02x?}",
        .path.display()
    )]
    BadMagic {
        /// File concerned.
        path: PathBuf,
        /// The first bytes actually found (up to 4).
        found: Vec<u8>,
    },
    /// The binary format version or the header `version` is not supported.
    #[error(
        "teacher cache '{}': unsupported {what} {found}, expected {expected}; \
         re-run cache-teacher with this version of the library",
        .path.display()
    )]
    UnsupportedVersion {
        /// File concerned.
        path: PathBuf,
        /// Which version field ("format version" or "header version").
        what: &'static str,
        /// Version found in the file.
        found: u64,
        /// Version this library reads and writes.
        expected: u64,
    },
    /// The JSON header is malformed or contains invalid values.
    #[error("teacher cache '{}': invalid header: {reason}", .path.display())]
    Header {
        /// File concerned.
        path: PathBuf,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// The file is shorter (truncated) or longer (trailing bytes) than its header says.
    #[error(transparent)]
    FileLength(#[from] FileLength),
    /// The stored CRC32 does not match the file contents.
    #[error(
        "teacher cache '{}' is corrupt: stored CRC32 {stored:#010x} but contents hash to \
         {computed:#010x}; re-run cache-teacher",
        .path.display()
    )]
    Checksum {
        /// File concerned.
        path: PathBuf,
        /// CRC32 stored at the end of the file.
        stored: u32,
        /// CRC32 computed over the file contents.
        computed: u32,
    },
    /// The cache was made for a different dataset (or another row order).
    #[error(
        "teacher cache '{}' was made for other data (or another row order): its dataset \
         fingerprint is {found} but the current dataset has {expected}; re-run cache-teacher \
         to rebuild the cache for this dataset",
        .path.display()
    )]
    FingerprintMismatch {
        /// File concerned.
        path: PathBuf,
        /// Fingerprint of the current dataset (what the caller expects).
        expected: String,
        /// Fingerprint recorded in the cache.
        found: String,
    },
    /// A requested row index is not in the cache.
    #[error(
        "teacher cache '{}': row {row} is out of range, expected a row index below {num_rows}",
        .path.display()
    )]
    RowOutOfRange {
        /// File concerned.
        path: PathBuf,
        /// Requested row.
        row: usize,
        /// Number of rows in the cache.
        num_rows: usize,
    },
    /// A slice had the wrong length.
    #[error(
        "teacher cache '{}': {what} has length {found}, expected {expected}",
        .path.display()
    )]
    LengthMismatch {
        /// File concerned.
        path: PathBuf,
        /// Which slice, e.g. "output buffer for dense_row".
        what: &'static str,
        /// Required length.
        expected: usize,
        /// Actual length.
        found: usize,
    },
    /// `push` was given a slice that is not a whole number of rows.
    #[error(
        "teacher cache '{}': pushed {len} logits, expected a multiple of num_classes = {num_classes}",
        .path.display()
    )]
    PartialRow {
        /// File concerned.
        path: PathBuf,
        /// Number of values pushed.
        len: usize,
        /// Values per row.
        num_classes: usize,
    },
    /// A logit pushed to the writer is NaN or infinite.
    #[error(
        "teacher cache '{}': row {row}, class {class} has non-finite logit {value}; \
         expected finite teacher logits",
        .path.display()
    )]
    NonFiniteLogit {
        /// File concerned.
        path: PathBuf,
        /// Global row index (counting all rows pushed so far).
        row: usize,
        /// Class index within the row.
        class: usize,
        /// The offending value.
        value: f32,
    },
    /// A value does not fit in the cache dtype (f16 overflows past ±65504).
    #[error(
        "teacher cache '{}': row {row} has value {value} which overflows f16 (max ±65504); \
         expected smaller logits or dtype f32",
        .path.display()
    )]
    Unrepresentable {
        /// File concerned.
        path: PathBuf,
        /// Global row index.
        row: usize,
        /// The offending value (a logit or the rest log-sum-exp).
        value: f32,
    },
    /// More rows were pushed than the header declares.
    #[error(
        "teacher cache '{}': pushing {pushing} more rows after {written} would exceed num_rows = {num_rows}",
        .path.display()
    )]
    TooManyRows {
        /// File concerned.
        path: PathBuf,
        /// Rows already written.
        written: usize,
        /// Rows in the rejected push.
        pushing: usize,
        /// Rows declared in the header.
        num_rows: usize,
    },
    /// `finish` was called with fewer rows than the header declares.
    #[error(
        "teacher cache '{}': finished after {found} rows, expected num_rows = {expected}; \
         no file was written",
        .path.display()
    )]
    RowCount {
        /// File concerned.
        path: PathBuf,
        /// Rows declared in the header.
        expected: usize,
        /// Rows actually pushed.
        found: usize,
    },
    /// The teacher could not produce the logits of some rows while the cache was written.
    #[error(
        "teacher cache '{}': the teacher failed on rows {start}..{end}: {reason}",
        .path.display()
    )]
    TeacherFailed {
        /// File being written.
        path: PathBuf,
        /// First row of the failed batch.
        start: usize,
        /// One past its last row.
        end: usize,
        /// The teacher's error.
        reason: String,
    },
    /// The writer hit an I/O error earlier and cannot continue.
    #[error(
        "teacher cache '{}': the writer failed earlier and cannot be used; start a new writer",
        .path.display()
    )]
    WriterFailed {
        /// File concerned.
        path: PathBuf,
    },
    /// A row's stored data is invalid although the checksum matched.
    #[error("teacher cache '{}': row {row} is corrupt: {reason}", .path.display())]
    CorruptRow {
        /// File concerned.
        path: PathBuf,
        /// Row index.
        row: usize,
        /// What is wrong and what is expected.
        reason: String,
    },
}
