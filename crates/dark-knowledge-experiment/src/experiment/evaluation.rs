//! The `[evaluation]` section: the threshold goal of the campaign figures and the columns
//! the test rows are sliced by.

use dark_knowledge_eval::ThresholdGoal;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// What `evaluate` adds to the comparison (`[evaluation]`): a threshold chosen for a goal,
/// and per-slice metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationSection {
    /// The goal of the threshold chosen on the validation split: `max-f1` (default),
    /// `precision:P` or `budget:B` (`P`, `B` in `(0, 1]`).
    #[serde(default = "default_goal", with = "goal_text")]
    pub threshold_goal: ThresholdGoal,
    /// CSV columns whose levels slice the test rows (numeric columns in quantile bins).
    #[serde(default)]
    pub slice_by: Vec<String>,
    /// Levels with fewer test rows than this are pooled into one `other` slice.
    #[serde(default = "default_min_rows")]
    pub slice_min_rows: usize,
    /// A slice is flagged when the distilled student trails the baseline or the teacher
    /// there by more than this (ROC-AUC, or accuracy where the AUC is undefined).
    #[serde(default = "default_margin")]
    pub slice_margin: f64,
}

fn default_goal() -> ThresholdGoal {
    ThresholdGoal::MaxF1
}

fn default_min_rows() -> usize {
    30
}

fn default_margin() -> f64 {
    0.02
}

impl Default for EvaluationSection {
    fn default() -> Self {
        Self {
            threshold_goal: default_goal(),
            slice_by: Vec::new(),
            slice_min_rows: default_min_rows(),
            slice_margin: default_margin(),
        }
    }
}

impl EvaluationSection {
    /// Whether every setting is the default (the section is then not written).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// Checks the settings: a minimum of at least one row, a finite margin `>= 0`, no
    /// empty or repeated column name.
    ///
    /// # Errors
    /// The first setting out of range, naming it and what is allowed.
    pub fn validate(&self) -> Result<()> {
        crate::ensure!(
            self.slice_min_rows >= 1,
            "[evaluation] slice_min_rows = 0; allowed: an integer >= 1"
        );
        crate::ensure!(
            self.slice_margin.is_finite() && self.slice_margin >= 0.0,
            "[evaluation] slice_margin = {}; allowed: a number >= 0",
            self.slice_margin
        );
        for (i, column) in self.slice_by.iter().enumerate() {
            crate::ensure!(
                !column.trim().is_empty(),
                "[evaluation] slice_by has an empty column name; allowed: column names of the data"
            );
            crate::ensure!(
                !self.slice_by[..i].contains(column),
                "[evaluation] slice_by names the column {column:?} twice"
            );
        }
        Ok(())
    }
}

/// `threshold_goal` as its text form (`max-f1`, `precision:0.8`, `budget:0.1`).
mod goal_text {
    use dark_knowledge_eval::ThresholdGoal;
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub(super) fn serialize<S: Serializer>(goal: &ThresholdGoal, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(goal)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ThresholdGoal, D::Error> {
        let text = String::deserialize(d)?;
        text.parse()
            .map_err(|e| D::Error::custom(format!("threshold_goal: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goals_parse_from_text_and_bad_ones_are_named() {
        let s: EvaluationSection = toml::from_str("threshold_goal = \"precision:0.8\"").unwrap();
        assert_eq!(s.threshold_goal, ThresholdGoal::TargetPrecision(0.8));
        assert_eq!((s.slice_min_rows, s.slice_margin), (30, 0.02));
        let back: EvaluationSection = toml::from_str(&toml::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        let err = toml::from_str::<EvaluationSection>("threshold_goal = \"budget:2\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("threshold_goal") && err.contains("(0, 1]"),
            "{err}"
        );
        let bad = EvaluationSection {
            slice_by: vec!["state".into(), "state".into()],
            ..EvaluationSection::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("twice"));
        assert!(EvaluationSection::default().is_default());
    }
}
