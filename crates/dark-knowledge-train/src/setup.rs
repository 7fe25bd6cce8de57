//! Checks before a run starts, and the optimizer of each student.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer, SgdConfig};
use dark_knowledge_core::{Classifier, Error as CoreError, Teacher, check_class_counts};
use dark_knowledge_data::BatchSource;

use crate::checkpoint::CheckpointConfig;
use crate::config::{OptimizerConfig, TrainerConfig};
use crate::error::{Error, Result};
use crate::mutual::{MUTUAL_TERM, MutualConfig};
use crate::objective::Objective;
use crate::teachers::TeacherSet;
use crate::term::CustomTerm;
use crate::terms::LossTerm;

/// Everything checked before a run starts: model, data and teachers agree, the early
/// stopping metric exists, resuming has a checkpoint directory, augmented data has no
/// teacher that looks logits up by row.
pub(crate) fn check_run<M: Classifier>(
    config: &TrainerConfig,
    models: &[M],
    train: &dyn BatchSource<M::Input>,
    valid: &dyn BatchSource<M::Input>,
    teachers: &TeacherSet<'_, M::Input>,
    checkpoints: Option<&CheckpointConfig>,
    resume: bool,
) -> Result<()> {
    for model in models {
        for teacher in teachers.members() {
            check_compatible(model, train, valid, Some(*teacher))?;
        }
        check_compatible(model, train, valid, None)?;
    }
    if let Some(rule) = &config.early_stopping {
        rule.check_applies(train.num_classes(), !teachers.is_empty())?;
    }
    if let Some(k) = checkpoints {
        k.validate()?;
    } else if resume {
        return Err(CoreError::InvalidValue {
            name: "resume",
            value: "no checkpoint directory".into(),
            allowed: "resuming with Trainer::with_checkpoints set",
        }
        .into());
    }
    if let Some(augmentation) = train.augmentation()
        && let Some(t) = teachers.members().iter().find(|t| !t.reads_inputs())
    {
        return Err(Error::AugmentedLookupTeacher {
            teacher: t.describe(),
            augmentation,
        });
    }
    Ok(())
}

/// The run's loss: the configured terms (with a teacher), cross-entropy (a baseline), or the
/// terms that need no teacher (mutual students without one), plus the custom terms that
/// apply; and the names recorded, `mutual` last for mutual learning.
pub(crate) fn objective_for<I>(
    c: &TrainerConfig,
    custom: &[CustomTerm],
    teachers: &TeacherSet<'_, I>,
    mutual: Option<&MutualConfig>,
) -> Result<(Objective, Vec<String>)> {
    let terms = match (teachers.is_empty(), mutual.is_some()) {
        (false, _) => c.loss_terms(),
        // Without a teacher: a baseline learns from the labels alone, with weight 1;
        // mutual students keep the configured terms that need no teacher.
        (true, false) => vec![LossTerm::ce(1.0)],
        (true, true) => {
            let own: Vec<LossTerm> = c
                .loss_terms()
                .into_iter()
                .filter(|t| !t.needs_teacher_logits() && !t.needs_features())
                .collect();
            if own.is_empty() {
                vec![LossTerm::ce(1.0)]
            } else {
                own
            }
        }
    };
    let custom: Vec<CustomTerm> = custom
        .iter()
        .filter(|t| !teachers.is_empty() || !t.term.needs_teacher())
        .cloned()
        .collect();
    let objective = Objective::with_custom(
        terms,
        custom,
        c.epochs,
        teachers.weights().to_vec(),
        teachers.combine(),
    )?;
    let mut names = objective.names.clone();
    if mutual.is_some() {
        names.push(MUTUAL_TERM.to_string());
    }
    Ok((objective, names))
}

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
        OptimizerConfig::Adam { moments } => AdamConfig::new()
            .with_beta_1(moments.beta_1 as f32)
            .with_beta_2(moments.beta_2 as f32)
            .with_epsilon(moments.epsilon as f32)
            .with_weight_decay(l2)
            .init(),
        OptimizerConfig::AdamW { moments } => AdamWConfig::new()
            .with_beta_1(moments.beta_1 as f32)
            .with_beta_2(moments.beta_2 as f32)
            .with_epsilon(moments.epsilon as f32)
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
