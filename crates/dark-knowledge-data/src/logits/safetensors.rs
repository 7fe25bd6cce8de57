//! safetensors reader.
//!
//! The file is parsed and validated by the `safetensors` crate (the format's
//! reference implementation). Before handing it the bytes, this module runs
//! two cheap checks of its own: the 8-byte header size, and every tensor's
//! `data_offsets` against the data buffer. They give errors that name the
//! tensor and the numbers involved, and they guard the crate, which adds up
//! the offsets without overflow checks (see [`check_offsets`]).

use std::path::Path;

use safetensors::tensor::{Dtype as StDtype, SafeTensorError, SafeTensors, TensorInfo};

use super::convert::{self, Dtype, Endian, Layout};
use super::{ImportError, LogitMatrix};

/// Largest accepted JSON header, in bytes (the `safetensors` crate's limit).
const MAX_HEADER: u64 = 100_000_000;

/// Human-readable list of accepted dtypes.
const ALLOWED: &str = "F32, F64, F16, BF16";

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
    let header_len = check_header_size(bytes).map_err(err)?;
    let (header, buffer) = bytes
        .get(8..)
        .and_then(|rest| rest.split_at_checked(header_len))
        .ok_or_else(|| err("header size is out of range".into()))?;
    check_offsets(header, buffer.len()).map_err(err)?;
    let file = SafeTensors::deserialize(bytes).map_err(|e| err(describe(&e)))?;

    let mut names = file.names();
    names.sort_unstable();
    let name = select(path, &names, tensor)?;
    let view = file.tensor(name).map_err(|e| err(describe(&e)))?;

    let dtype = match view.dtype() {
        StDtype::F32 => Dtype::F32,
        StDtype::F64 => Dtype::F64,
        StDtype::F16 => Dtype::F16,
        StDtype::BF16 => Dtype::BF16,
        other => {
            return Err(ImportError::UnsupportedDtype {
                path: path.to_path_buf(),
                dtype: format!("{:?} (tensor {name:?})", other.to_string()),
                allowed: ALLOWED,
            });
        }
    };
    let [rows, cols] =
        <[usize; 2]>::try_from(view.shape()).map_err(|_| ImportError::NotTwoDimensional {
            path: path.to_path_buf(),
            shape: view.shape().iter().map(|&d| d as u64).collect(),
        })?;
    let layout = Layout {
        rows,
        cols,
        dtype,
        endian: Endian::Little,
        fortran: false,
    };
    convert::decode_matrix(path, view.data(), layout)
}

/// Picks the tensor to read from the sorted `names`: `wanted`, or the only one.
fn select<'a>(
    path: &Path,
    names: &[&'a str],
    wanted: Option<&str>,
) -> Result<&'a str, ImportError> {
    let available = || names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    match (wanted, names) {
        (Some(wanted), _) => names
            .iter()
            .find(|n| **n == wanted)
            .copied()
            .ok_or_else(|| ImportError::TensorNotFound {
                path: path.to_path_buf(),
                name: wanted.to_string(),
                available: available(),
            }),
        (None, [only]) => Ok(only),
        (None, []) => Err(ImportError::InvalidSafetensors {
            path: path.to_path_buf(),
            detail: "file holds no tensors".into(),
        }),
        (None, _) => Err(ImportError::AmbiguousTensor {
            path: path.to_path_buf(),
            available: available(),
        }),
    }
}

/// Reads the little-endian `u64` header size and checks it against the
/// limit and the file length.
fn check_header_size(bytes: &[u8]) -> Result<usize, String> {
    let size_bytes: [u8; 8] = bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            format!(
                "file is {} bytes, too short for the 8-byte header size",
                bytes.len()
            )
        })?;
    let header_len = u64::from_le_bytes(size_bytes);
    if header_len > MAX_HEADER {
        return Err(format!(
            "header size {header_len} bytes exceeds the limit of {MAX_HEADER} bytes"
        ));
    }
    let left = bytes.len() - 8;
    usize::try_from(header_len)
        .ok()
        .filter(|&n| n <= left)
        .ok_or_else(|| {
            format!(
                "header size {header_len} bytes is larger than the {left} bytes left in the file"
            )
        })
}

/// Checks each tensor's `data_offsets` against the data buffer and against
/// its shape and dtype, naming the first bad tensor.
///
/// This also guards `SafeTensors::deserialize` (0.8), which adds the last
/// offset to the header size unchecked: offsets near `usize::MAX` would
/// overflow (a panic in debug builds, an out-of-range slice in release).
/// Entries that do not deserialize are left to the crate to report.
fn check_offsets(header: &[u8], buffer_len: usize) -> Result<(), String> {
    let Ok(map) = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(header)
    else {
        return Ok(());
    };
    for (name, value) in map {
        if name == "__metadata__" {
            continue;
        }
        let Ok(info) = serde_json::from_value::<TensorInfo>(value) else {
            continue;
        };
        let (begin, end) = info.data_offsets;
        if begin > end || end > buffer_len {
            return Err(format!(
                "tensor {name:?} has data_offsets [{begin}, {end}] outside the data buffer \
                 of {buffer_len} bytes (need begin <= end <= buffer size)"
            ));
        }
        let shape = format!("{:?}", info.shape);
        let needed = info
            .shape
            .iter()
            .try_fold(info.dtype.bitsize(), |bits, &d| bits.checked_mul(d))
            .map(|bits| bits.div_ceil(8))
            .ok_or_else(|| format!("tensor {name:?} shape {shape} is too large"))?;
        if end - begin != needed {
            return Err(format!(
                "tensor {name:?} data_offsets [{begin}, {end}] span {} bytes, but shape \
                 {shape} of {} needs {needed} bytes",
                end - begin,
                info.dtype
            ));
        }
    }
    Ok(())
}

/// The crate's message, reworded where it is terse (offsets are the most
/// common fault of hand-made files).
fn describe(e: &SafeTensorError) -> String {
    match e {
        SafeTensorError::InvalidOffset(name) => format!(
            "tensor {name:?} does not start where the previous one ends; tensors must be \
             stored back to back from the start of the data buffer"
        ),
        SafeTensorError::MetadataIncompleteBuffer => {
            "trailing bytes after the last tensor's data".into()
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `SafeTensors::deserialize` 0.8.0 panics on this file ("attempt to add
    /// with overflow"): 8 back-to-back tensors whose offsets add up to
    /// nearly `usize::MAX`. [`check_offsets`] must refuse it first.
    #[test]
    fn offsets_near_usize_max_are_refused_before_the_crate() {
        let size = usize::MAX / 8;
        let mut map = serde_json::Map::new();
        for i in 0..8 {
            let entry = serde_json::json!({"dtype": "U8", "shape": [size],
                                           "data_offsets": [i * size, (i + 1) * size]});
            map.insert(format!("t{i}"), entry);
        }
        let mut header = serde_json::Value::Object(map).to_string().into_bytes();
        header.resize(header.len().next_multiple_of(8), b' ');
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend(header);
        let msg = parse(Path::new("huge.safetensors"), &bytes, None)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("outside the data buffer"), "{msg}");
    }
}
