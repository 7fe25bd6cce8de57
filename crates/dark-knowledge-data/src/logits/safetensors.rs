//! safetensors reader.
//!
//! Layout: a little-endian `u64` header size `N`, `N` bytes of UTF-8 JSON
//! (an object mapping tensor names to `{"dtype", "shape", "data_offsets"}`,
//! plus an optional `"__metadata__"` entry), then the byte buffer. Offsets
//! are relative to the start of the buffer; all data is little-endian.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::convert::{self, Dtype, Endian, Layout};
use super::{ImportError, LogitMatrix};

/// Largest accepted JSON header, in bytes.
const MAX_HEADER: u64 = 100_000_000;

/// Human-readable list of accepted dtypes.
const ALLOWED: &str = "F32, F64, F16, BF16";

/// One tensor entry of the JSON header.
#[derive(Debug, Deserialize)]
struct TensorInfo {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: [u64; 2],
}

/// Whether `bytes` looks like a safetensors file (the JSON header must
/// start with `{` right after the 8-byte size).
pub(crate) fn looks_like(bytes: &[u8]) -> bool {
    bytes.get(8) == Some(&b'{')
}

/// Parses a complete safetensors file held in memory.
pub(crate) fn parse(
    path: &Path,
    bytes: &[u8],
    tensor: Option<&str>,
) -> Result<LogitMatrix, ImportError> {
    let err = |detail: String| ImportError::InvalidSafetensors {
        path: path.to_path_buf(),
        detail,
    };
    let size_bytes: [u8; 8] = bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            err(format!(
                "file is {} bytes, too short for the 8-byte header size",
                bytes.len()
            ))
        })?;
    let header_len = u64::from_le_bytes(size_bytes);
    if header_len > MAX_HEADER {
        return Err(err(format!(
            "header size {header_len} bytes exceeds the limit of {MAX_HEADER} bytes"
        )));
    }
    let rest = bytes.get(8..).unwrap_or_default();
    let header_len = usize::try_from(header_len)
        .ok()
        .filter(|&n| n <= rest.len())
        .ok_or_else(|| {
            err(format!(
                "header size {header_len} bytes is larger than the {} bytes left in the file",
                rest.len()
            ))
        })?;
    let (header, buffer) = rest.split_at_checked(header_len).unwrap_or((rest, &[]));
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(header)
        .map_err(|e| err(format!("header is not a valid JSON object: {e}")))?;

    let mut tensors = BTreeMap::new();
    for (name, value) in map {
        if name == "__metadata__" {
            if !value.is_object() {
                return Err(err("\"__metadata__\" must be a JSON object".into()));
            }
            continue;
        }
        let info: TensorInfo = serde_json::from_value(value).map_err(|e| {
            err(format!(
                "entry {name:?} must be {{\"dtype\": str, \"shape\": [int], \
                 \"data_offsets\": [begin, end]}}: {e}"
            ))
        })?;
        let [begin, end] = info.data_offsets;
        if begin > end || end > buffer.len() as u64 {
            return Err(err(format!(
                "tensor {name:?} has data_offsets [{begin}, {end}] outside the data buffer \
                 of {} bytes (need begin <= end <= buffer size)",
                buffer.len()
            )));
        }
        tensors.insert(name, info);
    }

    let names = || tensors.keys().cloned().collect::<Vec<_>>();
    let (name, info) = match tensor {
        Some(wanted) => {
            tensors
                .get_key_value(wanted)
                .ok_or_else(|| ImportError::TensorNotFound {
                    path: path.to_path_buf(),
                    name: wanted.to_string(),
                    available: names(),
                })?
        }
        None if tensors.len() == 1 => tensors
            .iter()
            .next()
            .ok_or_else(|| err("internal error: tensor list changed while reading".into()))?,
        None if tensors.is_empty() => return Err(err("file holds no tensors".into())),
        None => {
            return Err(ImportError::AmbiguousTensor {
                path: path.to_path_buf(),
                available: names(),
            });
        }
    };

    let dtype = match info.dtype.as_str() {
        "F32" => Dtype::F32,
        "F64" => Dtype::F64,
        "F16" => Dtype::F16,
        "BF16" => Dtype::BF16,
        other => {
            return Err(ImportError::UnsupportedDtype {
                path: path.to_path_buf(),
                dtype: format!("{other:?} (tensor {name:?})"),
                allowed: ALLOWED,
            });
        }
    };
    let [rows, cols] = <[u64; 2]>::try_from(info.shape.as_slice()).map_err(|_| {
        ImportError::NotTwoDimensional {
            path: path.to_path_buf(),
            shape: info.shape.clone(),
        }
    })?;
    let too_large = || {
        err(format!(
            "tensor {name:?} shape [{rows}, {cols}] is too large"
        ))
    };
    let layout = Layout {
        rows: usize::try_from(rows).map_err(|_| too_large())?,
        cols: usize::try_from(cols).map_err(|_| too_large())?,
        dtype,
        endian: Endian::Little,
        fortran: false,
    };
    let needed = layout.byte_len().ok_or_else(too_large)?;
    let [begin, end] = info.data_offsets;
    if end - begin != needed as u64 {
        return Err(err(format!(
            "tensor {name:?} data_offsets [{begin}, {end}] span {} bytes, but shape \
             [{rows}, {cols}] of {} needs {needed} bytes",
            end - begin,
            info.dtype
        )));
    }
    let data = usize::try_from(begin)
        .ok()
        .zip(usize::try_from(end).ok())
        .and_then(|(b, e)| buffer.get(b..e))
        .ok_or_else(|| err(format!("tensor {name:?} data_offsets are out of range")))?;
    convert::decode_matrix(path, data, layout)
}
