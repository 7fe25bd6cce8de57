//! # dark-knowledge
//!
//! Knowledge distillation on [burn](https://burn.dev): train a compact *student* from a
//! frozen *teacher*'s softened logits (Hinton et al. 2015), on the CPU or a GPU.
//!
//! ```no_run
//! use dark_knowledge::prelude::*;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let device = device_from_name("cpu")?;
//! let data = GaussianMixtureConfig::default().dataset(&device)?;
//! let split = stratified_split(data.labels_host(), 0.2, 0.0, 0)?;
//! let (train, valid) = (data.subset(&split.train)?, data.subset(&split.valid)?);
//!
//! // 1. A teacher, from hard labels.
//! device.seed(0);
//! let teacher = MlpConfig::new(10, vec![256, 256], 4).init(&device);
//! let trainer = Trainer::new(TrainerConfig::default())?;
//! let teacher = FrozenTeacher::new(trainer.fit(teacher, &train, &valid, None)?.best);
//!
//! // 2. A small student, from the teacher's soft targets.
//! let student = MlpConfig::new(10, vec![16], 4).init(&device);
//! let config = TrainerConfig {
//!     loss: SoftTargetLossConfig::new(4.0, 0.1, 0.9),
//!     ..TrainerConfig::default()
//! };
//! let out = Trainer::new(config)?.fit(student, &train, &valid, Some(&teacher))?;
//! println!("student accuracy {:.3}", out.history.last().unwrap().valid.accuracy);
//! # Ok(()) }
//! ```
//!
//! ## Crates
//! - [`core`]: losses, the [`Teacher`] abstraction, devices, errors;
//! - [`data`]: datasets as device tensors, splits, synthetic tasks;
//! - [`models`]: the reference MLP and CNN;
//! - [`train`]: the trainer, and [`train::learner`] for burn-train's `Learner`;
//! - [`text`]: distilling language models — token-level losses, a causal transformer, top-k
//!   token caches, on-policy and sequence-level KD, the study;
//! - [`infer`]: scoring records with a saved model and its preprocessing;
//! - [`eval`]: metrics, the comparison report, plots;
//! - [`workflow`]: everything the `dark-knowledge` command does — experiment files, data
//!   preparation ([`Prepared`], [`prepare_table`]), the run folder ([`Workflow`]: teacher,
//!   distillation pipelines, cache, int8, report, model card), sweeps and studies
//!   ([`sweep`], [`reproduce`]), streaming prediction ([`predict_csv`], [`predict_images`]).
//!
//! Every workflow call fails with one [`Error`], which holds the typed error of the crate
//! that failed ([`Error::root`] under its context).
//!
//! ## The workflow from Rust
//! What `dark-knowledge demo` then `dark-knowledge predict` do, with the same files:
//!
//! ```no_run
//! use dark_knowledge::{Experiment, OnBadRow, Workflow, predict_csv};
//!
//! # fn main() -> Result<(), dark_knowledge::Error> {
//! let experiment = Experiment::churn_demo("runs/churn".into(), 42, "cpu".into());
//! let report = Workflow::new(experiment)?.demo()?; // teacher, students, int8, report
//! println!("{}", report.comparison_table());
//! let device = dark_knowledge::device_from_name("cpu")?;
//! let scored = predict_csv(
//!     "runs/churn".as_ref(), "distilled", "new_customers.csv".as_ref(),
//!     "scores.csv".as_ref(), OnBadRow::Skip, &device,
//! )?;
//! println!("{} rows scored", scored.scored);
//! # Ok(()) }
//! ```
//!
//! ## Features
//! - `flex` (default): burn's pure-Rust CPU backend;
//! - `ndarray`: burn's ndarray CPU backend;
//! - `wgpu`: GPUs through wgpu (also Mesa's software Vulkan).
#![warn(missing_docs)]

pub use burn;
pub use dark_knowledge_core as core;
pub use dark_knowledge_data as data;
pub use dark_knowledge_eval as eval;
pub use dark_knowledge_experiment as workflow;
pub use dark_knowledge_infer as infer;
pub use dark_knowledge_models as models;
pub use dark_knowledge_text as text;
pub use dark_knowledge_train as train;

/// Reliability: checksum manifests (`CHECKSUMS`), atomic and direct outputs, the run
/// folder's lock, and the file-length error every binary format shares (see
/// [`guide_guarantees`]).
pub use dark_knowledge_core::checksums::{self, ChecksumError};
pub use dark_knowledge_core::io::{OutputFile, write_atomic};
pub use dark_knowledge_data::FileLength;
pub use dark_knowledge_data::cache::{CacheDtype, TeacherCache};
pub use dark_knowledge_data::tabular::{ColumnRules, CsvTable, TabularConfig, TabularEncoder};
/// Drift of new rows against a run's training rows: the stored references, `drift` without
/// a model, `drift_with_model` as `predict` measures it (see [`guide_drift`]).
pub use dark_knowledge_eval::{ColumnDrift, DriftLevel, DriftReport};
pub use dark_knowledge_eval::{DatasetSummary, ModelMetrics, Report, evaluate_model};
pub use dark_knowledge_experiment::drift;
pub use dark_knowledge_experiment::predict::drift_with_model;
/// `predict_images` with or without the role's `calibration.json`.
pub use dark_knowledge_experiment::predict::predict_images_with;
pub use dark_knowledge_experiment::predict::{
    ImageSplit, OnBadRow, PredictOptions, PredictSummary, predict as predict_csv, predict_images,
    predict_with as predict_csv_with,
};
pub use dark_knowledge_experiment::prepare::{prepare, prepare_table};
pub use dark_knowledge_experiment::run::{RunLock, lock_dir as lock_run_folder};
pub use dark_knowledge_experiment::study::StudyOutcome;
pub use dark_knowledge_experiment::study::replicate::{ReplicateOptions, Replication, replicate};
pub use dark_knowledge_experiment::study::reproduce::{ReproduceOptions, reproduce};
pub use dark_knowledge_experiment::study::sweep::sweep;
pub use dark_knowledge_experiment::{
    Context, Error, Experiment, Prepared, Result, ResumeOptions, TeacherSource, TrainingMetrics,
    Workflow, quantize_run,
};
/// What `predict` does with training columns a CSV lacks (refuse, or score as missing).
pub use dark_knowledge_infer::MissingColumns;
pub use dark_knowledge_models::{
    ModelError, ModelInfo, ModelSpec, load_saved_model, save_saved_model,
};

pub use dark_knowledge_core::loss::{
    CrossEntropyLoss, DecoupledKdConfig, DecoupledKdLoss, DistConfig, DistLoss,
    LogitStandardizedKdConfig, LogitStandardizedKdLoss, LossTerms, MseLogitsLoss, Reduction,
    SoftTargetLoss, SoftTargetLossConfig,
};
pub use dark_knowledge_core::{
    Classifier, FeatureNames, Features, FrozenTeacher, ModelInput, PrecomputedTeacher, Teacher,
    TeacherBatch, device_from_name, device_names, devices_from_names, wgpu_unavailable_reason,
};
pub use dark_knowledge_data::{
    Augment, Augmented, BatchSource, Dataset, FeatureNoise, GaussianMixtureConfig, HorizontalFlip,
    LabeledBatch, LoaderData, RandomShift, RowBatcher, RowItem, RowItems, Split, stratified_split,
};
pub use dark_knowledge_models::{Cnn, CnnConfig, Mlp, MlpConfig};
/// Tabular teachers: boosted trees and deep ensembles (see [`guide_tabular`]).
pub use dark_knowledge_models::{GbdtConfig, LabeledRows, ModelEnsemble, TreeEnsemble, TreeModel};
/// Distillation under burn-train's `SupervisedTraining` / `Learner` (see
/// [`train::learner`]).
pub use dark_knowledge_train::learner::{DistillLearnerConfig, DistillLearnerModel, QuietRenderer};
pub use dark_knowledge_train::{
    CheckpointConfig, CheckpointError, CustomTerm, DistillationTerm, EarlyStop, EarlyStopping,
    EpochRecord, LrSchedule, OptimizerConfig, Progress, SplitMetrics, StepEvent, StopMetric,
    TeacherSet, TermInputs, TrainObserver, TrainOutput, Trainer, TrainerConfig, evaluate,
};

/// Everything needed for a typical distillation run, for glob import. No name here is also
/// a burn name (burn's `Dataset`, `TrainOutput`, `Reduction`): import ours from the crate root
/// (`dark_knowledge::Dataset`, `dark_knowledge::TrainOutput`) beside `use burn::...::*`.
pub mod prelude {
    pub use burn::module::Module;
    pub use burn::tensor::{Device, Int, Tensor, TensorData};

    pub use crate::{
        Augmented, BatchSource, CheckpointConfig, Classifier, Cnn, CnnConfig, CustomTerm,
        DistillationTerm, EarlyStopping, FrozenTeacher, GaussianMixtureConfig, LabeledBatch,
        LoaderData, LrSchedule, Mlp, MlpConfig, ModelInput, OptimizerConfig, PrecomputedTeacher,
        Progress, SoftTargetLoss, SoftTargetLossConfig, StopMetric, Teacher, TrainObserver,
        Trainer, TrainerConfig, device_from_name, stratified_split,
    };
    pub use crate::{Experiment, Workflow};
}

/// The guide's "your own model and data" page (`docs/own-model.md`); its code blocks are
/// compiled and run as this crate's doc-tests.
#[doc = include_str!("../../../docs/own-model.md")]
pub mod guide_own_model {}

/// The repository's README; its code blocks are compiled and run as doc-tests.
#[doc = include_str!("../../../README.md")]
pub mod guide_readme {}

/// The guide's command-line page (`docs/cli.md`).
#[doc = include_str!("../../../docs/cli.md")]
pub mod guide_cli {}

/// The guide's "from scores to a campaign" page (`docs/campaigns.md`); its code blocks are
/// compiled.
#[doc = include_str!("../../../docs/campaigns.md")]
pub mod guide_campaigns {}

/// The guide's tabular page (`docs/tabular.md`): tree and ensemble teachers, `auto`, the
/// peers, the recipe and `replicate`; its code blocks are compiled and run.
#[doc = include_str!("../../../docs/tabular.md")]
pub mod guide_tabular {}

/// The guide's language-model page (`docs/text.md`): token-level losses, the causal
/// transformer, the top-k token cache, on-policy and sequence-level KD, the study; its code
/// blocks are compiled.
#[doc = include_str!("../../../docs/text.md")]
pub mod guide_text {}

/// The guide's token-cache page (`docs/token-cache.md`): the file layout a Python teacher
/// writes.
#[doc = include_str!("../../../docs/token-cache.md")]
pub mod guide_token_cache {}

/// The guide's drift page (`docs/drift.md`); its code blocks are compiled.
#[doc = include_str!("../../../docs/drift.md")]
pub mod guide_drift {}

/// The guide's devices and backends page (`docs/devices.md`); its code blocks are compiled.
#[doc = include_str!("../../../docs/devices.md")]
pub mod guide_devices {}

/// The guide's "what we guarantee" page (`docs/guarantees.md`): atomic writes, checksums,
/// locks, validation, exit codes.
#[doc = include_str!("../../../docs/guarantees.md")]
pub mod guide_guarantees {}

/// The guide's fuzzing page (`docs/fuzzing.md`).
#[doc = include_str!("../../../docs/fuzzing.md")]
pub mod guide_fuzzing {}

/// The guide's inference page (`docs/inference.md`); its code blocks are compiled.
#[doc = include_str!("../../../docs/inference.md")]
pub mod guide_inference {}

/// The guide's losses page (`docs/losses.md`).
#[doc = include_str!("../../../docs/losses.md")]
pub mod guide_losses {}

/// The guide's methods page (`docs/methods.md`); its code blocks are compiled and run.
#[doc = include_str!("../../../docs/methods.md")]
pub mod guide_methods {}

/// The guide's offline teachers and cache page (`docs/offline.md`); its code blocks are
/// compiled and run.
#[doc = include_str!("../../../docs/offline.md")]
pub mod guide_offline {}

/// The guide's performance page (`docs/performance.md`).
#[doc = include_str!("../../../docs/performance.md")]
pub mod guide_performance {}

/// The guide's report page (`docs/report.md`).
#[doc = include_str!("../../../docs/report.md")]
pub mod guide_report {}

/// The guide's reproductions page (`docs/reproductions.md`).
#[doc = include_str!("../../../docs/reproductions.md")]
pub mod guide_reproductions {}

/// The guide's studies page (`docs/studies.md`).
#[doc = include_str!("../../../docs/studies.md")]
pub mod guide_studies {}

/// The guide's training page (`docs/training.md`); its code blocks are compiled and run.
#[doc = include_str!("../../../docs/training.md")]
pub mod guide_training {}

/// The guide's workflow page (`docs/workflow.md`: every command as a library call); its
/// code blocks are compiled and run.
#[doc = include_str!("../../../docs/workflow.md")]
pub mod guide_workflow {}
