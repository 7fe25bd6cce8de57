//! Damaged, truncated, padded and garbage files must give typed errors, never panics.

#[path = "cache_common/mod.rs"]
mod common;

use std::path::Path;

use common::{Rng, raw_file, test_dir, write_cache};
use dark_knowledge_data::cache::{CacheDtype, CacheError, TeacherCache};

/// A small valid cache; returns its bytes and the offset where data starts.
fn valid_file(dir: &Path, top_k: Option<usize>) -> (Vec<u8>, usize) {
    let path = dir.join("valid.dktc");
    let logits = Rng(10).logits(7 * 5, 5.0);
    write_cache(&path, &logits, 5, CacheDtype::F32, top_k);
    let bytes = std::fs::read(&path).unwrap();
    let h = u32::from_le_bytes(bytes[6..10].try_into().unwrap()) as usize;
    (bytes, 10 + h)
}

fn open_bytes(dir: &Path, bytes: &[u8]) -> Result<TeacherCache, CacheError> {
    let path = dir.join("probe.dktc");
    std::fs::write(&path, bytes).unwrap();
    TeacherCache::open(&path)
}

#[test]
fn flipped_data_byte_is_checksum_error() {
    let dir = test_dir("flip_data");
    for top_k in [None, Some(2)] {
        let (good, data_start) = valid_file(&dir, top_k);
        assert!(open_bytes(&dir, &good).is_ok());
        // Every data byte plus the CRC itself.
        for pos in data_start..good.len() {
            for mask in [0x01, 0x80] {
                let mut bad = good.clone();
                bad[pos] ^= mask;
                let err = open_bytes(&dir, &bad).unwrap_err();
                assert!(
                    matches!(err, CacheError::Checksum { .. }),
                    "pos {pos}: {err}"
                );
                assert!(err.to_string().contains("probe.dktc"));
            }
        }
    }
}

#[test]
fn flipped_header_byte_is_an_error() {
    let dir = test_dir("flip_header");
    let (good, data_start) = valid_file(&dir, Some(3));
    for pos in 0..data_start {
        for mask in [0x01, 0x20, 0x80] {
            let mut bad = good.clone();
            bad[pos] ^= mask;
            assert!(open_bytes(&dir, &bad).is_err(), "pos {pos} mask {mask:#x}");
        }
    }
}

#[test]
fn truncated_file_is_truncated_error() {
    let dir = test_dir("truncated");
    let (good, _) = valid_file(&dir, None);
    assert!(good.len() > 200);
    for drop in [1, 5, 100, good.len() - 12, good.len() - 3] {
        let err = open_bytes(&dir, &good[..good.len() - drop]).unwrap_err();
        assert!(
            matches!(&err, CacheError::FileLength(l)
                if l.is_truncated() && l.found == (good.len() - drop) as u64),
            "drop {drop}: {err}"
        );
        assert!(err.to_string().contains("truncated"), "{err}");
    }
}

#[test]
fn trailing_bytes_are_an_error() {
    let dir = test_dir("trailing");
    let (good, _) = valid_file(&dir, None);
    for extra in [1, 4, 1000] {
        let mut bad = good.clone();
        bad.extend(std::iter::repeat_n(0u8, extra));
        let err = open_bytes(&dir, &bad).unwrap_err();
        assert!(
            matches!(&err, CacheError::FileLength(l) if !l.is_truncated()),
            "{err}"
        );
        assert!(
            err.to_string().contains(&format!("{extra} trailing bytes")),
            "{err}"
        );
    }
}

#[test]
fn empty_magic_only_and_garbage_are_errors() {
    let dir = test_dir("garbage");
    assert!(matches!(
        open_bytes(&dir, b""),
        Err(CacheError::FileLength(l)) if l.is_truncated()
    ));
    assert!(matches!(
        open_bytes(&dir, b"DKTC"),
        Err(CacheError::FileLength(l)) if l.is_truncated()
    ));
    assert!(matches!(
        open_bytes(&dir, b"DK"),
        Err(CacheError::FileLength(l)) if l.is_truncated()
    ));
    assert!(matches!(
        open_bytes(&dir, b"PK\x03\x04zip"),
        Err(CacheError::BadMagic { .. })
    ));
    let wrong_version = b"DKTC\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00";
    assert!(matches!(
        open_bytes(&dir, wrong_version),
        Err(CacheError::UnsupportedVersion { found: 2, .. })
    ));
    let (good, _) = valid_file(&dir, Some(2));
    let mut rng = Rng(11);
    for i in 0..200 {
        let len = rng.below(300);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        if i % 2 == 1 && len >= 6 {
            // Valid magic and version so the fuzzing reaches deeper checks.
            bytes[..6].copy_from_slice(b"DKTC\x01\x00");
        }
        assert!(open_bytes(&dir, &bytes).is_err(), "random string {i}");
        // Random mutation of a valid file: change 1-3 bytes, maybe resize.
        let mut bad = good.clone();
        for _ in 0..1 + rng.below(3) {
            let pos = rng.below(bad.len());
            bad[pos] ^= 1 + rng.below(255) as u8;
        }
        if i % 3 == 0 {
            bad.truncate(rng.below(bad.len()));
        }
        assert!(open_bytes(&dir, &bad).is_err(), "mutation {i}");
    }
}

const JSON: &str = r#"{"version":1,"num_classes":3,"num_rows":1,"dataset_fingerprint":"0123456789abcdef","teacher_fingerprint":"0123456789abcdef","teacher":"t","dtype":"f32","top_k":null}"#;

#[test]
fn invalid_headers_with_valid_crc_are_header_errors() {
    let dir = test_dir("bad_header");
    let data = [0u8; 12];
    assert!(open_bytes(&dir, &raw_file(JSON, &data)).is_ok());
    let cases = [
        (
            JSON.replace("\"teacher\":", "\"extra\":1,\"teacher\":"),
            "unknown field",
        ),
        (
            JSON.replace("\"num_classes\":3", "\"num_classes\":0"),
            "num_classes",
        ),
        (JSON.replace("\"top_k\":null", "\"top_k\":0"), "top_k"),
        (JSON.replace("\"top_k\":null", "\"top_k\":4"), "top_k"),
        (JSON.replace("\"f32\"", "\"bf16\""), "bf16"),
        (JSON.replace("0123456789abcdef", "xyz"), "fingerprint"),
        (JSON[..40].to_string(), "EOF"),
    ];
    for (json, needle) in cases {
        let err = open_bytes(&dir, &raw_file(&json, &data)).unwrap_err();
        assert!(matches!(err, CacheError::Header { .. }), "{json}: {err}");
        assert!(err.to_string().contains(needle), "{err}");
    }
    let v2 = JSON.replace("\"version\":1", "\"version\":2");
    let err = open_bytes(&dir, &raw_file(&v2, &data)).unwrap_err();
    assert!(matches!(
        err,
        CacheError::UnsupportedVersion {
            found: 2,
            expected: 1,
            ..
        }
    ));
    // Wrong data length for a valid header.
    let err = open_bytes(&dir, &raw_file(JSON, &data[..8])).unwrap_err();
    assert!(
        matches!(&err, CacheError::FileLength(l) if l.is_truncated()),
        "{err}"
    );
}

#[test]
fn forged_crc_bad_rows_are_row_errors_not_panics() {
    let dir = test_dir("forged");
    let json = JSON.replace("\"top_k\":null", "\"top_k\":2");
    let row = |idx: [u32; 2], vals: [f32; 3]| {
        let mut d = Vec::new();
        idx.iter()
            .for_each(|i| d.extend_from_slice(&i.to_le_bytes()));
        vals.iter()
            .for_each(|v| d.extend_from_slice(&v.to_le_bytes()));
        d
    };
    let good = row([1, 0], [2.0, 1.0, 0.5]);
    let cache = open_bytes(&dir, &raw_file(&json, &good)).unwrap();
    let mut out = [0.0; 3];
    cache.dense_row(0, &mut out).unwrap();
    assert_eq!(out, [1.0, 2.0, 0.5]);
    let bad_rows = [
        row([7, 0], [2.0, 1.0, 0.5]),               // index out of range
        row([1, 1], [2.0, 1.0, 0.5]),               // duplicate index
        row([1, 0], [1.0, 2.0, 0.5]),               // not descending
        row([1, 0], [f32::NAN, 1.0, 0.5]),          // NaN logit
        row([1, 0], [2.0, 1.0, f32::NEG_INFINITY]), // -inf rest with k < C
    ];
    for (i, bad) in bad_rows.iter().enumerate() {
        let cache = open_bytes(&dir, &raw_file(&json, bad)).unwrap();
        let e1 = cache.dense_row(0, &mut out).unwrap_err();
        let e2 = cache.topk_row(0).unwrap_err();
        for e in [e1, e2] {
            assert!(
                matches!(e, CacheError::CorruptRow { row: 0, .. }),
                "case {i}: {e}"
            );
        }
    }
    let mut wrong_len = [0.0; 2];
    assert!(matches!(
        cache.dense_row(0, &mut wrong_len),
        Err(CacheError::LengthMismatch {
            expected: 3,
            found: 2,
            ..
        })
    ));
}
