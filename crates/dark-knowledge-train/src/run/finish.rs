//! The end of an epoch (validation, best model, history, checkpoint), the epoch loop and the
//! outputs of a run.

use super::*;

impl<M: Classifier> Run<'_, '_, M> {
    /// Validates student `i` after `epoch`, keeps it if it is the best so far, and records
    /// the epoch.
    pub(super) fn finish_epoch(
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
        let mut valid_metrics = valid_metrics;
        let rule = self.config.early_stopping.as_ref();
        if rule.is_some_and(|r| r.metric == StopMetric::RocAuc) {
            valid_metrics.roc_auc = Some(valid_auc(
                &snapshot.model,
                self.valid,
                self.config.eval_batch_size,
            )?);
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
        let (accuracy, loss) = (record.valid.accuracy, record.valid.loss);
        self.watchers.each(|o| o.epoch(i, &record));
        self.histories[i].push(record);
        let better = match (rule, &self.bests[i]) {
            (None, None) => true,
            (None, Some((_, _, acc, l))) => accuracy > *acc || (accuracy == *acc && loss < *l),
            (Some(rule), _) => rule.best(&self.histories[i]).map(|(e, _)| e) == Some(epoch + 1),
        };
        if better {
            self.bests[i] = Some((snapshot.model, epoch + 1, accuracy, loss));
        }
        Ok(())
    }

    /// Trains the epochs from `first_epoch` (the first inside it from `start`); the
    /// shuffles of the epochs before it are drawn too, which replays `rng`.
    pub(crate) fn drive(
        &mut self,
        rng: &mut StdRng,
        first_epoch: usize,
        start: EpochStart,
    ) -> Result<()> {
        let c = self.config;
        // u32 positions: 4 bytes a row for the one array that grows with the data; the
        // shuffle's permutation does not depend on the element type.
        let rows = u32::try_from(self.train.len()).map_err(|_| CoreError::InvalidValue {
            name: "training rows",
            value: self.train.len().to_string(),
            allowed: "at most 4,294,967,295 rows",
        })?;
        let mut order: Arc<[u32]> = (0..rows).collect();
        let mut start = Some(start);
        for epoch in 0..c.epochs {
            // In place unless a loader thread of the last epoch still holds the plan.
            Arc::make_mut(&mut order).shuffle(rng);
            if epoch < first_epoch {
                continue;
            }
            let from = start.take().unwrap_or_else(EpochStart::fresh);
            if self.epoch(epoch, &order, from)? {
                break;
            }
        }
        Ok(())
    }

    /// Each student's best and last model and history.
    pub(crate) fn outputs(self) -> Vec<TrainOutput<M>> {
        let Self {
            students,
            bests,
            histories,
            stopped,
            ..
        } = self;
        students
            .into_iter()
            .zip(bests)
            .zip(histories)
            .zip(stopped)
            .map(|(((student, best), history), stopped)| {
                // Early stopping on a metric that never had a value keeps the last model.
                let (best, best_epoch) = match best {
                    Some((best, epoch, _, _)) => (best, epoch),
                    None => (student.model.valid(), history.len()),
                };
                TrainOutput {
                    best,
                    last: student.model.valid(),
                    best_epoch,
                    history,
                    stopped,
                }
            })
            .collect()
    }
}
