//! Checkpoints and resume: a run stopped at any step and resumed ends with the weights of a
//! run never stopped, bit for bit; checkpoints of other experiments, truncated or damaged
//! ones are refused with an error naming the problem; early stopping stops where its rule
//! says and keeps the best model.

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::tensor::{Device, Tensor};
use common::*;
use dark_knowledge_core::loss::SoftTargetLossConfig;
use dark_knowledge_core::tensor_util::parameters_to_vec;
use dark_knowledge_core::{FrozenTeacher, Teacher};
use dark_knowledge_data::{
    Augmented, Batch, BatchSource, Dataset, Error as DataError, FeatureNoise,
};
use dark_knowledge_models::{Mlp, MlpConfig};
use dark_knowledge_train::{
    CheckpointConfig, EarlyStopping, EpochRecord, Error, LrSchedule, StopMetric, TrainOutput,
    TrainerConfig,
};

/// Training data that fails (like a killed process) when batch `fail_at` of the run is
/// requested; validation reads are not counted.
struct Failing<'a> {
    data: &'a Dataset,
    fail_at: usize,
    served: AtomicUsize,
}

impl BatchSource for Failing<'_> {
    fn len(&self) -> usize {
        self.data.len()
    }
    fn num_classes(&self) -> usize {
        self.data.num_classes()
    }
    fn num_features(&self) -> Option<usize> {
        Some(self.data.num_features())
    }
    fn device(&self) -> Device {
        BatchSource::device(self.data)
    }
    fn batch(&self, positions: &[usize]) -> dark_knowledge_data::Result<Batch<Tensor<2>>> {
        if self.served.fetch_add(1, Ordering::SeqCst) == self.fail_at {
            return Err(DataError::WorkerStopped);
        }
        BatchSource::batch(self.data, positions)
    }
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dk-resume-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn config(epochs: usize, seed: u64) -> TrainerConfig {
    TrainerConfig {
        epochs,
        batch_size: 32,
        learning_rate: 3e-3,
        schedule: LrSchedule::Cosine { min_lr: 1e-4 },
        loss: SoftTargetLossConfig::new(3.0, 0.3, 0.7),
        seed,
        ..TrainerConfig::default()
    }
}

/// A student with dropout, so the device's generator matters.
fn student(device: &Device, seed: u64) -> Mlp {
    device.seed(seed);
    MlpConfig::new(FEATURES, vec![24], CLASSES)
        .with_dropout(0.3)
        .init(device)
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// The history without wall-clock times.
fn timeless(history: &[EpochRecord]) -> Vec<EpochRecord> {
    history
        .iter()
        .cloned()
        .map(|mut r| {
            r.seconds = 0.0;
            r
        })
        .collect()
}

fn same_run(a: &TrainOutput<Mlp>, b: &TrainOutput<Mlp>, what: &str) {
    assert_eq!(
        bits(&parameters_to_vec(&a.last)),
        bits(&parameters_to_vec(&b.last)),
        "{what}: last weights differ"
    );
    assert_eq!(
        bits(&parameters_to_vec(&a.best)),
        bits(&parameters_to_vec(&b.best)),
        "{what}: best weights differ"
    );
    assert_eq!(a.best_epoch, b.best_epoch, "{what}");
    assert_eq!(timeless(&a.history), timeless(&b.history), "{what}");
}

#[test]
fn a_run_stopped_at_any_step_resumes_to_the_same_weights() {
    let _rng = exclusive_rng();
    let device = Device::flex();
    let task = task(&device, 600);
    device.seed(5);
    let teacher = FrozenTeacher::new(teacher_model(&device));
    let teacher: Option<&dyn Teacher> = Some(&teacher);
    let steps_per_epoch = task.train.len().div_ceil(32);
    let (epochs, seed) = (3, 21);
    let uninterrupted = trainer(config(epochs, seed))
        .fit(student(&device, 1), &task.train, &task.valid, teacher)
        .unwrap();
    // Checkpoints every 4 steps and after each epoch; stops before the first checkpoint,
    // just after one inside an epoch, on an epoch's last batch, in the last epoch.
    for fail_at in [
        2,
        5,
        steps_per_epoch - 1,
        steps_per_epoch,
        2 * steps_per_epoch + 3,
    ] {
        let d = dir(&format!("any-{fail_at}"));
        let k = CheckpointConfig::new(&d).with_every_steps(4);
        let t = trainer(config(epochs, seed)).with_checkpoints(k);
        let failing = Failing {
            data: &task.train,
            fail_at,
            served: AtomicUsize::new(0),
        };
        let err = t
            .fit(student(&device, 1), &failing, &task.valid, teacher)
            .unwrap_err();
        assert!(matches!(err, Error::Data(_)), "{err}");
        // Resumed with a freshly initialised model (other weights): the checkpoint's win.
        let resumed = t
            .clone()
            .resuming()
            .fit(student(&device, 99), &task.train, &task.valid, teacher)
            .unwrap();
        same_run(
            &uninterrupted,
            &resumed,
            &format!("stopped at batch {fail_at}"),
        );
        // Resuming the finished run trains nothing and gives the same outputs again.
        let again = t
            .clone()
            .resuming()
            .fit(student(&device, 98), &task.train, &task.valid, teacher)
            .unwrap();
        same_run(&uninterrupted, &again, "resumed after the end");
        let names: Vec<String> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "keep = 2: {names:?}");
        assert!(names.iter().all(|n| !n.contains(".tmp-")), "{names:?}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}

#[test]
fn augmented_batches_resume_inside_an_epoch_with_the_same_noise() {
    let _rng = exclusive_rng();
    let device = Device::flex();
    let task = task(&device, 400);
    device.seed(6);
    let teacher = FrozenTeacher::new(teacher_model(&device));
    let teacher: Option<&dyn Teacher> = Some(&teacher);
    let noisy = |fail_at| {
        Augmented::new(
            Failing {
                data: &task.train,
                fail_at,
                served: AtomicUsize::new(0),
            },
            FeatureNoise { std: 0.3 },
        )
    };
    let uninterrupted = trainer(config(2, 8))
        .fit(
            student(&device, 1),
            &noisy(usize::MAX),
            &task.valid,
            teacher,
        )
        .unwrap();
    let d = dir("augmented");
    let t = trainer(config(2, 8)).with_checkpoints(CheckpointConfig::new(&d).with_every_steps(3));
    // Batch 10 of 8 per epoch: the checkpoint after step 9, inside the second epoch.
    assert!(
        t.fit(student(&device, 1), &noisy(10), &task.valid, teacher)
            .is_err()
    );
    let resumed = t
        .clone()
        .resuming()
        .fit(
            student(&device, 2),
            &noisy(usize::MAX),
            &task.valid,
            teacher,
        )
        .unwrap();
    same_run(&uninterrupted, &resumed, "augmented");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn checkpoints_that_do_not_fit_or_are_damaged_are_refused() {
    let _rng = exclusive_rng();
    let device = Device::flex();
    let task = task(&device, 300);
    let d = dir("refused");
    let k = CheckpointConfig::new(&d).with_tag("churn.csv 1234 bytes");
    trainer(config(1, 3))
        .with_checkpoints(k.clone())
        .fit(student(&device, 1), &task.train, &task.valid, None)
        .unwrap();
    let latest = k.latest().unwrap().unwrap();
    let resume_err = |c: TrainerConfig, k: &CheckpointConfig, model: Mlp| -> String {
        trainer(c)
            .with_checkpoints(k.clone())
            .resuming()
            .fit(model, &task.train, &task.valid, None)
            .unwrap_err()
            .to_string()
    };
    let other_lr = TrainerConfig {
        learning_rate: 1e-2,
        ..config(1, 3)
    };
    let msg = resume_err(other_lr, &k, student(&device, 1));
    assert!(
        msg.contains("another experiment") && msg.contains("learning_rate"),
        "{msg}"
    );
    let msg = resume_err(
        config(1, 3),
        &k.clone().with_tag("other.csv"),
        student(&device, 1),
    );
    assert!(msg.contains("tag") && msg.contains("other.csv"), "{msg}");
    let wider = MlpConfig::new(FEATURES, vec![40], CLASSES).init(&device);
    let msg = resume_err(config(1, 3), &k, wider);
    assert!(msg.contains("model"), "{msg}");
    let fewer_rows = task.train.subset(&(0..100).collect::<Vec<_>>()).unwrap();
    let msg = trainer(config(1, 3))
        .with_checkpoints(k.clone())
        .resuming()
        .fit(student(&device, 1), &fewer_rows, &task.valid, None)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("training rows"), "{msg}");

    let bytes = std::fs::read(&latest).unwrap();
    let damage = |name: &str, contents: &[u8]| -> String {
        let path = latest.with_file_name(name);
        std::fs::write(&path, contents).unwrap();
        let msg = resume_err(config(1, 3), &k, student(&device, 1));
        std::fs::remove_file(&path).unwrap();
        assert!(msg.contains(name), "the message names the file: {msg}");
        msg
    };
    // Named as newer checkpoints, so they are the ones resumed from.
    let msg = damage("checkpoint-9999999998.dkc", &bytes[..bytes.len() * 2 / 3]);
    assert!(msg.contains("truncated"), "{msg}");
    for at in [20, bytes.len() / 2, bytes.len() - 10] {
        let mut flipped = bytes.clone();
        flipped[at] ^= 0x04;
        let msg = damage("checkpoint-9999999998.dkc", &flipped);
        assert!(msg.contains("damaged") && msg.contains("checksum"), "{msg}");
    }
    let msg = damage("checkpoint-9999999999.dkc", b"PK\x03\x04 a zip file");
    assert!(msg.contains("not a dark-knowledge checkpoint"), "{msg}");
    // Resuming without a checkpoint directory is an error, not a silent fresh start.
    let msg = trainer(config(1, 3))
        .resuming()
        .fit(student(&device, 1), &task.train, &task.valid, None)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("checkpoint directory"), "{msg}");
    std::fs::remove_dir_all(&d).unwrap();
}

/// The early-stopping rule, written out again: the epoch training stops after and the
/// epoch of the last improvement.
fn predicted_stop(
    values: &[f64],
    lower_is_better: bool,
    patience: usize,
    delta: f64,
) -> (usize, usize) {
    let mut best = (1, values[0]);
    for (i, &v) in values.iter().enumerate().skip(1) {
        let improved = if lower_is_better {
            v < best.1 - delta
        } else {
            v > best.1 + delta
        };
        if improved {
            best = (i + 1, v);
        }
        if i + 1 - best.0 >= patience {
            return (i + 1, best.0);
        }
    }
    (values.len(), best.0)
}

#[test]
fn early_stopping_stops_where_the_rule_says_and_keeps_the_best_model() {
    let _rng = exclusive_rng();
    let device = Device::flex();
    // Few rows and a wide model: the validation loss turns up after a few epochs.
    let task = task(&device, 160);
    let base = TrainerConfig {
        epochs: 30,
        batch_size: 16,
        learning_rate: 2e-2,
        seed: 4,
        ..TrainerConfig::default()
    };
    let wide = |d: &Device| {
        d.seed(8);
        MlpConfig::new(FEATURES, vec![256], CLASSES).init(d)
    };
    let full = trainer(base.clone())
        .fit(wide(&device), &task.train, &task.valid, None)
        .unwrap();
    for (metric, patience, delta) in [
        (StopMetric::ValidLoss, 3, 0.0),
        (StopMetric::ValidLoss, 2, 0.02),
        (StopMetric::ValidAccuracy, 4, 0.0),
    ] {
        let values: Vec<f64> = full
            .history
            .iter()
            .map(|r| metric.value(r).unwrap())
            .collect();
        let lower = metric == StopMetric::ValidLoss;
        let (stop, best) = predicted_stop(&values, lower, patience, delta);
        assert!(
            stop < base.epochs,
            "{metric:?}: the crafted task must stop early: {values:?}"
        );
        let rule = EarlyStopping::new(metric, patience).with_min_delta(delta);
        let out = trainer(TrainerConfig {
            early_stopping: Some(rule),
            ..base.clone()
        })
        .fit(wide(&device), &task.train, &task.valid, None)
        .unwrap();
        assert_eq!(out.history.len(), stop, "{metric:?} patience {patience}");
        assert_eq!(timeless(&out.history), timeless(&full.history[..stop]));
        let stopped = out.stopped.clone().expect("stopped early");
        assert_eq!((stopped.epoch, stopped.best_epoch), (stop, best));
        assert!(stopped.reason.contains(metric.name()), "{}", stopped.reason);
        assert_eq!(out.best_epoch, best);
        // The kept model is the one after epoch `best`: a run of exactly that many epochs.
        let upto = trainer(TrainerConfig {
            epochs: best,
            ..base.clone()
        })
        .fit(wide(&device), &task.train, &task.valid, None)
        .unwrap();
        assert_eq!(
            bits(&parameters_to_vec(&out.best)),
            bits(&parameters_to_vec(&upto.last))
        );
    }
}

#[test]
fn early_stopping_on_roc_auc_needs_binary_targets_and_resumes_stopped() {
    let _rng = exclusive_rng();
    let device = Device::flex();
    let task = task(&device, 200);
    let rule = EarlyStopping::new(StopMetric::RocAuc, 2);
    let err = trainer(TrainerConfig {
        early_stopping: Some(rule.clone()),
        ..config(2, 1)
    })
    .fit(student(&device, 1), &task.train, &task.valid, None)
    .unwrap_err()
    .to_string();
    assert!(err.contains("roc_auc") && err.contains("binary"), "{err}");
    let err = trainer(TrainerConfig {
        early_stopping: Some(EarlyStopping::new(StopMetric::TeacherAgreement, 2)),
        ..config(2, 1)
    })
    .fit(student(&device, 1), &task.train, &task.valid, None)
    .unwrap_err()
    .to_string();
    assert!(err.contains("teacher_agreement"), "{err}");

    // Binary: classes 0–1 against 2–3 of the task.
    let binary = |d: &Dataset| {
        let labels: Vec<usize> = d
            .labels_host()
            .iter()
            .map(|&l| usize::from(l >= 2))
            .collect();
        let features = dark_knowledge_core::tensor_util::to_vec_f32(d.features().clone());
        Dataset::new(features, FEATURES, labels, 2, &device).unwrap()
    };
    let (train, valid) = (binary(&task.train), binary(&task.valid));
    let two = |d: &Device| {
        d.seed(2);
        MlpConfig::new(FEATURES, vec![64], 2).init(d)
    };
    let c = TrainerConfig {
        epochs: 40,
        batch_size: 16,
        learning_rate: 3e-2,
        early_stopping: Some(rule),
        ..TrainerConfig::default()
    };
    let d = dir("auc");
    let t = trainer(c).with_checkpoints(CheckpointConfig::new(&d));
    let out = t.fit(two(&device), &train, &valid, None).unwrap();
    let aucs: Vec<f64> = out
        .history
        .iter()
        .map(|r| r.valid.roc_auc.unwrap())
        .collect();
    assert!(aucs.iter().all(|a| (0.5..=1.0).contains(a)), "{aucs:?}");
    let stopped = out.stopped.clone().expect("a stop within 40 epochs");
    assert_eq!(
        predicted_stop(&aucs, false, 2, 0.0),
        (stopped.epoch, stopped.best_epoch)
    );
    // Resuming a run that stopped early trains nothing more.
    let again = t
        .clone()
        .resuming()
        .fit(two(&device), &train, &valid, None)
        .unwrap();
    assert_eq!(again.history.len(), out.history.len());
    assert_eq!(again.stopped, out.stopped);
    assert_eq!(
        bits(&parameters_to_vec(&again.best)),
        bits(&parameters_to_vec(&out.best))
    );
    std::fs::remove_dir_all(&d).unwrap();
}
