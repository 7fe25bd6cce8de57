//! The teacher is frozen: it receives no gradient and its weights do not change, while a
//! network left unfrozen in the same position would.

mod common;

use burn::tensor::Device;
use common::*;
use dark_knowledge_core::loss::SoftTargetLossConfig;
use dark_knowledge_core::tensor_util::{parameters_to_vec, parameters_with_gradient};
use dark_knowledge_core::{Classifier, FrozenTeacher, Teacher, TeacherBatch};
use dark_knowledge_train::TrainerConfig;

#[test]
fn teacher_gets_no_gradient_and_stays_bit_identical_after_a_distillation_epoch() {
    let device = Device::flex();
    let task = task(&device, 600);
    let ad = device.clone().autodiff();
    ad.seed(5);
    // A teacher as it comes out of training: on the autodiff device, dropout on.
    let raw_teacher = teacher_model(&ad);
    let student = student_model(&ad);
    let loss = SoftTargetLossConfig::new(2.0, 0.5, 0.5).init().unwrap();
    let batch = task.train.batch(&(0..32).collect::<Vec<_>>());

    // Control: used directly, the network would receive gradients.
    let s_logits = student.logits(batch.inputs.clone().autodiff());
    let t_logits = raw_teacher.logits(batch.inputs.clone().autodiff());
    let grads = loss
        .forward(s_logits, t_logits, batch.targets.clone().autodiff())
        .backward();
    assert!(
        parameters_with_gradient(&raw_teacher, &grads)
            .iter()
            .all(|&g| g)
    );

    // Frozen: no parameter of the teacher has a gradient, the student's all do.
    let teacher = FrozenTeacher::new(raw_teacher.clone());
    let s_logits = student.logits(batch.inputs.clone().autodiff());
    let t_logits = teacher
        .logits(TeacherBatch {
            inputs: &batch.inputs,
            rows: &batch.rows,
        })
        .unwrap();
    assert!(!t_logits.is_autodiff() && !t_logits.is_tracked());
    let grads = loss
        .forward(
            s_logits,
            t_logits.autodiff(),
            batch.targets.clone().autodiff(),
        )
        .backward();
    assert!(
        parameters_with_gradient(teacher.model(), &grads)
            .iter()
            .all(|&g| !g)
    );
    assert!(
        parameters_with_gradient(&raw_teacher, &grads)
            .iter()
            .all(|&g| !g)
    );
    assert!(
        parameters_with_gradient(&student, &grads)
            .iter()
            .all(|&g| g)
    );

    // Dropout is off in the frozen teacher: the same batch gives the same logits.
    let a = teacher
        .logits(TeacherBatch {
            inputs: &batch.inputs,
            rows: &batch.rows,
        })
        .unwrap();
    let b = teacher
        .logits(TeacherBatch {
            inputs: &batch.inputs,
            rows: &batch.rows,
        })
        .unwrap();
    assert_eq!(a.into_data(), b.into_data());

    // A whole distillation epoch leaves the teacher's weights bit-identical.
    let before = parameters_to_vec(teacher.model());
    let student_before = parameters_to_vec(&student);
    let out = trainer(TrainerConfig {
        epochs: 1,
        batch_size: 32,
        ..TrainerConfig::default()
    })
    .fit(student, &task.train, &task.valid, Some(&teacher))
    .unwrap();
    assert_eq!(parameters_to_vec(teacher.model()), before);
    assert_eq!(parameters_to_vec(&raw_teacher), before);
    assert_ne!(
        parameters_to_vec(&out.last),
        student_before,
        "the student must have moved"
    );
    assert_eq!(teacher.num_classes(), CLASSES);
}
