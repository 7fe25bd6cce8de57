//! Every refusal: bad files on open, mismatched caches in open_for, and writer misuse. Each
//! must be an error naming the field (never a panic), and a failed writer leaves nothing.

use super::*;

/// A valid foreign file's parts (k = 3), to break one field at a time.
fn valid() -> Raw {
    let mut rng = StdRng::seed_from_u64(21);
    let logits = distinct_logits(&mut rng);
    let mask = random_mask(&mut rng, N, S);
    Raw::build(&logits, &mask, 3)
}

/// A change to a valid file's parts.
type Edit<'a> = &'a dyn Fn(&mut Raw);

/// Token `t` of `raw`: the first real (mask 1) token.
fn real_token(raw: &Raw) -> usize {
    raw.mask.iter().position(|&m| m == 1).unwrap()
}

/// Opens the file at `path` and returns the error text; it must name the file and `words`.
fn refused(path: &Path, words: &[&str]) -> String {
    let err = TokenLogitCache::open(path).expect_err("a broken cache must be refused");
    let text = err.to_string();
    assert!(
        text.contains(&path.display().to_string()),
        "names the file: {text}"
    );
    for w in words {
        assert!(text.contains(w), "mentions {w:?}: {text}");
    }
    text
}

#[test]
fn the_valid_file_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = valid().write(&dir.path().join("ok.safetensors"));
    assert_eq!(TokenLogitCache::open(&path).unwrap().meta().k, 3);
}

#[test]
fn bad_metadata_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.safetensors");
    let cases: [(&str, Option<&str>, &[&str]); 11] = [
        (
            "format",
            Some("something-else"),
            &["format", "something-else", "dark-knowledge-token-topk"],
        ),
        ("version", Some("2"), &["version", "\"2\"", "\"1\""]),
        ("vocab_size", None, &["vocab_size", "missing"]),
        ("k", Some("three"), &["k", "three", "integer"]),
        ("k", Some("12"), &["k is 12", "1..=11"]),
        ("k", Some("0"), &["k is 0", "1..=11"]),
        ("seq_len", Some("8"), &["tensor", "shape", "seq_len 8"]),
        ("windows", Some("10"), &["shape", "windows 10"]),
        ("vocab_size", Some("0"), &["vocab_size is 0", "at least 1"]),
        (
            "data_checksum",
            Some("abc"),
            &["data_checksum", "64 lowercase hex"],
        ),
        (
            "colour",
            Some("blue"),
            &["colour", "unknown", "allowed keys"],
        ),
    ];
    for (key, value, words) in cases {
        let mut raw = valid();
        match value {
            Some(v) => raw.meta.insert(key.into(), v.into()),
            None => raw.meta.remove(key),
        };
        refused(&raw.write(&p), words);
    }
    // No metadata at all.
    let parts = valid().tensors();
    let views: Vec<(&str, TensorView)> = parts
        .iter()
        .map(|(n, d, s, b)| (*n, TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    std::fs::write(&p, safetensors::serialize(views, None).unwrap()).unwrap();
    refused(&p, &["metadata"]);
}

#[test]
fn bad_dtypes_shapes_and_tensor_sets_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.safetensors");
    let raw = valid();
    let base = raw.tensors();
    let edit = |f: &dyn Fn(&mut Vec<Part>)| {
        let mut parts = base.clone();
        f(&mut parts);
        write_parts(&p, &parts, &raw.meta);
    };
    // indices as I64 (torch.topk's dtype, not cast), same element count.
    edit(&|p| {
        let wide: Vec<u8> = raw
            .indices
            .iter()
            .flat_map(|&i| i64::from(i).to_le_bytes())
            .collect();
        p[0] = ("indices", Dtype::I64, p[0].2.clone(), wide);
    });
    refused(&p, &["indices", "I64", "I32"]);
    edit(&|p| p[3].1 = Dtype::BOOL);
    refused(&p, &["mask", "BOOL", "U8"]);
    edit(&|p| {
        p[1] = (
            "values",
            Dtype::F64,
            p[1].2.clone(),
            [p[1].3.clone(), p[1].3.clone()].concat(),
        )
    });
    refused(&p, &["values", "F64", "F32"]);
    edit(&|p| p[2].2 = vec![S, N]);
    refused(&p, &["rest", "shape", "[7, 9]", "[9, 7]"]);
    edit(&|p| p[1].2 = vec![N * S, 3]);
    refused(&p, &["values", "shape"]);
    edit(&|p| {
        p.remove(2);
    });
    refused(&p, &["rest", "missing"]);
    edit(&|p| p.push(("extra", Dtype::U8, vec![1], vec![0])));
    refused(&p, &["extra", "unknown"]);
}

#[test]
fn bad_tokens_are_refused_and_padding_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("v.safetensors");
    let t = real_token(&valid());
    let cases: [(Edit, &[&str]); 9] = [
        (&|r| r.indices[t * 3] = 11, &["indices", "id 11", "0..11"]),
        (
            &|r| r.indices[t * 3 + 1] = -1,
            &["indices", "id -1", "0..11"],
        ),
        (
            &|r| r.indices[t * 3 + 2] = r.indices[t * 3],
            &["indices", "twice", "distinct"],
        ),
        (
            &|r| r.values[t * 3 + 1] = f32::NAN,
            &["values", "NaN", "finite"],
        ),
        (
            &|r| r.values[t * 3] = f32::NEG_INFINITY,
            &["values", "inf", "finite"],
        ),
        (&|r| r.rest[t] = f32::NAN, &["rest", "NaN"]),
        (&|r| r.rest[t] = f32::INFINITY, &["rest", "inf"]),
        (&|r| r.mask[t] = 2, &["mask", "byte 2", "0 or 1"]),
        (
            &|r| *r.mask.iter_mut().find(|m| **m == 0).unwrap() = 1,
            &["indices", "twice"],
        ),
    ];
    for (i, (edit, words)) in cases.into_iter().enumerate() {
        let mut raw = valid();
        edit(&mut raw);
        let text = refused(&raw.write(&p), words);
        if i < 8 {
            let at = format!("window {}, position {}", t / S, t % S);
            assert!(text.contains(&at), "names the token: {text}");
        }
    }
    // Allowed: a rest of -inf (tail of probability 0) and values in ascending order.
    let mut raw = valid();
    raw.rest[t] = f32::NEG_INFINITY;
    raw.values[t * 3..t * 3 + 3].reverse();
    raw.indices[t * 3..t * 3 + 3].reverse();
    TokenLogitCache::open(&raw.write(&p)).unwrap();
}

#[test]
fn truncated_and_corrupt_files_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(valid().write(&dir.path().join("good.safetensors"))).unwrap();
    let p = dir.path().join("bad.safetensors");
    for len in [0, 5, 8, 9, 40, good.len() / 2, good.len() - 1] {
        std::fs::write(&p, &good[..len]).unwrap();
        refused(&p, &[]);
    }
    let mut longer = good.clone();
    longer.push(0);
    std::fs::write(&p, &longer).unwrap();
    refused(&p, &["safetensors"]);
    let mut garbled = good.clone();
    garbled[8..16].copy_from_slice(b"not json");
    std::fs::write(&p, &garbled).unwrap();
    refused(&p, &["safetensors"]);
    std::fs::write(&p, u64::MAX.to_le_bytes()).unwrap();
    refused(&p, &["safetensors"]);
    let missing = dir.path().join("missing.safetensors");
    assert!(TokenLogitCache::open(&missing).is_err());
}

#[test]
fn open_for_refuses_another_cache() {
    let dir = tempfile::tempdir().unwrap();
    let windows: Vec<Vec<u32>> = (0..N as u32).map(|w| (w..w + S as u32).collect()).collect();
    let sum = windows_checksum(&windows);
    let mut raw = valid();
    raw.meta.insert("data_checksum".into(), sum.clone());
    let path = raw.write(&dir.path().join("c.safetensors"));
    let mut expected = meta(1, N); // k and teacher are not compared
    expected.data_checksum = Some(sum);
    let cache = TokenLogitCache::open_for(&path, &expected).unwrap();
    assert_eq!(cache.meta().data_checksum, expected.data_checksum);
    let mut other = windows.clone();
    other[3][2] += 1;
    let cases: [(TokenCacheMeta, &[&str]); 4] = [
        (
            TokenCacheMeta {
                data_checksum: Some(windows_checksum(&other)),
                ..expected.clone()
            },
            &["data_checksum", "other data", "rebuild"],
        ),
        (
            TokenCacheMeta {
                vocab_size: 12,
                ..expected.clone()
            },
            &["vocab_size 11", "12", "rebuild"],
        ),
        (
            TokenCacheMeta {
                seq_len: 8,
                ..expected.clone()
            },
            &["seq_len 7", "8", "rebuild"],
        ),
        (
            TokenCacheMeta {
                windows: 10,
                ..expected.clone()
            },
            &["windows 9", "10", "rebuild"],
        ),
    ];
    for (want, words) in cases {
        let text = TokenLogitCache::open_for(&path, &want)
            .unwrap_err()
            .to_string();
        words
            .iter()
            .for_each(|w| assert!(text.contains(w), "{w:?} in {text}"));
    }
    // A cache without a checksum is refused when the caller has one.
    raw.meta.remove("data_checksum");
    raw.write(&path);
    let text = TokenLogitCache::open_for(&path, &expected)
        .unwrap_err()
        .to_string();
    assert!(text.contains("data_checksum none"), "{text}");
}

#[test]
fn get_refuses_out_of_range_windows() {
    let dir = tempfile::tempdir().unwrap();
    let cache = TokenLogitCache::open(&valid().write(&dir.path().join("g.safetensors"))).unwrap();
    let text = cache.get(&[0, N], &Device::flex()).unwrap_err().to_string();
    assert!(
        text.contains(&N.to_string()) && text.contains("below 9"),
        "{text}"
    );
    assert!(cache.get(&[], &Device::flex()).is_err());
}

#[test]
fn checksum_is_the_documented_blake3() {
    let windows = vec![vec![1_u32, 2], vec![3]];
    let mut bytes = Vec::new();
    for w in &windows {
        bytes.extend((w.len() as u64).to_le_bytes());
        w.iter().for_each(|id| bytes.extend(id.to_le_bytes()));
    }
    assert_eq!(
        windows_checksum(&windows),
        blake3::hash(&bytes).to_hex().to_string()
    );
    // The same value from Python: blake3 + struct + numpy, as in docs/token-cache.md.
    assert_eq!(windows_checksum(&windows), PYTHON_CHECKSUM);
    assert_ne!(
        windows_checksum(&windows),
        windows_checksum(&[vec![1], vec![2, 3]])
    );
}

const PYTHON_CHECKSUM: &str = "d3e5a09302a932efc271d254dcf2c0e47ea5da437b1da641daee2c46479548c2";

/// Pushes the windows `from..to` of `logits` / `mask` with `k` into `writer`.
fn push(
    writer: &mut TokenCacheWriter,
    logits: &[f32],
    mask: &[bool],
    k: usize,
    from: usize,
    to: usize,
) -> dark_knowledge_text::Result<()> {
    let device = Device::flex();
    let ids: Vec<usize> = (from..to).collect();
    let top = TokenTopK::from_logits(rows(logits, &ids, &device), k).unwrap();
    writer.push(&top, &mask_rows(mask, &ids, &device))
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_failed_writer_leaves_nothing_and_keeps_the_earlier_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(9);
    let (logits, mask) = (
        random_logits(&mut rng, N, S, V),
        random_mask(&mut rng, N, S),
    );
    let path = dir.path().join("cache.safetensors");
    write_cache(&path, &logits, &mask, 3, &[N]);
    let before = std::fs::read(&path).unwrap();
    let fresh = dir.path().join("fresh.safetensors");
    for target in [&path, &fresh] {
        // Too few windows.
        let mut w = TokenCacheWriter::create(target, meta(3, N)).unwrap();
        push(&mut w, &logits, &mask, 3, 0, 4).unwrap();
        let text = w.finish().unwrap_err().to_string();
        assert!(
            text.contains("windows pushed") && text.contains("exactly 9"),
            "{text}"
        );
        // Too many windows: refused, and nothing of that push is kept.
        let mut w = TokenCacheWriter::create(target, meta(3, N)).unwrap();
        push(&mut w, &logits, &mask, 3, 0, 5).unwrap();
        let text = push(&mut w, &logits, &mask, 3, 4, 9)
            .unwrap_err()
            .to_string();
        assert!(text.contains("10") && text.contains("at most 9"), "{text}");
        assert_eq!(w.windows_written(), 5);
        // Wrong k, then wrong seq_len.
        let text = push(&mut w, &logits, &mask, 2, 5, 6)
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("values") || text.contains("indices"),
            "{text}"
        );
        assert!(text.contains("k 3"), "{text}");
        let device = Device::flex();
        let top = TokenTopK::from_logits(Tensor::zeros([1, S + 1, V], &device), 3).unwrap();
        let m =
            Tensor::<2, Bool>::from_data(TensorData::new(vec![true; S + 1], [1, S + 1]), &device);
        let text = w.push(&top, &m).unwrap_err().to_string();
        assert!(text.contains("seq_len 7"), "{text}");
        // A NaN under the mask names the tensor; then the writer is dropped.
        let mut bad = TokenTopK::from_logits(rows(&logits, &[0], &device), 3).unwrap();
        bad.values = bad
            .values
            .clone()
            .mask_fill(bad.values.clone().greater_elem(-1000.0), f32::NAN);
        let text = w
            .push(&bad, &mask_rows(&mask, &[0], &device))
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("values") && text.contains("NaN") && text.contains("window 5"),
            "{text}"
        );
        drop(w);
        let names = listing(dir.path());
        assert_eq!(names, ["cache.safetensors"], "no temp file, no new file");
    }
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the earlier cache is intact"
    );
    TokenLogitCache::open(&path).unwrap();
}

#[test]
fn bad_meta_is_refused_by_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    let cases: [(TokenCacheMeta, &str); 5] = [
        (meta(0, N), "k is 0"),
        (meta(V + 1, N), "k is 12"),
        (meta(3, 0), "windows is 0"),
        (
            TokenCacheMeta {
                seq_len: 0,
                ..meta(3, N)
            },
            "seq_len is 0",
        ),
        (
            TokenCacheMeta {
                data_checksum: Some("ABC".into()),
                ..meta(3, N)
            },
            "data_checksum",
        ),
    ];
    for (m, words) in cases {
        let text = TokenCacheWriter::create(&path, m).unwrap_err().to_string();
        assert!(text.contains(words), "{words:?} in {text}");
    }
    assert!(listing(dir.path()).is_empty());
}
