//! Round trips: dense f32/f16, top-k, fingerprints, large random access.

#[path = "cache_common/mod.rs"]
mod common;

use common::{Rng, header, lse, test_dir, write_cache};
use dark_knowledge_data::cache::{
    CacheDtype, CacheError, CacheWriter, TeacherCache, fingerprint, fingerprint_matches,
    legacy_fingerprint,
};

fn read_all(cache: &TeacherCache) -> Vec<f32> {
    let mut out = Vec::new();
    let rows: Vec<usize> = (0..cache.num_rows()).collect();
    cache.rows(&rows, &mut out).unwrap();
    out
}

#[test]
fn f32_dense_round_trip_is_bit_exact() {
    let dir = test_dir("f32_dense");
    let mut rng = Rng(1);
    let mut logits = rng.logits(13 * 7, 30.0);
    // Awkward bit patterns: signed zero, subnormal, extremes.
    logits[..5].copy_from_slice(&[-0.0, 1e-40, -f32::MAX, f32::MAX, f32::MIN_POSITIVE]);
    let path = dir.join("c.dktc");
    write_cache(&path, &logits, 7, CacheDtype::F32, None);
    let cache = TeacherCache::open(&path).unwrap();
    assert_eq!(cache.header().num_rows, 13);
    let back = read_all(&cache);
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&back), bits(&logits));
    // dense_row agrees with rows(), row by row.
    let mut row = vec![0.0; 7];
    cache.dense_row(12, &mut row).unwrap();
    assert_eq!(bits(&row), bits(&logits[12 * 7..]));
}

#[test]
fn f16_dense_round_trip_is_close_and_file_is_smaller() {
    let dir = test_dir("f16_dense");
    let mut rng = Rng(2);
    let logits: Vec<f32> = (0..40 * 16)
        .map(|_| {
            let mag = rng.range(0.1, 20.0);
            if rng.next_u64() & 1 == 0 { mag } else { -mag }
        })
        .collect();
    let (p16, p32) = (dir.join("h.dktc"), dir.join("s.dktc"));
    write_cache(&p16, &logits, 16, CacheDtype::F16, None);
    write_cache(&p32, &logits, 16, CacheDtype::F32, None);
    let back = read_all(&TeacherCache::open(&p16).unwrap());
    for (a, b) in logits.iter().zip(&back) {
        assert!((a - b).abs() <= 1e-3 * a.abs(), "{a} vs {b}");
    }
    let size = |p| std::fs::metadata(p).unwrap().len();
    assert!(size(&p16) < size(&p32), "{} vs {}", size(&p16), size(&p32));
}

/// Reference top-k: descending logit, ties by lower index; f64 rest lse.
fn reference_topk(row: &[f32], k: usize) -> (Vec<u32>, Vec<f32>, f64) {
    let mut idx: Vec<usize> = (0..row.len()).collect();
    idx.sort_by(|&a, &b| row[b].partial_cmp(&row[a]).unwrap().then(a.cmp(&b)));
    let rest = lse(idx[k..].iter().map(|&i| row[i]));
    (
        idx[..k].iter().map(|&i| i as u32).collect(),
        idx[..k].iter().map(|&i| row[i]).collect(),
        rest,
    )
}

#[test]
fn topk_row_matches_direct_computation() {
    let dir = test_dir("topk_direct");
    let (c, k, n) = (50, 5, 40);
    let mut rng = Rng(3);
    let mut logits = rng.logits(n * c, 12.0);
    // Some rows with many ties (integer logits) to check the tie order.
    for v in &mut logits[..5 * c] {
        *v = v.round() / 4.0;
    }
    let path = dir.join("t.dktc");
    write_cache(&path, &logits, c, CacheDtype::F32, Some(k));
    let cache = TeacherCache::open(&path).unwrap();
    for r in 0..n {
        let row = &logits[r * c..(r + 1) * c];
        let (idx, vals, rest) = reference_topk(row, k);
        let got = cache.topk_row(r).unwrap();
        assert_eq!(got.indices, idx, "row {r}");
        assert_eq!(got.logits, vals, "row {r}");
        assert!((f64::from(got.rest_lse) - rest).abs() < 1e-5, "row {r}");
    }
}

fn softmax(xs: &[f32]) -> Vec<f64> {
    let z = lse(xs.iter().copied());
    xs.iter().map(|&x| (f64::from(x) - z).exp()).collect()
}

#[test]
fn topk_dense_reconstruction_preserves_topk_probs_and_rest_mass() {
    let dir = test_dir("topk_recon");
    let (c, k, n) = (30, 4, 25);
    let mut rng = Rng(4);
    let logits = rng.logits(n * c, 8.0);
    let path = dir.join("t.dktc");
    write_cache(&path, &logits, c, CacheDtype::F32, Some(k));
    let cache = TeacherCache::open(&path).unwrap();
    let mut recon = vec![0.0; c];
    for r in 0..n {
        let row = &logits[r * c..(r + 1) * c];
        cache.dense_row(r, &mut recon).unwrap();
        let (p, q) = (softmax(row), softmax(&recon));
        let (idx, _, _) = reference_topk(row, k);
        for &i in &idx {
            assert!(
                (p[i as usize] - q[i as usize]).abs() < 1e-5,
                "row {r} class {i}"
            );
        }
        let is_top = |i: &usize| idx.contains(&(*i as u32));
        let rest = |v: &[f64]| (0..c).filter(|i| !is_top(i)).map(|i| v[i]).sum::<f64>();
        assert!((rest(&p) - rest(&q)).abs() < 1e-5, "row {r}");
        // The rest really is spread uniformly.
        let others: Vec<f32> = (0..c).filter(|i| !is_top(i)).map(|i| recon[i]).collect();
        assert!(others.iter().all(|&x| x == others[0]));
    }
}

#[test]
fn topk_with_k_equal_c_round_trips_exactly() {
    let dir = test_dir("topk_full");
    let (c, n) = (9, 11);
    let logits = Rng(5).logits(n * c, 10.0);
    let path = dir.join("t.dktc");
    write_cache(&path, &logits, c, CacheDtype::F32, Some(c));
    let cache = TeacherCache::open(&path).unwrap();
    assert_eq!(read_all(&cache), logits);
    assert_eq!(cache.topk_row(3).unwrap().rest_lse, f32::NEG_INFINITY);
    // f16 must represent the -inf rest as well.
    let p16 = dir.join("h.dktc");
    write_cache(&p16, &logits, c, CacheDtype::F16, Some(c));
    let c16 = TeacherCache::open(&p16).unwrap();
    assert_eq!(c16.topk_row(3).unwrap().rest_lse, f32::NEG_INFINITY);
    for (a, b) in logits.iter().zip(read_all(&c16)) {
        assert!((a - b).abs() <= 1e-3 * a.abs().max(0.1));
    }
}

#[test]
fn topk_row_of_dense_cache_sorts_all_classes() {
    let dir = test_dir("topk_of_dense");
    let logits = vec![1.0, 3.0, 2.0, 3.0, 5.0, 4.0, 6.0, 4.0];
    let path = dir.join("d.dktc");
    write_cache(&path, &logits, 4, CacheDtype::F32, None);
    let t = TeacherCache::open(&path).unwrap().topk_row(0).unwrap();
    assert_eq!(t.indices, vec![1, 3, 2, 0]);
    assert_eq!(t.logits, vec![3.0, 3.0, 2.0, 1.0]);
    assert_eq!(t.rest_lse, f32::NEG_INFINITY);
}

#[test]
fn fingerprint_tracks_values_and_row_order() {
    let values: Vec<f32> = (0..12).map(|i| i as f32 * 0.5).collect();
    let ids: Vec<usize> = (0..4).collect();
    let fp = fingerprint(&values, &ids);
    assert_eq!(fp.len(), 32);
    assert!(
        fp.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_eq!(fp, fingerprint(&values, &ids));
    let mut changed = values.clone();
    changed[7] += 1e-3;
    assert_ne!(fp, fingerprint(&changed, &ids));
    // Swap rows 1 and 2 (3 values per row), ids swapped along.
    let mut swapped = values.clone();
    for j in 0..3 {
        swapped.swap(3 + j, 6 + j);
    }
    assert_ne!(fp, fingerprint(&swapped, &[0, 2, 1, 3]));
    assert_ne!(fp, fingerprint(&values, &[0, 2, 1, 3]));
    assert_ne!(fingerprint(&[], &[]), fingerprint(&[], &[0]));
    // The same bytes as the FNV-1a fingerprint of earlier versions, which hashed them one by
    // one: `legacy_fingerprint` must keep giving its values so old caches still open.
    assert_eq!(legacy_fingerprint(&[], &[]), "a8c7f832281a39c5");
    // BLAKE3 of the row count 0 as 8 zero bytes.
    assert_eq!(
        fingerprint(&[], &[]),
        blake3_hex_prefix(&[0u8; 8]),
        "fingerprint is the first 128 bits of BLAKE3 over the documented bytes"
    );
    for (stored, v, i) in [
        (fingerprint(&values, &ids), &values, &ids),
        (legacy_fingerprint(&values, &ids), &values, &ids),
    ] {
        assert!(fingerprint_matches(&stored, v, i));
        assert!(!fingerprint_matches(&stored, &changed, i));
    }
}

/// BLAKE3's first 32 hex digits of `bytes`, hashed in one piece.
fn blake3_hex_prefix(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex()[..32].to_string()
}

#[test]
fn a_cache_of_an_earlier_version_with_an_fnv_fingerprint_still_opens() {
    use dark_knowledge_data::{CachedTeacher, Dataset};
    let device = dark_knowledge_core::device_from_name("cpu").unwrap();
    let features: Vec<f32> = (0..12).map(|i| i as f32 * 0.25).collect();
    let data = Dataset::new(features.clone(), 3, vec![0, 1, 0, 1], 2, &device).unwrap();
    let dir = test_dir("legacy_fp");
    for (name, fp, opens) in [
        (
            "old.dktc",
            legacy_fingerprint(&features, &[0, 1, 2, 3]),
            true,
        ),
        ("new.dktc", fingerprint(&features, &[0, 1, 2, 3]), true),
        (
            "other.dktc",
            legacy_fingerprint(&features, &[0, 2, 1, 3]),
            false,
        ),
    ] {
        let path = dir.join(name);
        let mut h = header(4, 2, CacheDtype::F32, None);
        h.dataset_fingerprint = fp;
        let mut w = CacheWriter::create(&path, h).unwrap();
        w.push(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]).unwrap();
        w.finish().unwrap();
        let opened = CachedTeacher::open(&path, &data);
        assert_eq!(opened.is_ok(), opens, "{name}: {opened:?}");
        if !opens {
            assert!(matches!(
                opened,
                Err(CacheError::FingerprintMismatch { .. })
            ));
        }
    }
}

#[test]
fn wrong_dataset_fingerprint_is_rejected() {
    let dir = test_dir("fp_mismatch");
    let path = dir.join("d.dktc");
    write_cache(&path, &[1.0, 2.0], 2, CacheDtype::F32, None);
    let cache = TeacherCache::open(&path).unwrap();
    cache.check_dataset("0123456789abcdef").unwrap();
    let err = cache.check_dataset("0000000000000000").unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(&err, CacheError::FingerprintMismatch { expected, found, .. }
        if expected == "0000000000000000" && found == "0123456789abcdef")
    );
    assert!(
        msg.contains("d.dktc") && msg.contains("re-run cache-teacher"),
        "{msg}"
    );
    assert!(
        msg.contains("other data") && msg.contains("row order"),
        "{msg}"
    );
}

/// Deterministic logit for (row, class), distinct across rows.
fn cell(r: usize, c: usize) -> f32 {
    ((r * 31 + c * 7) % 1009) as f32 * 0.01 + r as f32 * 1e-4
}

#[test]
fn large_cache_random_rows_are_correct() {
    let dir = test_dir("large");
    let (n, c) = (100_000, 10);
    for (name, k) in [("dense", None), ("topk", Some(3))] {
        let path = dir.join(format!("{name}.dktc"));
        let h = common::header(n, c, CacheDtype::F32, k);
        let mut w = dark_knowledge_data::cache::CacheWriter::create(&path, h).unwrap();
        for chunk in 0..n / 1000 {
            let batch: Vec<f32> = (chunk * 1000..(chunk + 1) * 1000)
                .flat_map(|r| (0..c).map(move |j| cell(r, j)))
                .collect();
            w.push(&batch).unwrap();
        }
        w.finish().unwrap();
        let cache = TeacherCache::open(&path).unwrap();
        let mut rng = Rng(6);
        let mut picks: Vec<usize> = (0..500).map(|_| rng.below(n)).collect();
        picks.extend([0, 1, n - 2, n - 1]);
        let mut out = Vec::new();
        cache.rows(&picks, &mut out).unwrap();
        for (i, &r) in picks.iter().enumerate() {
            let want: Vec<f32> = (0..c).map(|j| cell(r, j)).collect();
            let got = &out[i * c..(i + 1) * c];
            match k {
                None => assert_eq!(got, &want[..], "row {r}"),
                Some(k) => {
                    let (idx, vals, _) = reference_topk(&want, k);
                    for (&j, &v) in idx.iter().zip(&vals) {
                        assert_eq!(got[j as usize], v, "row {r} class {j}");
                    }
                }
            }
        }
        let err = cache.rows(&[5, n], &mut out).unwrap_err();
        assert!(
            matches!(err, CacheError::RowOutOfRange { row, num_rows, .. } if row == n && num_rows == n)
        );
        assert_eq!(out.len(), picks.len() * c, "out untouched on error");
        let msg = err.to_string();
        assert!(msg.contains("100000") && msg.contains("row"), "{msg}");
    }
}
