//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use dark_knowledge_data::cache::{CacheDtype, CacheHeader, CacheWriter};

/// Tiny deterministic PRNG (SplitMix64).
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    pub fn logits(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.range(-scale, scale)).collect()
    }
}

/// A fresh, empty directory for one test under cargo's integration-test tmp dir.
pub fn test_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn header(
    num_rows: usize,
    num_classes: usize,
    dtype: CacheDtype,
    top_k: Option<usize>,
) -> CacheHeader {
    CacheHeader {
        version: 1,
        num_classes,
        num_rows,
        dataset_fingerprint: "0123456789abcdef".into(),
        teacher_fingerprint: "fedcba9876543210".into(),
        teacher: "test teacher".into(),
        dtype,
        top_k,
    }
}

/// Writes `logits` (row-major, `num_classes` per row) as a cache at `path`.
pub fn write_cache(
    path: &Path,
    logits: &[f32],
    num_classes: usize,
    dtype: CacheDtype,
    top_k: Option<usize>,
) {
    let h = header(logits.len() / num_classes, num_classes, dtype, top_k);
    let mut w = CacheWriter::create(path, h).unwrap();
    // Push in uneven batches to exercise multi-row pushes.
    let mut rows = logits.chunks(num_classes * 3);
    for batch in &mut rows {
        w.push(batch).unwrap();
    }
    w.finish().unwrap();
}

/// Builds raw file bytes from a JSON header and data section, with a valid CRC.
pub fn raw_file(json: &str, data: &[u8]) -> Vec<u8> {
    let mut v = b"DKTC".to_vec();
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&(json.len() as u32).to_le_bytes());
    v.extend_from_slice(json.as_bytes());
    v.extend_from_slice(data);
    let crc = crc32fast::hash(&v);
    v.extend_from_slice(&crc.to_le_bytes());
    v
}

/// Numerically careful log-sum-exp in f64.
pub fn lse(xs: impl Iterator<Item = f32> + Clone) -> f64 {
    let m = xs
        .clone()
        .fold(f64::NEG_INFINITY, |a, x| a.max(f64::from(x)));
    m + xs.map(|x| (f64::from(x) - m).exp()).sum::<f64>().ln()
}
