//! The fixed header of a row store and the byte layout it implies.

use std::path::Path;

use super::error::{Result, StoreError};
use crate::file_length::{FileKind, FileLength};

/// Magic bytes at the start of every row store.
pub const MAGIC: [u8; 8] = *b"DKRSTORE";

/// Format version written and read by this library.
pub const FORMAT_VERSION: u32 = 1;

/// Bytes of the fixed header; the features start right after it.
pub const HEADER_LEN: usize = 64;

/// Bytes of the trailing payload CRC32.
pub(crate) const CRC_LEN: usize = 4;

/// Bytes of one stored feature value (`f32`) or label (`i32`).
pub(crate) const VALUE_LEN: usize = 4;

/// Offset of the header's own CRC32 (it covers the bytes before it).
const HEADER_CRC_AT: usize = HEADER_LEN - CRC_LEN;

/// The shape recorded in a store's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreHeader {
    /// Feature values per row (at least 1).
    pub num_features: usize,
    /// Number of classes (at least 1, at most `i32::MAX`); labels are in `0..num_classes`.
    pub num_classes: usize,
    /// Number of rows.
    pub num_rows: usize,
    /// Rows without label (stored as [`crate::UNLABELED`], −1).
    pub num_unlabeled: usize,
}

/// Byte offsets of the sections of a file with a given header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Where the labels start (the features end).
    pub labels_at: usize,
    /// Where the payload CRC32 starts (the labels end).
    pub crc_at: usize,
    /// Total file length.
    pub file_len: usize,
}

impl StoreHeader {
    /// Checks the fields (shape rules, `num_unlabeled <= num_rows`) and computes the layout;
    /// the error says which field is invalid or that the sizes overflow.
    pub(crate) fn layout(&self) -> std::result::Result<Layout, String> {
        check_shape(self.num_features, self.num_classes)
            .map_err(|(what, v, allowed)| format!("{what} is {v}, expected {allowed}"))?;
        if self.num_unlabeled > self.num_rows {
            return Err(format!(
                "num_unlabeled {} exceeds num_rows {}",
                self.num_unlabeled, self.num_rows
            ));
        }
        let too_big = || {
            format!(
                "{} rows x {} features overflow the address space",
                self.num_rows, self.num_features
            )
        };
        let feature_bytes = self
            .num_rows
            .checked_mul(self.num_features)
            .and_then(|n| n.checked_mul(VALUE_LEN))
            .ok_or_else(too_big)?;
        let labels_at = HEADER_LEN.checked_add(feature_bytes).ok_or_else(too_big)?;
        let crc_at = self
            .num_rows
            .checked_mul(VALUE_LEN)
            .and_then(|n| n.checked_add(labels_at))
            .ok_or_else(too_big)?;
        let file_len = crc_at.checked_add(CRC_LEN).ok_or_else(too_big)?;
        Ok(Layout {
            labels_at,
            crc_at,
            file_len,
        })
    }

    /// The 64 header bytes: magic, version, header length, the four counts as `u64`, zeros,
    /// and the CRC32 of the bytes before it.
    pub(crate) fn to_bytes(self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[..8].copy_from_slice(&MAGIC);
        b[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        b[12..16].copy_from_slice(&(HEADER_LEN as u32).to_le_bytes());
        let counts = [
            self.num_features,
            self.num_classes,
            self.num_rows,
            self.num_unlabeled,
        ];
        for (i, n) in counts.into_iter().enumerate() {
            b[16 + 8 * i..24 + 8 * i].copy_from_slice(&(n as u64).to_le_bytes());
        }
        let crc = crc32fast::hash(&b[..HEADER_CRC_AT]);
        b[HEADER_CRC_AT..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Reads and checks the header at the start of `bytes` (the whole file or its first
    /// bytes): magic, version, header length, header CRC32, zero padding and field values.
    pub(crate) fn from_bytes(path: &Path, bytes: &[u8], file_len: u64) -> Result<(Self, Layout)> {
        let magic_len = bytes.len().min(MAGIC.len());
        if bytes[..magic_len] != MAGIC[..magic_len] {
            return Err(StoreError::BadMagic {
                path: path.to_path_buf(),
                found: bytes[..magic_len].to_vec(),
            });
        }
        let Some(b) = bytes.get(..HEADER_LEN) else {
            let min_len = (HEADER_LEN + CRC_LEN) as u64;
            return Err(FileLength::new(path, FileKind::RowStore, min_len, file_len).into());
        };
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let u64_at = |i: usize| u64::from_le_bytes(std::array::from_fn(|k| b[i + k]));
        let version = u32_at(8);
        if version != FORMAT_VERSION {
            return Err(StoreError::UnsupportedVersion {
                path: path.to_path_buf(),
                found: version,
                expected: FORMAT_VERSION,
            });
        }
        let corrupt = |reason: String| StoreError::CorruptHeader {
            path: path.to_path_buf(),
            reason,
        };
        let (stored, computed) = (u32_at(HEADER_CRC_AT), crc32fast::hash(&b[..HEADER_CRC_AT]));
        if stored != computed {
            return Err(corrupt(format!(
                "stored header CRC32 {stored:#010x} but the header hashes to {computed:#010x}"
            )));
        }
        if u32_at(12) as usize != HEADER_LEN {
            return Err(corrupt(format!(
                "header length {}, expected {HEADER_LEN}",
                u32_at(12)
            )));
        }
        if b[48..HEADER_CRC_AT].iter().any(|&x| x != 0) {
            return Err(corrupt("reserved bytes 48..60 are not zero".into()));
        }
        let count = |i: usize| {
            usize::try_from(u64_at(i))
                .map_err(|_| corrupt(format!("count {} does not fit this machine", u64_at(i))))
        };
        let header = StoreHeader {
            num_features: count(16)?,
            num_classes: count(24)?,
            num_rows: count(32)?,
            num_unlabeled: count(40)?,
        };
        let layout = header.layout().map_err(corrupt)?;
        Ok((header, layout))
    }
}

/// Checks a store's shape: `(what, value, allowed)` when it is refused.
pub(crate) fn check_shape(
    num_features: usize,
    num_classes: usize,
) -> std::result::Result<(), (&'static str, usize, &'static str)> {
    if num_features == 0 {
        return Err(("num_features", num_features, "at least 1"));
    }
    if num_classes == 0 || num_classes > i32::MAX as usize {
        return Err(("num_classes", num_classes, "in 1..=2147483647"));
    }
    Ok(())
}

/// Decodes consecutive little-endian 4-byte values with `f`.
pub(crate) fn decode_le<T>(bytes: &[u8], f: fn([u8; 4]) -> T) -> impl Iterator<Item = T> {
    bytes
        .chunks_exact(VALUE_LEN)
        .map(move |c| f([c[0], c[1], c[2], c[3]]))
}

/// The label a stored `i32` stands for: `Some(Some(class))`, `Some(None)` for
/// [`crate::UNLABELED`], `None` when it is neither (a corrupt value).
pub(crate) fn decode_label(raw: i32, num_classes: usize) -> Option<Option<usize>> {
    match usize::try_from(raw) {
        Ok(class) if class < num_classes => Some(Some(class)),
        Err(_) if i64::from(raw) == crate::UNLABELED => Some(None),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> StoreHeader {
        StoreHeader {
            num_features: 3,
            num_classes: 2,
            num_rows: 5,
            num_unlabeled: 1,
        }
    }

    #[test]
    fn header_round_trips_and_gives_the_layout() {
        let h = header();
        let bytes = h.to_bytes();
        let (back, layout) = StoreHeader::from_bytes(Path::new("x"), &bytes, 0).unwrap();
        assert_eq!(back, h);
        // 64 header bytes, 5 x 3 f32, 5 i32 labels, 4 CRC bytes.
        assert_eq!(layout.labels_at, 64 + 60);
        assert_eq!(layout.crc_at, 64 + 60 + 20);
        assert_eq!(layout.file_len, 64 + 60 + 20 + 4);
    }

    #[test]
    fn every_flipped_header_bit_is_caught() {
        let bytes = header().to_bytes();
        for i in 0..HEADER_LEN * 8 {
            let mut b = bytes;
            b[i / 8] ^= 1 << (i % 8);
            assert!(
                StoreHeader::from_bytes(Path::new("x"), &b, 0).is_err(),
                "bit {i}"
            );
        }
    }

    #[test]
    fn impossible_fields_are_refused() {
        let bad = [
            StoreHeader {
                num_features: 0,
                ..header()
            },
            StoreHeader {
                num_classes: 0,
                ..header()
            },
            StoreHeader {
                num_unlabeled: 6,
                ..header()
            },
            StoreHeader {
                num_rows: usize::MAX / 2,
                ..header()
            },
        ];
        for h in bad {
            let err = StoreHeader::from_bytes(Path::new("x"), &h.to_bytes(), 0).unwrap_err();
            assert!(
                matches!(err, StoreError::CorruptHeader { .. }),
                "{h:?}: {err}"
            );
        }
    }

    #[test]
    fn labels_decode_strictly() {
        assert_eq!(decode_label(1, 2), Some(Some(1)));
        assert_eq!(decode_label(-1, 2), Some(None));
        assert_eq!(decode_label(2, 2), None);
        assert_eq!(decode_label(-2, 2), None);
        assert_eq!(decode_label(i32::MIN, 2), None);
    }
}
