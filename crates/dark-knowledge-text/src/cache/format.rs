//! The file layout shared by the writer and the reader: metadata keys, tensor names and byte
//! layout, the checks every stored token must pass, and the checksum of the windows.

use std::collections::HashMap;
use std::path::Path;

use safetensors::Dtype;
use safetensors::tensor::{Metadata, TensorInfo};

use crate::error::{Error, Result};

/// The `format` metadata value of a token top-k cache.
pub const FORMAT: &str = "dark-knowledge-token-topk";

/// The `version` metadata value written and accepted by this library.
pub const VERSION: &str = "1";

/// The metadata keys a cache may carry; any other key is refused.
pub(crate) const KEYS: [&str; 8] = [
    "format",
    "version",
    "vocab_size",
    "k",
    "seq_len",
    "windows",
    "teacher",
    "data_checksum",
];

/// What a cache holds: its shape, and where its logits came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenCacheMeta {
    /// Size `V` of the teacher's vocabulary (its logits per token); at least 1.
    pub vocab_size: usize,
    /// Logits kept per token, `1 ≤ k ≤ vocab_size`.
    pub k: usize,
    /// Tokens per window (shorter windows are padded and masked); at least 1.
    pub seq_len: usize,
    /// Number of windows in the cache; at least 1.
    pub windows: usize,
    /// Free text describing the teacher (name, checkpoint, …).
    pub teacher: Option<String>,
    /// [`windows_checksum`] of the windows the teacher ran over, so a cache built on other data
    /// is refused by [`TokenLogitCache::open_for`](super::TokenLogitCache::open_for).
    pub data_checksum: Option<String>,
}

impl TokenCacheMeta {
    /// Tokens in the cache, `windows · seq_len` (checked against overflow by `validate`).
    pub(crate) fn tokens(&self) -> usize {
        self.windows * self.seq_len
    }

    /// Checks every field; `path` names the file in the error.
    pub(crate) fn validate(&self, path: &Path) -> Result<()> {
        let bad = |msg: String| Err(Error::format(path, msg));
        for (name, value) in [
            ("vocab_size", self.vocab_size),
            ("seq_len", self.seq_len),
            ("windows", self.windows),
        ] {
            if value == 0 {
                return bad(format!("{name} is 0; allowed: at least 1"));
            }
        }
        if self.vocab_size - 1 > i32::MAX as usize {
            return bad(format!(
                "vocab_size is {}; allowed: at most {} (ids are stored as I32)",
                self.vocab_size,
                i32::MAX as u64 + 1
            ));
        }
        if self.k == 0 || self.k > self.vocab_size {
            return bad(format!(
                "k is {}; allowed: 1..={} (vocab_size)",
                self.k, self.vocab_size
            ));
        }
        let total = self
            .windows
            .checked_mul(self.seq_len)
            .and_then(|t| t.checked_mul(self.k))
            .and_then(|t| t.checked_mul(8))
            .filter(|&t| t <= isize::MAX as usize);
        if total.is_none() {
            return bad(format!(
                "windows {} × seq_len {} × k {} overflows the address space",
                self.windows, self.seq_len, self.k
            ));
        }
        if let Some(sum) = &self.data_checksum
            && !is_checksum(sum)
        {
            return bad(format!(
                "data_checksum is {sum:?}; allowed: 64 lowercase hex digits (windows_checksum)"
            ));
        }
        Ok(())
    }

    /// The safetensors metadata map of this cache.
    pub(crate) fn to_metadata(&self) -> HashMap<String, String> {
        let mut map: HashMap<String, String> = [
            ("format", FORMAT.to_string()),
            ("version", VERSION.to_string()),
            ("vocab_size", self.vocab_size.to_string()),
            ("k", self.k.to_string()),
            ("seq_len", self.seq_len.to_string()),
            ("windows", self.windows.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        if let Some(t) = &self.teacher {
            map.insert("teacher".into(), t.clone());
        }
        if let Some(c) = &self.data_checksum {
            map.insert("data_checksum".into(), c.clone());
        }
        map
    }

    /// Reads and validates the metadata map of the file at `path`.
    pub(crate) fn from_metadata(
        path: &Path,
        map: Option<&HashMap<String, String>>,
    ) -> Result<Self> {
        let bad = |msg: String| Error::format(path, msg);
        let Some(map) = map else {
            return Err(bad(format!(
                "no safetensors metadata (`__metadata__`); a token top-k cache needs at least \
                 format = {FORMAT:?}, version = {VERSION:?}, vocab_size, k, seq_len, windows"
            )));
        };
        if let Some(key) = map.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(bad(format!(
                "metadata key {key:?} is unknown; allowed keys: {}",
                KEYS.join(", ")
            )));
        }
        let get = |key: &str| {
            map.get(key)
                .ok_or_else(|| bad(format!("metadata key {key:?} is missing")))
        };
        for (key, want) in [("format", FORMAT), ("version", VERSION)] {
            let found = get(key)?;
            if found != want {
                return Err(bad(format!(
                    "metadata {key} is {found:?}; allowed: {want:?}"
                )));
            }
        }
        let number = |key: &str| -> Result<usize> {
            let text = get(key)?;
            text.parse().map_err(|_| {
                bad(format!(
                    "metadata {key} is {text:?}; allowed: a decimal integer ≥ 0"
                ))
            })
        };
        let meta = Self {
            vocab_size: number("vocab_size")?,
            k: number("k")?,
            seq_len: number("seq_len")?,
            windows: number("windows")?,
            teacher: map.get("teacher").cloned(),
            data_checksum: map.get("data_checksum").cloned(),
        };
        meta.validate(path).map_err(|e| match e {
            Error::Format { path, message } => Error::Format {
                path,
                message: format!("metadata {message}"),
            },
            other => other,
        })?;
        Ok(meta)
    }
}

/// 64 lowercase hex digits.
fn is_checksum(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// blake3 (lowercase hex) of the windows' token ids, to store in
/// [`TokenCacheMeta::data_checksum`] and check on open.
///
/// The hashed bytes are, for each window in order, its length as a little-endian `u64`
/// followed by its ids as little-endian `u32`s (so `[[1, 2], [3]]` and `[[1], [2, 3]]`
/// differ). In Python: `h = blake3.blake3()`, then per window
/// `h.update(struct.pack("<Q", len(w))); h.update(np.asarray(w, "<u4").tobytes())`, and
/// `h.hexdigest()`.
pub fn windows_checksum(windows: &[Vec<u32>]) -> String {
    let mut hasher = blake3::Hasher::new();
    let mut buf = Vec::new();
    for window in windows {
        buf.clear();
        buf.extend_from_slice(&(window.len() as u64).to_le_bytes());
        buf.extend(window.iter().flat_map(|id| id.to_le_bytes()));
        hasher.update(&buf);
    }
    hasher.finalize().to_hex().to_string()
}

/// Where each tensor's bytes lie in the data section (after the 8-byte length and the JSON
/// header), in the order safetensors' own writers use: by dtype alignment, then by name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    /// Start of `rest` (F32 `[windows, seq]`).
    pub rest: usize,
    /// Start of `values` (F32 `[windows, seq, k]`).
    pub values: usize,
    /// Start of `indices` (I32 `[windows, seq, k]`).
    pub indices: usize,
    /// Start of `mask` (U8 `[windows, seq]`).
    pub mask: usize,
    /// Bytes of the data section.
    pub data_len: usize,
}

impl Layout {
    /// The layout of a cache described by the (validated) `meta`.
    pub(crate) fn of(meta: &TokenCacheMeta) -> Self {
        let tokens = meta.tokens();
        let rest = 0;
        let values = rest + 4 * tokens;
        let indices = values + 4 * tokens * meta.k;
        let mask = indices + 4 * tokens * meta.k;
        Self {
            rest,
            values,
            indices,
            mask,
            data_len: mask + tokens,
        }
    }
}

/// The tensor names, dtypes and shapes of a cache described by `meta`.
pub(crate) fn tensor_specs(meta: &TokenCacheMeta) -> [(&'static str, Dtype, Vec<usize>); 4] {
    let (w, s, k) = (meta.windows, meta.seq_len, meta.k);
    [
        ("rest", Dtype::F32, vec![w, s]),
        ("values", Dtype::F32, vec![w, s, k]),
        ("indices", Dtype::I32, vec![w, s, k]),
        ("mask", Dtype::U8, vec![w, s]),
    ]
}

/// The first bytes of a cache file: the little-endian `u64` header length, then the JSON
/// header padded with spaces to a multiple of 8 bytes, exactly as safetensors writes it.
pub(crate) fn header_bytes(path: &Path, meta: &TokenCacheMeta) -> Result<Vec<u8>> {
    let layout = Layout::of(meta);
    let starts = [layout.rest, layout.values, layout.indices, layout.mask];
    let ends = [layout.values, layout.indices, layout.mask, layout.data_len];
    let tensors = tensor_specs(meta)
        .into_iter()
        .zip(starts.into_iter().zip(ends))
        .map(|((name, dtype, shape), offsets)| {
            let info = TensorInfo {
                dtype,
                shape,
                data_offsets: offsets,
            };
            (name.to_string(), info)
        })
        .collect();
    let fail = |e: &dyn std::fmt::Display| Error::format(path, format!("cannot build header: {e}"));
    let metadata = Metadata::new(Some(meta.to_metadata()), tensors).map_err(|e| fail(&e))?;
    let mut json = serde_json::to_vec(&metadata).map_err(|e| fail(&e))?;
    json.resize(json.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(8 + json.len());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    Ok(out)
}

/// A stored token that breaks the format: the tensor, what was found, what is allowed.
pub(crate) type Fault = (&'static str, String, String);

/// Vocabularies up to this size are checked for duplicates with a table of `4 · vocab` bytes
/// (O(k) per token); larger ones (only a corrupt header claims one) by sorting the ids, so a
/// file cannot make the checker allocate gigabytes.
const STAMP_VOCAB: usize = 1 << 22;

/// Checks stored tokens: ids in `0..vocab`, distinct within a token, finite values, and a
/// `rest` that is not NaN or +inf (callers pass −inf when `k = vocab`, where it is ignored).
#[derive(Debug)]
pub(crate) struct TokenChecker {
    vocab: usize,
    /// `stamp[id] == round` marks `id` as seen in the current token (empty above
    /// [`STAMP_VOCAB`]).
    stamp: Vec<u32>,
    round: u32,
    /// The current token's ids, sorted to find duplicates above [`STAMP_VOCAB`].
    sorted: Vec<(i64, usize)>,
}

impl TokenChecker {
    /// A checker for a vocabulary of `vocab` ids.
    pub(crate) fn new(vocab: usize) -> Self {
        let table = if vocab <= STAMP_VOCAB { vocab } else { 0 };
        Self {
            vocab,
            stamp: vec![0; table],
            round: 0,
            sorted: Vec::new(),
        }
    }

    /// Checks one token's ids, values and rest.
    pub(crate) fn check(
        &mut self,
        ids: impl IntoIterator<Item = i64>,
        values: impl IntoIterator<Item = f32>,
        rest: f32,
    ) -> std::result::Result<(), Fault> {
        self.round = self.round.wrapping_add(1);
        if self.round == 0 {
            self.stamp.fill(0);
            self.round = 1;
        }
        let twice = |id: i64, slot: usize| {
            let found = format!("id {id} twice (again in slot {slot})");
            Err(("indices", found, "k distinct ids per token".into()))
        };
        self.sorted.clear();
        for (slot, id) in ids.into_iter().enumerate() {
            if usize::try_from(id).map_or(true, |i| i >= self.vocab) {
                let found = format!("id {id} in slot {slot}");
                return Err(("indices", found, format!("0..{} (vocab_size)", self.vocab)));
            }
            match self.stamp.get_mut(id as usize) {
                Some(seen) if *seen == self.round => return twice(id, slot),
                Some(seen) => *seen = self.round,
                None => self.sorted.push((id, slot)),
            }
        }
        self.sorted.sort_unstable();
        if let Some(pair) = self.sorted.windows(2).find(|p| p[0].0 == p[1].0) {
            return twice(pair[1].0, pair[0].1.max(pair[1].1));
        }
        if let Some((slot, v)) = values.into_iter().enumerate().find(|(_, v)| !v.is_finite()) {
            let found = format!("logit {v} in slot {slot}");
            return Err(("values", found, "finite logits".into()));
        }
        if rest.is_nan() || rest == f32::INFINITY {
            let allowed = "a finite log-sum-exp, or -inf for a tail of probability 0";
            return Err(("rest", format!("{rest}"), allowed.into()));
        }
        Ok(())
    }
}

/// What a padded token (mask 0) holds when read: ids `0..k`, logits 0 and a rest of
/// `ln(V − k)` (−inf when `k = V`), so its full logits are all 0 — finite, harmless in a loss
/// that multiplies by the mask.
pub(crate) fn padding_rest(vocab: usize, k: usize) -> f32 {
    if k == vocab {
        f32::NEG_INFINITY
    } else {
        ((vocab - k) as f64).ln() as f32
    }
}

#[cfg(test)]
mod tests {
    use super::TokenChecker;

    #[test]
    fn duplicates_are_found_with_the_table_and_by_sorting() {
        for vocab in [10, (1 << 22) + 1] {
            let mut c = TokenChecker::new(vocab);
            assert!(c.check([3, 1, 7], [0.0; 3], 0.0).is_ok());
            assert!(
                c.check([3, 1, 7], [0.0; 3], 0.0).is_ok(),
                "a new token, a new round"
            );
            let (field, found, _) = c.check([3, 7, 3], [0.0; 3], 0.0).unwrap_err();
            assert_eq!(
                (field, found.as_str()),
                ("indices", "id 3 twice (again in slot 2)")
            );
            let (field, ..) = c.check([vocab as i64], [0.0], 0.0).unwrap_err();
            assert_eq!(field, "indices");
        }
    }
}
