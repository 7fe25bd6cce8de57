//! The training loop: one trainer for teachers (hard labels) and students (distillation).

use std::sync::Arc;

use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer, SgdConfig};
use dark_knowledge_core::loss::SoftTargetLoss;
use dark_knowledge_core::{Classifier, Error as CoreError, Teacher, check_class_counts};
use dark_knowledge_data::BatchSource;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::config::{OptimizerConfig, TrainerConfig};
use crate::distillee::{Distillee, hint_projections};
use crate::error::{Error, Result};
use crate::history::EpochRecord;
use crate::mutual::{MUTUAL_TERM, MutualConfig};
use crate::objective::Objective;
use crate::observer::TrainObserver;
use crate::progress::{Progress, Reporter};
use crate::run::{Run, Watchers};
use crate::teachers::TeacherSet;
use crate::term::CustomTerm;
use crate::terms::LossTerm;

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
#[derive(Clone)]
pub struct Trainer {
    config: TrainerConfig,
    loss: SoftTargetLoss,
    progress: Progress,
    label: String,
    custom: Vec<CustomTerm>,
    observers: Vec<Arc<dyn TrainObserver>>,
}

impl std::fmt::Debug for Trainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("config", &self.config)
            .field("progress", &self.progress)
            .field("label", &self.label)
            .field("custom", &self.custom)
            .field("observers", &self.observers.len())
            .finish()
    }
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
            custom: Vec::new(),
            observers: Vec::new(),
        })
    }

    /// The same trainer with a user-defined loss term added after the configured ones.
    ///
    /// The term is trained beside the configured terms, with its weight and schedule, and
    /// recorded in the history under its name. Terms that need a teacher are left out when a
    /// model is trained from labels alone (a baseline); terms that do not are kept.
    pub fn with_term(mut self, term: CustomTerm) -> Self {
        self.custom.push(term);
        self
    }

    /// The same trainer sending step and epoch events to `observer` too (beside the progress
    /// report, itself an observer).
    pub fn with_observer(mut self, observer: Arc<dyn TrainObserver>) -> Self {
        self.observers.push(observer);
        self
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
    /// configured loss. The teacher is never updated. The model is moved to the data's
    /// device; the device's random generator is seeded with the configured seed.
    ///
    /// # Errors
    /// Class-count or feature-count mismatches between model, teacher and data (checked
    /// before the first step); a teacher that cannot serve a batch; a loss that becomes NaN
    /// or infinite ([`Error::Diverged`]).
    pub fn fit<M: Classifier>(
        &self,
        model: M,
        train: &dyn BatchSource<M::Input>,
        valid: &dyn BatchSource<M::Input>,
        teacher: Option<&dyn Teacher<M::Input>>,
    ) -> Result<TrainOutput<M>> {
        let teachers = match teacher {
            Some(t) => TeacherSet::single(t),
            None => TeacherSet::none(),
        };
        self.fit_with(model, train, valid, &teachers)
    }

    /// [`Trainer::fit`] with any number of teachers: none (labels only), one, or a weighted
    /// ensemble. Feature terms (`hint`, `attention`, `rkd`) read the student's
    /// [`Classifier::forward_features`]; each `hint` term trains its own linear projection
    /// together with the student (the projection is not part of the returned model).
    ///
    /// # Errors
    /// As [`Trainer::fit`]; also a feature term naming a layer the student or teacher does
    /// not expose, or a teacher without features.
    pub fn fit_with<M: Classifier>(
        &self,
        model: M,
        train: &dyn BatchSource<M::Input>,
        valid: &dyn BatchSource<M::Input>,
        teachers: &TeacherSet<'_, M::Input>,
    ) -> Result<TrainOutput<M>> {
        let mut outs = self.fit_group(vec![model], train, valid, teachers, None)?;
        Ok(outs.pop().expect("one model in, one out"))
    }

    /// Deep mutual learning (Zhang et al. 2018): `models` (K ≥ 2) are trained together on
    /// the same batches; each minimises its own configured loss (cross-entropy without a
    /// teacher) plus `weight · T² · mean_{j≠i} KL(p_j(T) ‖ p_i(T))`, with the peers'
    /// probabilities detached, so each student's update comes from its own loss only.
    ///
    /// # Errors
    /// As [`Trainer::fit_with`]; fewer than two models.
    pub fn fit_mutual<M: Classifier>(
        &self,
        models: Vec<M>,
        train: &dyn BatchSource<M::Input>,
        valid: &dyn BatchSource<M::Input>,
        teachers: &TeacherSet<'_, M::Input>,
        mutual: &MutualConfig,
    ) -> Result<Vec<TrainOutput<M>>> {
        mutual.validate()?;
        if models.len() < 2 {
            return Err(CoreError::InvalidValue {
                name: "students",
                value: models.len().to_string(),
                allowed: "at least 2 models for mutual learning",
            }
            .into());
        }
        if models.len() != mutual.students {
            return Err(CoreError::InvalidValue {
                name: "students",
                value: format!("{} models for students = {}", models.len(), mutual.students),
                allowed: "as many models as MutualConfig::students",
            }
            .into());
        }
        self.fit_group(models, train, valid, teachers, Some(mutual))
    }

    fn fit_group<M: Classifier>(
        &self,
        models: Vec<M>,
        train: &dyn BatchSource<M::Input>,
        valid: &dyn BatchSource<M::Input>,
        teachers: &TeacherSet<'_, M::Input>,
        mutual: Option<&MutualConfig>,
    ) -> Result<Vec<TrainOutput<M>>> {
        for model in &models {
            for teacher in teachers.members() {
                self.check_compatible(model, train, valid, Some(*teacher))?;
            }
            self.check_compatible(model, train, valid, None)?;
        }
        if let Some(augmentation) = train.augmentation()
            && let Some(t) = teachers.members().iter().find(|t| !t.reads_inputs())
        {
            return Err(Error::AugmentedLookupTeacher {
                teacher: t.describe(),
                augmentation,
            });
        }
        let c = &self.config;
        let terms = match (teachers.is_empty(), mutual.is_some()) {
            (false, _) => c.loss_terms(),
            // Without a teacher: a baseline learns from the labels alone, with weight 1;
            // mutual students keep the configured terms that need no teacher.
            (true, false) => vec![LossTerm::ce(1.0)],
            (true, true) => {
                let own: Vec<LossTerm> = c
                    .loss_terms()
                    .into_iter()
                    .filter(|t| !t.needs_teacher_logits() && !t.needs_features())
                    .collect();
                if own.is_empty() {
                    vec![LossTerm::ce(1.0)]
                } else {
                    own
                }
            }
        };
        let custom: Vec<CustomTerm> = self
            .custom
            .iter()
            .filter(|t| !teachers.is_empty() || !t.term.needs_teacher())
            .cloned()
            .collect();
        let objective = Objective::with_custom(
            terms,
            custom,
            c.epochs,
            teachers.weights().to_vec(),
            teachers.combine(),
        )?;
        let mut names = objective.names.clone();
        if mutual.is_some() {
            names.push(MUTUAL_TERM.to_string());
        }
        let device = train.device();
        device.seed(c.seed);
        let mut rng = StdRng::seed_from_u64(c.seed);
        let mut students = Vec::with_capacity(models.len());
        let mut optims = Vec::with_capacity(models.len());
        for model in models {
            let model = model.fork(&device).train();
            let projections = hint_projections(&objective, &model, train, teachers)?;
            students.push(Distillee { model, projections });
            optims.push(build_optimizer(&c.optimizer, c.weight_decay));
        }
        let k = students.len();
        let steps_per_epoch = train.len().div_ceil(c.batch_size);
        let reporter = Reporter::new(self.progress, &self.label, c.epochs, steps_per_epoch);
        let watchers = Watchers::new(&reporter, &self.observers);
        watchers.each(|o| o.start(c.epochs, steps_per_epoch));
        let mut run = Run {
            config: c,
            objective,
            names,
            train,
            valid,
            teachers,
            mutual,
            watchers,
            students,
            optims,
            total_steps: steps_per_epoch * c.epochs,
            step: 0,
            bests: (0..k).map(|_| None).collect(),
            histories: vec![Vec::with_capacity(c.epochs); k],
        };
        // u32 positions: 4 bytes a row for the one array that grows with the data; the
        // shuffle's permutation does not depend on the element type.
        let rows = u32::try_from(train.len()).map_err(|_| CoreError::InvalidValue {
            name: "training rows",
            value: train.len().to_string(),
            allowed: "at most 4,294,967,295 rows",
        })?;
        let mut order: Arc<[u32]> = (0..rows).collect();
        for epoch in 0..c.epochs {
            // In place unless a loader thread of the last epoch still holds the plan.
            Arc::make_mut(&mut order).shuffle(&mut rng);
            run.epoch(epoch, &order)?;
        }
        Ok(run.outputs())
    }

    fn check_compatible<M: Classifier>(
        &self,
        model: &M,
        train: &dyn BatchSource<M::Input>,
        valid: &dyn BatchSource<M::Input>,
        teacher: Option<&dyn Teacher<M::Input>>,
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
            if let (Some(d), Some(m)) = (data.num_features(), model.num_features())
                && d != m
            {
                return Err(CoreError::ShapeMismatch {
                    what,
                    expected: format!("{m} features per row, as the model reads"),
                    got: format!("{d} features"),
                }
                .into());
            }
        }
        if let Some(teacher) = teacher {
            check_class_counts(teacher.num_classes(), model.num_classes())?;
            if let (Some(f), Some(d)) = (teacher.num_features(), train.num_features())
                && f != d
            {
                return Err(CoreError::ShapeMismatch {
                    what: "teacher inputs",
                    expected: format!("{d} features per row, as the data has"),
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
