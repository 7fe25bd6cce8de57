//! Streaming, atomic writer for cache files.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::error::{CacheError, Result};
use super::format::{
    CacheHeader, FORMAT_VERSION, Layout, MAGIC, put_value, select_topk, validate_header,
};

/// Writes a cache file row by row.
///
/// Data goes to a temporary file `.<name>.tmp-<pid>` next to the target path;
/// [`CacheWriter::finish`] appends the CRC, fsyncs and atomically renames it
/// over the target, so readers never see a half-written cache. If the writer
/// is dropped without a successful `finish`, the temporary file is removed.
///
/// Two writers for the same target path in the same process would share the
/// temporary file name; do not do that.
#[derive(Debug)]
pub struct CacheWriter {
    path: PathBuf,
    tmp_path: PathBuf,
    out: Option<BufWriter<File>>,
    hasher: crc32fast::Hasher,
    header: CacheHeader,
    layout: Layout,
    rows_written: usize,
    scratch: Vec<u8>,
    order: Vec<u32>,
    failed: bool,
    done: bool,
}

impl CacheWriter {
    /// Validates `header` and starts writing a cache that will end up at `path`.
    ///
    /// Writes the magic, format version and JSON header to the temporary file.
    pub fn create(path: &Path, header: CacheHeader) -> Result<Self> {
        let layout = validate_header(path, &header)?;
        let name = path.file_name().ok_or_else(|| CacheError::InvalidPath {
            path: path.to_path_buf(),
            reason: "expected a path ending in a file name".into(),
        })?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let tmp_name = format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id());
        let tmp_path = dir.join(tmp_name);
        std::fs::create_dir_all(dir).map_err(|source| CacheError::Io {
            path: dir.to_path_buf(),
            action: "creating the folder of",
            source,
        })?;
        let file = File::create(&tmp_path).map_err(|source| CacheError::Io {
            path: tmp_path.clone(),
            action: "creating temporary file",
            source,
        })?;
        let json = serde_json::to_vec(&header).map_err(|e| CacheError::Header {
            path: path.to_path_buf(),
            reason: format!("cannot serialize header: {e}"),
        })?;
        let json_len = u32::try_from(json.len()).map_err(|_| CacheError::Header {
            path: path.to_path_buf(),
            reason: format!(
                "JSON header is {} bytes, expected at most 4 GiB",
                json.len()
            ),
        })?;
        let mut w = CacheWriter {
            path: path.to_path_buf(),
            tmp_path,
            out: Some(BufWriter::with_capacity(1 << 20, file)),
            hasher: crc32fast::Hasher::new(),
            header,
            layout,
            rows_written: 0,
            scratch: Vec::new(),
            order: Vec::new(),
            failed: false,
            done: false,
        };
        let mut pre = Vec::with_capacity(10 + json.len());
        pre.extend_from_slice(&MAGIC);
        pre.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        pre.extend_from_slice(&json_len.to_le_bytes());
        pre.extend_from_slice(&json);
        w.write_hashed(&pre)?;
        Ok(w)
    }

    /// The header this writer was created with.
    pub fn header(&self) -> &CacheHeader {
        &self.header
    }

    /// Number of rows pushed so far.
    pub fn rows_written(&self) -> usize {
        self.rows_written
    }

    fn write_hashed(&mut self, bytes: &[u8]) -> Result<()> {
        let out = match (&mut self.out, self.failed) {
            (Some(out), false) => out,
            _ => {
                return Err(CacheError::WriterFailed {
                    path: self.path.clone(),
                });
            }
        };
        if let Err(source) = out.write_all(bytes) {
            self.failed = true;
            return Err(CacheError::Io {
                path: self.tmp_path.clone(),
                action: "writing",
                source,
            });
        }
        self.hasher.update(bytes);
        Ok(())
    }

    /// Appends whole rows of raw (temperature 1, un-normalized) dense logits.
    ///
    /// `logits.len()` must be a multiple of `num_classes`; the rows are
    /// converted to the header's dtype and, for a top-k cache, reduced to
    /// their top k plus the log-sum-exp of the rest. Non-finite logits and
    /// values that overflow f16 are rejected with an error naming the row;
    /// on any validation error nothing from this call is written.
    pub fn push(&mut self, logits: &[f32]) -> Result<()> {
        if self.failed {
            return Err(CacheError::WriterFailed {
                path: self.path.clone(),
            });
        }
        let c = self.header.num_classes;
        if !logits.len().is_multiple_of(c) {
            return Err(CacheError::PartialRow {
                path: self.path.clone(),
                len: logits.len(),
                num_classes: c,
            });
        }
        let n = logits.len() / c;
        if n > self.header.num_rows - self.rows_written {
            return Err(CacheError::TooManyRows {
                path: self.path.clone(),
                written: self.rows_written,
                pushing: n,
                num_rows: self.header.num_rows,
            });
        }
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        buf.reserve(n * self.layout.row_bytes);
        let base = self.rows_written;
        let encoded = logits
            .chunks_exact(c)
            .enumerate()
            .try_for_each(|(i, row)| self.encode_row(base + i, row, &mut buf));
        let result = encoded.and_then(|()| self.write_hashed(&buf));
        self.scratch = buf;
        result?;
        self.rows_written += n;
        Ok(())
    }

    fn encode_row(&mut self, row_idx: usize, row: &[f32], buf: &mut Vec<u8>) -> Result<()> {
        if let Some((class, &value)) = row.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(CacheError::NonFiniteLogit {
                path: self.path.clone(),
                row: row_idx,
                class,
                value,
            });
        }
        let dtype = self.header.dtype;
        let overflow = |value: f32| CacheError::Unrepresentable {
            path: self.path.clone(),
            row: row_idx,
            value,
        };
        let Some(k) = self.header.top_k else {
            for &v in row {
                if !put_value(buf, dtype, v) {
                    return Err(overflow(v));
                }
            }
            return Ok(());
        };
        let rest = select_topk(row, k, &mut self.order);
        let top = &self.order[..k];
        for &i in top {
            buf.extend_from_slice(&i.to_le_bytes());
        }
        for &i in top {
            let v = row[i as usize];
            if !put_value(buf, dtype, v) {
                return Err(overflow(v));
            }
        }
        if !put_value(buf, dtype, rest) {
            return Err(overflow(rest));
        }
        Ok(())
    }

    /// Completes the file: checks that exactly `num_rows` rows were pushed,
    /// appends the CRC32, fsyncs and atomically renames the temporary file
    /// over the target path (then best-effort fsyncs the directory).
    ///
    /// On error the temporary file is removed and nothing appears at the path.
    pub fn finish(mut self) -> Result<()> {
        if self.rows_written != self.header.num_rows {
            return Err(CacheError::RowCount {
                path: self.path.clone(),
                expected: self.header.num_rows,
                found: self.rows_written,
            });
        }
        let crc = self.hasher.clone().finalize();
        self.write_hashed(&crc.to_le_bytes())?;
        let io = |action: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| CacheError::Io {
                path,
                action,
                source,
            }
        };
        let out = self.out.take().ok_or_else(|| CacheError::WriterFailed {
            path: self.path.clone(),
        })?;
        let file = out
            .into_inner()
            .map_err(|e| io("flushing", &self.tmp_path)(e.into_error()))?;
        file.sync_all().map_err(io("fsyncing", &self.tmp_path))?;
        drop(file);
        std::fs::rename(&self.tmp_path, &self.path)
            .map_err(io("renaming temporary file over", &self.path))?;
        self.done = true;
        if let Some(dir) = self.path.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

impl Drop for CacheWriter {
    fn drop(&mut self) {
        if !self.done {
            drop(self.out.take());
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}
