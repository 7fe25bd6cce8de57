//! Garbage and truncated inputs must return `Err` and never panic.
#[path = "logits_common/mod.rs"]
mod common;

use common::*;
use dark_knowledge_data::logits::{read_logits, read_npy, read_safetensors};
use rand::rngs::StdRng;
use rand::{Rng as _, RngExt as _, SeedableRng};

/// A seeded generator of mutations.
struct Rng(StdRng);

impl Rng {
    fn seeded(seed: u64) -> Self {
        Self(StdRng::seed_from_u64(seed))
    }
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn below(&mut self, n: u64) -> usize {
        self.0.random_range(0..n) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.0.random()).collect()
    }
}

fn valid_files() -> Vec<Vec<u8>> {
    let v = distinct(5, 7);
    vec![
        npy_bytes(1, &npy_dict("<f4", false, &[5, 7]), &f32_le(&v)),
        npy_bytes(2, &npy_dict("<f4", true, &[5, 7]), &f32_le(&v)),
        safetensors_bytes(&[St {
            name: "logits",
            dtype: "F32",
            shape: vec![5, 7],
            data: f32_le(&v),
        }]),
    ]
}

#[test]
fn random_garbage_is_always_err() {
    let dir = tmp_dir("fuzz_garbage");
    let mut rng = Rng::seeded(0x5EED);
    let p = dir.join("garbage.bin");
    for i in 0..240 {
        let len = rng.below(300);
        let mut bytes = rng.bytes(len);
        match i % 4 {
            // Valid npy preamble, random header and data.
            1 => {
                let mut b = b"\x93NUMPY".to_vec();
                b.push([1, 2, 3][rng.below(3)]);
                b.push(0);
                b.extend(bytes);
                bytes = b;
            }
            // Plausible npy dict with random bytes spliced in.
            2 => {
                let mut dict = npy_dict("<f4", false, &[2, 3]).into_bytes();
                let at = rng.below(dict.len() as u64);
                let n = 1 + rng.below(4);
                dict.splice(at..at, rng.bytes(n));
                let s = String::from_utf8_lossy(&dict).into_owned();
                bytes = npy_bytes(1, &s, &bytes);
            }
            // safetensors with a small, in-range header size and random header.
            3 => {
                let h = rng.below(len as u64 + 1) as u64;
                let mut b = h.to_le_bytes().to_vec();
                b.push(b'{');
                b.extend(bytes);
                bytes = b;
            }
            _ => {}
        }
        std::fs::write(&p, &bytes).unwrap();
        assert!(read_npy(&p).is_err(), "case {i} parsed as npy: {bytes:?}");
        assert!(read_safetensors(&p, None).is_err(), "case {i}: {bytes:?}");
        assert!(read_logits(&p, None).is_err(), "case {i}: {bytes:?}");
    }
}

#[test]
fn every_truncation_is_err() {
    let dir = tmp_dir("fuzz_trunc");
    let p = dir.join("t.bin");
    for (k, full) in valid_files().iter().enumerate() {
        std::fs::write(&p, full).unwrap();
        read_logits(&p, None).unwrap_or_else(|e| panic!("fixture {k} invalid: {e}"));
        assert!(
            full.len() > 200,
            "fixture {k} too short to cover 200 truncations"
        );
        for len in 0..full.len() {
            std::fs::write(&p, &full[..len]).unwrap();
            assert!(read_npy(&p).is_err(), "fixture {k} len {len}");
            assert!(read_safetensors(&p, None).is_err(), "fixture {k} len {len}");
            assert!(read_logits(&p, None).is_err(), "fixture {k} len {len}");
        }
    }
}

#[test]
fn random_mutations_never_panic() {
    let dir = tmp_dir("fuzz_mutate");
    let p = dir.join("m.bin");
    let mut rng = Rng::seeded(42);
    for full in valid_files() {
        for _ in 0..150 {
            let mut bytes = full.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(bytes.len() as u64);
                bytes[at] = rng.next() as u8;
            }
            std::fs::write(&p, &bytes).unwrap();
            // May succeed (e.g. a data byte changed); must not panic.
            let _ = read_npy(&p);
            let _ = read_safetensors(&p, None);
            let _ = read_logits(&p, Some("logits"));
        }
    }
}
