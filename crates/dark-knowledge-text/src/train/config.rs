//! The settings of a language-model training run: the optimisation, and what the student
//! learns from (tokens, a teacher's per-token distributions, its own samples).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::loss::{HiddenLoss, TokenDivergence, TokenKdConfig};

/// How a language model is optimised: Adam at a learning rate with a linear warm-up and a
/// cosine decay to a tenth, for a fixed number of steps (the budget every arm of a study
/// shares), the batches drawn from the training windows in a seeded order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LmTrainerConfig {
    /// Optimisation steps (each one batch).
    pub steps: usize,
    /// Windows per batch.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// The peak learning rate.
    #[serde(default = "default_learning_rate")]
    pub learning_rate: f64,
    /// Steps of linear warm-up from 0 to the peak.
    #[serde(default = "default_warmup")]
    pub warmup_steps: usize,
    /// Clip each parameter tensor's gradient to this L2 norm (0 = no clipping).
    #[serde(default = "default_clip")]
    pub grad_clip: f64,
    /// Seeds the parameter initialisation's device RNG, the batch order and sampling.
    #[serde(default)]
    pub seed: u64,
    /// Evaluate on the validation windows every this many steps (0 = only at the end).
    #[serde(default)]
    pub eval_every: usize,
    /// Validation windows per evaluation (0 = all of them).
    #[serde(default)]
    pub eval_windows: usize,
    /// A progress bar on stderr.
    #[serde(default)]
    pub progress: bool,
}

fn default_batch_size() -> usize {
    32
}
fn default_learning_rate() -> f64 {
    3e-3
}
fn default_warmup() -> usize {
    20
}
fn default_clip() -> f64 {
    1.0
}

impl LmTrainerConfig {
    /// `steps` steps with the defaults: batch 32, learning rate 3e-3, 20 warm-up steps,
    /// gradient norm clipped to 1, seed 0.
    pub fn new(steps: usize) -> Self {
        Self {
            steps,
            batch_size: default_batch_size(),
            learning_rate: default_learning_rate(),
            warmup_steps: default_warmup(),
            grad_clip: default_clip(),
            seed: 0,
            eval_every: 0,
            eval_windows: 0,
            progress: false,
        }
    }

    /// The same settings with another seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The same settings with another batch size.
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// The same settings with another peak learning rate.
    pub fn with_learning_rate(mut self, learning_rate: f64) -> Self {
        self.learning_rate = learning_rate;
        self
    }

    /// Checks every setting.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] naming the setting and its allowed range.
    pub fn validate(&self) -> Result<()> {
        if self.steps == 0 {
            return Err(Error::invalid("steps", 0, "at least 1"));
        }
        if self.batch_size == 0 {
            return Err(Error::invalid("batch_size", 0, "at least 1"));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(Error::invalid(
                "learning_rate",
                self.learning_rate,
                "a finite number > 0",
            ));
        }
        if !(self.grad_clip.is_finite() && self.grad_clip >= 0.0) {
            return Err(Error::invalid(
                "grad_clip",
                self.grad_clip,
                "a finite number >= 0 (0 = no clipping)",
            ));
        }
        Ok(())
    }

    /// The learning rate at `step` (0-based): linear warm-up, then cosine to a tenth.
    pub fn learning_rate_at(&self, step: usize) -> f64 {
        let peak = self.learning_rate;
        if step < self.warmup_steps {
            return peak * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let span = self.steps.saturating_sub(self.warmup_steps).max(1) as f64;
        let progress = ((step - self.warmup_steps) as f64 / span).min(1.0);
        peak * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()))
    }
}

/// On-policy distillation (GKD, Agarwal et al. 2024): a fraction of the batches are the
/// student's own continuations of prompts from the data, scored by the teacher; the loss
/// there is the distillation term on the generated tokens only.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnPolicyConfig {
    /// The probability that a batch is on-policy (GKD's `lambda`), in `[0, 1]`.
    pub fraction: f64,
    /// Prompt tokens taken from the start of each window.
    pub prompt_len: usize,
    /// Tokens the student generates after the prompt.
    pub new_tokens: usize,
    /// The student's sampling temperature (GKD samples at 1).
    #[serde(default = "one")]
    pub temperature: f64,
}

fn one() -> f64 {
    1.0
}

/// What the student learns from: cross-entropy with the next tokens, a per-token divergence
/// from the teacher, a hidden-state term, and optionally its own samples (on-policy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LmObjective {
    /// The weight of cross-entropy with the next tokens of the data.
    #[serde(default = "one")]
    pub ce_weight: f64,
    /// The per-token distillation term and its weight (needs a teacher).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kd: Option<WeightedKd>,
    /// A hidden-state term through a learned projection, and its weight (needs a teacher
    /// network).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<WeightedHidden>,
    /// On-policy batches (needs a teacher network and a `kd` term).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_policy: Option<OnPolicyConfig>,
}

/// A per-token distillation term with its weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightedKd {
    /// The weight, `>= 0`.
    pub weight: f64,
    /// The divergence between the teacher's and the student's next-token distributions.
    pub divergence: TokenDivergence,
    /// The temperature of both distributions (the term is scaled by its square).
    #[serde(default = "one")]
    pub temperature: f64,
}

impl WeightedKd {
    /// The loss configuration of the term.
    pub fn loss(&self) -> TokenKdConfig {
        TokenKdConfig::new(self.divergence).with_temperature(self.temperature)
    }
}

/// A hidden-state term with its weight.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightedHidden {
    /// The weight, `>= 0`.
    pub weight: f64,
    /// MSE or cosine.
    pub loss: HiddenLoss,
}

impl LmObjective {
    /// Cross-entropy with the next tokens only: a model from scratch.
    pub fn tokens() -> Self {
        Self {
            ce_weight: 1.0,
            kd: None,
            hidden: None,
            on_policy: None,
        }
    }

    /// `ce_weight` × cross-entropy + `kd_weight` × the per-token term `loss`.
    pub fn distill(ce_weight: f64, kd_weight: f64, loss: TokenKdConfig) -> Self {
        Self {
            ce_weight,
            kd: Some(WeightedKd {
                weight: kd_weight,
                divergence: loss.divergence,
                temperature: loss.temperature,
            }),
            hidden: None,
            on_policy: None,
        }
    }

    /// The same objective with on-policy batches.
    pub fn with_on_policy(mut self, on_policy: OnPolicyConfig) -> Self {
        self.on_policy = Some(on_policy);
        self
    }

    /// The same objective with a hidden-state term.
    pub fn with_hidden(mut self, weight: f64, loss: HiddenLoss) -> Self {
        self.hidden = Some(WeightedHidden { weight, loss });
        self
    }

    /// Whether a term reads a teacher.
    pub fn needs_teacher(&self) -> bool {
        self.kd.is_some() || self.hidden.is_some() || self.on_policy.is_some()
    }

    /// Checks the weights and settings, and what the teacher must provide.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for a negative or non-finite weight, a fraction outside
    /// `[0, 1]`, a zero prompt or generation length, on-policy batches without a `kd` term, or
    /// an objective whose weights are all 0.
    pub fn validate(&self) -> Result<()> {
        let weights = [
            ("ce_weight", Some(self.ce_weight)),
            ("kd.weight", self.kd.as_ref().map(|k| k.weight)),
            ("hidden.weight", self.hidden.map(|h| h.weight)),
        ];
        for (name, w) in weights {
            if let Some(w) = w
                && !(w.is_finite() && w >= 0.0)
            {
                return Err(Error::invalid(name, w, "a finite number >= 0"));
            }
        }
        let total: f64 = weights.iter().filter_map(|(_, w)| *w).sum();
        if total <= 0.0 {
            return Err(Error::invalid(
                "the loss weights",
                "all 0",
                "at least one term with a weight > 0",
            ));
        }
        if let Some(kd) = &self.kd {
            kd.loss().init()?;
        }
        if let Some(p) = &self.on_policy {
            if self.kd.is_none() {
                return Err(Error::invalid(
                    "on_policy",
                    "set without a kd term",
                    "on-policy batches with a kd term (the loss on the student's samples)",
                ));
            }
            if !(0.0..=1.0).contains(&p.fraction) {
                return Err(Error::invalid("on_policy.fraction", p.fraction, "0 to 1"));
            }
            if p.prompt_len == 0 || p.new_tokens == 0 {
                return Err(Error::invalid(
                    "on_policy.prompt_len / new_tokens",
                    format!("{} / {}", p.prompt_len, p.new_tokens),
                    "at least 1 each",
                ));
            }
            if !(p.temperature.is_finite() && p.temperature > 0.0) {
                return Err(Error::invalid(
                    "on_policy.temperature",
                    p.temperature,
                    "a finite number > 0",
                ));
            }
        }
        Ok(())
    }
}
