//! Training and distilling language models: [`LmTrainer`] with an [`LmObjective`] —
//! cross-entropy with the data, a per-token divergence from a [`TokenTeacher`] (a network or
//! a top-k cache), a hidden-state term, on-policy batches (GKD) — and sequence-level KD's
//! teacher-written transfer set ([`teacher_transfer_set`]).

mod config;
mod eval;
mod on_policy;
mod seq_kd;
mod setup;
mod teacher;
mod trainer;

pub use config::{LmObjective, LmTrainerConfig, OnPolicyConfig, WeightedHidden, WeightedKd};
pub use eval::bits_per_token;
pub(crate) use eval::read_windows;
pub use seq_kd::{GeneratedWindows, SequenceKdConfig, teacher_transfer_set};
pub use teacher::TokenTeacher;
pub use trainer::{LmEvalRecord, LmTrainOutput, LmTrainer};
