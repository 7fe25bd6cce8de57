//! Invalid settings and incompatible models, teachers and data are typed errors naming the
//! problem, never panics.

mod common;

use burn::tensor::{Device, Tensor};
use common::*;
use dark_knowledge_core::loss::SoftTargetLossConfig;
use dark_knowledge_core::{FrozenTeacher, PrecomputedTeacher};
use dark_knowledge_models::MlpConfig;
use dark_knowledge_train::{Error, Trainer, TrainerConfig};

fn message(config: TrainerConfig) -> String {
    Trainer::new(config).unwrap_err().to_string()
}

#[test]
fn each_invalid_setting_is_a_typed_error_naming_the_value_and_what_is_allowed() {
    let _rng = exclusive_rng();
    let base = TrainerConfig::default();
    let loss = |t, ce, kd| TrainerConfig {
        loss: SoftTargetLossConfig::new(t, ce, kd),
        ..base.clone()
    };
    let cases = [
        (
            loss(0.0, 0.1, 0.9),
            "invalid temperature: got 0, allowed: a finite number > 0",
        ),
        (loss(-1.0, 0.1, 0.9), "invalid temperature: got -1"),
        (loss(f64::NAN, 0.1, 0.9), "invalid temperature: got NaN"),
        (
            loss(4.0, -0.5, 0.9),
            "invalid ce_weight: got -0.5, allowed: a finite number >= 0",
        ),
        (loss(4.0, 0.1, f64::NAN), "invalid kd_weight: got NaN"),
        (loss(4.0, 0.0, 0.0), "all loss weights are 0"),
        (
            TrainerConfig {
                batch_size: 0,
                ..base.clone()
            },
            "invalid batch_size: got 0, allowed: an integer >= 1",
        ),
        (
            TrainerConfig {
                epochs: 0,
                ..base.clone()
            },
            "invalid epochs: got 0, allowed: an integer >= 1",
        ),
        (
            TrainerConfig {
                learning_rate: f64::NAN,
                ..base.clone()
            },
            "invalid learning_rate: got NaN",
        ),
    ];
    for (config, expected) in cases {
        let msg = message(config);
        assert!(msg.contains(expected), "expected {expected:?} in {msg:?}");
    }
    assert!(matches!(
        Trainer::new(TrainerConfig { epochs: 0, ..base }),
        Err(Error::Core(dark_knowledge_core::Error::InvalidValue {
            name: "epochs",
            ..
        }))
    ));
}

#[test]
fn teacher_student_class_count_mismatch_is_refused_before_training() {
    let _rng = exclusive_rng();
    let device = Device::flex();
    let task = task(&device, 200);
    let teacher = FrozenTeacher::new(MlpConfig::new(FEATURES, vec![8], CLASSES + 1).init(&device));
    let err = trainer(TrainerConfig::default())
        .fit(
            student_model(&device),
            &task.train,
            &task.valid,
            Some(&teacher),
        )
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Core(dark_knowledge_core::Error::ClassCountMismatch {
            teacher: 5,
            student: 4
        })
    ));
    assert!(
        err.to_string()
            .contains("teacher yields 5 classes but the student predicts 4"),
        "{err}"
    );

    let logits = PrecomputedTeacher::new(Tensor::zeros([task.train.len(), 3], &device)).unwrap();
    let err = trainer(TrainerConfig::default())
        .fit(
            student_model(&device),
            &task.train,
            &task.valid,
            Some(&logits),
        )
        .unwrap_err();
    assert!(err.to_string().contains("3 classes"), "{err}");
}

#[test]
fn model_and_data_mismatches_are_refused() {
    let _rng = exclusive_rng();
    let device = Device::flex();
    let task = task(&device, 200);
    let wrong_inputs = MlpConfig::new(FEATURES + 2, vec![8], CLASSES).init(&device);
    let err = trainer(TrainerConfig::default())
        .fit(wrong_inputs, &task.train, &task.valid, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("10 features") && err.contains("12 features per row"),
        "{err}"
    );
    let wrong_classes = MlpConfig::new(FEATURES, vec![8], 3).init(&device);
    let err = trainer(TrainerConfig::default())
        .fit(wrong_classes, &task.train, &task.valid, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("4 classes"), "{err}");
}

#[test]
fn precomputed_teacher_rejects_nan_and_rows_it_does_not_hold() {
    let _rng = exclusive_rng();
    let device = Device::flex();
    let bad = Tensor::<2>::from_floats([[0.0, f32::NAN]], &device);
    assert!(
        PrecomputedTeacher::new(bad)
            .unwrap_err()
            .to_string()
            .contains("NaN")
    );
    let task = task(&device, 200);
    // Logits for fewer rows than the data has: the first batch past them is an error.
    let short = PrecomputedTeacher::new(Tensor::zeros([10, CLASSES], &device)).unwrap();
    let err = trainer(TrainerConfig::default())
        .fit(
            student_model(&device),
            &task.train,
            &task.valid,
            Some(&short),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("precomputed logits hold rows 0..10"), "{err}");
}

#[test]
fn precomputed_logits_teach_like_the_network_they_came_from() {
    let _rng = exclusive_rng();
    let device = Device::flex();
    let task = task(&device, 400);
    device.seed(9);
    let net = FrozenTeacher::new(teacher_model(&device));
    // Logits for every original row, in row-id order.
    let all = GaussianMixtureLike::rebuild(&task);
    let table = PrecomputedTeacher::new(net.model().forward(all)).unwrap();
    let config = TrainerConfig {
        epochs: 2,
        batch_size: 50,
        ..TrainerConfig::default()
    };
    device.seed(4);
    let a = trainer(config.clone())
        .fit(student_model(&device), &task.train, &task.valid, Some(&net))
        .unwrap();
    device.seed(4);
    let b = trainer(config)
        .fit(
            student_model(&device),
            &task.train,
            &task.valid,
            Some(&table),
        )
        .unwrap();
    let (ha, hb) = (&a.history[1].train, &b.history[1].train);
    assert!(
        (ha.loss - hb.loss).abs() < 1e-5 * ha.loss.max(1.0),
        "{ha:?} vs {hb:?}"
    );
}

/// Rebuilds the full feature table in original row order from the three splits.
struct GaussianMixtureLike;
impl GaussianMixtureLike {
    fn rebuild(task: &Task) -> Tensor<2> {
        let mut rows: Vec<(usize, Vec<f32>)> = Vec::new();
        for part in [&task.train, &task.valid, &task.test] {
            let values = dark_knowledge_core::tensor_util::to_vec_f32(part.features().clone());
            for (i, &id) in part.row_ids().iter().enumerate() {
                rows.push((id, values[i * FEATURES..(i + 1) * FEATURES].to_vec()));
            }
        }
        rows.sort_by_key(|r| r.0);
        let n = rows.len();
        let flat: Vec<f32> = rows.into_iter().flat_map(|r| r.1).collect();
        Tensor::from_data(
            burn::tensor::TensorData::new(flat, [n, FEATURES]),
            &task.train.device(),
        )
    }
}
