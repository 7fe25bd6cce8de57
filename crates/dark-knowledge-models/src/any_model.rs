//! [`AnyModel`]: one of the reference models, chosen at run time from a
//! [`ModelSpec`](crate::ModelSpec).

use burn::module::Module;
use burn::tensor::Tensor;
use dark_knowledge_core::{Classifier, Features};

use crate::{Cnn, Mlp, ModelEnsemble, TreeModel};

/// One of the reference models, chosen at run time from a [`ModelSpec`].
// A model is built a few times per run, never in a hot collection: the size difference
// between variants costs nothing, and burn's `Module` derive does not see through `Box`.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum AnyModel {
    /// A multi-layer perceptron.
    Mlp(Mlp),
    /// A small CNN.
    Cnn(Cnn),
    /// Boosted trees (a teacher).
    Trees(TreeModel),
    /// A deep ensemble of networks.
    Ensemble(ModelEnsemble),
}

impl AnyModel {
    /// The number of input features per row the model reads.
    pub fn num_features(&self) -> usize {
        match self {
            Self::Mlp(m) => m.num_features(),
            Self::Cnn(m) => m.num_features(),
            Self::Trees(m) => m.num_features(),
            Self::Ensemble(m) => m.num_features(),
        }
    }
}

impl Classifier for AnyModel {
    type Input = Tensor<2>;

    fn logits(&self, inputs: Tensor<2>) -> Tensor<2> {
        match self {
            Self::Mlp(m) => m.forward(inputs),
            Self::Cnn(m) => m.forward(inputs),
            Self::Trees(m) => m.logits(inputs),
            Self::Ensemble(m) => m.logits(inputs),
        }
    }

    fn num_classes(&self) -> usize {
        match self {
            Self::Mlp(m) => m.num_classes(),
            Self::Cnn(m) => m.num_classes(),
            Self::Trees(m) => m.num_classes(),
            Self::Ensemble(m) => m.num_classes(),
        }
    }

    fn num_features(&self) -> Option<usize> {
        Some(AnyModel::num_features(self))
    }

    fn forward_features(&self, inputs: Tensor<2>) -> Features {
        match self {
            Self::Mlp(m) => m.forward_features(inputs),
            Self::Cnn(m) => m.forward_features(inputs),
            Self::Trees(m) => m.forward_features(inputs),
            Self::Ensemble(m) => m.forward_features(inputs),
        }
    }
}
