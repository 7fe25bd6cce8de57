//! Token-level distillation losses for sequence models, in float32 and in log space.
//!
//! A language model predicts a next-token distribution at every position. The teacher's
//! `p = softmax(z_t / T)` and the student's `q = softmax(z_s / T)` are compared per token by
//! a [`TokenDivergence`], scaled by `T²` (Hinton et al. 2015), and averaged over the tokens a
//! padding mask keeps:
//!
//! ```text
//! loss = (1 / |kept|) Σ_{(b, s) kept} T² · D(p_{b,s}, q_{b,s})
//! ```
//!
//! | divergence | `D(p, q)` | paper |
//! |---|---|---|
//! | [`ForwardKl`](TokenDivergence::ForwardKl) | `KL(p ‖ q)` | Hinton et al. 2015 |
//! | [`ReverseKl`](TokenDivergence::ReverseKl) | `KL(q ‖ p)` | Gu et al. 2024 (MiniLLM), GKD |
//! | [`Jsd`](TokenDivergence::Jsd) | `β KL(p ‖ m) + (1−β) KL(q ‖ m)`, `m = βp + (1−β)q` | Agarwal et al. 2024 (GKD) |
//! | [`SkewKl`](TokenDivergence::SkewKl) | `KL(p ‖ λp + (1−λ)q)` | Ko et al. 2024 (DistiLLM) |
//! | [`SkewReverseKl`](TokenDivergence::SkewReverseKl) | `KL(q ‖ λq + (1−λ)p)` | Ko et al. 2024 (DistiLLM) |
//! | [`TotalVariation`](TokenDivergence::TotalVariation) | `½ Σ |p − q|` | Wen et al. 2023 |
//!
//! Every divergence keeps its digits for confident models (logits ±50, `p = 1 − 1e-9`): the
//! log-probabilities come from the core's [`SoftmaxParts`], the KLs from
//! [`kl_divergence_logits`] / [`kl_from_offsets`] (sums of non-negative terms), the log-ratio
//! `log q − log p` from the logits' differences, and the mixtures `log m` from a two-term
//! log-sum-exp (`log1p` of an `expm1` where the two terms are close).
//!
//! Hidden states are compared per token by [`token_hidden_loss`] (MSE or cosine, through the
//! learned [`hidden_projection`]).
//!
//! [`SoftmaxParts`]: dark_knowledge_core::loss::SoftmaxParts
//! [`kl_divergence_logits`]: dark_knowledge_core::loss::kl_divergence_logits
//! [`kl_from_offsets`]: dark_knowledge_core::loss::kl_from_offsets

mod divergence;
mod hidden;
mod top_k;

#[cfg(test)]
mod tests;

use burn::tensor::{Bool, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub use hidden::{HiddenLoss, hidden_projection, token_hidden_loss};

/// Which divergence between the teacher's (`p`) and the student's (`q`) next-token
/// distributions, both `softmax(z / T)`.
///
/// ```text
/// ForwardKl        KL(p ‖ q) = Σ p log(p / q)                  Hinton et al. 2015 (KD per token)
/// ReverseKl        KL(q ‖ p)                                   mode seeking (MiniLLM, GKD)
/// Jsd { β }        β = 0: KL(p ‖ q);  β = 1: KL(q ‖ p);  else, m = β p + (1 − β) q:
///                  β KL(p ‖ m) + (1 − β) KL(q ‖ m)             Agarwal et al. 2024 (GKD), trl's convention
/// SkewKl { λ }     KL(p ‖ λ p + (1 − λ) q)                     Ko et al. 2024 (DistiLLM)
/// SkewReverseKl    KL(q ‖ λ q + (1 − λ) p)                     Ko et al. 2024 (DistiLLM)
/// TotalVariation   ½ Σ |p − q|                                 Wen et al. 2023 (f-divergence KD)
/// ```
///
/// `Jsd` at `β = 0.5` is the symmetric Jensen–Shannon divergence (≤ ln 2); between 0 and 1
/// it is not continuous at the ends (trl's special cases). `SkewKl` / `SkewReverseKl` at
/// `λ = 0` are the plain forward / reverse KL. In a configuration file:
/// `{"kind": "jsd", "beta": 0.5}`, `{"kind": "forward_kl"}`.
///
/// # Shapes
/// A divergence compares two rows of logits `[vocab]` and gives one value per row.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TokenDivergence {
    /// `KL(p ‖ q)`: the soft-target term of Hinton et al. 2015, per token.
    ForwardKl,
    /// `KL(q ‖ p)`: mode seeking, the student is penalised for mass where the teacher has
    /// none.
    ReverseKl,
    /// The generalized Jensen–Shannon divergence of GKD (Agarwal et al. 2024, "On-Policy
    /// Distillation of Language Models: Learning from Self-Generated Mistakes"), trl's
    /// convention: `β = 0` is `KL(p ‖ q)`, `β = 1` is `KL(q ‖ p)`, otherwise
    /// `β KL(p ‖ m) + (1 − β) KL(q ‖ m)` with `m = β p + (1 − β) q`.
    Jsd {
        /// The interpolation `β` in `[0, 1]`.
        beta: f64,
    },
    /// The skew KL of DistiLLM (Ko et al. 2024): `KL(p ‖ λ p + (1 − λ) q)`.
    SkewKl {
        /// The skew `λ` in `[0, 1)` (DistiLLM uses 0.1).
        lambda: f64,
    },
    /// The skew reverse KL of DistiLLM (Ko et al. 2024): `KL(q ‖ λ q + (1 − λ) p)`.
    SkewReverseKl {
        /// The skew `λ` in `[0, 1)` (DistiLLM uses 0.1).
        lambda: f64,
    },
    /// The total variation distance `½ Σ |p − q|` (in `[0, 1]`), as in Wen et al. 2023,
    /// "f-Divergence Minimization for Sequence-Level Knowledge Distillation".
    TotalVariation,
}

impl TokenDivergence {
    /// The short name, for logs and reports: `"forward_kl"`, `"reverse_kl"`, `"jsd"`,
    /// `"skew_kl"`, `"skew_reverse_kl"` or `"tv"`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ForwardKl => "forward_kl",
            Self::ReverseKl => "reverse_kl",
            Self::Jsd { .. } => "jsd",
            Self::SkewKl { .. } => "skew_kl",
            Self::SkewReverseKl { .. } => "skew_reverse_kl",
            Self::TotalVariation => "tv",
        }
    }

    /// Checks the divergence's parameter (`beta` in `[0, 1]`, `lambda` in `[0, 1)`).
    fn validate(&self) -> Result<()> {
        match *self {
            Self::Jsd { beta } if !(0.0..=1.0).contains(&beta) => Err(Error::invalid(
                "beta",
                beta,
                "a number in [0, 1] (jsd: 0 = forward KL, 1 = reverse KL)",
            )),
            Self::SkewKl { lambda } | Self::SkewReverseKl { lambda }
                if !(0.0..1.0).contains(&lambda) =>
            {
                Err(Error::invalid(
                    "lambda",
                    lambda,
                    "a number in [0, 1) (skew KL: 0 = plain KL)",
                ))
            }
            _ => Ok(()),
        }
    }
}

fn one() -> f64 {
    1.0
}

/// A per-token distillation loss: a [`TokenDivergence`] at a temperature `T`, scaled by `T²`
/// (Hinton et al. 2015's gradient scaling; at `T = 1`, the default for token-level work,
/// each divergence is its paper's form).
///
/// ```text
/// loss_token = T² · D(softmax(z_t / T), softmax(z_s / T))
/// ```
///
/// In a configuration file: `{"divergence": {"kind": "jsd", "beta": 0.5}, "temperature": 1.0}`
/// (`temperature` may be left out).
///
/// # Shapes
/// See [`TokenKdLoss`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenKdConfig {
    /// The divergence between the teacher's and the student's next-token distributions.
    pub divergence: TokenDivergence,
    /// The softmax temperature `T` (finite, > 0); default 1.
    #[serde(default = "one")]
    pub temperature: f64,
}

impl TokenKdConfig {
    /// The divergence at temperature 1.
    pub fn new(divergence: TokenDivergence) -> Self {
        Self {
            divergence,
            temperature: 1.0,
        }
    }

    /// The same configuration at temperature `t`.
    pub fn with_temperature(mut self, t: f64) -> Self {
        self.temperature = t;
        self
    }

    /// The loss, after checking the settings.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] naming the setting and its allowed range: `temperature` not a
    /// finite number > 0, `beta` outside `[0, 1]`, `lambda` outside `[0, 1)` (NaN included).
    pub fn init(&self) -> Result<TokenKdLoss> {
        let t = self.temperature;
        if !(t.is_finite() && t > 0.0) {
            return Err(Error::invalid("temperature", t, "a finite number > 0"));
        }
        self.divergence.validate()?;
        Ok(TokenKdLoss {
            divergence: self.divergence,
            temperature: t,
        })
    }
}

/// A validated per-token distillation loss (from [`TokenKdConfig::init`]):
/// `T² · D(softmax(z_t / T), softmax(z_s / T))` per token, the teacher detached.
///
/// # Shapes
/// - [`forward_rows`](Self::forward_rows): logits `[n, vocab]` → `[n]`
/// - [`forward`](Self::forward): logits `[batch, seq, vocab]`, mask `[batch, seq]` → `[1]`
/// - [`forward_top_k_rows`](Self::forward_top_k_rows): student `[n, vocab]`, teacher top-k
///   `[n, k]` and its rest `[n, 1]` → `[n]`
#[derive(Debug, Clone)]
pub struct TokenKdLoss {
    divergence: TokenDivergence,
    temperature: f64,
}

impl TokenKdLoss {
    /// The divergence.
    pub fn divergence(&self) -> TokenDivergence {
        self.divergence
    }

    /// The temperature `T`.
    pub fn temperature(&self) -> f64 {
        self.temperature
    }

    /// Per row: `T² · D(softmax(teacher / T), softmax(student / T))`. The teacher is detached
    /// inside (no gradient reaches it).
    ///
    /// # Shapes
    /// - `student`, `teacher`: `[n, vocab]`
    /// - output: `[n]`
    pub fn forward_rows(&self, student: Tensor<2>, teacher: Tensor<2>) -> Tensor<1> {
        let t = self.temperature;
        divergence::divergence_rows(self.divergence, student, teacher.detach(), t).mul_scalar(t * t)
    }

    /// The mean over the tokens `mask` keeps (`true` = a real token) of the per-token loss:
    /// `(1 / |kept|) Σ_kept T² · D(p, q)`. Masked positions enter neither the value nor the
    /// gradient (their gradient is exactly 0, whatever their logits, NaN included).
    ///
    /// # Shapes
    /// - `student`, `teacher`: `[batch, seq, vocab]`
    /// - `mask`: `[batch, seq]`
    /// - output: `[1]`
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the teacher's logits are not shaped like the student's,
    /// when `mask` is not `[batch, seq]`, or when it keeps no token.
    pub fn forward(
        &self,
        student: Tensor<3>,
        teacher: Tensor<3>,
        mask: &Tensor<2, Bool>,
    ) -> Result<Tensor<1>> {
        check_same_dims("token logits", &student.dims(), &teacher.dims())?;
        let student = flatten(student, mask)?;
        let teacher = flatten(teacher, mask)?;
        Ok(self.forward_rows(student, teacher).mean())
    }
}

/// [`Error::ShapeMismatch`] unless the teacher's dims equal the student's.
fn check_same_dims(what: &'static str, student: &[usize], teacher: &[usize]) -> Result<()> {
    if student == teacher {
        return Ok(());
    }
    Err(Error::ShapeMismatch {
        what,
        expected: format!("the teacher's shaped like the student's {student:?}"),
        got: format!("teacher {teacher:?}"),
    })
}

/// The core's `flatten_tokens`, its shape errors as this crate's [`Error::ShapeMismatch`].
fn flatten(x: Tensor<3>, mask: &Tensor<2, Bool>) -> Result<Tensor<2>> {
    dark_knowledge_core::loss::flatten_tokens(x, mask).map_err(|e| match e {
        dark_knowledge_core::Error::ShapeMismatch {
            what,
            expected,
            got,
        } => Error::ShapeMismatch {
            what,
            expected,
            got,
        },
        other => Error::Core(other),
    })
}
