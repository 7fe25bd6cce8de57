//! Streaming, atomic writer of row stores.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::error::{Result, StoreError};
use super::format::{HEADER_LEN, StoreHeader, check_shape};

/// Buffer of the feature stream (the only part of the writer whose size depends on the data
/// shape is one encoded row).
const FEATURE_BUFFER: usize = 1 << 20;
/// Buffer of the label stream and of the final copy of the labels.
const LABEL_BUFFER: usize = 1 << 16;

/// Writes a row store row by row, in memory that does not grow with the number of rows.
///
/// Features stream into a temporary file `.<name>.tmp-<pid>-<n>` in the folder of the target
/// path (behind a placeholder header), labels into a second temporary file
/// `.<name>.labels-<pid>-<n>`. [`RowStoreWriter::finish`] appends the labels and the payload
/// CRC32, writes the header (the row count is known only then), fsyncs and renames the file
/// over the target path. Until then nothing exists at the target path and an existing file
/// there is untouched; dropping the writer without a successful `finish` (an error, a panic
/// unwinding) removes the temporary files. A killed process can leave temporary files behind,
/// never a partial store.
#[derive(Debug)]
pub struct RowStoreWriter {
    path: PathBuf,
    tmp_path: PathBuf,
    labels_path: PathBuf,
    features: Option<BufWriter<File>>,
    labels: Option<BufWriter<File>>,
    hasher: crc32fast::Hasher,
    num_features: usize,
    num_classes: usize,
    rows: usize,
    unlabeled: usize,
    scratch: Vec<u8>,
    failed: bool,
    done: bool,
}

impl RowStoreWriter {
    /// Starts a store that will end up at `path`, with `num_features` values per row
    /// (at least 1) and labels in `0..num_classes` (`num_classes` in `1..=i32::MAX`).
    ///
    /// Creates the folder of `path` if needed, and the two temporary files.
    pub fn create(path: &Path, num_features: usize, num_classes: usize) -> Result<Self> {
        if let Err((what, value, allowed)) = check_shape(num_features, num_classes) {
            return Err(StoreError::InvalidShape {
                path: path.to_path_buf(),
                what,
                value,
                allowed,
            });
        }
        let name = path.file_name().ok_or_else(|| StoreError::InvalidPath {
            path: path.to_path_buf(),
            reason: "expected a path ending in a file name",
        })?;
        let dir = folder_of(path);
        std::fs::create_dir_all(dir).map_err(io(dir, "creating the folder"))?;
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let tag = format!(
            "{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let name = name.to_string_lossy();
        let tmp_path = dir.join(format!(".{name}.tmp-{tag}"));
        let labels_path = dir.join(format!(".{name}.labels-{tag}"));
        let mut w = RowStoreWriter {
            path: path.to_path_buf(),
            tmp_path,
            labels_path,
            features: None,
            labels: None,
            hasher: crc32fast::Hasher::new(),
            num_features,
            num_classes,
            rows: 0,
            unlabeled: 0,
            scratch: Vec::with_capacity(num_features.saturating_mul(4).min(FEATURE_BUFFER)),
            failed: false,
            done: false,
        };
        let features = create_new(&w.tmp_path)?;
        w.features = Some(BufWriter::with_capacity(FEATURE_BUFFER, features));
        let labels = create_new(&w.labels_path)?;
        w.labels = Some(BufWriter::with_capacity(LABEL_BUFFER, labels));
        // Placeholder for the header, written at `finish`; not part of the payload CRC.
        w.write_features(&[0u8; HEADER_LEN], false)?;
        Ok(w)
    }

    /// The path the store will have after [`RowStoreWriter::finish`].
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Feature values per row.
    pub fn num_features(&self) -> usize {
        self.num_features
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// Rows pushed so far.
    pub fn rows_written(&self) -> usize {
        self.rows
    }

    /// Appends one row: `num_features` finite values and its class (`None` for a row without
    /// label). A refused row is an error naming its index (the number of rows accepted before
    /// it) and leaves the writer as it was, so the caller may skip it and go on.
    pub fn push(&mut self, features: &[f32], label: Option<usize>) -> Result<()> {
        if self.failed {
            return Err(StoreError::WriterFailed {
                path: self.path.clone(),
            });
        }
        let row = self.rows;
        if features.len() != self.num_features {
            return Err(StoreError::RowLength {
                path: self.path.clone(),
                row,
                expected: self.num_features,
                found: features.len(),
            });
        }
        if let Some((column, &value)) = features.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(StoreError::NonFinite {
                path: self.path.clone(),
                row,
                column,
                value,
            });
        }
        let raw = match label {
            None => crate::UNLABELED as i32,
            Some(label) if label < self.num_classes => label as i32,
            Some(label) => {
                return Err(StoreError::LabelOutOfRange {
                    path: self.path.clone(),
                    row,
                    label,
                    num_classes: self.num_classes,
                });
            }
        };
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        buf.extend(features.iter().flat_map(|v| v.to_le_bytes()));
        let written = self
            .write_features(&buf, true)
            .and_then(|()| self.write_label(raw));
        self.scratch = buf;
        written?;
        self.rows += 1;
        self.unlabeled += usize::from(label.is_none());
        Ok(())
    }

    /// Appends `bytes` to the feature stream, adding them to the payload CRC when `hashed`.
    fn write_features(&mut self, bytes: &[u8], hashed: bool) -> Result<()> {
        let result = match (&mut self.features, self.failed) {
            (Some(out), false) => out.write_all(bytes),
            _ => {
                return Err(StoreError::WriterFailed {
                    path: self.path.clone(),
                });
            }
        };
        self.check(result, Stream::Features)?;
        if hashed {
            self.hasher.update(bytes);
        }
        Ok(())
    }

    fn write_label(&mut self, raw: i32) -> Result<()> {
        let result = match (&mut self.labels, self.failed) {
            (Some(out), false) => out.write_all(&raw.to_le_bytes()),
            _ => {
                return Err(StoreError::WriterFailed {
                    path: self.path.clone(),
                });
            }
        };
        self.check(result, Stream::Labels)
    }

    /// Turns an I/O result into the writer's error, marking the writer failed.
    fn check<T>(&mut self, result: std::io::Result<T>, stream: Stream) -> Result<T> {
        result.map_err(|source| {
            self.failed = true;
            let path = match stream {
                Stream::Features => self.tmp_path.clone(),
                Stream::Labels => self.labels_path.clone(),
            };
            StoreError::Io {
                path,
                action: "writing",
                source,
            }
        })
    }

    /// Completes the store: appends the labels and the payload CRC32, writes the header,
    /// fsyncs, and renames the file over the target path (then fsyncs the folder, best
    /// effort). Returns the header written.
    ///
    /// On error the temporary files are removed and the target path is untouched.
    pub fn finish(mut self) -> Result<StoreHeader> {
        let header = StoreHeader {
            num_features: self.num_features,
            num_classes: self.num_classes,
            num_rows: self.rows,
            num_unlabeled: self.unlabeled,
        };
        if let Err(reason) = header.layout() {
            return Err(StoreError::CorruptHeader {
                path: self.path.clone(),
                reason,
            });
        }
        let labels = self.labels.take().map(BufWriter::into_inner);
        let mut labels = match labels {
            Some(Ok(file)) if !self.failed => file,
            Some(Err(e)) => {
                return Err(io(&self.labels_path, "flushing")(e.into_error()));
            }
            _ => {
                return Err(StoreError::WriterFailed {
                    path: self.path.clone(),
                });
            }
        };
        labels
            .seek(SeekFrom::Start(0))
            .map_err(io(&self.labels_path, "rewinding"))?;
        let mut buf = vec![0u8; LABEL_BUFFER];
        loop {
            let n = labels
                .read(&mut buf)
                .map_err(io(&self.labels_path, "reading back"))?;
            if n == 0 {
                break;
            }
            self.write_features(&buf[..n], true)?;
        }
        let crc = self.hasher.clone().finalize();
        self.write_features(&crc.to_le_bytes(), false)?;
        let out = self.features.take().map(BufWriter::into_inner);
        let Some(out) = out else {
            return Err(StoreError::WriterFailed {
                path: self.path.clone(),
            });
        };
        let mut file = out.map_err(|e| io(&self.tmp_path, "flushing")(e.into_error()))?;
        let tmp = self.tmp_path.clone();
        file.seek(SeekFrom::Start(0))
            .and_then(|_| file.write_all(&header.to_bytes()))
            .map_err(io(&tmp, "writing the header"))?;
        file.sync_all().map_err(io(&tmp, "fsyncing"))?;
        drop(file);
        std::fs::rename(&tmp, &self.path)
            .map_err(io(&self.path, "renaming the temporary file to"))?;
        self.done = true;
        if let Ok(dir) = File::open(folder_of(&self.path)) {
            let _ = dir.sync_all();
        }
        Ok(header)
    }
}

impl Drop for RowStoreWriter {
    fn drop(&mut self) {
        drop(self.labels.take());
        let _ = std::fs::remove_file(&self.labels_path);
        if !self.done {
            drop(self.features.take());
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}

#[derive(Clone, Copy)]
enum Stream {
    Features,
    Labels,
}

/// The folder a path lives in (`.` for a bare file name).
fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

fn io(path: &Path, action: &'static str) -> impl FnOnce(std::io::Error) -> StoreError + use<> {
    let path = path.to_path_buf();
    move |source| StoreError::Io {
        path,
        action,
        source,
    }
}

fn create_new(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io(path, "creating a temporary file"))
}
