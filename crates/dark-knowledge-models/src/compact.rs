//! A compact weights file for int8 models (`model.q8`).
//!
//! burnpack aligns every tensor to 256 bytes so large models can be memory-mapped; for the
//! small students distillation produces (a few hundred to a few thousand parameters) that
//! padding is most of the file and hides the 4× saving of int8 weights. This container keeps
//! each parameter's burn [`TensorData`] bytes (int8 values followed by its scale) back to back:
//!
//! ```text
//! b"DKQ8" | u8 version (1) | u32 LE header length | JSON header | tensor bytes
//! header: {"dtypes": [<burn DType>, …],
//!          "tensors": [["Mlp.hidden.0.weight", [81, 8], <dtype index>, <byte length>], …]}
//! ```
//!
//! Parameters are matched by module path and shape on load; a file that does not fit the
//! architecture is an error naming the parameter.

use crate::ModelError;
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{DType, Tensor, TensorData};
use serde::{Deserialize, Serialize};

const MAGIC: &[u8; 4] = b"DKQ8";
const VERSION: u8 = 1;

#[derive(Debug)]
struct Entry {
    path: String,
    shape: Vec<usize>,
    dtype: DType,
    len: usize,
}

/// The file's header: each distinct dtype once (they are long), then one compact row per
/// tensor: path, shape, dtype index, byte length.
#[derive(Serialize, Deserialize)]
struct Header {
    dtypes: Vec<DType>,
    tensors: Vec<(String, Vec<usize>, usize, usize)>,
}

impl Header {
    fn from_entries(entries: &[Entry]) -> Self {
        let mut dtypes: Vec<DType> = Vec::new();
        let tensors = entries
            .iter()
            .map(|e| {
                let index = dtypes
                    .iter()
                    .position(|d| *d == e.dtype)
                    .unwrap_or_else(|| {
                        dtypes.push(e.dtype);
                        dtypes.len() - 1
                    });
                (e.path.clone(), e.shape.clone(), index, e.len)
            })
            .collect();
        Self { dtypes, tensors }
    }

    fn into_entries(self) -> Result<Vec<Entry>, ModelError> {
        self.tensors
            .into_iter()
            .map(|(path, shape, index, len)| {
                let dtype = *self.dtypes.get(index).ok_or_else(|| {
                    ModelError::Int8(format!(
                        "invalid int8 weights header: dtype {index} of {path}"
                    ))
                })?;
                Ok(Entry {
                    path,
                    shape,
                    dtype,
                    len,
                })
            })
            .collect()
    }
}

#[derive(Default)]
struct Collect {
    path: Vec<String>,
    entries: Vec<Entry>,
    bytes: Vec<u8>,
}

impl ModuleVisitor for Collect {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let data = param.val().into_data();
        let bytes = data.as_bytes();
        self.entries.push(Entry {
            path: self.path.join("."),
            shape: data.shape().to_vec(),
            dtype: data.dtype(),
            len: bytes.len(),
        });
        self.bytes.extend_from_slice(bytes);
    }
}

/// The compact file bytes of `model`'s float parameters (see the module docs).
pub fn compact_bytes<M: Module>(model: &M) -> Vec<u8> {
    let mut collect = Collect::default();
    model.visit(&mut collect);
    let header =
        serde_json::to_vec(&Header::from_entries(&collect.entries)).expect("header serializes");
    let mut out = Vec::with_capacity(9 + header.len() + collect.bytes.len());
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&collect.bytes);
    out
}

struct Apply {
    path: Vec<String>,
    entries: std::vec::IntoIter<(Entry, Vec<u8>)>,
    error: Option<String>,
}

impl ModuleMapper for Apply {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if self.error.is_some() {
            return param;
        }
        let path = self.path.join(".");
        let Some((entry, bytes)) = self.entries.next() else {
            self.error = Some(format!("the file has no values for parameter {path}"));
            return param;
        };
        let value = param.val();
        let (shape, dtype) = (value.shape().to_vec(), value.dtype());
        if entry.path != path || entry.shape != shape || entry.dtype != dtype {
            self.error = Some(format!(
                "parameter {path} {shape:?} {dtype:?} found {} {:?} {:?} in the file",
                entry.path, entry.shape, entry.dtype
            ));
            return param;
        }
        // The bytes a tensor of this shape and type takes (scales included for quantized
        // types): those of the model's own tensor.
        let expected = value.into_data().bytes().len();
        if bytes.len() != expected {
            self.error = Some(format!(
                "parameter {path} {shape:?} takes {expected} bytes, the file holds {}",
                bytes.len()
            ));
            return param;
        }
        param.map(|tensor| {
            let device = tensor.device();
            Tensor::from_data(
                TensorData::from_bytes_vec(bytes, entry.shape, entry.dtype),
                &device,
            )
        })
    }
}

/// Loads bytes written by [`compact_bytes`] into `model` (same architecture, already in the
/// weight format of the file, e.g. through [`to_format`](crate::to_format)).
///
/// # Errors
/// [`ModelError::Int8`] naming the problem when the bytes are not such a file or do not fit
/// the model.
pub fn load_compact<M: Module>(model: M, bytes: &[u8]) -> Result<M, ModelError> {
    load_compact_inner(model, bytes).map_err(ModelError::Int8)
}

fn load_compact_inner<M: Module>(model: M, bytes: &[u8]) -> Result<M, String> {
    if bytes.len() < 9 || &bytes[..4] != MAGIC {
        return Err("not a dark-knowledge int8 weights file (bad magic)".into());
    }
    if bytes[4] != VERSION {
        return Err(format!(
            "int8 weights file version {} (this build reads version {VERSION})",
            bytes[4]
        ));
    }
    let header_len = u32::from_le_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]) as usize;
    let header = bytes
        .get(9..9 + header_len)
        .ok_or("int8 weights file is truncated (header)")?;
    let entries = serde_json::from_slice::<Header>(header)
        .map_err(|e| format!("invalid int8 weights header: {e}"))?
        .into_entries()
        .map_err(|e| e.to_string())?;
    let mut offset = 9 + header_len;
    let mut parts = Vec::with_capacity(entries.len());
    for entry in entries {
        let data = offset
            .checked_add(entry.len)
            .and_then(|end| bytes.get(offset..end))
            .ok_or_else(|| format!("int8 weights file is truncated ({})", entry.path))?
            .to_vec();
        offset += entry.len;
        parts.push((entry, data));
    }
    if offset != bytes.len() {
        return Err(format!(
            "int8 weights file has {} trailing bytes",
            bytes.len() - offset
        ));
    }
    let count = parts.len();
    let mut apply = Apply {
        path: Vec::new(),
        entries: parts.into_iter(),
        error: None,
    };
    let model = model.map(&mut apply);
    if let Some(e) = apply.error {
        return Err(e);
    }
    if apply.entries.len() != 0 {
        return Err(format!(
            "the file holds {count} parameters, the model fewer"
        ));
    }
    Ok(model)
}
