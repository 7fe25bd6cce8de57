//! Same seed, same device: identical student weights after training. (One test in its own
//! binary, so no other test shares the device's random generator meanwhile.)

mod common;

use burn::tensor::Device;
use common::*;
use dark_knowledge_core::FrozenTeacher;
use dark_knowledge_core::loss::SoftTargetLossConfig;
use dark_knowledge_core::tensor_util::parameters_to_vec;
use dark_knowledge_train::TrainerConfig;

fn run(
    seed: u64,
    device: &Device,
    task: &Task,
    teacher: &FrozenTeacher<dark_knowledge_models::Mlp>,
) -> Vec<f32> {
    device.seed(seed);
    let student = dark_knowledge_models::MlpConfig::new(FEATURES, vec![16], CLASSES)
        .with_dropout(0.2)
        .init(device);
    let out = trainer(TrainerConfig {
        epochs: 3,
        batch_size: 32,
        loss: SoftTargetLossConfig::new(3.0, 0.3, 0.7),
        seed,
        ..TrainerConfig::default()
    })
    .fit(student, &task.train, &task.valid, Some(teacher))
    .unwrap();
    parameters_to_vec(&out.last)
}

#[test]
fn same_seed_gives_identical_weights_and_another_seed_does_not() {
    let device = Device::flex();
    let task = task(&device, 800);
    device.seed(0);
    let teacher = FrozenTeacher::new(teacher_model(&device));
    let a = run(11, &device, &task, &teacher);
    let b = run(11, &device, &task, &teacher);
    let c = run(12, &device, &task, &teacher);
    assert_eq!(a.len(), b.len());
    assert!(
        a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
        "same seed, different weights"
    );
    assert_ne!(a, c, "another seed should give other weights");
}
