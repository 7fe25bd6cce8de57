//! The open side of the loss: a trait every term implements, the built-in ones and a
//! user's own, so a new distillation term composes with the rest without touching this crate.

use std::fmt;
use std::sync::Arc;

use burn::nn::Linear;
use burn::tensor::{Int, Tensor};
use dark_knowledge_core::Features;
use dark_knowledge_core::error::Result as CoreResult;

use crate::objective::Combine;
use crate::schedule::Schedule;

/// What a loss term sees for one batch.
///
/// Teacher outputs are detached (no gradient flows into a teacher); the student's logits and
/// features carry the graph the optimiser follows.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct TermInputs<'a> {
    /// The student's logits `[n, classes]`, and its features when a term of the loss reads
    /// them ([`DistillationTerm::needs_features`]).
    pub student: &'a Features,
    /// One `[n, classes]` logit matrix per teacher (none when training from labels).
    pub teacher_logits: &'a [Tensor<2>],
    /// Per teacher, its features when a term reads them
    /// ([`DistillationTerm::teacher_features`]).
    pub teacher_features: &'a [Option<Features>],
    /// The teachers' weights (they sum to 1).
    pub teacher_weights: &'a [f64],
    /// How the logit terms of an ensemble combine the teachers.
    pub combine: Combine,
    /// `[n]` class indices; `-1` ([`UNLABELED`](dark_knowledge_data::UNLABELED)) for a row
    /// without label when [`partially_labeled`](Self::partially_labeled).
    pub targets: &'a Tensor<1, Int>,
    /// Whether some rows of the data have no label.
    pub partially_labeled: bool,
    /// The epoch, 1-based.
    pub epoch: usize,
    /// The number of epochs of the run.
    pub epochs: usize,
    /// The trained projection of a built-in `hint` term.
    pub(crate) projection: Option<&'a Linear>,
}

impl fmt::Debug for TermInputs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TermInputs")
            .field("student_logits", &self.student.logits.dims())
            .field("teachers", &self.teacher_logits.len())
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

/// One term of the distillation loss: a scalar from the student's and teachers' outputs.
///
/// The trainer multiplies it by the term's weight (with its schedule), adds the terms, and
/// records each term's per-epoch mean under its name in the history. The built-in terms
/// ([`LossTerm`](crate::LossTerm): `ce`, `kd`, `dkd`, `dist`, `lskd`, `mse_logits`, `hint`,
/// `attention`, `rkd`) implement it too. A term is stateless: it trains no parameters of its
/// own (a learned projection belongs to the model).
///
/// ```
/// use burn::tensor::Tensor;
/// use burn::tensor::activation::softmax;
/// use dark_knowledge_core::Result;
/// use dark_knowledge_train::{DistillationTerm, TermInputs};
///
/// /// Squared distance between the student's and the teacher's probabilities.
/// struct ProbabilityMse;
///
/// impl DistillationTerm for ProbabilityMse {
///     fn name(&self) -> String {
///         "prob_mse".into()
///     }
///
///     fn compute(&self, inputs: &TermInputs<'_>) -> Result<Tensor<1>> {
///         let p_s = softmax(inputs.student.logits.clone(), 1);
///         let p_t = softmax(inputs.teacher_logits[0].clone(), 1);
///         Ok((p_s - p_t).powi_scalar(2).sum_dim(1).mean())
///     }
/// }
/// ```
pub trait DistillationTerm: Send + Sync {
    /// The term's name in logs and the history (unique within a loss).
    fn name(&self) -> String;

    /// The term's value for the batch, `[1]`: a mean over the batch's rows is the usual
    /// reduction, so values compare across batch sizes.
    ///
    /// # Errors
    /// When the inputs do not suit the term (e.g. a feature it needs is missing).
    fn compute(&self, inputs: &TermInputs<'_>) -> CoreResult<Tensor<1>>;

    /// Whether the term needs a teacher. Terms that do are left out when a model is trained
    /// from labels alone (a baseline, a teacher).
    fn needs_teacher(&self) -> bool {
        true
    }

    /// Whether the term reads the student's intermediate features
    /// ([`Classifier::forward_features`](dark_knowledge_core::Classifier::forward_features)).
    fn needs_features(&self) -> bool {
        false
    }

    /// The teacher (0-based) whose features the term reads, if any.
    fn teacher_features(&self) -> Option<usize> {
        None
    }

    /// The temperature at `epoch` (1-based) of `epochs`, recorded in the history, for terms
    /// that have one.
    fn temperature(&self, epoch: usize, epochs: usize) -> Option<f64> {
        let _ = (epoch, epochs);
        None
    }
}

/// A user's [`DistillationTerm`] with its weight and weight schedule, added to a trainer with
/// [`Trainer::with_term`](crate::Trainer::with_term) beside the configured terms.
#[derive(Clone)]
pub struct CustomTerm {
    /// The term.
    pub term: Arc<dyn DistillationTerm>,
    /// The weight `>= 0` at full strength.
    pub weight: f64,
    /// How the weight changes over the epochs.
    pub weight_schedule: Schedule,
}

impl CustomTerm {
    /// `term` with a constant `weight`.
    pub fn new(term: impl DistillationTerm + 'static, weight: f64) -> Self {
        Self {
            term: Arc::new(term),
            weight,
            weight_schedule: Schedule::Constant {},
        }
    }

    /// The same term with a weight schedule.
    pub fn with_weight_schedule(mut self, schedule: Schedule) -> Self {
        self.weight_schedule = schedule;
        self
    }

    /// The weight at `epoch` (1-based) of `epochs`.
    pub fn weight_at(&self, epoch: usize, epochs: usize) -> f64 {
        self.weight_schedule.at(self.weight, epoch, epochs)
    }
}

impl fmt::Debug for CustomTerm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomTerm")
            .field("name", &self.term.name())
            .field("weight", &self.weight)
            .field("weight_schedule", &self.weight_schedule)
            .finish()
    }
}
