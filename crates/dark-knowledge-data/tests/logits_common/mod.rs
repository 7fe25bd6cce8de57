//! Fixture builders shared by the integration tests. They follow the format
//! specs independently of the library code.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Fresh, empty per-test directory under Cargo's target tmp dir.
pub fn tmp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create tmp dir");
    dir
}

/// Writes `bytes` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write fixture");
    path
}

/// Python tuple literal for a shape, e.g. `(5,)` or `(3, 4)`.
pub fn py_shape(shape: &[u64]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Header dict exactly as numpy writes it.
pub fn npy_dict(descr: &str, fortran: bool, shape: &[u64]) -> String {
    let f = if fortran { "True" } else { "False" };
    format!(
        "{{'descr': '{descr}', 'fortran_order': {f}, 'shape': {}, }}",
        py_shape(shape)
    )
}

/// A `.npy` file: magic, version `major.0`, header length (u16 for 1.0,
/// u32 otherwise), the dict padded with spaces and `\n` so that the data
/// starts at a multiple of 64, then `data`.
pub fn npy_bytes(major: u8, dict: &str, data: &[u8]) -> Vec<u8> {
    let len_size = if major == 1 { 2 } else { 4 };
    let prefix = 8 + len_size;
    let mut header = dict.as_bytes().to_vec();
    while !(prefix + header.len() + 1).is_multiple_of(64) {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut out = b"\x93NUMPY".to_vec();
    out.extend([major, 0]);
    if major == 1 {
        out.extend(u16::try_from(header.len()).unwrap().to_le_bytes());
    } else {
        out.extend(u32::try_from(header.len()).unwrap().to_le_bytes());
    }
    out.extend(header);
    out.extend(data);
    out
}

pub fn f32_le(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}
pub fn f32_be(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_be_bytes()).collect()
}
pub fn f64_le(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}
pub fn f16_le(v: &[f32]) -> Vec<u8> {
    v.iter()
        .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
        .collect()
}
pub fn bf16_le(v: &[f32]) -> Vec<u8> {
    v.iter()
        .flat_map(|x| half::bf16::from_f32(*x).to_le_bytes())
        .collect()
}

/// One tensor for [`safetensors_bytes`].
pub struct St<'a> {
    pub name: &'a str,
    pub dtype: &'a str,
    pub shape: Vec<u64>,
    pub data: Vec<u8>,
}

/// A safetensors file: u64 LE header size, JSON header (padded with spaces
/// to a multiple of 8), then the tensors' data back to back.
pub fn safetensors_bytes(tensors: &[St]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    header.insert(
        "__metadata__".into(),
        serde_json::json!({"format": "pt", "source": "test"}),
    );
    let mut buffer = Vec::new();
    for t in tensors {
        let begin = buffer.len();
        buffer.extend(&t.data);
        header.insert(
            t.name.into(),
            serde_json::json!({"dtype": t.dtype, "shape": t.shape,
                               "data_offsets": [begin, buffer.len()]}),
        );
    }
    safetensors_raw(&serde_json::Value::Object(header).to_string(), &buffer)
}

/// A safetensors file from a literal JSON header and buffer.
pub fn safetensors_raw(json: &str, buffer: &[u8]) -> Vec<u8> {
    let mut header = json.as_bytes().to_vec();
    while !header.len().is_multiple_of(8) {
        header.push(b' ');
    }
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend(header);
    out.extend(buffer);
    out
}

/// Distinct test values for a `rows x cols` matrix: `r * 10 + c + 0.5`.
pub fn distinct(rows: usize, cols: usize) -> Vec<f32> {
    (0..rows * cols)
        .map(|i| ((i / cols) * 10 + i % cols) as f32 + 0.5)
        .collect()
}
