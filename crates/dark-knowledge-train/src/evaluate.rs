//! Evaluation of a classifier on a dataset: loss terms, accuracy, agreement with a teacher.

use burn::tensor::{Int, Tensor};
use dark_knowledge_core::loss::{SoftTargetLoss, cross_entropy_no_reduction};
use dark_knowledge_core::{Classifier, Teacher, TeacherBatch};
use dark_knowledge_data::Dataset;

use crate::error::Result;
use crate::history::SplitMetrics;

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

/// The arg-max class of each row.
///
/// # Shapes
/// - `logits`: `[batch_size, num_classes]`
/// - output: `[batch_size]`
pub fn predicted_classes(logits: Tensor<2>) -> Tensor<1, Int> {
    let [batch_size, _] = logits.dims();
    logits.argmax(1).reshape([batch_size])
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
    data: &Dataset,
    teacher: Option<(&dyn Teacher, &SoftTargetLoss)>,
    batch_size: usize,
) -> Result<SplitMetrics> {
    let batch_size = batch_size.max(1);
    let mut sums = Sums::default();
    let mut start = 0;
    while start < data.len() {
        let end = (start + batch_size).min(data.len());
        let batch = data.range(start, end);
        let rows = end - start;
        let logits = model
            .logits(batch.inputs.clone().without_autodiff())
            .detach();
        sums.correct += count_correct(logits.clone(), batch.targets.clone());
        match teacher {
            Some((teacher, loss)) => {
                let t_logits = teacher.logits(TeacherBatch {
                    inputs: &batch.inputs,
                    rows: &batch.rows,
                })?;
                sums.agree += count_correct(logits.clone(), predicted_classes(t_logits.clone()));
                let terms = loss.forward_terms(logits, t_logits, batch.targets);
                sums.add(rows, &terms.total, terms.ce.as_ref(), terms.kd.as_ref());
            }
            None => {
                let ce = cross_entropy_no_reduction(logits, batch.targets).mean();
                sums.add(rows, &ce, Some(&ce), None);
            }
        }
        start = end;
    }
    Ok(sums.finish(data.len(), teacher.is_some()))
}

/// Running sums of per-batch means, weighted by batch size.
#[derive(Default)]
pub(crate) struct Sums {
    pub(crate) loss: f64,
    pub(crate) ce: Option<f64>,
    pub(crate) kd: Option<f64>,
    pub(crate) correct: usize,
    pub(crate) agree: usize,
}

impl Sums {
    pub(crate) fn add(
        &mut self,
        rows: usize,
        total: &Tensor<1>,
        ce: Option<&Tensor<1>>,
        kd: Option<&Tensor<1>>,
    ) {
        let w = rows as f64;
        let value = |t: &Tensor<1>| f64::from(t.clone().into_scalar::<f32>()) * w;
        self.loss += value(total);
        if let Some(ce) = ce {
            *self.ce.get_or_insert(0.0) += value(ce);
        }
        if let Some(kd) = kd {
            *self.kd.get_or_insert(0.0) += value(kd);
        }
    }

    pub(crate) fn finish(self, rows: usize, with_teacher: bool) -> SplitMetrics {
        let n = rows.max(1) as f64;
        SplitMetrics {
            loss: self.loss / n,
            ce: self.ce.map(|v| v / n),
            kd: self.kd.map(|v| v / n),
            accuracy: self.correct as f64 / n,
            teacher_agreement: with_teacher.then(|| self.agree as f64 / n),
            rows,
        }
    }
}
