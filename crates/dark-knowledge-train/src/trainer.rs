//! The training loop: one trainer for teachers (hard labels) and students (distillation).

use std::sync::Arc;

use dark_knowledge_core::loss::SoftTargetLoss;
use dark_knowledge_core::{Classifier, Error as CoreError, Teacher};
use dark_knowledge_data::BatchSource;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::checkpoint::{self, CheckpointConfig, Fingerprint};
use crate::config::TrainerConfig;
use crate::distillee::{Distillee, hint_projections};
use crate::error::Result;
use crate::history::EpochRecord;
use crate::mutual::MutualConfig;
use crate::observer::TrainObserver;
use crate::progress::{Progress, Reporter};
use crate::run::{EpochStart, Run, Watchers};
use crate::setup::{build_optimizer, check_run, objective_for};
use crate::stopping::EarlyStop;
use crate::teachers::TeacherSet;
use crate::term::CustomTerm;

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
    /// Where and why early stopping ended the run, if it did.
    pub stopped: Option<EarlyStop>,
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
    checkpoints: Option<CheckpointConfig>,
    resume: bool,
}

impl std::fmt::Debug for Trainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("config", &self.config)
            .field("progress", &self.progress)
            .field("label", &self.label)
            .field("custom", &self.custom)
            .field("observers", &self.observers.len())
            .field("checkpoints", &self.checkpoints)
            .field("resume", &self.resume)
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
            checkpoints: None,
            resume: false,
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

    /// The same trainer writing checkpoints as `checkpoints` says (after every epoch, and
    /// every N steps when set). A run that does not resume starts by removing the
    /// checkpoints already in the directory.
    pub fn with_checkpoints(mut self, checkpoints: CheckpointConfig) -> Self {
        self.checkpoints = Some(checkpoints);
        self
    }

    /// The same trainer resuming from the newest checkpoint in the directory set with
    /// [`Trainer::with_checkpoints`] (from the start when it holds none): every `fit*` call
    /// then resumes, `trainer.resuming().fit(model, …)`. `model` must be built as for the
    /// interrupted run (its weights are replaced by the checkpoint's); the run then ends with
    /// the same weights, bit for bit, as one never interrupted (same seed, same device).
    /// Temporary files left by a killed run are removed.
    ///
    /// A `fit*` call of a resuming trainer fails as [`Trainer::fit`] does, and also without a
    /// checkpoint directory, or on a checkpoint that is truncated, damaged or from another
    /// experiment (settings, data shape, teachers, loss terms, tag or model architecture):
    /// [`Error::Checkpoint`](crate::Error::Checkpoint) names the file and the problem.
    pub fn resuming(mut self) -> Self {
        self.resume = true;
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
        check_run(
            &self.config,
            &models,
            train,
            valid,
            teachers,
            self.checkpoints.as_ref(),
            self.resume,
        )?;
        let c = &self.config;
        let (objective, names) = objective_for(c, &self.custom, teachers, mutual)?;
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
        let fingerprint = self.fingerprint(k, train, valid, teachers, &names);
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
            checkpoints: self.checkpoints.as_ref().map(|k| (k, fingerprint)),
            stopped: vec![None; k],
            device,
        };
        let (first_epoch, start) = self.restore(&mut run)?;
        run.drive(&mut rng, first_epoch, start)?;
        Ok(run.outputs())
    }

    /// What identifies this run's experiment in its checkpoints.
    fn fingerprint<I>(
        &self,
        students: usize,
        train: &dyn BatchSource<I>,
        valid: &dyn BatchSource<I>,
        teachers: &TeacherSet<'_, I>,
        names: &[String],
    ) -> Fingerprint {
        Fingerprint {
            settings: serde_json::to_value(&self.config).unwrap_or_default(),
            tag: self
                .checkpoints
                .as_ref()
                .map(|k| k.tag.clone())
                .unwrap_or_default(),
            students,
            train_rows: train.len(),
            valid_rows: valid.len(),
            classes: train.num_classes(),
            features: train.num_features(),
            teachers: teachers.members().iter().map(|t| t.describe()).collect(),
            terms: names.to_vec(),
        }
    }

    /// Resumes `run` from the newest checkpoint when resuming: the first epoch to train and
    /// where it starts. A finished or early-stopped run trains no epoch.
    fn restore<M: Classifier>(&self, run: &mut Run<'_, '_, M>) -> Result<(usize, EpochStart)> {
        let fresh = (0, EpochStart::fresh());
        let Some(config) = &self.checkpoints else {
            return Ok(fresh);
        };
        checkpoint::remove_stale_temp_files(&config.dir);
        if !self.resume {
            checkpoint::clear(&config.dir)?;
            return Ok(fresh);
        }
        let Some(path) = config.latest()? else {
            return Ok(fresh);
        };
        let fingerprint = &run.checkpoints.as_ref().expect("set with the config").1;
        let restored = checkpoint::load(&path, fingerprint)?;
        let (position, start) = run.restore(restored)?;
        // Early stopping ended the run when it gave every student a reason.
        let stopped = run.stopped.iter().any(Option::is_some);
        let first = if stopped {
            self.config.epochs
        } else {
            position.epoch
        };
        Ok((first, start))
    }
}
