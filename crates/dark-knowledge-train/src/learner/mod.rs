//! Distillation under burn-train: a module holding a trainable student and a frozen teacher
//! that implements burn-train's `TrainStep` and `InferenceStep`, so burn's
//! `SupervisedTraining` / `Learner` train it with their checkpointers, early stopping, metrics
//! and execution strategies; and a renderer that keeps burn-train quiet.
//!
//! burn-train's types stay in this module: they change shape between burn releases.

mod model;
mod renderer;
mod replicas;

pub use model::{DistillLearnerConfig, DistillLearnerModel};
pub use renderer::QuietRenderer;
