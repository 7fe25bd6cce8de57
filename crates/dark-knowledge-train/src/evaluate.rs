//! Evaluation of a classifier on a dataset: loss terms, accuracy, agreement with a teacher.

use std::collections::BTreeMap;

use burn::nn::Linear;
use burn::tensor::{Int, Tensor};
use dark_knowledge_core::loss::SoftTargetLoss;
use dark_knowledge_core::rows::batch_ranges;
pub use dark_knowledge_core::rows::predicted_classes;
use dark_knowledge_core::tensor_util::{to_vec_f32, to_vec_i64};
use dark_knowledge_core::{Classifier, Features, ModelInput, Teacher, TeacherBatch};
use dark_knowledge_data::BatchSource;

use crate::error::Result;
use crate::history::SplitMetrics;
use crate::objective::{Objective, TermValues};
use crate::teachers::TeacherSet;
use crate::terms::{LossTerm, classic_terms};

/// Number of rows whose arg-max over classes equals `targets`.
///
/// # Shapes
/// - `logits`: `[batch_size, num_classes]`
/// - `targets`: `[batch_size]`
pub fn count_correct(logits: Tensor<2>, targets: Tensor<1, Int>) -> usize {
    predicted_classes(logits)
        .equal(targets)
        .int()
        .sum()
        .into_scalar::<i64>() as usize
}

/// Evaluates `model` (use its `valid()` snapshot: no dropout, no graph) on `data`.
///
/// With a teacher, the loss is `loss` (the distillation loss) and the agreement with the
/// teacher's arg-max is reported; without one, the loss is cross-entropy.
///
/// # Errors
/// When the teacher cannot serve a batch.
pub fn evaluate<M: Classifier>(
    model: &M,
    data: &dyn BatchSource<M::Input>,
    teacher: Option<(&dyn Teacher<M::Input>, &SoftTargetLoss)>,
    batch_size: usize,
) -> Result<SplitMetrics> {
    let (teachers, terms) = match teacher {
        Some((t, loss)) => (TeacherSet::single(t), classic_terms(&loss.config())),
        None => (TeacherSet::none(), vec![LossTerm::ce(1.0)]),
    };
    let objective = Objective::new(terms, 1, teachers.weights().to_vec(), teachers.combine())?;
    evaluate_objective(model, &[], data, &teachers, &objective, 1, batch_size)
}

/// Evaluates `model` with every term of `objective` at `epoch`, in batches of `batch_size`.
pub(crate) fn evaluate_objective<M: Classifier>(
    model: &M,
    projections: &[Linear],
    data: &dyn BatchSource<M::Input>,
    teachers: &TeacherSet<'_, M::Input>,
    objective: &Objective,
    epoch: usize,
    batch_size: usize,
) -> Result<SplitMetrics> {
    let features_of = objective.features_of(teachers.len());
    let mut sums = Sums::new(objective.terms.len());
    let partial = data.is_partially_labeled();
    for range in batch_ranges(data.len(), batch_size) {
        let batch = data.range(range.start, range.end)?;
        let inputs = batch.inputs.clone().without_autodiff();
        let student = student_outputs(model, inputs, objective.needs_features());
        let logits = student.logits.clone().detach();
        sums.correct += count_correct(logits.clone(), batch.targets.clone());
        let outputs = teachers.outputs(
            TeacherBatch {
                inputs: &batch.inputs,
                rows: &batch.rows,
            },
            &features_of,
            false,
        )?;
        if !teachers.is_empty() {
            sums.agree += count_correct(logits, teachers.predicted(&outputs.logits));
        }
        let values = objective.compute(
            epoch,
            &student,
            projections,
            &batch.targets,
            &outputs,
            partial,
        )?;
        sums.add(range.len(), &values);
        sums.labeled += batch.labeled;
    }
    Ok(sums.finish(data.len(), !teachers.is_empty(), &objective.names))
}

/// The ROC-AUC of class 1 of a binary `model` (its `valid()` snapshot) on `data`, scored by
/// the logit margin `z1 - z0` (the same order as the probability of class 1).
pub(crate) fn valid_auc<M: Classifier>(
    model: &M,
    data: &dyn BatchSource<M::Input>,
    batch_size: usize,
) -> Result<f64> {
    let (mut scores, mut positive) = (Vec::new(), Vec::new());
    for range in batch_ranges(data.len(), batch_size) {
        let batch = data.range(range.start, range.end)?;
        let logits = model.logits(batch.inputs.clone().without_autodiff());
        let margin = logits.clone().narrow(1, 1, 1) - logits.narrow(1, 0, 1);
        let margin = to_vec_f32(margin.reshape([range.len()]));
        let targets = to_vec_i64(batch.targets);
        for (m, t) in margin.into_iter().zip(targets) {
            if t == 0 || t == 1 {
                scores.push(m);
                positive.push(t == 1);
            }
        }
    }
    Ok(crate::stopping::roc_auc(&scores, &positive))
}

/// The student's logits, and its features when a term reads them.
pub(crate) fn student_outputs<M: Classifier>(
    model: &M,
    inputs: M::Input,
    with_features: bool,
) -> Features {
    if with_features {
        model.forward_features(inputs)
    } else {
        Features::logits_only(model.logits(inputs))
    }
}

/// Running sums of per-batch means, weighted by batch size.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Sums {
    loss: f64,
    terms: Vec<f64>,
    pub(crate) correct: usize,
    pub(crate) agree: usize,
    /// Rows with a label (the denominator of the accuracy).
    pub(crate) labeled: usize,
}

impl Sums {
    pub(crate) fn new(num_terms: usize) -> Self {
        Self {
            loss: 0.0,
            terms: vec![0.0; num_terms],
            correct: 0,
            agree: 0,
            labeled: 0,
        }
    }

    /// Adds one batch's means, weighted by its `rows`; returns them (total, each term).
    pub(crate) fn add(&mut self, rows: usize, values: &TermValues) -> (f64, Vec<f64>) {
        let w = rows as f64;
        let value = |t: &Tensor<1>| f64::from(t.clone().into_scalar::<f32>());
        let total = value(&values.total);
        self.loss += total * w;
        let terms: Vec<f64> = values.values.iter().map(value).collect();
        for (sum, v) in self.terms.iter_mut().zip(&terms) {
            *sum += v * w;
        }
        (total, terms)
    }

    pub(crate) fn finish(self, rows: usize, with_teacher: bool, names: &[String]) -> SplitMetrics {
        let n = rows.max(1) as f64;
        let terms: BTreeMap<String, f64> = names
            .iter()
            .cloned()
            .zip(self.terms.iter().map(|v| v / n))
            .collect();
        SplitMetrics {
            loss: self.loss / n,
            ce: terms.get("ce").copied(),
            kd: terms.get("kd").copied(),
            accuracy: self.correct as f64 / self.labeled.max(1) as f64,
            teacher_agreement: with_teacher.then(|| self.agree as f64 / n),
            roc_auc: None,
            rows,
            terms,
        }
    }
}
