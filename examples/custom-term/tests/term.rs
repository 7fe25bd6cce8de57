//! The user's term trains: it is in the history, it falls, and it changes the gradient.

use dark_knowledge::TrainOutput;
use dark_knowledge::core::tensor_util::parameters_to_vec;
use dark_knowledge::prelude::*;
use dark_knowledge::train::CustomTerm;

use custom_term::ProbabilityMse;

fn student_run(weight: Option<f64>) -> (TrainOutput<Mlp>, f64) {
    let device = Device::flex();
    let data = GaussianMixtureConfig::default().dataset(&device).unwrap();
    let split = stratified_split(data.labels_host(), 0.2, 0.0, 0).unwrap();
    let (train, valid) = (
        data.subset(&split.train).unwrap(),
        data.subset(&split.valid).unwrap(),
    );
    device.seed(3);
    let teacher = MlpConfig::new(10, vec![64], 4).init(&device);
    let quiet = |c| Trainer::new(c).unwrap().with_progress(Progress::Silent);
    let teacher = FrozenTeacher::new(
        quiet(TrainerConfig {
            epochs: 5,
            ..TrainerConfig::default()
        })
        .fit(teacher, &train, &valid, None)
        .unwrap()
        .best,
    );
    let config = TrainerConfig {
        epochs: 5,
        loss: SoftTargetLossConfig::new(4.0, 0.0, 1.0),
        ..TrainerConfig::default()
    };
    let mut trainer = quiet(config);
    if let Some(w) = weight {
        trainer = trainer.with_term(CustomTerm::new(ProbabilityMse { temperature: 4.0 }, w));
    }
    device.seed(4);
    let student = MlpConfig::new(10, vec![8], 4).init(&device);
    let out = trainer
        .fit(student, &train, &valid, Some(&teacher))
        .unwrap();
    let acc = out.history.last().unwrap().valid.accuracy;
    (out, acc)
}

#[test]
fn a_user_term_is_recorded_falls_and_moves_the_weights() {
    let (with, acc) = student_run(Some(10.0));
    let first = with.history[0].train.terms["prob_mse"];
    let last = with.history.last().unwrap().train.terms["prob_mse"];
    assert!(last < 0.8 * first, "prob_mse {first} -> {last}");
    assert_eq!(with.history[0].term_weights["prob_mse"], 10.0);
    assert_eq!(with.history[0].temperatures["prob_mse"], 4.0);
    assert!(acc > 0.6, "accuracy {acc} (chance 0.25)");

    // Weight 0 is in the history but not in the gradient: the same weights as without it.
    let (zero, _) = student_run(Some(0.0));
    let (without, _) = student_run(None);
    assert_eq!(
        parameters_to_vec(&zero.last),
        parameters_to_vec(&without.last)
    );
    assert_ne!(
        parameters_to_vec(&with.last),
        parameters_to_vec(&without.last)
    );
}
