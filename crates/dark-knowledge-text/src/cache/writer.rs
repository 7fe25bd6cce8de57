//! Writing a token top-k cache, window batch by window batch, atomically.

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use burn::tensor::{Bool, Tensor};
use tempfile::NamedTempFile;

use super::format::{Layout, TokenCacheMeta, TokenChecker, header_bytes, padding_rest};
use super::topk::TokenTopK;
use crate::error::{Error, Result};

/// Writes a cache window batch by window batch, then atomically on [`finish`](Self::finish).
///
/// The file is written to a temporary file in the target's folder (`.<name>.<random>.tmp`),
/// sized up front from the metadata; each [`push`](Self::push) reads its batch to the host,
/// checks it, and writes it in place, so memory stays at one batch (no `windows·seq·(8k+5)`
/// buffer). `finish` fsyncs the file and renames it over `path`. A crash, an error or a writer
/// dropped without `finish` leaves nothing at `path` (an earlier file there is untouched) and
/// removes the temporary file (a crash of the whole process may leave it behind).
///
/// A batch that fails its checks writes nothing, and the writer can go on; after an I/O
/// error every later call fails.
#[derive(Debug)]
pub struct TokenCacheWriter {
    path: PathBuf,
    meta: TokenCacheMeta,
    layout: Layout,
    data_start: u64,
    file: NamedTempFile,
    written: usize,
    checker: TokenChecker,
    failed: bool,
}

/// The bytes of one pushed batch, tensor by tensor.
#[derive(Default)]
struct Encoded {
    indices: Vec<u8>,
    values: Vec<u8>,
    rest: Vec<u8>,
    mask: Vec<u8>,
}

impl TokenCacheWriter {
    /// Checks `meta` and starts a cache that [`finish`](Self::finish) will put at `path`
    /// (its folder is created if missing).
    ///
    /// # Errors
    /// A field of `meta` out of range (`1 ≤ k ≤ vocab_size`, non-zero sizes, a checksum of 64
    /// lowercase hex digits), or the temporary file cannot be created.
    pub fn create(path: &Path, meta: TokenCacheMeta) -> Result<Self> {
        meta.validate(path)?;
        let name = path
            .file_name()
            .ok_or_else(|| Error::format(path, "the cache path does not end in a file name"))?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut file = tempfile::Builder::new()
            .prefix(&format!(".{}.", name.to_string_lossy()))
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(|e| Error::io(dir, e))?;
        let header = header_bytes(path, &meta)?;
        let layout = Layout::of(&meta);
        let total = (header.len() + layout.data_len) as u64;
        let tmp = file.path().to_path_buf();
        file.as_file()
            .set_len(total)
            .map_err(|e| Error::io(&tmp, e))?;
        file.write_all(&header).map_err(|e| Error::io(&tmp, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            checker: TokenChecker::new(meta.vocab_size),
            meta,
            layout,
            data_start: header.len() as u64,
            file,
            written: 0,
            failed: false,
        })
    }

    /// The metadata this writer was created with.
    pub fn meta(&self) -> &TokenCacheMeta {
        &self.meta
    }

    /// Windows pushed so far.
    pub fn windows_written(&self) -> usize {
        self.written
    }

    /// Appends the next windows' top-k (in window order) with their token mask `[b, s]`
    /// (`true` where a token exists).
    ///
    /// Tokens under the mask must have ids in `0..vocab_size`, distinct, finite values and a
    /// rest that is not NaN or +inf; padded tokens are not checked and are stored as ids
    /// `0..k`, logits 0 and rest `ln(V − k)`. With `k = V` the rest is stored as −inf.
    ///
    /// # Errors
    /// Shapes other than `[b, seq_len, k]` / `[b, seq_len]`, more windows than declared, a bad
    /// token (naming the window, position and tensor), or an I/O error.
    pub fn push(&mut self, top_k: &TokenTopK, mask: &Tensor<2, Bool>) -> Result<()> {
        if self.failed {
            return Err(self.failed_error());
        }
        let b = self.check_shapes(top_k, mask)?;
        if b > self.meta.windows - self.written {
            return Err(Error::invalid(
                "windows pushed",
                format!("{} ({} earlier + {b} now)", self.written + b, self.written),
                format!("at most {} (TokenCacheMeta::windows)", self.meta.windows),
            ));
        }
        if b == 0 {
            return Ok(());
        }
        let encoded = self.encode(top_k, mask, b)?;
        if let Err(e) = self.write_batch(&encoded, b) {
            self.failed = true;
            return Err(e);
        }
        self.written += b;
        Ok(())
    }

    /// Checks the batch's shapes against the metadata; returns its number of windows.
    fn check_shapes(&self, top_k: &TokenTopK, mask: &Tensor<2, Bool>) -> Result<usize> {
        let (s, k) = (self.meta.seq_len, self.meta.k);
        let [b, ..] = top_k.indices.dims();
        let want3 = [b, s, k];
        let want2 = [b, s];
        let mismatch = |what, got: &[usize], want: &[usize]| Error::ShapeMismatch {
            what,
            expected: format!("{want:?} (seq_len {s}, k {k} of the cache)"),
            got: format!("{got:?}"),
        };
        let checks3 = [
            ("pushed top-k indices", top_k.indices.dims()),
            ("pushed top-k values", top_k.values.dims()),
        ];
        for (what, got) in checks3 {
            if got != want3 {
                return Err(mismatch(what, &got, &want3));
            }
        }
        let checks2 = [
            ("pushed top-k rest", top_k.rest.dims()),
            ("pushed mask", mask.dims()),
        ];
        for (what, got) in checks2 {
            if got != want2 {
                return Err(mismatch(what, &got, &want2));
            }
        }
        Ok(b)
    }

    /// Reads the batch to the host, checks the tokens under the mask and encodes every token.
    fn encode(&mut self, top_k: &TokenTopK, mask: &Tensor<2, Bool>, b: usize) -> Result<Encoded> {
        let (s, k, v) = (self.meta.seq_len, self.meta.k, self.meta.vocab_size);
        let ids: Vec<i64> = top_k.indices.clone().into_data().iter::<i64>().collect();
        let values: Vec<f32> = top_k.values.clone().into_data().iter::<f32>().collect();
        let rest: Vec<f32> = top_k.rest.clone().into_data().iter::<f32>().collect();
        let mask: Vec<bool> = mask.clone().into_data().iter::<bool>().collect();
        let pad_rest = padding_rest(v, k);
        let mut out = Encoded::default();
        for t in 0..b * s {
            let (ids, values) = (&ids[t * k..][..k], &values[t * k..][..k]);
            if !mask[t] {
                out.indices.extend((0..k as i32).flat_map(i32::to_le_bytes));
                out.values
                    .extend((0..k).flat_map(|_| 0.0_f32.to_le_bytes()));
                out.rest.extend_from_slice(&pad_rest.to_le_bytes());
                out.mask.push(0);
                continue;
            }
            let r = if k == v { f32::NEG_INFINITY } else { rest[t] };
            if let Err((field, found, allowed)) =
                self.checker
                    .check(ids.iter().copied(), values.iter().copied(), r)
            {
                let (window, pos) = (self.written + t / s, t % s);
                let what = format!("{found} at window {window}, position {pos}");
                return Err(Error::InvalidValue {
                    name: field,
                    value: what,
                    allowed,
                });
            }
            // The checker proved every id in 0..vocab ≤ 2³¹, so `as i32` is exact.
            out.indices
                .extend(ids.iter().flat_map(|&i| (i as i32).to_le_bytes()));
            out.values
                .extend(values.iter().flat_map(|v| v.to_le_bytes()));
            out.rest.extend_from_slice(&r.to_le_bytes());
            out.mask.push(1);
        }
        Ok(out)
    }

    /// Writes an encoded batch of `b` windows at its place in each tensor.
    fn write_batch(&mut self, e: &Encoded, b: usize) -> Result<()> {
        let (s, k) = (self.meta.seq_len, self.meta.k);
        let t0 = self.written * s;
        let parts = [
            (self.layout.indices + 4 * k * t0, &e.indices),
            (self.layout.values + 4 * k * t0, &e.values),
            (self.layout.rest + 4 * t0, &e.rest),
            (self.layout.mask + t0, &e.mask),
        ];
        debug_assert_eq!(e.mask.len(), b * s);
        let tmp = self.file.path().to_path_buf();
        for (offset, bytes) in parts {
            let file = self.file.as_file_mut();
            file.seek(SeekFrom::Start(self.data_start + offset as u64))
                .and_then(|_| file.write_all(bytes))
                .map_err(|e| Error::io(&tmp, e))?;
        }
        Ok(())
    }

    fn failed_error(&self) -> Error {
        Error::format(
            &self.path,
            "an earlier write of this cache failed; create a new writer",
        )
    }

    /// Checks that every declared window was pushed, fsyncs the file and renames it over
    /// `path` (then fsyncs the folder, best effort). Returns `path`.
    ///
    /// # Errors
    /// Fewer windows than declared, or an I/O error; either way nothing appears at `path`.
    pub fn finish(self) -> Result<PathBuf> {
        if self.failed {
            return Err(self.failed_error());
        }
        if self.written != self.meta.windows {
            return Err(Error::invalid(
                "windows pushed before finish",
                self.written,
                format!(
                    "exactly {} (TokenCacheMeta::windows); nothing was written to {}",
                    self.meta.windows,
                    self.path.display()
                ),
            ));
        }
        let tmp = self.file.path().to_path_buf();
        self.file
            .as_file()
            .sync_all()
            .map_err(|e| Error::io(&tmp, e))?;
        self.file
            .persist(&self.path)
            .map_err(|e| Error::io(&self.path, e.error))?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(d) = std::fs::File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(self.path)
    }
}
