//! Reliability diagrams and line charts of experiment results, as standalone SVG.
//!
//! [`reliability_bins`] groups predictions by top-class confidence exactly as
//! [`crate::expected_calibration_error`] does, [`pool_bins`] merges the bins of several
//! runs (e.g. seeds), and [`reliability_svg`] / [`line_chart_svg`] draw bins and
//! `(x, mean, std)` series as self-contained SVG documents (plain text, no dependencies);
//! [`scatter_svg`] draws labelled points with error bars in x and y (e.g. test ROC-AUC
//! against latency, one point per student size).

mod axes;
mod scatter;
mod svg;
#[cfg(test)]
mod svg_tests;

pub use scatter::{ReferenceLine, ScatterPoint, scatter_svg};
pub use svg::{Chart, Series, line_chart_svg, reliability_svg};

use serde::{Deserialize, Serialize};

use crate::calibration::bin_index;
use crate::classification::argmax_rows;
use crate::error::{MetricsError, Result, check_probs_and_labels};

/// One confidence bin of a reliability diagram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    /// Lower edge of the bin (exclusive, except that confidence 0 falls in the first bin).
    pub lower: f64,
    /// Upper edge of the bin (inclusive).
    pub upper: f64,
    /// Number of rows whose top-class confidence falls in the bin.
    pub count: usize,
    /// Mean top-class confidence of those rows; 0 for an empty bin.
    pub mean_confidence: f64,
    /// Fraction of those rows whose arg-max class is the label; 0 for an empty bin.
    pub accuracy: f64,
}

/// `num_bins` equal-width bins over the top-class confidence, as the ECE in
/// [`crate::expected_calibration_error`] uses: bin `i` covers `(i/B, (i+1)/B]` (confidence
/// 0 goes into the first bin) and the prediction is the arg-max class (ties → lowest
/// index). Hence `Σ count/N · |accuracy − mean_confidence|` over the bins (see
/// [`ece_from_bins`]) is that ECE for the same `num_bins`.
///
/// Inputs are validated as for every metric of this crate (shape, finite probabilities,
/// rows summing to 1, labels in range, at least one row); `num_bins == 0` is an error.
pub fn reliability_bins(
    probs: &[f32],
    num_classes: usize,
    labels: &[usize],
    num_bins: usize,
) -> Result<Vec<ReliabilityBin>> {
    check_probs_and_labels(probs, num_classes, labels)?;
    if num_bins == 0 {
        return Err(MetricsError::InvalidArgument {
            what: "num_bins",
            reason: "at least one bin is required".into(),
        });
    }
    let mut count = vec![0usize; num_bins];
    let mut correct = vec![0usize; num_bins];
    let mut confidence_sum = vec![0.0f64; num_bins];
    for (row, (&pred, &y)) in argmax_rows(probs, num_classes)
        .iter()
        .zip(labels)
        .enumerate()
    {
        let confidence = f64::from(probs[row * num_classes + pred]);
        let b = bin_index(confidence, num_bins);
        count[b] += 1;
        confidence_sum[b] += confidence;
        if pred == y {
            correct[b] += 1;
        }
    }
    let width = num_bins as f64;
    Ok((0..num_bins)
        .map(|b| {
            let n = count[b] as f64;
            let (mean_confidence, accuracy) = if count[b] == 0 {
                (0.0, 0.0)
            } else {
                (confidence_sum[b] / n, correct[b] as f64 / n)
            };
            ReliabilityBin {
                lower: b as f64 / width,
                upper: (b + 1) as f64 / width,
                count: count[b],
                mean_confidence,
                accuracy,
            }
        })
        .collect())
}

/// Bins of several runs pooled, e.g. over seeds: counts are added and the mean confidence
/// and accuracy of each bin are the count-weighted means over the runs, so pooling the
/// bins of two runs gives the bins of their concatenated predictions.
///
/// Errors when `runs` is empty, a run has no bins, the runs' bin edges differ, or a
/// non-empty bin has a non-finite mean.
pub fn pool_bins(runs: &[Vec<ReliabilityBin>]) -> Result<Vec<ReliabilityBin>> {
    let invalid = |reason: String| MetricsError::InvalidArgument {
        what: "runs",
        reason,
    };
    let Some(first) = runs.first() else {
        return Err(MetricsError::Empty { what: "runs" });
    };
    if first.is_empty() {
        return Err(invalid("run 0 has no bins".into()));
    }
    for (r, run) in runs.iter().enumerate() {
        if run.len() != first.len() {
            return Err(invalid(format!(
                "run {r} has {} bins but run 0 has {}",
                run.len(),
                first.len()
            )));
        }
        for (i, (bin, reference)) in run.iter().zip(first).enumerate() {
            if bin.lower != reference.lower || bin.upper != reference.upper {
                return Err(invalid(format!(
                    "bin {i} of run {r} is ({}, {}] but of run 0 is ({}, {}]",
                    bin.lower, bin.upper, reference.lower, reference.upper
                )));
            }
            if bin.count > 0 && !(bin.mean_confidence.is_finite() && bin.accuracy.is_finite()) {
                return Err(invalid(format!("bin {i} of run {r} has a non-finite mean")));
            }
        }
    }
    Ok(first
        .iter()
        .enumerate()
        .map(|(i, edges)| {
            let bins = runs.iter().map(|run| &run[i]);
            let count: usize = bins.clone().map(|b| b.count).sum();
            let weighted = |f: fn(&ReliabilityBin) -> f64| {
                if count == 0 {
                    return 0.0;
                }
                let sum: f64 = bins.clone().map(|b| b.count as f64 * f(b)).sum();
                sum / count as f64
            };
            ReliabilityBin {
                lower: edges.lower,
                upper: edges.upper,
                count,
                mean_confidence: weighted(|b| b.mean_confidence),
                accuracy: weighted(|b| b.accuracy),
            }
        })
        .collect())
}

/// Expected calibration error of a set of bins: `Σ count/N · |accuracy − mean_confidence|`
/// with `N = Σ count`, skipping empty bins. `None` when every bin is empty or a non-empty
/// bin has a non-finite mean.
pub fn ece_from_bins(bins: &[ReliabilityBin]) -> Option<f64> {
    let n: usize = bins.iter().map(|b| b.count).sum();
    if n == 0 {
        return None;
    }
    let ece: f64 = bins
        .iter()
        .filter(|b| b.count > 0)
        .map(|b| (b.count as f64 / n as f64) * (b.accuracy - b.mean_confidence).abs())
        .sum();
    ece.is_finite().then_some(ece)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibration::expected_calibration_error;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    // 3 classes, 6 rows.
    //  row                 label  pred  conf  correct
    //  [0.9, 0.05, 0.05]     0     0    0.9     ✓
    //  [0.1, 0.8, 0.1]       0     1    0.8     ✗
    //  [0.5, 0.3, 0.2]       0     0    0.5     ✓
    //  [0.2, 0.6, 0.2]       2     1    0.6     ✗
    //  [0.4, 0.3, 0.3]       0     0    0.4     ✓
    //  [0.2, 0.2, 0.6]       2     2    0.6     ✓
    const PROBS: [f32; 18] = [
        0.9, 0.05, 0.05, 0.1, 0.8, 0.1, 0.5, 0.3, 0.2, 0.2, 0.6, 0.2, 0.4, 0.3, 0.3, 0.2, 0.2, 0.6,
    ];
    const LABELS: [usize; 6] = [0, 0, 0, 2, 0, 2];

    #[test]
    fn bins_by_hand() {
        // 4 bins: (0, .25], (.25, .5], (.5, .75], (.75, 1].
        //  bin 0: empty                     → count 0, conf 0,    acc 0
        //  bin 1: 0.5 ✓, 0.4 ✓              → count 2, conf 0.45, acc 1
        //  bin 2: 0.6 ✗, 0.6 ✓              → count 2, conf 0.6,  acc 0.5
        //  bin 3: 0.9 ✓, 0.8 ✗              → count 2, conf 0.85, acc 0.5
        let bins = reliability_bins(&PROBS, 3, &LABELS, 4).unwrap();
        let expected = [
            (0.0, 0.25, 0, 0.0, 0.0),
            (0.25, 0.5, 2, 0.45, 1.0),
            (0.5, 0.75, 2, 0.6, 0.5),
            (0.75, 1.0, 2, 0.85, 0.5),
        ];
        assert_eq!(bins.len(), 4);
        for (bin, (lo, hi, n, conf, acc)) in bins.iter().zip(expected) {
            assert_eq!((bin.lower, bin.upper, bin.count), (lo, hi, n), "{bin:?}");
            assert!(close(bin.mean_confidence, conf), "{bin:?}");
            assert!(close(bin.accuracy, acc), "{bin:?}");
        }
        // ECE = (2/6)(0.55 + 0.1 + 0.35) = 1/3.
        assert!(close(ece_from_bins(&bins).unwrap(), 1.0 / 3.0));
    }

    #[test]
    fn bins_reproduce_expected_calibration_error() {
        for num_bins in [1, 2, 3, 4, 5, 10, 15, 25] {
            let bins = reliability_bins(&PROBS, 3, &LABELS, num_bins).unwrap();
            let from_bins = ece_from_bins(&bins).unwrap();
            let ece = expected_calibration_error(&PROBS, 3, &LABELS, num_bins).unwrap();
            assert_eq!(from_bins, ece, "{num_bins} bins");
            assert_eq!(bins.iter().map(|b| b.count).sum::<usize>(), LABELS.len());
        }
        // Confidence exactly on an edge (0.5 with 2 bins) goes to the lower bin, as in the ECE.
        let bins = reliability_bins(&[0.5, 0.5, 0.75, 0.25], 2, &[1, 0], 2).unwrap();
        assert_eq!((bins[0].count, bins[1].count), (1, 1));
        let ece = expected_calibration_error(&[0.5, 0.5, 0.75, 0.25], 2, &[1, 0], 2).unwrap();
        assert_eq!(ece_from_bins(&bins), Some(ece));
    }

    #[test]
    fn pooling_two_runs_equals_binning_the_concatenation() {
        let (p1, l1) = (&PROBS[..9], &LABELS[..3]);
        let (p2, l2) = (&PROBS[9..], &LABELS[3..]);
        for num_bins in [1, 3, 4, 10] {
            let runs = [
                reliability_bins(p1, 3, l1, num_bins).unwrap(),
                reliability_bins(p2, 3, l2, num_bins).unwrap(),
            ];
            let pooled = pool_bins(&runs).unwrap();
            let whole = reliability_bins(&PROBS, 3, &LABELS, num_bins).unwrap();
            assert_eq!(pooled.len(), whole.len());
            for (a, b) in pooled.iter().zip(&whole) {
                assert_eq!((a.lower, a.upper, a.count), (b.lower, b.upper, b.count));
                assert!(close(a.mean_confidence, b.mean_confidence), "{a:?} {b:?}");
                assert!(close(a.accuracy, b.accuracy), "{a:?} {b:?}");
            }
        }
        // Pooling one run is the identity.
        let one = reliability_bins(&PROBS, 3, &LABELS, 4).unwrap();
        assert_eq!(pool_bins(std::slice::from_ref(&one)).unwrap(), one);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let bins = |p: &[f32], l: &[usize], b| reliability_bins(p, 2, l, b).unwrap_err();
        assert!(matches!(
            bins(&[0.5, 0.5], &[0, 1], 10),
            MetricsError::ShapeMismatch { .. }
        ));
        assert!(matches!(
            bins(&[f32::NAN, 0.5], &[0], 10),
            MetricsError::NonFinite { index: 0, .. }
        ));
        assert!(matches!(
            bins(&[0.5, 0.5], &[2], 10),
            MetricsError::ClassOutOfRange { class: 2, .. }
        ));
        assert!(matches!(bins(&[], &[], 10), MetricsError::Empty { .. }));
        assert_eq!(
            bins(&[0.5, 0.5], &[0], 0).to_string(),
            "invalid num_bins: at least one bin is required"
        );
        assert!(matches!(
            reliability_bins(&[1.0], 1, &[0], 10).unwrap_err(),
            MetricsError::TooFewClasses { .. }
        ));

        assert_eq!(
            pool_bins(&[]).unwrap_err(),
            MetricsError::Empty { what: "runs" }
        );
        assert!(pool_bins(&[vec![]]).is_err());
        let four = reliability_bins(&PROBS, 3, &LABELS, 4).unwrap();
        let five = reliability_bins(&PROBS, 3, &LABELS, 5).unwrap();
        let err = pool_bins(&[four.clone(), five]).unwrap_err();
        assert!(err.to_string().contains("run 1 has 5 bins"), "{err}");
        let mut shifted = four.clone();
        shifted[2].lower = 0.55;
        let err = pool_bins(&[four.clone(), shifted]).unwrap_err();
        assert!(err.to_string().contains("bin 2 of run 1"), "{err}");
        let mut nan = four.clone();
        nan[1].accuracy = f64::NAN;
        assert!(pool_bins(&[four, nan]).is_err());
        assert_eq!(ece_from_bins(&[]), None);
    }
}
