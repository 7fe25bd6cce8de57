//! Memory-mapped, verified reader of row stores.

use std::fs::File;
use std::path::{Path, PathBuf};

use burn::data::dataset::DatasetError;
use burn::tensor::Device;
use memmap2::Mmap;

use super::error::{Result, StoreError};
use super::format::{HEADER_LEN, Layout, StoreHeader, VALUE_LEN, decode_label, decode_le};
use super::verify::{read_full, verify_payload};
use crate::file_length::{FileKind, check_length};

/// One row of a [`RowStore`], as its burn [`Dataset`](burn::data::dataset::Dataset) item.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRow {
    /// The `num_features` feature values.
    pub features: Vec<f32>,
    /// The class, `None` for a row without label.
    pub label: Option<usize>,
}

/// A read-only row store: features and labels of rows on disk, memory-mapped, so a store
/// larger than memory is read row by row with the operating system paging it in and out.
///
/// [`RowStore::open`] verifies the whole file once; every later row access is an O(1) offset
/// computation into the map. Values are decoded from little-endian bytes, so a store written
/// on one machine reads the same on any other.
#[derive(Debug)]
pub struct RowStore {
    path: PathBuf,
    map: Mmap,
    header: StoreHeader,
    layout: Layout,
}

impl RowStore {
    /// Opens and verifies the store at `path`.
    ///
    /// Checks, in order: magic bytes, format version, the header's CRC32, its fields, the
    /// exact file length ([`StoreError::FileLength`]: truncated or trailing bytes), the
    /// payload CRC32 ([`StoreError::Checksum`]), and finally that every feature is finite,
    /// every label is a class or −1, and the count of −1 labels is the header's
    /// ([`StoreError::CorruptRow`]). The verification reads the file once, sequentially, with
    /// plain reads (not through the map), so it does not add the file to this process's
    /// resident memory.
    ///
    /// The file must not be modified in place while it is open; the writer never does that (it
    /// replaces files by rename). Should another program do it anyway, rows are still read
    /// within the map's bounds and checked, so this gives errors or `None`, never a panic.
    pub fn open(path: &Path) -> Result<Self> {
        let io = |action: &'static str| {
            move |source| StoreError::Io {
                path: path.to_path_buf(),
                action,
                source,
            }
        };
        let mut file = File::open(path).map_err(io("opening"))?;
        let file_len = file
            .metadata()
            .map_err(io("reading the metadata of"))?
            .len();
        let mut head = [0u8; HEADER_LEN];
        let n = read_full(&mut file, &mut head).map_err(io("reading the header of"))?;
        let (header, layout) = StoreHeader::from_bytes(path, &head[..n], file_len)?;
        let expected_len = layout.file_len as u64;
        check_length(path, FileKind::RowStore, expected_len, file_len)?;
        verify_payload(&mut file, path, &header, &layout)?;
        // SAFETY: the map is read-only, and this library never modifies a store in place
        // (RowStoreWriter replaces files by atomic rename, so the inode mapped here keeps its
        // bytes). Another process truncating or rewriting the file while it is mapped is
        // outside what any mmap can guard against; it is documented on `open`, and reads stay
        // within the map's length, which is checked below.
        #[allow(unsafe_code)]
        let map = unsafe { Mmap::map(&file) }.map_err(io("memory-mapping"))?;
        check_length(path, FileKind::RowStore, expected_len, map.len() as u64)?;
        Ok(RowStore {
            path: path.to_path_buf(),
            map,
            header,
            layout,
        })
    }

    /// The path the store was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The header: shape and label counts.
    pub fn header(&self) -> StoreHeader {
        self.header
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.header.num_rows
    }

    /// Whether the store holds no row.
    pub fn is_empty(&self) -> bool {
        self.header.num_rows == 0
    }

    /// Feature values per row.
    pub fn num_features(&self) -> usize {
        self.header.num_features
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.header.num_classes
    }

    /// Number of rows without label.
    pub fn num_unlabeled(&self) -> usize {
        self.header.num_unlabeled
    }

    /// Whether some rows have no label.
    pub fn is_partially_labeled(&self) -> bool {
        self.header.num_unlabeled > 0
    }

    /// The features and label of row `i`; `None` when `i >= len()` (or, only for a file
    /// modified in place after opening, when the row is no longer valid: see
    /// [`RowStore::stored_row`] for the error).
    pub fn row(&self, i: usize) -> Option<(Vec<f32>, Option<usize>)> {
        let mut features = Vec::new();
        let label = self.row_into(i, &mut features)?;
        Some((features, label))
    }

    /// Like [`RowStore::row`], writing the features into `out` (cleared first) to reuse its
    /// allocation; returns the label. `out` is left empty when `None` is returned.
    pub fn row_into(&self, i: usize, out: &mut Vec<f32>) -> Option<Option<usize>> {
        self.read_row(i, out).ok()
    }

    /// The label of row `i` (`Some(None)` for a row without label); `None` when
    /// `i >= len()`.
    pub fn label(&self, i: usize) -> Option<Option<usize>> {
        self.read_label(i).ok()
    }

    /// Row `i` as a [`StoredRow`], with a typed error: [`StoreError::RowOutOfRange`], or
    /// [`StoreError::CorruptRow`] for a file modified in place after opening.
    pub fn stored_row(&self, i: usize) -> Result<StoredRow> {
        let mut features = Vec::new();
        let label = self.read_row(i, &mut features)?;
        Ok(StoredRow { features, label })
    }

    fn read_row(&self, i: usize, out: &mut Vec<f32>) -> Result<Option<usize>> {
        out.clear();
        let label = self.read_label(i)?;
        let f = self.header.num_features;
        let start = HEADER_LEN + i * f * VALUE_LEN;
        let bytes = self
            .map
            .get(start..start + f * VALUE_LEN)
            .ok_or_else(|| self.corrupt(i, "the row lies outside the file".into()))?;
        out.extend(decode_le(bytes, f32::from_le_bytes));
        if let Some(j) = out.iter().position(|v| !v.is_finite()) {
            let reason = format!("feature {j} is {}, expected a finite number", out[j]);
            out.clear();
            return Err(self.corrupt(i, reason));
        }
        Ok(label)
    }

    fn read_label(&self, i: usize) -> Result<Option<usize>> {
        if i >= self.header.num_rows {
            return Err(StoreError::RowOutOfRange {
                path: self.path.clone(),
                row: i,
                num_rows: self.header.num_rows,
            });
        }
        let at = self.layout.labels_at + i * VALUE_LEN;
        let raw = self
            .map
            .get(at..at + VALUE_LEN)
            .and_then(|b| decode_le(b, i32::from_le_bytes).next())
            .ok_or_else(|| self.corrupt(i, "the label lies outside the file".into()))?;
        decode_label(raw, self.header.num_classes).ok_or_else(|| {
            let c = self.header.num_classes;
            self.corrupt(i, format!("label {raw}, expected -1 or 0..{c}"))
        })
    }

    fn corrupt(&self, row: usize, reason: String) -> StoreError {
        StoreError::CorruptRow {
            path: self.path.clone(),
            row,
            reason,
        }
    }

    /// Loads the whole store into a [`crate::Dataset`] on `device` (for a store that fits in
    /// memory): the same dataset the in-memory CSV path builds, rows without label hidden
    /// with [`crate::Dataset::hide_labels`].
    ///
    /// # Errors
    /// What [`crate::Dataset::new`] refuses (no rows, fewer than 2 classes), as
    /// [`StoreError::Data`].
    pub fn to_dataset(&self, device: &Device) -> Result<crate::Dataset> {
        let n = self.header.num_rows;
        // Capacities come from the header, which `open` checked against the file's length
        // only through `num_rows × num_features`: a store of no rows may claim any number of
        // features, so the row buffer is sized only once there is a row to hold.
        let row_capacity = if n == 0 { 0 } else { self.header.num_features };
        let mut features = Vec::with_capacity(n * self.header.num_features);
        let mut labels = Vec::with_capacity(n);
        let mut unlabeled = Vec::with_capacity(self.header.num_unlabeled);
        let mut row = Vec::with_capacity(row_capacity);
        for i in 0..n {
            let label = self.read_row(i, &mut row)?;
            features.extend_from_slice(&row);
            labels.push(label.unwrap_or(0));
            if label.is_none() {
                unlabeled.push(i);
            }
        }
        let data = crate::Dataset::new(
            features,
            self.header.num_features,
            labels,
            self.header.num_classes,
            device,
        )?;
        if unlabeled.is_empty() {
            return Ok(data);
        }
        Ok(data.hide_labels(&unlabeled)?)
    }
}

/// A store is a burn dataset of [`StoredRow`]s, for burn's `DataLoader`.
///
/// Unlike burn's own datasets, `get` never panics: an index `>= len()` is an `Err` wrapping
/// [`StoreError::RowOutOfRange`].
impl burn::data::dataset::Dataset<StoredRow> for RowStore {
    fn get(&self, index: usize) -> std::result::Result<StoredRow, DatasetError> {
        self.stored_row(index).map_err(DatasetError::new)
    }

    fn len(&self) -> usize {
        self.header.num_rows
    }
}
