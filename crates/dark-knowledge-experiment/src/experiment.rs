//! The TOML experiment file: data source, models, training settings, seed, device, output.

use std::path::{Path, PathBuf};

use crate::error::{Context, Result};
use dark_knowledge_data::tabular::ColumnRules;
use dark_knowledge_models::ModelSpec;
use dark_knowledge_train::{Combine, LossTerm, TrainerConfig};
use serde::{Deserialize, Serialize};

mod demos;
mod evaluation;
mod pipeline;
mod validate;

pub use evaluation::EvaluationSection;
pub use pipeline::{ExtraTeacher, Pipeline};

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
    /// The teacher: a `[teacher]` table, or `teacher = "auto"` (the same as `[teacher]
    /// model = "auto"` with default training settings).
    #[serde(deserialize_with = "teacher_section")]
    pub teacher: TeacherSection,
    /// The student(s).
    pub student: StudentSection,
    /// Further teachers besides `[teacher]`, as `[[teachers]]` tables: the student learns
    /// from the weighted ensemble.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub teachers: Vec<ExtraTeacher>,
    /// The student's loss as named terms (`[[loss]]` tables); replaces
    /// `[student.train.loss]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub loss: Vec<LossTerm>,
    /// How the student is distilled: directly (default), through an assistant, by
    /// born-again generations, or by mutual learning.
    #[serde(default, skip_serializing_if = "Pipeline::is_standard")]
    pub pipeline: Pipeline,
    /// Checkpoints of every model trained (`[checkpoints]`): after each epoch, and every
    /// `every_steps` steps when set, in `output_dir/checkpoints/<model>/`.
    #[serde(default, skip_serializing_if = "CheckpointSection::is_default")]
    pub checkpoints: CheckpointSection,
    /// What `evaluate` adds to the comparison (`[evaluation]`): the threshold goal and the
    /// columns to slice the test rows by.
    #[serde(default, skip_serializing_if = "EvaluationSection::is_default")]
    pub evaluation: EvaluationSection,
    /// Resume each model from its newest checkpoint (`--resume`; not read from the file).
    #[serde(skip)]
    pub resume: bool,
}

/// `--resume` and `--checkpoint-every` of the training commands.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct ResumeOptions {
    /// Resume each model from its newest checkpoint in the run folder (models without one
    /// start afresh); the result equals an uninterrupted run bit for bit.
    #[cfg_attr(feature = "clap", arg(long))]
    pub resume: bool,
    /// Also write a checkpoint every N optimizer steps (default: after every epoch only).
    #[cfg_attr(feature = "clap", arg(long, value_name = "N"))]
    pub checkpoint_every: Option<usize>,
}

impl ResumeOptions {
    /// Applies the flags to `experiment` (they override `[checkpoints]`).
    pub fn apply(&self, experiment: &mut Experiment) {
        experiment.resume = self.resume;
        if self.checkpoint_every.is_some() {
            experiment.checkpoints.every_steps = self.checkpoint_every;
        }
    }
}

/// How often checkpoints are written and how many are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointSection {
    /// Also a checkpoint every this many optimizer steps, within epochs.
    #[serde(default)]
    pub every_steps: Option<usize>,
    /// The newest checkpoints kept per model, `>= 1`.
    #[serde(default = "default_keep")]
    pub keep: usize,
}

fn default_keep() -> usize {
    2
}

impl Default for CheckpointSection {
    fn default() -> Self {
        Self {
            every_steps: None,
            keep: default_keep(),
        }
    }
}

impl CheckpointSection {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

impl Experiment {
    /// The checkpoints of model `role`: `output_dir/checkpoints/<role>/`, tagged with the
    /// data section so a checkpoint of other data is refused.
    pub fn checkpoint_config(&self, role: &str) -> dark_knowledge_train::CheckpointConfig {
        let mut k = dark_knowledge_train::CheckpointConfig::new(
            self.output_dir.join("checkpoints").join(role),
        )
        .with_keep(self.checkpoints.keep)
        .with_tag(serde_json::to_string(&self.data).unwrap_or_default());
        k.every_steps = self.checkpoints.every_steps;
        k
    }

    /// `trainer` writing the checkpoints of `role`, resuming from them with `--resume`.
    pub fn checkpointed(
        &self,
        trainer: dark_knowledge_train::Trainer,
        role: &str,
    ) -> dark_knowledge_train::Trainer {
        let trainer = trainer.with_checkpoints(self.checkpoint_config(role));
        if self.resume {
            trainer.resuming()
        } else {
            trainer
        }
    }
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
    /// Columns to drop or force numeric or categorical (CSV sources): `drop_columns`,
    /// `categorical_columns`, `numeric_columns`, `drop_constant` (default `true`) and
    /// `drop_id_like`, written inline in `[data]`.
    #[serde(flatten)]
    pub columns: ColumnRules,
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
    /// Keep this many training labels per class (stratified, seeded) and hide the others:
    /// those rows become a transfer set, used without their labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labeled_per_class: Option<usize>,
    /// Keep this fraction of each class's training labels, `(0, 1]`, and hide the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labeled_fraction: Option<f64>,
    /// What a distilled student does with the training rows without labels: learn from the
    /// teacher on them (`transfer`, the default) or leave them out (`drop`). Teachers and
    /// baselines always train on the labelled rows only.
    #[serde(default, skip_serializing_if = "UnlabeledRows::is_transfer")]
    pub unlabeled_rows: UnlabeledRows,
    /// CSV rows with an empty (or NA) target: an error (`false`, the default), or
    /// unlabelled training rows (`true`), never part of the validation or test split.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub missing_target_is_unlabeled: bool,
    /// A synthetic transfer set made from the labelled training rows (tabular data only):
    /// `synthetic = { generator = "munge", multiple = 4 }`. The teacher labels its rows
    /// for a distilled student; nothing else trains on them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synthetic: Option<dark_knowledge_data::SynthesizerConfig>,
}

/// What a distilled student does with training rows that have no label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum UnlabeledRows {
    /// They contribute the distillation terms (Hinton et al.'s transfer set).
    #[default]
    Transfer,
    /// They are not used.
    Drop,
}

impl UnlabeledRows {
    fn is_transfer(&self) -> bool {
        *self == Self::Transfer
    }
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
    /// Architecture: a table such as `{ kind = "gbdt" }`, or `"auto"` (fit
    /// [`ModelSpec::auto_candidates`], keep the best on validation log-loss).
    #[serde(deserialize_with = "teacher_model")]
    pub model: ModelSpec,
    /// Its relative weight when `[[teachers]]` adds further teachers, `>= 0`.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub weight: f64,
    /// How an ensemble's teachers are combined for the logit terms.
    #[serde(default, skip_serializing_if = "is_default_combine")]
    pub combine: Combine,
    /// Training settings (the `loss` table is not used: a teacher learns from labels).
    #[serde(default)]
    pub train: TrainerConfig,
}

/// `teacher`: `"auto"` or a `[teacher]` table.
fn teacher_section<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<TeacherSection, D::Error> {
    use serde::de::Error as _;
    match toml::Value::deserialize(d)? {
        toml::Value::String(name) if name == "auto" => Ok(TeacherSection {
            model: ModelSpec::auto(),
            weight: 1.0,
            combine: Combine::default(),
            train: TrainerConfig::default(),
        }),
        toml::Value::String(name) => Err(D::Error::custom(format!(
            "teacher = {name:?}: expected \"auto\" or a [teacher] table"
        ))),
        value => value.try_into().map_err(D::Error::custom),
    }
}

/// `[teacher] model`: `"auto"` or a model table.
fn teacher_model<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<ModelSpec, D::Error> {
    use serde::de::Error as _;
    match toml::Value::deserialize(d)? {
        toml::Value::String(name) if name == "auto" => Ok(ModelSpec::auto()),
        toml::Value::String(name) => Err(D::Error::custom(format!(
            "model = {name:?}: expected \"auto\" or a table such as {{ kind = \"gbdt\" }}"
        ))),
        value => value.try_into().map_err(D::Error::custom),
    }
}

pub(crate) fn one() -> f64 {
    1.0
}

fn is_one(v: &f64) -> bool {
    *v == 1.0
}

fn is_default_combine(c: &Combine) -> bool {
    *c == Combine::default()
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
    /// Also train a multinomial logistic regression from labels (tabular data only,
    /// ignored for images): the baseline's settings, the L2 strength chosen on validation.
    #[serde(default = "yes")]
    pub logistic: bool,
    /// Also fit gradient-boosted trees from labels as the `trees` peer (tabular data only;
    /// skipped when the teacher already is trees): default settings, early stopping on
    /// validation.
    #[serde(default = "yes")]
    pub trees: bool,
    /// Training settings; `loss` holds the distillation temperature and weights.
    #[serde(default)]
    pub train: TrainerConfig,
}

impl Experiment {
    /// Reads and checks an experiment file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read experiment file {}", path.display()))?;
        Self::parse(&text, path)
    }

    /// Parses experiment TOML whose relative paths (`output_dir`, `[data] path`) are
    /// relative to the current folder, and validates it.
    pub fn from_toml(text: &str) -> Result<Self> {
        Self::parse(text, Path::new("experiment.toml"))
    }

    /// Parses the text of the experiment file at `path` (relative paths in it are relative
    /// to the file's folder) and validates it.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        // Standard TOML first: the typed parse also takes integers past TOML's 64-bit signed
        // range (e.g. 18446744073709551615), which the file then written into the run folder
        // would carry and no other TOML reader accepts.
        toml::from_str::<toml::Table>(text)
            .with_context(|| format!("invalid experiment file {}", path.display()))?;
        let mut experiment: Self = toml::from_str(text)
            .with_context(|| format!("invalid experiment file {}", path.display()))?;
        // A relative output folder is relative to the experiment file.
        if experiment.output_dir.is_relative()
            && let Some(dir) = path.parent()
        {
            experiment.output_dir = dir.join(&experiment.output_dir);
        }
        // The embedded churn data knows its label column and positive class.
        if experiment.data.source == DataSource::Churn {
            let d = &mut experiment.data;
            d.target.get_or_insert_with(|| "churn".into());
            d.positive.get_or_insert_with(|| "yes".into());
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

    /// The student's trainer settings with the `[[loss]]` terms, when given, in place.
    pub fn student_trainer(&self) -> TrainerConfig {
        let mut config = self.student.train.clone();
        if !self.loss.is_empty() {
            config.terms = self.loss.clone();
        }
        config
    }

    /// Whether the student's loss reads a teacher (a mutual pipeline whose terms are all
    /// `ce` needs none).
    pub fn student_needs_teacher(&self) -> bool {
        let terms = self.student_trainer().loss_terms();
        !matches!(self.pipeline, Pipeline::Mutual { .. })
            || terms
                .iter()
                .any(|t| t.needs_teacher_logits() || t.needs_features())
    }

    /// The resolved experiment as TOML (written into the run folder).
    pub fn to_toml(&self) -> Result<String> {
        Ok(toml::to_string_pretty(self)?)
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
            columns: ColumnRules::default(),
            data_dir: None,
            valid_fraction: default_valid_fraction(),
            test_fraction: default_test_fraction(),
            max_train_rows: None,
            max_test_rows: None,
            labeled_per_class: None,
            labeled_fraction: None,
            unlabeled_rows: UnlabeledRows::Transfer,
            missing_target_is_unlabeled: false,
            synthetic: None,
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
        // Kinds without settings of their own reject stray keys as well.
        let bad = format!("{text}\n[pipeline]\nkind = \"standard\"\ngenerations = 3\n");
        let err = format!("{:#}", toml::from_str::<Experiment>(&bad).unwrap_err());
        assert!(err.contains("generations"), "{err}");
        let err =
            toml::from_str::<TrainerConfig>("schedule = { kind = \"constant\", min_lr = 0.1 }")
                .unwrap_err()
                .to_string();
        assert!(err.contains("min_lr"), "{err}");
    }
}
