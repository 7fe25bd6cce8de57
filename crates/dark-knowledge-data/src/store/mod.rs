//! An on-disk, memory-mapped row store for tabular data larger than memory.
//!
//! Rows (a fixed number of `f32` features and an optional class label) are written once,
//! streaming, by [`RowStoreWriter`] — or straight from a CSV by [`write_csv_store`], which
//! fits the same [`TabularEncoder`](crate::tabular::TabularEncoder) the in-memory path fits —
//! and read back in any order by [`RowStore`], a burn
//! [`Dataset`](burn::data::dataset::Dataset) of [`StoredRow`]s. A store that fits in memory
//! loads into a [`crate::Dataset`] with [`RowStore::to_dataset`].
//!
//! # File format (all integers little-endian)
//!
//! ```text
//! offset  size  field
//!      0     8  magic b"DKRSTORE"
//!      8     4  u32 format version (1)
//!     12     4  u32 header length (64)
//!     16     8  u64 num_features  (>= 1)
//!     24     8  u64 num_classes   (1..=i32::MAX)
//!     32     8  u64 num_rows
//!     40     8  u64 num_unlabeled (rows whose label is -1)
//!     48    12  zero
//!     60     4  u32 CRC32 of bytes 0..60
//!     64  4·R·F features: f32, row-major (row i starts at 64 + 4·i·F)
//!      …    4·R labels: i32 per row, a class in 0..num_classes or -1 (crate::UNLABELED)
//!      …      4 u32 CRC32 of the payload (features and labels, every byte after the header
//!               up to this checksum)
//! ```
//!
//! One trailing checksum rather than per-block ones: [`RowStore::open`] verifies the whole
//! file once, sequentially (checksum, finite features, labels in range, the unlabelled count),
//! after which a row read cannot fail on a sound file; the features start 4-byte aligned.
//!
//! # Memory
//!
//! The writer buffers 1 MiB of features and 64 KiB of labels (which go to a second temporary
//! file, appended after the features at `finish`), so its memory does not grow with the rows.
//! The reader's verification reads 1 MiB at a time with plain reads; rows are then read
//! through the map, whose pages are the operating system's page cache: clean, shared, and
//! evicted when memory is needed, so a store larger than memory reads row by row. They do
//! count in the process's resident size while mapped. [`write_csv_store`] holds one record,
//! one encoded row and the fitted state (see its documentation).
//!
//! Measured on Linux (the `memory_child` helper of `tests/store.rs`, a fresh process each,
//! test profile), peak resident memory (`VmHWM`) over its value at the start:
//!
//! | work                                        | 8 MB store | 208 MB | 1.04 GB |
//! |---------------------------------------------|-----------:|-------:|--------:|
//! | writing every row                           |    +1.3 MB | +1.3 MB | +1.3 MB |
//! | opening (full verification)                 |    +1.4 MB | +1.4 MB | +1.4 MB |
//! | heap (`RssAnon`) while reading every row    |    +1.1 MB | +1.1 MB | +1.1 MB |
//! | resident after reading every row (mapped file pages included) | 12.5 MB | 208 MB | 1.02 GB |
//!
//! `write_csv_store` on a generated CSV (5 columns) peaks at +1.2 MB for 25 000 rows and for
//! 3 000 000 rows (~90 MB of CSV) alike.
//!
//! ```no_run
//! use std::path::Path;
//! use burn::data::dataset::Dataset;
//! use dark_knowledge_data::store::{RowStore, RowStoreWriter};
//!
//! # fn main() -> dark_knowledge_data::store::Result<()> {
//! let path = Path::new("rows.dkrs");
//! let mut writer = RowStoreWriter::create(path, 3, 2)?;
//! writer.push(&[0.5, -1.0, 2.0], Some(1))?;
//! writer.push(&[0.0, 0.25, 1.0], None)?; // a row without label
//! writer.finish()?;
//!
//! let store = RowStore::open(path)?;
//! assert_eq!(store.row(1), Some((vec![0.0, 0.25, 1.0], None)));
//! assert!(store.is_partially_labeled());
//! let first = store.get(0).expect("row 0 exists");
//! assert_eq!(first.label, Some(1));
//! # Ok(())
//! # }
//! ```

mod csv;
mod csv_fit;
mod csv_records;
mod csv_scan;
mod error;
mod format;
mod reader;
mod source;
mod verify;
mod writer;

pub use csv::{
    CsvPass, CsvProgress, CsvStoreOptions, StoreSummary, write_csv_store, write_csv_store_with,
};
pub use error::{Result, StoreError};
pub use format::{FORMAT_VERSION, HEADER_LEN, MAGIC, StoreHeader};
pub use reader::{RowStore, StoredRow};
pub use source::StoreData;
pub use writer::RowStoreWriter;
