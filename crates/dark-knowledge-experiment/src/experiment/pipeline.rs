//! How a student is distilled beyond one teacher: further teachers of an ensemble
//! (`[[teachers]]`) and the pipelines (`[pipeline]`: assistant, born-again, mutual).

use dark_knowledge_models::ModelSpec;
use dark_knowledge_train::{MutualConfig, TrainerConfig};
use serde::{Deserialize, Serialize};

use super::one;

/// A further teacher of an ensemble; saved as the run's `teacher-<name>` model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraTeacher {
    /// Letters, digits, `-` and `_`.
    pub name: String,
    /// Its architecture.
    pub model: ModelSpec,
    /// Its relative weight in the ensemble, `>= 0`.
    #[serde(default = "one")]
    pub weight: f64,
    /// Its training settings; `[teacher.train]` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train: Option<TrainerConfig>,
}

/// How the student is distilled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Pipeline {
    /// Teacher (or ensemble) → student.
    Standard {},
    /// Teacher-assistant chain (Mirzadeh et al. 2020): teacher → assistant → student. The
    /// assistant is distilled from the teacher with the student's loss, saved as
    /// `assistant`, then teaches the student.
    Assistant {
        /// The assistant's architecture, between the teacher's and the student's sizes.
        model: ModelSpec,
        /// Its training settings; `[student.train]` when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        train: Option<Box<TrainerConfig>>,
    },
    /// Born-again networks (Furlanello et al. 2018): generation 1 learns from the teacher,
    /// generation k + 1 from generation k (or from the ensemble of generations 1..k), all
    /// with the student's architecture. Earlier generations are saved as `generation-<k>`,
    /// the last as `distilled`.
    BornAgain {
        /// Number of generations, `>= 1`.
        generations: usize,
        /// Generation k + 1 learns from the equally weighted ensemble of generations 1..k.
        #[serde(default)]
        ensemble: bool,
    },
    /// Deep mutual learning (Zhang et al. 2018): `students` copies of the student,
    /// initialised differently, train together and teach each other; the first is saved as
    /// `distilled`, the others as `mutual-<k>`. With no teacher term in the loss, no teacher
    /// is needed.
    Mutual {
        /// Number of students, `>= 2`.
        #[serde(default = "two")]
        students: usize,
        /// Weight of the mutual term.
        #[serde(default = "one")]
        weight: f64,
        /// Temperature of the mutual term.
        #[serde(default = "one")]
        temperature: f64,
    },
}

fn two() -> usize {
    2
}

impl Default for Pipeline {
    fn default() -> Self {
        Self::Standard {}
    }
}

impl Pipeline {
    pub(super) fn is_standard(&self) -> bool {
        *self == Self::Standard {}
    }

    /// The mutual-learning settings, for the mutual pipeline.
    pub fn mutual(&self) -> Option<MutualConfig> {
        match *self {
            Self::Mutual {
                students,
                weight,
                temperature,
            } => Some(MutualConfig {
                students,
                weight,
                temperature,
            }),
            _ => None,
        }
    }
}
