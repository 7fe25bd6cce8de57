//! End-to-end tests of the token top-k cache: exact round trips, a file from a second writer
//! that follows only docs/token-cache.md, and every refusal.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use dark_knowledge_text::cache::{
    TokenCacheMeta, TokenCacheWriter, TokenLogitCache, TokenTopK, windows_checksum,
};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use safetensors::Dtype;
use safetensors::tensor::TensorView;

const V: usize = 11;
const S: usize = 7;
const N: usize = 9;

/// Random logits `[n, s, V]`: ties (multiples of 0.5), extremes (±80) and plain values.
fn random_logits(rng: &mut StdRng, n: usize, s: usize, v: usize) -> Vec<f32> {
    (0..n * s * v)
        .map(|_| match rng.random_range(0..10) {
            0 => 80.0,
            1 => -80.0,
            2..=5 => rng.random_range(-6..=6) as f32 * 0.5,
            _ => rng.random_range(-5.0f32..5.0),
        })
        .collect()
}

/// Masks `[n, s]`: window 0 full, window 1 empty, the others a random prefix with a hole.
fn random_mask(rng: &mut StdRng, n: usize, s: usize) -> Vec<bool> {
    let mut mask = Vec::with_capacity(n * s);
    for w in 0..n {
        let len = match w {
            0 => s,
            1 => 0,
            _ => rng.random_range(1..=s),
        };
        let hole = rng.random_range(0..s);
        mask.extend((0..s).map(|t| t < len && !(w > 2 && t == hole)));
    }
    mask
}

fn meta(k: usize, windows: usize) -> TokenCacheMeta {
    TokenCacheMeta {
        vocab_size: V,
        k,
        seq_len: S,
        windows,
        teacher: Some("test teacher".into()),
        data_checksum: None,
    }
}

fn rows(logits: &[f32], windows: &[usize], device: &Device) -> Tensor<3> {
    let data: Vec<f32> = windows
        .iter()
        .flat_map(|&w| logits[w * S * V..][..S * V].iter().copied())
        .collect();
    Tensor::from_data(TensorData::new(data, [windows.len(), S, V]), device)
}

fn mask_rows(mask: &[bool], windows: &[usize], device: &Device) -> Tensor<2, Bool> {
    let data: Vec<bool> = windows
        .iter()
        .flat_map(|&w| mask[w * S..][..S].to_vec())
        .collect();
    Tensor::from_data(TensorData::new(data, [windows.len(), S]), device)
}

fn ints(t: &Tensor<3, Int>) -> Vec<i64> {
    t.clone().into_data().iter::<i64>().collect()
}

fn bits<const D: usize>(t: &Tensor<D>) -> Vec<u32> {
    t.clone()
        .into_data()
        .iter::<f32>()
        .map(f32::to_bits)
        .collect()
}

fn bools(t: &Tensor<2, Bool>) -> Vec<bool> {
    t.clone().into_data().iter::<bool>().collect()
}

/// Writes `logits` / `mask` with the library writer in pushes of `batches` windows.
fn write_cache(path: &Path, logits: &[f32], mask: &[bool], k: usize, batches: &[usize]) {
    let device = Device::flex();
    let mut writer = TokenCacheWriter::create(path, meta(k, N)).unwrap();
    let mut start = 0;
    for &b in batches {
        let ids: Vec<usize> = (start..start + b).collect();
        let top = TokenTopK::from_logits(rows(logits, &ids, &device), k).unwrap();
        writer.push(&top, &mask_rows(mask, &ids, &device)).unwrap();
        start += b;
    }
    assert_eq!(writer.finish().unwrap(), path);
}

#[test]
fn round_trip_is_exact() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    for k in [1, 3, V] {
        let logits = random_logits(&mut rng, N, S, V);
        let mask = random_mask(&mut rng, N, S);
        let path = dir.path().join(format!("k{k}.safetensors"));
        write_cache(&path, &logits, &mask, k, &[2, 3, 4]);
        let cache = TokenLogitCache::open(&path).unwrap();
        assert_eq!(cache.meta(), &meta(k, N));
        let mut order: Vec<usize> = (0..N).chain([4, 4, 0, 8]).collect();
        order.shuffle(&mut rng);
        let (got, got_mask) = cache.get(&order, &device).unwrap();
        let want = TokenTopK::from_logits(rows(&logits, &order, &device), k).unwrap();
        let want_mask: Vec<bool> = order
            .iter()
            .flat_map(|&w| mask[w * S..][..S].to_vec())
            .collect();
        assert_eq!(bools(&got_mask), want_mask);
        assert_eq!(got.k(), k);
        let (gi, wi) = (ints(&got.indices), ints(&want.indices));
        let (gv, wv) = (bits(&got.values), bits(&want.values));
        let (gr, wr) = (bits(&got.rest), bits(&want.rest));
        let pad_rest = if k == V {
            f32::NEG_INFINITY
        } else {
            ((V - k) as f32).ln()
        };
        for (t, &real) in want_mask.iter().enumerate() {
            let span = t * k..(t + 1) * k;
            if real {
                assert_eq!(
                    gi[span.clone()],
                    wi[span.clone()],
                    "k {k} token {t} indices"
                );
                assert_eq!(gv[span.clone()], wv[span], "k {k} token {t} values");
                assert_eq!(gr[t], wr[t], "k {k} token {t} rest");
            } else {
                assert_eq!(
                    gi[span.clone()],
                    (0..k as i64).collect::<Vec<_>>(),
                    "padding ids"
                );
                assert!(gv[span].iter().all(|&b| b == 0), "padding values are +0.0");
                assert_eq!(f32::from_bits(gr[t]), pad_rest, "padding rest");
            }
        }
        if k == V {
            let full = bits(&got.to_full_logits(V));
            let orig = bits(&rows(&logits, &order, &device));
            for (t, _) in want_mask.iter().enumerate().filter(|(_, real)| **real) {
                assert_eq!(
                    full[t * V..][..V],
                    orig[t * V..][..V],
                    "token {t} full logits"
                );
            }
            assert_eq!(
                bits(&want.to_full_logits(V)),
                orig,
                "from_logits → full is bitwise"
            );
        }
    }
}

#[test]
fn from_logits_is_the_true_top_k_and_rest() {
    let device = Device::flex();
    let mut rng = StdRng::seed_from_u64(11);
    let (n, s, v) = (3, 5, 50);
    let logits = random_logits(&mut rng, n, s, v);
    let tensor = || Tensor::<3>::from_data(TensorData::new(logits.clone(), [n, s, v]), &device);
    for k in [1, 3, 10, 49, 50] {
        let top = TokenTopK::from_logits(tensor(), k).unwrap();
        let ids = ints(&top.indices);
        let values: Vec<f32> = top.values.clone().into_data().iter::<f32>().collect();
        let rest: Vec<f32> = top.rest.clone().into_data().iter::<f32>().collect();
        for t in 0..n * s {
            let row = &logits[t * v..][..v];
            let mut sorted = row.to_vec();
            sorted.sort_by(|a, b| b.total_cmp(a));
            let (ids, values) = (&ids[t * k..][..k], &values[t * k..][..k]);
            assert_eq!(
                values,
                &sorted[..k],
                "k {k} token {t}: the k largest, descending"
            );
            let mut seen = vec![false; v];
            for (&i, &x) in ids.iter().zip(values) {
                assert!(!seen[i as usize], "k {k} token {t}: id {i} twice");
                seen[i as usize] = true;
                assert_eq!(row[i as usize], x, "k {k} token {t}: value at its id");
            }
            let others: Vec<f64> = (0..v)
                .filter(|&i| !seen[i])
                .map(|i| f64::from(row[i]))
                .collect();
            let Some(max) = others.iter().copied().reduce(f64::max) else {
                assert_eq!(rest[t], f32::NEG_INFINITY, "k = V: rest is -inf");
                continue;
            };
            let lse = max + others.iter().map(|x| (x - max).exp()).sum::<f64>().ln();
            let err = (f64::from(rest[t]) - lse).abs();
            assert!(
                err <= 1e-6 * lse.abs().max(1.0),
                "k {k} token {t}: rest {} vs {lse}",
                rest[t]
            );
        }
    }
}

/// One tensor of a safetensors file: name, dtype, shape, little-endian bytes.
type Part = (&'static str, Dtype, Vec<usize>, Vec<u8>);

/// The parts of a cache file, as a second writer following only the documented format
/// would build them (host sort, f64 log-sum-exp, garbage under padding).
struct Raw {
    k: usize,
    indices: Vec<i32>,
    values: Vec<f32>,
    rest: Vec<f32>,
    mask: Vec<u8>,
    meta: HashMap<String, String>,
}

impl Raw {
    fn build(logits: &[f32], mask: &[bool], k: usize) -> Self {
        let mut raw = Raw {
            k,
            indices: vec![],
            values: vec![],
            rest: vec![],
            mask: vec![],
            meta: HashMap::new(),
        };
        for (t, &real) in mask.iter().enumerate() {
            let row = &logits[t * V..][..V];
            let mut order: Vec<usize> = (0..V).collect();
            order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
            let tail: Vec<f64> = order[k..].iter().map(|&i| f64::from(row[i])).collect();
            let lse = match tail.iter().copied().reduce(f64::max) {
                Some(m) => (m + tail.iter().map(|x| (x - m).exp()).sum::<f64>().ln()) as f32,
                None => 0.0, // k = V: any value may be stored
            };
            if real {
                raw.indices.extend(order[..k].iter().map(|&i| i as i32));
                raw.values.extend(order[..k].iter().map(|&i| row[i]));
                raw.rest.push(lse);
            } else {
                raw.indices.extend(std::iter::repeat_n(0, k)); // duplicates: ignored
                raw.values.extend(std::iter::repeat_n(f32::NAN, k));
                raw.rest.push(f32::NAN);
            }
            raw.mask.push(u8::from(real));
        }
        for (key, value) in [("format", "dark-knowledge-token-topk"), ("version", "1")] {
            raw.meta.insert(key.into(), value.into());
        }
        for (key, value) in [("vocab_size", V), ("k", k), ("seq_len", S), ("windows", N)] {
            raw.meta.insert(key.into(), value.to_string());
        }
        raw
    }

    fn tensors(&self) -> Vec<Part> {
        let le = |x: &[f32]| x.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
        vec![
            (
                "indices",
                Dtype::I32,
                vec![N, S, self.k],
                self.indices.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ),
            ("values", Dtype::F32, vec![N, S, self.k], le(&self.values)),
            ("rest", Dtype::F32, vec![N, S], le(&self.rest)),
            ("mask", Dtype::U8, vec![N, S], self.mask.clone()),
        ]
    }

    fn write(&self, path: &Path) -> PathBuf {
        write_parts(path, &self.tensors(), &self.meta);
        path.to_path_buf()
    }
}

fn write_parts(path: &Path, parts: &[Part], meta: &HashMap<String, String>) {
    let views: Vec<(&str, TensorView)> = parts
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            (
                *name,
                TensorView::new(*dtype, shape.clone(), bytes).unwrap(),
            )
        })
        .collect();
    let bytes = safetensors::serialize(views, Some(meta.clone())).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Distinct logits (no ties), so a host sort and the device top-k agree.
fn distinct_logits(rng: &mut StdRng) -> Vec<f32> {
    let mut logits = random_logits(rng, N, S, V);
    for (i, x) in logits.iter_mut().enumerate() {
        *x += (i % V) as f32 * 1e-3;
    }
    logits
        .iter_mut()
        .step_by(V)
        .for_each(|x| *x = 80.0 + *x * 1e-2);
    logits
}

#[test]
fn a_file_from_another_writer_reads_identically() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(3);
    for k in [1, 3, V] {
        let logits = distinct_logits(&mut rng);
        let mask = random_mask(&mut rng, N, S);
        let raw = Raw::build(&logits, &mask, k);
        let foreign = raw.write(&dir.path().join(format!("py{k}.safetensors")));
        let ours = dir.path().join(format!("rs{k}.safetensors"));
        write_cache(&ours, &logits, &mask, k, &[N]);
        let all: Vec<usize> = (0..N).collect();
        let (f, f_mask) = TokenLogitCache::open(&foreign)
            .unwrap()
            .get(&all, &device)
            .unwrap();
        let (o, o_mask) = TokenLogitCache::open(&ours)
            .unwrap()
            .get(&all, &device)
            .unwrap();
        assert_eq!(bools(&f_mask), mask);
        assert_eq!(bools(&o_mask), mask);
        let (fi, fv) = (ints(&f.indices), bits(&f.values));
        let rest = |t: &TokenTopK| t.rest.clone().into_data().iter::<f32>().collect::<Vec<_>>();
        let (fr, or) = (rest(&f), rest(&o));
        assert_eq!(fi, ints(&o.indices), "k {k}: same ids");
        assert_eq!(fv, bits(&o.values), "k {k}: same logits");
        for (t, &real) in mask.iter().enumerate() {
            if real {
                let stored: Vec<i64> = raw.indices[t * k..][..k]
                    .iter()
                    .map(|&i| i64::from(i))
                    .collect();
                assert_eq!(fi[t * k..][..k], stored, "the stored ids, unchanged");
                let want = if k == V {
                    f32::NEG_INFINITY
                } else {
                    raw.rest[t]
                };
                assert_eq!(
                    fr[t].to_bits(),
                    want.to_bits(),
                    "the stored rest (−inf at k = V)"
                );
            }
            let close = fr[t] == or[t] || (fr[t] - or[t]).abs() <= 1e-6 * or[t].abs().max(1.0);
            assert!(close, "k {k} token {t}: rest {} vs {}", fr[t], or[t]);
        }
    }
}

#[test]
fn the_written_file_is_plain_safetensors_with_the_documented_layout() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(5);
    let (logits, mask) = (
        random_logits(&mut rng, N, S, V),
        random_mask(&mut rng, N, S),
    );
    let path = dir.path().join("c.safetensors");
    write_cache(&path, &logits, &mask, 3, &[4, 5]);
    let bytes = std::fs::read(&path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let expect = [
        ("indices", Dtype::I32, vec![N, S, 3]),
        ("values", Dtype::F32, vec![N, S, 3]),
        ("rest", Dtype::F32, vec![N, S]),
        ("mask", Dtype::U8, vec![N, S]),
    ];
    for (name, dtype, shape) in expect {
        let view = file.tensor(name).unwrap();
        assert_eq!((view.dtype(), view.shape()), (dtype, &shape[..]), "{name}");
    }
    let mask_bytes: Vec<u8> = mask.iter().map(|&m| u8::from(m)).collect();
    assert_eq!(file.tensor("mask").unwrap().data(), &mask_bytes[..]);
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let m = header.metadata().clone().unwrap();
    assert_eq!(m["format"], "dark-knowledge-token-topk");
    assert_eq!(
        (
            m["version"].as_str(),
            m["vocab_size"].as_str(),
            m["k"].as_str()
        ),
        ("1", "11", "3")
    );
    assert_eq!((m["seq_len"].as_str(), m["windows"].as_str()), ("7", "9"));
    assert_eq!(m["teacher"], "test teacher");
    assert!(!m.contains_key("data_checksum"));
}

#[path = "cache/refusals.rs"]
mod refusals;
