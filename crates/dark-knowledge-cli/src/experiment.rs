//! The TOML experiment file: data source, models, training settings, seed, device, output.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use dark_knowledge_core::loss::SoftTargetLossConfig;
use dark_knowledge_models::ModelSpec;
use dark_knowledge_train::{LrSchedule, TrainerConfig};
use serde::{Deserialize, Serialize};

/// A whole experiment. Unknown keys anywhere are rejected, naming the key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// `cpu` or `wgpu` (or `flex` / `ndarray`).
    #[serde(default = "default_device")]
    pub device: String,
    /// Seed of the split, the initialisations, the shuffles and dropout.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// The run folder; every command of the experiment reads and writes there.
    pub output_dir: PathBuf,
    /// Where the data comes from and how it is split.
    pub data: DataConfig,
    /// The teacher.
    pub teacher: TeacherSection,
    /// The student(s).
    pub student: StudentSection,
}

fn default_device() -> String {
    "cpu".into()
}
fn default_seed() -> u64 {
    42
}

/// Data source and split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// `churn` (the embedded telecom churn CSV), `csv` or `fashion-mnist`.
    pub source: DataSource,
    /// CSV file (`source = "csv"`).
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Target column (CSV sources; `churn` for the embedded data).
    #[serde(default)]
    pub target: Option<String>,
    /// Positive class label of a binary target (CSV sources; `yes` for the embedded data).
    #[serde(default)]
    pub positive: Option<String>,
    /// Columns to ignore (CSV sources).
    #[serde(default)]
    pub drop_columns: Vec<String>,
    /// Columns to treat as categorical even if numeric (CSV sources).
    #[serde(default)]
    pub categorical_columns: Vec<String>,
    /// Columns to treat as numeric (CSV sources; a non-number there is an error).
    #[serde(default)]
    pub numeric_columns: Vec<String>,
    /// Drop columns constant on the training rows (CSV sources).
    #[serde(default = "yes")]
    pub drop_constant: bool,
    /// Drop categorical columns whose training values are all distinct (IDs).
    #[serde(default)]
    pub drop_id_like: bool,
    /// Folder with the four Fashion-MNIST IDX files (`source = "fashion-mnist"`).
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// Fraction of the labelled rows held out for validation.
    #[serde(default = "default_valid_fraction")]
    pub valid_fraction: f64,
    /// Fraction held out for the test (CSV sources; Fashion-MNIST has its own test set).
    #[serde(default = "default_test_fraction")]
    pub test_fraction: f64,
    /// Use at most this many training rows (quick runs); all by default.
    #[serde(default)]
    pub max_train_rows: Option<usize>,
    /// Use at most this many test rows (quick runs); all by default.
    #[serde(default)]
    pub max_test_rows: Option<usize>,
}

fn yes() -> bool {
    true
}
fn default_valid_fraction() -> f64 {
    0.15
}
fn default_test_fraction() -> f64 {
    0.15
}

/// Where the data comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataSource {
    /// The telecom churn CSV compiled into the binary.
    Churn,
    /// Any CSV with a header.
    Csv,
    /// Fashion-MNIST IDX files.
    FashionMnist,
}

/// The teacher: its architecture and how it is trained from labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeacherSection {
    /// Architecture.
    pub model: ModelSpec,
    /// Training settings (the `loss` table is not used: a teacher learns from labels).
    #[serde(default)]
    pub train: TrainerConfig,
}

/// The student: architecture, distillation settings, and whether to train the baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudentSection {
    /// Architecture (the same for the baseline and the distilled student).
    pub model: ModelSpec,
    /// Also train the same student from labels only, same seed and schedule, for comparison.
    #[serde(default = "yes")]
    pub baseline: bool,
    /// Training settings; `loss` holds the distillation temperature and weights.
    #[serde(default)]
    pub train: TrainerConfig,
}

impl Experiment {
    /// Reads and checks an experiment file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read experiment file {}", path.display()))?;
        let mut experiment: Self = toml::from_str(&text)
            .with_context(|| format!("invalid experiment file {}", path.display()))?;
        // A relative output folder is relative to the experiment file.
        if experiment.output_dir.is_relative()
            && let Some(dir) = path.parent()
        {
            experiment.output_dir = dir.join(&experiment.output_dir);
        }
        if let Some(p) = &experiment.data.path
            && p.is_relative()
            && let Some(dir) = path.parent()
            && dir.join(p).exists()
        {
            experiment.data.path = Some(dir.join(p));
        }
        experiment.validate()?;
        Ok(experiment)
    }

    /// Checks the settings that can be checked before any data is read.
    pub fn validate(&self) -> Result<()> {
        self.teacher
            .train
            .validate()
            .context("in [teacher.train]")?;
        self.student
            .train
            .validate()
            .context("in [student.train]")?;
        match self.data.source {
            DataSource::Csv => {
                anyhow::ensure!(
                    self.data.path.is_some(),
                    "[data] source = \"csv\" needs `path`"
                );
                anyhow::ensure!(
                    self.data.target.is_some(),
                    "[data] source = \"csv\" needs `target`"
                );
            }
            DataSource::FashionMnist | DataSource::Churn => {}
        }
        Ok(())
    }

    /// The resolved experiment as TOML (written into the run folder).
    pub fn to_toml(&self) -> Result<String> {
        Ok(toml::to_string_pretty(self)?)
    }

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
                train: teacher_train,
            },
            student: StudentSection {
                model: ModelSpec::mlp(vec![8], 0.0),
                baseline: true,
                train: student_train,
            },
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
                train: train.clone(),
            },
            student: StudentSection {
                model: ModelSpec::mlp(vec![64], 0.0),
                baseline: true,
                train: TrainerConfig {
                    loss: SoftTargetLossConfig::new(4.0, 0.1, 0.9),
                    ..train
                },
            },
        }
    }
}

impl DataConfig {
    /// A data section with defaults for `source`.
    pub fn new(source: DataSource) -> Self {
        let churn = source == DataSource::Churn;
        Self {
            source,
            path: None,
            target: churn.then(|| "churn".to_string()),
            positive: churn.then(|| "yes".to_string()),
            drop_columns: Vec::new(),
            categorical_columns: Vec::new(),
            numeric_columns: Vec::new(),
            drop_constant: true,
            drop_id_like: false,
            data_dir: None,
            valid_fraction: default_valid_fraction(),
            test_fraction: default_test_fraction(),
            max_train_rows: None,
            max_test_rows: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_rejected_by_name_and_defaults_round_trip() {
        let e = Experiment::churn_demo("out".into(), 1, "cpu".into());
        let text = e.to_toml().unwrap();
        let back: Experiment = toml::from_str(&text).unwrap();
        assert_eq!(back, e);
        let bad = text.replace("[student.train]", "[student.train]\nlearning_rat = 0.1");
        let err = format!("{:#}", toml::from_str::<Experiment>(&bad).unwrap_err());
        assert!(err.contains("learning_rat"), "{err}");
        let bad = text.replace("[data]", "[data]\nsauce = 1");
        let err = format!("{:#}", toml::from_str::<Experiment>(&bad).unwrap_err());
        assert!(err.contains("sauce"), "{err}");
    }
}
