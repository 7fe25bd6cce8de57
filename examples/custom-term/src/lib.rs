//! A loss term of the user's own: the squared distance between the student's and the
//! teacher's softened probabilities, trained beside the built-in `kd` term with its own weight
//! and recorded in the history under its own name.

use dark_knowledge::burn::tensor::Tensor;
use dark_knowledge::burn::tensor::activation::softmax;
use dark_knowledge::core::Result;
use dark_knowledge::train::{DistillationTerm, TermInputs};

/// `mean_rows Σ_c (softmax(z_s/T)_c − softmax(z_t/T)_c)²` against the first teacher.
#[derive(Debug, Clone, Copy)]
pub struct ProbabilityMse {
    /// The softmax temperature.
    pub temperature: f64,
}

impl DistillationTerm for ProbabilityMse {
    fn name(&self) -> String {
        "prob_mse".into()
    }

    fn compute(&self, inputs: &TermInputs<'_>) -> Result<Tensor<1>> {
        let t = self.temperature;
        let p_s = softmax(inputs.student.logits.clone().div_scalar(t), 1);
        let p_t = softmax(inputs.teacher_logits[0].clone().div_scalar(t), 1);
        Ok((p_s - p_t).powi_scalar(2).sum_dim(1).mean())
    }

    fn temperature(&self, _epoch: usize, _epochs: usize) -> Option<f64> {
        Some(self.temperature)
    }
}
