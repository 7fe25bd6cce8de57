//! Models described as data (for experiment files and saved runs) and built at run time.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use dark_knowledge_core::error as dk;
use dark_knowledge_core::{Classifier, Features};
use serde::{Deserialize, Serialize};

use crate::{Cnn, CnnConfig, Mlp, MlpConfig};

/// A reference architecture, as written in an experiment file:
/// `{ kind = "mlp", hidden_sizes = [256, 256], dropout = 0.2 }` or `{ kind = "cnn" }`.
/// Input and class counts come from the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ModelSpec {
    /// A multi-layer perceptron; see [`MlpConfig`].
    Mlp {
        /// Hidden layer widths.
        hidden_sizes: Vec<usize>,
        /// Dropout after each hidden layer.
        #[serde(default)]
        dropout: f64,
    },
    /// The small CNN for square single-channel images; see [`CnnConfig`].
    Cnn {
        /// Channels of the first convolution.
        #[serde(default = "c1")]
        channels_1: usize,
        /// Channels of the second convolution.
        #[serde(default = "c2")]
        channels_2: usize,
        /// Width of the dense layer.
        #[serde(default = "hidden")]
        hidden_size: usize,
        /// Dropout before the output layer.
        #[serde(default = "cnn_dropout")]
        dropout: f64,
    },
}

fn c1() -> usize {
    16
}
fn c2() -> usize {
    32
}
fn hidden() -> usize {
    128
}
fn cnn_dropout() -> f64 {
    0.25
}

impl ModelSpec {
    /// An MLP spec.
    pub fn mlp(hidden_sizes: Vec<usize>, dropout: f64) -> Self {
        Self::Mlp {
            hidden_sizes,
            dropout,
        }
    }

    /// Builds the model for `num_features` inputs and `num_classes` classes on `device`
    /// (parameters from the device's random generator).
    ///
    /// # Errors
    /// [`dk::Error::InvalidValue`] for invalid sizes, or for a CNN whose input count is not
    /// the square of a multiple of 4.
    pub fn build(
        &self,
        num_features: usize,
        num_classes: usize,
        device: &Device,
    ) -> dk::Result<AnyModel> {
        match self {
            Self::Mlp {
                hidden_sizes,
                dropout,
            } => Ok(AnyModel::Mlp(
                MlpConfig::new(num_features, hidden_sizes.clone(), num_classes)
                    .with_dropout(*dropout)
                    .try_init(device)?,
            )),
            Self::Cnn {
                channels_1,
                channels_2,
                hidden_size,
                dropout,
            } => {
                let side = (num_features as f64).sqrt().round() as usize;
                if side * side != num_features {
                    return Err(dk::Error::InvalidValue {
                        name: "cnn input features",
                        value: num_features.to_string(),
                        allowed: "a square image, side x side pixels (e.g. 784 = 28 x 28)",
                    });
                }
                Ok(AnyModel::Cnn(
                    CnnConfig::new(num_classes)
                        .with_image_side(side)
                        .with_channels_1(*channels_1)
                        .with_channels_2(*channels_2)
                        .with_hidden_size(*hidden_size)
                        .with_dropout(*dropout)
                        .try_init(device)?,
                ))
            }
        }
    }

    /// Checks the settings that do not depend on the data (widths, channels, dropout), as
    /// [`Self::build`] would, without building anything.
    ///
    /// # Errors
    /// [`dk::Error::InvalidValue`] naming the setting and what is allowed.
    pub fn validate(&self) -> dk::Result<()> {
        match self {
            Self::Mlp {
                hidden_sizes,
                dropout,
            } => MlpConfig::new(1, hidden_sizes.clone(), 2)
                .with_dropout(*dropout)
                .validate(),
            Self::Cnn {
                channels_1,
                channels_2,
                hidden_size,
                dropout,
            } => CnnConfig::new(2)
                .with_channels_1(*channels_1)
                .with_channels_2(*channels_2)
                .with_hidden_size(*hidden_size)
                .with_dropout(*dropout)
                .validate(),
        }
    }

    /// The number of parameters of the model [`Self::build`] makes for `num_features` inputs
    /// and `num_classes` classes, without building it; `None` when it does not fit a `usize`
    /// (a description no weights file can match). A CNN's input side is taken as
    /// `round(sqrt(num_features))`, as `build` does.
    pub fn num_parameters(&self, num_features: usize, num_classes: usize) -> Option<usize> {
        // A dense layer: weights and bias.
        let dense = |inputs: usize, outputs: usize| inputs.checked_add(1)?.checked_mul(outputs);
        match self {
            Self::Mlp { hidden_sizes, .. } => {
                let mut widths = vec![num_features];
                widths.extend(hidden_sizes);
                widths.push(num_classes);
                widths
                    .windows(2)
                    .try_fold(0usize, |sum, w| sum.checked_add(dense(w[0], w[1])?))
            }
            Self::Cnn {
                channels_1,
                channels_2,
                hidden_size,
                ..
            } => {
                let quarter = ((num_features as f64).sqrt().round() as usize) / 4;
                let flat = channels_2.checked_mul(quarter)?.checked_mul(quarter)?;
                // 3x3 convolutions with bias: 9 weights per input channel.
                [
                    dense(9, *channels_1)?,
                    dense(channels_1.checked_mul(9)?, *channels_2)?,
                    dense(flat, *hidden_size)?,
                    dense(*hidden_size, num_classes)?,
                ]
                .into_iter()
                .try_fold(0usize, usize::checked_add)
            }
        }
    }

    /// A short description such as `MLP 19-256-256-2` or `CNN 28x28 16-32-128-10`.
    pub fn describe(&self, num_features: usize, num_classes: usize) -> String {
        match self {
            Self::Mlp { hidden_sizes, .. } => {
                let mut widths = vec![num_features.to_string()];
                widths.extend(hidden_sizes.iter().map(|w| w.to_string()));
                widths.push(num_classes.to_string());
                format!("MLP {}", widths.join("-"))
            }
            Self::Cnn {
                channels_1,
                channels_2,
                hidden_size,
                ..
            } => {
                let side = (num_features as f64).sqrt().round() as usize;
                format!("CNN {side}x{side} {channels_1}-{channels_2}-{hidden_size}-{num_classes}")
            }
        }
    }
}

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
}

impl AnyModel {
    /// The number of input features per row the model reads.
    pub fn num_features(&self) -> usize {
        match self {
            Self::Mlp(m) => m.num_features(),
            Self::Cnn(m) => m.num_features(),
        }
    }
}

impl Classifier for AnyModel {
    type Input = Tensor<2>;

    fn logits(&self, inputs: Tensor<2>) -> Tensor<2> {
        match self {
            Self::Mlp(m) => m.forward(inputs),
            Self::Cnn(m) => m.forward(inputs),
        }
    }

    fn num_classes(&self) -> usize {
        match self {
            Self::Mlp(m) => m.num_classes(),
            Self::Cnn(m) => m.num_classes(),
        }
    }

    fn num_features(&self) -> Option<usize> {
        Some(AnyModel::num_features(self))
    }

    fn forward_features(&self, inputs: Tensor<2>) -> Features {
        match self {
            Self::Mlp(m) => m.forward_features(inputs),
            Self::Cnn(m) => m.forward_features(inputs),
        }
    }
}

#[cfg(test)]
mod tests {
    use dark_knowledge_core::tensor_util::to_vec_f32;
    use dark_knowledge_core::{FrozenTeacher, Teacher, TeacherBatch};

    use super::*;

    /// A CNN spec with 2 and 3 channels and a dense layer of 5, for 28×28 images and 4
    /// classes, built on `device`.
    fn small_cnn(dropout: f64, device: &Device) -> AnyModel {
        ModelSpec::Cnn {
            channels_1: 2,
            channels_2: 3,
            hidden_size: 5,
            dropout,
        }
        .build(784, 4, device)
        .unwrap()
    }

    #[test]
    fn specs_build_the_described_models_and_reject_bad_shapes() {
        let device = Device::flex();
        let spec: ModelSpec =
            serde_json::from_str(r#"{"kind": "mlp", "hidden_sizes": [8, 4]}"#).unwrap();
        let model = spec.build(5, 3, &device).unwrap();
        assert_eq!(model.num_params(), 5 * 8 + 8 + 8 * 4 + 4 + 4 * 3 + 3);
        assert_eq!(spec.describe(5, 3), "MLP 5-8-4-3");
        let cnn: ModelSpec = serde_json::from_str(r#"{"kind": "cnn"}"#).unwrap();
        assert_eq!(cnn.build(784, 10, &device).unwrap().num_features(), 784);
        let err = cnn.build(19, 2, &device).unwrap_err().to_string();
        assert!(err.contains("square image"), "{err}");
        let err =
            serde_json::from_str::<ModelSpec>(r#"{"kind": "mlp", "hidden_sizes": [], "width": 3}"#)
                .unwrap_err()
                .to_string();
        assert!(err.contains("width"), "{err}");
    }

    #[test]
    fn the_parameter_count_without_building_is_the_built_models() {
        let device = Device::flex();
        let specs = [
            ModelSpec::mlp(vec![], 0.0),
            ModelSpec::mlp(vec![7], 0.1),
            ModelSpec::mlp(vec![9, 3, 5], 0.0),
        ];
        for spec in &specs {
            for (features, classes) in [(1, 2), (5, 3), (19, 7)] {
                let built = spec.build(features, classes, &device).unwrap().num_params();
                assert_eq!(
                    spec.num_parameters(features, classes),
                    Some(built),
                    "{spec:?}"
                );
            }
        }
        for (c1, c2, hidden) in [(16, 32, 128), (2, 3, 5), (1, 1, 1)] {
            let cnn = ModelSpec::Cnn {
                channels_1: c1,
                channels_2: c2,
                hidden_size: hidden,
                dropout: 0.0,
            };
            let built = cnn.build(784, 4, &device).unwrap().num_params();
            assert_eq!(cnn.num_parameters(784, 4), Some(built), "{cnn:?}");
        }
        let huge = ModelSpec::mlp(vec![usize::MAX / 2, usize::MAX / 2], 0.0);
        assert_eq!(huge.num_parameters(5, 3), None);
    }

    #[test]
    fn any_model_delegates_forward_features() {
        let device = Device::flex();
        let cnn = small_cnn(0.0, &device);
        let features = cnn.forward_features(Tensor::ones([2, 784], &device));
        assert_eq!(features.maps.len(), 2);
        assert_eq!(features.hidden[0].dims(), [2, 5]);
        let mlp = ModelSpec::mlp(vec![8, 4], 0.0)
            .build(5, 3, &device)
            .unwrap();
        let features = mlp.forward_features(Tensor::ones([2, 5], &device));
        assert_eq!(features.hidden.len(), 2);
        assert_eq!(features.logits.dims(), [2, 3]);
    }

    #[test]
    fn a_frozen_teacher_gives_features_without_gradient_tracking() {
        // Built on the autodiff device, as a teacher fresh from training would be.
        let device = Device::flex().autodiff();
        device.seed(2);
        let model = small_cnn(0.5, &device);
        let teacher = FrozenTeacher::new(model);
        let inputs = Tensor::<2>::ones([2, 784], &device);
        let batch = TeacherBatch {
            inputs: &inputs,
            rows: &[0, 1],
        };
        let features = teacher.features(batch).unwrap();
        assert_eq!(features.maps.len(), 2);
        assert_eq!(features.hidden.len(), 1);
        let untracked = |t: (bool, bool, bool)| t == (false, false, false);
        let state2 = |t: &Tensor<2>| (t.is_tracked(), t.is_require_grad(), t.is_autodiff());
        let state4 = |t: &Tensor<4>| (t.is_tracked(), t.is_require_grad(), t.is_autodiff());
        assert!(untracked(state2(&features.logits)));
        assert!(features.hidden.iter().all(|h| untracked(state2(h))));
        assert!(features.maps.iter().all(|m| untracked(state4(m))));
        let logits = teacher.logits(batch).unwrap();
        assert_eq!(to_vec_f32(features.logits), to_vec_f32(logits));
    }
}
