//! Distillation epochs with the teacher run on every batch vs read from a teacher cache, on
//! Fashion-MNIST, side by side; prints JSON.
//!
//! `cargo run --release -p backend-bench --bin cache-bench -- [DATA_DIR] [ROWS] [ROUNDS]`
//!
//! - teacher: MLP 784-1200-1200-10 (freshly initialised: its speed does not depend on its
//!   weights), student: MLP 784-64-10, batch 128, KD loss T = 4;
//! - `ROWS` training images (default 12,000; 10 % of them for validation), `ROUNDS` rounds
//!   (default 3), each timing one epoch online, one from an f32 cache and one from an f16
//!   cache, alternated so drifts in machine speed hit all three;
//! - figures: training rows per second of the epoch (validation included, where the
//!   teacher is also asked for its logits), median over rounds, and the time to write each
//!   cache once.

use std::time::Instant;

use dark_knowledge::Dataset;
use dark_knowledge::data::cache::CacheDtype;
use dark_knowledge::data::idx::{DEFAULT_FASHION_MNIST_DIR, FashionMnist};
use dark_knowledge::data::{CacheSettings, CachedTeacher, cache_teacher};
use dark_knowledge::prelude::*;
use dark_knowledge::train::{Progress, Trainer, TrainerConfig};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .unwrap_or_else(|| DEFAULT_FASHION_MNIST_DIR.to_string());
    let rows: usize = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(12_000);
    let rounds: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(3);
    let device = device_from_name("cpu")?;
    let fm = FashionMnist::load_limited(dir.as_ref(), Some(rows), Some(1))?;
    let all = Dataset::new(fm.train.images, 784, fm.train.labels, 10, &device)?;
    let split = stratified_split(all.labels_host(), 0.1, 0.0, 0)?;
    let (train, valid) = (all.subset(&split.train)?, all.subset(&split.valid)?);

    device.seed(0);
    let teacher = FrozenTeacher::new(MlpConfig::new(784, vec![1200, 1200], 10).init(&device));
    let tmp = std::env::temp_dir().join(format!("dk-cache-bench-{}", std::process::id()));
    let mut write_s = serde_json::Map::new();
    let mut caches = Vec::new();
    for (name, dtype) in [("f32", CacheDtype::F32), ("f16", CacheDtype::F16)] {
        let path = tmp.join(format!("teacher-{name}.dktc"));
        let settings = CacheSettings {
            dtype,
            top_k: None,
            teacher: "MLP 784-1200-1200-10".into(),
            teacher_fingerprint: "0000000000000000".into(),
            batch_size: 1024,
        };
        let t = Instant::now();
        cache_teacher(&teacher, &all, &path, &settings, |_| {})?;
        write_s.insert(name.into(), t.elapsed().as_secs_f64().into());
        caches.push((name, CachedTeacher::open(&path, &all)?));
    }

    let epoch = |t: &dyn Teacher| -> Result<f64, Box<dyn std::error::Error>> {
        device.seed(1);
        let student = MlpConfig::new(784, vec![64], 10).init(&device);
        let trainer = Trainer::new(TrainerConfig {
            epochs: 1,
            batch_size: 128,
            loss: SoftTargetLossConfig::new(4.0, 0.1, 0.9),
            ..TrainerConfig::default()
        })?
        .with_progress(Progress::Silent);
        let out = trainer.fit(student, &train, &valid, Some(t))?;
        Ok(train.len() as f64 / out.history[0].seconds)
    };
    epoch(&teacher)?; // warm-up
    let (mut online, mut f32s, mut f16s) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        online.push(epoch(&teacher)?);
        f32s.push(epoch(&caches[0].1)?);
        f16s.push(epoch(&caches[1].1)?);
        eprintln!(
            "round {}: online {:.0}, cached f32 {:.0}, cached f16 {:.0} rows/s",
            round + 1,
            online[round],
            f32s[round],
            f16s[round]
        );
    }
    let (on, c32, c16) = (median(online), median(f32s), median(f16s));
    let json = serde_json::json!({
        "device": "cpu (flex)",
        "train_rows": train.len(),
        "valid_rows": valid.len(),
        "rounds": rounds,
        "teacher": "MLP 784-1200-1200-10",
        "student": "MLP 784-64-10",
        "batch_size": 128,
        "online_rows_per_s": on,
        "cached_f32_rows_per_s": c32,
        "cached_f16_rows_per_s": c16,
        "speedup_cached_f32": c32 / on,
        "speedup_cached_f16": c16 / on,
        "cache_write_seconds": write_s,
        "cache_bytes": {
            "f32": std::fs::metadata(tmp.join("teacher-f32.dktc"))?.len(),
            "f16": std::fs::metadata(tmp.join("teacher-f16.dktc"))?.len(),
        },
    });
    println!("{}", serde_json::to_string_pretty(&json)?);
    std::fs::remove_dir_all(&tmp).ok();
    Ok(())
}
