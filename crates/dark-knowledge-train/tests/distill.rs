//! End to end on a small synthetic task: train a teacher from labels, distill a smaller
//! student, and check the student learned the task and the teacher's decisions.

mod common;

use burn::tensor::Device;
use common::*;
use dark_knowledge_core::FrozenTeacher;
use dark_knowledge_core::loss::SoftTargetLossConfig;
use dark_knowledge_train::{LrSchedule, OptimizerConfig, TrainerConfig, evaluate};

#[test]
fn distilled_student_learns_the_task_and_agrees_with_the_teacher() {
    let _rng = exclusive_rng();
    let device = Device::flex();
    let task = task(&device, 3000);
    device.seed(1);

    let teacher_out = trainer(TrainerConfig {
        epochs: 12,
        batch_size: 64,
        learning_rate: 2e-3,
        schedule: LrSchedule::Cosine { min_lr: 1e-4 },
        ..TrainerConfig::default()
    })
    .fit(teacher_model(&device), &task.train, &task.valid, None)
    .unwrap();
    assert_eq!(teacher_out.history.len(), 12);
    let teacher_hist = &teacher_out.history;
    assert!(teacher_hist[0].train.kd.is_none() && teacher_hist[0].train.ce.is_some());
    assert!(
        teacher_hist.last().unwrap().train.loss < teacher_hist[0].train.loss,
        "teacher training loss should fall: {teacher_hist:?}"
    );
    let teacher = FrozenTeacher::new(teacher_out.best);
    let teacher_test = evaluate(teacher.model(), &task.test, None, 256).unwrap();
    assert!(
        teacher_test.accuracy > 0.85,
        "teacher test accuracy {}",
        teacher_test.accuracy
    );

    let student_out = trainer(TrainerConfig {
        epochs: 15,
        batch_size: 64,
        learning_rate: 5e-3,
        optimizer: OptimizerConfig::adamw(),
        weight_decay: 1e-4,
        loss: SoftTargetLossConfig::new(4.0, 0.1, 0.9),
        seed: 3,
        ..TrainerConfig::default()
    })
    .fit(
        student_model(&device),
        &task.train,
        &task.valid,
        Some(&teacher),
    )
    .unwrap();

    // Each loss term is recorded separately, every epoch.
    for record in &student_out.history {
        let (ce, kd) = (record.train.ce.unwrap(), record.train.kd.unwrap());
        assert!(
            (record.train.loss - (0.1 * ce + 0.9 * kd)).abs() < 1e-3 * record.train.loss.max(1.0)
        );
        assert!(record.valid.teacher_agreement.is_some());
    }
    let first_kd = student_out.history[0].train.kd.unwrap();
    let last_kd = student_out.history.last().unwrap().train.kd.unwrap();
    assert!(
        last_kd < 0.5 * first_kd,
        "KD term should fall: {first_kd} -> {last_kd}"
    );

    // On held-out rows: far above chance (0.25) and agreeing with the teacher.
    let student = &student_out.best;
    let student_test = evaluate(student, &task.test, None, 256).unwrap();
    assert!(
        student_test.accuracy > 0.8,
        "student test accuracy {}",
        student_test.accuracy
    );
    let s = predictions(student, &task.test);
    let t = predictions(teacher.model(), &task.test);
    let agreement = s.iter().zip(&t).filter(|(a, b)| a == b).count() as f64 / s.len() as f64;
    assert!(
        agreement >= 0.9,
        "student/teacher agreement on held-out rows {agreement}"
    );
    println!(
        "teacher acc {:.3}, student acc {:.3}, agreement {agreement:.3}",
        teacher_test.accuracy, student_test.accuracy
    );
}

#[test]
fn sgd_with_momentum_and_a_step_schedule_also_trains() {
    let _rng = exclusive_rng();
    let device = Device::flex();
    let task = task(&device, 1200);
    device.seed(2);
    let out = trainer(TrainerConfig {
        epochs: 6,
        batch_size: 32,
        learning_rate: 0.05,
        optimizer: OptimizerConfig::Sgd {
            momentum: 0.9,
            nesterov: true,
        },
        schedule: LrSchedule::Step {
            step_epochs: 3,
            gamma: 0.5,
        },
        ..TrainerConfig::default()
    })
    .fit(student_model(&device), &task.train, &task.valid, None)
    .unwrap();
    let rates: Vec<f64> = out.history.iter().map(|r| r.learning_rate).collect();
    assert_eq!(rates, vec![0.05, 0.05, 0.05, 0.025, 0.025, 0.025]);
    assert!(
        out.history.last().unwrap().valid.accuracy > 0.7,
        "{:?}",
        out.history.last()
    );
    let best = out.history[out.best_epoch - 1].valid.accuracy;
    assert!(out.history.iter().all(|r| r.valid.accuracy <= best));
}
