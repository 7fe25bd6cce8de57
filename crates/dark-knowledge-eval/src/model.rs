//! Per-model metrics for the comparison report: [`ModelMetrics`] and [`model_metrics`].
//!
//! Field names are part of the report's stable JSON format (see [`crate::Report`]);
//! binary-only fields are omitted, not `null`, for multi-class targets.

use serde::{Deserialize, Serialize};

use crate::calibration::{brier_score, expected_calibration_error, log_loss};
use crate::classification::{accuracy, argmax_rows, classification_report};
use crate::error::{MetricsError, Result, check_probs, check_probs_and_labels};
use crate::fidelity::{agreement, mean_kl};
use crate::ranking::{pr_auc, roc_auc};

/// Number of equal-width bins used for the ECE in [`model_metrics`].
pub const ECE_BINS: usize = 15;

/// Precision, recall, F1 and support of one class, with its display name.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct NamedClassMetrics {
    /// Class name.
    pub label: String,
    /// `TP / (TP + FP)`, 0 when never predicted.
    pub precision: f64,
    /// `TP / (TP + FN)`, 0 when the class has no support.
    pub recall: f64,
    /// Harmonic mean of precision and recall, 0 when both are 0.
    pub f1: f64,
    /// Number of test rows of this class.
    pub support: usize,
}

/// Size and speed of a model, measured by the caller.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Default)]
pub struct Efficiency {
    /// Number of trainable parameters.
    pub parameters: usize,
    /// Size of the serialized model in bytes.
    pub bytes: usize,
    /// Latency of one prediction with batch size 1, in microseconds.
    pub latency_us_batch1: f64,
    /// Rows per second when predicting in batches of 1024.
    pub throughput_per_s_batch1024: f64,
}

/// How closely a model derived from another one (an int8 copy of a float student) follows
/// its source on the test split.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct DerivedFrom {
    /// The source model's name in the report.
    pub model: String,
    /// Fraction of rows where both predict the same class.
    pub agreement: f64,
    /// Largest absolute difference between their class probabilities.
    pub max_abs_prob_diff: f64,
}

/// All metrics of one model on the test split.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ModelMetrics {
    /// Arg-max accuracy.
    pub accuracy: f64,
    /// Unweighted mean F1 over all classes.
    pub macro_f1: f64,
    /// F1 of the positive class (binary targets only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub f1: Option<f64>,
    /// Precision of the positive class (binary targets only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub precision: Option<f64>,
    /// Recall of the positive class (binary targets only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub recall: Option<f64>,
    /// ROC-AUC of the positive-class probability (binary targets only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub roc_auc: Option<f64>,
    /// Average precision of the positive-class probability (binary targets only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pr_auc: Option<f64>,
    /// Mean negative log-likelihood (probabilities clipped at 1e-15).
    pub log_loss: f64,
    /// Expected calibration error with [`ECE_BINS`] bins.
    pub ece: f64,
    /// Brier score (binary or multi-class form, see [`crate::brier_score`]).
    pub brier: f64,
    /// Fraction of rows where the arg-max matches the teacher's.
    pub agreement_with_teacher: f64,
    /// Mean `KL(teacher ‖ model)` in nats.
    pub kl_to_teacher: f64,
    /// Number of trainable parameters.
    pub parameters: usize,
    /// Size of the serialized model in bytes.
    pub bytes: usize,
    /// Latency of one prediction with batch size 1, in microseconds.
    pub latency_us_batch1: f64,
    /// Rows per second with batches of 1024.
    pub throughput_per_s_batch1024: f64,
    /// Per-class precision / recall / F1 / support, in class order.
    pub per_class: Vec<NamedClassMetrics>,
    /// For a model derived from another (quantized), its fidelity to the source.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub derived_from: Option<DerivedFrom>,
}

/// Computes every [`ModelMetrics`] field for one model.
///
/// `probs` and `teacher_probs` are row-major with `num_classes` columns and one row per
/// label; `class_names` has one name per class. `positive_class` must be `Some(i)` with
/// `i < 2` only for binary targets (`num_classes == 2`): it fills the binary-only fields
/// (F1 / precision / recall of class `i`, and ROC-AUC / PR-AUC of column `i`); with `None`
/// they are left out. The ECE uses [`ECE_BINS`] bins. Errors on any invalid input, and
/// when the labels contain only one class while `positive_class` is set (ROC-AUC is then
/// undefined). For the teacher itself pass its probabilities twice (agreement 1, KL 0).
pub fn model_metrics(
    probs: &[f32],
    teacher_probs: &[f32],
    num_classes: usize,
    labels: &[usize],
    class_names: &[String],
    positive_class: Option<usize>,
    efficiency: Efficiency,
) -> Result<ModelMetrics> {
    check_probs_and_labels(probs, num_classes, labels)?;
    check_probs("teacher_probs", teacher_probs, num_classes, labels.len())?;
    if class_names.len() != num_classes {
        return Err(MetricsError::InvalidArgument {
            what: "class_names",
            reason: format!(
                "{} names given for {num_classes} classes",
                class_names.len()
            ),
        });
    }
    if let Some(pos) = positive_class {
        if num_classes != 2 {
            return Err(MetricsError::InvalidArgument {
                what: "positive_class",
                reason: format!("only valid for binary targets, but num_classes = {num_classes}"),
            });
        }
        if pos >= num_classes {
            return Err(MetricsError::InvalidArgument {
                what: "positive_class",
                reason: format!("{pos} is not a class index (num_classes = {num_classes})"),
            });
        }
    }

    let predicted = argmax_rows(probs, num_classes);
    let teacher_predicted = argmax_rows(teacher_probs, num_classes);
    let kl_to_teacher = mean_kl(teacher_probs, probs, num_classes)?;
    let report = classification_report(&predicted, labels, num_classes)?;

    let (mut f1, mut precision, mut recall, mut roc, mut pr) = (None, None, None, None, None);
    if let Some(pos) = positive_class {
        let class = &report.per_class[pos];
        f1 = Some(class.f1);
        precision = Some(class.precision);
        recall = Some(class.recall);
        let scores: Vec<f32> = probs.chunks_exact(num_classes).map(|r| r[pos]).collect();
        let positives: Vec<bool> = labels.iter().map(|&y| y == pos).collect();
        roc = Some(roc_auc(&scores, &positives)?);
        pr = Some(pr_auc(&scores, &positives)?);
    }

    Ok(ModelMetrics {
        accuracy: accuracy(probs, num_classes, labels)?,
        macro_f1: report.macro_f1,
        f1,
        precision,
        recall,
        roc_auc: roc,
        pr_auc: pr,
        log_loss: log_loss(probs, num_classes, labels)?,
        ece: expected_calibration_error(probs, num_classes, labels, ECE_BINS)?,
        brier: brier_score(probs, num_classes, labels)?,
        agreement_with_teacher: agreement(&predicted, &teacher_predicted)?,
        kl_to_teacher,
        parameters: efficiency.parameters,
        bytes: efficiency.bytes,
        latency_us_batch1: efficiency.latency_us_batch1,
        throughput_per_s_batch1024: efficiency.throughput_per_s_batch1024,
        per_class: class_names
            .iter()
            .zip(&report.per_class)
            .map(|(name, m)| NamedClassMetrics {
                label: name.clone(),
                precision: m.precision,
                recall: m.recall,
                f1: m.f1,
                support: m.support,
            })
            .collect(),
        derived_from: None,
    })
}

/// The fidelity of `probs` to `source_probs` (both row-major with `num_classes` columns, same
/// rows): arg-max agreement and the largest absolute probability difference.
///
/// # Errors
/// When the two do not have the same valid shape.
pub fn derived_from(
    model: &str,
    probs: &[f32],
    source_probs: &[f32],
    num_classes: usize,
) -> Result<DerivedFrom> {
    let rows = source_probs.len() / num_classes.max(1);
    check_probs("probs", probs, num_classes, rows)?;
    check_probs("source_probs", source_probs, num_classes, rows)?;
    let max_abs_prob_diff = probs
        .iter()
        .zip(source_probs)
        .map(|(a, b)| f64::from((a - b).abs()))
        .fold(0.0, f64::max);
    Ok(DerivedFrom {
        model: model.to_string(),
        agreement: agreement(
            &argmax_rows(probs, num_classes),
            &argmax_rows(source_probs, num_classes),
        )?,
        max_abs_prob_diff,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Binary test split: labels [0, 0, 1, 1], classes ["no", "yes"], positive "yes".
    pub(crate) const LABELS: [usize; 4] = [0, 0, 1, 1];
    /// Teacher: column 1 = [0.1, 0.43, 0.35, 0.78], the ranking of sklearn's ROC example.
    pub(crate) const TEACHER: [f32; 8] = [0.9, 0.1, 0.57, 0.43, 0.65, 0.35, 0.22, 0.78];
    /// Student: column 1 = [0.2, 0.7, 0.6, 0.9].
    pub(crate) const STUDENT: [f32; 8] = [0.8, 0.2, 0.3, 0.7, 0.4, 0.6, 0.1, 0.9];

    pub(crate) fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    pub(crate) fn eff(parameters: usize) -> Efficiency {
        Efficiency {
            parameters,
            bytes: parameters * 4,
            latency_us_batch1: 12.5,
            throughput_per_s_batch1024: 1_234_567.4,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn binary_teacher_metrics_by_hand() {
        let m = model_metrics(
            &TEACHER,
            &TEACHER,
            2,
            &LABELS,
            &names(&["no", "yes"]),
            Some(1),
            eff(10),
        )
        .unwrap();
        // Predictions [0, 0, 0, 1] vs labels [0, 0, 1, 1] → accuracy 3/4.
        // "yes": TP 1, predicted 1, support 2 → P 1, R 1/2, F1 2/3.
        // "no":  TP 2, predicted 3, support 2 → P 2/3, R 1, F1 0.8; macro F1 = (0.8 + 2/3)/2.
        assert!(close(m.accuracy, 0.75));
        assert_eq!((m.precision, m.recall), (Some(1.0), Some(0.5)));
        assert!(close(m.f1.unwrap(), 2.0 / 3.0));
        assert!(close(m.macro_f1, (0.8 + 2.0 / 3.0) / 2.0));
        // Scores [0.1, 0.43, 0.35, 0.78] rank like sklearn's example: ROC 0.75, AP 5/6.
        assert!(close(m.roc_auc.unwrap(), 0.75));
        assert!(close(m.pr_auc.unwrap(), 5.0 / 6.0));
        // log-loss: (−ln 0.9 − ln 0.57 − ln 0.35 − ln 0.78)/4
        //   = (0.1053605 + 0.5621189 + 1.0498221 + 0.2484614)/4 = 0.4914407
        assert!(close(m.log_loss, 0.491_440_729_4));
        // 15 bins of width 1/15: confidences 0.9 (✓, bin 13), 0.57 (✓, bin 8),
        // 0.65 (✗, bin 9), 0.78 (✓, bin 11): one row per bin, so
        // ECE = (0.1 + 0.43 + 0.65 + 0.22)/4 = 0.35.
        assert!(close(m.ece, 0.35));
        // Brier: (0.1² + 0.43² + 0.65² + 0.22²)/4 = (0.01 + 0.1849 + 0.4225 + 0.0484)/4 = 0.16645
        assert!(close(m.brier, 0.16645));
        // Teacher against itself.
        assert_eq!((m.agreement_with_teacher, m.kl_to_teacher), (1.0, 0.0));
        assert_eq!((m.parameters, m.bytes), (10, 40));
        assert_eq!(m.per_class[1].label, "yes");
        assert_eq!(m.per_class[1].support, 2);
    }

    #[test]
    fn student_against_teacher_by_hand() {
        let m = model_metrics(
            &STUDENT,
            &TEACHER,
            2,
            &LABELS,
            &names(&["no", "yes"]),
            Some(1),
            eff(1),
        )
        .unwrap();
        // Student predicts [0, 1, 1, 1], teacher [0, 0, 0, 1] → agreement 2/4.
        assert!(close(m.agreement_with_teacher, 0.5));
        // KL rows: 0.9 ln(0.9/0.8) + 0.1 ln(0.1/0.2)    = 0.0366900
        //          0.57 ln(0.57/0.3) + 0.43 ln(0.43/0.7) = 0.1563198
        //          0.65 ln(0.65/0.4) + 0.35 ln(0.35/0.6) = 0.1269313
        //          0.22 ln(0.22/0.1) + 0.78 ln(0.78/0.9) = 0.0618420
        // mean = 0.3817831 / 4 = 0.0954458
        assert!(close(m.kl_to_teacher, 0.095_445_772_8));
        // Brier: (0.2² + 0.7² + 0.4² + 0.1²)/4 = 0.7/4 = 0.175
        assert!(close(m.brier, 0.175));
        // positive_class = 0 uses column 0 and class 0's P/R: "no": TP 1, predicted 1,
        // support 2 → P 1, R 1/2; column 0 scores [0.8, 0.3, 0.4, 0.1] vs y = [1,1,0,0]:
        // pairs 0.8>0.4 ✓ 0.8>0.1 ✓ 0.3<0.4 ✗ 0.3>0.1 ✓ → ROC 3/4.
        let m0 = model_metrics(
            &STUDENT,
            &TEACHER,
            2,
            &LABELS,
            &names(&["no", "yes"]),
            Some(0),
            eff(1),
        )
        .unwrap();
        assert_eq!((m0.precision, m0.recall), (Some(1.0), Some(0.5)));
        assert!(close(m0.roc_auc.unwrap(), 0.75));
    }

    #[test]
    fn model_metrics_rejects_bad_arguments() {
        let classes = names(&["no", "yes"]);
        let run = |names: &[String], pos, teacher: &[f32]| {
            model_metrics(
                &STUDENT,
                teacher,
                2,
                &LABELS,
                names,
                pos,
                Efficiency::default(),
            )
            .unwrap_err()
        };
        assert_eq!(
            run(&classes[..1], None, &TEACHER).to_string(),
            "invalid class_names: 1 names given for 2 classes"
        );
        assert!(
            run(&classes, Some(2), &TEACHER)
                .to_string()
                .contains("positive_class")
        );
        assert_eq!(
            run(&classes, None, &TEACHER[..6]).to_string(),
            "teacher_probs has 6 values, expected 4 rows x 2 classes = 8"
        );
        // positive_class on a 3-class target.
        let p3 = [0.2f32, 0.3, 0.5];
        let err = model_metrics(
            &p3,
            &p3,
            3,
            &[0],
            &names(&["a", "b", "c"]),
            Some(0),
            Efficiency::default(),
        );
        assert!(
            err.unwrap_err()
                .to_string()
                .contains("only valid for binary targets")
        );
        // Only one class in the labels: ROC-AUC undefined.
        let err = model_metrics(
            &STUDENT,
            &TEACHER,
            2,
            &[1, 1, 1, 1],
            &classes,
            Some(1),
            Efficiency::default(),
        );
        assert!(matches!(
            err.unwrap_err(),
            MetricsError::MissingClass { .. }
        ));
    }

    #[test]
    fn derived_from_by_hand() {
        // STUDENT vs TEACHER arg-max: [0, 1, 1, 1] vs [0, 0, 0, 1] → 2 of 4 agree; the
        // per-row gaps are 0.1, 0.27, 0.25, 0.12 → largest 0.27.
        let d = derived_from("distilled", &STUDENT, &TEACHER, 2).unwrap();
        assert_eq!(d.model, "distilled");
        assert!(close(d.agreement, 0.5), "{}", d.agreement);
        assert!(
            (d.max_abs_prob_diff - 0.27).abs() < 1e-6,
            "{}",
            d.max_abs_prob_diff
        );
        let same = derived_from("x", &TEACHER, &TEACHER, 2).unwrap();
        assert_eq!((same.agreement, same.max_abs_prob_diff), (1.0, 0.0));
        assert!(derived_from("x", &STUDENT[..6], &TEACHER, 2).is_err());
    }
}
