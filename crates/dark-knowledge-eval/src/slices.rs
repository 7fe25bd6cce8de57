//! Metrics per segment ("slice") of the evaluation rows: accuracy, ROC-AUC, positive-class
//! F1, ECE and teacher agreement of every model within each level of one column, next to
//! the model's overall figures, and flags where a student falls behind a reference model.
//!
//! Levels come as one string per row; [`numeric_bins`] turns a numeric column into
//! quantile-bin labels. Levels with too few rows are pooled into one `other` slice.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{MetricsError, Result, check_classes, check_probs, check_same_len};
#[cfg(test)]
use crate::slices_markdown::format_edge;
pub use crate::slices_markdown::numeric_bins;
use crate::{
    ECE_BINS, accuracy, agreement, argmax_rows, classification_report, expected_calibration_error,
    roc_auc,
};

/// Label of the slice that pools the levels with fewer than `min_rows` rows (or
/// `other (pooled)` when a real level is already called `other`).
pub const POOLED_LEVEL: &str = "other";
/// Label [`numeric_bins`] gives missing and non-finite values.
pub const MISSING_LEVEL: &str = "missing";

/// Metric figures of one model on one set of rows.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct SliceMetrics {
    /// Fraction of rows whose arg-max class is the label.
    pub accuracy: f64,
    /// ROC-AUC of the positive-class probability; `None` when the rows hold one class only.
    pub roc_auc: Option<f64>,
    /// F1 of the positive class (arg-max predictions).
    pub f1: f64,
    /// Expected calibration error with [`ECE_BINS`] bins.
    pub ece: f64,
    /// Fraction of rows on which the model's arg-max matches the teacher's; `None` without
    /// teacher probabilities.
    pub agreement: Option<f64>,
}

/// One model's figures on a slice, and their gaps to its overall figures.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ModelSlice {
    /// Model name.
    pub model: String,
    /// Figures on the slice.
    pub metrics: SliceMetrics,
    /// `slice − overall` for each figure (`None` when either side is `None`).
    pub gap: SliceMetrics,
}

/// One slice: a level (or the pooled small levels) and every model's figures on it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SliceRow {
    /// Level label, [`POOLED_LEVEL`] for the pooled levels, `overall` for all rows.
    pub level: String,
    /// Number of rows in the slice.
    pub rows: usize,
    /// Number of rows whose label is the positive class.
    pub positives: usize,
    /// One entry per model, in the order the models were given.
    pub models: Vec<ModelSlice>,
}

/// Metrics per level of one column, for several models.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SliceTable {
    /// Name of the column the rows were sliced by.
    pub column: String,
    /// Index of the positive class.
    pub positive: usize,
    /// Levels with fewer rows than this were pooled.
    pub min_rows: usize,
    /// The pooled levels, by name.
    pub pooled: Vec<String>,
    /// One row per slice: numeric-bin labels (`[lo, hi)`) by lower bound, other levels by
    /// name, then `missing`, then the pooled slice.
    pub rows: Vec<SliceRow>,
    /// Every model's figures on all rows (level `overall`, gaps 0).
    pub overall: SliceRow,
}

/// A slice on which a student trails a reference model by more than the margin.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SliceFlag {
    /// Level label of the slice.
    pub level: String,
    /// Name of the reference model.
    pub reference: String,
    /// `roc_auc`, or `accuracy` when the AUC is undefined for either model.
    pub metric: String,
    /// The student's figure.
    pub student_value: f64,
    /// The reference model's figure.
    pub reference_value: f64,
    /// `reference_value − student_value`.
    pub shortfall: f64,
}

/// Rows `idx` of a row-major matrix.
fn gather_rows(values: &[f32], num_classes: usize, idx: &[usize]) -> Vec<f32> {
    idx.iter()
        .flat_map(|&r| &values[r * num_classes..(r + 1) * num_classes])
        .copied()
        .collect()
}

/// Figures of one model on rows `idx` (validated inputs, `idx` non-empty).
fn slice_metrics(
    probs: &[f32],
    num_classes: usize,
    labels: &[usize],
    teacher_pred: Option<&[usize]>,
    positive: usize,
    idx: &[usize],
) -> Result<SliceMetrics> {
    let sub = gather_rows(probs, num_classes, idx);
    let sub_labels: Vec<usize> = idx.iter().map(|&r| labels[r]).collect();
    let pred = argmax_rows(&sub, num_classes);
    let targets: Vec<bool> = sub_labels.iter().map(|&y| y == positive).collect();
    let n_pos = targets.iter().filter(|&&t| t).count();
    let roc_auc = if n_pos == 0 || n_pos == targets.len() {
        None
    } else {
        let scores: Vec<f32> = sub.chunks_exact(num_classes).map(|r| r[positive]).collect();
        Some(roc_auc(&scores, &targets)?)
    };
    let agreement = match teacher_pred {
        Some(t) => Some(agreement(
            &pred,
            &idx.iter().map(|&r| t[r]).collect::<Vec<_>>(),
        )?),
        None => None,
    };
    Ok(SliceMetrics {
        accuracy: accuracy(&sub, num_classes, &sub_labels)?,
        roc_auc,
        f1: classification_report(&pred, &sub_labels, num_classes)?.per_class[positive].f1,
        ece: expected_calibration_error(&sub, num_classes, &sub_labels, ECE_BINS)?,
        agreement,
    })
}

/// `slice − overall` for every figure.
fn gap(slice: &SliceMetrics, overall: &SliceMetrics) -> SliceMetrics {
    let opt = |a: Option<f64>, b: Option<f64>| Some(a? - b?);
    SliceMetrics {
        accuracy: slice.accuracy - overall.accuracy,
        roc_auc: opt(slice.roc_auc, overall.roc_auc),
        f1: slice.f1 - overall.f1,
        ece: slice.ece - overall.ece,
        agreement: opt(slice.agreement, overall.agreement),
    }
}

/// Checks every argument of [`slice_table`]; returns the teacher's arg-max predictions.
fn check_inputs(
    levels: &[String],
    models: &[(&str, &[f32])],
    num_classes: usize,
    labels: &[usize],
    teacher: Option<&[f32]>,
    positive: usize,
) -> Result<Option<Vec<usize>>> {
    check_same_len("levels", levels.len(), "labels", labels.len())?;
    check_classes("labels", labels, num_classes)?;
    if models.is_empty() {
        return Err(MetricsError::Empty { what: "models" });
    }
    for (i, (name, probs)) in models.iter().enumerate() {
        check_probs("models", probs, num_classes, labels.len())?;
        if models[..i].iter().any(|(other, _)| other == name) {
            return Err(MetricsError::InvalidArgument {
                what: "models",
                reason: format!("model name {name} appears more than once"),
            });
        }
    }
    if positive >= num_classes {
        return Err(MetricsError::InvalidArgument {
            what: "positive",
            reason: format!("class {positive} is out of range for {num_classes} classes"),
        });
    }
    let Some(teacher) = teacher else {
        return Ok(None);
    };
    check_probs("teacher", teacher, num_classes, labels.len())?;
    Ok(Some(argmax_rows(teacher, num_classes)))
}

/// Sort key of a slice label: numeric bins by lower bound, then names, `missing`, pooled.
fn level_key(level: &str, pooled_label: &str) -> (u8, f64, String) {
    let lower = level
        .strip_prefix('[')
        .and_then(|rest| rest.split_once(", "))
        .and_then(|(lo, _)| lo.parse::<f64>().ok());
    let class = match lower {
        _ if level == pooled_label => 3,
        _ if level == MISSING_LEVEL => 2,
        Some(_) => 0,
        None => 1,
    };
    (class, lower.unwrap_or(0.0), level.to_string())
}

/// Metrics of every model within each level of `column`.
///
/// `levels` holds one label per row; `models` pairs each model's name with its row-major
/// probabilities (`num_classes` columns, one row per label); `teacher`, when given, adds
/// each model's agreement with the teacher's arg-max. Levels with fewer than `min_rows`
/// rows are pooled into one [`POOLED_LEVEL`] slice and listed in `pooled`. Figures are
/// described on [`SliceMetrics`]; gaps are `slice − overall` of the same model.
///
/// Errors when lengths differ, inputs are empty, a probability matrix is invalid, a label
/// or `positive` is out of range, or two models share a name.
#[allow(clippy::too_many_arguments)] // the signature the callers share; each is one input
pub fn slice_table(
    column: &str,
    levels: &[String],
    models: &[(&str, &[f32])],
    num_classes: usize,
    labels: &[usize],
    teacher: Option<&[f32]>,
    min_rows: usize,
    positive: usize,
) -> Result<SliceTable> {
    let teacher_pred = check_inputs(levels, models, num_classes, labels, teacher, positive)?;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for level in levels {
        *counts.entry(level.as_str()).or_default() += 1;
    }
    let pooled: Vec<String> = counts
        .iter()
        .filter(|&(_, &n)| n < min_rows)
        .map(|(&l, _)| l.to_string())
        .collect();
    let kept_other = counts.get(POOLED_LEVEL).is_some_and(|&n| n >= min_rows);
    let pooled_label = if kept_other {
        "other (pooled)"
    } else {
        POOLED_LEVEL
    };
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (row, level) in levels.iter().enumerate() {
        let small = counts.get(level.as_str()).is_some_and(|&n| n < min_rows);
        let label = if small { pooled_label } else { level.as_str() };
        groups.entry(label).or_default().push(row);
    }
    let all: Vec<usize> = (0..labels.len()).collect();
    let make_row = |level: &str, idx: &[usize], overall: Option<&SliceRow>| {
        let mut out = Vec::with_capacity(models.len());
        for (m, (name, probs)) in models.iter().enumerate() {
            let t = teacher_pred.as_deref();
            let metrics = slice_metrics(probs, num_classes, labels, t, positive, idx)?;
            let base = overall.map_or(&metrics, |o| &o.models[m].metrics);
            let gap = gap(&metrics, base);
            let model = name.to_string();
            out.push(ModelSlice {
                model,
                metrics,
                gap,
            });
        }
        let positives = idx.iter().filter(|&&r| labels[r] == positive).count();
        let (level, rows) = (level.to_string(), idx.len());
        Ok::<_, MetricsError>(SliceRow {
            level,
            rows,
            positives,
            models: out,
        })
    };
    let overall = make_row("overall", &all, None)?;
    let mut rows = groups
        .iter()
        .map(|(level, idx)| make_row(level, idx, Some(&overall)))
        .collect::<Result<Vec<_>>>()?;
    rows.sort_by(|a, b| {
        let (ka, kb) = (
            level_key(&a.level, pooled_label),
            level_key(&b.level, pooled_label),
        );
        ka.0.cmp(&kb.0)
            .then(ka.1.total_cmp(&kb.1))
            .then_with(|| ka.2.cmp(&kb.2))
    });
    Ok(SliceTable {
        column: column.to_string(),
        positive,
        min_rows,
        pooled,
        rows,
        overall,
    })
}

impl SliceTable {
    /// Slices where `student`'s ROC-AUC is below a reference model's by more than
    /// `margin` (accuracy instead when either AUC is undefined), in row order then
    /// reference order. Unknown model names, and `student` among `references`, add no
    /// flags.
    pub fn flags(&self, student: &str, references: &[&str], margin: f64) -> Vec<SliceFlag> {
        let mut flags = Vec::new();
        for row in &self.rows {
            let find = |name: &str| row.models.iter().find(|m| m.model == name);
            let Some(s) = find(student) else { continue };
            for &reference in references.iter().filter(|&&r| r != student) {
                let Some(r) = find(reference) else { continue };
                let (metric, sv, rv) = match (s.metrics.roc_auc, r.metrics.roc_auc) {
                    (Some(sv), Some(rv)) => ("roc_auc", sv, rv),
                    _ => ("accuracy", s.metrics.accuracy, r.metrics.accuracy),
                };
                if rv - sv > margin {
                    flags.push(SliceFlag {
                        level: row.level.clone(),
                        reference: reference.to_string(),
                        metric: metric.to_string(),
                        student_value: sv,
                        reference_value: rv,
                        shortfall: rv - sv,
                    });
                }
            }
        }
        flags
    }
}

#[cfg(test)]
#[path = "slices_tests.rs"]
mod tests;
