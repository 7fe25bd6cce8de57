//! `bench`: the five speed workloads of the PyTorch reference (`../shared/bench`), on the
//! same models, batch size and data, written as JSON.
//!
//! - teacher training: MLP 784-1200-1200-10 with dropout, Adam, batch 128, one epoch;
//! - distillation epoch of a student MLP 784-64-10 (KD, T = 4) with the teacher run on every
//!   batch, and with its logits read from an f32 cache;
//! - student latency at batch 1 (one row in, probabilities read back);
//! - teacher inference at batch 1024, per sample.
//!
//! Training figures are rows per second of whole epochs run by the library's [`Trainer`]
//! (validation on 128 rows included, negligible), median over `repeats` epochs after one
//! warm-up epoch. Latencies are medians after warm-up.

use std::path::{Path, PathBuf};

use std::time::Instant;

use crate::error::Result;
use burn::tensor::Device;
use dark_knowledge_core::loss::SoftTargetLossConfig;
use dark_knowledge_core::{FrozenTeacher, Teacher};
use dark_knowledge_data::cache::CacheDtype;
use dark_knowledge_data::idx::FashionMnist;
use dark_knowledge_data::{
    CacheSettings, CachedTeacher, Dataset, GaussianMixtureConfig, cache_teacher,
};
use dark_knowledge_eval::measure_efficiency;
use dark_knowledge_models::MlpConfig;
use dark_knowledge_train::{CheckpointConfig, Progress, Trainer, TrainerConfig};

/// What to run.
pub struct BenchSettings {
    /// Device name (`cpu`, `wgpu`, …).
    pub device: String,
    /// Fashion-MNIST folder; synthetic data of the same shape when it has no IDX files.
    pub data_dir: PathBuf,
    /// Training rows for the teacher epochs.
    pub teacher_rows: usize,
    /// Training rows for the distillation epochs.
    pub student_rows: usize,
    /// Timed epochs per training workload (after one warm-up epoch).
    pub repeats: usize,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The training data: Fashion-MNIST's first `rows` training images, or synthetic rows of the
/// same shape; and a description saying which.
fn load_data(dir: &Path, rows: usize, device: &Device) -> Result<(Dataset, String)> {
    match FashionMnist::load_limited(dir, Some(rows), Some(1)) {
        Ok(fm) => {
            let n = fm.train.len();
            Ok((
                Dataset::new(fm.train.images, 784, fm.train.labels, 10, device)?,
                format!("fashion-mnist ({}), {n} training images", dir.display()),
            ))
        }
        Err(e) => {
            log::warn!("bench: {e}; using synthetic data of the same shape");
            let data = GaussianMixtureConfig {
                num_samples: rows,
                num_features: 784,
                num_classes: 10,
                clusters_per_class: 1,
                cluster_std: 1.0,
                seed: 0,
            }
            .dataset(device)?;
            Ok((
                data,
                format!(
                    "synthetic (784 features, 10 classes, {rows} rows): Fashion-MNIST not found in {}",
                    dir.display()
                ),
            ))
        }
    }
}

/// Rows per second of one epoch of `trainer` on `train`.
fn epoch_rate(
    model: dark_knowledge_models::Mlp,
    train: &Dataset,
    valid: &Dataset,
    teacher: Option<&dyn Teacher>,
    loss: SoftTargetLossConfig,
) -> Result<f64> {
    let trainer = Trainer::new(TrainerConfig {
        epochs: 1,
        batch_size: 128,
        learning_rate: 1e-3,
        loss,
        ..TrainerConfig::default()
    })?
    .with_progress(Progress::Silent);
    let out = trainer.fit(model, train, valid, teacher)?;
    Ok(train.len() as f64 / out.history[0].seconds)
}

/// Rows per second of one teacher epoch including the end-of-epoch checkpoint when
/// `checkpoints` is set (wall time of the whole `fit`), and the checkpoint's size in bytes.
fn checkpointed_rate(
    model: dark_knowledge_models::Mlp,
    train: &Dataset,
    valid: &Dataset,
    checkpoints: Option<&Path>,
) -> Result<(f64, u64)> {
    let mut trainer = Trainer::new(TrainerConfig {
        epochs: 1,
        batch_size: 128,
        learning_rate: 1e-3,
        ..TrainerConfig::default()
    })?
    .with_progress(Progress::Silent);
    if let Some(dir) = checkpoints {
        trainer = trainer.with_checkpoints(CheckpointConfig::new(dir).with_keep(1));
    }
    let t = Instant::now();
    trainer.fit(model, train, valid, None)?;
    let seconds = t.elapsed().as_secs_f64();
    let bytes = match checkpoints {
        Some(dir) => std::fs::read_dir(dir)?
            .flatten()
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum(),
        None => 0,
    };
    Ok((train.len() as f64 / seconds, bytes))
}

fn machine() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    serde_json::json!({
        "cpu": cpu,
        "threads": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
    })
}

/// The rows the workloads use: every row loaded, the validation rows (the last 128) and the
/// training rows of the teacher and of the distillation epochs.
struct BenchData {
    all: Dataset,
    /// Which data these are.
    description: String,
    valid: Dataset,
    teacher_train: Dataset,
    student_train: Dataset,
}

impl BenchData {
    fn load(s: &BenchSettings, device: &Device) -> Result<Self> {
        let rows = s.teacher_rows.max(s.student_rows) + 128;
        let (all, description) = load_data(&s.data_dir, rows, device)?;
        let n = all.len();
        if n < 256 {
            crate::bail!("bench needs at least 256 rows of data, found {n}");
        }
        let range = |a: usize, b: usize| all.subset(&(a..b).collect::<Vec<_>>());
        let valid = range(n - 128, n)?;
        let student_train = range(0, s.student_rows.clamp(128, n - 128))?;
        let teacher_train = range(0, s.teacher_rows.clamp(128, n - 128))?;
        Ok(Self {
            all,
            description,
            valid,
            teacher_train,
            student_train,
        })
    }
}

/// The teacher, MLP 784-1200-1200-10 with dropout, initialised from seed 0.
fn new_teacher(device: &Device) -> dark_knowledge_models::Mlp {
    device.seed(0);
    MlpConfig::new(784, vec![1200, 1200], 10)
        .with_dropout(0.2)
        .init(device)
}

/// The student, MLP 784-64-10, initialised from seed 1.
fn new_student(device: &Device) -> dark_knowledge_models::Mlp {
    device.seed(1);
    MlpConfig::new(784, vec![64], 10).init(device)
}

/// Median rows per second of `repeats` teacher epochs (after one warm-up epoch).
fn teacher_train_rate(
    d: &BenchData,
    device: &Device,
    repeats: usize,
    kd: &SoftTargetLossConfig,
) -> Result<f64> {
    log::info!(
        "bench: teacher training ({} rows per epoch)",
        d.teacher_train.len()
    );
    let mut rates = Vec::new();
    for i in 0..=repeats {
        let r = epoch_rate(
            new_teacher(device),
            &d.teacher_train,
            &d.valid,
            None,
            kd.clone(),
        )?;
        if i > 0 {
            rates.push(r);
        }
    }
    Ok(median(rates))
}

/// Median rows per second of whole teacher fits without and with a checkpoint after the
/// epoch, alternating, and the checkpoint's size in bytes.
fn checkpoint_rates(d: &BenchData, device: &Device, repeats: usize) -> Result<(f64, f64, u64)> {
    log::info!("bench: teacher epochs with a checkpoint after each, and without, alternating");
    let ckpt_dir = std::env::temp_dir().join(format!("dk-bench-ckpt-{}", std::process::id()));
    let (train, valid) = (&d.teacher_train, &d.valid);
    let (mut plain, mut with_ckpt, mut ckpt_bytes) = (Vec::new(), Vec::new(), 0);
    for i in 0..=repeats {
        let (a, _) = checkpointed_rate(new_teacher(device), train, valid, None)?;
        let (b, bytes) = checkpointed_rate(new_teacher(device), train, valid, Some(&ckpt_dir))?;
        if i > 0 {
            plain.push(a);
            with_ckpt.push(b);
            ckpt_bytes = bytes;
        }
    }
    std::fs::remove_dir_all(&ckpt_dir).ok();
    Ok((median(plain), median(with_ckpt), ckpt_bytes))
}

/// The distillation workloads: seconds to write the teacher's f32 cache of every row, and
/// the median rows per second of student epochs with the teacher run online and read from
/// that cache.
struct DistillRates {
    cache_seconds: f64,
    online: f64,
    cached: f64,
}

/// Writes the teacher's cache, then times the distillation epochs online and cached.
fn distill_rates(
    teacher: &FrozenTeacher<dark_knowledge_models::Mlp>,
    d: &BenchData,
    device: &Device,
    repeats: usize,
    kd: &SoftTargetLossConfig,
) -> Result<DistillRates> {
    let cache_dir = std::env::temp_dir().join(format!("dk-bench-{}", std::process::id()));
    let cache_path = cache_dir.join("teacher.dktc");
    let settings = CacheSettings {
        dtype: CacheDtype::F32,
        top_k: None,
        teacher: "MLP 784-1200-1200-10".into(),
        teacher_fingerprint: "0".repeat(32),
        batch_size: 1024,
    };
    let t = Instant::now();
    cache_teacher(teacher, &d.all, &cache_path, &settings, |_| {})?;
    let cache_seconds = t.elapsed().as_secs_f64();
    let cached = CachedTeacher::open(&cache_path, &d.all)?;

    log::info!(
        "bench: distillation, teacher online and cached ({} rows per epoch)",
        d.student_train.len()
    );
    let (train, valid) = (&d.student_train, &d.valid);
    let (mut online, mut from_cache) = (Vec::new(), Vec::new());
    for i in 0..=repeats {
        let a = epoch_rate(new_student(device), train, valid, Some(teacher), kd.clone())?;
        let b = epoch_rate(new_student(device), train, valid, Some(&cached), kd.clone())?;
        if i > 0 {
            online.push(a);
            from_cache.push(b);
        }
    }
    std::fs::remove_dir_all(&cache_dir).ok();
    Ok(DistillRates {
        cache_seconds,
        online: median(online),
        cached: median(from_cache),
    })
}

/// Runs the workloads and returns the JSON result.
pub fn bench(s: &BenchSettings) -> Result<serde_json::Value> {
    let started = Instant::now();
    let device = dark_knowledge_core::device_from_name(&s.device)?;
    let d = BenchData::load(s, &device)?;
    let repeats = s.repeats.max(1);
    let kd = SoftTargetLossConfig::new(4.0, 0.1, 0.9);
    let teacher_train_rate = teacher_train_rate(&d, &device, repeats, &kd)?;
    let (plain, with_ckpt, ckpt_bytes) = checkpoint_rates(&d, &device, repeats)?;
    let teacher = FrozenTeacher::new(new_teacher(&device));
    let distill = distill_rates(&teacher, &d, &device, repeats, &kd)?;
    let valid = &d.valid;

    log::info!("bench: inference");
    let student = new_student(&device);
    let student_eff = measure_efficiency(&student, valid, 2000);
    let host_latency = host_latency_us(&student, valid);
    let teacher_eff = measure_efficiency(teacher.model(), valid, 50);

    Ok(serde_json::json!({
        "teacher_train_samples_per_s": teacher_train_rate,
        "teacher_epoch_wall_samples_per_s": plain,
        "teacher_epoch_checkpointed_wall_samples_per_s": with_ckpt,
        "checkpoint_cost_ratio": plain / with_ckpt,
        "checkpoint_bytes": ckpt_bytes,
        "kd_online_samples_per_s": distill.online,
        "kd_cached_samples_per_s": distill.cached,
        "student_latency_us_batch1": host_latency,
        "student_latency_us_batch1_burn": student_eff.latency_us_batch1,
        "teacher_inference_us_per_sample_batch1024": 1e6 / teacher_eff.throughput_per_s_batch1024,
        "backend": s.device,
        "machine": machine(),
        "data": d.description,
        "settings": {
            "teacher": "MLP 784-1200-1200-10, dropout 0.2, Adam lr 1e-3",
            "student": "MLP 784-64-10, KD T = 4, ce_weight 0.1, kd_weight 0.9, Adam lr 1e-3",
            "batch_size": 128,
            "teacher_rows_per_epoch": d.teacher_train.len(),
            "student_rows_per_epoch": d.student_train.len(),
            "timed_epochs": repeats,
            "checkpoint": "one teacher epoch timed as a whole fit (setup, epoch, validation, and the end-of-epoch checkpoint: student, Adam state, best model), with and without checkpoints, alternating; checkpoint_cost_ratio = rows/s without / rows/s with",
            "teacher_cache_write_seconds": distill.cache_seconds,
            "method": "rows per second of whole Trainer epochs (median, after one warm-up epoch); student latency: median of 5 runs of 2,000 single-row calls (rows cycled) on the lean host path the Predictor uses for MLP students (`_burn`: one burn forward with read-back, median of 2,000); batch 1024: median of 5 calls",
        },
        "seconds": started.elapsed().as_secs_f64(),
    }))
}

/// Median µs per single-row call of the lean host path ([`HostMlp`]), over 5 runs of 2,000
/// calls cycling through the rows of `data`, as the PyTorch reference measures batch 1.
/// Studies time their students with it too ([`crate::study`]).
pub(crate) fn host_latency_us(student: &dark_knowledge_models::Mlp, data: &Dataset) -> f64 {
    let host = dark_knowledge_models::HostMlp::from_mlp(student);
    let rows = dark_knowledge_core::tensor_util::to_vec_f32(data.features().clone());
    let nf = data.num_features();
    let (mut out, mut scratch) = (Vec::new(), Vec::new());
    let mut run = |calls: usize| {
        let t = Instant::now();
        for k in 0..calls {
            let r = k % data.len();
            host.logits_into(&rows[r * nf..(r + 1) * nf], &mut out, &mut scratch);
            std::hint::black_box(&out);
        }
        t.elapsed().as_secs_f64() * 1e6 / calls as f64
    };
    run(200);
    median((0..5).map(|_| run(2000)).collect())
}
