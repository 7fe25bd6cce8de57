//! One or several teachers, with weights, as the trainer sees them.

use burn::tensor::{Int, Tensor};
use dark_knowledge_core::error::{Error as CoreError, Result as CoreResult};
use dark_knowledge_core::{Teacher, TeacherBatch, check_class_counts};

use crate::objective::{Combine, TeacherOutputs, ensemble_predicted};

/// The teachers a student learns from: none (training from labels), one, or a weighted
/// ensemble, possibly of different architectures or sources (a network, a cache).
///
/// `I` is what the models read (float rows by default): every teacher serves batches of it.
pub struct TeacherSet<'a, I = Tensor<2>> {
    members: Vec<&'a dyn Teacher<I>>,
    weights: Vec<f64>,
    combine: Combine,
}

impl<I> Clone for TeacherSet<'_, I> {
    fn clone(&self) -> Self {
        Self {
            members: self.members.clone(),
            weights: self.weights.clone(),
            combine: self.combine,
        }
    }
}

impl<I> Default for TeacherSet<'_, I> {
    fn default() -> Self {
        Self {
            members: Vec::new(),
            weights: Vec::new(),
            combine: Combine::default(),
        }
    }
}

impl<I> std::fmt::Debug for TeacherSet<'_, I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeacherSet")
            .field(
                "members",
                &self
                    .members
                    .iter()
                    .map(|t| t.describe())
                    .collect::<Vec<_>>(),
            )
            .field("weights", &self.weights)
            .field("combine", &self.combine)
            .finish()
    }
}

impl<'a, I> TeacherSet<'a, I> {
    /// No teacher: the loss is cross-entropy with the labels.
    pub fn none() -> Self {
        Self::default()
    }

    /// One teacher.
    pub fn single(teacher: &'a dyn Teacher<I>) -> Self {
        Self {
            members: vec![teacher],
            weights: vec![1.0],
            combine: Combine::AverageProbabilities,
        }
    }

    /// Several teachers with relative weights (normalised to sum to 1).
    ///
    /// # Errors
    /// No teacher, a weight that is negative or not finite, all weights 0, or teachers
    /// predicting different numbers of classes.
    pub fn weighted(members: Vec<(&'a dyn Teacher<I>, f64)>, combine: Combine) -> CoreResult<Self> {
        if members.is_empty() {
            return Err(CoreError::InvalidValue {
                name: "teachers",
                value: "an empty list".into(),
                allowed: "at least one teacher",
            });
        }
        for (_, w) in &members {
            dark_knowledge_core::error::check_non_negative("teacher weight", *w)?;
        }
        let sum: f64 = members.iter().map(|(_, w)| w).sum();
        if sum <= 0.0 {
            return Err(CoreError::AllWeightsZero {
                details: "every teacher has weight 0".into(),
            });
        }
        let first = members[0].0.num_classes();
        for (t, _) in &members[1..] {
            check_class_counts(t.num_classes(), first)?;
        }
        Ok(Self {
            weights: members.iter().map(|(_, w)| w / sum).collect(),
            members: members.into_iter().map(|(t, _)| t).collect(),
            combine,
        })
    }

    /// Whether there is no teacher.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The number of teachers.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// The teachers in order.
    pub fn members(&self) -> &[&'a dyn Teacher<I>] {
        &self.members
    }

    /// The normalised weights.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// How the logit terms combine the teachers.
    pub fn combine(&self) -> Combine {
        self.combine
    }

    /// A one-line description.
    pub fn describe(&self) -> String {
        match self.members.len() {
            0 => "no teacher".into(),
            1 => self.members[0].describe(),
            _ => self
                .members
                .iter()
                .zip(&self.weights)
                .map(|(t, w)| format!("{w:.3} × {}", t.describe()))
                .collect::<Vec<_>>()
                .join(" + "),
        }
    }

    /// Every teacher's logits on `batch`, and the features of the teachers in `features_of`.
    pub(crate) fn outputs(
        &self,
        batch: TeacherBatch<'_, I>,
        features_of: &[bool],
        autodiff: bool,
    ) -> CoreResult<TeacherOutputs> {
        let to_device = |t: Tensor<2>| {
            if autodiff {
                t.detach().autodiff()
            } else {
                t.detach()
            }
        };
        let mut logits = Vec::with_capacity(self.members.len());
        let mut features = Vec::with_capacity(self.members.len());
        for (i, teacher) in self.members.iter().enumerate() {
            if features_of.get(i).copied().unwrap_or(false) {
                let mut f = teacher.features(batch)?.detach();
                if autodiff {
                    f.logits = f.logits.autodiff();
                    f.hidden = f.hidden.into_iter().map(Tensor::autodiff).collect();
                    f.maps = f.maps.into_iter().map(Tensor::autodiff).collect();
                    f.sequences = f.sequences.into_iter().map(Tensor::autodiff).collect();
                }
                logits.push(f.logits.clone());
                features.push(Some(f));
            } else {
                logits.push(to_device(teacher.logits(batch)?));
                features.push(None);
            }
        }
        Ok(TeacherOutputs { logits, features })
    }

    /// The ensemble's predicted class (arg-max of the weighted mean probabilities at T = 1).
    pub(crate) fn predicted(&self, logits: &[Tensor<2>]) -> Tensor<1, Int> {
        ensemble_predicted(logits, &self.weights)
    }
}
