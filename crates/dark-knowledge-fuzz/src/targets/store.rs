//! The row store (`RowStore::open`, `stored_row`, `to_dataset`).

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use dark_knowledge_data::store::{HEADER_LEN, RowStore, RowStoreWriter};

use crate::checksum::put_crc;
use crate::{Harness, Outcome, check, check_finite};

/// Rows read back from a store that opened.
const ROWS: usize = 64;

pub(crate) struct Store {
    path: PathBuf,
    device: Device,
}

/// The store file of `rows`, written by [`RowStoreWriter`].
fn write(
    path: &Path,
    features: usize,
    classes: usize,
    rows: &[(Vec<f32>, Option<usize>)],
) -> Vec<u8> {
    let mut w = RowStoreWriter::create(path, features, classes).expect("a valid seed shape");
    for (x, y) in rows {
        w.push(x, *y).expect("a valid seed row");
    }
    w.finish().expect("seed store written");
    std::fs::read(path).expect("seed store read back")
}

fn check_store(store: &RowStore, device: &Device) -> Result<(), Outcome> {
    let (f, c) = (store.num_features(), store.num_classes());
    let mut unlabeled = 0;
    for i in 0..store.len().min(ROWS) {
        // `open` verified the whole file: reading a row of it cannot fail.
        let row = store
            .stored_row(i)
            .map_err(|e| Outcome::Violation(format!("row {i} of a verified store: {e}")))?;
        check(row.features.len() == f, || {
            format!(
                "{} features in row {i}, header says {f}",
                row.features.len()
            )
        })?;
        check_finite(&row.features, "store features")?;
        check(row.label.is_none_or(|l| l < c), || {
            format!("label {:?} of row {i} is not below {c}", row.label)
        })?;
        unlabeled += usize::from(row.label.is_none());
    }
    if store.len() <= ROWS {
        check(unlabeled == store.num_unlabeled(), || {
            format!(
                "{unlabeled} rows without label, header says {}",
                store.num_unlabeled()
            )
        })?;
    }
    if let Ok(data) = store.to_dataset(device) {
        check(data.len() == store.len(), || {
            format!(
                "a dataset of {} rows from {} stored",
                data.len(),
                store.len()
            )
        })?;
    }
    Ok(())
}

impl Harness for Store {
    fn seeds(&mut self) -> Vec<Vec<u8>> {
        let rows = vec![
            (vec![0.5, -1.0, 2.0], Some(0)),
            (vec![1.5, 0.0, -3.25], Some(1)),
            (vec![0.0, 4.0, 1e-3], None),
            (vec![-7.0, 8.0, 9.0], Some(1)),
        ];
        vec![
            write(&self.path, 3, 2, &rows),
            write(&self.path, 1, 5, &[(vec![1.0], Some(4))]),
            write(&self.path, 2, 3, &[]),
        ]
    }

    /// The header's CRC-32 (of bytes 0..60) and the payload's (the bytes between the
    /// header and the last four).
    fn fixup(&self, input: &mut Vec<u8>) {
        let n = input.len();
        put_crc(input, 0..HEADER_LEN - 4, HEADER_LEN - 4);
        if n >= HEADER_LEN + 4 {
            put_crc(input, HEADER_LEN..n - 4, n - 4);
        }
    }

    fn run(&mut self, input: &[u8]) -> Outcome {
        if let Err(e) = std::fs::write(&self.path, input) {
            return Outcome::Violation(format!("cannot write the scratch file: {e}"));
        }
        let store = match RowStore::open(&self.path) {
            Ok(s) => s,
            Err(e) => return Outcome::rejected(e),
        };
        match check_store(&store, &self.device) {
            Ok(()) => Outcome::Parsed(format!("store, partial {}", store.is_partially_labeled())),
            Err(o) => o,
        }
    }
}

/// Builds the `store` harness.
pub(crate) fn store(scratch: &Path) -> Box<dyn Harness> {
    Box::new(Store {
        path: scratch.join("rows.dkrs"),
        device: Device::flex(),
    })
}
