//! Teacher-logit cache files for knowledge distillation.
//!
//! A teacher model is run once over a dataset and its raw logits (no
//! temperature applied) are stored in a compact, checksummed, memory-mappable
//! file. Training runs then read the logits of any row in O(1) instead of
//! re-running the teacher.
//!
//! # File format (all integers little-endian)
//!
//! ```text
//! b"DKTC" | u16 format version (1) | u32 header length H | H bytes JSON header
//!         | data section | u32 CRC32 of every byte before it
//! ```
//!
//! The JSON header is a [`CacheHeader`]. The data section holds `num_rows`
//! fixed-size rows, so row `i` starts at `data_offset + i * row_bytes`:
//!
//! * dense (`top_k == None`): `num_classes` values in [`CacheDtype`].
//! * top-k (`top_k == Some(k)`, `1 <= k <= num_classes`): `k` `u32` class
//!   indices (descending logit, ties broken by lower index), then the `k`
//!   logits in the dtype, then one value in the dtype: the log-sum-exp of the
//!   other `C - k` logits (negative infinity when `k == C`).
//!
//! Write files with [`CacheWriter`], read them with [`TeacherCache`], and tie
//! a cache to its dataset with [`fingerprint`] / [`TeacherCache::check_dataset`].
//!
//! ```no_run
//! use std::path::Path;
//! use dark_knowledge_data::cache::{CacheDtype, CacheHeader, CacheWriter, TeacherCache, fingerprint};
//!
//! # fn main() -> dark_knowledge_data::cache::Result<()> {
//! let inputs = vec![0.5_f32; 2 * 8]; // 2 dataset rows of 8 features
//! let row_ids = [0, 1];
//! let header = CacheHeader {
//!     version: 1,
//!     num_classes: 3,
//!     num_rows: 2,
//!     dataset_fingerprint: fingerprint(&inputs, &row_ids),
//!     teacher_fingerprint: fingerprint(&[1.0, 2.0], &[]),
//!     teacher: "resnet-ish, epoch 90".into(),
//!     dtype: CacheDtype::F16,
//!     top_k: Some(2),
//! };
//! let path = Path::new("teacher.dktc");
//! let mut writer = CacheWriter::create(path, header)?;
//! writer.push(&[2.0, -1.0, 0.5, 0.1, 0.2, 3.0])?; // two rows of raw logits
//! writer.finish()?;
//!
//! let cache = TeacherCache::open(path)?;
//! cache.check_dataset(&fingerprint(&inputs, &row_ids))?;
//! let mut logits = vec![0.0; cache.num_classes()];
//! cache.dense_row(1, &mut logits)?;
//! # Ok(())
//! # }
//! ```
//!
//! Every failure is reported as a typed [`CacheError`] naming the file, what
//! is wrong and what was expected; no input (however corrupt) causes a panic.

mod error;
mod format;
mod reader;
mod writer;

pub use error::{CacheError, Result};
pub use format::{CacheDtype, CacheHeader, FORMAT_VERSION, MAGIC};
pub use reader::{TeacherCache, TopKRow};
pub use writer::CacheWriter;

/// BLAKE3 fingerprint of a dataset (or a teacher's parameters): 32 lowercase hexadecimal
/// digits (the hash's first 128 bits).
///
/// Hashes, in order: the row count `row_ids.len()` as `u64` LE, every row id as `u64` LE,
/// then the bit pattern of every value in `values` as `u32` LE. It identifies the inputs
/// *and their order*: changing one value (even just its bit pattern, e.g. `0.0` vs `-0.0`)
/// or swapping two rows changes it.
pub fn fingerprint(values: &[f32], row_ids: &[usize]) -> String {
    let mut h = blake3::Hasher::new();
    feed(values, row_ids, |bytes| {
        h.update(bytes);
    });
    let hash = h.finalize();
    hash.to_hex()[..32].to_string()
}

/// The 16-hex-digit FNV-1a fingerprint over the same bytes as [`fingerprint`], which
/// earlier versions wrote into caches and study keys; still accepted when reading them
/// ([`fingerprint_matches`]).
pub fn legacy_fingerprint(values: &[f32], row_ids: &[usize]) -> String {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET_BASIS;
    feed(values, row_ids, |bytes| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(PRIME);
        }
    });
    format!("{h:016x}")
}

/// The fingerprint of `values` and `row_ids` in the flavour of `stored`: a
/// [`legacy_fingerprint`] when `stored` has its 16 digits (written by an earlier version),
/// a [`fingerprint`] otherwise — the value to compare `stored` with.
pub fn fingerprint_like(stored: &str, values: &[f32], row_ids: &[usize]) -> String {
    if stored.len() == 16 {
        legacy_fingerprint(values, row_ids)
    } else {
        fingerprint(values, row_ids)
    }
}

/// Whether `stored` — a [`fingerprint`], or a [`legacy_fingerprint`] written by an earlier
/// version (16 digits) — is the fingerprint of `values` and `row_ids`.
pub fn fingerprint_matches(stored: &str, values: &[f32], row_ids: &[usize]) -> bool {
    stored == fingerprint_like(stored, values, row_ids)
}

/// The bytes both fingerprints hash, in chunks of at most 64 KiB.
fn feed(values: &[f32], row_ids: &[usize], mut eat: impl FnMut(&[u8])) {
    const CHUNK: usize = 1 << 14;
    eat(&(row_ids.len() as u64).to_le_bytes());
    let mut buf = Vec::with_capacity(CHUNK * 8);
    for ids in row_ids.chunks(CHUNK) {
        buf.clear();
        ids.iter()
            .for_each(|&id| buf.extend_from_slice(&(id as u64).to_le_bytes()));
        eat(&buf);
    }
    for vs in values.chunks(CHUNK) {
        buf.clear();
        vs.iter()
            .for_each(|v| buf.extend_from_slice(&v.to_bits().to_le_bytes()));
        eat(&buf);
    }
}
