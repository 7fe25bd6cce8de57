//! A small convolutional network for 28×28 single-channel images (MNIST, Fashion-MNIST).

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor, activation::relu};
use dark_knowledge_core::error as dk;
use dark_knowledge_core::{Classifier, FeatureNames, Features};

use crate::check::{check_dropout, check_num_classes, invalid};

/// Settings of a [`Cnn`]:
/// `conv3×3(c1) → ReLU → maxpool2 → conv3×3(c2) → ReLU → maxpool2 → dense(hidden) → ReLU →
/// dropout → dense(classes)`, for square single-channel images whose side is divisible by 4.
#[derive(Config, Debug, PartialEq)]
pub struct CnnConfig {
    /// Number of classes.
    pub num_classes: usize,
    /// Image side in pixels (images are `side × side`, one channel, given as rows of
    /// `side²` values).
    #[config(default = 28)]
    pub image_side: usize,
    /// Channels of the first convolution.
    #[config(default = 16)]
    pub channels_1: usize,
    /// Channels of the second convolution.
    #[config(default = 32)]
    pub channels_2: usize,
    /// Width of the dense hidden layer.
    #[config(default = 128)]
    pub hidden_size: usize,
    /// Dropout probability before the output layer, in `[0, 1)`.
    #[config(default = 0.25)]
    pub dropout: f64,
}

impl CnnConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`dk::Error::InvalidValue`] for a zero size, a side not divisible by 4 or a dropout outside
    /// `[0, 1)`.
    pub fn validate(&self) -> dk::Result<()> {
        check_num_classes(self.num_classes)?;
        if self.image_side == 0 || !self.image_side.is_multiple_of(4) {
            return invalid(
                "image_side",
                self.image_side.to_string(),
                "a positive multiple of 4",
            );
        }
        for (name, v) in [
            ("channels_1", self.channels_1),
            ("channels_2", self.channels_2),
            ("hidden_size", self.hidden_size),
        ] {
            if v == 0 {
                return invalid(name, "0".into(), "an integer >= 1");
            }
        }
        check_dropout(self.dropout)
    }

    /// Checks the settings and builds the network on `device`.
    ///
    /// # Errors
    /// As [`validate`](Self::validate).
    pub fn try_init(&self, device: &Device) -> dk::Result<Cnn> {
        self.validate()?;
        let quarter = self.image_side / 4;
        Ok(Cnn {
            conv1: Conv2dConfig::new([1, self.channels_1], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .init(device),
            conv2: Conv2dConfig::new([self.channels_1, self.channels_2], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .init(device),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            dense: LinearConfig::new(self.channels_2 * quarter * quarter, self.hidden_size)
                .init(device),
            output: LinearConfig::new(self.hidden_size, self.num_classes).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            num_classes: self.num_classes,
            image_side: self.image_side,
        })
    }

    init_or_panic!(Cnn);
}

/// A small CNN classifier; see [`CnnConfig`].
#[derive(Module, Debug)]
pub struct Cnn {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
    dense: Linear,
    output: Linear,
    dropout: Dropout,
    #[module(skip)]
    num_classes: usize,
    #[module(skip)]
    image_side: usize,
}

impl Cnn {
    /// The number of input features per row the model reads.
    pub fn num_features(&self) -> usize {
        self.image_side * self.image_side
    }

    /// Class logits.
    ///
    /// # Shapes
    /// - `inputs`: `[batch_size, image_side²]` (row-major pixels)
    /// - output: `[batch_size, num_classes]`
    pub fn forward(&self, inputs: Tensor<2>) -> Tensor<2> {
        self.output.forward(self.features(inputs))
    }

    /// The dense hidden layer's activations (after ReLU and dropout).
    ///
    /// # Shapes
    /// - `inputs`: `[batch_size, image_side²]`
    /// - output: `[batch_size, hidden_size]`
    pub fn features(&self, inputs: Tensor<2>) -> Tensor<2> {
        self.trunk(inputs, |_| {})
    }

    /// Everything but the output layer, handing the output of each convolutional block
    /// (after ReLU and pooling) to `keep` in order; returns the dense layer's activations.
    /// The one code path of [`forward`](Self::forward) and `forward_features`.
    fn trunk(&self, inputs: Tensor<2>, mut keep: impl FnMut(&Tensor<4>)) -> Tensor<2> {
        let [batch_size, _] = inputs.dims();
        let side = self.image_side;
        let x = inputs.reshape([batch_size, 1, side, side]);
        let x = self.pool.forward(relu(self.conv1.forward(x)));
        keep(&x);
        let x = self.pool.forward(relu(self.conv2.forward(x)));
        keep(&x);
        let x: Tensor<2> = x.flatten(1, 3);
        self.dropout.forward(relu(self.dense.forward(x)))
    }
}

impl Classifier for Cnn {
    type Input = Tensor<2>;

    fn logits(&self, inputs: Tensor<2>) -> Tensor<2> {
        self.forward(inputs)
    }

    fn num_features(&self) -> Option<usize> {
        Some(self.image_side * self.image_side)
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// Maps: the output of each convolutional block after ReLU and pooling,
    /// `[n, channels_1, side/2, side/2]` then `[n, channels_2, side/4, side/4]`; hidden: the
    /// dense layer's activations after ReLU and dropout, `[n, hidden_size]`. Named `block1`,
    /// `block2` (maps) and `dense` (hidden).
    fn forward_features(&self, inputs: Tensor<2>) -> Features {
        let mut maps = Vec::with_capacity(2);
        let dense = self.trunk(inputs, |x| maps.push(x.clone()));
        Features {
            logits: self.output.forward(dense.clone()),
            hidden: vec![dense],
            maps,
            sequences: vec![],
            names: FeatureNames {
                hidden: vec!["dense".into()],
                maps: vec!["block1".into(), "block2".into()],
                sequences: vec![],
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use dark_knowledge_core::tensor_util::to_vec_f32;

    use super::*;

    #[test]
    fn maps_flattened_images_to_logits() {
        let device = Device::flex();
        let cnn = CnnConfig::new(10).init(&device);
        let out = cnn.forward(Tensor::zeros([2, 784], &device));
        assert_eq!(out.dims(), [2, 10]);
        assert_eq!(
            cnn.features(Tensor::zeros([2, 784], &device)).dims(),
            [2, 128]
        );
    }

    #[test]
    fn forward_features_gives_both_blocks_the_dense_layer_and_the_same_logits() {
        let device = Device::flex();
        device.seed(5);
        let cnn = CnnConfig::new(10)
            .with_channels_1(4)
            .with_channels_2(6)
            .with_hidden_size(12)
            .init(&device);
        let x = Tensor::<2>::random([3, 784], burn::tensor::Distribution::Default, &device);
        let features = cnn.forward_features(x.clone());
        let maps: Vec<_> = features.maps.iter().map(|m| m.dims()).collect();
        assert_eq!(maps, vec![[3, 4, 14, 14], [3, 6, 7, 7]]);
        let hidden: Vec<_> = features.hidden.iter().map(|h| h.dims()).collect();
        assert_eq!(hidden, vec![[3, 12]]);
        assert_eq!(features.names.maps, ["block1", "block2"]);
        assert_eq!(features.names.hidden, ["dense"]);
        assert_eq!(
            to_vec_f32(features.logits),
            to_vec_f32(cnn.forward(x)),
            "logits must be bit-identical"
        );
    }

    #[test]
    fn rejects_sides_not_divisible_by_four() {
        let err = CnnConfig::new(10)
            .with_image_side(30)
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("image_side"), "{err}");
    }
}
