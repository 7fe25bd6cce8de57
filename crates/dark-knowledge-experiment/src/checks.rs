//! What is checked before the first epoch, so that a run that cannot be evaluated is refused
//! before any model trains, with a message naming the setting and what is allowed.
//!
//! - **Settings, before any data is read** ([`check_data_settings`], part of
//!   [`Experiment::validate`](crate::Experiment::validate)): `max_train_rows` and
//!   `max_test_rows` `>= 1`; `valid_fraction` in `(0, 1)`; for CSV data `test_fraction` in
//!   `(0, 1)` and `valid_fraction + test_fraction < 1`; `labeled_per_class >= 1`;
//!   `labeled_fraction` in `(0, 1]`; `synthetic` only for tabular data (churn, CSV), with valid settings
//!   ([`SynthesizerConfig::validate`](dark_knowledge_data::SynthesizerConfig::validate)).
//! - **Data, once read and split** ([`check_prepared`], at the end of
//!   [`prepare`](crate::prepare::prepare)): a `positive` label only on a binary target;
//!   labelled training rows of at least two classes; a non-empty validation split; a
//!   non-empty test split; for a binary target (ROC-AUC and PR-AUC) rows of both classes
//!   in the test split.
//! - **The run folder, before it is written** (in [`Workflow::new`](crate::Workflow::new)):
//!   the output path is a folder (or can be made one), and no other command writes it (the
//!   lock, [`RunDir::lock`](crate::run::RunDir::lock)).

use crate::error::Result;
use crate::experiment::{DataConfig, DataSource};
use crate::prepare::Prepared;
use dark_knowledge_data::Dataset;

/// Checks the `[data]` numbers that need no data: row limits, split fractions, label
/// budgets.
///
/// # Errors
/// The first value out of range, naming its key and what is allowed.
pub fn check_data_settings(d: &DataConfig) -> Result<()> {
    for (key, flag, value) in [
        ("max_train_rows", " (--max-train-rows)", d.max_train_rows),
        ("max_test_rows", "", d.max_test_rows),
    ] {
        crate::ensure!(
            value != Some(0),
            "[data] {key} = 0{flag}: allowed: an integer >= 1, or leave it out to use every row"
        );
    }
    let open_unit = |v: f64| v.is_finite() && v > 0.0 && v < 1.0;
    crate::ensure!(
        open_unit(d.valid_fraction),
        "[data] valid_fraction = {}: allowed: a fraction > 0 and < 1 (the validation split \
         picks each model's best epoch)",
        d.valid_fraction
    );
    if d.source == DataSource::FashionMnist {
        // Not used (the test split is the test file) but still written back to the run's
        // experiment.toml, so it must be a number.
        crate::ensure!(
            d.test_fraction.is_finite() && (0.0..1.0).contains(&d.test_fraction),
            "[data] test_fraction = {}: allowed: a fraction >= 0 and < 1 (Fashion-MNIST's \
             test split is its test file; the value is not used)",
            d.test_fraction
        );
    } else {
        crate::ensure!(
            open_unit(d.test_fraction),
            "[data] test_fraction = {}: allowed: a fraction > 0 and < 1 (the test split is \
             what `evaluate` measures)",
            d.test_fraction
        );
        // Both are finite here.
        let sum = d.valid_fraction + d.test_fraction;
        if sum >= 1.0 {
            crate::bail!(
                "[data] valid_fraction + test_fraction = {sum}: allowed: a sum < 1 (the rest \
                 of the rows are the training split)"
            );
        }
    }
    crate::ensure!(
        d.labeled_per_class != Some(0),
        "[data] labeled_per_class = 0: allowed: an integer >= 1"
    );
    if let Some(f) = d.labeled_fraction {
        crate::ensure!(
            f.is_finite() && f > 0.0 && f <= 1.0,
            "[data] labeled_fraction = {f}: allowed: a fraction > 0 and <= 1"
        );
    }
    if let Some(synthetic) = &d.synthetic {
        crate::ensure!(
            d.source != DataSource::FashionMnist,
            "[data] synthetic: allowed only for tabular data (source = \"churn\" or \"csv\"); \
             Fashion-MNIST images cannot be made by MUNGE or Gibbs resampling: remove `synthetic`"
        );
        synthetic.validate()?;
    }
    Ok(())
}

/// Rows per class among the labelled rows of `data`.
fn class_counts(data: &Dataset, num_classes: usize) -> Vec<usize> {
    let mut counts = vec![0; num_classes];
    for p in data.labeled_positions() {
        if let Some(c) = counts.get_mut(data.labels_host()[p]) {
            *c += 1;
        }
    }
    counts
}

/// `"a": 3, "b": 0` — the classes with their counts, for messages.
fn describe_counts(names: &[String], counts: &[usize]) -> String {
    names
        .iter()
        .zip(counts)
        .map(|(n, c)| format!("{n:?}: {c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks that `data` can be trained on and evaluated as `config` asks: see the module
/// documentation.
///
/// # Errors
/// The first problem found, naming the setting or split and what is allowed.
pub fn check_prepared(data: &Prepared, config: &DataConfig) -> Result<()> {
    let names = &data.class_names;
    if let Some(positive) = &config.positive {
        crate::ensure!(
            names.len() == 2,
            "[data] positive = {positive:?} (--positive): the target {:?} has {} classes ({}); \
             a positive class is for a binary target only: allowed: leave `positive` out for \
             this target, or use a target with two classes",
            config.target.as_deref().unwrap_or_default(),
            names.len(),
            names
                .iter()
                .map(|n| format!("{n:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let labeled = data.labeled_train.as_ref().unwrap_or(&data.train);
    let train = class_counts(labeled, names.len());
    crate::ensure!(
        train.iter().filter(|&&c| c > 0).count() >= 2,
        "the training split has labelled rows of one class only ({}): a classifier needs \
         rows of at least two classes to learn from; allowed: data with at least two classes \
         among the training rows (add rows, raise max_train_rows or labeled_per_class)",
        describe_counts(names, &train)
    );
    crate::ensure!(
        !data.valid.is_empty(),
        "the validation split has no rows: allowed: at least one (raise [data] valid_fraction, \
         now {}, or add rows)",
        config.valid_fraction
    );
    crate::ensure!(
        !data.test.is_empty(),
        "the test split has no rows: allowed: at least one (raise [data] test_fraction, now \
         {}, or add rows)",
        config.test_fraction
    );
    if let Some(pos) = data.positive_class {
        check_both_classes_in_test(data, config, pos)?;
    }
    Ok(())
}

/// A binary target's ROC-AUC and PR-AUC are measured on the test split: it needs rows of
/// the positive class and of the other one.
fn check_both_classes_in_test(data: &Prepared, config: &DataConfig, pos: usize) -> Result<()> {
    let names = &data.class_names;
    let test = class_counts(&data.test, names.len());
    let Some(missing) = test.iter().position(|&c| c == 0) else {
        return Ok(());
    };
    let all = class_counts(&data.all, names.len());
    let role = if missing == pos {
        "positive class"
    } else {
        "negative class"
    };
    let limit = match config.max_test_rows {
        Some(n) => format!(", raise or remove max_test_rows (now {n})"),
        None => String::new(),
    };
    crate::bail!(
        "the test split has no row of the {role} {:?} (test split: {}; every row: {}): ROC-AUC \
         and PR-AUC of a binary target are measured on the test split and need rows of both \
         classes; allowed: at least one row of each class in the test split (add rows of {:?}, \
         raise [data] test_fraction, now {}{limit})",
        names[missing],
        describe_counts(names, &test),
        describe_counts(names, &all),
        names[missing],
        config.test_fraction,
    )
}
