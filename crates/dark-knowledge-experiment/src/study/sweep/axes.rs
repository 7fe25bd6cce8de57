//! The axes of a sweep grid, each checked: the loss weights, the labels, the temperatures,
//! the student sizes, and the tolerance of the pick of student sizes.

use std::collections::BTreeMap;

use crate::bail;
use crate::error::Result;
use crate::experiment::Experiment;
use crate::study::Labels;
use dark_knowledge_models::ModelSpec;
use dark_knowledge_train::TrainerConfig;

use super::SweepGrid;

/// The term-weight tables of the grid, checked against the loss's term names (`ce` and
/// `kd` for the classic loss); `[None]` when the grid sets none.
pub(super) fn term_weight_axis(
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
pub(super) fn label_axis(grid: &SweepGrid) -> Result<Vec<Labels>> {
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
pub(super) fn temperature_axis(base: &TrainerConfig, grid: &SweepGrid) -> Result<(Vec<f64>, bool)> {
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

/// The student hidden sizes of the grid, checked (MLP students only; `[]` is a linear
/// student, an MLP with no hidden layer); `[None]`, the experiment's student, when the grid
/// sets none.
pub(super) fn hidden_axis(
    experiment: &Experiment,
    grid: &SweepGrid,
) -> Result<Vec<Option<Vec<usize>>>> {
    if grid.student_hidden.is_empty() {
        return Ok(vec![None]);
    }
    if !matches!(experiment.student.model, ModelSpec::Mlp { .. }) {
        bail!("[sweep] student_hidden varies MLP students; the experiment's student is not an MLP");
    }
    for h in &grid.student_hidden {
        crate::ensure!(
            h.iter().all(|&v| v > 0),
            "[sweep] student_hidden {h:?}: allowed: sizes >= 1, or [] for a linear student \
             (no hidden layer: a logistic regression)"
        );
    }
    Ok(grid.student_hidden.iter().cloned().map(Some).collect())
}

pub(super) fn or<T: Copy>(list: &[T], default: T) -> Vec<T> {
    if list.is_empty() {
        vec![default]
    } else {
        list.to_vec()
    }
}

/// The tolerance of the pick of student sizes, checked: finite and >= 0;
/// [`DEFAULT_TOLERANCE`](crate::study::sizes::DEFAULT_TOLERANCE) when absent.
pub(super) fn tolerance(grid: &SweepGrid) -> Result<f64> {
    let t = grid
        .tolerance
        .unwrap_or(crate::study::sizes::DEFAULT_TOLERANCE);
    crate::ensure!(
        t.is_finite() && t >= 0.0,
        "[sweep] tolerance {t}: allowed: a number >= 0 (how far below the best mean metric \
         the smallest student picked may be)"
    );
    Ok(t)
}
