//! Probabilistic-quality metrics: log-loss, expected calibration error and Brier score.
//!
//! All take row-major probabilities with `num_classes` columns and one row per label,
//! validated as in [`crate::accuracy`].

use crate::error::{MetricsError, Result, check_probs_and_labels};

/// Probabilities are clipped below at this value before taking the logarithm.
pub const LOG_LOSS_EPS: f64 = 1e-15;

/// Mean negative log-likelihood of the true class: `mean_i −ln p_i[y_i]`, with each
/// probability clipped to `[1e-15, 1]` so a confident wrong prediction costs at most
/// `−ln 1e-15 ≈ 34.54` instead of infinity.
pub fn log_loss(probs: &[f32], num_classes: usize, labels: &[usize]) -> Result<f64> {
    check_probs_and_labels(probs, num_classes, labels)?;
    let total: f64 = labels
        .iter()
        .enumerate()
        .map(|(row, &y)| {
            let p = f64::from(probs[row * num_classes + y]).clamp(LOG_LOSS_EPS, 1.0);
            -p.ln()
        })
        .sum();
    Ok(total / labels.len() as f64)
}

/// Index of the equal-width bin holding `confidence`, with bin `i` = `(i/B, (i+1)/B]` and
/// confidence 0 in bin 0. Boundaries are the `f64` values `i as f64 / B as f64`.
pub(crate) fn bin_index(confidence: f64, bins: usize) -> usize {
    let b = bins as f64;
    let mut i = ((confidence * b).ceil() as usize)
        .saturating_sub(1)
        .min(bins - 1);
    // Correct any rounding in `confidence * b` against the exact boundaries.
    while i > 0 && confidence <= i as f64 / b {
        i -= 1;
    }
    while i + 1 < bins && confidence > (i + 1) as f64 / b {
        i += 1;
    }
    i
}

/// Expected calibration error of the top-label confidence.
///
/// For each row the confidence is the largest probability and the prediction its class
/// (ties → lowest index, as in [`crate::accuracy`]). Rows are grouped into `bins`
/// equal-width bins on `[0, 1]`, bin `i` covering `(i/B, (i+1)/B]` (confidence 0 goes into
/// the first bin), and
///
/// `ECE = Σ_b (n_b / N) · |acc_b − conf_b|`
///
/// where `acc_b` is the fraction of correct predictions and `conf_b` the mean confidence
/// in bin `b`; empty bins contribute 0. Errors when `bins == 0`.
pub fn expected_calibration_error(
    probs: &[f32],
    num_classes: usize,
    labels: &[usize],
    bins: usize,
) -> Result<f64> {
    check_probs_and_labels(probs, num_classes, labels)?;
    if bins == 0 {
        return Err(MetricsError::InvalidArgument {
            what: "bins",
            reason: "at least one bin is required".into(),
        });
    }
    // One binning for the metric and the reliability diagram: the same bins, the same sum.
    let bins = crate::plot::reliability_bins(probs, num_classes, labels, bins)?;
    Ok(crate::plot::ece_from_bins(&bins).unwrap_or(0.0))
}

/// Brier score (lower is better).
///
/// * **Binary** (`num_classes == 2`): `mean_i (p_i[1] − 1[y_i = 1])²`, the squared error of
///   the class-1 probability, as scikit-learn's `brier_score_loss`. Range `[0, 1]`. (Since
///   `p[0] = 1 − p[1]`, using class 0 as the positive class gives the same value.)
/// * **Multi-class** (`num_classes > 2`): `mean_i Σ_c (p_i[c] − 1[y_i = c])²`, Brier's
///   original definition, summed over classes. Range `[0, 2]`.
///
/// Note the binary form is half of what the multi-class formula would give for 2 classes.
pub fn brier_score(probs: &[f32], num_classes: usize, labels: &[usize]) -> Result<f64> {
    check_probs_and_labels(probs, num_classes, labels)?;
    let total: f64 = probs
        .chunks_exact(num_classes)
        .zip(labels)
        .map(|(row, &y)| {
            let sq = |c: usize| {
                let target = if c == y { 1.0 } else { 0.0 };
                (f64::from(row[c]) - target).powi(2)
            };
            if num_classes == 2 {
                sq(1)
            } else {
                (0..num_classes).map(sq).sum()
            }
        })
        .sum();
    Ok(total / labels.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() < tol
    }

    #[test]
    fn log_loss_by_hand_with_clipping() {
        // Rows (label): [0.9, 0.1] (0) → −ln 0.9 = 0.1053605157
        //               [0.2, 0.8] (1) → −ln 0.8 = 0.2231435513
        //               [1.0, 0.0] (1) → p clipped to 1e-15 → −ln 1e-15 = 34.5387763949
        // mean = 34.8672804619 / 3 = 11.6224268206
        let p = [0.9, 0.1, 0.2, 0.8, 1.0, 0.0];
        let ll = log_loss(&p, 2, &[0, 1, 1]).unwrap();
        assert!(close(ll, 11.622_426_820_6, 1e-6), "{ll}");
        // Perfect predictions → 0.
        assert_eq!(log_loss(&[1.0, 0.0, 0.0, 1.0], 2, &[0, 1]).unwrap(), 0.0);
    }

    #[test]
    fn ece_three_bins_by_hand() {
        // 3 bins: (0, 1/3], (1/3, 2/3], (2/3, 1].
        //  row                 label  pred  conf  correct  bin
        //  [0.9, 0.05, 0.05]     0     0    0.9     ✓       2
        //  [0.1, 0.8, 0.1]       0     1    0.8     ✗       2
        //  [0.5, 0.3, 0.2]       0     0    0.5     ✓       1
        //  [0.2, 0.6, 0.2]       2     1    0.6     ✗       1
        //  [0.4, 0.3, 0.3]       0     0    0.4     ✓       1
        // bin 1: n 3, acc 2/3, conf (0.5+0.6+0.4)/3 = 0.5  → (3/5)·|2/3 − 0.5| = 0.1
        // bin 2: n 2, acc 1/2, conf (0.9+0.8)/2 = 0.85     → (2/5)·|0.5 − 0.85| = 0.14
        // ECE = 0.24
        let p = [
            0.9, 0.05, 0.05, 0.1, 0.8, 0.1, 0.5, 0.3, 0.2, 0.2, 0.6, 0.2, 0.4, 0.3, 0.3,
        ];
        let ece = expected_calibration_error(&p, 3, &[0, 0, 0, 2, 0], 3).unwrap();
        assert!(close(ece, 0.24, 1e-6), "{ece}");
    }

    #[test]
    fn ece_upper_bin_edge_is_inclusive() {
        // 2 bins: (0, 0.5], (0.5, 1].
        //  [0.5, 0.5] label 1 → tie → pred 0, conf 0.5, wrong → bin 0 (0.5 is its upper edge)
        //  [0.75, 0.25] label 0 → conf 0.75, right → bin 1
        // ECE = (1/2)|0 − 0.5| + (1/2)|1 − 0.75| = 0.25 + 0.125 = 0.375
        // (If 0.5 fell in bin 1: (2/2)|1/2 − 0.625| = 0.125.)
        let ece = expected_calibration_error(&[0.5, 0.5, 0.75, 0.25], 2, &[1, 0], 2).unwrap();
        assert!(close(ece, 0.375, 1e-12), "{ece}");
        // One bin: ECE = |accuracy − mean confidence| = |1/2 − 0.625| = 0.125.
        let ece1 = expected_calibration_error(&[0.5, 0.5, 0.75, 0.25], 2, &[1, 0], 1).unwrap();
        assert!(close(ece1, 0.125, 1e-12), "{ece1}");
    }

    #[test]
    fn bin_index_follows_half_open_bins() {
        assert_eq!(bin_index(0.0, 10), 0);
        assert_eq!(bin_index(0.1, 10), 0);
        assert_eq!(bin_index(0.100_000_1, 10), 1);
        assert_eq!(bin_index(0.7, 10), 6);
        assert_eq!(bin_index(1.0, 10), 9);
        assert_eq!(bin_index(1.0, 1), 0);
        assert_eq!(bin_index(2.0 / 3.0, 3), 1);
        // Where `conf · B` rounds across a boundary, the exact edges still decide:
        // (7/25)·25 evaluates to 7.000000000000001 (ceil → 8) but 7/25 is bin 6's upper
        // edge; the next double above 1/3 times 3 evaluates to exactly 1.0 (ceil → 1) but
        // lies just above bin 0's upper edge.
        assert_eq!(bin_index(7.0 / 25.0, 25), 6);
        assert_eq!(bin_index((1.0f64 / 3.0).next_up(), 3), 1);
        for i in 1..=15 {
            // Each upper edge i/15 belongs to bin i − 1.
            assert_eq!(bin_index(i as f64 / 15.0, 15), i - 1);
        }
    }

    #[test]
    fn ece_rejects_zero_bins() {
        let err = expected_calibration_error(&[0.5, 0.5], 2, &[0], 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid bins: at least one bin is required"
        );
    }

    #[test]
    fn brier_binary_by_hand() {
        // Binary: mean (p1 − y)².
        //  [0.9, 0.1] y 0 → (0.1 − 0)² = 0.01
        //  [0.3, 0.7] y 1 → (0.7 − 1)² = 0.09
        //  [0.6, 0.4] y 1 → (0.4 − 1)² = 0.36
        // mean = 0.46 / 3 = 0.153333…
        let p = [0.9, 0.1, 0.3, 0.7, 0.6, 0.4];
        let b = brier_score(&p, 2, &[0, 1, 1]).unwrap();
        assert!(close(b, 0.46 / 3.0, 1e-6), "{b}");
    }

    #[test]
    fn brier_multiclass_by_hand() {
        // Multi-class: mean Σ_c (p_c − 1[y = c])².
        //  [0.7, 0.2, 0.1] y 0 → 0.3² + 0.2² + 0.1² = 0.09 + 0.04 + 0.01 = 0.14
        //  [0.2, 0.5, 0.3] y 2 → 0.2² + 0.5² + 0.7² = 0.04 + 0.25 + 0.49 = 0.78
        // mean = 0.92 / 2 = 0.46
        let p = [0.7, 0.2, 0.1, 0.2, 0.5, 0.3];
        let b = brier_score(&p, 3, &[0, 2]).unwrap();
        assert!(close(b, 0.46, 1e-6), "{b}");
    }

    #[test]
    fn calibration_metrics_validate_input() {
        assert!(matches!(
            log_loss(&[0.5, 0.6], 2, &[0]).unwrap_err(),
            MetricsError::RowSum { row: 0, .. }
        ));
        assert!(matches!(
            brier_score(&[0.5, 0.5], 2, &[0, 1]).unwrap_err(),
            MetricsError::ShapeMismatch { expected: 4, .. }
        ));
        assert!(matches!(
            expected_calibration_error(&[], 2, &[], 10).unwrap_err(),
            MetricsError::Empty { .. }
        ));
    }
}
