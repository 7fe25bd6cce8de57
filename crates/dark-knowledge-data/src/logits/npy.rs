//! `.npy` reader (NEP 1, format versions 1.0, 2.0 and 3.0).
//!
//! The header — magic, version, header length and the Python dict literal
//! with `descr`, `fortran_order` and `shape` — is parsed by the
//! `ndarray-npy` crate. This module only checks the preamble first (so that
//! errors can say exactly what is wrong, and to guard the crate, see
//! [`check_preamble`]), maps the `descr` string to one of our dtypes and
//! hands the data bytes to [`convert::decode_matrix`].

use std::path::Path;

use ndarray_npy::npy::header::Header;

use super::convert::{self, Dtype, Endian, Layout};
use super::{ImportError, LogitMatrix};

/// Magic string at the start of every `.npy` file.
pub(crate) const MAGIC: &[u8] = b"\x93NUMPY";

/// Human-readable list of accepted `descr` strings.
const ALLOWED: &str = "'<f4' (float32), '<f8' (float64), '<f2' (float16); '>' for big-endian, \
                       '=' or '|' for native byte order";

/// Longest header accepted, in bytes: numpy's own default
/// (`numpy.load(max_header_size=10000)`), which numpy applies for the same
/// reason we do — the literal parser's time grows with the header.
const MAX_HEADER: usize = 10_000;

/// Deepest bracket nesting accepted in the header. A logit file needs 2
/// (the dict and the shape tuple); the Python-literal parser behind
/// `ndarray-npy` takes time exponential in the nesting depth (about 2x per
/// level), so deeper headers are refused before it sees them.
const MAX_DEPTH: usize = 8;

/// Parses a complete `.npy` file held in memory.
pub(crate) fn parse(path: &Path, bytes: &[u8]) -> Result<LogitMatrix, ImportError> {
    let err = |detail: String| ImportError::InvalidNpy {
        path: path.to_path_buf(),
        detail,
    };
    let header_range = check_preamble(bytes).map_err(err)?;
    if let Some(text) = bytes.get(header_range) {
        check_nesting(text).map_err(|d| err(format!("header: {d}")))?;
    }
    let mut data = bytes;
    let header = Header::from_reader(&mut data).map_err(|e| err(e.to_string()))?;

    let Some(descr) = header.type_descriptor.as_string() else {
        return Err(ImportError::UnsupportedDtype {
            path: path.to_path_buf(),
            dtype: format!("{} (structured/record dtype)", header.type_descriptor),
            allowed: ALLOWED,
        });
    };
    let (dtype, endian) = parse_descr(descr).ok_or_else(|| ImportError::UnsupportedDtype {
        path: path.to_path_buf(),
        dtype: format!("{descr:?}"),
        allowed: ALLOWED,
    })?;
    let [rows, cols] = <[usize; 2]>::try_from(header.shape.as_slice()).map_err(|_| {
        ImportError::NotTwoDimensional {
            path: path.to_path_buf(),
            shape: header.shape.iter().map(|&d| d as u64).collect(),
        }
    })?;
    let layout = Layout {
        rows,
        cols,
        dtype,
        endian,
        fortran: header.layout.is_fortran(),
    };
    if layout.byte_len().is_none() {
        return Err(err(format!("shape [{rows}, {cols}] is too large")));
    }
    convert::decode_matrix(path, data, layout)
}

/// Checks magic, version and header length; returns the header's byte range.
///
/// Besides precise messages, this guards `ndarray-npy`, which allocates the
/// header length it reads (up to 4 GiB for version 2.0) before reading it.
fn check_preamble(bytes: &[u8]) -> Result<std::ops::Range<usize>, String> {
    if !bytes.starts_with(MAGIC) {
        let head = bytes.get(..6).unwrap_or(bytes);
        return Err(format!(
            "missing magic string b\"\\x93NUMPY\" at the start of the file (found {:?})",
            head.escape_ascii().to_string()
        ));
    }
    let len_size = match bytes.get(6..8) {
        Some(&[1, 0]) => 2,
        Some(&[2 | 3, 0]) => 4,
        Some(&[major, minor]) => {
            return Err(format!(
                "unsupported format version {major}.{minor}; allowed: 1.0, 2.0, 3.0"
            ));
        }
        _ => return Err("file ends inside the format version bytes".into()),
    };
    let start = 8 + len_size;
    let header_len = match bytes.get(8..start) {
        Some(&[a, b]) => usize::from(u16::from_le_bytes([a, b])),
        Some(&[a, b, c, d]) => {
            usize::try_from(u32::from_le_bytes([a, b, c, d])).unwrap_or(usize::MAX)
        }
        _ => return Err("file ends inside the header length field".into()),
    };
    let left = bytes.len() - start;
    if header_len > left {
        return Err(format!(
            "header length {header_len} is larger than the {left} bytes left in the file"
        ));
    }
    if header_len > MAX_HEADER {
        return Err(format!(
            "header length {header_len} exceeds the limit of {MAX_HEADER} bytes \
             (numpy's default max_header_size)"
        ));
    }
    Ok(start..start + header_len)
}

/// Refuses headers whose brackets nest deeper than [`MAX_DEPTH`]. Counts
/// every bracket, quoted or not: conservative, and numpy's headers for
/// plain dtypes nest 2 deep.
fn check_nesting(text: &[u8]) -> Result<(), String> {
    let mut depth = 0usize;
    for &c in text {
        match c {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > MAX_DEPTH {
            return Err(format!(
                "brackets nest more than {MAX_DEPTH} deep; a logit header needs 2"
            ));
        }
    }
    Ok(())
}

/// Maps a numpy `descr` string such as `'<f4'` to a dtype and byte order.
fn parse_descr(descr: &str) -> Option<(Dtype, Endian)> {
    let mut chars = descr.chars();
    let endian = match chars.next()? {
        '<' => Endian::Little,
        '>' => Endian::Big,
        '=' | '|' => Endian::NATIVE,
        _ => return None,
    };
    let dtype = match chars.as_str() {
        "f2" => Dtype::F16,
        "f4" => Dtype::F32,
        "f8" => Dtype::F64,
        _ => return None,
    };
    Some((dtype, endian))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descr_mapping() {
        assert_eq!(parse_descr("<f4"), Some((Dtype::F32, Endian::Little)));
        assert_eq!(parse_descr(">f8"), Some((Dtype::F64, Endian::Big)));
        assert_eq!(parse_descr("=f2"), Some((Dtype::F16, Endian::NATIVE)));
        assert_eq!(parse_descr("<i8"), None);
        assert_eq!(parse_descr("<c8"), None);
        assert_eq!(parse_descr(""), None);
    }

    #[test]
    fn deep_nesting_is_refused_before_the_parser_sees_it() {
        assert!(check_nesting(b"{'descr': '<M8[ns]', 'shape': (2, 3), }").is_ok());
        let deep = format!("{{'shape': ({}{},)}}", "[".repeat(40), "]".repeat(40));
        assert!(check_nesting(deep.as_bytes()).is_err());
        let bytes = npy_with_header(&deep);
        let start = std::time::Instant::now();
        assert!(parse(Path::new("deep.npy"), &bytes).is_err());
        assert!(start.elapsed().as_secs() < 5, "took {:?}", start.elapsed());
    }

    #[test]
    fn oversized_header_is_refused() {
        let long = format!(
            "{{'descr': '<f4', 'fortran_order': False, 'shape': ({})}}",
            "1, ".repeat(4000)
        );
        let msg = parse(Path::new("long.npy"), &npy_with_header(&long))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("exceeds the limit of 10000"), "{msg}");
    }

    #[test]
    fn shape_overflowing_u64_is_an_error() {
        let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }";
        assert!(parse(Path::new("big.npy"), &npy_with_header(dict)).is_err());
    }

    fn npy_with_header(dict: &str) -> Vec<u8> {
        let mut out = b"\x93NUMPY\x02\x00".to_vec();
        out.extend((dict.len() as u32 + 1).to_le_bytes());
        out.extend(dict.as_bytes());
        out.push(b'\n');
        out
    }
}
