//! What `evaluate` adds to the comparison: temperature scaling of every model (stored in
//! `<role>/calibration.json`), reliability diagrams, campaign ranking with a threshold
//! chosen on the validation split, the gains chart, and metrics per slice.

use std::collections::BTreeMap;
use std::path::PathBuf;

use burn::tensor::Tensor;
use dark_knowledge_core::Classifier;
use dark_knowledge_core::rows::batch_ranges;
use dark_knowledge_core::tensor_util::to_vec_f32;
use dark_knowledge_data::Dataset;
use dark_knowledge_eval::{
    Campaign, ColumnFlags, ECE_BINS, ModelCalibration, Report, SliceTable, ThresholdFigures,
    campaign, gains_svg, model_calibration, reliability_bins, reliability_svg, slice_table,
    softmax_with_temperature,
};
use serde::Serialize;

use super::RunDir;
use super::slice_levels::SliceColumn;
use crate::error::{Context, Result};
use crate::experiment::Experiment;
use crate::prepare::Prepared;

/// File each model's temperature (and threshold) is stored in, in its role folder.
pub const CALIBRATION_FILE: &str = "calibration.json";
/// The student the slice flags are about, and the models it is compared with.
const SLICE_STUDENT: &str = "distilled";
const SLICE_REFERENCES: [&str; 2] = ["baseline", "teacher"];

/// Raw logits of `model` on every row of `data`, row-major `[len, num_classes]`, batch by
/// batch as [`dark_knowledge_eval::predict_proba`] computes probabilities.
pub(super) fn logits_of<M: Classifier<Input = Tensor<2>>>(model: &M, data: &Dataset) -> Vec<f32> {
    let mut out = Vec::with_capacity(data.len() * model.num_classes());
    for rows in batch_ranges(data.len(), 1024) {
        let batch = data.range(rows.start, rows.end);
        out.extend(to_vec_f32(model.logits(batch.inputs.without_autodiff())));
    }
    out
}

/// One model's outputs that the decision sections need.
pub(super) struct RoleOutputs {
    /// Test-split probabilities (as in the comparison table).
    pub test_probs: Vec<f32>,
    /// Test-split logits.
    pub test_logits: Vec<f32>,
    /// Validation-split logits.
    pub valid_logits: Vec<f32>,
}

/// `threshold` of `calibration.json`.
#[derive(Serialize)]
struct ThresholdRecord {
    goal: String,
    value: f32,
    class: String,
    score: &'static str,
    validation: ThresholdFigures,
}

/// The contents of `<role>/calibration.json`.
#[derive(Serialize)]
struct CalibrationRecord {
    temperature: f64,
    fitted_on: &'static str,
    rows: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    threshold: Option<ThresholdRecord>,
}

/// The decision sections of a report and the files that go with them, computed before
/// anything is written.
#[derive(Default)]
pub(super) struct Insights {
    calibration: BTreeMap<String, ModelCalibration>,
    campaign: BTreeMap<String, Campaign>,
    slices: Vec<SliceTable>,
    slice_flags: Vec<ColumnFlags>,
    plots: BTreeMap<String, String>,
    notes: Vec<String>,
    /// Files to write, relative to the run folder.
    files: Vec<(PathBuf, Vec<u8>)>,
}

/// Whether `data` has a binary target with a positive class (its index).
fn binary_positive(data: &Prepared) -> Option<usize> {
    data.positive_class.filter(|_| data.num_classes() == 2)
}

impl Insights {
    /// Calibration of every model, and for a binary target the campaign figures and the
    /// slices of `columns`.
    ///
    /// # Errors
    /// Outputs of the wrong shape or non-finite logits (a broken model).
    pub(super) fn compute(
        experiment: &Experiment,
        data: &Prepared,
        outputs: &BTreeMap<String, RoleOutputs>,
        teacher_probs: &[f32],
        columns: &[SliceColumn],
    ) -> Result<Self> {
        let mut out = Self::default();
        if data.valid.is_empty() {
            out.notes
                .push("calibration and thresholds skipped: the validation split is empty".into());
        } else {
            out.calibrate(data, outputs)?;
        }
        let Some(positive) = binary_positive(data) else {
            out.notes.push(format!(
                "campaign ranking and slices skipped: the target has {} classes, they need a \
                 binary target",
                data.num_classes()
            ));
            return Ok(out.with_calibration_files(data));
        };
        out.campaigns(experiment, data, outputs, positive)?;
        let slices = &experiment.evaluation;
        for c in columns {
            let models: Vec<(&str, &[f32])> = outputs
                .iter()
                .map(|(role, o)| (role.as_str(), o.test_probs.as_slice()))
                .collect();
            let table = slice_table(
                &c.column,
                &c.levels,
                &models,
                data.num_classes(),
                data.test.labels_host(),
                Some(teacher_probs),
                slices.slice_min_rows,
                positive,
            )?;
            out.slice_flags.push(ColumnFlags {
                column: c.column.clone(),
                student: SLICE_STUDENT.into(),
                references: SLICE_REFERENCES.iter().map(|r| r.to_string()).collect(),
                margin: slices.slice_margin,
                flags: table.flags(SLICE_STUDENT, &SLICE_REFERENCES, slices.slice_margin),
            });
            out.slices.push(table);
        }
        Ok(out.with_calibration_files(data))
    }

    /// Fits every model's temperature and draws its reliability diagrams.
    fn calibrate(
        &mut self,
        data: &Prepared,
        outputs: &BTreeMap<String, RoleOutputs>,
    ) -> Result<()> {
        let nc = data.num_classes();
        let (valid_labels, test_labels) = (data.valid.labels_host(), data.test.labels_host());
        for (role, o) in outputs {
            let c = model_calibration(
                (&o.valid_logits, valid_labels),
                (&o.test_logits, test_labels),
                nc,
            )
            .with_context(|| format!("calibrating the {role} model"))?;
            let after = softmax_with_temperature(&o.test_logits, nc, c.test.temperature)?;
            for (name, probs, title) in [
                (
                    format!("reliability-{role}-before"),
                    &o.test_probs,
                    format!("{role}: reliability before calibration (test split)"),
                ),
                (
                    format!("reliability-{role}"),
                    &after,
                    format!(
                        "{role}: reliability after temperature scaling, T = {:.3} (test split)",
                        c.test.temperature
                    ),
                ),
            ] {
                let bins = reliability_bins(probs, nc, test_labels, ECE_BINS)?;
                self.plot(&name, reliability_svg(&title, &bins));
            }
            self.calibration.insert(role.clone(), c);
        }
        Ok(())
    }

    /// Records a chart to write as `plots/<name>.svg`.
    fn plot(&mut self, name: &str, svg: String) {
        let path = format!("plots/{name}.svg");
        self.files.push((PathBuf::from(&path), svg.into_bytes()));
        self.plots.insert(name.to_string(), path);
    }

    /// The campaign figures of every model (on calibrated scores when calibrated) and the
    /// gains chart.
    fn campaigns(
        &mut self,
        experiment: &Experiment,
        data: &Prepared,
        outputs: &BTreeMap<String, RoleOutputs>,
        positive: usize,
    ) -> Result<()> {
        let nc = data.num_classes();
        let targets =
            |d: &Dataset| -> Vec<bool> { d.labels_host().iter().map(|&y| y == positive).collect() };
        let (test_pos, valid_pos) = (targets(&data.test), targets(&data.valid));
        for (role, o) in outputs {
            let t = self
                .calibration
                .get(role)
                .map_or(1.0, |c| c.test.temperature);
            let scores = |logits: &[f32]| -> Result<Vec<f32>> {
                Ok(softmax_with_temperature(logits, nc, t)?
                    .chunks_exact(nc)
                    .map(|r| r[positive])
                    .collect())
            };
            let test = scores(&o.test_logits)?;
            let valid = if data.valid.is_empty() {
                Vec::new()
            } else {
                scores(&o.valid_logits)?
            };
            let c = campaign(
                (&test, &test_pos),
                (&valid, &valid_pos),
                experiment.evaluation.threshold_goal,
            )
            .with_context(|| format!("campaign figures of the {role} model"))?;
            self.campaign.insert(role.clone(), c);
        }
        let tables: Vec<(&str, &[dark_knowledge_eval::GainsRow])> = self
            .campaign
            .iter()
            .map(|(role, c)| (role.as_str(), c.gains.as_slice()))
            .collect();
        let svg = gains_svg(&tables);
        self.plot("gains", svg);
        Ok(())
    }

    /// Adds each calibrated model's `calibration.json` to the files to write.
    fn with_calibration_files(mut self, data: &Prepared) -> Self {
        for (role, c) in &self.calibration {
            let threshold = self.campaign.get(role).and_then(|k| k.threshold.as_ref());
            let positive = binary_positive(data).map(|p| data.class_names[p].clone());
            let record = CalibrationRecord {
                temperature: c.test.temperature,
                fitted_on: "validation",
                rows: c.validation_rows,
                threshold: threshold.zip(positive).map(|(t, class)| ThresholdRecord {
                    goal: t.goal.clone(),
                    value: t.threshold,
                    class,
                    score: "calibrated",
                    validation: t.validation,
                }),
            };
            // Infallible: plain numbers and strings.
            let text = serde_json::to_string_pretty(&record).unwrap_or_default();
            let path = PathBuf::from(role).join(CALIBRATION_FILE);
            self.files.push((path, text.into_bytes()));
        }
        self
    }

    /// Puts the sections into `report` (with the notes on skipped parts) and returns the
    /// files to write, relative to the run folder.
    pub(super) fn add_to(self, report: &mut Report) -> Vec<(PathBuf, Vec<u8>)> {
        report.calibration = self.calibration;
        report.campaign = self.campaign;
        report.slices = self.slices;
        report.slice_flags = self.slice_flags;
        report.plots = self.plots;
        for note in self.notes {
            report.add_note(note);
        }
        self.files
    }
}

/// Writes `files` (paths relative to the run folder) atomically; the `plots` folder gets a
/// `CHECKSUMS` manifest like the rest of the run.
pub(super) fn write_files(run: &RunDir, files: &[(PathBuf, Vec<u8>)]) -> Result<()> {
    if files.iter().any(|(p, _)| p.starts_with("plots")) {
        let dir = run.0.join("plots");
        dark_knowledge_core::checksums::track(&dir)
            .with_context(|| format!("making {}", dir.display()))?;
    }
    for (path, bytes) in files {
        let path = run.0.join(path);
        dark_knowledge_core::io::write_atomic(&path, bytes)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
