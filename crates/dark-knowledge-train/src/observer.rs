//! Step and epoch events for the user's own sinks (a log file, a metrics server, a plot);
//! the progress bar is one observer among them.

use crate::history::EpochRecord;

/// One optimisation step of one student.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct StepEvent<'a> {
    /// The student (0-based; mutual learning trains several, otherwise always 0).
    pub student: usize,
    /// The epoch, 1-based.
    pub epoch: usize,
    /// The step of the run, 1-based.
    pub step: usize,
    /// The number of steps of the run.
    pub total_steps: usize,
    /// The learning rate of the step.
    pub learning_rate: f64,
    /// The rows of the batch.
    pub rows: usize,
    /// The batch's weighted total loss.
    pub loss: f64,
    /// The loss terms' names, in order.
    pub names: &'a [String],
    /// Each term's (unweighted) value on the batch, in the order of `names`.
    pub values: &'a [f64],
}

/// Receives the trainer's events. Every method has an empty default; implement the ones you
/// need. Methods take `&self` (use a `Mutex` or atomics inside to keep state), so one
/// observer can be shared between runs; events arrive on the training thread, in order.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use dark_knowledge_train::{EpochRecord, StepEvent, TrainObserver};
///
/// #[derive(Default)]
/// struct LossLog(Mutex<Vec<f64>>);
///
/// impl TrainObserver for LossLog {
///     fn step(&self, event: &StepEvent<'_>) {
///         self.0.lock().unwrap().push(event.loss);
///     }
/// }
///
/// let log = Arc::new(LossLog::default());
/// // Trainer::new(config)?.with_observer(log.clone()).fit(..)
/// ```
pub trait TrainObserver: Send + Sync {
    /// Training starts: `epochs` epochs of `steps_per_epoch` steps.
    fn start(&self, epochs: usize, steps_per_epoch: usize) {
        let _ = (epochs, steps_per_epoch);
    }

    /// A step is done.
    fn step(&self, event: &StepEvent<'_>) {
        let _ = event;
    }

    /// Student `student` finished an epoch (training and validation metrics in `record`).
    fn epoch(&self, student: usize, record: &EpochRecord) {
        let _ = (student, record);
    }

    /// Training ended (normally or with an error).
    fn finish(&self) {}
}
