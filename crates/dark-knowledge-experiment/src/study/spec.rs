//! One run of a study: its settings, its id and what it measured.

use std::collections::BTreeMap;

use dark_knowledge_eval::plot::ReliabilityBin;
use serde::{Deserialize, Serialize};

use super::Labels;

/// How a student learns in one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Method {
    /// Cross-entropy on the labelled rows only.
    #[serde(rename = "hard")]
    Hard,
    /// Distillation on the labelled rows only.
    #[serde(rename = "kd")]
    Kd,
    /// Distillation on the labelled rows and, through the distillation terms only, on the
    /// rows whose labels are hidden (the transfer set).
    #[serde(rename = "kd+transfer")]
    KdTransfer,
}

impl Method {
    /// The name used in files.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hard => "hard",
            Self::Kd => "kd",
            Self::KdTransfer => "kd+transfer",
        }
    }
}

/// One run of a study: everything that distinguishes it from the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// What the runs that are averaged together share (all but method and seed).
    pub setting: String,
    /// How the student learns.
    pub method: Method,
    /// The training labels it keeps.
    pub labels: Labels,
    /// Hidden sizes of the MLP student; `None` keeps the base experiment's student.
    pub student_hidden: Option<Vec<usize>>,
    /// Distillation temperature (unused by `hard`).
    pub temperature: f64,
    /// Weight of the distillation term; the cross-entropy weight is `1 − kd_weight` (unused
    /// by `hard`, and by a base loss given as `[[loss]]` terms).
    pub kd_weight: f64,
    /// With `[[loss]]` terms and no temperature axis: keep each term's own temperature
    /// (`temperature` is then the first such term's, for reports).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_term_temperatures: bool,
    /// Term weights by name (the `[[loss]]` names, or `ce` and `kd` for the classic loss);
    /// terms not named keep their weight (unused by `hard`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term_weights: Option<BTreeMap<String, f64>>,
    /// Seed of the label selection, initialisation, shuffling and dropout.
    pub seed: u64,
    /// Optimizer steps; the epochs are `steps / steps per epoch`, rounded, at least 1.
    pub steps: usize,
}

/// Term weights as text, `ce = 0.1 kd = 0.9`: in setting names and plot labels.
pub fn describe_weights(weights: &BTreeMap<String, f64>) -> String {
    weights
        .iter()
        .map(|(name, v)| format!("{name} = {v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

impl RunSpec {
    /// A file-safe id, unique within a study.
    pub fn id(&self) -> String {
        let labels = match self.labels {
            Labels::All => "all".to_string(),
            Labels::PerClass(n) => format!("{n}pc"),
            Labels::Fraction(f) => format!("{f}f"),
        };
        let hidden = self
            .student_hidden
            .as_ref()
            .map_or("base".to_string(), |h| {
                h.iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join("x")
            });
        let method = match self.method {
            Method::Hard => "hard",
            Method::Kd => "kd",
            Method::KdTransfer => "kd-transfer",
        };
        let terms = self.term_weights.as_ref().map_or(String::new(), |w| {
            w.iter().map(|(name, v)| format!("_{name}{v}")).collect()
        });
        format!(
            "{method}_{labels}_h{hidden}_T{}_w{}{terms}_steps{}_seed{}",
            self.temperature, self.kd_weight, self.steps, self.seed
        )
        .replace(['/', ' '], "-")
    }
}

/// What one run measured on the test split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// The run.
    pub spec: RunSpec,
    /// Training rows with a label.
    pub n_labeled: usize,
    /// Training rows used (labelled and, for `kd+transfer`, unlabelled).
    pub n_train_rows: usize,
    /// Epochs over those rows.
    pub epochs: usize,
    /// The student's parameter count.
    #[serde(default)]
    pub student_params: usize,
    /// Test accuracy of the model after the last epoch, as a fraction.
    pub accuracy: f64,
    /// Its expected calibration error (15 bins).
    pub ece: f64,
    /// Fraction of test rows where it predicts the teacher's class.
    pub agreement_with_teacher: f64,
    /// The student, e.g. `MLP 71-8-2`, or `linear (MLP 71-2)` for an MLP with no hidden
    /// layer (a logistic regression).
    #[serde(default)]
    pub student: String,
    /// Test ROC-AUC of the positive-class probability (binary targets only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roc_auc: Option<f64>,
    /// Test log-loss (mean negative log-likelihood of the label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_loss: Option<f64>,
    /// Batch-1 latency in µs on the host path, measured after training: see
    /// [`super::measure::host_latency_us`]. `None` for a student not scored on that path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<f64>,
    /// Wall-clock seconds of training and evaluation.
    pub seconds: f64,
    /// Its reliability diagram's bins.
    pub reliability: Vec<ReliabilityBin>,
    /// The fingerprint of what the run depends on beyond its spec: the base experiment
    /// (output folder aside), the data and the teacher's weights. A run file with another
    /// context is stale and is run again.
    #[serde(default)]
    pub context: String,
}
