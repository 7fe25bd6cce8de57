//! A deep ensemble (Lakshminarayanan, Pritzel & Blundell 2017, "Simple and scalable predictive
//! uncertainty estimation using deep ensembles"): networks of one architecture trained from
//! different seeds, their class probabilities averaged.

use burn::module::Module;
use burn::tensor::Tensor;
use burn::tensor::activation::log_softmax;
use dark_knowledge_core::Classifier;

use crate::AnyModel;

/// Members whose probabilities are averaged. Its logits are the log of the mean
/// probabilities, computed in log-space:
/// `logit_c = logsumexp_k(log_softmax(z_k)_c) − ln K`, so `softmax(logits)` is
/// `(1/K) Σ_k softmax(z_k)` exactly, also for confident members.
#[derive(Module, Debug)]
pub struct ModelEnsemble {
    members: Vec<AnyModel>,
}

impl ModelEnsemble {
    /// The ensemble of `members` (at least one, all with the same inputs and classes).
    ///
    /// # Panics
    /// If `members` is empty.
    pub fn new(members: Vec<AnyModel>) -> Self {
        assert!(!members.is_empty(), "an ensemble needs a member");
        Self { members }
    }

    /// The members.
    pub fn members(&self) -> &[AnyModel] {
        &self.members
    }

    /// Input features per row.
    pub fn num_features(&self) -> usize {
        self.members[0].num_features()
    }
}

impl Classifier for ModelEnsemble {
    type Input = Tensor<2>;

    fn logits(&self, inputs: Tensor<2>) -> Tensor<2> {
        let k = self.members.len();
        // [batch, classes, members] of log-probabilities.
        let logp: Vec<Tensor<3>> = self
            .members
            .iter()
            .map(|m| log_softmax(m.logits(inputs.clone()), 1).unsqueeze_dim(2))
            .collect();
        let stacked = Tensor::cat(logp, 2);
        let max = stacked.clone().max_dim(2);
        let sum = (stacked - max.clone()).exp().sum_dim(2);
        (max + sum.log()).squeeze_dim::<2>(2) - (k as f64).ln()
    }

    fn num_classes(&self) -> usize {
        self.members[0].num_classes()
    }

    fn num_features(&self) -> Option<usize> {
        Some(ModelEnsemble::num_features(self))
    }
}
