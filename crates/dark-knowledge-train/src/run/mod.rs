//! One training run of one or more students: the steps of an epoch, the validation after it,
//! the best models and the history.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor};
use dark_knowledge_core::{Classifier, Error as CoreError, Features, ModelInput, TeacherBatch};
use dark_knowledge_data::{Batch, BatchSource, EpochPlan, mix_seed};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::checkpoint::{CheckpointConfig, Fingerprint, Position};
use crate::config::TrainerConfig;
use crate::distillee::{Distillee, detached};
use crate::error::{Error, Result};
use crate::evaluate::{Sums, count_correct, evaluate_objective, student_outputs, valid_auc};
use crate::history::EpochRecord;
use crate::mutual::{MUTUAL_TERM, MutualConfig, mutual_terms};
use crate::objective::{Objective, TeacherOutputs};
use crate::observer::{StepEvent, TrainObserver};
use crate::progress::Reporter;
use crate::stopping::{EarlyStop, StopMetric};
use crate::teachers::TeacherSet;
use crate::trainer::TrainOutput;

mod finish;

/// The progress report and the user's observers; `finish` is sent to each when the run ends,
/// also on an error.
pub(crate) struct Watchers<'a>(Vec<&'a dyn TrainObserver>);

impl<'a> Watchers<'a> {
    pub(crate) fn new(reporter: &'a Reporter, observers: &'a [Arc<dyn TrainObserver>]) -> Self {
        let mut all: Vec<&'a dyn TrainObserver> = vec![reporter];
        all.extend(observers.iter().map(|o| o.as_ref()));
        Self(all)
    }

    pub(crate) fn each(&self, f: impl Fn(&dyn TrainObserver)) {
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

/// The best model of a student so far: the model, its epoch, validation accuracy and loss.
type Best<M> = Option<(M, usize, f64, f64)>;

/// What a run reads (settings, data, teachers, the loss) and what it moves (the students,
/// their optimisers, the step, the best models and the histories).
pub(crate) struct Run<'a, 't, M: Classifier> {
    pub config: &'a TrainerConfig,
    pub objective: Objective,
    /// The objective's term names, and `mutual` for mutual learning.
    pub names: Vec<String>,
    pub train: &'a dyn BatchSource<M::Input>,
    pub valid: &'a dyn BatchSource<M::Input>,
    pub teachers: &'a TeacherSet<'t, M::Input>,
    pub mutual: Option<&'a MutualConfig>,
    pub watchers: Watchers<'a>,
    pub students: Vec<Distillee<M>>,
    pub optims: Vec<ModuleOptimizer>,
    pub total_steps: usize,
    pub step: usize,
    pub bests: Vec<Best<M>>,
    pub histories: Vec<Vec<EpochRecord>>,
    /// Where checkpoints go, and what identifies the experiment in them.
    pub checkpoints: Option<(&'a CheckpointConfig, Fingerprint)>,
    /// Why each student stopped early, once the run has.
    pub stopped: Vec<Option<EarlyStop>>,
    pub device: Device,
}

/// Where an epoch starts: at its first batch, or inside it when a run resumes.
#[derive(Debug, Clone)]
pub(crate) struct EpochStart {
    /// Batches of the epoch already trained.
    pub batches_done: usize,
    /// Their sums, per student.
    pub sums: Option<Vec<Sums>>,
    /// Seconds already spent in the epoch.
    pub seconds: f64,
}

impl EpochStart {
    /// The start of an epoch: no batch trained yet.
    pub(crate) fn fresh() -> Self {
        Self {
            batches_done: 0,
            sums: None,
            seconds: 0.0,
        }
    }
}

/// What the losses of one training step read besides the students' outputs.
struct StepInputs<'b> {
    /// The epoch, 0-based.
    epoch: usize,
    /// Rows in the batch.
    rows: usize,
    /// The learning rate of the step.
    lr: f64,
    /// The batch's labels, on the autodiff device.
    targets: &'b Tensor<1, Int>,
    /// What the teachers produced for the batch.
    teachers: &'b TeacherOutputs,
}

/// The seed of the device's generator before global step `step` (0-based): dropout masks
/// depend on the seed and the step only, not on where a run was resumed.
fn step_seed(seed: u64, step: usize) -> u64 {
    mix_seed(
        seed ^ (step as u64)
            .wrapping_add(1)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15),
    )
}

impl<M: Classifier> Run<'_, '_, M> {
    /// Trains epoch `epoch` (0-based) over the rows in `order` from `start`, then validates
    /// each student; returns whether early stopping ends the run.
    pub(crate) fn epoch(
        &mut self,
        epoch: usize,
        order: &Arc<[u32]>,
        start: EpochStart,
    ) -> Result<bool> {
        let c = self.config;
        let started = Instant::now();
        let mut sums: Vec<Sums> = start.sums.unwrap_or_else(|| {
            (0..self.students.len())
                .map(|_| Sums::new(self.names.len()))
                .collect()
        });
        let mut lr = c.learning_rate;
        let skip = (start.batches_done * c.batch_size).min(order.len());
        let plan = EpochPlan {
            epoch: epoch + 1,
            seed: c.seed,
            order: if skip == 0 {
                Arc::clone(order)
            } else {
                order[skip..].into()
            },
            batch_size: c.batch_size,
            first_batch: start.batches_done,
        };
        let num_batches = order.len().div_ceil(c.batch_size);
        let mut done = start.batches_done;
        for batch in self.train.batches(&plan) {
            lr = c
                .schedule
                .learning_rate(c.learning_rate, epoch, self.step, self.total_steps);
            self.device.seed(step_seed(c.seed, self.step));
            self.train_step(epoch, batch?, &mut sums, lr)?;
            self.step += 1;
            done += 1;
            let every = self.checkpoints.as_ref().and_then(|(k, _)| k.every_steps);
            if every.is_some_and(|n| self.step.is_multiple_of(n)) && done < num_batches {
                let position = Position {
                    epoch,
                    batches_done: done,
                    step: self.step,
                    seconds: start.seconds + started.elapsed().as_secs_f64(),
                };
                self.save_checkpoint(position, Some(&sums))?;
            }
        }
        let seconds = start.seconds + started.elapsed().as_secs_f64();
        for (i, sums) in sums.into_iter().enumerate() {
            self.finish_epoch(i, epoch, sums, lr, seconds)?;
        }
        if let Some(rule) = &c.early_stopping {
            let stops: Vec<Option<EarlyStop>> =
                self.histories.iter().map(|h| rule.check(h)).collect();
            if stops.iter().all(Option::is_some) {
                self.stopped = stops;
            }
        }
        let stopped = self.stopped.iter().any(Option::is_some);
        if self.checkpoints.is_some() {
            let position = Position {
                epoch: epoch + 1,
                batches_done: 0,
                step: self.step,
                seconds: 0.0,
            };
            self.save_checkpoint(position, None)?;
        }
        Ok(stopped)
    }

    /// One optimisation step of every student on `batch`.
    fn train_step(
        &mut self,
        epoch: usize,
        batch: Batch<M::Input>,
        sums: &mut [Sums],
        lr: f64,
    ) -> Result<()> {
        let teachers = self.teachers;
        let features_of = self.objective.features_of(teachers.len());
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
        let outputs = self.forward_students(&batch, t_pred.as_ref(), sums);
        let step = StepInputs {
            epoch,
            rows: batch.rows.len(),
            lr,
            targets: &targets,
            teachers: &t_out,
        };
        let total = self.student_losses(&step, &outputs, sums)?;
        self.apply_gradients(total, lr);
        Ok(())
    }

    /// Every student's outputs on `batch` (features when a term reads them), counting its
    /// correct predictions and its agreement with the teachers' prediction `t_pred`.
    fn forward_students(
        &self,
        batch: &Batch<M::Input>,
        t_pred: Option<&Tensor<1, Int>>,
        sums: &mut [Sums],
    ) -> Vec<Features> {
        let mut outputs = Vec::with_capacity(self.students.len());
        for (student, sums) in self.students.iter().zip(sums.iter_mut()) {
            let inputs = batch.inputs.clone().autodiff();
            let out = student_outputs(&student.model, inputs, self.objective.needs_features());
            let logits = out.logits.clone().detach();
            sums.correct += count_correct(logits.clone(), batch.targets.clone());
            sums.labeled += batch.labeled;
            if let Some(t_pred) = t_pred {
                sums.agree += count_correct(logits, t_pred.clone());
            }
            outputs.push(out);
        }
        outputs
    }

    /// The sum of the students' losses on one batch (each with its mutual term, if any);
    /// adds each student's values to its `sums` and reports the step to the watchers.
    fn student_losses(
        &self,
        step: &StepInputs<'_>,
        outputs: &[Features],
        sums: &mut [Sums],
    ) -> Result<Tensor<1>> {
        let peers = self.mutual.map(|m| {
            let logits: Vec<Tensor<2>> = outputs.iter().map(|o| o.logits.clone()).collect();
            (m.weight, mutual_terms(&logits, m.temperature))
        });
        let partial = self.train.is_partially_labeled();
        let mut total: Option<Tensor<1>> = None;
        for (i, (out, student)) in outputs.iter().zip(&self.students).enumerate() {
            let mut values = self.objective.compute(
                step.epoch + 1,
                out,
                &student.projections,
                step.targets,
                step.teachers,
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
            let (loss, values) = sums[i].add(step.rows, &detached(values));
            let event = StepEvent {
                student: i,
                epoch: step.epoch + 1,
                step: self.step + 1,
                total_steps: self.total_steps,
                learning_rate: step.lr,
                rows: step.rows,
                loss,
                names: &self.names,
                values: &values,
            };
            self.watchers.each(|o| o.step(&event));
        }
        Ok(total.expect("at least one student"))
    }

    /// Back-propagates `total` and takes one optimiser step of every student at rate `lr`.
    fn apply_gradients(&mut self, total: Tensor<1>, lr: f64) {
        let mut grads = total.backward();
        let students = std::mem::take(&mut self.students);
        self.students = students
            .into_iter()
            .zip(self.optims.iter_mut())
            .map(|(student, optim)| {
                let g = GradientsParams::from_module(&mut grads, &student);
                optim.step(lr, student, g)
            })
            .collect();
    }
}
