//! Shared element decoding: raw bytes of a supported float type to a
//! row-major `f32` matrix, with finiteness and overflow checks.

use std::path::Path;

use super::{ImportError, LogitMatrix};
use crate::file_length::{FileKind, check_length};

/// Supported element types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dtype {
    F16,
    BF16,
    F32,
    F64,
}

impl Dtype {
    /// Size of one element in bytes.
    pub(crate) fn size(self) -> usize {
        match self {
            Dtype::F16 | Dtype::BF16 => 2,
            Dtype::F32 => 4,
            Dtype::F64 => 8,
        }
    }
}

/// Byte order of the stored elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endian {
    Little,
    Big,
}

impl Endian {
    /// Byte order of the machine running this code.
    pub(crate) const NATIVE: Endian = if cfg!(target_endian = "big") {
        Endian::Big
    } else {
        Endian::Little
    };
}

/// Shape and element layout of the stored matrix.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout {
    pub rows: usize,
    pub cols: usize,
    pub dtype: Dtype,
    pub endian: Endian,
    /// Stored column-major (numpy `fortran_order: True`).
    pub fortran: bool,
}

impl Layout {
    /// Number of data bytes this layout needs, `None` on overflow.
    pub(crate) fn byte_len(&self) -> Option<usize> {
        self.rows
            .checked_mul(self.cols)?
            .checked_mul(self.dtype.size())
    }
}

/// Decodes one element exactly into `f64` (every supported type fits).
fn decode_one(chunk: &[u8], dtype: Dtype, endian: Endian) -> Option<f64> {
    fn arr<const N: usize>(chunk: &[u8], endian: Endian) -> Option<[u8; N]> {
        let mut b: [u8; N] = chunk.try_into().ok()?;
        if endian == Endian::Big {
            b.reverse();
        }
        Some(b) // now little-endian
    }
    Some(match dtype {
        Dtype::F16 => f64::from(half::f16::from_le_bytes(arr(chunk, endian)?).to_f32()),
        Dtype::BF16 => f64::from(half::bf16::from_le_bytes(arr(chunk, endian)?).to_f32()),
        Dtype::F32 => f64::from(f32::from_le_bytes(arr(chunk, endian)?)),
        Dtype::F64 => f64::from_le_bytes(arr(chunk, endian)?),
    })
}

/// Converts the data section into a row-major [`LogitMatrix`].
///
/// Checks that `data` holds exactly `rows * cols` elements and that every
/// value is finite (and, for f64, representable as f32).
pub(crate) fn decode_matrix(
    path: &Path,
    data: &[u8],
    layout: Layout,
) -> Result<LogitMatrix, ImportError> {
    let Layout {
        rows,
        cols,
        dtype,
        endian,
        fortran,
    } = layout;
    if rows == 0 || cols == 0 {
        return Err(ImportError::EmptyMatrix {
            path: path.to_path_buf(),
            rows: rows as u64,
            cols: cols as u64,
        });
    }
    let size = dtype.size();
    // Callers check `byte_len` first; an overflow here still reports cleanly (as truncated).
    let expected = layout.byte_len().map_or(u64::MAX, |e| e as u64);
    check_length(path, FileKind::Logits, expected, data.len() as u64)?;
    // `data` holds exactly rows x cols elements of `size` bytes.
    let n = data.len() / size;

    // Storage index of logical element (row, col).
    let storage_index = |row: usize, col: usize| {
        if fortran {
            col * rows + row
        } else {
            row * cols + col
        }
    };

    let mut values = vec![0.0f32; n];
    for (i, chunk) in data.chunks_exact(size).enumerate() {
        let v = decode_one(chunk, dtype, endian).unwrap_or(f64::NAN);
        let dst = if fortran {
            (i % rows) * cols + i / rows
        } else {
            i
        };
        if let Some(slot) = values.get_mut(dst) {
            // Overflowing f64 values become ±inf here and are reported below.
            *slot = v as f32;
        }
    }

    if let Some(k) = values.iter().position(|v| !v.is_finite()) {
        let (row, col) = (k / cols, k % cols);
        let s = storage_index(row, col);
        let original = s
            .checked_mul(size)
            .and_then(|start| data.get(start..start.checked_add(size)?))
            .and_then(|chunk| decode_one(chunk, dtype, endian))
            .unwrap_or(f64::NAN);
        let path = path.to_path_buf();
        return Err(if original.is_finite() {
            ImportError::Overflow {
                path,
                row,
                col,
                value: original,
            }
        } else {
            ImportError::NonFinite {
                path,
                row,
                col,
                value: original,
            }
        });
    }

    Ok(LogitMatrix {
        values,
        rows,
        cols,
        source: path.to_path_buf(),
    })
}
