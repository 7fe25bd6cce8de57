//! Shared fixtures: a small non-linear synthetic task and trainer settings.
#![allow(dead_code)]

use burn::tensor::Device;
use dark_knowledge_core::Classifier;
use dark_knowledge_data::{Dataset, GaussianMixtureConfig, stratified_split};
use dark_knowledge_models::{Mlp, MlpConfig};
use dark_knowledge_train::{Progress, Trainer, TrainerConfig};

pub const FEATURES: usize = 10;
pub const CLASSES: usize = 4;

pub struct Task {
    pub train: Dataset,
    pub valid: Dataset,
    pub test: Dataset,
}

/// 4 classes, each a mixture of 2 Gaussian clusters in 10 dimensions (not linearly
/// separable), split 60 / 20 / 20.
pub fn task(device: &Device, num_samples: usize) -> Task {
    let data = GaussianMixtureConfig {
        num_samples,
        num_features: FEATURES,
        num_classes: CLASSES,
        clusters_per_class: 2,
        cluster_std: 1.0,
        seed: 7,
    }
    .dataset(device)
    .unwrap();
    let split = stratified_split(data.labels_host(), 0.2, 0.2, 7).unwrap();
    Task {
        train: data.subset(&split.train).unwrap(),
        valid: data.subset(&split.valid).unwrap(),
        test: data.subset(&split.test).unwrap(),
    }
}

pub fn trainer(config: TrainerConfig) -> Trainer {
    Trainer::new(config)
        .unwrap()
        .with_progress(Progress::Silent)
}

pub fn teacher_model(device: &Device) -> Mlp {
    MlpConfig::new(FEATURES, vec![128, 128], CLASSES)
        .with_dropout(0.1)
        .init(device)
}

pub fn student_model(device: &Device) -> Mlp {
    MlpConfig::new(FEATURES, vec![16], CLASSES).init(device)
}

/// Arg-max predictions of a model over a dataset.
pub fn predictions<M: Classifier<Input = burn::tensor::Tensor<2>>>(
    model: &M,
    data: &Dataset,
) -> Vec<i64> {
    let logits = model.logits(data.features().clone());
    dark_knowledge_core::tensor_util::to_vec_i64(dark_knowledge_core::rows::predicted_classes(
        logits,
    ))
}

/// Trainer settings for loss-term tests: batch 32, learning rate 3e-3, the given terms.
pub fn terms_config(epochs: usize, terms: Vec<dark_knowledge_train::LossTerm>) -> TrainerConfig {
    TrainerConfig {
        epochs,
        batch_size: 32,
        learning_rate: 3e-3,
        terms,
        ..TrainerConfig::default()
    }
}

/// A DKD term of `weight`: constant temperature `temperature`, `alpha = 1`, `beta` and
/// `warmup_epochs` as given.
pub fn dkd_term(
    weight: f64,
    temperature: f64,
    beta: f64,
    warmup_epochs: usize,
) -> dark_knowledge_train::LossTerm {
    dark_knowledge_train::LossTerm::new(
        dark_knowledge_train::TermKind::Dkd {
            temperature,
            temperature_schedule: dark_knowledge_train::Schedule::Constant {},
            alpha: 1.0,
            beta,
            warmup_epochs,
        },
        weight,
    )
}

/// The teacher of the task, trained 8 epochs from labels, frozen.
pub fn trained_teacher(device: &Device, task: &Task) -> dark_knowledge_core::FrozenTeacher<Mlp> {
    let out = trainer(terms_config(8, Vec::new()))
        .fit(teacher_model(device), &task.train, &task.valid, None)
        .unwrap();
    dark_knowledge_core::FrozenTeacher::new(out.best)
}

/// What most distillation tests start from: the generator held ([`exclusive_rng`]), the
/// flex device, the task of `num_samples` rows on it and its [`trained_teacher`].
pub fn task_with_teacher(
    num_samples: usize,
) -> (
    std::sync::MutexGuard<'static, ()>,
    Device,
    Task,
    dark_knowledge_core::FrozenTeacher<Mlp>,
) {
    let rng = exclusive_rng();
    let device = Device::flex();
    let task = task(&device, num_samples);
    let teacher = trained_teacher(&device, &task);
    (rng, device, task, teacher)
}

/// The largest absolute difference between two parameter vectors.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Holds the device's random generator for one test.
///
/// burn's generator is global per backend: tests of one binary run on parallel threads, and
/// a test that seeds it, initialises a model or draws dropout masks would change what
/// another test draws between its own `seed` and model initialisation. Every test of a
/// binary that compares runs takes this guard first, so the runs it compares see the
/// generator alone.
pub fn exclusive_rng() -> std::sync::MutexGuard<'static, ()> {
    static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());
    RNG.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
