//! Memory-mapped, checksum-verified reader for cache files.

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::file_length::{FileKind, FileLength, check_length};

use super::error::{CacheError, Result};
use super::format::{
    CRC_LEN, CacheHeader, FORMAT_VERSION, Layout, MAGIC, PREAMBLE_LEN, select_topk, u32s,
    validate_header, values,
};

/// The top-k view of one cached row.
#[derive(Debug, Clone, PartialEq)]
pub struct TopKRow {
    /// Class indices, sorted by descending logit (ties by lower index).
    pub indices: Vec<u32>,
    /// Logits of those classes, in the same order.
    pub logits: Vec<f32>,
    /// Log-sum-exp of the logits of all other classes
    /// (negative infinity when `indices` covers every class).
    pub rest_lse: f32,
}

/// A read-only, memory-mapped teacher-logit cache with random row access.
///
/// [`TeacherCache::open`] validates the whole file (magic, versions, header,
/// exact length, CRC32) once; afterwards every row lookup is an O(1) offset
/// computation into the map. Row contents are still sanity-checked when read
/// (class indices in range, finite values, ...), so even a file whose checksum
/// was forged never causes a panic.
#[derive(Debug)]
pub struct TeacherCache {
    path: PathBuf,
    map: Mmap,
    header: CacheHeader,
    layout: Layout,
    data_offset: usize,
}

impl TeacherCache {
    /// Opens and fully validates the cache at `path`.
    ///
    /// Checks, in order: magic bytes, format version, header length, header
    /// JSON (unknown fields rejected), header values (`version == 1`,
    /// `num_classes >= 1`, `top_k` in `1..=num_classes`, fingerprints), the
    /// exact file length ([`CacheError::FileLength`]: truncated or trailing
    /// bytes) and finally the CRC32 over the whole map ([`CacheError::Checksum`]).
    ///
    /// The file must not be modified in place while it is open (the writer
    /// never does this: it replaces files by atomic rename).
    pub fn open(path: &Path) -> Result<Self> {
        let map = map_file(path)?;
        let (header, layout, data_offset) = read_header(path, &map)?;
        check_crc(path, &map)?;
        Ok(TeacherCache {
            path: path.to_path_buf(),
            map,
            header,
            layout,
            data_offset,
        })
    }

    /// The file's header.
    pub fn header(&self) -> &CacheHeader {
        &self.header
    }

    /// Path the cache was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of rows (`header().num_rows`).
    pub fn num_rows(&self) -> usize {
        self.header.num_rows
    }

    /// Number of classes (`header().num_classes`).
    pub fn num_classes(&self) -> usize {
        self.header.num_classes
    }

    /// Fails with [`CacheError::FingerprintMismatch`] unless the cache was
    /// made for the dataset whose [`fingerprint`](super::fingerprint) is `fingerprint`.
    pub fn check_dataset(&self, fingerprint: &str) -> Result<()> {
        if self.header.dataset_fingerprint == fingerprint {
            return Ok(());
        }
        Err(CacheError::FingerprintMismatch {
            path: self.path.clone(),
            expected: fingerprint.to_string(),
            found: self.header.dataset_fingerprint.clone(),
        })
    }

    fn corrupt(&self, row: usize, reason: String) -> CacheError {
        CacheError::CorruptRow {
            path: self.path.clone(),
            row,
            reason,
        }
    }

    fn row_bytes(&self, row: usize) -> Result<&[u8]> {
        if row >= self.header.num_rows {
            return Err(CacheError::RowOutOfRange {
                path: self.path.clone(),
                row,
                num_rows: self.header.num_rows,
            });
        }
        let start = self.data_offset + row * self.layout.row_bytes;
        self.map
            .get(start..start + self.layout.row_bytes)
            .ok_or_else(|| self.corrupt(row, "row lies outside the file".into()))
    }

    /// Decodes a top-k row, validating it, calling `f(class, logit)` for
    /// each stored entry in order; returns the rest log-sum-exp.
    fn visit_topk(
        &self,
        row: usize,
        k: usize,
        mut f: impl FnMut(usize, f32) -> std::result::Result<(), String>,
    ) -> Result<f32> {
        let (c, dtype) = (self.header.num_classes, self.header.dtype);
        let bytes = self.row_bytes(row)?;
        let split = bytes
            .split_at_checked(4 * k)
            .and_then(|(idx, rest)| Some((idx, rest.split_at_checked(k * dtype.size_bytes())?)));
        let Some((idx_bytes, (val_bytes, lse_bytes))) = split else {
            return Err(self.corrupt(row, "row is shorter than its layout".into()));
        };
        let mut prev = f32::INFINITY;
        for (i, v) in u32s(idx_bytes).zip(values(val_bytes, dtype)) {
            let i = i as usize;
            if i >= c {
                return Err(self.corrupt(row, format!("class index {i}, expected below {c}")));
            }
            if !v.is_finite() || v > prev {
                return Err(self.corrupt(
                    row,
                    format!("logit {v} of class {i}, expected finite and not above {prev}"),
                ));
            }
            prev = v;
            f(i, v).map_err(|reason| self.corrupt(row, reason))?;
        }
        let rest = values(lse_bytes, dtype).next().unwrap_or(f32::NAN);
        let ok = if k < c {
            rest.is_finite()
        } else {
            rest == f32::NEG_INFINITY
        };
        if !ok {
            let want = if k < c {
                "a finite value"
            } else {
                "-inf (k == num_classes)"
            };
            return Err(self.corrupt(row, format!("rest log-sum-exp is {rest}, expected {want}")));
        }
        Ok(rest)
    }

    /// Writes the dense logits of `row` into `out` (length `num_classes`).
    ///
    /// For a dense cache these are the stored logits (f16 rounded for an f16
    /// cache). For a top-k cache the row is reconstructed with the *uniform
    /// rest* rule: the k stored classes get their stored logits and every
    /// other class gets `rest_lse - ln(C - k)`. At temperature 1 this keeps
    /// the exact softmax probability of every top-k class and the exact total
    /// probability mass of the other classes (spread evenly over them); at
    /// other temperatures it is an approximation.
    pub fn dense_row(&self, row: usize, out: &mut [f32]) -> Result<()> {
        let c = self.header.num_classes;
        if out.len() != c {
            return Err(CacheError::LengthMismatch {
                path: self.path.clone(),
                what: "output buffer for dense_row",
                expected: c,
                found: out.len(),
            });
        }
        let Some(k) = self.header.top_k else {
            let bytes = self.row_bytes(row)?;
            for (class, (o, v)) in out
                .iter_mut()
                .zip(values(bytes, self.header.dtype))
                .enumerate()
            {
                if !v.is_finite() {
                    return Err(
                        self.corrupt(row, format!("class {class} has logit {v}, expected finite"))
                    );
                }
                *o = v;
            }
            return Ok(());
        };
        out.fill(f32::NAN);
        let rest = self.visit_topk(row, k, |i, v| match out.get_mut(i) {
            Some(o) if o.is_nan() => {
                *o = v;
                Ok(())
            }
            _ => Err(format!(
                "class index {i} appears twice, expected distinct indices"
            )),
        })?;
        if k < c {
            let fill = (f64::from(rest) - ((c - k) as f64).ln()) as f32;
            out.iter_mut()
                .filter(|o| o.is_nan())
                .for_each(|o| *o = fill);
        }
        Ok(())
    }

    /// The top-k view of `row`.
    ///
    /// For a top-k cache this is the stored data. For a dense cache it is
    /// computed from the dense row with `k = num_classes`: all classes sorted
    /// by descending logit (ties by lower index) and `rest_lse = -inf`.
    pub fn topk_row(&self, row: usize) -> Result<TopKRow> {
        let c = self.header.num_classes;
        let Some(k) = self.header.top_k else {
            let mut dense = vec![0.0; c];
            self.dense_row(row, &mut dense)?;
            let mut indices = Vec::with_capacity(c);
            let rest_lse = select_topk(&dense, c, &mut indices);
            let logits = indices.iter().map(|&i| dense[i as usize]).collect();
            return Ok(TopKRow {
                indices,
                logits,
                rest_lse,
            });
        };
        let mut seen = vec![false; c];
        let (mut indices, mut logits) = (Vec::with_capacity(k), Vec::with_capacity(k));
        let rest_lse = self.visit_topk(row, k, |i, v| match seen.get_mut(i) {
            Some(s) if !*s => {
                *s = true;
                indices.push(i as u32);
                logits.push(v);
                Ok(())
            }
            _ => Err(format!(
                "class index {i} appears twice, expected distinct indices"
            )),
        })?;
        Ok(TopKRow {
            indices,
            logits,
            rest_lse,
        })
    }

    /// Appends the dense logits (see [`TeacherCache::dense_row`]) of each row
    /// in `rows`, in order, to `out`. Fails with
    /// [`CacheError::RowOutOfRange`] before reading anything if any row is out
    /// of range; on any error `out` is left as it was.
    pub fn rows(&self, rows: &[usize], out: &mut Vec<f32>) -> Result<()> {
        if let Some(&row) = rows.iter().find(|&&r| r >= self.header.num_rows) {
            return Err(CacheError::RowOutOfRange {
                path: self.path.clone(),
                row,
                num_rows: self.header.num_rows,
            });
        }
        let (start, c) = (out.len(), self.header.num_classes);
        for &row in rows {
            let at = out.len();
            out.resize(at + c, 0.0);
            if let Err(e) = self.dense_row(row, &mut out[at..]) {
                out.truncate(start);
                return Err(e);
            }
        }
        Ok(())
    }
}

/// Memory-maps the cache file at `path`; an empty file is truncated ([`CacheError::FileLength`]).
fn map_file(path: &Path) -> Result<Mmap> {
    let io = |action: &'static str| {
        move |source| CacheError::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    };
    let file = File::open(path).map_err(io("opening"))?;
    let file_len = file.metadata().map_err(io("reading metadata of"))?.len();
    if file_len == 0 {
        let min_len = (PREAMBLE_LEN + CRC_LEN) as u64;
        return Err(FileLength::new(path, FileKind::TeacherCache, min_len, 0).into());
    }
    // SAFETY: the map is read-only and this library never modifies cache
    // files in place (CacheWriter replaces them by atomic rename). As with
    // any mmap, another process truncating or rewriting the file while it
    // is mapped is outside what we can guard against; this is documented.
    #[allow(unsafe_code)]
    let map = unsafe { Mmap::map(&file) }.map_err(io("memory-mapping"))?;
    Ok(map)
}

/// Checks the magic bytes, the format version, the header and the exact file length of the
/// cache `bytes` (from `path`); returns the header, its layout and where the rows start.
fn read_header(path: &Path, bytes: &[u8]) -> Result<(CacheHeader, Layout, usize)> {
    let found = bytes.len() as u64;
    let magic_len = bytes.len().min(MAGIC.len());
    if bytes[..magic_len] != MAGIC[..magic_len] {
        return Err(CacheError::BadMagic {
            path: path.to_path_buf(),
            found: bytes[..magic_len].to_vec(),
        });
    }
    let truncated = |expected: u64| FileLength::new(path, FileKind::TeacherCache, expected, found);
    let Some(&[_, _, _, _, v0, v1, h0, h1, h2, h3]) = bytes.get(..PREAMBLE_LEN) else {
        return Err(truncated((PREAMBLE_LEN + CRC_LEN) as u64).into());
    };
    let version = u16::from_le_bytes([v0, v1]);
    if version != FORMAT_VERSION {
        return Err(CacheError::UnsupportedVersion {
            path: path.to_path_buf(),
            what: "format version",
            found: u64::from(version),
            expected: u64::from(FORMAT_VERSION),
        });
    }
    let header_len = u32::from_le_bytes([h0, h1, h2, h3]) as usize;
    let data_offset = PREAMBLE_LEN + header_len;
    let Some(json) = bytes
        .get(PREAMBLE_LEN..data_offset)
        .filter(|_| data_offset + CRC_LEN <= bytes.len())
    else {
        return Err(truncated((data_offset + CRC_LEN) as u64).into());
    };
    let header: CacheHeader = serde_json::from_slice(json).map_err(|e| CacheError::Header {
        path: path.to_path_buf(),
        reason: format!("{e}; expected a JSON object with exactly the CacheHeader fields"),
    })?;
    let layout = validate_header(path, &header)?;
    let expected = data_offset
        .checked_add(layout.data_bytes)
        .and_then(|n| n.checked_add(CRC_LEN))
        .ok_or_else(|| CacheError::Header {
            path: path.to_path_buf(),
            reason: "num_rows x row size overflows the address space".into(),
        })? as u64;
    check_length(path, FileKind::TeacherCache, expected, found)?;
    Ok((header, layout, data_offset))
}

/// Checks the CRC32 stored in the last bytes of `bytes` against the rest.
fn check_crc(path: &Path, bytes: &[u8]) -> Result<()> {
    let (body, crc_bytes) = bytes.split_at(bytes.len() - CRC_LEN);
    let stored = u32s(crc_bytes).next().unwrap_or(0);
    let mut hasher = crc32fast::Hasher::new();
    for chunk in body.chunks(1 << 20) {
        hasher.update(chunk);
    }
    let computed = hasher.finalize();
    if stored != computed {
        return Err(CacheError::Checksum {
            path: path.to_path_buf(),
            stored,
            computed,
        });
    }
    Ok(())
}
