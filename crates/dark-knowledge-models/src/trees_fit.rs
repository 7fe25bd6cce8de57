//! Fitting a [`TreeEnsemble`]: histogram gradient boosting with log-loss (the `forust-ml`
//! crate), early stopping on the validation rows, converted into our own saved format so a
//! saved teacher does not depend on that crate's version.

use serde::{Deserialize, Serialize};

use crate::trees::{Booster, TREES_FORMAT_VERSION, Tree, TreeEnsemble, TreeNode};

/// The settings of a gradient-boosted tree teacher, as written in an experiment file:
/// `[teacher] model = { kind = "gbdt", learning_rate = 0.1, max_depth = 6 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GbdtConfig {
    /// Shrinkage of each tree, `(0, 1]`.
    pub learning_rate: f64,
    /// Depth of each tree, `1..=16`.
    pub max_depth: usize,
    /// Most trees per output, `1..=100000`; fewer when validation log-loss stops improving.
    pub max_trees: usize,
    /// Stop after this many trees without a better validation log-loss, `>= 1`.
    pub early_stopping_rounds: usize,
    /// L2 penalty on leaf values, `>= 0`.
    pub l2: f64,
    /// Smallest hessian sum in a leaf, `>= 0`.
    pub min_leaf_weight: f64,
    /// Histogram bins per feature, `2..=65535`.
    pub bins: usize,
    /// Fraction of rows each tree sees, `(0, 1]` (seeded).
    pub subsample: f64,
}

impl Default for GbdtConfig {
    fn default() -> Self {
        Self {
            learning_rate: 0.1,
            max_depth: 6,
            max_trees: 1000,
            early_stopping_rounds: 30,
            l2: 1.0,
            min_leaf_weight: 1.0,
            bins: 256,
            subsample: 1.0,
        }
    }
}

/// Encoded rows with their class labels, row-major.
#[derive(Debug, Clone, Copy)]
pub struct LabeledRows<'a> {
    /// `labels.len() × num_features` values.
    pub features: &'a [f32],
    /// A class index per row.
    pub labels: &'a [usize],
}

impl GbdtConfig {
    /// Checks every setting's range.
    ///
    /// # Errors
    /// A message naming the setting, its value and what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        let unit = |v: f64| v.is_finite() && v > 0.0 && v <= 1.0;
        let checks: [(bool, &str, String, &str); 8] = [
            (
                unit(self.learning_rate),
                "learning_rate",
                self.learning_rate.to_string(),
                "in (0, 1]",
            ),
            (
                (1..=16).contains(&self.max_depth),
                "max_depth",
                self.max_depth.to_string(),
                "1..=16",
            ),
            (
                (1..=100_000).contains(&self.max_trees),
                "max_trees",
                self.max_trees.to_string(),
                "1..=100000",
            ),
            (
                self.early_stopping_rounds >= 1,
                "early_stopping_rounds",
                self.early_stopping_rounds.to_string(),
                ">= 1",
            ),
            (
                self.l2.is_finite() && self.l2 >= 0.0,
                "l2",
                self.l2.to_string(),
                "finite and >= 0",
            ),
            (
                self.min_leaf_weight.is_finite() && self.min_leaf_weight >= 0.0,
                "min_leaf_weight",
                self.min_leaf_weight.to_string(),
                "finite and >= 0",
            ),
            (
                (2..=65_535).contains(&self.bins),
                "bins",
                self.bins.to_string(),
                "2..=65535",
            ),
            (
                unit(self.subsample),
                "subsample",
                self.subsample.to_string(),
                "in (0, 1]",
            ),
        ];
        match checks.into_iter().find(|c| !c.0) {
            None => Ok(()),
            Some((_, name, value, allowed)) => {
                Err(format!("gbdt {name} = {value}: expected {allowed}"))
            }
        }
    }

    /// Fits one booster per output (see [`TreeEnsemble`]) on `train`, each stopped early on
    /// `valid`'s log-loss, single-threaded so the same seed gives the same trees.
    ///
    /// # Errors
    /// Invalid settings; no rows; labels past `num_classes`; a class with no training row or
    /// only training rows (its log-odds would be infinite); non-finite features.
    pub fn fit(
        &self,
        train: LabeledRows<'_>,
        valid: LabeledRows<'_>,
        num_features: usize,
        num_classes: usize,
        seed: u64,
    ) -> Result<TreeEnsemble, String> {
        self.validate()?;
        check_rows("training", train, num_features, num_classes)?;
        check_rows("validation", valid, num_features, num_classes)?;
        let x_train = column_major(train.features, num_features);
        let x_valid = column_major(valid.features, num_features);
        let outputs = (0..TreeEnsemble::outputs_for(num_classes))
            .map(|o| {
                // Two classes: the log-odds of class 1; more: class `o` against the rest.
                let class = if num_classes == 2 { 1 } else { o };
                let target = |rows: LabeledRows<'_>| -> Vec<f64> {
                    rows.labels
                        .iter()
                        .map(|&l| f64::from(u8::from(l == class)))
                        .collect()
                };
                let (y_train, y_valid) = (target(train), target(valid));
                let positives = y_train.iter().filter(|&&y| y == 1.0).count();
                if positives == 0 || positives == y_train.len() {
                    return Err(format!(
                        "class {class} has {positives} of {} training rows: a tree teacher needs \
                         every class present and not alone in the training rows",
                        y_train.len()
                    ));
                }
                let fit =
                    || self.fit_booster(&x_train, &y_train, &x_valid, &y_valid, num_features, seed);
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(fit))
                    .map_err(|_| format!("the tree fitting failed on output {o}"))?
            })
            .collect::<Result<Vec<_>, String>>()?;
        let ensemble = TreeEnsemble {
            format_version: TREES_FORMAT_VERSION,
            num_features,
            num_classes,
            outputs,
        };
        ensemble.validate()?;
        Ok(ensemble)
    }

    fn fit_booster(
        &self,
        x_train: &[f64],
        y_train: &[f64],
        x_valid: &[f64],
        y_valid: &[f64],
        num_features: usize,
        seed: u64,
    ) -> Result<Booster, String> {
        let train = forust_ml::Matrix::new(x_train, y_train.len(), num_features);
        let valid = forust_ml::Matrix::new(x_valid, y_valid.len(), num_features);
        let (w_train, w_valid) = (vec![1.0; y_train.len()], vec![1.0; y_valid.len()]);
        let mut booster = self.booster(seed);
        booster
            .fit(
                &train,
                y_train,
                &w_train,
                Some(vec![(valid, y_valid, &w_valid)]),
            )
            .map_err(|e| format!("fitting the trees: {e}"))?;
        let kept = booster
            .prediction_iteration
            .unwrap_or(booster.trees.len())
            .min(booster.trees.len());
        Ok(Booster {
            base_score: booster.base_score,
            trees: booster.trees[..kept].iter().map(convert_tree).collect(),
        })
    }
}

impl GbdtConfig {
    /// The unfitted booster of these settings: log-loss, early stopping on the last
    /// evaluation set, single-threaded.
    pub(crate) fn booster(&self, seed: u64) -> forust_ml::GradientBooster {
        let sampling = if self.subsample < 1.0 {
            forust_ml::sampler::SampleMethod::Random
        } else {
            forust_ml::sampler::SampleMethod::None
        };
        forust_ml::GradientBooster::default()
            .set_iterations(self.max_trees)
            .set_learning_rate(self.learning_rate as f32)
            .set_max_depth(self.max_depth)
            .set_l2(self.l2 as f32)
            .set_min_leaf_weight(self.min_leaf_weight as f32)
            .set_nbins(self.bins as u16)
            .set_subsample(self.subsample as f32)
            .set_sample_method(sampling)
            .set_seed(seed)
            .set_parallel(false)
            .set_initialize_base_score(true)
            .set_evaluation_metric(Some(forust_ml::metric::Metric::LogLoss))
            .set_early_stopping_rounds(Some(self.early_stopping_rounds))
    }
}

fn check_rows(
    which: &str,
    rows: LabeledRows<'_>,
    num_features: usize,
    num_classes: usize,
) -> Result<(), String> {
    if rows.labels.is_empty() || rows.features.len() != rows.labels.len() * num_features {
        return Err(format!(
            "{which} rows: {} labels and {} values, expected at least one row of {num_features} features",
            rows.labels.len(),
            rows.features.len()
        ));
    }
    if let Some(l) = rows.labels.iter().find(|&&l| l >= num_classes) {
        return Err(format!("{which} rows: label {l}, expected < {num_classes}"));
    }
    if rows.features.iter().any(|v| !v.is_finite()) {
        return Err(format!("{which} rows: a feature is NaN or infinite"));
    }
    Ok(())
}

fn column_major(rows: &[f32], num_features: usize) -> Vec<f64> {
    let n = rows.len() / num_features.max(1);
    let mut out = Vec::with_capacity(rows.len());
    for j in 0..num_features {
        out.extend((0..n).map(|i| f64::from(rows[i * num_features + j])));
    }
    out
}

/// Our node list from forust's: node `num`s are indices into its node vector.
fn convert_tree(tree: &forust_ml::tree::Tree) -> Tree {
    let nodes = tree
        .nodes
        .iter()
        .map(|n| {
            if n.is_leaf {
                TreeNode::Leaf {
                    value: f64::from(n.weight_value),
                }
            } else {
                TreeNode::Split {
                    feature: n.split_feature,
                    threshold: n.split_value,
                    left: n.left_child,
                    right: n.right_child,
                    missing: n.missing_node,
                }
            }
        })
        .collect();
    Tree { nodes }
}
