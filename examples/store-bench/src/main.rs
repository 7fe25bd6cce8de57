//! Benchmark (not a test): write a row store of a given size, then train an MLP for one epoch
//! from it, reporting rows/s and the process's peak resident memory.
//!
//! ```text
//! cargo run --release -p store-bench -- write /tmp/rows.dkrs 2.0     # 2 GB of rows
//! cargo run --release -p store-bench -- train /tmp/rows.dkrs          # one epoch from the store
//! cargo run --release -p store-bench -- train-memory /tmp/rows.dkrs   # the same rows in memory
//! ```

use std::path::Path;
use std::time::Instant;

use dark_knowledge::data::store::RowStoreWriter;
use dark_knowledge::data::{RowStore, StoreData};
use dark_knowledge::prelude::*;

const FEATURES: usize = 64;
const CLASSES: usize = 4;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// A seeded xorshift generator with Gaussian draws (Box–Muller).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f32 {
        let (u1, u2) = (self.next().max(1e-300), self.next());
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    }
}

/// Rows whose class is the arg-max of a fixed random projection of their features.
fn write(path: &Path, gigabytes: f64) -> Result<(), Error> {
    let rows = (gigabytes * 1e9 / ((FEATURES + 1) * 4) as f64) as usize;
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let w: Vec<f32> = (0..FEATURES * CLASSES).map(|_| rng.normal()).collect();
    let mut writer = RowStoreWriter::create(path, FEATURES, CLASSES)?;
    let started = Instant::now();
    let mut x = vec![0f32; FEATURES];
    for i in 0..rows {
        x.iter_mut().for_each(|v| *v = rng.normal());
        let score = |c: usize| {
            (0..FEATURES)
                .map(|j| x[j] * w[c * FEATURES + j])
                .sum::<f32>()
        };
        let label = (0..CLASSES)
            .max_by(|&a, &b| score(a).total_cmp(&score(b)))
            .unwrap_or(0);
        writer.push(&x, Some(label))?;
        if i % 1_000_000 == 0 {
            eprintln!("{i} rows written");
        }
    }
    writer.finish()?;
    let bytes = std::fs::metadata(path)?.len();
    println!(
        "wrote {rows} rows ({:.2} GB) in {:.1} s; peak RSS {} MB",
        bytes as f64 / 1e9,
        started.elapsed().as_secs_f64(),
        peak_rss_mb()
    );
    Ok(())
}

/// One epoch of a 64-256-4 MLP over every row but the last 20,000 (validation).
fn train(path: &Path, in_memory: bool) -> Result<(), Error> {
    let device = device_from_name("cpu")?;
    let data = StoreData::open(path, &device)?;
    let n = data.store().len();
    let valid_rows = 20_000.min(n / 10);
    let valid = data.slice(n - valid_rows..n)?;
    let train = data.slice(0..n - valid_rows)?;
    let memory;
    let (train, valid): (&dyn BatchSource, &dyn BatchSource) = if in_memory {
        let store = RowStore::open(path)?;
        let all = store.to_dataset(&device)?;
        memory = (
            all.subset(&(0..n - valid_rows).collect::<Vec<_>>())?,
            all.subset(&(n - valid_rows..n).collect::<Vec<_>>())?,
        );
        (&memory.0, &memory.1)
    } else {
        (&train, &valid)
    };
    device.seed(1);
    let model = MlpConfig::new(FEATURES, vec![256], CLASSES).init(&device);
    let config = TrainerConfig {
        epochs: 1,
        batch_size: 512,
        eval_batch_size: 4096,
        ..TrainerConfig::default()
    };
    let started = Instant::now();
    let out = Trainer::new(config)?
        .with_progress(Progress::Lines)
        .fit(model, train, valid, None)?;
    let record = &out.history[0];
    println!(
        "{}: {} training rows, epoch {:.1} s ({:.0} rows/s), run {:.1} s, valid accuracy {:.4}, peak RSS {} MB",
        if in_memory { "in memory" } else { "row store" },
        train.len(),
        record.seconds,
        train.len() as f64 / record.seconds,
        started.elapsed().as_secs_f64(),
        record.valid.accuracy,
        peak_rss_mb()
    );
    Ok(())
}

/// The process's peak resident set (`VmHWM`), in MB.
fn peak_rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["write", path, gb] => write(Path::new(path), gb.parse()?),
        ["train", path] => train(Path::new(path), false),
        ["train-memory", path] => train(Path::new(path), true),
        _ => Err("usage: store-bench write PATH GB | train PATH | train-memory PATH".into()),
    }
}
