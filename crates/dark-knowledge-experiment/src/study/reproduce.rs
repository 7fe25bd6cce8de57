//! `reproduce NAME`: built-in studies on Fashion-MNIST.
//!
//! - `fashion-mnist-low-data`: 60, 180 and 600 labels per class (600 / 1,800 / 6,000 labels)
//!   × `hard` / `kd` / `kd+transfer`, plus the all-labels `hard` and `kd` runs; student
//!   784-64-10, teacher MLP 784-1200-1200-10 trained once on every training label, KD at
//!   T = 2 with 0.1 · CE + 0.9 · T² KL.
//! - `fashion-mnist-full`: all labels, `hard` against `kd` at T ∈ {2, 4, 8}.
//!
//! Pixels are scaled to [0, 1] and standardised with the training images' mean and standard
//! deviation, 1,000 training images are held out for validation (59,000 train). Every
//! student gets the same number of optimizer steps (by default 20 epochs of the training
//! split at batch 128), however many rows it trains on; its last-epoch model is tested on
//! the 10,000 official test images.

use std::path::PathBuf;

use crate::bail;
use crate::error::Result;
use dark_knowledge_models::ModelSpec;
use dark_knowledge_train::{LrSchedule, TrainerConfig};

use super::{Labels, Method, RunSpec, StudyContext, check_budgets, run_all, write_results};
use crate::experiment::{DataConfig, DataSource, Experiment};
use crate::run::prepare_experiment;

/// The built-in studies.
pub const STUDIES: [&str; 2] = ["fashion-mnist-low-data", "fashion-mnist-full"];

/// Settings of a `reproduce` run.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct ReproduceOptions {
    /// The study: `fashion-mnist-low-data` or `fashion-mnist-full`.
    pub name: String,
    /// Seeds 1..=K; results are mean ± std over them.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 3))]
    pub seeds: u64,
    /// Folder of the four Fashion-MNIST IDX files (.gz or raw).
    #[cfg_attr(feature = "clap", arg(long, default_value = dark_knowledge_data::idx::DEFAULT_FASHION_MNIST_DIR))]
    pub data_dir: PathBuf,
    /// Output folder (a killed study started again with the same folder resumes).
    #[cfg_attr(feature = "clap", arg(long))]
    pub out: PathBuf,
    /// `cpu` or `wgpu`.
    #[cfg_attr(feature = "clap", arg(long, default_value = "cpu"))]
    pub device: String,
    /// Optimizer steps per student (default: 20 epochs of the training split at batch 128).
    #[cfg_attr(feature = "clap", arg(long))]
    pub steps: Option<usize>,
    /// Teacher epochs.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 10))]
    pub teacher_epochs: usize,
    /// Use at most this many training images (quick runs).
    #[cfg_attr(feature = "clap", arg(long))]
    pub max_train_rows: Option<usize>,
    /// Use at most this many test images (quick runs).
    #[cfg_attr(feature = "clap", arg(long))]
    pub max_test_rows: Option<usize>,
    /// Labels per class of the low-data study.
    #[cfg_attr(
        feature = "clap",
        arg(long, value_delimiter = ',', default_value = "60,180,600")
    )]
    pub labels_per_class: Vec<usize>,
    /// Resume and checkpoint flags.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub checkpoints: crate::experiment::ResumeOptions,
}

impl ReproduceOptions {
    /// The study `name` into `out`, with the command's defaults: 3 seeds, Fashion-MNIST from
    /// its Debian folder, the CPU, 10 teacher epochs, 60 / 180 / 600 labels per class.
    pub fn new(name: impl Into<String>, out: PathBuf) -> Self {
        Self {
            name: name.into(),
            seeds: 3,
            data_dir: dark_knowledge_data::idx::DEFAULT_FASHION_MNIST_DIR.into(),
            out,
            device: "cpu".into(),
            steps: None,
            teacher_epochs: 10,
            max_train_rows: None,
            max_test_rows: None,
            labels_per_class: vec![60, 180, 600],
            checkpoints: Default::default(),
        }
    }
}

/// The study's base experiment: data, teacher, student, trainer settings.
fn base_experiment(o: &ReproduceOptions) -> Experiment {
    let mut e = Experiment::fashion_demo(o.out.clone(), 0, o.device.clone(), o.data_dir.clone());
    e.data = DataConfig {
        data_dir: Some(o.data_dir.clone()),
        // 1,000 of the 60,000 training images are held out to follow training; 59,000
        // train.
        valid_fraction: 1.0 / 60.0,
        max_train_rows: o.max_train_rows,
        max_test_rows: o.max_test_rows,
        ..DataConfig::new(DataSource::FashionMnist)
    };
    let train = TrainerConfig {
        epochs: o.teacher_epochs,
        batch_size: 128,
        learning_rate: 1e-3,
        schedule: LrSchedule::Cosine { min_lr: 0.0 },
        seed: 0,
        ..TrainerConfig::default()
    };
    e.teacher.model = ModelSpec::mlp(vec![1200, 1200], 0.3);
    e.teacher.train = train.clone();
    e.student.model = ModelSpec::mlp(vec![64], 0.0);
    e.student.baseline = false;
    e.student.train = train;
    e
}

/// The runs of study `name`.
///
/// # Errors
/// An unknown study name (listing the known ones).
pub fn specs(
    name: &str,
    seeds: u64,
    steps: usize,
    labels_per_class: &[usize],
) -> Result<Vec<RunSpec>> {
    let run = |setting: String, method, labels, temperature: f64, seed| RunSpec {
        setting,
        method,
        labels,
        student_hidden: None,
        temperature,
        kd_weight: 0.9,
        keep_term_temperatures: false,
        term_weights: None,
        seed,
        steps,
    };
    let mut specs = Vec::new();
    match name {
        "fashion-mnist-low-data" => {
            for &per_class in labels_per_class {
                let labels = Labels::PerClass(per_class);
                let setting = format!("{} labels", per_class * 10);
                for method in [Method::Hard, Method::Kd, Method::KdTransfer] {
                    for seed in 1..=seeds {
                        specs.push(run(setting.clone(), method, labels, 2.0, seed));
                    }
                }
            }
            for method in [Method::Hard, Method::Kd] {
                for seed in 1..=seeds {
                    specs.push(run("all labels".into(), method, Labels::All, 2.0, seed));
                }
            }
        }
        "fashion-mnist-full" => {
            for seed in 1..=seeds {
                specs.push(run(
                    "all labels".into(),
                    Method::Hard,
                    Labels::All,
                    2.0,
                    seed,
                ));
            }
            for t in [2.0, 4.0, 8.0] {
                for seed in 1..=seeds {
                    specs.push(run(
                        format!("all labels, T = {t}"),
                        Method::Kd,
                        Labels::All,
                        t,
                        seed,
                    ));
                }
            }
        }
        _ => bail!(
            "unknown study {name:?}; the studies are: {}",
            STUDIES.join(", ")
        ),
    }
    Ok(specs)
}

/// `reproduce`: runs (or resumes) the study and writes `OUT/results.json`, `results.md` and
/// the plots.
pub fn reproduce(o: &ReproduceOptions) -> Result<super::StudyOutcome> {
    crate::ensure!(
        o.seeds >= 1,
        "--seeds {}: allowed: an integer >= 1",
        o.seeds
    );
    crate::ensure!(o.steps != Some(0), "--steps 0: allowed: an integer >= 1");
    crate::ensure!(
        o.labels_per_class.iter().all(|&n| n >= 1),
        "--labels-per-class {:?}: allowed: integers >= 1",
        o.labels_per_class
    );
    specs(&o.name, 1, 1, &o.labels_per_class)?; // the name is known
    let mut experiment = base_experiment(o);
    o.checkpoints.apply(&mut experiment);
    crate::run::check_output_folder(&experiment.output_dir)?;
    let (device, mut data) = prepare_experiment(&experiment)?;
    let _lock = crate::run::RunDir::of(&experiment).lock()?;
    crate::run::clean_stale(&experiment);
    // As the reference does: pixels / 255, then standardised with the training images'
    // mean and standard deviation (one of each over every pixel).
    let (mean, std) = data.train.feature_mean_std();
    log::info!("pixels standardised with the training mean {mean:.4} and std {std:.4}");
    for part in [
        &mut data.train,
        &mut data.valid,
        &mut data.test,
        &mut data.all,
    ] {
        *part = part.standardized(mean, std)?;
    }
    let steps = o.steps.unwrap_or(20 * data.train.len().div_ceil(128));
    let specs = specs(&o.name, o.seeds, steps, &o.labels_per_class)?;
    check_budgets(&data.train, &specs)?;
    let ctx = StudyContext::new(experiment, data, &device)?;
    let results = run_all(&ctx, &specs, &o.out, &device)?;
    let rows = write_results(&o.out, &o.name, &results)?;
    Ok(super::StudyOutcome {
        name: o.name.clone(),
        runs: results,
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn studies_list_their_runs() {
        let low = specs("fashion-mnist-low-data", 3, 100, &[60, 180, 600]).unwrap();
        assert_eq!(low.len(), 3 * 3 * 3 + 2 * 3);
        let transfer_600: Vec<_> = low
            .iter()
            .filter(|s| s.setting == "600 labels" && s.method == Method::KdTransfer)
            .collect();
        assert_eq!(transfer_600.len(), 3);
        assert_eq!(transfer_600[0].labels, Labels::PerClass(60));
        let full = specs("fashion-mnist-full", 2, 100, &[]).unwrap();
        assert_eq!(full.len(), 2 + 3 * 2);
        let err = specs("cifar", 1, 1, &[]).unwrap_err().to_string();
        assert!(err.contains("fashion-mnist-low-data"), "{err}");
        let ids: std::collections::BTreeSet<_> = low.iter().map(RunSpec::id).collect();
        assert_eq!(ids.len(), low.len());
    }
}
