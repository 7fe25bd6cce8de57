//! The built-in loss terms ([`LossTerm`]) as [`DistillationTerm`]s.

use burn::tensor::{Int, Tensor};
use dark_knowledge_core::Features;
use dark_knowledge_core::error::{Error as CoreError, Result as CoreResult};
use dark_knowledge_core::loss::feature::{AttentionTransferConfig, RkdConfig, hint_loss};
use dark_knowledge_core::loss::{
    DecoupledKdConfig, DistConfig, LogitStandardizedKdConfig, MseLogitsLoss, Reduction,
    SoftTargetLossConfig, cross_entropy_no_reduction,
};

use crate::objective::{Combine, averaged_log_probs, ensemble_predicted, hidden_pair, map_pair};
use crate::term::{DistillationTerm, TermInputs};
use crate::terms::{FeatureLayers, LossTerm, TermKind};

impl DistillationTerm for LossTerm {
    fn name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| self.kind_name().to_string())
    }

    fn compute(&self, inputs: &TermInputs<'_>) -> CoreResult<Tensor<1>> {
        let student = inputs.student;
        Ok(match &self.kind {
            TermKind::Ce {} if inputs.partially_labeled => {
                labeled_cross_entropy(&student.logits, inputs.targets)
            }
            TermKind::Ce {} => {
                cross_entropy_no_reduction(student.logits.clone(), inputs.targets.clone()).mean()
            }
            TermKind::Hint { layers } => {
                let (s, t) = hidden_features(inputs, layers)?;
                let projection = inputs.projection.ok_or_else(|| {
                    CoreError::Teacher("a `hint` term was given no projection".into())
                })?;
                hint_loss(projection.forward(s), t)?
            }
            TermKind::Attention { p, layers } => {
                let t = teacher_features(inputs, layers.teacher)?;
                let (s, t) = map_pair(student, t, layers)?;
                AttentionTransferConfig { p: *p }.init()?.forward(s, t)?
            }
            TermKind::Rkd {
                distance_weight,
                angle_weight,
                layers,
            } => {
                let (s, t) = hidden_features(inputs, layers)?;
                RkdConfig {
                    distance_weight: *distance_weight,
                    angle_weight: *angle_weight,
                }
                .init()?
                .forward(s, t)?
            }
            _ => logit_term(self, inputs)?,
        })
    }

    fn needs_teacher(&self) -> bool {
        self.needs_teacher_logits() || self.needs_features()
    }

    fn needs_features(&self) -> bool {
        LossTerm::needs_features(self)
    }

    fn teacher_features(&self) -> Option<usize> {
        self.feature_teacher()
    }

    fn temperature(&self, epoch: usize, epochs: usize) -> Option<f64> {
        self.temperature_at(epoch, epochs)
    }
}

/// A term that compares logits, over the ensemble as [`Combine`] says.
fn logit_term(term: &LossTerm, inputs: &TermInputs<'_>) -> CoreResult<Tensor<1>> {
    let teachers = inputs.teacher_logits;
    let weights = inputs.teacher_weights;
    let zs = &inputs.student.logits;
    if teachers.is_empty() {
        return Err(CoreError::Teacher(format!(
            "the `{}` term needs a teacher",
            term.kind_name()
        )));
    }
    let t = term
        .temperature_at(inputs.epoch, inputs.epochs)
        .unwrap_or(1.0);
    let by_probabilities = matches!(
        term.kind,
        TermKind::Kd { .. } | TermKind::Dkd { .. } | TermKind::Dist { .. }
    );
    // DKD needs a class per row: an unlabelled row is split at the teacher's prediction.
    let filled;
    let targets = if inputs.partially_labeled && matches!(term.kind, TermKind::Dkd { .. }) {
        let predicted = ensemble_predicted(teachers, weights);
        let targets = inputs.targets;
        filled = targets
            .clone()
            .mask_where(targets.clone().lower_elem(0), predicted);
        &filled
    } else {
        inputs.targets
    };
    if teachers.len() == 1 {
        return single_logit_term(term, t, zs.clone(), teachers[0].clone(), targets);
    }
    if by_probabilities && inputs.combine == Combine::AverageProbabilities {
        // T · log p̄(T): softmax of it over T is exactly the averaged distribution.
        let target = averaged_log_probs(teachers, weights, t).mul_scalar(t);
        return single_logit_term(term, t, zs.clone(), target, targets);
    }
    let mut acc: Option<Tensor<1>> = None;
    for (zt, &w) in teachers.iter().zip(weights) {
        let v = single_logit_term(term, t, zs.clone(), zt.clone(), targets)?.mul_scalar(w);
        acc = Some(match acc {
            None => v,
            Some(a) => a + v,
        });
    }
    Ok(acc.expect("at least two teachers"))
}

/// Cross-entropy averaged over the labelled rows of the batch (targets >= 0); 0, with a
/// zero gradient, when the batch has none.
fn labeled_cross_entropy(logits: &Tensor<2>, targets: &Tensor<1, Int>) -> Tensor<1> {
    let mask = targets.clone().greater_equal_elem(0).float();
    let safe = targets.clone().clamp_min(0);
    let per_row = cross_entropy_no_reduction(logits.clone(), safe) * mask.clone();
    per_row.sum() / mask.sum().clamp_min(1.0)
}

fn single_logit_term(
    term: &LossTerm,
    t: f64,
    zs: Tensor<2>,
    zt: Tensor<2>,
    targets: &Tensor<1, Int>,
) -> CoreResult<Tensor<1>> {
    Ok(match &term.kind {
        TermKind::Kd { top_k, .. } => {
            let mut c = SoftTargetLossConfig::new(t, 0.0, 1.0);
            c.top_k = *top_k;
            c.init()?.kd_no_reduction(zs, zt).mean()
        }
        TermKind::Dkd { alpha, beta, .. } => DecoupledKdConfig::new(t, *alpha, *beta)
            .init()?
            .forward(zs, zt, targets.clone()),
        TermKind::Dist { beta, gamma, .. } => {
            DistConfig::new(t, *beta, *gamma).init()?.forward(zs, zt)
        }
        TermKind::Lskd { .. } => LogitStandardizedKdConfig::new(t).init()?.forward(zs, zt),
        TermKind::MseLogits {} => MseLogitsLoss::new().forward(zs, zt, Reduction::Mean),
        TermKind::Ce {}
        | TermKind::Hint { .. }
        | TermKind::Attention { .. }
        | TermKind::Rkd { .. } => {
            unreachable!("not a logit term")
        }
    })
}

/// The student's and the chosen teacher's hidden vectors a feature term reads.
fn hidden_features(
    inputs: &TermInputs<'_>,
    layers: &FeatureLayers,
) -> CoreResult<(Tensor<2>, Tensor<2>)> {
    let t = teacher_features(inputs, layers.teacher)?;
    hidden_pair(inputs.student, t, layers)
}

fn teacher_features<'a>(inputs: &TermInputs<'a>, index: usize) -> CoreResult<&'a Features> {
    inputs
        .teacher_features
        .get(index)
        .and_then(Option::as_ref)
        .ok_or_else(|| {
            CoreError::Teacher(format!(
                "teacher {index} gave no features (there are {} teachers)",
                inputs.teacher_features.len()
            ))
        })
}
