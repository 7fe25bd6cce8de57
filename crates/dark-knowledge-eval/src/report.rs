//! The teacher / baseline / distilled comparison report written by the `demo` command.
//!
//! The JSON shape is stable: field names are part of the format, binary-only fields are
//! omitted (not `null`) for multi-class targets, and models are keyed by name. The
//! markdown rendering lives in `markdown.rs`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::insights::{Campaign, ColumnFlags, ModelCalibration};
use crate::model::ModelMetrics;
use crate::slices::SliceTable;

/// Description of the data set the models were evaluated on.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct DatasetSummary {
    /// Data set name.
    pub name: String,
    /// Number of target classes.
    pub num_classes: usize,
    /// Class names, in class-index order.
    pub class_names: Vec<String>,
    /// Rows in the training split.
    pub train_rows: usize,
    /// Rows in the validation split.
    pub valid_rows: usize,
    /// Rows in the test split.
    pub test_rows: usize,
    /// Number of input features.
    pub num_features: usize,
    /// Accuracy of always predicting the most frequent class.
    pub majority_class_rate: f64,
    /// Name of the positive class (binary targets only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub positive_class: Option<String>,
    /// Input columns the preprocessing left out, with the reason (constant, ID-like,
    /// personal data, listed in `drop_columns`).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub dropped_columns: Vec<DroppedColumn>,
}

/// An input column the preprocessing left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DroppedColumn {
    /// The column's header.
    pub column: String,
    /// Why it was left out.
    pub reason: String,
}

impl DatasetSummary {
    /// The summary of data split into `train`, `valid` and `test` (the majority-class rate
    /// is measured on `test`), with the class names in class-index order and the positive
    /// class of a binary target by index.
    pub fn of(
        name: impl Into<String>,
        [train, valid, test]: [&dark_knowledge_data::Dataset; 3],
        class_names: &[String],
        positive_class: Option<usize>,
    ) -> Self {
        let labels = test.labels_host();
        let mut counts = vec![0usize; class_names.len().max(test.num_classes())];
        for &l in labels {
            if let Some(c) = counts.get_mut(l) {
                *c += 1;
            }
        }
        let majority =
            counts.iter().copied().max().unwrap_or(0) as f64 / labels.len().max(1) as f64;
        Self {
            name: name.into(),
            num_classes: class_names.len(),
            class_names: class_names.to_vec(),
            train_rows: train.len(),
            valid_rows: valid.len(),
            test_rows: test.len(),
            num_features: test.num_features(),
            majority_class_rate: majority,
            positive_class: positive_class.and_then(|i| class_names.get(i).cloned()),
            dropped_columns: Vec::new(),
        }
    }

    /// The summary with the columns the preprocessing left out, `(column, reason)`.
    pub fn with_dropped_columns(mut self, dropped: &[(String, String)]) -> Self {
        self.dropped_columns = dropped
            .iter()
            .map(|(column, reason)| DroppedColumn {
                column: column.clone(),
                reason: reason.clone(),
            })
            .collect();
        self
    }
}

/// The full comparison report: the data set, each model's metrics and free-form notes.
///
/// Write it with [`Report::to_json`] (the stable machine-readable form) or
/// [`Report::to_markdown`] / [`Report::comparison_table`] (for people), and persist
/// either with [`crate::write_atomic`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Report {
    /// The data set the models were evaluated on.
    pub dataset: DatasetSummary,
    /// Metrics per model name (`teacher`, `baseline`, `distilled`, ...).
    pub models: BTreeMap<String, ModelMetrics>,
    /// Free-form remarks, rendered as a bullet list.
    #[serde(default)]
    pub notes: Vec<String>,
    /// Temperature scaling per model name (fitted on the validation split).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub calibration: BTreeMap<String, ModelCalibration>,
    /// Campaign ranking per model name (binary targets).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub campaign: BTreeMap<String, Campaign>,
    /// Metrics per level of each column sliced by (binary targets).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slices: Vec<SliceTable>,
    /// Per column sliced by, the slices on which the student trails a reference model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slice_flags: Vec<ColumnFlags>,
    /// Charts written beside the report, by name (`gains`, `reliability-<model>`), as paths
    /// relative to the report's folder.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub plots: BTreeMap<String, String>,
}

impl Report {
    /// A report on `dataset` with no model yet; add them with [`Report::add_model`].
    pub fn new(dataset: DatasetSummary) -> Self {
        Self {
            dataset,
            models: BTreeMap::new(),
            notes: Vec::new(),
            calibration: BTreeMap::new(),
            campaign: BTreeMap::new(),
            slices: Vec::new(),
            slice_flags: Vec::new(),
            plots: BTreeMap::new(),
        }
    }

    /// Adds (or replaces) the metrics of the model called `name`, e.g. the result of
    /// [`crate::evaluate_model`].
    pub fn add_model(&mut self, name: impl Into<String>, metrics: ModelMetrics) -> &mut Self {
        self.models.insert(name.into(), metrics);
        self
    }

    /// Adds a remark, rendered as a bullet.
    pub fn add_note(&mut self, note: impl Into<String>) -> &mut Self {
        self.notes.push(note.into());
        self
    }

    /// Pretty-printed JSON. Non-finite numbers (e.g. a NaN latency) are written as `null`
    /// by `serde_json` and would not read back, so callers should keep metrics finite.
    pub fn to_json(&self) -> String {
        // Infallible: every map key is a String and every value a plain number, string,
        // vector or struct, which serde_json always serializes.
        serde_json::to_string_pretty(self).expect("Report always serializes to JSON")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::model_metrics;
    use crate::model::tests::{LABELS, TEACHER, eff, names};
    use serde_json::Value;

    /// A report over the binary split (with `positive_class`) or a 3-class split.
    pub(crate) fn sample_report(binary: bool, model_names: &[&str]) -> Report {
        let (probs, labels, classes, pos): (Vec<f32>, Vec<usize>, Vec<String>, _) = if binary {
            (
                TEACHER.to_vec(),
                LABELS.to_vec(),
                names(&["no", "yes"]),
                Some(1),
            )
        } else {
            let p = vec![0.7, 0.2, 0.1, 0.1, 0.6, 0.3, 0.3, 0.3, 0.4];
            (p, vec![0, 1, 2], names(&["a", "b|c", "d"]), None)
        };
        let models = model_names
            .iter()
            .enumerate()
            .map(|(i, &name)| {
                let m = model_metrics(
                    &probs,
                    &probs,
                    classes.len(),
                    &labels,
                    &classes,
                    pos,
                    eff(1000 * (i + 1)),
                )
                .unwrap();
                (name.to_string(), m)
            })
            .collect();
        Report {
            dataset: DatasetSummary {
                name: "toy".into(),
                num_classes: classes.len(),
                positive_class: pos.map(|p| classes[p].clone()),
                class_names: classes,
                train_rows: 80,
                valid_rows: 10,
                test_rows: labels.len(),
                num_features: 5,
                majority_class_rate: 0.5,
                dropped_columns: Vec::new(),
            },
            models,
            notes: vec!["first note".into(), "second note".into()],
            calibration: BTreeMap::new(),
            campaign: BTreeMap::new(),
            slices: Vec::new(),
            slice_flags: Vec::new(),
            plots: BTreeMap::new(),
        }
    }

    fn keys(v: &Value) -> Vec<&str> {
        let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        k.sort_unstable();
        k
    }

    const COMMON_KEYS: [&str; 12] = [
        "accuracy",
        "agreement_with_teacher",
        "brier",
        "bytes",
        "ece",
        "kl_to_teacher",
        "latency_us_batch1",
        "log_loss",
        "macro_f1",
        "parameters",
        "per_class",
        "throughput_per_s_batch1024",
    ];

    #[test]
    fn json_has_exactly_the_documented_keys() {
        let binary: Value =
            serde_json::from_str(&sample_report(true, &["teacher"]).to_json()).unwrap();
        assert_eq!(keys(&binary), ["dataset", "models", "notes"]);
        let mut expected: Vec<&str> = COMMON_KEYS.to_vec();
        expected.extend(["f1", "precision", "recall", "roc_auc", "pr_auc"]);
        expected.sort_unstable();
        assert_eq!(keys(&binary["models"]["teacher"]), expected);
        assert_eq!(
            keys(&binary["models"]["teacher"]["per_class"][0]),
            ["f1", "label", "precision", "recall", "support"]
        );
        assert_eq!(binary["dataset"]["positive_class"], "yes");
        assert_eq!(keys(&binary["dataset"]).len(), 9);

        let multi: Value =
            serde_json::from_str(&sample_report(false, &["teacher"]).to_json()).unwrap();
        assert_eq!(keys(&multi["models"]["teacher"]), COMMON_KEYS);
        assert_eq!(
            keys(&multi["dataset"]),
            [
                "class_names",
                "majority_class_rate",
                "name",
                "num_classes",
                "num_features",
                "test_rows",
                "train_rows",
                "valid_rows"
            ]
        );
    }

    #[test]
    fn json_round_trips() {
        for binary in [true, false] {
            let report = sample_report(binary, &["teacher", "distilled"]);
            let json = report.to_json();
            assert!(
                json.contains("\n  \"dataset\": {"),
                "not pretty-printed: {json}"
            );
            let back: Report = serde_json::from_str(&json).unwrap();
            assert_eq!(back, report);
            assert_eq!(back.to_json(), json);
        }
        // `notes` may be absent in older files.
        let mut v: Value = serde_json::from_str(&sample_report(false, &[]).to_json()).unwrap();
        v.as_object_mut().unwrap().remove("notes");
        let r: Report = serde_json::from_value(v).unwrap();
        assert!(r.notes.is_empty());
    }
}
