//! The training loop: one trainer for teachers (hard labels) and students (distillation).

use std::time::Instant;

use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use dark_knowledge_core::loss::{SoftTargetLoss, cross_entropy_no_reduction};
use dark_knowledge_core::{
    Classifier, Error as CoreError, Teacher, TeacherBatch, check_class_counts,
};
use dark_knowledge_data::Dataset;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::config::{OptimizerConfig, TrainerConfig};
use crate::error::{Error, Result};
use crate::evaluate::{Sums, count_correct, evaluate, predicted_classes};
use crate::history::EpochRecord;
use crate::progress::{Progress, Reporter};

/// The outcome of training.
#[derive(Debug, Clone)]
pub struct TrainOutput<M> {
    /// The model after the epoch with the best validation accuracy (ties: lower validation
    /// loss, then the earlier epoch), as a `valid()` snapshot ready for inference; call
    /// `.train()` on it to train further.
    pub best: M,
    /// The model after the last epoch, as a `valid()` snapshot.
    pub last: M,
    /// The epoch (1-based) `best` comes from.
    pub best_epoch: usize,
    /// One record per epoch.
    pub history: Vec<EpochRecord>,
}

/// Trains a [`Classifier`]: from hard labels when no teacher is given (e.g. the teacher
/// itself), by distillation from a [`Teacher`] otherwise.
///
/// A custom loop rather than burn-train's `Learner`: datasets stay whole on the device and
/// batches are cut by index selection (no loader threads, no per-batch host copies), the
/// shuffling and dropout are reproducible from one seed, each loss term is kept per epoch,
/// and nothing global (logger, panic hook) is installed in the host program.
#[derive(Debug, Clone)]
pub struct Trainer {
    config: TrainerConfig,
    loss: SoftTargetLoss,
    progress: Progress,
    label: String,
}

impl Trainer {
    /// A trainer with validated settings.
    ///
    /// # Errors
    /// When a setting is out of range (see [`TrainerConfig::validate`]).
    pub fn new(config: TrainerConfig) -> Result<Self> {
        config.validate()?;
        let loss = config.loss.init()?;
        Ok(Self {
            config,
            loss,
            progress: Progress::Auto,
            label: "train".to_string(),
        })
    }

    /// The same trainer reporting progress as `progress`.
    pub fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = progress;
        self
    }

    /// The same trainer with `label` at the start of progress lines.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// The settings.
    pub fn config(&self) -> &TrainerConfig {
        &self.config
    }

    /// The distillation loss used when a teacher is given.
    pub fn loss(&self) -> &SoftTargetLoss {
        &self.loss
    }

    /// Trains `model` on `train`, validating on `valid` after each epoch.
    ///
    /// Without a teacher the loss is cross-entropy on the labels; with one it is the
    /// configured [`SoftTargetLoss`]. The teacher is never updated. The model is moved to
    /// the data's device; the device's random generator is seeded with the configured seed.
    ///
    /// # Errors
    /// Class-count or feature-count mismatches between model, teacher and data (checked
    /// before the first step); a teacher that cannot serve a batch; a loss that becomes NaN
    /// or infinite ([`Error::Diverged`]).
    pub fn fit<M: Classifier>(
        &self,
        model: M,
        train: &Dataset,
        valid: &Dataset,
        teacher: Option<&dyn Teacher>,
    ) -> Result<TrainOutput<M>> {
        self.check_compatible(&model, train, valid, teacher)?;
        let c = &self.config;
        let device = train.device();
        device.seed(c.seed);
        let mut rng = StdRng::seed_from_u64(c.seed);
        let mut model = model.fork(&device).train();
        let mut optim = build_optimizer(&c.optimizer, c.weight_decay);

        let steps_per_epoch = train.len().div_ceil(c.batch_size);
        let total_steps = steps_per_epoch * c.epochs;
        let reporter = Reporter::new(self.progress, &self.label, c.epochs, steps_per_epoch);
        let eval_teacher = teacher.map(|t| (t, &self.loss));

        let mut history = Vec::with_capacity(c.epochs);
        let mut best: Option<(M, usize, f64, f64)> = None;
        let mut order: Vec<usize> = (0..train.len()).collect();
        let mut step = 0;
        for epoch in 0..c.epochs {
            let started = Instant::now();
            order.shuffle(&mut rng);
            let mut sums = Sums::default();
            let mut lr = c.learning_rate;
            for chunk in order.chunks(c.batch_size) {
                lr = c
                    .schedule
                    .learning_rate(c.learning_rate, epoch, step, total_steps);
                let batch = train.batch(chunk);
                let logits = model.logits(batch.inputs.clone().autodiff());
                sums.correct += count_correct(logits.clone().detach(), batch.targets.clone());
                let (total, ce, kd) = match teacher {
                    Some(teacher) => {
                        let t_logits = teacher.logits(TeacherBatch {
                            inputs: &batch.inputs,
                            rows: &batch.rows,
                        })?;
                        let t_pred = predicted_classes(t_logits.clone());
                        sums.agree += count_correct(logits.clone().detach(), t_pred);
                        let terms = self.loss.forward_terms(
                            logits,
                            t_logits.detach().autodiff(),
                            batch.targets.autodiff(),
                        );
                        (terms.total, terms.ce, terms.kd)
                    }
                    None => {
                        let ce =
                            cross_entropy_no_reduction(logits, batch.targets.autodiff()).mean();
                        (ce.clone(), Some(ce), None)
                    }
                };
                sums.add(
                    chunk.len(),
                    &total.clone().detach(),
                    ce.map(|t| t.detach()).as_ref(),
                    kd.map(|t| t.detach()).as_ref(),
                );
                let grads = GradientsParams::from_grads(total.backward(), &model);
                model = optim.step(lr, model, grads);
                step += 1;
                reporter.step();
            }
            let train_metrics = sums.finish(train.len(), teacher.is_some());
            if !train_metrics.loss.is_finite() {
                reporter.finish();
                return Err(Error::Diverged {
                    epoch: epoch + 1,
                    value: train_metrics.loss,
                });
            }
            let snapshot = model.valid();
            let valid_metrics = evaluate(&snapshot, valid, eval_teacher, c.eval_batch_size)?;
            let better = match &best {
                None => true,
                Some((_, _, acc, loss)) => {
                    valid_metrics.accuracy > *acc
                        || (valid_metrics.accuracy == *acc && valid_metrics.loss < *loss)
                }
            };
            if better {
                best = Some((
                    snapshot,
                    epoch + 1,
                    valid_metrics.accuracy,
                    valid_metrics.loss,
                ));
            }
            let record = EpochRecord {
                epoch: epoch + 1,
                learning_rate: lr,
                train: train_metrics,
                valid: valid_metrics,
                seconds: started.elapsed().as_secs_f64(),
            };
            reporter.epoch_done(&record);
            history.push(record);
        }
        reporter.finish();
        let (best, best_epoch, _, _) = best.expect("epochs >= 1 is validated");
        Ok(TrainOutput {
            best,
            last: model.valid(),
            best_epoch,
            history,
        })
    }

    fn check_compatible<M: Classifier>(
        &self,
        model: &M,
        train: &Dataset,
        valid: &Dataset,
        teacher: Option<&dyn Teacher>,
    ) -> Result<()> {
        for (what, data) in [("training data", train), ("validation data", valid)] {
            if data.num_classes() != model.num_classes() {
                return Err(CoreError::ShapeMismatch {
                    what,
                    expected: format!("{} classes, as the model predicts", model.num_classes()),
                    got: format!("{} classes", data.num_classes()),
                }
                .into());
            }
            if data.num_features() != model.num_features() {
                return Err(CoreError::ShapeMismatch {
                    what,
                    expected: format!(
                        "{} features per row, as the model reads",
                        model.num_features()
                    ),
                    got: format!("{} features", data.num_features()),
                }
                .into());
            }
        }
        if let Some(teacher) = teacher {
            check_class_counts(teacher.num_classes(), model.num_classes())?;
            if let Some(f) = teacher.num_features()
                && f != train.num_features()
            {
                return Err(CoreError::ShapeMismatch {
                    what: "teacher inputs",
                    expected: format!("{} features per row, as the data has", train.num_features()),
                    got: format!("a teacher reading {f} features"),
                }
                .into());
            }
        }
        Ok(())
    }
}

fn build_optimizer(config: &OptimizerConfig, weight_decay: f64) -> ModuleOptimizer {
    let l2 = (weight_decay > 0.0).then(|| WeightDecayConfig::new(weight_decay as f32));
    match *config {
        OptimizerConfig::Adam {
            beta_1,
            beta_2,
            epsilon,
        } => AdamConfig::new()
            .with_beta_1(beta_1 as f32)
            .with_beta_2(beta_2 as f32)
            .with_epsilon(epsilon as f32)
            .with_weight_decay(l2)
            .init(),
        OptimizerConfig::AdamW {
            beta_1,
            beta_2,
            epsilon,
        } => AdamWConfig::new()
            .with_beta_1(beta_1 as f32)
            .with_beta_2(beta_2 as f32)
            .with_epsilon(epsilon as f32)
            .with_weight_decay(weight_decay as f32)
            .init(),
        OptimizerConfig::Sgd { momentum, nesterov } => SgdConfig::new()
            .with_momentum((momentum > 0.0).then(|| {
                MomentumConfig::new()
                    .with_momentum(momentum)
                    .with_dampening(0.0)
                    .with_nesterov(nesterov)
            }))
            .with_weight_decay(l2)
            .init(),
    }
}
