//! A multi-layer perceptron: the reference teacher and student for tabular data and
//! flattened images.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor, activation::relu};
use dark_knowledge_core::error as dk;
use dark_knowledge_core::{Classifier, FeatureNames, Features};

use crate::check::{check_dropout, check_num_classes, invalid};

/// Settings of an [`Mlp`]: `input → hidden… → classes`, ReLU and dropout after each hidden
/// layer.
#[derive(Config, Debug, PartialEq)]
pub struct MlpConfig {
    /// Number of input features.
    pub input_size: usize,
    /// Width of each hidden layer, in order; empty gives a linear (softmax-regression) model.
    pub hidden_sizes: Vec<usize>,
    /// Number of classes (output logits).
    pub num_classes: usize,
    /// Dropout probability after each hidden layer, in `[0, 1)`.
    #[config(default = 0.0)]
    pub dropout: f64,
}

impl MlpConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`dk::Error::InvalidValue`] for a zero size or a dropout outside `[0, 1)`.
    pub fn validate(&self) -> dk::Result<()> {
        if self.input_size == 0 {
            return invalid("input_size", "0".into(), "an integer >= 1");
        }
        check_num_classes(self.num_classes)?;
        if let Some(w) = self.hidden_sizes.iter().find(|&&w| w == 0) {
            return invalid(
                "hidden_sizes",
                format!("a layer of width {w}"),
                "widths >= 1",
            );
        }
        check_dropout(self.dropout)
    }

    /// Checks the settings and builds the network on `device`.
    ///
    /// Parameters are drawn from the device's random generator: call `device.seed(n)` first
    /// for a reproducible initialisation.
    ///
    /// # Errors
    /// As [`validate`](Self::validate).
    pub fn try_init(&self, device: &Device) -> dk::Result<Mlp> {
        self.validate()?;
        let mut widths = vec![self.input_size];
        widths.extend(&self.hidden_sizes);
        let hidden = widths
            .windows(2)
            .map(|w| LinearConfig::new(w[0], w[1]).init(device))
            .collect();
        let last = *widths.last().expect("widths starts with input_size");
        Ok(Mlp {
            num_features: self.input_size,
            num_classes: self.num_classes,
            hidden,
            output: LinearConfig::new(last, self.num_classes).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
        })
    }

    init_or_panic!(Mlp);
}

/// A multi-layer perceptron classifier; see [`MlpConfig`].
#[derive(Module, Debug)]
pub struct Mlp {
    hidden: Vec<Linear>,
    output: Linear,
    dropout: Dropout,
    #[module(skip)]
    num_classes: usize,
    #[module(skip)]
    num_features: usize,
}

impl Mlp {
    /// The number of input features per row the model reads.
    pub fn num_features(&self) -> usize {
        self.num_features
    }

    /// Class logits.
    ///
    /// # Shapes
    /// - `inputs`: `[batch_size, input_size]`
    /// - output: `[batch_size, num_classes]`
    pub fn forward(&self, inputs: Tensor<2>) -> Tensor<2> {
        self.output.forward(self.features(inputs))
    }

    /// The activations of the last hidden layer (after ReLU and dropout), or the inputs for a
    /// network without hidden layers.
    ///
    /// # Shapes
    /// - `inputs`: `[batch_size, input_size]`
    /// - output: `[batch_size, last_hidden_size]`
    pub fn features(&self, inputs: Tensor<2>) -> Tensor<2> {
        self.hidden_layers(inputs, |_| {})
    }

    /// Runs the hidden layers (each `ReLU` then dropout), handing each layer's output to
    /// `keep` in order; returns the last one (the inputs when there is no hidden layer).
    /// The one code path of [`forward`](Self::forward) and `forward_features`.
    fn hidden_layers(&self, inputs: Tensor<2>, mut keep: impl FnMut(&Tensor<2>)) -> Tensor<2> {
        self.hidden.iter().fold(inputs, |x, layer| {
            let x = self.dropout.forward(relu(layer.forward(x)));
            keep(&x);
            x
        })
    }
}

impl Mlp {
    /// The linear layers in order, the output layer last.
    pub fn linears(&self) -> impl Iterator<Item = &Linear> {
        self.hidden.iter().chain(std::iter::once(&self.output))
    }
}

impl Classifier for Mlp {
    type Input = Tensor<2>;

    fn logits(&self, inputs: Tensor<2>) -> Tensor<2> {
        self.forward(inputs)
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn num_features(&self) -> Option<usize> {
        Some(self.num_features)
    }

    /// Hidden vectors: each hidden layer's output after ReLU and dropout, in order, named
    /// `hidden1`, `hidden2`, … (none for a network without hidden layers); no maps.
    fn forward_features(&self, inputs: Tensor<2>) -> Features {
        let mut hidden = Vec::with_capacity(self.hidden.len());
        let last = self.hidden_layers(inputs, |x| hidden.push(x.clone()));
        let names = FeatureNames {
            hidden: (1..=hidden.len()).map(|i| format!("hidden{i}")).collect(),
            maps: Vec::new(),
            sequences: Vec::new(),
        };
        Features {
            logits: self.output.forward(last),
            hidden,
            maps: vec![],
            sequences: vec![],
            names,
        }
    }
}

#[cfg(test)]
mod tests {
    use dark_knowledge_core::tensor_util::to_vec_f32;

    use super::*;

    #[test]
    fn shapes_and_parameter_count() {
        let device = Device::flex();
        let mlp = MlpConfig::new(784, vec![64], 10).init(&device);
        assert_eq!(mlp.num_params(), 784 * 64 + 64 + 64 * 10 + 10);
        let out = mlp.forward(Tensor::zeros([3, 784], &device));
        assert_eq!(out.dims(), [3, 10]);
    }

    #[test]
    fn forward_features_gives_each_hidden_layer_and_the_same_logits() {
        let device = Device::flex();
        device.seed(11);
        let mlp = MlpConfig::new(5, vec![8, 4], 3)
            .with_dropout(0.3)
            .init(&device);
        let x = Tensor::<2>::random([6, 5], burn::tensor::Distribution::Default, &device);
        let features = mlp.forward_features(x.clone());
        let dims: Vec<_> = features.hidden.iter().map(|h| h.dims()).collect();
        assert_eq!(dims, vec![[6, 8], [6, 4]]);
        assert_eq!(features.names.hidden, ["hidden1", "hidden2"]);
        assert!(features.maps.is_empty() && features.names.maps.is_empty());
        let logits = to_vec_f32(mlp.forward(x.clone()));
        assert_eq!(
            to_vec_f32(features.logits),
            logits,
            "logits must be bit-identical"
        );
        assert_eq!(
            to_vec_f32(features.hidden[1].clone()),
            to_vec_f32(mlp.features(x.clone()))
        );

        // On the autodiff device too (dropout 0: with dropout active the masks are random,
        // and reseeding the device does not reproduce them from call to call).
        let device = Device::flex().autodiff();
        let mlp = MlpConfig::new(5, vec![8, 4], 3).init(&device);
        let x = x.autodiff();
        let logits = to_vec_f32(mlp.forward(x.clone()));
        let features = mlp.forward_features(x);
        assert_eq!(
            to_vec_f32(features.logits),
            logits,
            "autodiff: bit-identical"
        );

        let linear = MlpConfig::new(5, vec![], 3).init(&device);
        let features = linear.forward_features(Tensor::zeros([2, 5], &device));
        assert!(features.hidden.is_empty());
        assert_eq!(features.logits.dims(), [2, 3]);
    }

    #[test]
    fn invalid_settings_are_errors() {
        let device = Device::flex();
        let err = MlpConfig::new(4, vec![8], 3)
            .with_dropout(1.0)
            .try_init(&device)
            .unwrap_err()
            .to_string();
        assert!(err.contains("dropout"), "{err}");
        assert!(MlpConfig::new(4, vec![0], 3).try_init(&device).is_err());
        assert!(MlpConfig::new(4, vec![8], 1).try_init(&device).is_err());
    }

    #[test]
    fn dropout_is_active_only_when_training_on_an_autodiff_device() {
        let device = Device::flex().autodiff();
        device.seed(3);
        let mlp = MlpConfig::new(16, vec![256], 4)
            .with_dropout(0.5)
            .init(&device);
        let x = Tensor::<2>::ones([2, 16], &device);
        let a = mlp.forward(x.clone());
        let b = mlp.forward(x.clone());
        assert!(
            (a - b).abs().sum().into_scalar::<f32>() > 0.0,
            "dropout should be random in training"
        );
        let frozen = mlp.valid();
        let x = x.without_autodiff();
        let a = frozen.forward(x.clone());
        let b = frozen.forward(x);
        assert_eq!(
            (a - b).abs().sum().into_scalar::<f32>(),
            0.0,
            "no dropout after valid()"
        );
    }
}
