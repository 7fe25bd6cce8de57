//! Gradient-boosted decision trees as a teacher: the fitted ensemble ([`TreeEnsemble`], saved
//! as `trees.json`), scored on the host, and the burn module around it ([`TreeModel`]) so a
//! tree teacher goes wherever a network teacher goes (distillation, caches, `predict`).
//!
//! A binary ensemble holds one booster whose score `f` is the log-odds of class 1; its logits
//! are `[0, f]`, so `softmax` gives back `sigmoid(f)`. With `K > 2` classes it holds one
//! one-vs-rest booster per class and the logits are `log sigmoid(f_k)`: their softmax is
//! `sigmoid(f_k) / Σ_j sigmoid(f_j)`, the one-vs-rest probabilities normalised.

use std::sync::Arc;

use burn::module::{
    Content, Devices, Module, ModuleDisplay, ModuleDisplayDefault, ModuleMapper, ModuleVisitor,
};
use burn::tensor::{Device, Tensor, TensorData};
use dark_knowledge_core::Classifier;
use dark_knowledge_core::tensor_util::to_vec_f32;
use serde::{Deserialize, Serialize};

/// Version written into every saved ensemble; loading refuses others.
pub const TREES_FORMAT_VERSION: u32 = 1;

/// One node of a tree: a split on one feature, or a leaf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TreeNode {
    /// Rows with `x[feature] < threshold` go to `left`, the others to `right`, a missing
    /// (NaN) value to `missing`. Children come after their parent in the node list.
    Split {
        /// The feature's index in the encoded row.
        feature: usize,
        /// The split value.
        threshold: f64,
        /// Node index for values below the threshold.
        left: usize,
        /// Node index for values at or above it.
        right: usize,
        /// Node index for a NaN value.
        missing: usize,
    },
    /// A leaf's additive score.
    Leaf {
        /// Its value.
        value: f64,
    },
}

/// One regression tree; node 0 is the root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tree {
    /// The nodes, parents before children.
    pub nodes: Vec<TreeNode>,
}

impl Tree {
    /// The tree's score for one row (which must have been checked by [`TreeEnsemble::validate`]).
    fn score(&self, row: &[f32]) -> f64 {
        let mut at = 0;
        loop {
            match &self.nodes[at] {
                TreeNode::Leaf { value } => return *value,
                TreeNode::Split {
                    feature,
                    threshold,
                    left,
                    right,
                    missing,
                } => {
                    let x = f64::from(row[*feature]);
                    at = if x.is_nan() {
                        *missing
                    } else if x < *threshold {
                        *left
                    } else {
                        *right
                    };
                }
            }
        }
    }
}

/// The trees of one output score, added to a base score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Booster {
    /// The score before any tree (the log-odds of the training rows' class frequency).
    pub base_score: f64,
    /// The trees, in boosting order.
    pub trees: Vec<Tree>,
}

impl Booster {
    fn score(&self, row: &[f32]) -> f64 {
        self.trees
            .iter()
            .fold(self.base_score, |sum, tree| sum + tree.score(row))
    }
}

/// A fitted gradient-boosted tree ensemble over encoded rows (`trees.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreeEnsemble {
    /// [`TREES_FORMAT_VERSION`].
    pub format_version: u32,
    /// Input features per row.
    pub num_features: usize,
    /// Classes (at least 2).
    pub num_classes: usize,
    /// One booster for two classes (the log-odds of class 1), one per class otherwise.
    pub outputs: Vec<Booster>,
}

impl TreeEnsemble {
    /// The number of boosters a `num_classes`-class ensemble has.
    pub fn outputs_for(num_classes: usize) -> usize {
        if num_classes == 2 { 1 } else { num_classes }
    }

    /// The number of trees over all outputs.
    pub fn num_trees(&self) -> usize {
        self.outputs.iter().map(|b| b.trees.len()).sum()
    }

    /// The number of nodes over all trees.
    pub fn num_nodes(&self) -> usize {
        self.outputs
            .iter()
            .flat_map(|b| &b.trees)
            .map(|t| t.nodes.len())
            .sum()
    }

    /// A short description such as `GBDT 71-2 (120 trees, 1,822 nodes)`.
    pub fn describe(&self) -> String {
        format!(
            "GBDT {}-{} ({} trees, {} nodes)",
            self.num_features,
            self.num_classes,
            self.num_trees(),
            self.num_nodes()
        )
    }

    /// Checks what scoring relies on: the version, `num_classes >= 2` with the matching
    /// number of boosters, every tree non-empty with children after their parent and inside
    /// the tree, features below `num_features`, no NaN threshold, finite leaves and bases.
    ///
    /// # Errors
    /// A message naming the first problem (output, tree and node).
    pub fn validate(&self) -> Result<(), String> {
        if self.format_version != TREES_FORMAT_VERSION {
            return Err(format!(
                "format_version {} (this release reads {TREES_FORMAT_VERSION})",
                self.format_version
            ));
        }
        if self.num_classes < 2 || self.outputs.len() != Self::outputs_for(self.num_classes) {
            return Err(format!(
                "{} classes need {} booster(s), found {}",
                self.num_classes,
                Self::outputs_for(self.num_classes.max(2)),
                self.outputs.len()
            ));
        }
        for (o, booster) in self.outputs.iter().enumerate() {
            if !booster.base_score.is_finite() {
                return Err(format!("output {o}: base_score is not finite"));
            }
            for (t, tree) in booster.trees.iter().enumerate() {
                self.validate_tree(tree)
                    .map_err(|e| format!("output {o}, tree {t}: {e}"))?;
            }
        }
        Ok(())
    }

    fn validate_tree(&self, tree: &Tree) -> Result<(), String> {
        let len = tree.nodes.len();
        if len == 0 {
            return Err("no nodes".into());
        }
        for (i, node) in tree.nodes.iter().enumerate() {
            match node {
                TreeNode::Leaf { value } if !value.is_finite() => {
                    return Err(format!("node {i}: leaf value is not finite"));
                }
                TreeNode::Leaf { .. } => {}
                TreeNode::Split {
                    feature,
                    threshold,
                    left,
                    right,
                    missing,
                } => {
                    if *feature >= self.num_features {
                        return Err(format!(
                            "node {i}: feature {feature}, the rows have {}",
                            self.num_features
                        ));
                    }
                    if threshold.is_nan() {
                        return Err(format!("node {i}: threshold is NaN"));
                    }
                    if [left, right, missing].iter().any(|&&c| c <= i || c >= len) {
                        return Err(format!(
                            "node {i}: children {left}, {right}, {missing} must come after it and \
                             inside the tree's {len} nodes"
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The logits of `rows.len() / num_features` rows (row-major), row-major
    /// `[rows, num_classes]`.
    ///
    /// # Panics
    /// If `rows.len()` is not a multiple of `num_features`, or the ensemble was not
    /// validated.
    pub fn logits_host(&self, rows: &[f32]) -> Vec<f32> {
        let f = self.num_features.max(1);
        assert_eq!(rows.len() % f, 0, "rows of {f} features");
        let mut out = Vec::with_capacity(rows.len() / f * self.num_classes);
        for row in rows.chunks_exact(f) {
            if self.num_classes == 2 {
                out.push(0.0);
                out.push(self.outputs[0].score(row) as f32);
            } else {
                out.extend(
                    self.outputs
                        .iter()
                        .map(|b| log_sigmoid(b.score(row)) as f32),
                );
            }
        }
        out
    }
}

/// `ln(sigmoid(x))` without overflow: `min(x, 0) - ln(1 + e^-|x|)`.
fn log_sigmoid(x: f64) -> f64 {
    x.min(0.0) - (-x.abs()).exp().ln_1p()
}

/// A [`TreeEnsemble`] as a burn module: no parameters (trees are fitted, not trained by
/// gradients), logits computed on the host from the inputs and put back on their device.
#[derive(Debug, Clone)]
pub struct TreeModel {
    ensemble: Arc<TreeEnsemble>,
}

impl TreeModel {
    /// Wraps a validated ensemble.
    ///
    /// # Errors
    /// The problem [`TreeEnsemble::validate`] finds.
    pub fn new(ensemble: TreeEnsemble) -> Result<Self, String> {
        ensemble.validate()?;
        Ok(Self {
            ensemble: Arc::new(ensemble),
        })
    }

    /// The ensemble.
    pub fn ensemble(&self) -> &TreeEnsemble {
        &self.ensemble
    }

    /// Input features per row.
    pub fn num_features(&self) -> usize {
        self.ensemble.num_features
    }
}

impl Classifier for TreeModel {
    type Input = Tensor<2>;

    fn logits(&self, inputs: Tensor<2>) -> Tensor<2> {
        let device = inputs.device();
        let [rows, features] = inputs.dims();
        assert_eq!(
            features, self.ensemble.num_features,
            "a tree model of {} features given rows of {features}",
            self.ensemble.num_features
        );
        let host = to_vec_f32(inputs);
        let logits = self.ensemble.logits_host(&host);
        Tensor::from_data(
            TensorData::new(logits, [rows, self.ensemble.num_classes]),
            &device,
        )
    }

    fn num_classes(&self) -> usize {
        self.ensemble.num_classes
    }

    fn num_features(&self) -> Option<usize> {
        Some(self.ensemble.num_features)
    }
}

// A module without parameters, as burn's own constant types are (`burn::module` `empty!`).
impl Module for TreeModel {
    fn visit<V: ModuleVisitor>(&self, _visitor: &mut V) {}

    fn map<M: ModuleMapper>(self, _mapper: &mut M) -> Self {
        self
    }

    fn to_device(self, _: &Device) -> Self {
        self
    }

    fn fork(self, _: &Device) -> Self {
        self
    }

    fn collect_devices(&self, devices: Devices) -> Devices {
        devices
    }

    fn materialize(self) -> Self {
        self
    }

    fn valid(&self) -> Self {
        self.clone()
    }

    fn train(self) -> Self {
        self
    }
}

impl ModuleDisplayDefault for TreeModel {
    fn content(&self, content: Content) -> Option<Content> {
        content.add_formatted(&self.ensemble.describe()).optional()
    }
}

impl ModuleDisplay for TreeModel {}

#[cfg(test)]
#[path = "trees_tests.rs"]
mod tests;
