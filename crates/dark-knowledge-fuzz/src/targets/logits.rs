//! Teacher logits made elsewhere: `.npy` (`read_npy`, `read_logits`) and safetensors
//! (`read_safetensors`).

use std::path::{Path, PathBuf};

use dark_knowledge_data::logits::{
    ImportError, LogitMatrix, read_logits, read_npy, read_safetensors,
};

use crate::{Harness, Outcome, check, check_finite};

/// A `.npy` file of format `version` (1, 2 or 3) with the given header fields and data.
fn npy(version: u8, descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
    let order = if fortran { "True" } else { "False" };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}");
    let len_size = if version == 1 { 2 } else { 4 };
    while (8 + len_size + dict.len() + 1) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = b"\x93NUMPY".to_vec();
    out.extend_from_slice(&[version, 0]);
    if version == 1 {
        out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(dict.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(dict.as_bytes());
    out.extend_from_slice(data);
    out
}

/// A safetensors file of `(name, dtype, shape, data)` tensors, with metadata.
fn safetensors(tensors: &[(&str, &str, [usize; 2], Vec<u8>)]) -> Vec<u8> {
    let mut entries = vec![r#""__metadata__":{"format":"pt"}"#.to_string()];
    let mut offset = 0;
    for (name, dtype, [r, c], data) in tensors {
        let end = offset + data.len();
        entries.push(format!(
            r#""{name}":{{"dtype":"{dtype}","shape":[{r},{c}],"data_offsets":[{offset},{end}]}}"#
        ));
        offset = end;
    }
    let header = format!("{{{}}}", entries.join(","));
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    for (.., data) in tensors {
        out.extend_from_slice(data);
    }
    out
}

fn f32s(values: &[f32], big: bool) -> Vec<u8> {
    let each = |v: &f32| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    values.iter().flat_map(each).collect()
}

fn f64s(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Half-precision bit patterns (f16 or bf16), little-endian.
fn u16s(bits: &[u16]) -> Vec<u8> {
    bits.iter().flat_map(|b| b.to_le_bytes()).collect()
}

const SIX: [f32; 6] = [1.5, -2.0, 0.25, 3.0, -0.5, 8.0];

/// Checks what an import returned: the expected outcome, or a violation.
fn judge(result: Result<LogitMatrix, ImportError>) -> Result<&'static str, Outcome> {
    let m = result.map_err(Outcome::rejected)?;
    check(m.rows.checked_mul(m.cols) == Some(m.values.len()), || {
        format!("{} values for {}x{}", m.values.len(), m.rows, m.cols)
    })?;
    check_finite(&m.values, "logits")?;
    Ok("matrix")
}

/// Both import calls of one target on the same file.
fn both(a: Result<LogitMatrix, ImportError>, b: Result<LogitMatrix, ImportError>) -> Outcome {
    match (judge(a), judge(b)) {
        (Err(o @ Outcome::Violation(_)), _) | (_, Err(o @ Outcome::Violation(_))) => o,
        (Ok(a), _) | (_, Ok(a)) => Outcome::Parsed(a.into()),
        (Err(o), Err(_)) => o,
    }
}

/// `npy`: the bytes as a `.npy` file.
pub(crate) struct Npy {
    path: PathBuf,
}

impl Harness for Npy {
    fn seeds(&mut self) -> Vec<Vec<u8>> {
        let f16 = u16s(&[0x3C00, 0xC000, 0x3800, 0x0000]);
        vec![
            npy(1, "<f4", false, "(2, 3)", &f32s(&SIX, false)),
            npy(1, ">f4", true, "(3, 2)", &f32s(&SIX, true)),
            npy(2, "<f8", false, "(1, 3)", &f64s(&[0.5, -1.0, 1e10])),
            npy(3, "<f2", false, "(2, 2)", &f16),
            npy(1, "|f4", false, "(6, 1)", &f32s(&SIX, false)),
        ]
    }

    fn run(&mut self, input: &[u8]) -> Outcome {
        if let Err(e) = std::fs::write(&self.path, input) {
            return Outcome::Violation(format!("cannot write the scratch file: {e}"));
        }
        both(read_npy(&self.path), read_logits(&self.path, None))
    }
}

/// `safetensors`: the bytes as a safetensors file.
pub(crate) struct Safetensors {
    path: PathBuf,
}

impl Harness for Safetensors {
    fn seeds(&mut self) -> Vec<Vec<u8>> {
        vec![
            safetensors(&[("logits", "F32", [2, 3], f32s(&SIX, false))]),
            safetensors(&[("logits", "F64", [1, 2], f64s(&[1.0, -3.5]))]),
            safetensors(&[("logits", "F16", [2, 2], u16s(&[0x3C00, 0xC000, 0x3800, 0]))]),
            safetensors(&[
                ("logits", "BF16", [1, 2], u16s(&[0x3F80, 0x4000])),
                ("other", "F32", [1, 1], f32s(&[1.0], false)),
            ]),
        ]
    }

    fn run(&mut self, input: &[u8]) -> Outcome {
        if let Err(e) = std::fs::write(&self.path, input) {
            return Outcome::Violation(format!("cannot write the scratch file: {e}"));
        }
        both(
            read_safetensors(&self.path, None),
            read_logits(&self.path, Some("logits")),
        )
    }
}

/// Builds the `npy` harness.
pub(crate) fn npy_target(scratch: &Path) -> Box<dyn Harness> {
    Box::new(Npy {
        path: scratch.join("logits.npy"),
    })
}

/// Builds the `safetensors` harness.
pub(crate) fn safetensors_target(scratch: &Path) -> Box<dyn Harness> {
    Box::new(Safetensors {
        path: scratch.join("logits.safetensors"),
    })
}
