//! Error type returned by every import function.

use std::path::PathBuf;

use thiserror::Error;

use crate::FileLength;

/// Everything that can go wrong while importing a logit matrix.
///
/// Every message starts with the path of the offending file, says what is
/// wrong and, where useful, what would have been accepted.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The file could not be read from disk.
    #[error("{}: cannot read file: {source}", .path.display())]
    Io {
        /// File that was being read.
        path: PathBuf,
        /// Underlying I/O error.
        source: std::io::Error,
    },

    /// The file is neither a `.npy` nor a safetensors file.
    #[error(
        "{}: unrecognized file format: expected a .npy file (starting with b\"\\x93NUMPY\") \
         or a safetensors file (8-byte little-endian header size, then a JSON header starting \
         with '{{'); PyTorch .pt/.pth pickles are not supported, save the logits with \
         numpy.save or safetensors.torch.save_file instead",
        .path.display()
    )]
    UnknownFormat {
        /// File that was being read.
        path: PathBuf,
    },

    /// The `.npy` preamble or header is malformed.
    #[error("{}: invalid .npy file: {detail}", .path.display())]
    InvalidNpy {
        /// File that was being read.
        path: PathBuf,
        /// What exactly is wrong.
        detail: String,
    },

    /// The safetensors header or offsets are malformed.
    #[error("{}: invalid safetensors file: {detail}", .path.display())]
    InvalidSafetensors {
        /// File that was being read.
        path: PathBuf,
        /// What exactly is wrong.
        detail: String,
    },

    /// The element type is not a supported floating-point type.
    #[error("{}: unsupported dtype {dtype}; allowed: {allowed}", .path.display())]
    UnsupportedDtype {
        /// File that was being read.
        path: PathBuf,
        /// The dtype as written in the file.
        dtype: String,
        /// The dtypes this format accepts.
        allowed: &'static str,
    },

    /// The array is not two-dimensional.
    #[error(
        "{}: logits need shape [rows, classes] (2-D), found {}-D shape {shape:?}",
        .path.display(),
        .shape.len()
    )]
    NotTwoDimensional {
        /// File that was being read.
        path: PathBuf,
        /// The shape found in the file.
        shape: Vec<u64>,
    },

    /// The matrix has zero rows or zero classes.
    #[error(
        "{}: logit matrix has shape [{rows}, {cols}]; rows and classes must both be at least 1",
        .path.display()
    )]
    EmptyMatrix {
        /// File that was being read.
        path: PathBuf,
        /// Number of rows in the file.
        rows: u64,
        /// Number of classes in the file.
        cols: u64,
    },

    /// The data after the header is shorter (truncated) or longer (trailing bytes) than the
    /// shape and dtype require.
    #[error(transparent)]
    FileLength(#[from] FileLength),

    /// A value is NaN or infinite.
    #[error(
        "{}: non-finite value {value} at row {row}, column {col}; logits must be finite numbers",
        .path.display()
    )]
    NonFinite {
        /// File that was being read.
        path: PathBuf,
        /// Zero-based row of the first bad value (row-major order).
        row: usize,
        /// Zero-based column of the first bad value.
        col: usize,
        /// The offending value.
        value: f64,
    },

    /// A float64 value is finite but too large in magnitude for float32.
    #[error(
        "{}: float64 value {value:e} at row {row}, column {col} overflows float32 \
         (allowed magnitude up to {max:e})",
        .path.display(),
        max = f32::MAX
    )]
    Overflow {
        /// File that was being read.
        path: PathBuf,
        /// Zero-based row of the first bad value (row-major order).
        row: usize,
        /// Zero-based column of the first bad value.
        col: usize,
        /// The offending value.
        value: f64,
    },

    /// The requested tensor name is not in the safetensors file.
    #[error(
        "{}: tensor {name:?} not found; available tensors: {}",
        .path.display(),
        .available.join(", ")
    )]
    TensorNotFound {
        /// File that was being read.
        path: PathBuf,
        /// The requested name.
        name: String,
        /// Names of the tensors in the file, sorted.
        available: Vec<String>,
    },

    /// No tensor name was given and the file does not hold exactly one tensor.
    #[error(
        "{}: file holds {} tensors, so a tensor name is required; available tensors: {}",
        .path.display(),
        .available.len(),
        .available.join(", ")
    )]
    AmbiguousTensor {
        /// File that was being read.
        path: PathBuf,
        /// Names of the tensors in the file, sorted.
        available: Vec<String>,
    },

    /// The matrix does not have the shape the caller expects.
    #[error(
        "{}: expected logits of shape [{expected_rows}, {expected_cols}], found [{rows}, {cols}]{}",
        .path.display(),
        transposed_hint(*.expected_rows, *.expected_cols, *.rows, *.cols)
    )]
    ShapeMismatch {
        /// File the matrix was read from.
        path: PathBuf,
        /// Rows the caller expected.
        expected_rows: usize,
        /// Classes the caller expected.
        expected_cols: usize,
        /// Rows actually present.
        rows: usize,
        /// Classes actually present.
        cols: usize,
    },
}

fn transposed_hint(er: usize, ec: usize, r: usize, c: usize) -> &'static str {
    if er == c && ec == r && er != ec {
        " (the matrix looks transposed; logits must be [rows, classes])"
    } else {
        ""
    }
}
