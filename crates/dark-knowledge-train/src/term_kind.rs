//! The method of one loss term ([`TermKind`]) with its settings, and what a feature term
//! reads ([`FeatureLayers`]).

use serde::{Deserialize, Serialize};

use crate::schedule::Schedule;

/// Which intermediate representation a feature term reads: the name the model gives it
/// ([`Features::names`](dark_knowledge_core::Features::names): `"hidden1"`, `"block2"`,
/// `"dense"` for the reference models) or its 0-based position in forward order.
///
/// In a file: `student_layer = "block2"` or `student_layer = 1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Layer {
    /// The 0-based position in forward order.
    Index(usize),
    /// The name the model gives the representation.
    Name(String),
}

impl From<usize> for Layer {
    fn from(index: usize) -> Self {
        Self::Index(index)
    }
}

impl From<&str> for Layer {
    fn from(name: &str) -> Self {
        Self::Name(name.to_owned())
    }
}

/// A term's choice of representation; `None` means the last one.
pub type LayerChoice = Option<Layer>;

/// What a feature term (`hint`, `attention`, `rkd`) reads: a student representation, a
/// teacher representation, and which teacher. In a file the keys stand in the term's table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureLayers {
    /// Student representation, by name or 0-based position; the last by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub student_layer: LayerChoice,
    /// Teacher representation; the last by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher_layer: LayerChoice,
    /// Which teacher (0-based, in declaration order) gives the features.
    #[serde(default)]
    pub teacher: usize,
}

impl FeatureLayers {
    /// The last representation of the student and of teacher 0.
    pub fn last() -> Self {
        Self::default()
    }

    /// The same choice with the student's representation `layer`.
    pub fn with_student_layer(mut self, layer: impl Into<Layer>) -> Self {
        self.student_layer = Some(layer.into());
        self
    }

    /// The same choice with the teacher's representation `layer`.
    pub fn with_teacher_layer(mut self, layer: impl Into<Layer>) -> Self {
        self.teacher_layer = Some(layer.into());
        self
    }
}

/// The method of one loss term and its own settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TermKind {
    /// Cross-entropy with the hard labels.
    Ce {},
    /// Soft-target KD (Hinton et al. 2015): `T² · KL(p_t(T) ‖ p_s(T))`.
    Kd {
        /// Softmax temperature `T > 0`.
        #[serde(default = "two")]
        temperature: f64,
        /// How `T` changes over the epochs.
        #[serde(default, skip_serializing_if = "Schedule::is_constant")]
        temperature_schedule: Schedule,
        /// KL over the teacher's top-k classes plus one bin for the rest.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        top_k: Option<usize>,
    },
    /// Decoupled KD (Zhao et al. 2022): `α · TCKD + β · NCKD`, both `T²`-scaled.
    Dkd {
        /// Softmax temperature `T > 0`.
        #[serde(default = "four")]
        temperature: f64,
        /// How `T` changes over the epochs.
        #[serde(default, skip_serializing_if = "Schedule::is_constant")]
        temperature_schedule: Schedule,
        /// Weight of the target-class term.
        #[serde(default = "one")]
        alpha: f64,
        /// Weight of the non-target-class term.
        #[serde(default = "eight")]
        beta: f64,
        /// The term is multiplied by `min(1, epoch / warmup_epochs)` (the paper's linear
        /// warm-up; 0 turns it off).
        #[serde(default = "twenty")]
        warmup_epochs: usize,
    },
    /// DIST (Huang et al. 2022): `β · inter-class + γ · intra-class` Pearson distances.
    Dist {
        /// Softmax temperature `τ > 0`.
        #[serde(default = "one")]
        tau: f64,
        /// How `τ` changes over the epochs.
        #[serde(default, skip_serializing_if = "Schedule::is_constant")]
        temperature_schedule: Schedule,
        /// Weight of the inter-class (per-sample) relation.
        #[serde(default = "one")]
        beta: f64,
        /// Weight of the intra-class (per-class) relation.
        #[serde(default = "one")]
        gamma: f64,
    },
    /// Logit-standardized KD (Sun et al. 2024): KD on z-scored logits.
    #[serde(alias = "logit_standardized_kd")]
    Lskd {
        /// Base temperature `T > 0`.
        #[serde(default = "two")]
        temperature: f64,
        /// How `T` changes over the epochs.
        #[serde(default, skip_serializing_if = "Schedule::is_constant")]
        temperature_schedule: Schedule,
    },
    /// Mean squared error between logits (Ba & Caruana 2014).
    MseLogits {},
    /// FitNets hint (Romero et al. 2015): a learned linear projection of a student hidden
    /// vector, MSE to the teacher's.
    Hint {
        /// The hidden vectors compared.
        #[serde(flatten)]
        layers: FeatureLayers,
    },
    /// Attention transfer (Zagoruyko & Komodakis 2017) between convolutional feature maps.
    Attention {
        /// Exponent of the attention map, `> 0`.
        #[serde(default = "two")]
        p: f64,
        /// The feature maps compared.
        #[serde(flatten)]
        layers: FeatureLayers,
    },
    /// Relational KD (Park et al. 2019): distance and angle relations of hidden vectors.
    Rkd {
        /// Weight of the distance relation.
        #[serde(default = "twenty_five")]
        distance_weight: f64,
        /// Weight of the angle relation.
        #[serde(default = "fifty")]
        angle_weight: f64,
        /// The hidden vectors compared.
        #[serde(flatten)]
        layers: FeatureLayers,
    },
}

impl TermKind {
    /// What a feature term reads; `None` for the logit terms.
    pub fn feature_layers(&self) -> Option<&FeatureLayers> {
        match self {
            TermKind::Hint { layers }
            | TermKind::Attention { layers, .. }
            | TermKind::Rkd { layers, .. } => Some(layers),
            _ => None,
        }
    }
}

pub(crate) fn one() -> f64 {
    1.0
}
fn two() -> f64 {
    2.0
}
fn four() -> f64 {
    4.0
}
fn eight() -> f64 {
    8.0
}
fn twenty() -> usize {
    20
}
fn twenty_five() -> f64 {
    25.0
}
fn fifty() -> f64 {
    50.0
}
