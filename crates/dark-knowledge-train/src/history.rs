//! Per-epoch training history, returned as data.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Loss terms and accuracy over one pass of a dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SplitMetrics {
    /// Mean total loss (the value that was minimised).
    pub loss: f64,
    /// Mean hard-label cross-entropy, when the loss has that term.
    pub ce: Option<f64>,
    /// Mean `T²·KL(teacher ‖ student)` distillation term, when the loss has that term.
    pub kd: Option<f64>,
    /// Fraction of rows whose arg-max prediction equals the label.
    pub accuracy: f64,
    /// Fraction of rows where the student's arg-max equals the teacher's, when a teacher is
    /// given.
    pub teacher_agreement: Option<f64>,
    /// The area under the ROC curve of class 1, for binary targets when early stopping
    /// watches it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roc_auc: Option<f64>,
    /// Number of rows.
    pub rows: usize,
    /// Mean of every loss term, unweighted, by term name (`ce`, `kd`, `dkd`, `hint`, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub terms: BTreeMap<String, f64>,
}

/// What happened in one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// The epoch, 1-based.
    pub epoch: usize,
    /// The learning rate of the epoch's last step.
    pub learning_rate: f64,
    /// Metrics accumulated over the epoch's training steps (dropout on, weights changing).
    pub train: SplitMetrics,
    /// Metrics on the validation set after the epoch.
    pub valid: SplitMetrics,
    /// Wall-clock seconds of the epoch, validation included.
    pub seconds: f64,
    /// The weight of every loss term in this epoch (after its schedule), by term name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub term_weights: BTreeMap<String, f64>,
    /// The temperature of every term that has one, in this epoch, by term name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub temperatures: BTreeMap<String, f64>,
}

impl EpochRecord {
    /// A one-line summary for logs.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "train loss {:.4} acc {:.4} | valid loss {:.4} acc {:.4}",
            self.train.loss, self.train.accuracy, self.valid.loss, self.valid.accuracy
        );
        if let Some(a) = self.valid.teacher_agreement {
            s.push_str(&format!(" agree {a:.4}"));
        }
        if self.train.terms.len() > 1 {
            let terms: Vec<String> = self
                .train
                .terms
                .iter()
                .map(|(name, v)| format!("{name} {v:.4}"))
                .collect();
            s.push_str(&format!(" | terms {}", terms.join(" ")));
        }
        s
    }
}
