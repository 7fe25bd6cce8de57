//! Threshold-free binary ranking metrics: ROC-AUC and PR-AUC (average precision).
//!
//! Both take one score per example (higher = more likely positive, e.g. the positive
//! class's probability) and one `bool` target per example. Scores only need to be finite;
//! they are not required to lie in `[0, 1]`.

use crate::error::{MetricsError, Result, check_same_len};

/// Checks lengths, emptiness and finiteness of scores.
fn check_scores(scores: &[f32], positives: &[bool]) -> Result<()> {
    check_same_len("scores", scores.len(), "positives", positives.len())?;
    match scores.iter().position(|s| !s.is_finite()) {
        Some(index) => Err(MetricsError::NonFinite {
            what: "scores",
            index,
            value: scores[index],
        }),
        None => Ok(()),
    }
}

/// Area under the ROC curve, via the Mann–Whitney U statistic.
///
/// Equals the probability that a random positive scores higher than a random negative,
/// with tied pairs counting 1/2 (average ranks over tie groups), which is also what
/// scikit-learn's `roc_auc_score` returns. Errors when `positives` has no positive or no
/// negative example, since the AUC is then undefined.
pub fn roc_auc(scores: &[f32], positives: &[bool]) -> Result<f64> {
    check_scores(scores, positives)?;
    let n_pos = positives.iter().filter(|&&p| p).count();
    let n_neg = positives.len() - n_pos;
    for (count, missing) in [(n_pos, "positive"), (n_neg, "negative")] {
        if count == 0 {
            return Err(MetricsError::MissingClass {
                metric: "ROC-AUC",
                what: "positives",
                missing,
            });
        }
    }

    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Sum of the (1-based, tie-averaged) ranks of the positives.
    let mut positive_rank_sum = 0.0f64;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        // Ranks start+1 ..= end share their mean.
        let mean_rank = (start + 1 + end) as f64 / 2.0;
        let tied_positives = order[start..end].iter().filter(|&&i| positives[i]).count();
        positive_rank_sum += mean_rank * tied_positives as f64;
        start = end;
    }
    let n_pos = n_pos as f64;
    let u = positive_rank_sum - n_pos * (n_pos + 1.0) / 2.0;
    Ok(u / (n_pos * n_neg as f64))
}

/// Area under the precision–recall curve as average precision, matching scikit-learn's
/// `average_precision_score`.
///
/// `AP = Σ_k (R_k − R_{k−1}) · P_k` over the distinct score thresholds in decreasing
/// order, where `P_k` and `R_k` are the precision and recall when every example scoring
/// `>=` the k-th threshold is predicted positive (`R_0 = 0`). Tied scores enter together
/// as one threshold, so the result does not depend on input order. This is the step-wise
/// sum, not trapezoidal interpolation. Errors when there is no positive example (recall is
/// undefined); with no negatives the AP is 1.
pub fn pr_auc(scores: &[f32], positives: &[bool]) -> Result<f64> {
    check_scores(scores, positives)?;
    let total_pos = positives.iter().filter(|&&p| p).count();
    if total_pos == 0 {
        return Err(MetricsError::MissingClass {
            metric: "PR-AUC",
            what: "positives",
            missing: "positive",
        });
    }

    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut prev_recall = 0.0f64;
    let mut ap = 0.0f64;
    let mut start = 0;
    while start < order.len() {
        let mut end = start;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            if positives[order[end]] {
                tp += 1;
            } else {
                fp += 1;
            }
            end += 1;
        }
        let recall = tp as f64 / total_pos as f64;
        let precision = tp as f64 / (tp + fp) as f64;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
        start = end;
    }
    Ok(ap)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    fn targets(bits: &[u8]) -> Vec<bool> {
        bits.iter().map(|&b| b == 1).collect()
    }

    #[test]
    fn roc_auc_sklearn_doc_example() {
        // y = [0, 0, 1, 1], s = [0.1, 0.4, 0.35, 0.8] (sklearn `roc_auc_score` docs).
        // Positive/negative pairs: 0.35>0.1 ✓, 0.35>0.4 ✗, 0.8>0.1 ✓, 0.8>0.4 ✓ → 3/4.
        let auc = roc_auc(&[0.1, 0.4, 0.35, 0.8], &targets(&[0, 0, 1, 1])).unwrap();
        assert!(close(auc, 0.75), "{auc}");
    }

    #[test]
    fn roc_auc_counts_ties_as_half() {
        // s = [0.1, 0.4, 0.35, 0.8, 0.4], y = [0, 0, 1, 1, 1]
        // positives {0.35, 0.8, 0.4} vs negatives {0.1, 0.4}:
        //   0.35: >0.1 → 1, <0.4 → 0
        //   0.8 : >0.1 → 1, >0.4 → 1
        //   0.4 : >0.1 → 1, =0.4 → 1/2
        // U = 4.5, AUC = 4.5 / (3·2) = 0.75.
        // Via ranks: 0.1→1, 0.35→2, 0.4,0.4→3.5, 0.8→5; positive ranks 2+3.5+5 = 10.5;
        // U = 10.5 − 3·4/2 = 4.5. (Ties as 0 would give 4/6, as 1 would give 5/6.)
        let auc = roc_auc(&[0.1, 0.4, 0.35, 0.8, 0.4], &targets(&[0, 0, 1, 1, 1])).unwrap();
        assert!(close(auc, 0.75), "{auc}");

        // All scores equal: every pair is a tie → 1/2.
        assert!(close(
            roc_auc(&[0.3; 4], &targets(&[1, 0, 1, 0])).unwrap(),
            0.5
        ));
        // Perfectly inverted ranking → 0.
        assert!(close(
            roc_auc(&[0.9, 0.8, 0.2, 0.1], &targets(&[0, 0, 1, 1])).unwrap(),
            0.0
        ));
    }

    #[test]
    fn roc_auc_requires_both_classes() {
        let err = roc_auc(&[0.1, 0.2], &[true, true]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ROC-AUC is undefined: positives contains no negative examples"
        );
        assert!(roc_auc(&[0.1, 0.2], &[false, false]).is_err());
        assert!(roc_auc(&[], &[]).is_err());
        assert!(matches!(
            roc_auc(&[0.1, 0.2], &[true]).unwrap_err(),
            MetricsError::LengthMismatch { .. }
        ));
        assert!(matches!(
            roc_auc(&[0.1, f32::NAN], &[true, false]).unwrap_err(),
            MetricsError::NonFinite { index: 1, .. }
        ));
    }

    #[test]
    fn average_precision_sklearn_doc_example() {
        // y = [0, 0, 1, 1], s = [0.1, 0.4, 0.35, 0.8], thresholds in decreasing order:
        //   0.8 : TP 1 FP 0 → P 1,   R 1/2   → + (1/2 − 0)·1    = 1/2
        //   0.4 : TP 1 FP 1 → P 1/2, R 1/2   → + 0
        //   0.35: TP 2 FP 1 → P 2/3, R 1     → + (1 − 1/2)·2/3  = 1/3
        //   0.1 : TP 2 FP 2 → P 1/2, R 1     → + 0
        // AP = 1/2 + 1/3 = 0.8333…
        let ap = pr_auc(&[0.1, 0.4, 0.35, 0.8], &targets(&[0, 0, 1, 1])).unwrap();
        assert!(close(ap, 5.0 / 6.0), "{ap}");
    }

    #[test]
    fn average_precision_groups_ties() {
        // s = [0.8, 0.4, 0.4, 0.1], y = [1, 1, 0, 0]; the two 0.4s form one threshold:
        //   0.8: TP 1 FP 0 → P 1,   R 1/2 → + 1/2
        //   0.4: TP 2 FP 1 → P 2/3, R 1   → + (1/2)(2/3) = 1/3
        //   0.1: R unchanged → + 0
        // AP = 5/6. (Processing the tied positive first, untied, would give 1.)
        let ap = pr_auc(&[0.8, 0.4, 0.4, 0.1], &targets(&[1, 1, 0, 0])).unwrap();
        assert!(close(ap, 5.0 / 6.0), "{ap}");

        // s = [0.1, 0.4, 0.35, 0.8, 0.4], y = [0, 0, 1, 1, 1]:
        //   0.8 : TP 1 FP 0 → P 1,   R 1/3 → + 1/3
        //   0.4 : TP 2 FP 1 → P 2/3, R 2/3 → + (1/3)(2/3) = 2/9
        //   0.35: TP 3 FP 1 → P 3/4, R 1   → + (1/3)(3/4) = 1/4
        //   0.1 : + 0
        // AP = 1/3 + 2/9 + 1/4 = (12 + 8 + 9)/36 = 29/36.
        let ap = pr_auc(&[0.1, 0.4, 0.35, 0.8, 0.4], &targets(&[0, 0, 1, 1, 1])).unwrap();
        assert!(close(ap, 29.0 / 36.0), "{ap}");
    }

    #[test]
    fn average_precision_edge_cases() {
        // No negatives: precision is 1 at every threshold → AP = 1.
        assert!(close(pr_auc(&[0.2, 0.7], &[true, true]).unwrap(), 1.0));
        // No positives: undefined.
        assert_eq!(
            pr_auc(&[0.2, 0.7], &[false, false])
                .unwrap_err()
                .to_string(),
            "PR-AUC is undefined: positives contains no positive examples"
        );
        assert!(matches!(
            pr_auc(&[], &[]).unwrap_err(),
            MetricsError::Empty { what: "positives" }
        ));
    }
}
