//! How a loss term's weight or temperature changes over the epochs.

use dark_knowledge_core::error::{Error, Result, check_non_negative};
use serde::{Deserialize, Serialize};

/// How a value (a term's weight or temperature) changes over the epochs.
///
/// `epoch` is 1-based; the configured value is the one reached at full strength.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// The configured value throughout.
    Constant {},
    /// Linear warm-up: `start + (value − start) · min(1, epoch / epochs)`, so the value is
    /// reached at epoch `epochs` and kept afterwards (DKD's warm-up with `start = 0`).
    LinearWarmup {
        /// Epochs to reach the value, `>= 1`.
        epochs: usize,
        /// The value before the first epoch.
        #[serde(default)]
        start: f64,
    },
    /// Cosine from the configured value at the first epoch to `end` at the last:
    /// `end + (value − end) · (1 + cos(π · (epoch − 1) / (epochs − 1))) / 2`.
    Cosine {
        /// The value at the last epoch.
        end: f64,
    },
}

impl Default for Schedule {
    fn default() -> Self {
        Self::Constant {}
    }
}

impl Schedule {
    /// Whether the value is constant.
    pub fn is_constant(&self) -> bool {
        *self == Self::Constant {}
    }

    /// The value at `epoch` (1-based) of `epochs`, for a configured `value`.
    pub fn at(&self, value: f64, epoch: usize, epochs: usize) -> f64 {
        match *self {
            Self::Constant {} => value,
            Self::LinearWarmup {
                epochs: warmup,
                start,
            } => {
                let f = (epoch as f64 / warmup.max(1) as f64).min(1.0);
                start + (value - start) * f
            }
            Self::Cosine { end } => {
                let progress = if epochs <= 1 {
                    0.0
                } else {
                    (epoch.saturating_sub(1)) as f64 / (epochs - 1) as f64
                };
                end + 0.5 * (value - end) * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }

    pub(crate) fn validate(&self, what: &'static str) -> Result<()> {
        match *self {
            Self::Constant {} => Ok(()),
            Self::LinearWarmup { epochs, start } => {
                if epochs == 0 {
                    return Err(Error::InvalidValue {
                        name: what,
                        value: "linear_warmup with epochs = 0".into(),
                        allowed: "epochs >= 1",
                    });
                }
                check_non_negative(what, start)
            }
            Self::Cosine { end } => check_non_negative(what, end),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_follow_their_formulas() {
        let w = Schedule::LinearWarmup {
            epochs: 4,
            start: 0.0,
        };
        let v: Vec<f64> = (1..=6).map(|e| w.at(2.0, e, 6)).collect();
        assert_eq!(v, vec![0.5, 1.0, 1.5, 2.0, 2.0, 2.0]);
        let w = Schedule::LinearWarmup {
            epochs: 2,
            start: 8.0,
        };
        assert_eq!(w.at(4.0, 1, 10), 6.0);
        let c = Schedule::Cosine { end: 1.0 };
        assert!((c.at(5.0, 1, 5) - 5.0).abs() < 1e-12);
        assert!((c.at(5.0, 3, 5) - 3.0).abs() < 1e-12);
        assert!((c.at(5.0, 5, 5) - 1.0).abs() < 1e-12);
        assert_eq!(Schedule::Constant {}.at(3.0, 7, 9), 3.0);
    }
}
