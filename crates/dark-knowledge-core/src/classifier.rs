//! The contract between the trainer and a model: a burn module that maps a batch to logits.

use burn::module::Module;
use burn::tensor::Tensor;

/// A burn [`Module`] that maps a batch of inputs to class logits: every student, and every
/// teacher that is a burn network.
///
/// Inputs are rows of features, `[batch_size, num_features]`; image models reshape them
/// to their image shape inside `logits` (the reference CNN takes 28×28 images as 784
/// values), so one dataset type serves tabular and image data.
pub trait Classifier: Module {
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
}
