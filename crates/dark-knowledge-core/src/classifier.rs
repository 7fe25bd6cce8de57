//! The contract between the trainer and a model: a burn module that maps a batch to logits.

use burn::module::{Module, ModuleDisplay};
use burn::tensor::Tensor;

use crate::input::ModelInput;

/// A burn [`Module`] that maps a batch of inputs to class logits: every student, and every
/// teacher that is a burn network.
///
/// The input is the model's own type ([`Input`](Self::Input)): float rows
/// `[batch_size, num_features]` for tables (the reference MLP, and the reference CNN, which
/// reads 28×28 images as 784 values), images `Tensor<4>`, token ids `Tensor<2, Int>`, or a
/// struct of the user's (see [`ModelInput`]). The trainer, the teachers and the losses only
/// ever see the logits and [`Features`], so any input works with every loss term.
///
/// ```
/// use burn::module::Module;
/// use burn::nn::{Linear, LinearConfig};
/// use burn::tensor::{Device, Tensor};
/// use dark_knowledge_core::Classifier;
///
/// #[derive(Module, Debug)]
/// struct ImageStudent {
///     head: Linear,
/// }
///
/// impl Classifier for ImageStudent {
///     type Input = Tensor<4>; // [batch, channels, height, width]
///
///     fn logits(&self, images: Tensor<4>) -> Tensor<2> {
///         self.head.forward(images.flatten(1, 3))
///     }
///
///     fn num_classes(&self) -> usize {
///         self.head.weight.dims()[1]
///     }
/// }
///
/// let device = Device::flex();
/// let model = ImageStudent { head: LinearConfig::new(28 * 28, 10).init(&device) };
/// let logits = model.logits(Tensor::zeros([3, 1, 28, 28], &device));
/// assert_eq!(logits.dims(), [3, 10]);
/// ```
pub trait Classifier: Module + ModuleDisplay {
    /// What the model reads for one batch.
    type Input: ModelInput;

    /// Class logits (unnormalised log-probabilities).
    ///
    /// # Shapes
    /// - output: `[batch_size, num_classes]`
    fn logits(&self, inputs: Self::Input) -> Tensor<2>;

    /// The number of classes the model predicts.
    fn num_classes(&self) -> usize;

    /// The number of input features per row, for models reading float rows; `None` (the
    /// default) for other inputs. When given, the trainer checks the data against it.
    fn num_features(&self) -> Option<usize> {
        None
    }

    /// One forward pass returning the logits together with the model's intermediate
    /// representations, for feature-based loss terms (hints, attention transfer, RKD).
    ///
    /// The logits must equal [`logits`](Self::logits) on the same inputs. Models that expose
    /// no hidden features keep the default (logits only, no hidden vectors, no maps);
    /// feature-based loss terms then report that the model exposes none.
    ///
    fn forward_features(&self, inputs: Self::Input) -> Features {
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
    /// Sequence states in forward order, each `[n, seq, d_i]` (e.g. a text encoder's
    /// per-token outputs); for per-token losses see [`crate::loss::flatten_tokens`].
    pub sequences: Vec<Tensor<3>>,
    /// The names of `hidden`, `maps` and `sequences`, in the same order.
    pub names: FeatureNames,
}

/// The names a model gives its intermediate representations, in forward order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeatureNames {
    /// One name per hidden vector (e.g. `hidden1`, `dense`).
    pub hidden: Vec<String>,
    /// One name per feature map (e.g. `block1`).
    pub maps: Vec<String>,
    /// One name per sequence state (e.g. `encoder`).
    pub sequences: Vec<String>,
}

impl Features {
    /// Logits only: no hidden vectors, no maps.
    pub fn logits_only(logits: Tensor<2>) -> Self {
        Self {
            logits,
            hidden: Vec::new(),
            maps: Vec::new(),
            sequences: Vec::new(),
            names: FeatureNames::default(),
        }
    }

    /// The same features, each tensor detached from the autodiff graph.
    pub fn detach(self) -> Self {
        Self {
            logits: self.logits.detach(),
            hidden: self.hidden.into_iter().map(Tensor::detach).collect(),
            maps: self.maps.into_iter().map(Tensor::detach).collect(),
            sequences: self.sequences.into_iter().map(Tensor::detach).collect(),
            names: self.names,
        }
    }
}
