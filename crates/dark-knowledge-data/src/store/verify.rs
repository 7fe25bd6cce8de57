//! Verifying a row store's payload before it is mapped: checksum and value rules.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::error::{Result, StoreError};
use super::format::{CRC_LEN, HEADER_LEN, Layout, StoreHeader, VALUE_LEN, decode_label, decode_le};
use crate::file_length::{FileKind, FileLength};

/// Bytes read at a time while the payload is verified (a multiple of [`VALUE_LEN`]).
const VERIFY_CHUNK: usize = 1 << 20;

/// Reads until `buf` is full or the end of the file; returns the bytes read.
pub(crate) fn read_full(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Hashes the payload and checks its values in one sequential read; a checksum mismatch is
/// reported before any value problem (a flipped bit is damage, not a bad row).
pub(crate) fn verify_payload(
    file: &mut File,
    path: &Path,
    h: &StoreHeader,
    l: &Layout,
) -> Result<()> {
    let io = |action: &'static str| {
        move |source| StoreError::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    };
    let truncated =
        |at: usize| FileLength::new(path, FileKind::RowStore, l.file_len as u64, at as u64);
    file.seek(SeekFrom::Start(HEADER_LEN as u64))
        .map_err(io("seeking in"))?;
    let mut hasher = crc32fast::Hasher::new();
    let mut check = ValueCheck::new(h);
    let mut buf = vec![0u8; VERIFY_CHUNK.min(l.file_len)];
    let mut at = HEADER_LEN;
    while at < l.crc_at {
        // Chunks never straddle the features/labels boundary.
        let (section, end) = if at < l.labels_at {
            (HEADER_LEN, l.labels_at)
        } else {
            (l.labels_at, l.crc_at)
        };
        let chunk = &mut buf[..VERIFY_CHUNK.min(end - at)];
        if read_full(file, chunk).map_err(io("reading"))? < chunk.len() {
            return Err(truncated(at).into());
        }
        hasher.update(chunk);
        let first = (at - section) / VALUE_LEN;
        if section == HEADER_LEN {
            check.features(chunk, first);
        } else {
            check.labels(chunk, first);
        }
        at += chunk.len();
    }
    let mut stored = [0u8; CRC_LEN];
    if read_full(file, &mut stored).map_err(io("reading"))? < stored.len() {
        return Err(truncated(at).into());
    }
    let (stored, computed) = (u32::from_le_bytes(stored), hasher.finalize());
    if stored != computed {
        return Err(StoreError::Checksum {
            path: path.to_path_buf(),
            stored,
            computed,
        });
    }
    check.finish(path, h)
}

/// The value rules of a payload, checked chunk by chunk: finite features, labels a class or
/// −1, as many −1 labels as the header says.
struct ValueCheck {
    num_features: usize,
    num_classes: usize,
    /// The first invalid value: (row, reason).
    problem: Option<(usize, String)>,
    unlabeled: usize,
}

impl ValueCheck {
    fn new(h: &StoreHeader) -> Self {
        Self {
            num_features: h.num_features,
            num_classes: h.num_classes,
            problem: None,
            unlabeled: 0,
        }
    }

    /// Feature bytes whose first value is value `first` of the features.
    fn features(&mut self, chunk: &[u8], first: usize) {
        let bad = decode_le(chunk, f32::from_le_bytes).position(|v| !v.is_finite());
        if let (None, Some(k)) = (&self.problem, bad) {
            let (row, j) = (
                (first + k) / self.num_features,
                (first + k) % self.num_features,
            );
            self.problem = Some((row, format!("feature {j} is not a finite number")));
        }
    }

    /// Label bytes whose first label is that of row `first`.
    fn labels(&mut self, chunk: &[u8], first: usize) {
        for (k, raw) in decode_le(chunk, i32::from_le_bytes).enumerate() {
            match decode_label(raw, self.num_classes) {
                Some(label) => self.unlabeled += usize::from(label.is_none()),
                None if self.problem.is_none() => {
                    let reason = format!("label {raw}, expected -1 or 0..{}", self.num_classes);
                    self.problem = Some((first + k, reason));
                }
                None => {}
            }
        }
    }

    fn finish(self, path: &Path, h: &StoreHeader) -> Result<()> {
        if let Some((row, reason)) = self.problem {
            return Err(StoreError::CorruptRow {
                path: path.to_path_buf(),
                row,
                reason,
            });
        }
        if self.unlabeled != h.num_unlabeled {
            let reason = format!(
                "{} rows without label, but the header says {}",
                self.unlabeled, h.num_unlabeled
            );
            return Err(StoreError::CorruptHeader {
                path: path.to_path_buf(),
                reason,
            });
        }
        Ok(())
    }
}
