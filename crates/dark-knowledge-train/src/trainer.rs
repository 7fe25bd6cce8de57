//! The training loop: one trainer for teachers (hard labels) and students (distillation).

use std::sync::Arc;
use std::time::Instant;

use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use std::collections::BTreeMap;

use burn::module::Module;
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::Tensor;
use dark_knowledge_core::loss::SoftTargetLoss;
use dark_knowledge_core::{
    Classifier, Error as CoreError, ModelInput, Teacher, TeacherBatch, check_class_counts,
};
use dark_knowledge_data::{BatchSource, EpochPlan};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::config::{OptimizerConfig, TrainerConfig};
use crate::distillee::{Distillee, detached, hint_projections};
use crate::error::{Error, Result};
use crate::evaluate::{Sums, count_correct, evaluate_objective, student_outputs};
use crate::history::EpochRecord;
use crate::mutual::{MUTUAL_TERM, MutualConfig, mutual_terms};
use crate::objective::Objective;
use crate::progress::{Progress, Reporter};
use crate::teachers::TeacherSet;
use crate::observer::{StepEvent, TrainObserver};
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
        let features_of = objective.features_of(teachers.len());
        let with_features = objective.needs_features();
        let partial = train.is_partially_labeled();
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
        let total_steps = steps_per_epoch * c.epochs;
        let reporter = Reporter::new(self.progress, &self.label, c.epochs, steps_per_epoch);
        let watchers = Watchers::new(&reporter, &self.observers);
        watchers.each(|o| o.start(c.epochs, steps_per_epoch));

        let mut histories: Vec<Vec<EpochRecord>> = vec![Vec::with_capacity(c.epochs); k];
        let mut bests: Vec<Option<(M, usize, f64, f64)>> = (0..k).map(|_| None).collect();
        let mut order: Vec<usize> = (0..train.len()).collect();
        let mut step = 0;
        for epoch in 0..c.epochs {
            let started = Instant::now();
            order.shuffle(&mut rng);
            let mut sums: Vec<Sums> = (0..k).map(|_| Sums::new(names.len())).collect();
            let mut lr = c.learning_rate;
            let plan = EpochPlan {
                epoch: epoch + 1,
                seed: c.seed,
                chunks: order.chunks(c.batch_size).map(<[usize]>::to_vec).collect(),
            };
            for batch in train.batches(&plan) {
                let batch = batch?;
                let rows = batch.rows.len();
                lr = c
                    .schedule
                    .learning_rate(c.learning_rate, epoch, step, total_steps);
                let t_out = teachers.outputs(
                    TeacherBatch {
                        inputs: &batch.inputs,
                        rows: &batch.rows,
                    },
                    &features_of,
                    true,
                )?;
                let t_pred = (!teachers.is_empty()).then(|| teachers.predicted(&t_out.logits));
                let targets = batch.targets.clone().autodiff();
                let labeled = batch.labeled;
                let mut outputs = Vec::with_capacity(k);
                for (student, sums) in students.iter().zip(sums.iter_mut()) {
                    let out = student_outputs(
                        &student.model,
                        batch.inputs.clone().autodiff(),
                        with_features,
                    );
                    let logits = out.logits.clone().detach();
                    sums.correct += count_correct(logits.clone(), batch.targets.clone());
                    sums.labeled += labeled;
                    if let Some(t_pred) = &t_pred {
                        sums.agree += count_correct(logits, t_pred.clone());
                    }
                    outputs.push(out);
                }
                let peers = mutual.map(|m| {
                    let logits: Vec<Tensor<2>> = outputs.iter().map(|o| o.logits.clone()).collect();
                    (m.weight, mutual_terms(&logits, m.temperature))
                });
                let mut total: Option<Tensor<1>> = None;
                for (i, (out, student)) in outputs.iter().zip(&students).enumerate() {
                    let mut values = objective.compute(
                        epoch + 1,
                        out,
                        &student.projections,
                        &targets,
                        &t_out,
                        partial,
                    )?;
                    if let Some((w, terms)) = &peers {
                        values.total = values.total + terms[i].clone().mul_scalar(*w);
                        values.values.push(terms[i].clone());
                    }
                    total = Some(match total {
                        None => values.total.clone(),
                        Some(acc) => acc + values.total.clone(),
                    });
                    let (loss, values) = sums[i].add(rows, &detached(values));
                    let event = StepEvent {
                        student: i,
                        epoch: epoch + 1,
                        step: step + 1,
                        total_steps,
                        learning_rate: lr,
                        rows,
                        loss,
                        names: &names,
                        values: &values,
                    };
                    watchers.each(|o| o.step(&event));
                }
                let mut grads = total.expect("at least one student").backward();
                students = students
                    .into_iter()
                    .zip(optims.iter_mut())
                    .map(|(student, optim)| {
                        let g = GradientsParams::from_module(&mut grads, &student);
                        optim.step(lr, student, g)
                    })
                    .collect();
                step += 1;
            }
            let seconds = started.elapsed().as_secs_f64();
            for (i, sums) in sums.into_iter().enumerate() {
                let train_metrics = sums.finish(train.len(), !teachers.is_empty(), &names);
                if !train_metrics.loss.is_finite() {
                    return Err(Error::Diverged {
                        epoch: epoch + 1,
                        value: train_metrics.loss,
                    });
                }
                let snapshot = students[i].valid();
                let valid_metrics = evaluate_objective(
                    &snapshot.model,
                    &snapshot.projections,
                    valid,
                    teachers,
                    &objective,
                    epoch + 1,
                    c.eval_batch_size,
                )?;
                let better = match &bests[i] {
                    None => true,
                    Some((_, _, acc, loss)) => {
                        valid_metrics.accuracy > *acc
                            || (valid_metrics.accuracy == *acc && valid_metrics.loss < *loss)
                    }
                };
                if better {
                    bests[i] = Some((
                        snapshot.model,
                        epoch + 1,
                        valid_metrics.accuracy,
                        valid_metrics.loss,
                    ));
                }
                let mut term_weights: BTreeMap<String, f64> = objective
                    .names
                    .iter()
                    .cloned()
                    .zip(objective.weights_at(epoch + 1))
                    .collect();
                if let Some(m) = mutual {
                    term_weights.insert(MUTUAL_TERM.to_string(), m.weight);
                }
                let record = EpochRecord {
                    epoch: epoch + 1,
                    learning_rate: lr,
                    train: train_metrics,
                    valid: valid_metrics,
                    seconds,
                    term_weights,
                    temperatures: objective.temperatures_at(epoch + 1).into_iter().collect(),
                };
                watchers.each(|o| o.epoch(i, &record));
                histories[i].push(record);
            }
        }
        drop(watchers);
        Ok(students
            .into_iter()
            .zip(bests)
            .zip(histories)
            .map(|((student, best), history)| {
                let (best, best_epoch, _, _) = best.expect("epochs >= 1 is validated");
                TrainOutput {
                    best,
                    last: student.model.valid(),
                    best_epoch,
                    history,
                }
            })
            .collect())
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

/// The progress report and the user's observers; `finish` is sent to each when training
/// ends, also on an error.
struct Watchers<'a>(Vec<&'a dyn TrainObserver>);

impl<'a> Watchers<'a> {
    fn new(reporter: &'a Reporter, observers: &'a [Arc<dyn TrainObserver>]) -> Self {
        let mut all: Vec<&'a dyn TrainObserver> = vec![reporter];
        all.extend(observers.iter().map(|o| o.as_ref()));
        Self(all)
    }

    fn each(&self, f: impl Fn(&dyn TrainObserver)) {
        for o in &self.0 {
            f(*o);
        }
    }
}

impl Drop for Watchers<'_> {
    fn drop(&mut self) {
        self.each(|o| o.finish());
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
