//! Evaluation of a list of [`LossTerm`]s on one batch: the weighted total and each term.

use burn::nn::Linear;
use burn::tensor::{Int, Tensor};
use dark_knowledge_core::Features;
use dark_knowledge_core::error::check_non_negative;
use dark_knowledge_core::error::{Error as CoreError, Result as CoreResult};
use dark_knowledge_core::loss::log_softmax_stable;
use dark_knowledge_core::rows::predicted_classes;
use serde::{Deserialize, Serialize};

#[allow(unused_imports)] // named in the docs
use dark_knowledge_data::UNLABELED;

use crate::term::{CustomTerm, DistillationTerm, TermInputs};
use crate::terms::{FeatureLayers, Layer, LayerChoice, LossTerm, TermKind, term_names};

/// How the teachers of an ensemble are combined for the logit terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// One target distribution: the weighted mean of the teachers' softened probabilities,
    /// `p̄(T) = Σ_k w_k softmax(z_k / T)`, fed to each logit term (for `lskd` and
    /// `mse_logits`, which read logits rather than probabilities, the terms are averaged).
    #[default]
    AverageProbabilities,
    /// The weighted mean of the per-teacher terms, `Σ_k w_k · term(z_s, z_k)`.
    AverageLosses,
}

/// What the teachers produced for one batch.
pub(crate) struct TeacherOutputs {
    /// One `[n, classes]` logit matrix per teacher.
    pub logits: Vec<Tensor<2>>,
    /// Per teacher, its features when a term reads them.
    pub features: Vec<Option<Features>>,
}

/// The resolved loss: its terms, their names, the ensemble weights and how to combine.
#[derive(Debug, Clone)]
pub(crate) struct Objective {
    pub terms: Vec<LossTerm>,
    /// A user's terms, after `terms`.
    pub custom: Vec<CustomTerm>,
    /// The names of `terms`, then of `custom`.
    pub names: Vec<String>,
    pub epochs: usize,
    pub weights: Vec<f64>,
    pub combine: Combine,
}

/// The weighted total (the value to differentiate) and each unweighted term, `[1]` each.
pub(crate) struct TermValues {
    pub total: Tensor<1>,
    pub values: Vec<Tensor<1>>,
}

impl Objective {
    pub fn new(
        terms: Vec<LossTerm>,
        epochs: usize,
        weights: Vec<f64>,
        combine: Combine,
    ) -> CoreResult<Self> {
        Self::with_custom(terms, Vec::new(), epochs, weights, combine)
    }

    /// The built-in `terms` and a user's `custom` ones.
    pub fn with_custom(
        terms: Vec<LossTerm>,
        custom: Vec<CustomTerm>,
        epochs: usize,
        weights: Vec<f64>,
        combine: Combine,
    ) -> CoreResult<Self> {
        for t in &terms {
            t.validate()?;
        }
        let mut names = term_names(&terms)?;
        for c in &custom {
            check_non_negative("custom term weight", c.weight)?;
            let name = c.term.name();
            if name.is_empty() || names.contains(&name) {
                return Err(CoreError::InvalidValue {
                    name: "custom term name",
                    value: format!("{name:?}"),
                    allowed: "a non-empty name no other term of the loss has",
                });
            }
            names.push(name);
        }
        Ok(Self {
            terms,
            custom,
            names,
            epochs,
            weights,
            combine,
        })
    }

    /// Whether any term reads intermediate features.
    pub fn needs_features(&self) -> bool {
        self.terms.iter().any(LossTerm::needs_features)
            || self.custom.iter().any(|c| c.term.needs_features())
    }

    /// Per teacher, whether a term reads its features.
    pub fn features_of(&self, num_teachers: usize) -> Vec<bool> {
        (0..num_teachers)
            .map(|i| {
                self.terms.iter().any(|t| t.feature_teacher() == Some(i))
                    || self
                        .custom
                        .iter()
                        .any(|c| c.term.teacher_features() == Some(i))
            })
            .collect()
    }

    /// The weight of each term at `epoch` (1-based).
    pub fn weights_at(&self, epoch: usize) -> Vec<f64> {
        let custom = self.custom.iter().map(|c| c.weight_at(epoch, self.epochs));
        self.terms
            .iter()
            .map(|t| t.weight_at(epoch, self.epochs))
            .chain(custom)
            .collect()
    }

    /// Each term's temperature at `epoch`, for the terms that have one.
    pub fn temperatures_at(&self, epoch: usize) -> Vec<(String, f64)> {
        let builtin = self
            .terms
            .iter()
            .map(|t| t.temperature_at(epoch, self.epochs));
        let custom = self
            .custom
            .iter()
            .map(|c| c.term.temperature(epoch, self.epochs));
        self.names
            .iter()
            .zip(builtin.chain(custom))
            .filter_map(|(n, t)| Some((n.clone(), t?)))
            .collect()
    }

    /// Every term on one batch. `projections` holds one hint projection per `hint` term, in
    /// order. With `partial`, targets may be [`UNLABELED`]: those rows get no
    /// cross-entropy (its mean is over the batch's labelled rows, 0 without any) and DKD
    /// splits them at the teacher's predicted class.
    pub fn compute(
        &self,
        epoch: usize,
        student: &Features,
        projections: &[Linear],
        targets: &Tensor<1, Int>,
        teachers: &TeacherOutputs,
        partial: bool,
    ) -> CoreResult<TermValues> {
        let base = TermInputs {
            student,
            teacher_logits: &teachers.logits,
            teacher_features: &teachers.features,
            teacher_weights: &self.weights,
            combine: self.combine,
            targets,
            partially_labeled: partial,
            epoch,
            epochs: self.epochs,
            projection: None,
        };
        let mut values = Vec::with_capacity(self.names.len());
        let mut hint = 0;
        for term in &self.terms {
            let mut inputs = base;
            if matches!(term.kind, TermKind::Hint { .. }) {
                inputs.projection = projections.get(hint);
                hint += 1;
            }
            values.push(term.compute(&inputs)?);
        }
        for (custom, name) in self.custom.iter().zip(&self.names[self.terms.len()..]) {
            let value = custom.term.compute(&base)?;
            if value.dims() != [1] {
                return Err(CoreError::ShapeMismatch {
                    what: "a loss term's value",
                    expected: format!("[1] (a scalar) from the term `{name}`"),
                    got: format!("{:?}", value.dims()),
                });
            }
            values.push(value);
        }
        let mut total: Option<Tensor<1>> = None;
        for (value, w) in values.iter().zip(self.weights_at(epoch)) {
            let weighted = value.clone().mul_scalar(w);
            total = Some(match total {
                None => weighted,
                Some(acc) => acc + weighted,
            });
        }
        let total = total.ok_or(CoreError::AllWeightsZero {
            details: "the loss has no terms".into(),
        })?;
        Ok(TermValues { total, values })
    }
}

/// The teachers' weighted mean distribution at temperature `t`, as log-probabilities:
/// `log Σ_k w_k softmax(z_k / t)`, computed with a log-sum-exp of exact per-teacher
/// log-probabilities (weights sum to 1). The most likely class of a confident mean
/// (`p̄ ≥ 1/2`) takes `log1p(−Σ_{c≠top} p̄_c)` instead, which keeps the digits of a
/// log-probability near 0 that the log-sum-exp rounds away.
pub(crate) fn averaged_log_probs(teachers: &[Tensor<2>], weights: &[f64], t: f64) -> Tensor<2> {
    let parts: Vec<Tensor<2>> = teachers
        .iter()
        .zip(weights)
        .map(|(z, &w)| log_softmax_stable(z.clone(), t).add_scalar(w.ln()))
        .collect();
    let stacked: Tensor<3> = Tensor::stack(parts, 0);
    let max = stacked.clone().max_dim(0);
    let sum = (stacked - max.clone()).exp().sum_dim(0);
    let [_, n, c] = max.dims();
    let log_mean = (max + sum.log()).reshape([n, c]);
    let top = predicted_classes(log_mean.clone().detach())
        .one_hot::<2>(c)
        .float();
    let others = (log_mean.clone().exp() * top.clone().neg().add_scalar(1.0)).sum_dim(1);
    let confident = others.clone().lower_elem(0.5).float();
    let top_log = others.clamp_max(0.5).neg().log1p();
    // Only the top entry of a confident row changes: log_mean + (top_log − log_mean) there.
    let correction = (top_log - log_mean.clone()) * top * confident;
    log_mean + correction
}

/// The predicted class of one teacher (the arg-max of its logits) or of an ensemble (the
/// arg-max of the `weights`' mean probabilities at T = 1).
pub(crate) fn ensemble_predicted(logits: &[Tensor<2>], weights: &[f64]) -> Tensor<1, Int> {
    if logits.len() == 1 {
        predicted_classes(logits[0].clone())
    } else {
        predicted_classes(averaged_log_probs(logits, weights, 1.0))
    }
}

/// The student's and the teacher's hidden vectors a term reads.
pub(crate) fn hidden_pair(
    student: &Features,
    teacher: &Features,
    layers: &FeatureLayers,
) -> CoreResult<(Tensor<2>, Tensor<2>)> {
    let pick_hidden = |f: &Features, layer: &LayerChoice, what| {
        pick(&f.hidden, &f.names.hidden, layer.as_ref(), what)
    };
    Ok((
        pick_hidden(student, &layers.student_layer, "student hidden vector")?,
        pick_hidden(teacher, &layers.teacher_layer, "teacher hidden vector")?,
    ))
}

/// The student's and the teacher's feature maps a term reads.
pub(crate) fn map_pair(
    student: &Features,
    teacher: &Features,
    layers: &FeatureLayers,
) -> CoreResult<(Tensor<4>, Tensor<4>)> {
    let pick_map = |f: &Features, layer: &LayerChoice, what| {
        pick(&f.maps, &f.names.maps, layer.as_ref(), what)
    };
    Ok((
        pick_map(student, &layers.student_layer, "student feature map")?,
        pick_map(teacher, &layers.teacher_layer, "teacher feature map")?,
    ))
}

/// The representation `layer` selects (the last when `None`), by name or by position, or an
/// error naming what exists.
fn pick<T: Clone>(
    list: &[T],
    names: &[String],
    layer: Option<&Layer>,
    what: &'static str,
) -> CoreResult<T> {
    let index = match layer {
        None => list.len().checked_sub(1),
        Some(Layer::Index(i)) => Some(*i),
        Some(Layer::Name(name)) => names.iter().position(|n| n == name),
    };
    index
        .and_then(|i| list.get(i))
        .cloned()
        .ok_or_else(|| CoreError::ShapeMismatch {
            what,
            expected: if list.is_empty() {
                "a model exposing this kind of feature (Classifier::forward_features)".into()
            } else if names.is_empty() {
                format!("a layer index in 0..{}", list.len())
            } else {
                format!(
                    "a layer index in 0..{} or one of the names {}",
                    list.len(),
                    names
                        .iter()
                        .map(|n| format!("\"{n}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            got: match layer {
                Some(Layer::Index(i)) => format!("layer {i}"),
                Some(Layer::Name(name)) => format!("layer \"{name}\""),
                None => "no such feature in the model".into(),
            },
        })
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, TensorData};
    use dark_knowledge_core::tensor_util::to_vec_f32;

    use super::*;

    fn row(values: &[f32], device: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(values.to_vec(), [1, values.len()]), device)
    }

    fn softmax(z: &[f64], t: f64) -> Vec<f64> {
        let m = z.iter().cloned().fold(f64::MIN, f64::max);
        let e: Vec<f64> = z.iter().map(|v| ((v - m) / t).exp()).collect();
        let s: f64 = e.iter().sum();
        e.iter().map(|v| v / s).collect()
    }

    fn kl(p: &[f64], q: &[f64]) -> f64 {
        p.iter().zip(q).map(|(p, q)| p * (p / q).ln()).sum()
    }

    #[test]
    fn a_confident_ensemble_keeps_the_digits_of_its_top_class() {
        // p̄_top = 1 − (w1 q1 + w2 q2), q = e^-g / (1 + e^-g): log p̄_top ≈ −3.5e-8, which a
        // float32 log-sum-exp of log-probabilities near 0 rounds to 0 or to ±6e-8.
        let device = Device::flex();
        let teachers = [row(&[18.0, 0.0], &device), row(&[17.0, 0.0], &device)];
        let got = to_vec_f32(averaged_log_probs(&teachers, &[0.5, 0.5], 1.0));
        let q = |g: f64| (-g).exp() / (1.0 + (-g).exp());
        let rest = 0.5 * q(18.0) + 0.5 * q(17.0);
        let want = [(-rest).ln_1p(), rest.ln()];
        for (g, w) in got.iter().zip(want) {
            assert!(
                (f64::from(*g) - w).abs() <= 1e-5 * w.abs(),
                "{got:?} vs {want:?}"
            );
        }
    }

    #[test]
    fn ensembles_average_probabilities_or_losses() {
        let device = Device::flex();
        let (z1, z2, zs) = ([2.0, 0.0, -1.0], [-1.0, 1.0, 3.0], [0.5, 0.2, 0.1]);
        let f = |v: &[f64; 3]| v.map(|x| x as f32);
        let teachers = [row(&f(&z1), &device), row(&f(&z2), &device)];
        let (w, t) = ([0.25, 0.75], 2.0);
        let (p1, p2, q) = (softmax(&z1, t), softmax(&z2, t), softmax(&zs, t));
        let mean: Vec<f64> = (0..3).map(|c| w[0] * p1[c] + w[1] * p2[c]).collect();

        let got = to_vec_f32(averaged_log_probs(&teachers, &w, t));
        for (g, m) in got.iter().zip(&mean) {
            assert!((f64::from(*g) - m.ln()).abs() < 1e-6, "{got:?} vs {mean:?}");
        }

        let kd = |combine| {
            let objective =
                Objective::new(vec![LossTerm::kd(1.0, t)], 1, w.to_vec(), combine).unwrap();
            let student = Features::logits_only(row(&f(&zs), &device));
            let outputs = TeacherOutputs {
                logits: teachers.to_vec(),
                features: vec![None, None],
            };
            let targets = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64], [1]), &device);
            let v = objective
                .compute(1, &student, &[], &targets, &outputs, false)
                .unwrap();
            f64::from(v.total.into_scalar::<f32>())
        };
        // T² · KL(p̄ ‖ q) against T² · (w1 KL(p1 ‖ q) + w2 KL(p2 ‖ q)).
        let by_probs = t * t * kl(&mean, &q);
        let by_losses = t * t * (w[0] * kl(&p1, &q) + w[1] * kl(&p2, &q));
        assert!((kd(Combine::AverageProbabilities) - by_probs).abs() < 1e-5);
        assert!((kd(Combine::AverageLosses) - by_losses).abs() < 1e-5);
        assert!(
            (by_probs - by_losses).abs() > 1e-2,
            "the two modes must differ here"
        );
    }
}
