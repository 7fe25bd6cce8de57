//! Which training labels a run keeps, and the transfer set the others make.

use crate::error::{Context, Result};
use dark_knowledge_data::{Dataset, LabelBudget, stratified_labeled};
use serde::{Deserialize, Serialize};

use super::RunSpec;

/// Which training labels a run keeps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Labels {
    /// Every training label.
    All,
    /// This many per class (stratified, seeded with the run's seed).
    PerClass(usize),
    /// This fraction of each class.
    Fraction(f64),
}

impl Labels {
    fn budget(self) -> Option<LabelBudget> {
        match self {
            Self::All => None,
            Self::PerClass(n) => Some(LabelBudget::PerClass(n)),
            Self::Fraction(f) => Some(LabelBudget::Fraction(f)),
        }
    }

    /// A short description: `all labels`, `60 labels per class`, `10% of labels`.
    pub fn describe(self) -> String {
        match self {
            Self::All => "all labels".into(),
            Self::PerClass(n) => format!("{n} labels per class"),
            Self::Fraction(f) => format!("{}% of labels", f * 100.0),
        }
    }
}

/// The positions (sorted) of the training rows whose labels a run keeps.
///
/// The budget is drawn, stratified and seeded, from the rows that have a label; rows that
/// have none in the data are never kept as labelled. Host-side only: no dataset is built.
///
/// # Errors
/// A budget that does not fit the labelled rows (a class with fewer rows than asked).
fn kept_positions(train: &Dataset, labels: Labels, seed: u64) -> Result<Vec<usize>> {
    let have = train.labeled_positions();
    Ok(match labels.budget() {
        None => have,
        Some(budget) => {
            let classes: Vec<usize> = have.iter().map(|&p| train.labels_host()[p]).collect();
            stratified_labeled(&classes, budget, seed)?
                .into_iter()
                .map(|i| have[i])
                .collect()
        }
    })
}

/// The labelled rows a run keeps and, when some training rows have no label (hidden by the
/// budget, or without one in the data), every training row with only the kept labels: the
/// transfer set. The kept rows are [`kept_positions`].
///
/// # Errors
/// A budget that does not fit the labelled rows (a class with fewer rows than asked).
pub fn split_labels(
    train: &Dataset,
    labels: Labels,
    seed: u64,
) -> Result<(Dataset, Option<Dataset>)> {
    let keep = kept_positions(train, labels, seed)?;
    if keep.len() == train.len() {
        return Ok((train.clone(), None));
    }
    let mut kept = vec![false; train.len()];
    keep.iter().for_each(|&p| kept[p] = true);
    let hide: Vec<usize> = (0..train.len()).filter(|&p| !kept[p]).collect();
    Ok((train.subset(&keep)?, Some(train.hide_labels(&hide)?)))
}

/// Checks every label budget of `specs` against the training rows, before anything trains
/// (on the host: the datasets themselves are built by each run).
///
/// # Errors
/// The first budget that does not fit, naming it.
pub fn check_budgets(train: &Dataset, specs: &[RunSpec]) -> Result<()> {
    let mut seen = Vec::new();
    for spec in specs {
        if !seen.contains(&(spec.labels, spec.seed)) {
            kept_positions(train, spec.labels, spec.seed)
                .with_context(|| format!("{} (seed {})", spec.labels.describe(), spec.seed))?;
            seen.push((spec.labels, spec.seed));
        }
    }
    Ok(())
}
