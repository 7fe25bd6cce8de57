//! The contract between the trainer and a model: a burn module that maps a batch to logits.

use burn::module::{Module, ModuleDisplay};
use burn::tensor::Tensor;

/// A burn [`Module`] that maps a batch of inputs to class logits: every student, and every
/// teacher that is a burn network.
///
/// Inputs are rows of features, `[batch_size, num_features]`; image models reshape them
/// to their image shape inside `logits` (the reference CNN takes 28×28 images as 784
/// values), so one dataset type serves tabular and image data.
pub trait Classifier: Module + ModuleDisplay {
    /// Class logits (unnormalised log-probabilities).
    ///
    /// # Shapes
    /// - `inputs`: `[batch_size, num_features]`
    /// - output: `[batch_size, num_classes]`
    fn logits(&self, inputs: Tensor<2>) -> Tensor<2>;

    /// The number of classes the model predicts.
    fn num_classes(&self) -> usize;

    /// The number of input features per row the model expects.
    fn num_features(&self) -> usize;

    /// One forward pass returning the logits together with the model's intermediate
    /// representations, for feature-based loss terms (hints, attention transfer, RKD).
    ///
    /// The logits must equal [`logits`](Self::logits) on the same inputs. Models that expose
    /// no hidden features keep the default (logits only, no hidden vectors, no maps);
    /// feature-based loss terms then report that the model exposes none.
    ///
    /// # Shapes
    /// - `inputs`: `[batch_size, num_features]`
    fn forward_features(&self, inputs: Tensor<2>) -> Features {
        Features::logits_only(self.logits(inputs))
    }
}

/// One forward pass with the model's intermediate representations, each under the name the
/// model gives it.
///
/// Feature terms select a representation by that name (`student_layer = "block2"`) or by
/// its position in forward order; never by a module path.
#[derive(Debug, Clone)]
pub struct Features {
    /// Class logits `[n, classes]`.
    pub logits: Tensor<2>,
    /// Hidden vectors in forward order, each `[n, d_i]`; the last is the penultimate layer.
    pub hidden: Vec<Tensor<2>>,
    /// Convolutional feature maps in forward order, each `[n, c_i, h_i, w_i]`.
    pub maps: Vec<Tensor<4>>,
    /// The names of `hidden` and `maps`, in the same order.
    pub names: FeatureNames,
}

/// The names a model gives its intermediate representations, in forward order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeatureNames {
    /// One name per hidden vector (e.g. `hidden1`, `dense`).
    pub hidden: Vec<String>,
    /// One name per feature map (e.g. `block1`).
    pub maps: Vec<String>,
}

impl Features {
    /// Logits only: no hidden vectors, no maps.
    pub fn logits_only(logits: Tensor<2>) -> Self {
        Self {
            logits,
            hidden: Vec::new(),
            maps: Vec::new(),
            names: FeatureNames::default(),
        }
    }

    /// The same features, each tensor detached from the autodiff graph.
    pub fn detach(self) -> Self {
        Self {
            logits: self.logits.detach(),
            hidden: self.hidden.into_iter().map(Tensor::detach).collect(),
            maps: self.maps.into_iter().map(Tensor::detach).collect(),
            names: self.names,
        }
    }
}
