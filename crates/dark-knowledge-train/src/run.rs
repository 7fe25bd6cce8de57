//! One training run of one or more students: the steps of an epoch, the validation after it,
//! the best models and the history.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::Tensor;
use dark_knowledge_core::{Classifier, ModelInput, TeacherBatch};
use dark_knowledge_data::{Batch, BatchSource, EpochPlan};

use crate::config::TrainerConfig;
use crate::distillee::{Distillee, detached};
use crate::error::{Error, Result};
use crate::evaluate::{Sums, count_correct, evaluate_objective, student_outputs};
use crate::history::EpochRecord;
use crate::mutual::{MUTUAL_TERM, MutualConfig, mutual_terms};
use crate::objective::Objective;
use crate::observer::{StepEvent, TrainObserver};
use crate::progress::Reporter;
use crate::teachers::TeacherSet;
use crate::trainer::TrainOutput;

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
}

impl<M: Classifier> Run<'_, '_, M> {
    /// Trains epoch `epoch` (0-based) over the rows in `order`, then validates each student.
    pub(crate) fn epoch(&mut self, epoch: usize, order: &Arc<[u32]>) -> Result<()> {
        let c = self.config;
        let started = Instant::now();
        let mut sums: Vec<Sums> = (0..self.students.len())
            .map(|_| Sums::new(self.names.len()))
            .collect();
        let mut lr = c.learning_rate;
        let plan = EpochPlan {
            epoch: epoch + 1,
            seed: c.seed,
            order: Arc::clone(order),
            batch_size: c.batch_size,
        };
        for batch in self.train.batches(&plan) {
            lr = c
                .schedule
                .learning_rate(c.learning_rate, epoch, self.step, self.total_steps);
            self.train_step(epoch, batch?, &mut sums, lr)?;
            self.step += 1;
        }
        let seconds = started.elapsed().as_secs_f64();
        for (i, sums) in sums.into_iter().enumerate() {
            self.finish_epoch(i, epoch, sums, lr, seconds)?;
        }
        Ok(())
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
        let rows = batch.rows.len();
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
        let mut outputs = Vec::with_capacity(self.students.len());
        for (student, sums) in self.students.iter().zip(sums.iter_mut()) {
            let inputs = batch.inputs.clone().autodiff();
            let out = student_outputs(&student.model, inputs, self.objective.needs_features());
            let logits = out.logits.clone().detach();
            sums.correct += count_correct(logits.clone(), batch.targets.clone());
            sums.labeled += batch.labeled;
            if let Some(t_pred) = &t_pred {
                sums.agree += count_correct(logits, t_pred.clone());
            }
            outputs.push(out);
        }
        let peers = self.mutual.map(|m| {
            let logits: Vec<Tensor<2>> = outputs.iter().map(|o| o.logits.clone()).collect();
            (m.weight, mutual_terms(&logits, m.temperature))
        });
        let partial = self.train.is_partially_labeled();
        let mut total: Option<Tensor<1>> = None;
        for (i, (out, student)) in outputs.iter().zip(&self.students).enumerate() {
            let mut values = self.objective.compute(
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
                step: self.step + 1,
                total_steps: self.total_steps,
                learning_rate: lr,
                rows,
                loss,
                names: &self.names,
                values: &values,
            };
            self.watchers.each(|o| o.step(&event));
        }
        let mut grads = total.expect("at least one student").backward();
        let students = std::mem::take(&mut self.students);
        self.students = students
            .into_iter()
            .zip(self.optims.iter_mut())
            .map(|(student, optim)| {
                let g = GradientsParams::from_module(&mut grads, &student);
                optim.step(lr, student, g)
            })
            .collect();
        Ok(())
    }

    /// Validates student `i` after `epoch`, keeps it if it is the best so far, and records
    /// the epoch.
    fn finish_epoch(
        &mut self,
        i: usize,
        epoch: usize,
        sums: Sums,
        lr: f64,
        seconds: f64,
    ) -> Result<()> {
        let train_metrics = sums.finish(self.train.len(), !self.teachers.is_empty(), &self.names);
        if !train_metrics.loss.is_finite() {
            return Err(Error::Diverged {
                epoch: epoch + 1,
                value: train_metrics.loss,
            });
        }
        let snapshot = self.students[i].valid();
        let valid_metrics = evaluate_objective(
            &snapshot.model,
            &snapshot.projections,
            self.valid,
            self.teachers,
            &self.objective,
            epoch + 1,
            self.config.eval_batch_size,
        )?;
        let better = match &self.bests[i] {
            None => true,
            Some((_, _, acc, loss)) => {
                valid_metrics.accuracy > *acc
                    || (valid_metrics.accuracy == *acc && valid_metrics.loss < *loss)
            }
        };
        if better {
            self.bests[i] = Some((
                snapshot.model,
                epoch + 1,
                valid_metrics.accuracy,
                valid_metrics.loss,
            ));
        }
        let mut term_weights: BTreeMap<String, f64> = self
            .objective
            .names
            .iter()
            .cloned()
            .zip(self.objective.weights_at(epoch + 1))
            .collect();
        if let Some(m) = self.mutual {
            term_weights.insert(MUTUAL_TERM.to_string(), m.weight);
        }
        let record = EpochRecord {
            epoch: epoch + 1,
            learning_rate: lr,
            train: train_metrics,
            valid: valid_metrics,
            seconds,
            term_weights,
            temperatures: self
                .objective
                .temperatures_at(epoch + 1)
                .into_iter()
                .collect(),
        };
        self.watchers.each(|o| o.epoch(i, &record));
        self.histories[i].push(record);
        Ok(())
    }

    /// Each student's best and last model and history.
    pub(crate) fn outputs(self) -> Vec<TrainOutput<M>> {
        let Self {
            students,
            bests,
            histories,
            ..
        } = self;
        students
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
            .collect()
    }
}
