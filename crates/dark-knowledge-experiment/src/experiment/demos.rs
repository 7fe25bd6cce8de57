//! The built-in experiments of `dark-knowledge demo`: [`Experiment::churn_demo`],
//! [`Experiment::csv_demo`] and [`Experiment::fashion_demo`].

use std::path::PathBuf;

use dark_knowledge_core::loss::SoftTargetLossConfig;
use dark_knowledge_models::ModelSpec;
use dark_knowledge_train::{Combine, LrSchedule, TrainerConfig};

use super::{
    CheckpointSection, DataConfig, DataSource, EvaluationSection, Experiment, Pipeline,
    StudentSection, TeacherSection,
};

impl Experiment {
    /// The default experiment of `dark-knowledge demo` on the embedded churn data.
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
        let student_train = TrainerConfig {
            loss: SoftTargetLossConfig::new(2.0, 0.5, 0.5),
            learning_rate: 3e-3,
            ..teacher_train.clone()
        };
        Self {
            device,
            seed,
            output_dir,
            data: DataConfig::new(DataSource::Churn),
            teacher: TeacherSection {
                model: ModelSpec::mlp(vec![512, 512], 0.3),
                weight: 1.0,
                combine: Combine::default(),
                train: teacher_train,
            },
            student: StudentSection {
                model: ModelSpec::mlp(vec![8], 0.0),
                baseline: true,
                logistic: true,
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
            ..DataConfig::new(DataSource::Csv)
        };
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
