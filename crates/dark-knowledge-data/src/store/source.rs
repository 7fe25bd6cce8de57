//! A row store as the trainer's data: rows read with positional reads, so the process's
//! memory stays bounded however large the store is.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use burn::tensor::{Device, Int, Tensor, TensorData};

use super::error::StoreError;
use super::format::HEADER_LEN;
use super::reader::RowStore;
use crate::dataset::{Batch, UNLABELED};
use crate::error::{Error, Result};
use crate::source::BatchSource;

/// A [`RowStore`] (or some of its rows) as a [`BatchSource`] of float rows.
///
/// Rows are read from the file with positional reads into each batch, not through the memory
/// map: the operating system's page cache holds what is read, outside the process, so the
/// resident memory of a training run does not grow with the store (measured in
/// `docs/performance.md`). A row's id is its index in the store (what a teacher cache over
/// the store is keyed by).
#[derive(Debug, Clone)]
pub struct StoreData {
    store: Arc<RowStore>,
    file: Arc<File>,
    rows: Rows,
    device: Device,
}

/// Which rows of the store a source holds.
#[derive(Debug, Clone)]
enum Rows {
    /// Store rows `start..end`, in order (no per-row memory).
    Range(usize, usize),
    /// The listed store rows.
    List(Arc<Vec<usize>>),
}

impl StoreData {
    /// Opens and verifies the store at `path` ([`RowStore::open`]); batches are built on
    /// `device`.
    ///
    /// # Errors
    /// As [`RowStore::open`].
    pub fn open(path: &Path, device: &Device) -> Result<Self> {
        let store = RowStore::open(path)?;
        let file = File::open(path).map_err(|source| StoreError::Io {
            path: path.to_path_buf(),
            action: "opening",
            source,
        })?;
        Ok(Self {
            rows: Rows::Range(0, store.len()),
            store: Arc::new(store),
            file: Arc::new(file),
            device: device.clone(),
        })
    }

    /// The rows of the store at `positions` (indices into the store, e.g. a split), as
    /// their own source; row ids stay the store's indices.
    ///
    /// # Errors
    /// [`Error::Empty`] without positions; [`Error::RowOutOfRange`] for a position beyond the
    /// store.
    pub fn subset(&self, positions: Vec<usize>) -> Result<Self> {
        if positions.is_empty() {
            return Err(Error::Empty {
                what: "store subset",
            });
        }
        let len = self.store.len();
        if let Some(&row) = positions.iter().find(|&&p| p >= len) {
            return Err(Error::RowOutOfRange { row, len });
        }
        Ok(Self {
            rows: Rows::List(Arc::new(positions)),
            ..self.clone()
        })
    }

    /// The store rows `rows` (a contiguous split), as their own source, without a list of
    /// positions in memory.
    ///
    /// # Errors
    /// [`Error::Empty`] for an empty range; [`Error::RowOutOfRange`] past the store's end.
    pub fn slice(&self, rows: std::ops::Range<usize>) -> Result<Self> {
        if rows.is_empty() {
            return Err(Error::Empty {
                what: "store slice",
            });
        }
        let len = self.store.len();
        if rows.end > len {
            return Err(Error::RowOutOfRange {
                row: rows.end - 1,
                len,
            });
        }
        Ok(Self {
            rows: Rows::Range(rows.start, rows.end),
            ..self.clone()
        })
    }

    /// The underlying store.
    pub fn store(&self) -> &RowStore {
        &self.store
    }

    fn row_of(&self, position: usize) -> Result<usize> {
        let len = BatchSource::len(self);
        if position >= len {
            return Err(Error::RowOutOfRange { row: position, len });
        }
        Ok(match &self.rows {
            Rows::Range(start, _) => start + position,
            Rows::List(list) => list[position],
        })
    }

    fn read(&self, offset: usize, buf: &mut [u8]) -> Result<()> {
        self.file
            .read_exact_at(buf, offset as u64)
            .map_err(|source| {
                StoreError::Io {
                    path: self.store.path().to_path_buf(),
                    action: "reading rows",
                    source,
                }
                .into()
            })
    }

    /// Reads `count` consecutive store rows from `first` into `features` and `labels`.
    fn read_rows(
        &self,
        first: usize,
        count: usize,
        features: &mut Vec<f32>,
        labels: &mut Vec<i64>,
    ) -> Result<()> {
        let f = self.store.num_features();
        let mut bytes = vec![0u8; count * f * 4];
        self.read(HEADER_LEN + first * f * 4, &mut bytes)?;
        features.extend(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        );
        let mut raw = vec![0u8; count * 4];
        self.read(HEADER_LEN + self.store.len() * f * 4 + first * 4, &mut raw)?;
        labels.extend(
            raw.chunks_exact(4)
                .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]]))),
        );
        Ok(())
    }

    fn make_batch(&self, features: Vec<f32>, labels: Vec<i64>, rows: Vec<usize>) -> Batch {
        let n = rows.len();
        let labeled = labels.iter().filter(|&&l| l != UNLABELED).count();
        Batch {
            inputs: Tensor::from_data(
                TensorData::new(features, [n, self.store.num_features()]),
                &self.device,
            ),
            targets: Tensor::<1, Int>::from_data(TensorData::new(labels, [n]), &self.device),
            rows,
            labeled,
        }
    }
}

impl BatchSource for StoreData {
    fn len(&self) -> usize {
        match &self.rows {
            Rows::Range(start, end) => end - start,
            Rows::List(list) => list.len(),
        }
    }

    fn num_classes(&self) -> usize {
        self.store.num_classes()
    }

    fn num_features(&self) -> Option<usize> {
        Some(self.store.num_features())
    }

    fn device(&self) -> Device {
        self.device.clone()
    }

    fn is_partially_labeled(&self) -> bool {
        self.store.is_partially_labeled()
    }

    fn batch(&self, positions: &[usize]) -> Result<Batch> {
        let mut features = Vec::with_capacity(positions.len() * self.store.num_features());
        let mut labels = Vec::with_capacity(positions.len());
        let mut rows = Vec::with_capacity(positions.len());
        for &p in positions {
            let row = self.row_of(p)?;
            self.read_rows(row, 1, &mut features, &mut labels)?;
            rows.push(row);
        }
        Ok(self.make_batch(features, labels, rows))
    }

    fn range(&self, start: usize, end: usize) -> Result<Batch> {
        let Rows::Range(first, _) = self.rows else {
            return self.batch(&(start..end).collect::<Vec<_>>());
        };
        if end > BatchSource::len(self) || start >= end {
            return self.batch(&(start..end).collect::<Vec<_>>());
        }
        let count = end - start;
        let mut features = Vec::with_capacity(count * self.store.num_features());
        let mut labels = Vec::with_capacity(count);
        self.read_rows(first + start, count, &mut features, &mut labels)?;
        Ok(self.make_batch(features, labels, (first + start..first + end).collect()))
    }
}
