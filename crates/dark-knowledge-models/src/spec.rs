//! Models described as data (for experiment files and saved runs) and built at run time.

use burn::tensor::Device;
use dark_knowledge_core::error as dk;
use serde::{Deserialize, Serialize};

use crate::{AnyModel, CnnConfig, GbdtConfig, MlpConfig, ModelEnsemble};

/// A reference architecture, as written in an experiment file:
/// `{ kind = "mlp", hidden_sizes = [256, 256], dropout = 0.2 }`, `{ kind = "cnn" }`,
/// `{ kind = "gbdt", max_depth = 6 }` (boosted trees, a teacher only) or
/// `{ kind = "ensemble", members = 5, model = { kind = "mlp", hidden_sizes = [512] } }`.
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
    /// Gradient-boosted decision trees (a teacher: fitted, not trained by gradients); see
    /// [`GbdtConfig`].
    Gbdt(GbdtConfig),
    /// A deep ensemble (Lakshminarayanan et al. 2017): `members` copies of `model` trained
    /// from different seeds, their probabilities averaged; see [`ModelEnsemble`].
    Ensemble {
        /// Number of members, `2..=32`.
        members: usize,
        /// The members' architecture (an MLP or a CNN).
        model: Box<ModelSpec>,
    },
    /// Fit every candidate and keep the one with the lowest validation log-loss (a teacher
    /// only; `[teacher] model = "auto"` takes [`ModelSpec::auto_candidates`]). The run saves
    /// the chosen candidate's own spec, never `auto`.
    Auto {
        /// The candidates, 1 to 8 of them, none `auto`.
        #[serde(default = "ModelSpec::auto_candidates")]
        candidates: Vec<ModelSpec>,
    },
}

/// The most members a deep ensemble may have.
pub const MAX_ENSEMBLE_MEMBERS: usize = 32;

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
    /// The candidates of `model = "auto"`: boosted trees with default settings, a logistic
    /// regression (an MLP without hidden layer: some tables are linear), an MLP 512-512
    /// (dropout 0.3) and a deep ensemble of five MLPs 256-256 (dropout 0.3).
    pub fn auto_candidates() -> Vec<ModelSpec> {
        vec![
            Self::Gbdt(GbdtConfig::default()),
            Self::mlp(vec![], 0.0),
            Self::mlp(vec![512, 512], 0.3),
            Self::Ensemble {
                members: 5,
                model: Box::new(Self::mlp(vec![256, 256], 0.3)),
            },
        ]
    }

    /// `auto` with [`Self::auto_candidates`].
    pub fn auto() -> Self {
        Self::Auto {
            candidates: Self::auto_candidates(),
        }
    }

    /// A short name of the kind: `mlp`, `cnn`, `gbdt`, `ensemble` or `auto`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Mlp { .. } => "mlp",
            Self::Cnn { .. } => "cnn",
            Self::Gbdt(_) => "gbdt",
            Self::Ensemble { .. } => "ensemble",
            Self::Auto { .. } => "auto",
        }
    }

    /// Whether this kind can only be a teacher (trees, auto) or is meant as one (ensemble).
    pub fn is_teacher_only(&self) -> bool {
        matches!(
            self,
            Self::Gbdt(_) | Self::Ensemble { .. } | Self::Auto { .. }
        )
    }

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
            Self::Gbdt(_) | Self::Auto { .. } => Err(dk::Error::InvalidValue {
                name: "model kind",
                value: self.kind().into(),
                allowed: "a network kind (mlp, cnn, ensemble): boosted trees are fitted from data \
                          (GbdtConfig::fit) and auto picks among fitted candidates, neither is \
                          built with initial weights",
            }),
            Self::Ensemble { members, model } => {
                self.validate()?;
                let members = (0..*members)
                    .map(|_| model.build(num_features, num_classes, device))
                    .collect::<dk::Result<Vec<_>>>()?;
                Ok(AnyModel::Ensemble(ModelEnsemble::new(members)))
            }
        }
    }

    /// Whether the model is fitted as boosted trees rather than trained by gradients.
    pub fn is_trees(&self) -> bool {
        matches!(self, Self::Gbdt(_))
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
            Self::Gbdt(config) => config.validate().map_err(|e| dk::Error::InvalidValue {
                name: "gbdt settings",
                value: e,
                allowed: "the ranges documented on GbdtConfig",
            }),
            Self::Ensemble { members, model } => {
                if !(2..=MAX_ENSEMBLE_MEMBERS).contains(members) {
                    return Err(dk::Error::InvalidValue {
                        name: "ensemble members",
                        value: members.to_string(),
                        allowed: "2..=32",
                    });
                }
                if model.is_teacher_only() {
                    return Err(dk::Error::InvalidValue {
                        name: "ensemble member model",
                        value: format!("{model:?}"),
                        allowed: "an mlp or a cnn",
                    });
                }
                model.validate()
            }
            Self::Auto { candidates } => {
                if candidates.is_empty()
                    || candidates.len() > 8
                    || candidates.iter().any(|c| matches!(c, Self::Auto { .. }))
                {
                    return Err(dk::Error::InvalidValue {
                        name: "auto candidates",
                        value: format!("{} candidate(s)", candidates.len()),
                        allowed: "1 to 8 candidates, none of them auto",
                    });
                }
                candidates.iter().try_for_each(Self::validate)
            }
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
            // Trees have no weights to count; their size is their node count.
            Self::Gbdt(_) => Some(0),
            Self::Ensemble { members, model } => model
                .num_parameters(num_features, num_classes)?
                .checked_mul(*members),
            Self::Auto { .. } => None,
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
            Self::Gbdt(_) => format!("GBDT {num_features}-{num_classes}"),
            Self::Ensemble { members, model } => format!(
                "ensemble of {members} x {}",
                model.describe(num_features, num_classes)
            ),
            Self::Auto { candidates } => format!(
                "auto among {}",
                candidates
                    .iter()
                    .map(|c| c.describe(num_features, num_classes))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
