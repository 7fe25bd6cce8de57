//! What a run records about each trained model (`OUT/<role>/metrics.json`), apart from the
//! commands that write it, so the model card reads it without depending on them.

use dark_knowledge_train::{EarlyStop, EpochRecord, TrainerConfig};
use serde::{Deserialize, Serialize};

/// Per-epoch history of a trained model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainingMetrics {
    /// The epoch whose weights were kept.
    pub best_epoch: usize,
    /// Settings used.
    pub trainer: TrainerConfig,
    /// One record per epoch.
    pub history: Vec<EpochRecord>,
    /// Where and why early stopping ended training, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<EarlyStop>,
    /// What the model learnt from: "no teacher", one teacher, or a weighted ensemble.
    #[serde(default)]
    pub taught_by: String,
}
