//! Observers see every step and epoch, with the values the history is made of; a user's
//! loss term that breaks the contract (not a scalar, a name taken) is an error naming it.

mod common;

use std::sync::{Arc, Mutex};

use burn::tensor::{Device, Tensor};
use common::*;
use dark_knowledge_core::Result as CoreResult;
use dark_knowledge_train::{
    CustomTerm, DistillationTerm, EpochRecord, StepEvent, TermInputs, TrainObserver, TrainerConfig,
};

/// Epoch, step, rows, loss and the `ce` term of one step.
type Step = (usize, usize, usize, f64, f64);

#[derive(Default)]
struct Log {
    started: Mutex<Vec<(usize, usize)>>,
    steps: Mutex<Vec<Step>>,
    epochs: Mutex<Vec<EpochRecord>>,
    finished: Mutex<usize>,
}

impl TrainObserver for Log {
    fn start(&self, epochs: usize, steps_per_epoch: usize) {
        self.started.lock().unwrap().push((epochs, steps_per_epoch));
    }
    fn step(&self, e: &StepEvent<'_>) {
        let ce = e.values[e.names.iter().position(|n| n == "ce").unwrap()];
        self.steps
            .lock()
            .unwrap()
            .push((e.epoch, e.step, e.rows, e.loss, ce));
    }
    fn epoch(&self, _student: usize, record: &EpochRecord) {
        self.epochs.lock().unwrap().push(record.clone());
    }
    fn finish(&self) {
        *self.finished.lock().unwrap() += 1;
    }
}

#[test]
fn an_observer_sees_each_step_and_epoch_and_their_means_are_the_history() {
    let _rng = exclusive_rng();
    let device = Device::flex();
    let task = task(&device, 300);
    let log = Arc::new(Log::default());
    device.seed(1);
    let config = TrainerConfig {
        epochs: 3,
        batch_size: 50,
        ..TrainerConfig::default()
    };
    let out = trainer(config)
        .with_observer(log.clone())
        .fit(student_model(&device), &task.train, &task.valid, None)
        .unwrap();
    let steps_per_epoch = task.train.len().div_ceil(50);
    assert_eq!(*log.started.lock().unwrap(), vec![(3, steps_per_epoch)]);
    assert_eq!(*log.finished.lock().unwrap(), 1);
    let steps = log.steps.lock().unwrap();
    assert_eq!(steps.len(), 3 * steps_per_epoch);
    let numbers: Vec<usize> = steps.iter().map(|s| s.1).collect();
    assert_eq!(numbers, (1..=3 * steps_per_epoch).collect::<Vec<_>>());
    for record in &out.history {
        let of_epoch: Vec<_> = steps.iter().filter(|s| s.0 == record.epoch).collect();
        let rows: usize = of_epoch.iter().map(|s| s.2).sum();
        assert_eq!(rows, task.train.len());
        let mean = of_epoch.iter().map(|s| s.3 * s.2 as f64).sum::<f64>() / rows as f64;
        assert!(
            (mean - record.train.loss).abs() < 1e-9,
            "{mean} vs {}",
            record.train.loss
        );
        let ce = of_epoch.iter().map(|s| s.4 * s.2 as f64).sum::<f64>() / rows as f64;
        assert!((ce - record.train.terms["ce"]).abs() < 1e-9);
    }
    let epochs = log.epochs.lock().unwrap();
    assert_eq!(epochs.len(), 3);
    assert_eq!(epochs[2].valid.accuracy, out.history[2].valid.accuracy);
}

#[test]
fn an_observer_is_told_when_training_stops_on_an_error() {
    let device = Device::flex();
    let task = task(&device, 120);
    let log = Arc::new(Log::default());
    let err = trainer(TrainerConfig::default())
        .with_observer(log.clone())
        .with_term(CustomTerm::new(NotAScalar, 1.0))
        .fit(
            student_model(&device),
            &task.train,
            &task.valid,
            Some(&trained_stub(&device)),
        )
        .unwrap_err();
    assert!(err.to_string().contains("not_a_scalar"), "{err}");
    assert_eq!(*log.finished.lock().unwrap(), 1);
}

/// A term returning one value per row instead of a scalar.
struct NotAScalar;

impl DistillationTerm for NotAScalar {
    fn name(&self) -> String {
        "not_a_scalar".into()
    }
    fn compute(&self, inputs: &TermInputs<'_>) -> CoreResult<Tensor<1>> {
        let [n, _] = inputs.student.logits.dims();
        Ok(inputs.student.logits.clone().sum_dim(1).reshape([n]))
    }
}

/// A term named like a built-in one.
struct NamedKd;

impl DistillationTerm for NamedKd {
    fn name(&self) -> String {
        "kd".into()
    }
    fn compute(&self, inputs: &TermInputs<'_>) -> CoreResult<Tensor<1>> {
        Ok(inputs.student.logits.clone().mean())
    }
}

fn trained_stub(device: &Device) -> dark_knowledge_core::FrozenTeacher<dark_knowledge_models::Mlp> {
    dark_knowledge_core::FrozenTeacher::new(teacher_model(device))
}

#[test]
fn a_term_named_like_another_is_refused() {
    let device = Device::flex();
    let task = task(&device, 120);
    let err = trainer(TrainerConfig::default())
        .with_term(CustomTerm::new(NamedKd, 1.0))
        .fit(
            student_model(&device),
            &task.train,
            &task.valid,
            Some(&trained_stub(&device)),
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"kd\"") && err.contains("no other term"),
        "{err}"
    );
    // Without a teacher the term needs one, so it is left out: the baseline trains.
    assert!(
        trainer(TrainerConfig {
            epochs: 1,
            ..TrainerConfig::default()
        })
        .with_term(CustomTerm::new(NamedKd, 1.0))
        .fit(student_model(&device), &task.train, &task.valid, None)
        .is_ok()
    );
}
