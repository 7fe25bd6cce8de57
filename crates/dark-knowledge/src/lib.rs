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
//! - [`infer`]: scoring records with a saved model and its preprocessing.
//!
//! ## Features
//! - `flex` (default): burn's pure-Rust CPU backend;
//! - `ndarray`: burn's ndarray CPU backend;
//! - `wgpu`: GPUs through wgpu (also Mesa's software Vulkan).
#![warn(missing_docs)]

pub use burn;
pub use dark_knowledge_core as core;
pub use dark_knowledge_data as data;
pub use dark_knowledge_infer as infer;
pub use dark_knowledge_models as models;
pub use dark_knowledge_train as train;

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
}

/// The guide's "your own model and data" page (`docs/own-model.md`); its code blocks are
/// compiled and run as this crate's doc-tests.
#[doc = include_str!("../../../docs/own-model.md")]
pub mod guide_own_model {}
