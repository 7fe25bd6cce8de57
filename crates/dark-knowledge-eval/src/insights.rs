//! The report's decision sections: temperature scaling per model ([`ModelCalibration`]),
//! campaign ranking per model ([`Campaign`]: gains and lift by decile, the top shares, a
//! threshold chosen on the validation split) and the slice flags ([`ColumnFlags`]).
//!
//! Scores are the positive class's probability; the campaign figures of a report are
//! computed on the calibrated probabilities (`softmax(logits / T)`), the scale a
//! calibrated `predict` writes, so a stored threshold applies to those scores as they are.

use serde::{Deserialize, Serialize};

use crate::campaign::{ThresholdGoal, apply_threshold, choose_threshold, gains, top_share};
use crate::error::{Result, check_same_len};
use crate::slices::SliceFlag;
use crate::temperature::{CalibrationChange, CalibrationFigures, calibrate};
use crate::{GainsRow, MetricsError};

/// Rows of a campaign's gains table: deciles.
pub const GAINS_BINS: usize = 10;
/// The top shares of the ranking a campaign reports precision and recall for.
pub const TOP_SHARES: [f64; 3] = [0.05, 0.1, 0.2];

/// Calibration figures of one split before (`T = 1`) and after temperature scaling.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BeforeAfter {
    /// Figures of `softmax(logits)`.
    pub before: CalibrationFigures,
    /// Figures of `softmax(logits / temperature)`.
    pub after: CalibrationFigures,
}

/// Temperature scaling of one model: the temperature fitted on the validation split, the
/// test split's figures before and after (`temperature`, `before`, `after`, as
/// [`CalibrationChange`]) and the validation split's, where the fit cannot make the
/// log-loss worse.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ModelCalibration {
    /// Temperature and test-split figures.
    #[serde(flatten)]
    pub test: CalibrationChange,
    /// Rows of the validation split the temperature was fitted on.
    pub validation_rows: usize,
    /// Validation-split figures at `T = 1` and at the fitted temperature.
    pub validation: BeforeAfter,
}

/// Fits a temperature on the validation logits and measures both splits before and after
/// ([`calibrate`]).
///
/// # Errors
/// As [`calibrate`]: empty splits, shapes that do not match, non-finite logits, labels out
/// of range.
pub fn model_calibration(
    valid: (&[f32], &[usize]),
    test: (&[f32], &[usize]),
    num_classes: usize,
) -> Result<ModelCalibration> {
    let on_test = calibrate(valid.0, valid.1, test.0, test.1, num_classes)?;
    let on_valid = calibrate(valid.0, valid.1, valid.0, valid.1, num_classes)?;
    Ok(ModelCalibration {
        test: on_test,
        validation_rows: valid.1.len(),
        validation: BeforeAfter {
            before: on_valid.before,
            after: on_valid.after,
        },
    })
}

/// Precision, recall and share flagged of a threshold on one split.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ThresholdFigures {
    /// Positives among the flagged rows / flagged rows (0 when nothing is flagged).
    pub precision: f64,
    /// Flagged positives / all positives (0 without positives).
    pub recall: f64,
    /// `2 · TP / (flagged + positives)`.
    pub f1: f64,
    /// Share of the rows flagged.
    pub flagged: f64,
    /// Number of rows flagged.
    pub flagged_rows: usize,
}

/// Figures of flagging rows with `score >= threshold`; lengths must match.
///
/// # Errors
/// `scores` and `positives` differ in length.
pub fn threshold_figures(
    scores: &[f32],
    positives: &[bool],
    threshold: f32,
) -> Result<ThresholdFigures> {
    check_same_len("scores", scores.len(), "positives", positives.len())?;
    let flagged = apply_threshold(scores, threshold);
    let flagged_rows = flagged.iter().filter(|&&f| f).count();
    let total = positives.iter().filter(|&&p| p).count();
    let tp = flagged
        .iter()
        .zip(positives)
        .filter(|&(&f, &p)| f && p)
        .count();
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    Ok(ThresholdFigures {
        precision: ratio(tp, flagged_rows),
        recall: ratio(tp, total),
        f1: ratio(2 * tp, flagged_rows + total),
        flagged: ratio(flagged_rows, scores.len()),
        flagged_rows,
    })
}

/// A threshold chosen on the validation split for a goal, with its figures there and on
/// the test split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignThreshold {
    /// The goal, as written in the experiment file (`max-f1`, `precision:0.8`,
    /// `budget:0.1`).
    pub goal: String,
    /// Rows whose positive-class score is `>=` this are flagged.
    pub threshold: f32,
    /// Its figures on the validation split, where it was chosen.
    pub validation: ThresholdFigures,
    /// Its figures on the test split.
    pub test: ThresholdFigures,
}

/// Campaign ranking of one model on the test split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    /// Cumulative gains and lift at every decile ([`GAINS_BINS`] rows, the last one all
    /// rows with gain 1).
    pub gains: Vec<GainsRow>,
    /// Precision and recall of the top 5, 10 and 20 % ([`TOP_SHARES`]).
    pub top: Vec<GainsRow>,
    /// The threshold chosen on the validation split, unless the goal cannot be met there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<CampaignThreshold>,
    /// Why no threshold was chosen (e.g. a precision the model never reaches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_error: Option<String>,
}

/// Scores and targets of one split: the positive class's score and whether each row is
/// positive.
pub type ScoredSplit<'a> = (&'a [f32], &'a [bool]);

/// The campaign figures of a model: gains and top shares on `test`, and a threshold
/// chosen on `valid` for `goal`, measured on both (a goal `valid` cannot meet is recorded
/// in [`Campaign::threshold_error`], not an error).
///
/// # Errors
/// Mismatched lengths, non-finite scores, or a test split without positives.
pub fn campaign(
    test: ScoredSplit<'_>,
    valid: ScoredSplit<'_>,
    goal: ThresholdGoal,
) -> Result<Campaign> {
    let (scores, positives) = test;
    let table = gains(scores, positives, GAINS_BINS)?;
    let top = TOP_SHARES
        .iter()
        .map(|&f| top_share(scores, positives, f))
        .collect::<Result<Vec<_>>>()?;
    let (threshold, threshold_error) = match choose_threshold(valid.0, valid.1, goal) {
        Ok(t) => (
            Some(CampaignThreshold {
                goal: goal.to_string(),
                threshold: t.threshold,
                validation: threshold_figures(valid.0, valid.1, t.threshold)?,
                test: threshold_figures(scores, positives, t.threshold)?,
            }),
            None,
        ),
        Err(e @ (MetricsError::InvalidArgument { .. } | MetricsError::MissingClass { .. })) => {
            (None, Some(format!("on the validation split: {e}")))
        }
        Err(e) => return Err(e),
    };
    Ok(Campaign {
        gains: table,
        top,
        threshold,
        threshold_error,
    })
}

/// The slices of one column on which the student trails a reference model by more than
/// the margin ([`crate::SliceTable::flags`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnFlags {
    /// The column sliced by.
    pub column: String,
    /// The student compared.
    pub student: String,
    /// The reference models it is compared with.
    pub references: Vec<String>,
    /// The margin a shortfall must exceed.
    pub margin: f64,
    /// The flagged slices (empty: none).
    pub flags: Vec<SliceFlag>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_figures_by_hand() {
        // Scores 0.9 (+), 0.8 (−), 0.4 (+), 0.1 (−); threshold 0.8 flags the first two.
        let scores = [0.9, 0.8, 0.4, 0.1];
        let positives = [true, false, true, false];
        let f = threshold_figures(&scores, &positives, 0.8).unwrap();
        assert_eq!(f.flagged_rows, 2);
        assert_eq!((f.precision, f.recall, f.flagged), (0.5, 0.5, 0.5));
        assert_eq!(f.f1, 0.5);
        let none = threshold_figures(&scores, &positives, 0.95).unwrap();
        assert_eq!(
            (none.precision, none.recall, none.flagged_rows),
            (0.0, 0.0, 0)
        );
    }

    #[test]
    fn campaign_records_an_unreachable_goal() {
        let scores = [0.9, 0.8, 0.4, 0.1];
        let positives = [false, true, true, false];
        let goal: ThresholdGoal = "precision:1".parse().unwrap();
        let c = campaign((&scores, &positives), (&scores, &positives), goal).unwrap();
        assert!(c.threshold.is_none());
        assert!(c.threshold_error.unwrap().contains("precision 1"));
        assert_eq!(c.gains.len(), GAINS_BINS);
        assert_eq!(c.gains.last().unwrap().gain, 1.0);
        let c = campaign(
            (&scores, &positives),
            (&scores, &positives),
            ThresholdGoal::MaxF1,
        )
        .unwrap();
        let t = c.threshold.unwrap();
        assert_eq!((t.goal.as_str(), t.threshold), ("max-f1", 0.4));
        assert_eq!(t.test.recall, 1.0);
    }
}
