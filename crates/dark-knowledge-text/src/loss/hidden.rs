//! Hidden-state distillation per token: the student's states, mapped to the teacher's width
//! by a learned projection (FitNets, Romero et al. 2015), compared with the teacher's at
//! every kept token.

use burn::nn::Linear;
use burn::tensor::{Bool, Device, Tensor};
use dark_knowledge_core::loss::{hint_loss, hint_projection};
use serde::{Deserialize, Serialize};

use super::{check_same_dims, flatten};
use crate::error::Result;

/// Below this a hidden state's norm is taken as this (no NaN for a zero vector), as
/// PyTorch's `cosine_similarity` does.
const NORM_EPS: f64 = 1e-8;

/// How [`token_hidden_loss`] compares a token's projected student state `s` with the
/// teacher's `t` (both of width `d`).
///
/// ```text
/// Mse      (1 / d) Σ_k (s_k − t_k)²                 FitNets hints (Romero et al. 2015), per token
/// Cosine   1 − s·t / (max(‖s‖, ε) · max(‖t‖, ε))     ε = 1e-8 (as in DistilBERT's cosine loss)
/// ```
///
/// In a configuration file: `"mse"` or `"cosine"`.
///
/// # Shapes
/// Each compares two vectors `[d]` and gives one value per token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HiddenLoss {
    /// The mean squared difference over the `d` features (the core's `hint_loss` per token).
    Mse,
    /// `1 − cos(s, t)`, in `[0, 2]`; 1 for a zero vector.
    Cosine,
}

/// Hidden-state distillation per token: the mean over the tokens `mask` keeps (`true` = a
/// real token) of the [`HiddenLoss`] between the projected student state and the teacher's.
///
/// ```text
/// Mse:     loss = (1 / (|kept| · d)) Σ_kept Σ_k (s_k − t_k)²
/// Cosine:  loss = (1 / |kept|) Σ_kept (1 − cos(s, t))
/// ```
///
/// The teacher is detached; masked positions enter neither the value nor the gradient. The
/// projection ([`hidden_projection`]) is the trainer's, applied before this call.
///
/// # Shapes
/// - `projected_student`, `teacher`: `[batch, seq, d]`
/// - `mask`: `[batch, seq]`
/// - output: `[1]`
///
/// # Errors
/// [`crate::Error::ShapeMismatch`] when the two states differ in shape, when `mask` is not
/// `[batch, seq]`, or when it keeps no token.
pub fn token_hidden_loss(
    projected_student: Tensor<3>,
    teacher: Tensor<3>,
    mask: &Tensor<2, Bool>,
    kind: HiddenLoss,
) -> Result<Tensor<1>> {
    check_same_dims(
        "token hidden states",
        &projected_student.dims(),
        &teacher.dims(),
    )?;
    let student = flatten(projected_student, mask)?;
    let teacher = flatten(teacher.detach(), mask)?;
    match kind {
        HiddenLoss::Mse => Ok(hint_loss(student, teacher)?),
        HiddenLoss::Cosine => Ok(cosine_distance(student, teacher).mean()),
    }
}

/// `1 − cos(s, t)` per row, each norm clamped below at [`NORM_EPS`].
fn cosine_distance(s: Tensor<2>, t: Tensor<2>) -> Tensor<1> {
    let norm = |x: Tensor<2>| x.square().sum_dim(1).clamp_min(NORM_EPS * NORM_EPS).sqrt();
    let dot = (s.clone() * t.clone()).sum_dim(1);
    let cos = dot / (norm(s) * norm(t));
    cos.neg().add_scalar(1.0).squeeze_dim(1)
}

/// The learned projection of the student's hidden states to the teacher's width: a burn
/// `Linear` `student_dim → teacher_dim` with bias (the core's `hint_projection`, FitNets'
/// regressor). Build it on the training (autodiff) device and train it with the student;
/// apply it to `[batch, seq, student_dim]` states before [`token_hidden_loss`].
///
/// # Shapes
/// - weight: `[student_dim, teacher_dim]`; forward: `[.., student_dim]` → `[.., teacher_dim]`
pub fn hidden_projection(student_dim: usize, teacher_dim: usize, device: &Device) -> Linear {
    hint_projection(student_dim, teacher_dim, device)
}
