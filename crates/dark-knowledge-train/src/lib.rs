//! The dark-knowledge trainer: one loop that trains a teacher from hard labels or distills a
//! student from a [`Teacher`](dark_knowledge_core::Teacher), with Adam / AdamW / SGD,
//! constant / cosine / step learning-rate schedules, per-epoch validation, best and last
//! models, and the per-epoch history of every loss term.
#![warn(missing_docs)]

mod builtin;
pub mod checkpoint;
mod config;
mod distillee;
pub mod error;
mod evaluate;
mod history;
pub mod learner;
mod mutual;
mod objective;
mod observer;
mod progress;
mod run;
mod schedule;
mod setup;
mod stopping;
mod teachers;
mod term;
mod term_kind;
pub mod terms;
mod trainer;

pub use checkpoint::{CheckpointConfig, CheckpointError};
pub use config::{AdamMoments, LrSchedule, OptimizerConfig, TrainerConfig};
pub use error::{Error, Result};
pub use evaluate::{count_correct, evaluate, predicted_classes};
pub use history::{EpochRecord, SplitMetrics};
pub use mutual::{MutualConfig, mutual_terms};
pub use objective::Combine;
pub use observer::{StepEvent, TrainObserver};
pub use progress::Progress;
pub use stopping::{EarlyStop, EarlyStopping, StopMetric, roc_auc};
pub use teachers::TeacherSet;
pub use term::{CustomTerm, DistillationTerm, TermInputs};
pub use terms::{FeatureLayers, Layer, LayerChoice, LossTerm, Schedule, TermKind};
pub use trainer::{TrainOutput, Trainer};
