//! The loss as a weighted sum of named terms, each with its own settings and schedules.
//!
//! In an experiment file every term is one `[[loss]]` table:
//!
//! ```toml
//! [[loss]]
//! kind = "ce"
//! weight = 1.0
//!
//! [[loss]]
//! kind = "dkd"
//! weight = 1.0
//! temperature = 4.0
//! alpha = 1.0
//! beta = 8.0
//! warmup_epochs = 20
//! ```

use dark_knowledge_core::error::{Error, Result, check_non_negative, check_positive};
use dark_knowledge_core::loss::{
    DecoupledKdConfig, DistConfig, LogitStandardizedKdConfig, SoftTargetLossConfig,
};
use serde::{Deserialize, Serialize};

pub use crate::schedule::Schedule;
use crate::term_kind::one;
pub use crate::term_kind::{FeatureLayers, Layer, LayerChoice, TermKind};

/// One named, weighted term of the loss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LossTerm {
    /// The name in logs and history; the kind by default (`hint`, then `hint_2`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The weight `>= 0` at full strength.
    #[serde(default = "one")]
    pub weight: f64,
    /// How the weight changes over the epochs.
    #[serde(default, skip_serializing_if = "Schedule::is_constant")]
    pub weight_schedule: Schedule,
    /// The method and its settings.
    #[serde(flatten)]
    pub kind: TermKind,
}

impl LossTerm {
    /// A term of `kind` with `weight`, constant, named after its kind.
    pub fn new(kind: TermKind, weight: f64) -> Self {
        Self {
            name: None,
            weight,
            weight_schedule: Schedule::Constant {},
            kind,
        }
    }

    /// Cross-entropy with the labels.
    pub fn ce(weight: f64) -> Self {
        Self::new(TermKind::Ce {}, weight)
    }

    /// Soft-target KD at temperature `temperature`.
    pub fn kd(weight: f64, temperature: f64) -> Self {
        Self::new(
            TermKind::Kd {
                temperature,
                temperature_schedule: Schedule::Constant {},
                top_k: None,
            },
            weight,
        )
    }

    /// The same term with another name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The same term with a weight schedule.
    pub fn with_weight_schedule(mut self, schedule: Schedule) -> Self {
        self.weight_schedule = schedule;
        self
    }

    /// The kind as written in files (`"ce"`, `"dkd"`, …).
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            TermKind::Ce {} => "ce",
            TermKind::Kd { .. } => "kd",
            TermKind::Dkd { .. } => "dkd",
            TermKind::Dist { .. } => "dist",
            TermKind::Lskd { .. } => "lskd",
            TermKind::MseLogits {} => "mse_logits",
            TermKind::Hint { .. } => "hint",
            TermKind::Attention { .. } => "attention",
            TermKind::Rkd { .. } => "rkd",
        }
    }

    /// Whether the term needs a teacher's logits.
    pub fn needs_teacher_logits(&self) -> bool {
        matches!(
            self.kind,
            TermKind::Kd { .. }
                | TermKind::Dkd { .. }
                | TermKind::Dist { .. }
                | TermKind::Lskd { .. }
                | TermKind::MseLogits {}
        )
    }

    /// Whether the term reads intermediate features (of the student and a teacher).
    pub fn needs_features(&self) -> bool {
        self.kind.feature_layers().is_some()
    }

    /// The teacher whose features the term reads, for feature terms.
    pub fn feature_teacher(&self) -> Option<usize> {
        self.kind.feature_layers().map(|layers| layers.teacher)
    }

    /// The weight at `epoch` (1-based) of `epochs`, DKD's warm-up included.
    pub fn weight_at(&self, epoch: usize, epochs: usize) -> f64 {
        let w = self.weight_schedule.at(self.weight, epoch, epochs);
        match self.kind {
            TermKind::Dkd { warmup_epochs, .. } if warmup_epochs > 0 => {
                w * (epoch as f64 / warmup_epochs as f64).min(1.0)
            }
            _ => w,
        }
    }

    /// The temperature at `epoch`, for terms that have one.
    pub fn temperature_at(&self, epoch: usize, epochs: usize) -> Option<f64> {
        let (t, s) = match &self.kind {
            TermKind::Kd {
                temperature,
                temperature_schedule,
                ..
            }
            | TermKind::Dkd {
                temperature,
                temperature_schedule,
                ..
            }
            | TermKind::Lskd {
                temperature,
                temperature_schedule,
            } => (*temperature, temperature_schedule),
            TermKind::Dist {
                tau,
                temperature_schedule,
                ..
            } => (*tau, temperature_schedule),
            _ => return None,
        };
        Some(s.at(t, epoch, epochs))
    }

    /// Checks every setting, at every temperature the schedule reaches.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] naming the setting.
    pub fn validate(&self) -> Result<()> {
        check_non_negative("weight", self.weight)?;
        self.weight_schedule.validate("weight_schedule")?;
        match &self.kind {
            TermKind::Ce {} | TermKind::MseLogits {} => {}
            TermKind::Kd {
                temperature,
                temperature_schedule,
                top_k,
            } => {
                let mut c = SoftTargetLossConfig::new(*temperature, 0.0, 1.0);
                c.top_k = *top_k;
                c.init()?;
                check_schedule_temperature(temperature_schedule)?;
            }
            TermKind::Dkd {
                temperature,
                temperature_schedule,
                alpha,
                beta,
                ..
            } => {
                DecoupledKdConfig::new(*temperature, *alpha, *beta).init()?;
                check_schedule_temperature(temperature_schedule)?;
            }
            TermKind::Dist {
                tau,
                temperature_schedule,
                beta,
                gamma,
            } => {
                DistConfig::new(*tau, *beta, *gamma).init()?;
                check_schedule_temperature(temperature_schedule)?;
            }
            TermKind::Lskd {
                temperature,
                temperature_schedule,
            } => {
                LogitStandardizedKdConfig::new(*temperature).init()?;
                check_schedule_temperature(temperature_schedule)?;
            }
            TermKind::Hint { .. } => {}
            TermKind::Attention { p, .. } => check_positive("p", *p)?,
            TermKind::Rkd {
                distance_weight,
                angle_weight,
                ..
            } => dark_knowledge_core::error::check_weights(&[
                ("distance_weight", *distance_weight),
                ("angle_weight", *angle_weight),
            ])?,
        }
        Ok(())
    }
}

fn check_schedule_temperature(s: &Schedule) -> Result<()> {
    s.validate("temperature_schedule")?;
    match *s {
        Schedule::Cosine { end } => check_positive("temperature_schedule end", end),
        // The warm-up starts above `start` at epoch 1, so `start = 0` is allowed.
        Schedule::LinearWarmup { .. } | Schedule::Constant {} => Ok(()),
    }
}

/// The terms of a classic `ce_weight · CE + kd_weight · T² KL` loss (terms with weight 0
/// left out), named `ce` and `kd`.
pub fn classic_terms(config: &SoftTargetLossConfig) -> Vec<LossTerm> {
    let mut terms = Vec::new();
    if config.ce_weight > 0.0 {
        terms.push(LossTerm::ce(config.ce_weight));
    }
    if config.kd_weight > 0.0 {
        let mut kd = LossTerm::kd(config.kd_weight, config.temperature);
        if let TermKind::Kd { top_k, .. } = &mut kd.kind {
            *top_k = config.top_k;
        }
        terms.push(kd);
    }
    terms
}

/// A one-line description of a loss, e.g.
/// `0.5 · ce + 0.5 · kd (T = 2)` or `1 · ce + 1 · dkd (T = 4, α = 1, β = 8, warm-up 20 epochs)`.
pub fn describe_terms(terms: &[LossTerm]) -> String {
    terms
        .iter()
        .map(|t| {
            let settings = match &t.kind {
                TermKind::Ce {} | TermKind::MseLogits {} | TermKind::Hint { .. } => String::new(),
                TermKind::Kd {
                    temperature, top_k, ..
                } => match top_k {
                    Some(k) => format!("T = {temperature}, top-{k}"),
                    None => format!("T = {temperature}"),
                },
                TermKind::Dkd {
                    temperature,
                    alpha,
                    beta,
                    warmup_epochs,
                    ..
                } => format!(
                    "T = {temperature}, α = {alpha}, β = {beta}, warm-up {warmup_epochs} epochs"
                ),
                TermKind::Dist {
                    tau, beta, gamma, ..
                } => format!("τ = {tau}, β = {beta}, γ = {gamma}"),
                TermKind::Lskd { temperature, .. } => format!("T = {temperature}"),
                TermKind::Attention { p, .. } => format!("p = {p}"),
                TermKind::Rkd {
                    distance_weight,
                    angle_weight,
                    ..
                } => format!("distance {distance_weight}, angle {angle_weight}"),
            };
            let mut text = format!("{} · {}", t.weight, t.kind_name());
            if !settings.is_empty() {
                text.push_str(&format!(" ({settings})"));
            }
            if !t.weight_schedule.is_constant() {
                text.push_str(&format!(" [weight {:?}]", t.weight_schedule));
            }
            text
        })
        .collect::<Vec<_>>()
        .join(" + ")
}

/// The unique names of `terms`: each term's `name`, or its kind, suffixed `_2`, `_3`, … when
/// a kind repeats.
///
/// # Errors
/// When two terms are given the same explicit name.
pub fn term_names(terms: &[LossTerm]) -> Result<Vec<String>> {
    let mut names: Vec<String> = Vec::with_capacity(terms.len());
    for term in terms {
        let name = match &term.name {
            Some(n) => {
                if names.contains(n) || n.is_empty() {
                    return Err(Error::InvalidValue {
                        name: "loss term name",
                        value: format!("{n:?}"),
                        allowed: "a non-empty name used by one term only",
                    });
                }
                n.clone()
            }
            None => {
                let base = term.kind_name();
                let mut candidate = base.to_string();
                let mut k = 2;
                let taken = |c: &String| {
                    names.contains(c) || terms.iter().any(|t| t.name.as_ref() == Some(c))
                };
                while taken(&candidate) {
                    candidate = format!("{base}_{k}");
                    k += 1;
                }
                candidate
            }
        };
        names.push(name);
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dkd_warm_up_is_linear_in_the_epoch() {
        let t: LossTerm =
            toml::from_str("kind = \"dkd\"\nweight = 2.0\nwarmup_epochs = 5\ntemperature = 4.0")
                .unwrap();
        let w: Vec<f64> = (1..=7).map(|e| t.weight_at(e, 7)).collect();
        assert_eq!(w, vec![0.4, 0.8, 1.2, 1.6, 2.0, 2.0, 2.0]);
    }

    #[test]
    fn terms_parse_with_defaults_and_reject_unknown_keys() {
        let t: LossTerm = toml::from_str("kind = \"dist\"").unwrap();
        assert_eq!(t.weight, 1.0);
        assert_eq!(
            t.kind,
            TermKind::Dist {
                tau: 1.0,
                temperature_schedule: Schedule::Constant {},
                beta: 1.0,
                gamma: 1.0
            }
        );
        let err = toml::from_str::<LossTerm>("kind = \"dkd\"\nbetta = 2.0")
            .unwrap_err()
            .to_string();
        assert!(err.contains("betta"), "{err}");
        let err = toml::from_str::<LossTerm>("kind = \"fitnet\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("fitnet") && err.contains("hint"), "{err}");
        let t: LossTerm = toml::from_str(
            "kind = \"kd\"\ntemperature = 8.0\ntemperature_schedule = { kind = \"cosine\", end = 2.0 }",
        )
        .unwrap();
        assert_eq!(t.temperature_at(1, 3), Some(8.0));
        assert_eq!(t.temperature_at(3, 3), Some(2.0));
    }

    #[test]
    fn kinds_without_settings_reject_stray_keys_too() {
        // `ce` and `mse_logits` have no settings of their own: a typo of `weight`, or a
        // setting of another kind, must be an error rather than silently dropped.
        for (text, key) in [
            ("kind = \"ce\"\nwieght = 2.0", "wieght"),
            ("kind = \"ce\"\ntemperature = 4.0", "temperature"),
            ("kind = \"mse_logits\"\nbeta = 1.0", "beta"),
            (
                "kind = \"kd\"\nweight_schedule = { kind = \"constant\", end = 0.0 }",
                "end",
            ),
        ] {
            let err = toml::from_str::<LossTerm>(text).unwrap_err().to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
        let t: LossTerm = toml::from_str("kind = \"ce\"\nweight = 0.5").unwrap();
        assert_eq!((t.kind, t.weight), (TermKind::Ce {}, 0.5));
        let t: LossTerm =
            toml::from_str("kind = \"mse_logits\"\nweight_schedule = { kind = \"constant\" }")
                .unwrap();
        assert_eq!(t.kind, TermKind::MseLogits {});
    }

    #[test]
    fn invalid_settings_name_the_setting() {
        let cases = [
            ("kind = \"kd\"\ntemperature = 0.0", "temperature"),
            ("kind = \"ce\"\nweight = -1.0", "weight"),
            ("kind = \"dkd\"\nalpha = -1.0", "alpha"),
            ("kind = \"attention\"\np = 0.0", "p"),
            (
                "kind = \"rkd\"\ndistance_weight = 0.0\nangle_weight = 0.0",
                "all loss weights are 0",
            ),
            (
                "kind = \"kd\"\ntemperature_schedule = { kind = \"cosine\", end = 0.0 }",
                "temperature_schedule",
            ),
            (
                "kind = \"ce\"\nweight_schedule = { kind = \"linear_warmup\", epochs = 0 }",
                "weight_schedule",
            ),
        ];
        for (text, needle) in cases {
            let t: LossTerm = toml::from_str(text).unwrap();
            let msg = t.validate().unwrap_err().to_string();
            assert!(msg.contains(needle), "{text}: {msg}");
        }
    }

    #[test]
    fn names_default_to_the_kind_and_repeat_with_a_suffix() {
        let terms = vec![
            LossTerm::ce(1.0),
            LossTerm::kd(1.0, 2.0),
            LossTerm::kd(1.0, 8.0),
            LossTerm::kd(1.0, 4.0).named("sharp"),
        ];
        assert_eq!(
            term_names(&terms).unwrap(),
            vec!["ce", "kd", "kd_2", "sharp"]
        );
        let dup = vec![LossTerm::ce(1.0).named("x"), LossTerm::ce(1.0).named("x")];
        assert!(term_names(&dup).unwrap_err().to_string().contains("\"x\""));
    }
}
