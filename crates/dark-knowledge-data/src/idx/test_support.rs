//! Test fixtures for the IDX reader: temporary folders and IDX files built in memory.

use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// 3 images of 2x3, with pixels that scale to round values (255 -> 1.0, 51 -> 0.2).
pub(crate) const PIXELS: [u8; 18] = [
    255, 0, 51, 102, 153, 204, //
    0, 0, 0, 0, 0, 0, //
    255, 255, 255, 51, 51, 51,
];

/// A unique directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "dk-idx-test-{}-{tag}-{n}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `bytes` to `name` in this directory and returns its path.
    pub(crate) fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).expect("write fixture");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Builds IDX bytes with the given type code, dims and data.
pub(crate) fn idx_bytes(code: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = super::encode_idx_u8(dims, data);
    v[2] = code;
    v
}

/// A valid images file of `n` images of `rows`x`cols`, pixels from `data`.
pub(crate) fn images_bytes(n: u32, rows: u32, cols: u32, data: &[u8]) -> Vec<u8> {
    idx_bytes(0x08, &[n, rows, cols], data)
}

/// A valid labels file.
pub(crate) fn labels_bytes(labels: &[u8]) -> Vec<u8> {
    idx_bytes(0x08, &[labels.len() as u32], labels)
}

/// Gzip-compresses `bytes`.
pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}
