//! The example's reduced setting under burn-train, and the distillation step against our
//! trainer: the same batch and the same weights give the same loss and the same update.

use std::path::PathBuf;
use std::sync::Mutex;

use dark_knowledge::burn;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset as _;
use burn::module::Module;
use burn::optim::SgdConfig;
use burn::tensor::Device;
use burn::train::Learner;
use dark_knowledge::core::tensor_util::parameters_to_vec;
use dark_knowledge::data::{Batch, Result as DataResult};
use dark_knowledge::{
    BatchSource, Dataset, DistillLearnerConfig, FrozenTeacher, MlpConfig, OptimizerConfig,
    Progress, RowBatcher, RowItems, SoftTargetLossConfig, StepEvent, TrainObserver, Trainer,
    TrainerConfig,
};
use learner::{Churn, Settings, run};

/// A fresh folder under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("dk-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn the_reduced_learner_run_beats_the_majority_class_and_checkpoints_the_student() {
    let dir = TempDir::new("learner-reduced");
    let settings = Settings::reduced();
    let out = run(&dir.0, &settings, &[Device::flex()]).unwrap();
    eprintln!(
        "teacher {:.4}, student {:.4}, majority {:.4}",
        out.teacher, out.student, out.majority
    );
    assert!(
        out.teacher > out.majority + 0.03,
        "teacher {:.4} vs {:.4}",
        out.teacher,
        out.majority
    );
    assert!(
        out.student > out.majority + 0.02,
        "student {:.4} vs {:.4}",
        out.student,
        out.majority
    );
    assert_eq!(out.epochs_run, settings.epochs);

    // burn-train's model checkpoint of the last epoch holds the student alone: a few KB
    // (674 f32 parameters), not the teacher's 27k parameters, and it loads into a fresh pair
    // giving the returned student while that pair's own teacher stays as it was.
    let last = dir
        .0
        .join(format!("checkpoint/model-{}.bpk", out.epochs_run));
    assert!(out.checkpoints.contains(&last), "{:?}", out.checkpoints);
    let bytes = std::fs::metadata(&last).unwrap().len() as usize;
    assert!(
        bytes < 4 * out.params.0 / 4,
        "{bytes} bytes: the teacher was saved too?"
    );
    let device = Device::flex();
    let d = out.student_model.num_features();
    let fresh_teacher = MlpConfig::new(d, settings.teacher_hidden.clone(), 2).init(&device);
    let fresh = DistillLearnerConfig::new()
        .init(
            MlpConfig::new(d, vec![8], 2).init(&device),
            fresh_teacher.clone(),
        )
        .unwrap()
        .load_file(&last);
    assert_eq!(
        parameters_to_vec(fresh.student()),
        parameters_to_vec(&out.student_model)
    );
    assert_eq!(
        parameters_to_vec(&fresh.teacher()),
        parameters_to_vec(&fresh_teacher)
    );

    let again = run(&dir.0, &settings, &[Device::flex()])
        .unwrap_err()
        .to_string();
    assert!(again.contains("already holds a burn-train run"), "{again}");
}

/// The training data, recording the positions of the first batch the trainer draws.
struct Recording {
    data: Dataset,
    first: Mutex<Option<Vec<usize>>>,
}

impl BatchSource for Recording {
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
        self.data.device()
    }

    fn batch(&self, positions: &[usize]) -> DataResult<Batch> {
        let mut first = self.first.lock().unwrap();
        first.get_or_insert_with(|| positions.to_vec());
        Ok(self.data.batch(positions))
    }
}

/// The loss of each step.
#[derive(Default)]
struct Losses(Mutex<Vec<f64>>);

impl TrainObserver for Losses {
    fn step(&self, event: &StepEvent<'_>) {
        self.0.lock().unwrap().push(event.loss);
    }
}

#[test]
fn one_batch_through_the_train_step_has_the_trainers_loss_and_update() {
    let device = Device::flex();
    let data = Churn::load(3, &device).unwrap();
    let d = data.train.num_features();
    device.seed(11);
    let teacher = MlpConfig::new(d, vec![32], 2).init(&device);
    let student = MlpConfig::new(d, vec![8], 2).init(&device);
    let loss = SoftTargetLossConfig::new(3.0, 0.3, 0.7);
    let lr = 0.5;
    let initial = parameters_to_vec(&student);

    // Our trainer: one epoch of one step (the batch holds every one of the 96 rows).
    let train = Recording {
        data: data.train.subset(&(0..96).collect::<Vec<_>>()).unwrap(),
        first: Mutex::new(None),
    };
    let config = TrainerConfig {
        epochs: 1,
        batch_size: 96,
        learning_rate: lr,
        optimizer: OptimizerConfig::Sgd {
            momentum: 0.0,
            nesterov: false,
        },
        loss: loss.clone(),
        ..TrainerConfig::default()
    };
    let losses = std::sync::Arc::new(Losses::default());
    let ours = Trainer::new(config)
        .unwrap()
        .with_progress(Progress::Silent)
        .with_observer(losses.clone())
        .fit(
            student.clone(),
            &train,
            &data.valid,
            Some(&FrozenTeacher::new(teacher.clone())),
        )
        .unwrap();
    let positions = train.first.lock().unwrap().clone().unwrap();
    let our_loss = losses.0.lock().unwrap()[0];

    // burn-train's path: the same rows through burn's Batcher on the autodiff device, the
    // pair forked there as SupervisedTraining does, one step of burn's learner with SGD.
    let items = RowItems::from_dataset(&train.data).unwrap();
    let rows = positions.iter().map(|&p| items.get(p).unwrap()).collect();
    let ad = device.autodiff();
    let batch = RowBatcher::new(d).batch(rows, &ad);
    let model = DistillLearnerConfig::new()
        .with_loss(loss)
        .init(student, teacher)
        .unwrap();
    let mut learner = Learner::new(model.fork(&ad), SgdConfig::new().init(), lr);
    let step = learner.train_step(batch);
    let burn_loss = f64::from(step.item.loss.clone().into_scalar::<f32>());
    learner.lr_step();
    learner.optimizer_step(step.grads);

    // Both compute ce_weight · mean CE + kd_weight · mean T² KL with the same kernels in the
    // same order; the one allowed difference is f32 rounding (a few ulps, ~1e-7 relative).
    let relative = (burn_loss - our_loss).abs() / our_loss.abs();
    eprintln!("loss: burn-train {burn_loss}, ours {our_loss}, relative {relative:e}");
    assert!(
        relative <= 1e-6,
        "burn-train {burn_loss} vs ours {our_loss} ({relative:e})"
    );
    // One SGD step from the same weights with the same gradient: w − lr·g on both sides, so
    // the weights agree to f32 rounding of weights of size ~0.3 (ulp ~3e-8).
    let a = parameters_to_vec(learner.model().student());
    let b = parameters_to_vec(&ours.last);
    assert_eq!(a.len(), b.len());
    let max_diff = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    assert!(
        max_diff < 1e-6,
        "weights after one step differ by {max_diff}"
    );
    // ... and the step did move them, by far more than that.
    let moved = a
        .iter()
        .zip(&initial)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    eprintln!("weights: max difference {max_diff:e}, max move {moved:e}");
    assert!(moved > 1e-3, "the step barely moved the weights ({moved})");
}
