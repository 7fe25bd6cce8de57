//! Header types, layout arithmetic and value encoding shared by reader and writer.

use std::cmp::Ordering;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::{CacheError, Result};

/// Magic bytes at the start of every cache file.
pub const MAGIC: [u8; 4] = *b"DKTC";

/// Binary format version (the `u16` after the magic) and JSON header
/// `version` written and accepted by this library.
pub const FORMAT_VERSION: u16 = 1;

/// Bytes before the JSON header: magic, `u16` version, `u32` header length.
pub(crate) const PREAMBLE_LEN: usize = 4 + 2 + 4;

/// Bytes of the trailing CRC32.
pub(crate) const CRC_LEN: usize = 4;

/// Storage type of logit values in the data section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheDtype {
    /// IEEE 754 single precision (4 bytes, lossless).
    F32,
    /// IEEE 754 half precision (2 bytes, ~3 significant decimal digits,
    /// finite range ±65504).
    F16,
}

impl CacheDtype {
    /// Size of one value in bytes.
    pub fn size_bytes(self) -> usize {
        match self {
            CacheDtype::F32 => 4,
            CacheDtype::F16 => 2,
        }
    }
}

/// The JSON header of a cache file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheHeader {
    /// Header version; must be 1 ([`FORMAT_VERSION`]).
    pub version: u32,
    /// Number of classes `C` (logits per dense row); at least 1.
    pub num_classes: usize,
    /// Number of rows stored.
    pub num_rows: usize,
    /// [`fingerprint`](super::fingerprint) of the dataset rows, in cache row order
    /// (16 lowercase hex digits).
    pub dataset_fingerprint: String,
    /// Fingerprint identifying the teacher weights (16 lowercase hex digits).
    pub teacher_fingerprint: String,
    /// Free-form description of the teacher.
    pub teacher: String,
    /// Storage type of the logit values.
    pub dtype: CacheDtype,
    /// `None` for dense rows, `Some(k)` (`1 <= k <= num_classes`) for top-k rows.
    pub top_k: Option<usize>,
}

/// Validated byte layout of the data section.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    /// Bytes per stored row.
    pub row_bytes: usize,
    /// Total bytes of the data section.
    pub data_bytes: usize,
}

/// 32 hex digits (BLAKE3), or 16 (FNV-1a, caches of earlier versions).
fn is_fingerprint(s: &str) -> bool {
    (s.len() == 32 || s.len() == 16)
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Checks every header field and computes the data layout.
pub(crate) fn validate_header(path: &Path, h: &CacheHeader) -> Result<Layout> {
    let bad = |reason: String| CacheError::Header {
        path: path.to_path_buf(),
        reason,
    };
    if h.version != u32::from(FORMAT_VERSION) {
        return Err(CacheError::UnsupportedVersion {
            path: path.to_path_buf(),
            what: "header version",
            found: u64::from(h.version),
            expected: u64::from(FORMAT_VERSION),
        });
    }
    if h.num_classes == 0 {
        return Err(bad("num_classes is 0, expected at least 1".into()));
    }
    for (name, fp) in [
        ("dataset_fingerprint", &h.dataset_fingerprint),
        ("teacher_fingerprint", &h.teacher_fingerprint),
    ] {
        if !is_fingerprint(fp) {
            return Err(bad(format!(
                "{name} is {fp:?}, expected 32 (or, from earlier versions, 16) lowercase hex digits"
            )));
        }
    }
    let elem = h.dtype.size_bytes();
    let row_bytes = match h.top_k {
        None => h.num_classes.checked_mul(elem),
        Some(k) => {
            if k == 0 || k > h.num_classes {
                return Err(bad(format!(
                    "top_k is {k}, expected 1..={} (num_classes)",
                    h.num_classes
                )));
            }
            if h.num_classes - 1 > u32::MAX as usize {
                return Err(bad(format!(
                    "num_classes {} is too large for u32 class indices",
                    h.num_classes
                )));
            }
            k.checked_mul(4 + elem).and_then(|b| b.checked_add(elem))
        }
    };
    let too_big = || bad("num_rows x row size overflows the address space".into());
    let row_bytes = row_bytes.ok_or_else(too_big)?;
    let data_bytes = row_bytes.checked_mul(h.num_rows).ok_or_else(too_big)?;
    Ok(Layout {
        row_bytes,
        data_bytes,
    })
}

/// Appends `v` in `dtype`; returns `false` if it overflows the dtype
/// (only possible for finite values in f16).
pub(crate) fn put_value(buf: &mut Vec<u8>, dtype: CacheDtype, v: f32) -> bool {
    match dtype {
        CacheDtype::F32 => buf.extend_from_slice(&v.to_le_bytes()),
        CacheDtype::F16 => {
            let h = half::f16::from_f32(v);
            buf.extend_from_slice(&h.to_le_bytes());
            if v.is_finite() && !h.is_finite() {
                return false;
            }
        }
    }
    true
}

/// Decodes consecutive values of `dtype` from `bytes`.
pub(crate) fn values(bytes: &[u8], dtype: CacheDtype) -> impl Iterator<Item = f32> + '_ {
    bytes
        .chunks_exact(dtype.size_bytes())
        .map(move |c| match (dtype, c) {
            (CacheDtype::F32, &[a, b, c, d]) => f32::from_le_bytes([a, b, c, d]),
            (CacheDtype::F16, &[a, b]) => half::f16::from_le_bytes([a, b]).to_f32(),
            _ => f32::NAN, // unreachable: chunk size matches dtype
        })
}

/// Decodes consecutive little-endian `u32`s.
pub(crate) fn u32s(bytes: &[u8]) -> impl Iterator<Item = u32> + '_ {
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

/// Sorts class indices of finite `logits` so that `order[..k]` are the top k
/// (descending logit, ties by lower index) and returns the log-sum-exp of
/// the remaining logits (negative infinity if `k == logits.len()`).
///
/// Requires `1 <= k <= logits.len() <= u32::MAX + 1` and finite logits.
pub(crate) fn select_topk(logits: &[f32], k: usize, order: &mut Vec<u32>) -> f32 {
    let c = logits.len();
    order.clear();
    order.extend((0..c).map(|i| i as u32));
    let cmp = |a: &u32, b: &u32| {
        let (x, y) = (logits[*a as usize], logits[*b as usize]);
        y.partial_cmp(&x).unwrap_or(Ordering::Equal).then(a.cmp(b))
    };
    if k >= c {
        order.sort_unstable_by(cmp);
        return f32::NEG_INFINITY;
    }
    order.select_nth_unstable_by(k, cmp);
    order[..k].sort_unstable_by(cmp);
    // order[k] is now the largest of the rest: shift by it for stability.
    let m = f64::from(logits[order[k] as usize]);
    let sum: f64 = order[k..]
        .iter()
        .map(|&i| (f64::from(logits[i as usize]) - m).exp())
        .sum();
    (m + sum.ln()) as f32
}
