//! `sweep --config FILE`: an experiment file with a `[sweep]` grid; every combination of
//! the grid is one student run.
//!
//! ```toml
//! [sweep]
//! seeds = [1, 2, 3]
//! method = ["hard", "kd", "kd+transfer"]
//! temperature = [2.0, 4.0, 8.0]
//! kd_weight = [0.9]                 # cross-entropy weight = 1 − kd_weight, or by name:
//! # weights = [{ ce = 0.1, kd = 0.9 }, { ce = 0.5, kd = 0.5 }]   # any [[loss]] term names
//! student_hidden = [[], [8], [32]]  # MLP students; [] = linear (a logistic regression)
//! labeled_per_class = [60, 600]     # or labeled_fraction = [0.01, 0.1]; all labels if absent
//! steps = 2000                      # optimizer steps per run (default: the student's epochs
//!                                   # over the whole training split)
//! tolerance = 0.005                 # pick: the smallest student within this of the best
//! ```
//!
//! With several student sizes the summary also names the smallest student whose mean test
//! ROC-AUC (accuracy for more than two classes) is within `tolerance` of the best size's,
//! and plots the metric against batch-1 latency ([`super::sizes`]).

use std::collections::BTreeMap;
use std::path::Path;

use crate::bail;
use crate::error::{Context, Result};
use serde::{Deserialize, Serialize};

use super::aggregate::write_results_with;
use super::{Labels, Method, RunSpec, StudyContext, check_budgets, describe_weights, run_all};
use crate::experiment::Experiment;
use crate::run::prepare_experiment;

mod axes;

use axes::{hidden_axis, label_axis, or, temperature_axis, term_weight_axis, tolerance};

/// The grid of a sweep. Every list left out takes the base experiment's value.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepGrid {
    /// Seeds; the experiment's seed when absent.
    #[serde(default)]
    pub seeds: Vec<u64>,
    /// Methods: `hard`, `kd`, `kd+transfer`; `["hard", "kd"]` when absent.
    #[serde(default)]
    pub method: Vec<Method>,
    /// Distillation temperatures.
    #[serde(default)]
    pub temperature: Vec<f64>,
    /// Distillation weights in `[0, 1]`; the cross-entropy weight is `1 − kd_weight`.
    #[serde(default)]
    pub kd_weight: Vec<f64>,
    /// Term weights by name, one table per setting: the `[[loss]]` names (the kind by
    /// default), or `ce` and `kd` for the classic loss; a term not named keeps its weight.
    #[serde(default)]
    pub weights: Vec<BTreeMap<String, f64>>,
    /// Hidden sizes of MLP students; `[]` is a linear student (no hidden layer: a
    /// multinomial logistic regression, distilled like any other student).
    #[serde(default)]
    pub student_hidden: Vec<Vec<usize>>,
    /// Labels kept per class (the rest become a transfer set).
    #[serde(default)]
    pub labeled_per_class: Vec<usize>,
    /// Fractions of labels kept.
    #[serde(default)]
    pub labeled_fraction: Vec<f64>,
    /// Optimizer steps per run.
    #[serde(default)]
    pub steps: Option<usize>,
    /// With several student sizes: the summary names the smallest student whose mean test
    /// metric is at least the best size's minus this; 0.005 when absent.
    #[serde(default)]
    pub tolerance: Option<f64>,
}

/// Reads a sweep file: the experiment and its grid.
///
/// # Errors
/// An unreadable file, a missing `[sweep]`, an invalid experiment or grid.
pub fn load(path: &Path) -> Result<(Experiment, SweepGrid)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read sweep file {}", path.display()))?;
    let mut value: toml::Table =
        toml::from_str(&text).with_context(|| format!("invalid sweep file {}", path.display()))?;
    let grid = value
        .remove("sweep")
        .with_context(|| format!("{} has no [sweep] table", path.display()))?;
    let grid: SweepGrid = grid
        .try_into()
        .with_context(|| format!("invalid [sweep] in {}", path.display()))?;
    let experiment = Experiment::parse(&toml::to_string(&value)?, path)?;
    crate::ensure!(
        experiment.data.labeled_per_class.is_none() && experiment.data.labeled_fraction.is_none(),
        "a sweep hides labels per run: move labeled_per_class / labeled_fraction from [data] to [sweep]"
    );
    Ok((experiment, grid))
}

/// Every run of the grid, seeds innermost. `hard` runs do not depend on the temperature or
/// the distillation weight, so they are listed once per other setting. `kd+transfer` runs
/// need rows without labels: hidden by `labeled_per_class` / `labeled_fraction`, or, with
/// `unlabeled_rows` (CSV rows with an empty target), also with all labels kept.
///
/// # Errors
/// Values out of range, `student_hidden` with a student that is not an MLP, or `kd_weight`
/// with a loss given as `[[loss]]` terms.
pub fn expand(
    experiment: &Experiment,
    grid: &SweepGrid,
    unlabeled_rows: bool,
) -> Result<Vec<RunSpec>> {
    Ok(Axes::of(experiment, grid)?.specs(unlabeled_rows))
}

/// The values of every axis of a grid, checked; an axis the grid leaves out has the base
/// experiment's value.
struct Axes {
    seeds: Vec<u64>,
    methods: Vec<Method>,
    temps: Vec<f64>,
    weights: Vec<f64>,
    /// Term weights by name; `[None]` when the grid sets none.
    term_weights: Vec<Option<BTreeMap<String, f64>>>,
    /// Student hidden sizes; `[None]` for the experiment's student.
    hidden: Vec<Option<Vec<usize>>>,
    labels: Vec<Labels>,
    /// Whether `[[loss]]` terms keep their own temperatures.
    keep_term_temperatures: bool,
    /// Optimizer steps per run; 0 until `sweep` knows the size of the training split.
    steps: usize,
}

impl Axes {
    /// The axes of `grid` over `experiment`, checked in this order: the loss weights, the
    /// labels, the temperatures, `kd_weight`, the student sizes, the tolerance, the steps.
    fn of(experiment: &Experiment, grid: &SweepGrid) -> Result<Self> {
        let base = experiment.student_trainer();
        let term_weights = term_weight_axis(&base, grid)?;
        let labels = label_axis(grid)?;
        let seeds = or(&grid.seeds, experiment.seed);
        let methods = if grid.method.is_empty() {
            vec![Method::Hard, Method::Kd]
        } else {
            grid.method.clone()
        };
        let (temps, keep_term_temperatures) = temperature_axis(&base, grid)?;
        let weights = or(&grid.kd_weight, base.loss.kd_weight);
        for &w in &weights {
            crate::ensure!(
                (0.0..=1.0).contains(&w),
                "[sweep] kd_weight {w}: allowed: a number in [0, 1]"
            );
        }
        let hidden = hidden_axis(experiment, grid)?;
        tolerance(grid)?;
        let steps = match grid.steps {
            Some(0) => bail!("[sweep] steps = 0: allowed: an integer >= 1"),
            Some(s) => s,
            None => 0, // set by `sweep` once the size of the training split is known
        };
        Ok(Self {
            seeds,
            methods,
            temps,
            weights,
            term_weights,
            hidden,
            labels,
            keep_term_temperatures,
            steps,
        })
    }

    /// Every run of the grid, seeds innermost; `hard` runs once per setting of the axes it
    /// does not depend on.
    fn specs(&self, unlabeled_rows: bool) -> Vec<RunSpec> {
        let mut specs = Vec::new();
        for &label in &self.labels {
            for h in &self.hidden {
                for &method in &self.methods {
                    if method == Method::KdTransfer && label == Labels::All && !unlabeled_rows {
                        continue; // no row without label, no transfer set
                    }
                    let (ts, ws, tws) = if method == Method::Hard {
                        (vec![self.temps[0]], vec![self.weights[0]], vec![None])
                    } else {
                        (
                            self.temps.clone(),
                            self.weights.clone(),
                            self.term_weights.clone(),
                        )
                    };
                    for &t in &ts {
                        for &w in &ws {
                            for tw in &tws {
                                let setting = self.setting(label, h.as_deref(), method, t, w, tw);
                                for &seed in &self.seeds {
                                    specs.push(RunSpec {
                                        setting: setting.clone(),
                                        method,
                                        labels: label,
                                        student_hidden: h.clone(),
                                        temperature: t,
                                        kd_weight: w,
                                        keep_term_temperatures: self.keep_term_temperatures,
                                        term_weights: tw.clone(),
                                        seed,
                                        steps: self.steps,
                                    });
                                }
                            }
                        }
                    }
                }
            }
        }
        specs
    }

    /// The name of a setting: the labels kept, and each axis that varies besides the method
    /// and the seed.
    fn setting(
        &self,
        label: Labels,
        hidden: Option<&[usize]>,
        method: Method,
        t: f64,
        w: f64,
        term_weights: &Option<BTreeMap<String, f64>>,
    ) -> String {
        let mut setting = label.describe();
        match hidden {
            Some([]) => setting.push_str(", linear student"),
            Some(h) => setting.push_str(&format!(", student {h:?}")),
            None => {}
        }
        if method != Method::Hard {
            if self.temps.len() > 1 {
                setting.push_str(&format!(", T = {t}"));
            }
            if self.weights.len() > 1 {
                setting.push_str(&format!(", kd_weight = {w}"));
            }
            if let (Some(tw), true) = (term_weights, self.term_weights.len() > 1) {
                setting.push_str(&format!(", {}", describe_weights(tw)));
            }
        }
        setting
    }
}

/// `sweep`: runs the grid of `path` (resuming a previous run of it), writes the summary.
pub fn sweep(
    path: &Path,
    checkpoints: &crate::experiment::ResumeOptions,
) -> Result<super::StudyOutcome> {
    let (mut experiment, grid) = load(path)?;
    let tolerance = tolerance(&grid)?;
    checkpoints.apply(&mut experiment);
    crate::run::check_output_folder(&experiment.output_dir)?;
    let (device, data) = prepare_experiment(&experiment)?;
    let _lock = crate::run::RunDir::of(&experiment).lock()?;
    crate::run::clean_stale(&experiment);
    let mut specs = expand(&experiment, &grid, data.train.is_partially_labeled())?;
    check_budgets(&data.train, &specs)?;
    if grid.steps.is_none() {
        // The student's epochs over the whole training split.
        let base = experiment.student_trainer();
        let steps = base.epochs * data.train.len().div_ceil(base.batch_size.max(1));
        specs.iter_mut().for_each(|s| s.steps = steps);
    }
    let out = experiment.output_dir.clone();
    let ctx = StudyContext::new(experiment, data, &device)?;
    let results = run_all(&ctx, &specs, &out, &device)?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sweep".into());
    let rows = write_results_with(&out, &name, &results, tolerance)?;
    if let Some(s) = super::sizes::summarize(&rows, tolerance) {
        log::info!(
            "sweep: the smallest student within {tolerance} of the best mean test {}: {} ({:.4}; \
             best {} {:.4}); see {}",
            s.metric.name(),
            s.pick.student,
            s.pick.mean_metric,
            s.best.student,
            s.best.mean_metric,
            out.join("results.md").display()
        );
    }
    Ok(super::StudyOutcome {
        name,
        runs: results,
        rows,
    })
}

#[cfg(test)]
mod tests;
