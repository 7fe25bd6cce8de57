//! Trainer settings: epochs, batches, optimizer, learning-rate schedule, loss and seed.

use dark_knowledge_core::error::{Error, Result, check_non_negative, check_positive};
use dark_knowledge_core::loss::SoftTargetLossConfig;
use serde::{Deserialize, Serialize};

use crate::stopping::EarlyStopping;
use crate::terms::{LossTerm, classic_terms, term_names};

/// The optimizer and its own settings. Weight decay is set once, in
/// [`TrainerConfig::weight_decay`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum OptimizerConfig {
    /// Adam (Kingma & Ba 2015); weight decay is an L2 penalty added to the gradient.
    Adam {
        /// Its decays and stability term.
        #[serde(flatten)]
        moments: AdamMoments,
    },
    /// AdamW (Loshchilov & Hutter 2019): decoupled weight decay. Written `adamw`.
    #[serde(rename = "adamw")]
    AdamW {
        /// Its decays and stability term.
        #[serde(flatten)]
        moments: AdamMoments,
    },
    /// Stochastic gradient descent with (optionally Nesterov) momentum, PyTorch convention
    /// (no dampening); weight decay is an L2 penalty.
    Sgd {
        /// Momentum in `[0, 1)`; 0 is plain SGD.
        #[serde(default = "sgd_momentum")]
        momentum: f64,
        /// Nesterov momentum.
        #[serde(default)]
        nesterov: bool,
    },
}

/// The settings Adam and AdamW share; in a file they stand in `[*.train.optimizer]` beside
/// `kind`. Defaults are PyTorch's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamMoments {
    /// First-moment decay.
    #[serde(default = "beta_1")]
    pub beta_1: f64,
    /// Second-moment decay.
    #[serde(default = "beta_2")]
    pub beta_2: f64,
    /// Numerical-stability term.
    #[serde(default = "epsilon")]
    pub epsilon: f64,
}

impl Default for AdamMoments {
    fn default() -> Self {
        Self {
            beta_1: beta_1(),
            beta_2: beta_2(),
            epsilon: epsilon(),
        }
    }
}

fn beta_1() -> f64 {
    0.9
}
fn beta_2() -> f64 {
    0.999
}
fn epsilon() -> f64 {
    1e-8
}
fn sgd_momentum() -> f64 {
    0.9
}

impl OptimizerConfig {
    /// Adam with PyTorch's defaults.
    pub fn adam() -> Self {
        Self::Adam {
            moments: AdamMoments::default(),
        }
    }

    /// AdamW with PyTorch's defaults.
    pub fn adamw() -> Self {
        Self::AdamW {
            moments: AdamMoments::default(),
        }
    }

    /// SGD with the given momentum.
    pub fn sgd(momentum: f64) -> Self {
        Self::Sgd {
            momentum,
            nesterov: false,
        }
    }

    fn validate(&self) -> Result<()> {
        let in_unit = |name: &'static str, v: f64| {
            if v.is_finite() && (0.0..1.0).contains(&v) {
                Ok(())
            } else {
                Err(Error::InvalidValue {
                    name,
                    value: v.to_string(),
                    allowed: "a number in [0, 1)",
                })
            }
        };
        match *self {
            Self::Adam { moments } | Self::AdamW { moments } => {
                in_unit("beta_1", moments.beta_1)?;
                in_unit("beta_2", moments.beta_2)?;
                check_positive("epsilon", moments.epsilon)
            }
            Self::Sgd { momentum, .. } => in_unit("momentum", momentum),
        }
    }
}

/// How the learning rate changes during training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LrSchedule {
    /// The same rate throughout.
    Constant {},
    /// Cosine annealing per step from the base rate down to `min_lr` at the last step.
    Cosine {
        /// The final rate, `0 <= min_lr <= learning_rate`.
        #[serde(default)]
        min_lr: f64,
    },
    /// The rate times `gamma` every `step_epochs` epochs.
    Step {
        /// Epochs between decays, `>= 1`.
        step_epochs: usize,
        /// Factor in `(0, 1]`.
        #[serde(default = "step_gamma")]
        gamma: f64,
    },
}

fn step_gamma() -> f64 {
    0.1
}

impl LrSchedule {
    /// The rate at `step` (0-based, of `total_steps`) within `epoch` (0-based).
    pub fn learning_rate(&self, base: f64, epoch: usize, step: usize, total_steps: usize) -> f64 {
        match *self {
            Self::Constant {} => base,
            Self::Cosine { min_lr } => {
                let progress = if total_steps <= 1 {
                    0.0
                } else {
                    step as f64 / (total_steps - 1) as f64
                };
                min_lr + 0.5 * (base - min_lr) * (1.0 + (std::f64::consts::PI * progress).cos())
            }
            Self::Step { step_epochs, gamma } => {
                base * gamma.powi((epoch / step_epochs.max(1)) as i32)
            }
        }
    }
}

/// Everything the trainer needs besides the model and the data.
///
/// Unknown keys are rejected when read from a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainerConfig {
    /// Passes over the training data, `>= 1`.
    #[serde(default = "epochs")]
    pub epochs: usize,
    /// Rows per optimizer step, `>= 1`.
    #[serde(default = "batch_size")]
    pub batch_size: usize,
    /// Base learning rate, `> 0`.
    #[serde(default = "learning_rate")]
    pub learning_rate: f64,
    /// Weight decay, `>= 0` (L2 for Adam and SGD, decoupled for AdamW).
    #[serde(default)]
    pub weight_decay: f64,
    /// The optimizer.
    #[serde(default = "OptimizerConfig::adam")]
    pub optimizer: OptimizerConfig,
    /// The learning-rate schedule.
    #[serde(default = "constant")]
    pub schedule: LrSchedule,
    /// The distillation loss, used when a teacher is given; without a teacher the loss is
    /// plain cross-entropy.
    #[serde(default)]
    pub loss: SoftTargetLossConfig,
    /// The loss as a weighted sum of named terms (`[[loss]]` in an experiment file); when
    /// set it replaces `loss`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub terms: Vec<LossTerm>,
    /// Seed of the shuffling and of the device's random generator (dropout).
    #[serde(default = "seed")]
    pub seed: u64,
    /// Rows per forward pass during evaluation, `>= 1`.
    #[serde(default = "eval_batch_size")]
    pub eval_batch_size: usize,
    /// Stop when a validation metric stops improving (`[early_stopping]` in an experiment
    /// file); the best model is then the one of the last improvement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stopping: Option<EarlyStopping>,
}

fn epochs() -> usize {
    10
}
fn batch_size() -> usize {
    128
}
fn learning_rate() -> f64 {
    1e-3
}
fn constant() -> LrSchedule {
    LrSchedule::Constant {}
}
fn seed() -> u64 {
    42
}
fn eval_batch_size() -> usize {
    1024
}

impl Default for TrainerConfig {
    fn default() -> Self {
        Self {
            epochs: epochs(),
            batch_size: batch_size(),
            learning_rate: learning_rate(),
            weight_decay: 0.0,
            optimizer: OptimizerConfig::adam(),
            schedule: constant(),
            loss: SoftTargetLossConfig::default(),
            terms: Vec::new(),
            seed: seed(),
            eval_batch_size: eval_batch_size(),
            early_stopping: None,
        }
    }
}

impl TrainerConfig {
    /// Checks every setting.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] naming the first setting that is out of range, or
    /// [`Error::AllWeightsZero`] for a loss whose weights are both 0.
    pub fn validate(&self) -> Result<()> {
        let at_least_one = |name: &'static str, v: usize| {
            if v >= 1 {
                Ok(())
            } else {
                Err(Error::InvalidValue {
                    name,
                    value: v.to_string(),
                    allowed: "an integer >= 1",
                })
            }
        };
        at_least_one("epochs", self.epochs)?;
        at_least_one("batch_size", self.batch_size)?;
        at_least_one("eval_batch_size", self.eval_batch_size)?;
        check_positive("learning_rate", self.learning_rate)?;
        check_non_negative("weight_decay", self.weight_decay)?;
        self.optimizer.validate()?;
        match self.schedule {
            LrSchedule::Constant {} => {}
            LrSchedule::Cosine { min_lr } => {
                check_non_negative("min_lr", min_lr)?;
                if min_lr > self.learning_rate {
                    return Err(Error::InvalidValue {
                        name: "min_lr",
                        value: min_lr.to_string(),
                        allowed: "a rate <= learning_rate",
                    });
                }
            }
            LrSchedule::Step { step_epochs, gamma } => {
                at_least_one("step_epochs", step_epochs)?;
                if !(gamma.is_finite() && gamma > 0.0 && gamma <= 1.0) {
                    return Err(Error::InvalidValue {
                        name: "gamma",
                        value: gamma.to_string(),
                        allowed: "a factor in (0, 1]",
                    });
                }
            }
        }
        self.loss.init()?;
        if let Some(es) = &self.early_stopping {
            es.validate()?;
        }
        if !self.terms.is_empty() {
            for term in &self.terms {
                term.validate()?;
            }
            term_names(&self.terms)?;
            if self.terms.iter().all(|t| t.weight == 0.0) {
                return Err(Error::AllWeightsZero {
                    details: "every [[loss]] term has weight 0".into(),
                });
            }
        }
        Ok(())
    }

    /// The distillation loss as terms: `terms` when set, else `loss` as `ce` and `kd`.
    pub fn loss_terms(&self) -> Vec<LossTerm> {
        if self.terms.is_empty() {
            classic_terms(&self.loss)
        } else {
            self.terms.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_follow_their_formulas() {
        let c = LrSchedule::Cosine { min_lr: 0.1 };
        assert!((c.learning_rate(1.0, 0, 0, 11) - 1.0).abs() < 1e-12);
        assert!((c.learning_rate(1.0, 0, 5, 11) - 0.55).abs() < 1e-12);
        assert!((c.learning_rate(1.0, 0, 10, 11) - 0.1).abs() < 1e-12);
        let s = LrSchedule::Step {
            step_epochs: 2,
            gamma: 0.5,
        };
        let rates: Vec<f64> = (0..5).map(|e| s.learning_rate(0.8, e, 0, 1)).collect();
        assert_eq!(rates, vec![0.8, 0.8, 0.4, 0.4, 0.2]);
        assert_eq!(LrSchedule::Constant {}.learning_rate(0.3, 9, 9, 10), 0.3);
    }

    #[test]
    fn invalid_settings_name_the_value_and_what_is_allowed() {
        let base = TrainerConfig::default();
        let cases: Vec<(TrainerConfig, &str)> = vec![
            (
                TrainerConfig {
                    epochs: 0,
                    ..base.clone()
                },
                "epochs",
            ),
            (
                TrainerConfig {
                    batch_size: 0,
                    ..base.clone()
                },
                "batch_size",
            ),
            (
                TrainerConfig {
                    learning_rate: f64::NAN,
                    ..base.clone()
                },
                "learning_rate",
            ),
            (
                TrainerConfig {
                    weight_decay: -1.0,
                    ..base.clone()
                },
                "weight_decay",
            ),
            (
                TrainerConfig {
                    optimizer: OptimizerConfig::sgd(1.5),
                    ..base.clone()
                },
                "momentum",
            ),
            (
                TrainerConfig {
                    schedule: LrSchedule::Step {
                        step_epochs: 0,
                        gamma: 0.5,
                    },
                    ..base.clone()
                },
                "step_epochs",
            ),
            (
                TrainerConfig {
                    loss: SoftTargetLossConfig::new(-1.0, 0.1, 0.9),
                    ..base.clone()
                },
                "temperature",
            ),
        ];
        for (config, name) in cases {
            let msg = config.validate().unwrap_err().to_string();
            assert!(msg.contains(name) && msg.contains("allowed"), "{msg}");
        }
        assert!(base.validate().is_ok());
    }

    #[test]
    fn unknown_keys_are_rejected_when_deserialising() {
        let err = serde_json::from_str::<TrainerConfig>(r#"{"epochs": 3, "lr": 0.1}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("lr"), "{err}");
        let ok: TrainerConfig = serde_json::from_str(
            r#"{"epochs": 3, "optimizer": {"kind": "sgd", "momentum": 0.8}, "schedule": {"kind": "cosine"}}"#,
        )
        .unwrap();
        assert_eq!(
            ok.optimizer,
            OptimizerConfig::Sgd {
                momentum: 0.8,
                nesterov: false
            }
        );
    }
}
