//! Early stopping: patience and minimum improvement on a validation metric.

use serde::{Deserialize, Serialize};

use dark_knowledge_core::Error as CoreError;

use crate::history::EpochRecord;

/// The validation metric early stopping watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopMetric {
    /// The validation loss (lower is better).
    ValidLoss,
    /// The validation accuracy (higher is better).
    ValidAccuracy,
    /// The agreement with the teacher's arg-max on the validation data (higher is better;
    /// needs a teacher).
    TeacherAgreement,
    /// The area under the ROC curve of class 1 on the validation data (higher is better;
    /// binary targets only).
    RocAuc,
}

impl StopMetric {
    /// The metric's name, as written in an experiment file.
    pub fn name(self) -> &'static str {
        match self {
            Self::ValidLoss => "valid_loss",
            Self::ValidAccuracy => "valid_accuracy",
            Self::TeacherAgreement => "teacher_agreement",
            Self::RocAuc => "roc_auc",
        }
    }

    fn higher_is_better(self) -> bool {
        !matches!(self, Self::ValidLoss)
    }

    /// The metric's value in an epoch's record (`None` when the record lacks it).
    pub fn value(self, record: &EpochRecord) -> Option<f64> {
        match self {
            Self::ValidLoss => Some(record.valid.loss),
            Self::ValidAccuracy => Some(record.valid.accuracy),
            Self::TeacherAgreement => record.valid.teacher_agreement,
            Self::RocAuc => record.valid.roc_auc,
        }
    }
}

/// Stop when the metric has not improved by more than `min_delta` for `patience` epochs;
/// the model kept as best is the one of the last improvement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlyStopping {
    /// The metric watched.
    pub metric: StopMetric,
    /// Epochs without improvement before stopping, `>= 1`.
    pub patience: usize,
    /// The least change that counts as an improvement, `>= 0`.
    #[serde(default)]
    pub min_delta: f64,
}

/// Why and where a run stopped early.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EarlyStop {
    /// The last epoch trained (1-based).
    pub epoch: usize,
    /// The epoch of the last improvement, whose model is kept.
    pub best_epoch: usize,
    /// The metric watched.
    pub metric: StopMetric,
    /// Its value at `best_epoch`.
    pub best_value: f64,
    /// A sentence for logs and reports.
    pub reason: String,
}

impl EarlyStopping {
    /// Stop on `metric` after `patience` epochs without improvement.
    pub fn new(metric: StopMetric, patience: usize) -> Self {
        Self {
            metric,
            patience,
            min_delta: 0.0,
        }
    }

    /// The same rule with a minimum improvement.
    pub fn with_min_delta(mut self, min_delta: f64) -> Self {
        self.min_delta = min_delta;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), CoreError> {
        if self.patience == 0 {
            return Err(CoreError::InvalidValue {
                name: "early_stopping patience",
                value: "0".into(),
                allowed: "an integer >= 1 (epochs without improvement before stopping)",
            });
        }
        if !(self.min_delta.is_finite() && self.min_delta >= 0.0) {
            return Err(CoreError::InvalidValue {
                name: "early_stopping min_delta",
                value: self.min_delta.to_string(),
                allowed: "a finite number >= 0",
            });
        }
        Ok(())
    }

    /// Checks that the metric exists for this run.
    pub(crate) fn check_applies(
        &self,
        classes: usize,
        with_teacher: bool,
    ) -> Result<(), CoreError> {
        match self.metric {
            StopMetric::RocAuc if classes != 2 => Err(CoreError::InvalidValue {
                name: "early_stopping metric",
                value: format!("roc_auc for {classes} classes"),
                allowed: "roc_auc for binary targets only; valid_loss, valid_accuracy or teacher_agreement otherwise",
            }),
            StopMetric::TeacherAgreement if !with_teacher => Err(CoreError::InvalidValue {
                name: "early_stopping metric",
                value: "teacher_agreement without a teacher".into(),
                allowed: "valid_loss, valid_accuracy or roc_auc when training from labels",
            }),
            _ => Ok(()),
        }
    }

    /// The epoch (1-based) of the last improvement in `history`, and its value.
    pub fn best(&self, history: &[EpochRecord]) -> Option<(usize, f64)> {
        let mut best: Option<(usize, f64)> = None;
        for record in history {
            let Some(v) = self.metric.value(record).filter(|v| !v.is_nan()) else {
                continue;
            };
            let improved = match best {
                None => true,
                Some((_, b)) if self.metric.higher_is_better() => v > b + self.min_delta,
                Some((_, b)) => v < b - self.min_delta,
            };
            if improved {
                best = Some((record.epoch, v));
            }
        }
        best
    }

    /// Whether training stops after the last epoch of `history`, and why.
    pub fn check(&self, history: &[EpochRecord]) -> Option<EarlyStop> {
        let last = history.last()?.epoch;
        let (best_epoch, best_value) = self.best(history).unwrap_or((0, f64::NAN));
        (last - best_epoch >= self.patience).then(|| EarlyStop {
            epoch: last,
            best_epoch,
            metric: self.metric,
            best_value,
            reason: format!(
                "stopped after epoch {last}: {} has not improved by more than {} for {} epochs (best {best_value:.6} at epoch {best_epoch})",
                self.metric.name(),
                self.min_delta,
                last - best_epoch
            ),
        })
    }
}

/// The area under the ROC curve of `scores` for `positive` (the Mann–Whitney statistic,
/// ties counted half); NaN when one class is absent.
pub fn roc_auc(scores: &[f32], positive: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut pos) = (0.0f64, 0usize);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their mean.
        let mean_rank = (i + j + 2) as f64 / 2.0;
        for &k in &order[i..=j] {
            if positive[k] {
                rank_sum += mean_rank;
                pos += 1;
            }
        }
        i = j + 1;
    }
    let neg = scores.len() - pos;
    if pos == 0 || neg == 0 {
        return f64::NAN;
    }
    (rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos as f64 * neg as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_matches_the_pairwise_definition() {
        let mut state = 12345u64;
        for n in [2usize, 5, 17, 60] {
            let mut scores = Vec::new();
            let mut labels = Vec::new();
            for i in 0..n {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                // Few distinct values: ties are common.
                scores.push(((state >> 33) % 7) as f32 / 7.0);
                labels.push(i.is_multiple_of(2) || (state >> 40).is_multiple_of(3));
            }
            let (mut wins, mut pairs) = (0.0, 0.0);
            for a in 0..n {
                for b in 0..n {
                    if labels[a] && !labels[b] {
                        pairs += 1.0;
                        wins += match scores[a].total_cmp(&scores[b]) {
                            std::cmp::Ordering::Greater => 1.0,
                            std::cmp::Ordering::Equal => 0.5,
                            std::cmp::Ordering::Less => 0.0,
                        };
                    }
                }
            }
            if pairs == 0.0 {
                assert!(
                    roc_auc(&scores, &labels).is_nan(),
                    "n = {n}: one class only"
                );
                continue;
            }
            let expected = wins / pairs;
            assert!(
                (roc_auc(&scores, &labels) - expected).abs() < 1e-12,
                "n = {n}"
            );
        }
        assert!(roc_auc(&[0.1, 0.2], &[true, true]).is_nan());
    }
}
