//! Import a 2-D matrix of teacher logits for offline knowledge distillation.
//!
//! (See `docs/offline.md` for exporting logits from PyTorch and scikit-learn.)
//!
//! Logits produced in PyTorch or scikit-learn are usually saved with
//! `numpy.save` (`.npy`) or `safetensors` (`.safetensors`). This module reads
//! both formats with maintained crates — the header of a `.npy` file with
//! `ndarray-npy`, a safetensors file with `safetensors`, the format's
//! reference implementation — and returns a row-major `f32` matrix of shape
//! `[rows, classes]`. What remains here is mapping their dtypes, checking
//! and converting the values, and errors that name the file and the numbers.
//!
//! * `.npy` (NEP 1, versions 1.0/2.0/3.0): dtypes `f2`, `f4`, `f8` in either
//!   byte order, C or Fortran order (Fortran is transposed to row-major).
//! * safetensors: dtypes `F32`, `F64`, `F16`, `BF16`.
//!
//! Every value must be finite; `f64` values must fit in `f32`. Errors never
//! panic on malformed input and always name the file: inputs that would make
//! one of the crates panic, allocate without bound or take exponential time
//! are refused before the crate sees them (see the `npy` and `safetensors`
//! submodules).
//!
//! ```no_run
//! use std::path::Path;
//! let logits = dark_knowledge_data::logits::read_logits(Path::new("teacher.npy"), None)?;
//! logits.check_shape(1000, 10)?;
//! # Ok::<(), dark_knowledge_data::logits::ImportError>(())
//! ```

mod convert;
mod error;
mod npy;
mod safetensors;

use std::path::{Path, PathBuf};

pub use error::ImportError;

/// A dense matrix of logits, `rows` examples by `cols` classes.
#[derive(Debug, Clone, PartialEq)]
pub struct LogitMatrix {
    /// Row-major values: element `(r, c)` is at `values[r * cols + c]`.
    pub values: Vec<f32>,
    /// Number of rows (examples).
    pub rows: usize,
    /// Number of columns (classes).
    pub cols: usize,
    /// File the matrix was read from (used in error messages).
    pub source: PathBuf,
}

impl LogitMatrix {
    /// Returns an error unless the matrix has exactly `rows` rows and
    /// `cols` columns. The error names the source file and both shapes.
    pub fn check_shape(&self, rows: usize, cols: usize) -> Result<(), ImportError> {
        if self.rows == rows && self.cols == cols {
            return Ok(());
        }
        Err(ImportError::ShapeMismatch {
            path: self.source.clone(),
            expected_rows: rows,
            expected_cols: cols,
            rows: self.rows,
            cols: self.cols,
        })
    }

    /// The logits of row `r`, or `None` if `r` is out of range.
    pub fn row(&self, r: usize) -> Option<&[f32]> {
        let start = r.checked_mul(self.cols)?;
        self.values.get(start..start.checked_add(self.cols)?)
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, ImportError> {
    std::fs::read(path).map_err(|source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a 2-D `.npy` file of floating-point logits.
pub fn read_npy(path: &Path) -> Result<LogitMatrix, ImportError> {
    let bytes = read_file(path)?;
    npy::parse(path, &bytes)
}

/// Reads one 2-D floating-point tensor from a safetensors file.
///
/// `tensor` names the tensor to read. With `None` the file must hold
/// exactly one tensor; otherwise the error lists the available names.
pub fn read_safetensors(path: &Path, tensor: Option<&str>) -> Result<LogitMatrix, ImportError> {
    let bytes = read_file(path)?;
    safetensors::parse(path, &bytes, tensor)
}

/// Reads logits from either format, detected by content rather than by
/// file extension: files starting with `b"\x93NUMPY"` are read as `.npy`
/// (`tensor` is ignored), files whose JSON header starts at byte 8 are read
/// as safetensors, anything else is [`ImportError::UnknownFormat`].
pub fn read_logits(path: &Path, tensor: Option<&str>) -> Result<LogitMatrix, ImportError> {
    let bytes = read_file(path)?;
    if bytes.starts_with(npy::MAGIC) {
        npy::parse(path, &bytes)
    } else if safetensors::looks_like(&bytes) {
        safetensors::parse(path, &bytes, tensor)
    } else {
        Err(ImportError::UnknownFormat {
            path: path.to_path_buf(),
        })
    }
}
