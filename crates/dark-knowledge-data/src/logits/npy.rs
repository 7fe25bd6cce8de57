//! `.npy` reader following NEP 1 (format versions 1.0, 2.0 and 3.0).
//!
//! Layout: magic `\x93NUMPY`, one byte major and one byte minor version,
//! a little-endian header length (u16 for 1.0, u32 for 2.0/3.0), the header
//! (a Python dict literal padded with spaces and ending in `\n`), then the
//! raw array data.

use std::path::Path;

use super::convert::{self, Dtype, Endian, Layout};
use super::{ImportError, LogitMatrix};

/// Magic string at the start of every `.npy` file.
pub(crate) const MAGIC: &[u8] = b"\x93NUMPY";

/// Human-readable list of accepted `descr` strings.
const ALLOWED: &str = "'<f4' (float32), '<f8' (float64), '<f2' (float16); '>' for big-endian, \
                       '=' or '|' for native byte order";

/// Maximum nesting of tuples/lists accepted in the header.
const MAX_DEPTH: usize = 16;

/// A value in the header dict (the subset of Python literals numpy writes).
#[derive(Debug, Clone, PartialEq)]
enum PyValue {
    Str(String),
    Bool(bool),
    None,
    Int(u64),
    Seq(Vec<PyValue>),
}

/// Parses a complete `.npy` file held in memory.
pub(crate) fn parse(path: &Path, bytes: &[u8]) -> Result<LogitMatrix, ImportError> {
    let err = |detail: String| ImportError::InvalidNpy {
        path: path.to_path_buf(),
        detail,
    };
    if !bytes.starts_with(MAGIC) {
        let head = bytes.get(..6).unwrap_or(bytes);
        return Err(err(format!(
            "missing magic string b\"\\x93NUMPY\" at the start of the file (found {:?})",
            head.escape_ascii().to_string()
        )));
    }
    let (major, minor) = match bytes.get(6..8) {
        Some(&[major, minor]) => (major, minor),
        _ => return Err(err("file ends inside the format version bytes".into())),
    };
    let len_size = match (major, minor) {
        (1, 0) => 2,
        (2, 0) | (3, 0) => 4,
        _ => {
            return Err(err(format!(
                "unsupported format version {major}.{minor}; allowed: 1.0, 2.0, 3.0"
            )));
        }
    };
    let header_start = 8 + len_size;
    let header_len = match bytes.get(8..header_start) {
        Some(&[a, b]) => usize::from(u16::from_le_bytes([a, b])),
        Some(&[a, b, c, d]) => usize::try_from(u32::from_le_bytes([a, b, c, d]))
            .map_err(|_| err("header length does not fit in memory".into()))?,
        _ => return Err(err("file ends inside the header length field".into())),
    };
    let header_end = header_start
        .checked_add(header_len)
        .filter(|&end| end <= bytes.len())
        .ok_or_else(|| {
            err(format!(
                "header length {header_len} is larger than the {} bytes left in the file",
                bytes.len().saturating_sub(header_start)
            ))
        })?;
    let header = bytes.get(header_start..header_end).unwrap_or_default();
    let text = std::str::from_utf8(header)
        .map_err(|e| err(format!("header is not valid ASCII/UTF-8 text: {e}")))?;
    let (descr, fortran, shape) = parse_header(text).map_err(|d| err(format!("header: {d}")))?;

    let descr = match descr {
        PyValue::Str(s) => s,
        other => {
            return Err(ImportError::UnsupportedDtype {
                path: path.to_path_buf(),
                dtype: format!("{other:?} (structured/record dtype)"),
                allowed: ALLOWED,
            });
        }
    };
    let (dtype, endian) = parse_descr(&descr).ok_or_else(|| ImportError::UnsupportedDtype {
        path: path.to_path_buf(),
        dtype: format!("{descr:?}"),
        allowed: ALLOWED,
    })?;
    let [rows, cols] =
        <[u64; 2]>::try_from(shape.as_slice()).map_err(|_| ImportError::NotTwoDimensional {
            path: path.to_path_buf(),
            shape: shape.clone(),
        })?;
    let to_usize = |v: u64| {
        usize::try_from(v).map_err(|_| err(format!("shape [{rows}, {cols}] is too large")))
    };
    let layout = Layout {
        rows: to_usize(rows)?,
        cols: to_usize(cols)?,
        dtype,
        endian,
        fortran,
    };
    if layout.byte_len().is_none() {
        return Err(err(format!("shape [{rows}, {cols}] is too large")));
    }
    let data = bytes.get(header_end..).unwrap_or_default();
    convert::decode_matrix(path, data, layout)
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

/// Parses the header dict and extracts `(descr, fortran_order, shape)`.
fn parse_header(text: &str) -> Result<(PyValue, bool, Vec<u64>), String> {
    let mut p = Parser {
        s: text.as_bytes(),
        pos: 0,
    };
    let entries = p.dict()?;
    p.skip_ws();
    if p.pos != p.s.len() {
        return Err(format!(
            "unexpected text after the closing '}}' at byte {}",
            p.pos
        ));
    }
    let mut descr = None;
    let mut fortran = None;
    let mut shape = None;
    for (key, value) in entries {
        let slot = match key.as_str() {
            "descr" => &mut descr,
            "fortran_order" => &mut fortran,
            "shape" => &mut shape,
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err(format!("key '{key}' appears more than once"));
        }
    }
    let missing =
        |k: &str| format!("missing key '{k}' (required: 'descr', 'fortran_order', 'shape')");
    let descr = descr.ok_or_else(|| missing("descr"))?;
    let fortran = match fortran.ok_or_else(|| missing("fortran_order"))? {
        PyValue::Bool(b) => b,
        other => {
            return Err(format!(
                "'fortran_order' must be True or False, found {other:?}"
            ));
        }
    };
    let shape = match shape.ok_or_else(|| missing("shape"))? {
        PyValue::Seq(items) => items
            .into_iter()
            .map(|v| match v {
                PyValue::Int(n) => Ok(n),
                other => Err(format!("shape entries must be integers, found {other:?}")),
            })
            .collect::<Result<Vec<u64>, String>>()?,
        other => {
            return Err(format!(
                "'shape' must be a tuple of integers, found {other:?}"
            ));
        }
    };
    Ok((descr, fortran, shape))
}

/// Minimal recursive-descent parser for Python dict/tuple literals.
struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, want: u8) -> Result<(), String> {
        self.skip_ws();
        match self.peek() {
            Some(c) if c == want => {
                self.pos += 1;
                Ok(())
            }
            found => Err(format!(
                "expected '{}' at byte {}, found {}",
                want as char,
                self.pos,
                describe(found)
            )),
        }
    }

    fn dict(&mut self) -> Result<Vec<(String, PyValue)>, String> {
        self.expect(b'{')?;
        let mut entries = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(entries);
            }
            let key = match self.value(0)? {
                PyValue::Str(k) => k,
                other => return Err(format!("dict keys must be strings, found {other:?}")),
            };
            self.expect(b':')?;
            let value = self.value(0)?;
            entries.push((key, value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                found => {
                    return Err(format!(
                        "expected ',' or '}}' at byte {}, found {}",
                        self.pos,
                        describe(found)
                    ));
                }
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<PyValue, String> {
        if depth > MAX_DEPTH {
            return Err("values nested too deeply".into());
        }
        self.skip_ws();
        match self.peek() {
            Some(q @ (b'\'' | b'"')) => self.string(q),
            Some(b'(') => self.seq(b')', depth),
            Some(b'[') => self.seq(b']', depth),
            Some(c) if c.is_ascii_digit() => self.int(),
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                while self.peek().is_some_and(|c| c.is_ascii_alphanumeric()) {
                    self.pos += 1;
                }
                match self.s.get(start..self.pos).unwrap_or_default() {
                    b"True" => Ok(PyValue::Bool(true)),
                    b"False" => Ok(PyValue::Bool(false)),
                    b"None" => Ok(PyValue::None),
                    word => Err(format!(
                        "unknown name '{}' at byte {start}; allowed: True, False, None",
                        word.escape_ascii()
                    )),
                }
            }
            found => Err(format!(
                "expected a value at byte {}, found {}",
                self.pos,
                describe(found)
            )),
        }
    }

    fn string(&mut self, quote: u8) -> Result<PyValue, String> {
        let start = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(format!("unterminated string starting at byte {start}")),
                Some(b'\\') => {
                    self.pos += 1;
                    let c = self.peek().ok_or("unterminated escape in string")?;
                    out.push(c);
                }
                Some(c) if c == quote => {
                    self.pos += 1;
                    break;
                }
                Some(c) => out.push(c),
            }
            self.pos += 1;
        }
        String::from_utf8(out)
            .map(PyValue::Str)
            .map_err(|_| format!("string at byte {start} is not valid UTF-8"))
    }

    fn int(&mut self) -> Result<PyValue, String> {
        let start = self.pos;
        let mut n: u64 = 0;
        while let Some(c) = self.peek().filter(u8::is_ascii_digit) {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(c - b'0')))
                .ok_or_else(|| format!("integer at byte {start} is too large"))?;
            self.pos += 1;
        }
        if matches!(self.peek(), Some(b'L' | b'l')) {
            self.pos += 1; // Python 2 long suffix
        }
        Ok(PyValue::Int(n))
    }

    /// Tuple or list; `(x)` without a comma is just `x`, as in Python.
    fn seq(&mut self, close: u8, depth: usize) -> Result<PyValue, String> {
        self.pos += 1;
        let mut items = Vec::new();
        let mut saw_comma = false;
        loop {
            self.skip_ws();
            if self.peek() == Some(close) {
                self.pos += 1;
                break;
            }
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    saw_comma = true;
                    self.pos += 1;
                }
                Some(c) if c == close => {}
                found => {
                    return Err(format!(
                        "expected ',' or '{}' at byte {}, found {}",
                        close as char,
                        self.pos,
                        describe(found)
                    ));
                }
            }
        }
        if close == b')' && items.len() == 1 && !saw_comma {
            return Ok(items.pop().unwrap_or(PyValue::None));
        }
        Ok(PyValue::Seq(items))
    }
}

fn describe(c: Option<u8>) -> String {
    match c {
        Some(c) => format!("'{}'", [c].escape_ascii()),
        None => "end of header".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_parser_handles_python_literals() {
        let (d, f, s) =
            parse_header("{\"shape\": (5, 3,), 'fortran_order': True, 'descr': '>f8'}\n").unwrap();
        assert_eq!(d, PyValue::Str(">f8".into()));
        assert!(f);
        assert_eq!(s, vec![5, 3]);
        let (_, _, s) = parse_header("{'descr':'<f4','fortran_order':False,'shape':(7,)}").unwrap();
        assert_eq!(s, vec![7]);
        assert!(parse_header("{'descr': '<f4', 'fortran_order': False}").is_err());
        assert!(parse_header("{'descr': '<f4', 'descr': '<f4'}").is_err());
        assert!(parse_header("{'descr': '<f4', 'fortran_order': Maybe, 'shape': ()}").is_err());
        let deep = format!("{{'shape': {}}}", "(".repeat(10_000));
        assert!(parse_header(&deep).is_err());
    }

    #[test]
    fn descr_mapping() {
        assert_eq!(parse_descr("<f4"), Some((Dtype::F32, Endian::Little)));
        assert_eq!(parse_descr(">f8"), Some((Dtype::F64, Endian::Big)));
        assert_eq!(parse_descr("=f2"), Some((Dtype::F16, Endian::NATIVE)));
        assert_eq!(parse_descr("<i8"), None);
        assert_eq!(parse_descr("<c8"), None);
        assert_eq!(parse_descr(""), None);
    }
}
