//! Checks before a run starts, and the optimizer of each student.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer, SgdConfig};
use dark_knowledge_core::{Classifier, Error as CoreError, Teacher, check_class_counts};
use dark_knowledge_data::BatchSource;

use crate::config::OptimizerConfig;
use crate::error::Result;

/// Class and feature counts of model, data and teacher agree.
pub(crate) fn check_compatible<M: Classifier>(
    model: &M,
    train: &dyn BatchSource<M::Input>,
    valid: &dyn BatchSource<M::Input>,
    teacher: Option<&dyn Teacher<M::Input>>,
) -> Result<()> {
    for (what, data) in [("training data", train), ("validation data", valid)] {
        if data.num_classes() != model.num_classes() {
            return Err(CoreError::ShapeMismatch {
                what,
                expected: format!("{} classes, as the model predicts", model.num_classes()),
                got: format!("{} classes", data.num_classes()),
            }
            .into());
        }
        if let (Some(d), Some(m)) = (data.num_features(), model.num_features())
            && d != m
        {
            return Err(CoreError::ShapeMismatch {
                what,
                expected: format!("{m} features per row, as the model reads"),
                got: format!("{d} features"),
            }
            .into());
        }
    }
    if let Some(teacher) = teacher {
        check_class_counts(teacher.num_classes(), model.num_classes())?;
        if let (Some(f), Some(d)) = (teacher.num_features(), train.num_features())
            && f != d
        {
            return Err(CoreError::ShapeMismatch {
                what: "teacher inputs",
                expected: format!("{d} features per row, as the data has"),
                got: format!("a teacher reading {f} features"),
            }
            .into());
        }
    }
    Ok(())
}

pub(crate) fn build_optimizer(config: &OptimizerConfig, weight_decay: f64) -> ModuleOptimizer {
    let l2 = (weight_decay > 0.0).then(|| WeightDecayConfig::new(weight_decay as f32));
    match *config {
        OptimizerConfig::Adam {
            beta_1,
            beta_2,
            epsilon,
        } => AdamConfig::new()
            .with_beta_1(beta_1 as f32)
            .with_beta_2(beta_2 as f32)
            .with_epsilon(epsilon as f32)
            .with_weight_decay(l2)
            .init(),
        OptimizerConfig::AdamW {
            beta_1,
            beta_2,
            epsilon,
        } => AdamWConfig::new()
            .with_beta_1(beta_1 as f32)
            .with_beta_2(beta_2 as f32)
            .with_epsilon(epsilon as f32)
            .with_weight_decay(weight_decay as f32)
            .init(),
        OptimizerConfig::Sgd { momentum, nesterov } => SgdConfig::new()
            .with_momentum((momentum > 0.0).then(|| {
                MomentumConfig::new()
                    .with_momentum(momentum)
                    .with_dampening(0.0)
                    .with_nesterov(nesterov)
            }))
            .with_weight_decay(l2)
            .init(),
    }
}
