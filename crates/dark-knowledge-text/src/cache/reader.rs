//! Opening a token top-k cache, checking all of it, and reading windows by index.

use std::fs::File;
use std::path::{Path, PathBuf};

use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use memmap2::Mmap;
use safetensors::SafeTensors;
use safetensors::tensor::Metadata;

use super::format::{Layout, TokenCacheMeta, TokenChecker, padding_rest, tensor_specs};
use super::topk::TokenTopK;
use crate::error::{Error, Result};

/// A cache opened for training: random access by window index.
///
/// The file is memory-mapped and checked in full on open (every header field, dtypes and
/// shapes against the metadata, every token under the mask), so [`get`](Self::get) only
/// copies bytes. Padded tokens (mask 0) read as ids `0..k`, logits 0 and rest `ln(V − k)`
/// whatever the file holds there, and with `k = V` every rest reads as −inf.
#[derive(Debug)]
pub struct TokenLogitCache {
    path: PathBuf,
    meta: TokenCacheMeta,
    map: Mmap,
    /// Absolute byte offsets of the tensors in `map`.
    layout: Layout,
}

/// Decodes the little-endian 4-byte words of `bytes`.
fn words(bytes: &[u8]) -> impl Iterator<Item = [u8; 4]> + '_ {
    bytes.chunks_exact(4).map(|c| [c[0], c[1], c[2], c[3]])
}

impl TokenLogitCache {
    /// Opens and checks the cache at `path`.
    ///
    /// # Errors
    /// The file cannot be read, is not a safetensors file (truncated, corrupt), or breaks the
    /// format (see `docs/token-cache.md`): each error names the file, the field, what was found
    /// and what is allowed.
    pub fn open(path: &Path) -> Result<Self> {
        let map = map_file(path)?;
        let (header_len, metadata) = SafeTensors::read_metadata(&map)
            .map_err(|e| Error::format(path, format!("not a valid safetensors file: {e}")))?;
        let meta = TokenCacheMeta::from_metadata(path, metadata.metadata().as_ref())?;
        let layout = check_tensors(path, &metadata, &meta, 8 + header_len)?;
        let cache = Self {
            path: path.to_path_buf(),
            meta,
            map,
            layout,
        };
        cache.check_tokens()?;
        Ok(cache)
    }

    /// As [`open`](Self::open), and refuses a cache whose `vocab_size`, `seq_len`, `windows`
    /// or `data_checksum` differ from `expected`'s (the checksum only when `expected` has
    /// one; `k` and `teacher` are not compared).
    pub fn open_for(path: &Path, expected: &TokenCacheMeta) -> Result<Self> {
        let cache = Self::open(path)?;
        let found = &cache.meta;
        let rebuild = "rebuild the cache for this data and model";
        for (name, have, want) in [
            ("vocab_size", found.vocab_size, expected.vocab_size),
            ("seq_len", found.seq_len, expected.seq_len),
            ("windows", found.windows, expected.windows),
        ] {
            if have != want {
                return Err(Error::format(
                    path,
                    format!("the cache has {name} {have}, but {want} is expected; {rebuild}"),
                ));
            }
        }
        if let Some(want) = &expected.data_checksum
            && found.data_checksum.as_ref() != Some(want)
        {
            let have = found.data_checksum.as_deref().unwrap_or("none");
            return Err(Error::format(
                path,
                format!(
                    "the cache has data_checksum {have}, but the windows given have {want}: \
                     it was built on other data; {rebuild}"
                ),
            ));
        }
        Ok(cache)
    }

    /// The cache's metadata.
    pub fn meta(&self) -> &TokenCacheMeta {
        &self.meta
    }

    /// The file this cache was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The top-k and the mask `[b, seq]` of these windows (any order, repeats allowed) on
    /// `device`.
    ///
    /// # Errors
    /// An index ≥ `windows`, or an empty list.
    pub fn get(&self, windows: &[usize], device: &Device) -> Result<(TokenTopK, Tensor<2, Bool>)> {
        let (w, s, k, v) = (
            self.meta.windows,
            self.meta.seq_len,
            self.meta.k,
            self.meta.vocab_size,
        );
        if windows.is_empty() {
            return Err(Error::invalid(
                "windows to get",
                "an empty list",
                "at least one index",
            ));
        }
        if let Some(&bad) = windows.iter().find(|&&i| i >= w) {
            let allowed = format!("below {w} (the windows in {})", self.path.display());
            return Err(Error::invalid("window index", bad, allowed));
        }
        let b = windows.len();
        let mut ids = Vec::with_capacity(b * s * k);
        let mut values = Vec::with_capacity(b * s * k);
        let mut rest = Vec::with_capacity(b * s);
        let mut mask = Vec::with_capacity(b * s);
        let pad_rest = padding_rest(v, k);
        for &window in windows {
            for t in window * s..(window + 1) * s {
                if self.map[self.layout.mask + t] == 0 {
                    ids.extend(0..k as i32);
                    values.extend(std::iter::repeat_n(0.0_f32, k));
                    rest.push(pad_rest);
                    mask.push(false);
                    continue;
                }
                let (id_bytes, value_bytes, rest_bytes) = self.token_bytes(t);
                ids.extend(words(id_bytes).map(i32::from_le_bytes));
                values.extend(words(value_bytes).map(f32::from_le_bytes));
                let r = words(rest_bytes).map(f32::from_le_bytes).next();
                rest.push(if k == v {
                    f32::NEG_INFINITY
                } else {
                    r.unwrap_or(f32::NAN)
                });
                mask.push(true);
            }
        }
        let top = TokenTopK {
            indices: Tensor::<3, Int>::from_data(TensorData::new(ids, [b, s, k]), device),
            values: Tensor::from_data(TensorData::new(values, [b, s, k]), device),
            rest: Tensor::from_data(TensorData::new(rest, [b, s]), device),
        };
        let mask = Tensor::<2, Bool>::from_data(TensorData::new(mask, [b, s]), device);
        Ok((top, mask))
    }

    /// The stored bytes of token `t` (flat over windows × seq): ids, values, rest.
    fn token_bytes(&self, t: usize) -> (&[u8], &[u8], &[u8]) {
        let k = self.meta.k;
        let ids = &self.map[self.layout.indices + 4 * k * t..][..4 * k];
        let values = &self.map[self.layout.values + 4 * k * t..][..4 * k];
        let rest = &self.map[self.layout.rest + 4 * t..][..4];
        (ids, values, rest)
    }

    /// Checks the mask bytes and every token under the mask.
    fn check_tokens(&self) -> Result<()> {
        let (s, k, v) = (self.meta.seq_len, self.meta.k, self.meta.vocab_size);
        let mut checker = TokenChecker::new(v);
        for t in 0..self.meta.tokens() {
            let at = |field: &str, found: String, allowed: String| {
                let (window, pos) = (t / s, t % s);
                Error::format(
                    &self.path,
                    format!(
                        "tensor `{field}` at window {window}, position {pos}: {found}; \
                         allowed: {allowed}"
                    ),
                )
            };
            match self.map[self.layout.mask + t] {
                0 => continue,
                1 => {}
                m => return Err(at("mask", format!("byte {m}"), "0 or 1".into())),
            }
            let (id_bytes, value_bytes, rest_bytes) = self.token_bytes(t);
            let ids = words(id_bytes).map(|w| i64::from(i32::from_le_bytes(w)));
            let values = words(value_bytes).map(f32::from_le_bytes);
            let rest = match k == v {
                true => f32::NEG_INFINITY,
                false => words(rest_bytes)
                    .map(f32::from_le_bytes)
                    .next()
                    .unwrap_or(f32::NAN),
            };
            checker
                .check(ids, values, rest)
                .map_err(|(field, found, allowed)| at(field, found, allowed))?;
        }
        Ok(())
    }
}

/// Checks that the file holds exactly the four tensors with the dtypes and shapes `meta`
/// implies; returns their absolute byte offsets (`data_start` is where the data section
/// begins).
fn check_tensors(
    path: &Path,
    metadata: &Metadata,
    meta: &TokenCacheMeta,
    data_start: usize,
) -> Result<Layout> {
    let specs = tensor_specs(meta);
    let names: Vec<&str> = specs.iter().map(|(n, ..)| *n).collect();
    let tensors = metadata.tensors();
    if let Some(extra) = tensors.keys().find(|n| !names.contains(&n.as_str())) {
        return Err(Error::format(
            path,
            format!(
                "tensor `{extra}` is unknown; allowed tensors: {}",
                names.join(", ")
            ),
        ));
    }
    let mut starts = [0; 4];
    for ((name, dtype, shape), start) in specs.iter().zip(&mut starts) {
        let info = tensors
            .get(*name)
            .ok_or_else(|| Error::format(path, format!("tensor `{name}` is missing")))?;
        if info.dtype != *dtype {
            return Err(Error::format(
                path,
                format!(
                    "tensor `{name}` has dtype {:?}; allowed: {dtype:?}",
                    info.dtype
                ),
            ));
        }
        if info.shape != *shape {
            return Err(Error::format(
                path,
                format!(
                    "tensor `{name}` has shape {:?}; allowed: {shape:?} from the metadata \
                     (windows {}, seq_len {}, k {})",
                    info.shape, meta.windows, meta.seq_len, meta.k
                ),
            ));
        }
        // safetensors checked that the offsets tile the data section and match the shape.
        *start = data_start + info.data_offsets.0;
    }
    let [rest, values, indices, mask] = starts;
    Ok(Layout {
        rest,
        values,
        indices,
        mask,
        data_len: metadata.data_len(),
    })
}

/// Memory-maps the file at `path` read-only.
fn map_file(path: &Path) -> Result<Mmap> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if len < 8 {
        return Err(Error::format(
            path,
            format!("file is {len} bytes; a safetensors file has at least 8 (truncated?)"),
        ));
    }
    // SAFETY: the map is read-only, and this library never modifies a cache in place
    // (TokenCacheWriter replaces a file by atomic rename, which leaves an open map on the old
    // inode intact). Another process truncating or rewriting the file while it is mapped is
    // outside what any memory map can guard against; docs/token-cache.md says not to.
    #[allow(unsafe_code)]
    let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
    Ok(map)
}
