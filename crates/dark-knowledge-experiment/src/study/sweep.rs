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
//! student_hidden = [[32], [64]]     # MLP students
//! labeled_per_class = [60, 600]     # or labeled_fraction = [0.01, 0.1]; all labels if absent
//! steps = 2000                      # optimizer steps per run (default: the student's epochs
//!                                   # over the whole training split)
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use crate::bail;
use crate::error::{Context, Result};
use dark_knowledge_models::ModelSpec;
use dark_knowledge_train::TrainerConfig;
use serde::{Deserialize, Serialize};

use super::{
    Labels, Method, RunSpec, StudyContext, check_budgets, describe_weights, run_all, write_results,
};
use crate::experiment::Experiment;
use crate::run::prepare_experiment;

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
    /// Hidden sizes of MLP students.
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
    /// labels, the temperatures, `kd_weight`, the student sizes, the steps.
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
        if let Some(h) = hidden {
            setting.push_str(&format!(", student {h:?}"));
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

/// The term-weight tables of the grid, checked against the loss's term names (`ce` and
/// `kd` for the classic loss); `[None]` when the grid sets none.
fn term_weight_axis(
    base: &TrainerConfig,
    grid: &SweepGrid,
) -> Result<Vec<Option<BTreeMap<String, f64>>>> {
    if !base.terms.is_empty() && !grid.kd_weight.is_empty() {
        bail!(
            "[sweep] kd_weight sets the classic loss's weights (ce = 1 − kd_weight); this \
             experiment's loss is [[loss]] terms: vary their weights by name with \
             `weights = [{{ ce = 0.1, kd = 0.9 }}, …]` instead"
        );
    }
    if !grid.kd_weight.is_empty() && !grid.weights.is_empty() {
        bail!("[sweep] kd_weight and weights both set the loss weights: keep one");
    }
    let names = if base.terms.is_empty() {
        vec!["ce".to_string(), "kd".to_string()]
    } else {
        dark_knowledge_train::terms::term_names(&base.terms)?
    };
    for table in &grid.weights {
        crate::ensure!(
            !table.is_empty(),
            "[sweep] weights: an empty table sets nothing"
        );
        for (name, &w) in table {
            crate::ensure!(
                names.contains(name),
                "[sweep] weights: no loss term named `{name}`; the terms are {}",
                names.join(", ")
            );
            crate::ensure!(
                w.is_finite() && w >= 0.0,
                "[sweep] weights: {name} = {w}: allowed: a number >= 0"
            );
        }
    }
    Ok(if grid.weights.is_empty() {
        vec![None]
    } else {
        grid.weights.iter().cloned().map(Some).collect()
    })
}

/// The label budgets of the grid, checked: labels kept per class, then fractions; all
/// labels when the grid sets neither.
fn label_axis(grid: &SweepGrid) -> Result<Vec<Labels>> {
    for &n in &grid.labeled_per_class {
        crate::ensure!(
            n >= 1,
            "[sweep] labeled_per_class {n}: allowed: an integer >= 1"
        );
    }
    for &f in &grid.labeled_fraction {
        crate::ensure!(
            f > 0.0 && f <= 1.0,
            "[sweep] labeled_fraction {f}: allowed: a fraction in (0, 1]"
        );
    }
    let mut labels: Vec<Labels> = grid
        .labeled_per_class
        .iter()
        .map(|&n| Labels::PerClass(n))
        .collect();
    labels.extend(grid.labeled_fraction.iter().map(|&f| Labels::Fraction(f)));
    if labels.is_empty() {
        labels.push(Labels::All);
    }
    Ok(labels)
}

/// The temperatures of the grid, checked, and whether `[[loss]]` terms keep their own
/// temperatures (they do unless the grid sets one).
fn temperature_axis(base: &TrainerConfig, grid: &SweepGrid) -> Result<(Vec<f64>, bool)> {
    let keep_term_temperatures = !base.terms.is_empty() && grid.temperature.is_empty();
    let own_temperature = base
        .terms
        .iter()
        .find_map(|t| t.temperature_at(1, 1))
        .unwrap_or(base.loss.temperature);
    let temps = if keep_term_temperatures {
        vec![own_temperature]
    } else {
        or(&grid.temperature, base.loss.temperature)
    };
    for &t in &temps {
        crate::ensure!(
            t.is_finite() && t > 0.0,
            "[sweep] temperature {t}: allowed: a number > 0"
        );
    }
    Ok((temps, keep_term_temperatures))
}

/// The student hidden sizes of the grid, checked (MLP students only); `[None]`, the
/// experiment's student, when the grid sets none.
fn hidden_axis(experiment: &Experiment, grid: &SweepGrid) -> Result<Vec<Option<Vec<usize>>>> {
    if grid.student_hidden.is_empty() {
        return Ok(vec![None]);
    }
    if !matches!(experiment.student.model, ModelSpec::Mlp { .. }) {
        bail!("[sweep] student_hidden varies MLP students; the experiment's student is not an MLP");
    }
    for h in &grid.student_hidden {
        crate::ensure!(
            !h.is_empty() && h.iter().all(|&v| v > 0),
            "[sweep] student_hidden {h:?}: allowed: one or more sizes >= 1"
        );
    }
    Ok(grid.student_hidden.iter().cloned().map(Some).collect())
}

fn or<T: Copy>(list: &[T], default: T) -> Vec<T> {
    if list.is_empty() {
        vec![default]
    } else {
        list.to_vec()
    }
}

/// `sweep`: runs the grid of `path` (resuming a previous run of it), writes the summary.
pub fn sweep(
    path: &Path,
    checkpoints: &crate::experiment::ResumeOptions,
) -> Result<super::StudyOutcome> {
    let (mut experiment, grid) = load(path)?;
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
    let rows = write_results(&out, &name, &results)?;
    Ok(super::StudyOutcome {
        name,
        runs: results,
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example sweep file: its experiment and grid.
    fn example_sweep() -> (Experiment, SweepGrid) {
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/experiments/sweep-churn.toml"
        ));
        load(path).unwrap()
    }

    /// `experiment` with its loss given as `[[loss]]` terms.
    fn with_loss_terms(experiment: &Experiment) -> Experiment {
        let mut with_terms = experiment.clone();
        with_terms.loss = vec![
            dark_knowledge_train::LossTerm::ce(0.5),
            dark_knowledge_train::LossTerm::kd(0.5, 2.0),
        ];
        with_terms
    }

    #[test]
    fn the_example_sweep_expands_to_its_grid() {
        let (experiment, grid) = example_sweep();
        let specs = expand(&experiment, &grid, false).unwrap();
        // 2 label fractions × 3 student sizes × (hard + 3 kd + 3 kd+transfer) × 3 seeds.
        assert_eq!(specs.len(), 2 * 3 * 7 * 3);
        assert!(specs.iter().all(|s| s.steps == 2000));
        let hard: Vec<_> = specs.iter().filter(|s| s.method == Method::Hard).collect();
        assert_eq!(hard.len(), 2 * 3 * 3);
        let ids: std::collections::BTreeSet<_> = specs.iter().map(RunSpec::id).collect();
        assert_eq!(ids.len(), specs.len());
    }

    #[test]
    fn bad_grids_are_errors_naming_the_key() {
        let (experiment, grid) = example_sweep();
        for (bad, key) in [
            (
                SweepGrid {
                    temperature: vec![0.0],
                    ..grid.clone()
                },
                "temperature",
            ),
            (
                SweepGrid {
                    kd_weight: vec![1.5],
                    ..grid.clone()
                },
                "kd_weight",
            ),
            (
                SweepGrid {
                    steps: Some(0),
                    ..grid.clone()
                },
                "steps",
            ),
            (
                SweepGrid {
                    student_hidden: vec![vec![]],
                    ..grid.clone()
                },
                "student_hidden",
            ),
            (
                SweepGrid {
                    labeled_per_class: vec![0],
                    ..grid.clone()
                },
                "labeled_per_class 0",
            ),
            (
                SweepGrid {
                    labeled_fraction: vec![1.5],
                    ..grid.clone()
                },
                "labeled_fraction 1.5",
            ),
        ] {
            let err = expand(&experiment, &bad, false).unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
        let err = toml::from_str::<SweepGrid>("temperatures = [2.0]")
            .unwrap_err()
            .to_string();
        assert!(err.contains("temperatures"), "{err}");
    }

    #[test]
    fn kd_weight_is_refused_with_loss_terms() {
        let (experiment, grid) = example_sweep();
        // kd_weight is the classic loss's; with [[loss]] terms it would change nothing.
        let with_terms = with_loss_terms(&experiment);
        let err = expand(&with_terms, &grid, false).unwrap_err().to_string();
        assert!(
            err.contains("kd_weight") && err.contains("[[loss]]"),
            "{err}"
        );
        let no_weights = SweepGrid {
            kd_weight: vec![],
            ..grid.clone()
        };
        assert!(expand(&with_terms, &no_weights, false).is_ok());
    }

    #[test]
    fn term_weights_are_checked_against_the_term_names() {
        let (experiment, grid) = example_sweep();
        let with_terms = with_loss_terms(&experiment);
        let no_weights = SweepGrid {
            kd_weight: vec![],
            ..grid.clone()
        };
        // Term weights by name instead of kd_weight: checked against the terms' names.
        let table = |pairs: &[(&str, f64)]| -> BTreeMap<String, f64> {
            pairs.iter().map(|(n, v)| (n.to_string(), *v)).collect()
        };
        for (weights, key) in [
            (
                vec![table(&[("kd", 0.5), ("hint", 1.0)])],
                "no loss term named `hint`",
            ),
            (vec![table(&[("kd", -1.0)])], "kd = -1"),
            (vec![BTreeMap::new()], "empty table"),
        ] {
            let bad = SweepGrid {
                weights,
                ..no_weights.clone()
            };
            let err = expand(&with_terms, &bad, false).unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
        let both = SweepGrid {
            weights: vec![table(&[("kd", 0.5)])],
            ..grid.clone()
        };
        let err = expand(&experiment, &both, false).unwrap_err().to_string();
        assert!(err.contains("keep one"), "{err}");
        let two = SweepGrid {
            weights: vec![table(&[("ce", 0.1), ("kd", 0.9)]), table(&[("kd", 0.5)])],
            ..no_weights.clone()
        };
        let specs = expand(&with_terms, &two, false).unwrap();
        let one = expand(&with_terms, &no_weights, false).unwrap();
        let hard = |s: &[RunSpec]| s.iter().filter(|r| r.method == Method::Hard).count();
        // Every distillation run twice, once per table; `hard` once.
        assert_eq!(specs.len() - hard(&specs), 2 * (one.len() - hard(&one)));
        assert_eq!(hard(&specs), hard(&one));
        let ids: std::collections::BTreeSet<_> = specs.iter().map(RunSpec::id).collect();
        assert_eq!(ids.len(), specs.len());
        assert!(
            specs
                .iter()
                .any(|s| s.setting.contains("ce = 0.1 kd = 0.9"))
        );
    }
}
