//! Hard-label classification metrics: accuracy, per-class precision / recall / F1, and
//! the row-wise helpers `argmax_rows` and `softmax_rows`.

use serde::{Deserialize, Serialize};

use crate::error::{
    Result, check_classes, check_num_classes, check_probs_and_labels, check_same_len,
};

/// Index of the largest value in each row of a row-major matrix with `num_classes`
/// columns.
///
/// Ties go to the lowest index and NaN values never win (a row of only NaNs gives 0).
/// Infallible by design: a trailing incomplete row is ignored and `num_classes == 0`
/// gives an empty vector. Validate inputs first (as the metrics here do) when those cases
/// must be errors.
pub fn argmax_rows(probs: &[f32], num_classes: usize) -> Vec<usize> {
    dark_knowledge_core::rows::argmax_rows(probs, num_classes)
}

/// Row-wise softmax of a row-major matrix of logits with `num_classes` columns.
///
/// Numerically stable: each row is shifted by its maximum and computed in `f64`, so large
/// logits neither overflow nor lose the small probabilities. Edge cases, none of which
/// panic: rows containing `+∞` share the mass equally among their `+∞` entries; a row that
/// is entirely `−∞` becomes uniform; a row containing NaN becomes all NaN. As with
/// [`argmax_rows`], a trailing incomplete row is ignored and `num_classes == 0` gives an
/// empty vector.
pub fn softmax_rows(logits: &[f32], num_classes: usize) -> Vec<f32> {
    if num_classes == 0 {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(logits.len() - logits.len() % num_classes);
    for row in logits.chunks_exact(num_classes) {
        if row.iter().any(|v| v.is_nan()) {
            out.extend(std::iter::repeat_n(f32::NAN, num_classes));
            continue;
        }
        let max = row
            .iter()
            .fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
        let weights: Vec<f64> = if max == f64::INFINITY {
            row.iter()
                .map(|&v| if v == f32::INFINITY { 1.0 } else { 0.0 })
                .collect()
        } else if max == f64::NEG_INFINITY {
            vec![1.0; num_classes]
        } else {
            row.iter().map(|&v| (f64::from(v) - max).exp()).collect()
        };
        let total: f64 = weights.iter().sum();
        out.extend(weights.iter().map(|w| (w / total) as f32));
    }
    out
}

/// Fraction of rows whose arg-max class (ties → lowest index) equals the label.
///
/// `probs` is row-major with `num_classes` columns and one row per label; it is validated
/// as probabilities (finite, in `[0, 1]`, rows summing to 1 ± 1e-4).
pub fn accuracy(probs: &[f32], num_classes: usize, labels: &[usize]) -> Result<f64> {
    check_probs_and_labels(probs, num_classes, labels)?;
    let correct = argmax_rows(probs, num_classes)
        .iter()
        .zip(labels)
        .filter(|(p, y)| p == y)
        .count();
    Ok(correct as f64 / labels.len() as f64)
}

/// Precision, recall, F1 and support of one class.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct ClassMetrics {
    /// `TP / (TP + FP)`; 0 when the class is never predicted.
    pub precision: f64,
    /// `TP / (TP + FN)`; 0 when the class has no true examples.
    pub recall: f64,
    /// Harmonic mean `2PR / (P + R)`; 0 when `P + R = 0`.
    pub f1: f64,
    /// Number of true examples of the class.
    pub support: usize,
}

/// Per-class metrics plus their unweighted (macro) means and the overall accuracy.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ClassificationReport {
    /// One entry per class, indexed by class.
    pub per_class: Vec<ClassMetrics>,
    /// Mean precision over all `num_classes` classes.
    pub macro_precision: f64,
    /// Mean recall over all `num_classes` classes.
    pub macro_recall: f64,
    /// Mean F1 over all `num_classes` classes.
    pub macro_f1: f64,
    /// Fraction of rows with `predicted == label`.
    pub accuracy: f64,
}

/// Per-class precision / recall / F1 and their macro averages, from hard predictions.
///
/// Zero divisions give 0, like scikit-learn's `zero_division=0`: precision of a class that
/// is never predicted, recall of a class with no support, and F1 when precision + recall
/// is 0. Macro averages are taken over **all** `num_classes` classes, including classes
/// absent from both `predicted` and `labels` (scikit-learn's behaviour with
/// `labels=range(num_classes)`), so a missing class pulls the macro scores down.
pub fn classification_report(
    predicted: &[usize],
    labels: &[usize],
    num_classes: usize,
) -> Result<ClassificationReport> {
    check_num_classes(num_classes)?;
    check_same_len("predicted", predicted.len(), "labels", labels.len())?;
    check_classes("predicted", predicted, num_classes)?;
    check_classes("labels", labels, num_classes)?;

    let mut true_pos = vec![0usize; num_classes];
    let mut predicted_count = vec![0usize; num_classes];
    let mut support = vec![0usize; num_classes];
    for (&p, &y) in predicted.iter().zip(labels) {
        predicted_count[p] += 1;
        support[y] += 1;
        if p == y {
            true_pos[p] += 1;
        }
    }
    let ratio = |num: usize, den: usize| {
        if den == 0 {
            0.0
        } else {
            num as f64 / den as f64
        }
    };
    let per_class: Vec<ClassMetrics> = (0..num_classes)
        .map(|c| {
            let precision = ratio(true_pos[c], predicted_count[c]);
            let recall = ratio(true_pos[c], support[c]);
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            ClassMetrics {
                precision,
                recall,
                f1,
                support: support[c],
            }
        })
        .collect();
    let mean =
        |f: fn(&ClassMetrics) -> f64| per_class.iter().map(f).sum::<f64>() / num_classes as f64;
    Ok(ClassificationReport {
        macro_precision: mean(|m| m.precision),
        macro_recall: mean(|m| m.recall),
        macro_f1: mean(|m| m.f1),
        accuracy: ratio(true_pos.iter().sum(), labels.len()),
        per_class,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::MetricsError;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn argmax_breaks_ties_low_and_skips_nan() {
        let p = [
            0.2,
            0.5,
            0.3,
            /**/ 0.4,
            0.2,
            0.4,
            /**/ f32::NAN,
            0.1,
            0.2,
            /**/ 1.0,
            1.0,
            1.0,
        ];
        assert_eq!(argmax_rows(&p, 3), vec![1, 0, 2, 0]);
        // Trailing partial row ignored; zero columns gives nothing.
        assert_eq!(argmax_rows(&[0.1, 0.9, 0.5], 2), vec![1]);
        assert!(argmax_rows(&p, 0).is_empty());
    }

    #[test]
    fn accuracy_uses_argmax_with_low_tie_break() {
        // Rows: argmax 0 (label 0 ✓), argmax 1 (label 1 ✓), tie 0.5/0.5 → 0 (label 1 ✗),
        // argmax 0 (label 1 ✗). Accuracy = 2/4 = 0.5.
        let p = [0.9, 0.1, 0.3, 0.7, 0.5, 0.5, 0.6, 0.4];
        assert!(close(accuracy(&p, 2, &[0, 1, 1, 1]).unwrap(), 0.5));
    }

    #[test]
    fn accuracy_rejects_bad_input() {
        let err = accuracy(&[0.25; 9], 4, &[0, 1, 2]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "probabilities has 9 values, expected 3 rows x 4 classes = 12"
        );
        assert_eq!(
            accuracy(&[], 2, &[]).unwrap_err(),
            MetricsError::Empty { what: "labels" }
        );
        assert!(matches!(
            accuracy(&[0.5, 0.5], 2, &[3]).unwrap_err(),
            MetricsError::ClassOutOfRange { class: 3, .. }
        ));
        assert!(matches!(
            accuracy(&[1.0], 1, &[0]).unwrap_err(),
            MetricsError::TooFewClasses { num_classes: 1 }
        ));
    }

    #[test]
    fn softmax_is_stable_and_normalised() {
        // Row [0, ln 3]: exp → [1, 3] → [0.25, 0.75].
        // Row [1000, 1000 + ln 3] must give the same (shift by the max, no overflow).
        let ln3 = 3f32.ln();
        let s = softmax_rows(&[0.0, ln3, 1000.0, 1000.0 + ln3], 2);
        assert!(
            (s[0] - 0.25).abs() < 1e-6 && (s[1] - 0.75).abs() < 1e-6,
            "{s:?}"
        );
        // f32 spacing at 1000 is ~6e-5, so 1000 + ln 3 is rounded; allow for that.
        assert!(
            (s[2] - 0.25).abs() < 1e-4 && (s[3] - 0.75).abs() < 1e-4,
            "{s:?}"
        );
        // Edge cases: +inf takes all mass; all −inf is uniform; NaN propagates.
        let inf = f32::INFINITY;
        let e = softmax_rows(&[inf, 1.0, inf, -inf, -inf, -inf, f32::NAN, 0.0, 0.0], 3);
        assert_eq!(&e[0..6], &[0.5, 0.0, 0.5, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0]);
        assert!(e[6..].iter().all(|v| v.is_nan()));
        assert!(softmax_rows(&[1.0], 0).is_empty());
    }

    #[test]
    fn three_class_report_matches_hand_computation() {
        // Confusion matrix (rows = true class, columns = predicted):
        //          p0 p1 p2   support
        //   t0   [  2  1  0 ]   3
        //   t1   [  0  1  1 ]   2
        //   t2   [  2  0  2 ]   4
        //  predicted: 4  2  3
        // class 0: P = 2/4 = 0.5,  R = 2/3,  F1 = 2·(1/2)(2/3)/(1/2+2/3) = (2/3)/(7/6) = 4/7
        // class 1: P = 1/2,        R = 1/2,  F1 = 1/2
        // class 2: P = 2/3,        R = 2/4,  F1 = (2/3)/(7/6) = 4/7
        // macro P = (1/2 + 1/2 + 2/3)/3 = 5/9; macro R = (2/3 + 1/2 + 1/2)/3 = 5/9
        // macro F1 = (4/7 + 1/2 + 4/7)/3 = 23/42; accuracy = (2+1+2)/9 = 5/9
        let labels = [0, 0, 0, 1, 1, 2, 2, 2, 2];
        let predicted = [0, 0, 1, 1, 2, 2, 2, 0, 0];
        let r = classification_report(&predicted, &labels, 3).unwrap();
        let expect = [
            (0.5, 2.0 / 3.0, 4.0 / 7.0, 3),
            (0.5, 0.5, 0.5, 2),
            (2.0 / 3.0, 0.5, 4.0 / 7.0, 4),
        ];
        for (m, (p, rc, f, s)) in r.per_class.iter().zip(expect) {
            assert!(
                close(m.precision, p) && close(m.recall, rc) && close(m.f1, f),
                "{m:?}"
            );
            assert_eq!(m.support, s);
        }
        assert!(close(r.macro_precision, 5.0 / 9.0));
        assert!(close(r.macro_recall, 5.0 / 9.0));
        assert!(close(r.macro_f1, 23.0 / 42.0));
        assert!(close(r.accuracy, 5.0 / 9.0));
    }

    #[test]
    fn zero_division_gives_zero() {
        // 3 classes, labels [0, 1], predicted [2, 1]:
        // class 0: never predicted → P = 0; support 1, TP 0 → R = 0; F1 = 0.
        // class 1: P = 1/1, R = 1/1, F1 = 1.
        // class 2: predicted once, wrong → P = 0/1 = 0; no support → R = 0; F1 = 0.
        // macro F1 = (0 + 1 + 0)/3 = 1/3 (absent classes still count).
        let r = classification_report(&[2, 1], &[0, 1], 3).unwrap();
        let zero = ClassMetrics {
            precision: 0.0,
            recall: 0.0,
            f1: 0.0,
            support: 1,
        };
        assert_eq!(r.per_class[0], zero);
        assert_eq!(
            r.per_class[1],
            ClassMetrics {
                precision: 1.0,
                recall: 1.0,
                f1: 1.0,
                support: 1
            }
        );
        assert_eq!(r.per_class[2], ClassMetrics { support: 0, ..zero });
        assert!(close(r.macro_f1, 1.0 / 3.0));
        assert!(close(r.macro_precision, 1.0 / 3.0));
        assert!(close(r.accuracy, 0.5));
    }

    #[test]
    fn report_rejects_bad_input() {
        assert_eq!(
            classification_report(&[0], &[0, 1], 2)
                .unwrap_err()
                .to_string(),
            "predicted has 1 entries, expected 2 (one per row of labels)"
        );
        assert_eq!(
            classification_report(&[], &[], 2).unwrap_err(),
            MetricsError::Empty { what: "labels" }
        );
        assert!(matches!(
            classification_report(&[0, 5], &[0, 1], 2).unwrap_err(),
            MetricsError::ClassOutOfRange {
                what: "predicted",
                index: 1,
                ..
            }
        ));
        assert!(matches!(
            classification_report(&[0], &[0], 1).unwrap_err(),
            MetricsError::TooFewClasses { .. }
        ));
    }
}
