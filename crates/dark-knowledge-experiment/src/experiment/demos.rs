//! The built-in experiments of `dark-knowledge demo`: [`Experiment::churn_demo`],
//! [`Experiment::csv_demo`] and [`Experiment::fashion_demo`].

use std::path::PathBuf;

use dark_knowledge_core::loss::SoftTargetLossConfig;
use dark_knowledge_data::{Generator, SynthesizerConfig};
use dark_knowledge_models::{GbdtConfig, ModelSpec};
use dark_knowledge_train::{Combine, LrSchedule, TrainerConfig};

use super::{
    CheckpointSection, DataConfig, DataSource, EvaluationSection, Experiment, Pipeline,
    StudentSection, TeacherSection,
};

/// The synthetic transfer set of the tabular demos: Gibbs resampling, four times the
/// labelled training rows.
fn tabular_transfer_set() -> SynthesizerConfig {
    SynthesizerConfig::new(Generator::Gibbs, 4.0)
}

impl Experiment {
    /// The default experiment of `dark-knowledge demo` on the embedded churn data: boosted
    /// trees distilled into an MLP 81-8-2 with a synthetic transfer set (docs/tabular.md).
    pub fn churn_demo(output_dir: PathBuf, seed: u64, device: String) -> Self {
        let teacher_train = TrainerConfig {
            epochs: 40,
            batch_size: 64,
            learning_rate: 1e-3,
            weight_decay: 1e-5,
            schedule: LrSchedule::Cosine { min_lr: 1e-5 },
            seed,
            ..TrainerConfig::default()
        };
        // Plain KD at T = 1 with no label term: the boosted-tree teacher's probabilities are
        // already calibrated, and on the synthetic rows they are the only signal.
        let student_train = TrainerConfig {
            loss: SoftTargetLossConfig::new(1.0, 0.0, 1.0),
            learning_rate: 3e-3,
            ..teacher_train.clone()
        };
        Self {
            device,
            seed,
            output_dir,
            data: DataConfig {
                synthetic: Some(tabular_transfer_set()),
                ..DataConfig::new(DataSource::Churn)
            },
            // Boosted trees: the strong model on tables (a network teacher is no better than
            // the student trained from labels there). See docs/tabular.md for the figures.
            teacher: TeacherSection {
                model: ModelSpec::Gbdt(GbdtConfig::default()),
                weight: 1.0,
                combine: Combine::default(),
                train: teacher_train,
            },
            student: StudentSection {
                model: ModelSpec::mlp(vec![8], 0.0),
                baseline: true,
                logistic: true,
                trees: true,
                train: student_train,
            },
            teachers: Vec::new(),
            loss: Vec::new(),
            pipeline: Pipeline::Standard {},
            checkpoints: CheckpointSection::default(),
            // The 750 test rows hold 10-26 per state: the five states with at least 20 get
            // their own slice, the others are pooled.
            evaluation: EvaluationSection {
                slice_by: vec!["state".into(), "international_plan".into()],
                slice_min_rows: 20,
                ..EvaluationSection::default()
            },
            resume: false,
        }
    }

    /// The default experiment of `dark-knowledge demo --csv PATH --target COLUMN`.
    pub fn csv_demo(
        output_dir: PathBuf,
        seed: u64,
        device: String,
        path: PathBuf,
        target: String,
        positive: Option<String>,
    ) -> Self {
        let mut e = Self::churn_demo(output_dir, seed, device);
        e.data = DataConfig {
            path: Some(path),
            target: Some(target),
            positive,
            synthetic: Some(tabular_transfer_set()),
            ..DataConfig::new(DataSource::Csv)
        };
        // Which teacher is strongest depends on the table: fit the candidates, keep the
        // best on validation log-loss. The chosen one may be no better than the student
        // trained from labels (small tables, a noisy validation split): half of the loss
        // on the labels keeps the student anchored there (docs/tabular.md).
        e.teacher.model = ModelSpec::auto();
        e.student.train.loss = SoftTargetLossConfig::new(1.0, 0.5, 0.5);
        e.evaluation = EvaluationSection::default();
        e
    }

    /// The default experiment of `dark-knowledge demo --dataset fashion-mnist`.
    pub fn fashion_demo(output_dir: PathBuf, seed: u64, device: String, data_dir: PathBuf) -> Self {
        let train = TrainerConfig {
            epochs: 5,
            batch_size: 128,
            learning_rate: 1e-3,
            schedule: LrSchedule::Cosine { min_lr: 1e-5 },
            seed,
            ..TrainerConfig::default()
        };
        Self {
            device,
            seed,
            output_dir,
            data: DataConfig {
                data_dir: Some(data_dir),
                valid_fraction: 0.1,
                ..DataConfig::new(DataSource::FashionMnist)
            },
            teacher: TeacherSection {
                model: ModelSpec::mlp(vec![1200, 1200], 0.3),
                weight: 1.0,
                combine: Combine::default(),
                train: train.clone(),
            },
            student: StudentSection {
                model: ModelSpec::mlp(vec![64], 0.0),
                baseline: true,
                logistic: true,
                trees: true,
                train: TrainerConfig {
                    loss: SoftTargetLossConfig::new(4.0, 0.1, 0.9),
                    ..train
                },
            },
            teachers: Vec::new(),
            loss: Vec::new(),
            pipeline: Pipeline::Standard {},
            checkpoints: CheckpointSection::default(),
            evaluation: EvaluationSection::default(),
            resume: false,
        }
    }
}
