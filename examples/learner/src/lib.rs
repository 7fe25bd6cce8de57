//! Distillation under burn-train: a teacher MLP trained by our trainer, then a small student
//! distilled from it by burn's `SupervisedTraining` + `Learner`, with burn's data loaders,
//! accuracy and loss metrics, file checkpointers and early stopping, on the churn table
//! compiled into the library.
//!
//! The pieces a user writes are the ones here: the data as burn items
//! ([`RowItems`] + [`RowBatcher`] in a `DataLoaderBuilder`), the pair of models
//! ([`DistillLearnerConfig::init`]) and the `SupervisedTraining` settings.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use dark_knowledge::burn;

use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::module::Module;
use burn::optim::AdamConfig;
use burn::tensor::{Device, Tensor};
use burn::train::metric::store::{Aggregate, Direction, Split as MetricSplit};
use burn::train::metric::{AccuracyMetric, LossMetric};
use burn::train::{
    ExecutionStrategy, Learner, MetricEarlyStoppingStrategy, MultiDeviceOptim, StoppingCondition,
    SupervisedTraining,
};
use dark_knowledge::data::CHURN_CSV;
use dark_knowledge::data::tabular::{CsvTable, TabularConfig, TabularEncoder, TargetEncoding};
use dark_knowledge::{
    Dataset, DistillLearnerConfig, DistillLearnerModel, LabeledBatch, Mlp, MlpConfig, Progress,
    QuietRenderer, RowBatcher, RowItems, SoftTargetLossConfig, Trainer, TrainerConfig, evaluate,
    stratified_split,
};

/// The error type of the example: anything the library, burn-train or the file system reports.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// A burn data loader of labelled float rows.
pub type Loader = Arc<dyn DataLoader<LabeledBatch<Tensor<2>>>>;

/// The churn table, encoded (numbers standardised, categories one-hot, fitted on the
/// training rows) and split 70 / 15 / 15, stratified.
#[derive(Debug, Clone)]
pub struct Churn {
    /// Training rows.
    pub train: Dataset,
    /// Validation rows (burn-train's validation split: early stopping, best checkpoint).
    pub valid: Dataset,
    /// Test rows, for the reported accuracies.
    pub test: Dataset,
}

impl Churn {
    /// The embedded table on `device`, split with `seed`.
    ///
    /// # Errors
    /// Only if the embedded table were malformed.
    pub fn load(seed: u64, device: &Device) -> Result<Self, Error> {
        let table = CsvTable::parse(CHURN_CSV)?;
        let target = TargetEncoding::fit(&table, "churn", Some("yes"))?;
        let labels = target.labels(&table)?;
        let split = stratified_split(&labels, 0.15, 0.15, seed)?;
        let mut fit_rows = split.train.clone();
        fit_rows.sort_unstable();
        let encoder = TabularEncoder::fit(&table, &fit_rows, &TabularConfig::new("churn"))?;
        let all: Vec<usize> = (0..table.len()).collect();
        let features = encoder.encode_rows(&table, &all)?;
        let data = Dataset::new(
            features,
            encoder.num_features(),
            labels,
            target.num_classes(),
            device,
        )?;
        Ok(Self {
            train: data.subset(&split.train)?,
            valid: data.subset(&split.valid)?,
            test: data.subset(&split.test)?,
        })
    }

    /// The accuracy of always answering the most frequent class, on the test rows.
    pub fn majority_rate(&self) -> f64 {
        let labels = self.test.labels_host();
        let yes = labels.iter().filter(|&&l| l == 1).count();
        yes.max(labels.len() - yes) as f64 / labels.len() as f64
    }
}

/// The settings of a run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Epochs of the teacher (our trainer).
    pub teacher_epochs: usize,
    /// The teacher's hidden layers.
    pub teacher_hidden: Vec<usize>,
    /// The student's hidden layers.
    pub student_hidden: Vec<usize>,
    /// Most epochs of the student under burn-train.
    pub epochs: usize,
    /// Early stopping: epochs without a lower validation loss before burn-train stops.
    pub patience: usize,
    /// Rows per batch, for both.
    pub batch_size: usize,
    /// Adam's learning rate, for both.
    pub learning_rate: f64,
    /// The distillation loss.
    pub loss: SoftTargetLossConfig,
    /// Seed of the split, the weights and the shuffling.
    pub seed: u64,
}

impl Settings {
    /// The full run (about a minute on two CPU cores).
    pub fn full() -> Self {
        Self {
            teacher_epochs: 30,
            teacher_hidden: vec![128, 128],
            student_hidden: vec![8],
            epochs: 40,
            patience: 4,
            batch_size: 64,
            learning_rate: 3e-3,
            loss: SoftTargetLossConfig::new(4.0, 0.1, 0.9),
            seed: 7,
        }
    }

    /// The setting CI runs: a few teacher epochs, two student epochs.
    pub fn reduced() -> Self {
        Self {
            teacher_epochs: 6,
            epochs: 2,
            patience: 1,
            learning_rate: 1e-2,
            ..Self::full()
        }
    }
}

/// What a run reached.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The teacher's test accuracy.
    pub teacher: f64,
    /// The student's test accuracy after burn-train's last epoch.
    pub student: f64,
    /// The test accuracy of always answering the most frequent class.
    pub majority: f64,
    /// The epochs burn-train ran (fewer than [`Settings::epochs`] when it stopped early).
    pub epochs_run: usize,
    /// The checkpoint files burn-train kept, sorted.
    pub checkpoints: Vec<PathBuf>,
    /// Parameters of the teacher and of the student.
    pub params: (usize, usize),
    /// The student after the last epoch.
    pub student_model: Mlp,
}

/// A burn data loader over `data`'s rows, shuffled each epoch from `shuffle` when given.
///
/// # Errors
/// Data with unlabelled rows.
pub fn loader(data: &Dataset, batch_size: usize, shuffle: Option<u64>) -> Result<Loader, Error> {
    let items = RowItems::from_dataset(data)?;
    let builder = DataLoaderBuilder::new(RowBatcher::new(items.num_features()))
        .batch_size(batch_size)
        .set_device(data.device());
    let builder = match shuffle {
        Some(seed) => builder.shuffle(seed),
        None => builder,
    };
    Ok(builder.build(items))
}

/// Trains the teacher from the labels with our trainer.
///
/// # Errors
/// As [`Trainer::fit`].
pub fn train_teacher(data: &Churn, settings: &Settings, device: &Device) -> Result<Mlp, Error> {
    device.seed(settings.seed);
    let teacher = MlpConfig::new(
        data.train.num_features(),
        settings.teacher_hidden.clone(),
        2,
    )
    .with_dropout(0.1)
    .init(device);
    let config = TrainerConfig {
        epochs: settings.teacher_epochs,
        batch_size: settings.batch_size,
        learning_rate: settings.learning_rate,
        seed: settings.seed,
        ..TrainerConfig::default()
    };
    let out = Trainer::new(config)?.with_progress(Progress::Silent).fit(
        teacher,
        &data.train,
        &data.valid,
        None,
    )?;
    Ok(out.best)
}

/// Distills `model`'s student under burn-train, writing metrics and checkpoints to `dir`.
/// Returns the pair after the last epoch and the number of epochs run.
///
/// # Errors
/// burn-train's own error, when a step or a checkpoint failed.
pub fn distill(
    model: DistillLearnerModel<Mlp, Mlp>,
    train: Loader,
    valid: Loader,
    settings: &Settings,
    dir: &Path,
    devices: &[Device],
) -> Result<(DistillLearnerModel<Mlp, Mlp>, usize), Error> {
    let early_stopping = MetricEarlyStoppingStrategy::new(
        &LossMetric::new(),
        Aggregate::Mean,
        Direction::Lowest,
        MetricSplit::Valid,
        StoppingCondition::NoImprovementSince {
            n_epochs: settings.patience,
        },
    );
    let training = SupervisedTraining::new(dir, train, valid)
        .metrics((AccuracyMetric::new(), LossMetric::new()))
        .with_default_checkpointers()
        .early_stopping(early_stopping)
        .num_epochs(settings.epochs)
        .renderer(Box::new(QuietRenderer))
        .with_application_logger(None)
        .with_training_strategy(strategy(devices)?.into());
    let learner = Learner::new(model, AdamConfig::new().init(), settings.learning_rate);
    let result = training.launch(learner);
    if let Some(error) = result.error {
        return Err(format!("burn-train stopped: {error}").into());
    }
    Ok((result.model, epochs_logged(dir)?))
}

/// One device: burn's single-device strategy. Several: burn's `MultiDevice` data
/// parallelism, each device training on its share of the batches, the gradients summed on the
/// first device, which also validates and steps the optimizer (no collectives needed, so any
/// backend).
fn strategy(devices: &[Device]) -> Result<ExecutionStrategy, Error> {
    match devices {
        [] => Err("no device given".into()),
        [one] => Ok(ExecutionStrategy::single(one.clone())),
        several => Ok(ExecutionStrategy::multi(
            several.to_vec(),
            MultiDeviceOptim::OptimMainDevice,
        )),
    }
}

/// The number of epochs burn-train logged in `dir` (its metric logger writes one
/// `train/epoch-N` folder per epoch).
fn epochs_logged(dir: &Path) -> Result<usize, Error> {
    let mut epochs = 0;
    for entry in std::fs::read_dir(dir.join("train"))? {
        let name = entry?.file_name();
        if let Some(n) = name.to_str().and_then(|n| n.strip_prefix("epoch-")) {
            epochs = epochs.max(n.parse::<usize>()?);
        }
    }
    Ok(epochs)
}

/// The whole example: data, teacher, student under burn-train on `devices` (the data and
/// the teacher live on the first), test accuracies.
///
/// # Errors
/// As [`train_teacher`] and [`distill`]; a `dir` that cannot be written or already holds a
/// burn-train run (its metric logs would mix with this run's).
pub fn run(dir: &Path, settings: &Settings, devices: &[Device]) -> Result<Outcome, Error> {
    let device = devices.first().ok_or("no device given")?;
    if ["train", "valid", "checkpoint"]
        .iter()
        .any(|d| dir.join(d).exists())
    {
        return Err(format!(
            "{} already holds a burn-train run: give another folder or delete this one",
            dir.display()
        )
        .into());
    }
    std::fs::create_dir_all(dir)?;
    let data = Churn::load(settings.seed, device)?;
    let teacher = train_teacher(&data, settings, device)?;
    device.seed(settings.seed + 1);
    let student = MlpConfig::new(
        data.train.num_features(),
        settings.student_hidden.clone(),
        2,
    )
    .init(device);
    let model = DistillLearnerConfig::new()
        .with_loss(settings.loss.clone())
        .init(student, teacher.clone())?;
    let train = loader(&data.train, settings.batch_size, Some(settings.seed))?;
    let valid = loader(&data.valid, 1024, None)?;
    let (model, epochs_run) = distill(model, train, valid, settings, dir, devices)?;
    let student = model.into_student();
    let mut checkpoints: Vec<PathBuf> = std::fs::read_dir(dir.join("checkpoint"))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    checkpoints.sort();
    Ok(Outcome {
        teacher: evaluate(&teacher, &data.test, None, 1024)?.accuracy,
        student: evaluate(&student, &data.test, None, 1024)?.accuracy,
        majority: data.majority_rate(),
        epochs_run,
        checkpoints,
        params: (teacher.num_params(), student.num_params()),
        student_model: student,
    })
}
