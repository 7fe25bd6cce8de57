//! The method zoo inside the trainer: deep mutual learning, loss terms with schedules,
//! ensembles of teachers, feature terms.

mod common;

use burn::tensor::Device;
use common::*;
use dark_knowledge_core::loss::cross_entropy_no_reduction;
use dark_knowledge_core::tensor_util::{
    gradients_to_vec, parameters_to_vec, parameters_with_gradient,
};
use dark_knowledge_core::{Classifier, PrecomputedTeacher};
use dark_knowledge_models::MlpConfig;
use dark_knowledge_train::{
    Combine, FeatureLayers, LossTerm, MutualConfig, Schedule, TeacherSet, TermKind, mutual_terms,
};

#[test]
fn mutual_learning_sends_each_students_loss_to_that_student_only() {
    let _rng = exclusive_rng();
    let device = Device::flex().autodiff();
    device.seed(11);
    let task = task(&Device::flex(), 300);
    let a = MlpConfig::new(FEATURES, vec![8], CLASSES).init(&device);
    let b = MlpConfig::new(FEATURES, vec![8], CLASSES).init(&device);
    let batch = task.train.batch(&(0..40).collect::<Vec<_>>());
    let y = batch.targets.clone().autodiff();
    let losses = |a_: &dark_knowledge_models::Mlp, b_: &dark_knowledge_models::Mlp| {
        let za = a_.logits(batch.inputs.clone().autodiff());
        let zb = b_.logits(batch.inputs.clone().autodiff());
        let m = mutual_terms(&[za.clone(), zb.clone()], 2.0);
        let la = cross_entropy_no_reduction(za, y.clone()).mean() + m[0].clone();
        let lb = cross_entropy_no_reduction(zb, y.clone()).mean() + m[1].clone();
        (la, lb)
    };
    // Student A's own loss alone: A gets gradients, B none (its probabilities are detached).
    let (la, _) = losses(&a, &b);
    let grads = la.backward();
    let own = gradients_to_vec(&a, &grads).expect("A's loss reaches every parameter of A");
    assert!(parameters_with_gradient(&b, &grads).iter().all(|&g| !g));
    assert!(own.iter().any(|&g| g != 0.0));
    // The joint step: A's gradient is exactly that of its own loss.
    let (la, lb) = losses(&a, &b);
    let grads = (la + lb).backward();
    assert_eq!(gradients_to_vec(&a, &grads).unwrap(), own);
    // And the peer term does matter: without it A's gradient differs.
    let za = a.logits(batch.inputs.clone().autodiff());
    let grads = cross_entropy_no_reduction(za, y.clone()).mean().backward();
    assert_ne!(gradients_to_vec(&a, &grads).unwrap(), own);
}

#[test]
fn mutual_learning_trains_every_student_and_logs_the_mutual_term() {
    let _rng = exclusive_rng();
    let device = Device::flex();
    let task = task(&device, 600);
    let ad = device.clone().autodiff();
    let models: Vec<_> = (0..2)
        .map(|i| {
            ad.seed(20 + i);
            student_model(&ad)
        })
        .collect();
    let mutual = MutualConfig::default();
    let outs = trainer(terms_config(6, Vec::new()))
        .fit_mutual(
            models,
            &task.train,
            &task.valid,
            &TeacherSet::none(),
            &mutual,
        )
        .unwrap();
    assert_eq!(outs.len(), 2);
    for out in &outs {
        let last = out.history.last().unwrap();
        assert!(
            last.train.terms.contains_key("mutual"),
            "{:?}",
            last.train.terms
        );
        assert!(
            last.valid.accuracy > 0.7,
            "accuracy {}",
            last.valid.accuracy
        );
        let first_ce = out.history[0].train.terms["ce"];
        assert!(last.train.terms["ce"] < first_ce);
    }
    let err = trainer(terms_config(1, Vec::new()))
        .fit_mutual(
            vec![student_model(&ad)],
            &task.train,
            &task.valid,
            &TeacherSet::none(),
            &mutual,
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("at least 2"), "{err}");
}

#[test]
fn composed_terms_are_logged_with_their_scheduled_weights_and_temperatures() {
    let (_rng, device, task, teacher) = task_with_teacher(600);
    let dkd = dkd_term(1.0, 4.0, 2.0, 4);
    let kd = LossTerm::new(
        TermKind::Kd {
            temperature: 8.0,
            temperature_schedule: Schedule::Cosine { end: 2.0 },
            top_k: None,
        },
        0.5,
    );
    let terms = vec![LossTerm::ce(1.0), dkd, kd];
    let ad = device.clone().autodiff();
    ad.seed(3);
    let out = trainer(terms_config(9, terms))
        .fit(student_model(&ad), &task.train, &task.valid, Some(&teacher))
        .unwrap();
    let weights: Vec<f64> = out.history.iter().map(|r| r.term_weights["dkd"]).collect();
    assert_eq!(weights, vec![0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]);
    let temps: Vec<f64> = out.history.iter().map(|r| r.temperatures["kd"]).collect();
    assert_eq!(temps[0], 8.0);
    assert!((temps[4] - 5.0).abs() < 1e-12 && (temps[8] - 2.0).abs() < 1e-12);
    for r in &out.history {
        let t = &r.train.terms;
        let w = &r.term_weights;
        let total = t["ce"] * w["ce"] + t["dkd"] * w["dkd"] + t["kd"] * w["kd"];
        assert!(
            (r.train.loss - total).abs() < 1e-3 * r.train.loss.max(1.0),
            "{r:?}"
        );
        assert_eq!(r.train.ce, Some(t["ce"]));
    }
    let last = out.history.last().unwrap();
    assert!(
        last.valid.accuracy > 0.7 && last.valid.teacher_agreement.unwrap() > 0.7,
        "{last:?}"
    );
}

#[test]
fn an_ensemble_of_teachers_is_combined_as_configured() {
    let (_rng, device, task, good) = task_with_teacher(600);
    // A second "teacher" that knows nothing: uniform logits everywhere.
    let uniform = PrecomputedTeacher::new(burn::tensor::Tensor::zeros(
        [task.train.len().max(task.valid.len()) + 1000, CLASSES],
        &device,
    ))
    .unwrap();
    let kd_only = vec![LossTerm::kd(1.0, 1.0)];
    let fit = |teachers: &TeacherSet<'_>| {
        let ad = device.clone().autodiff();
        ad.seed(9);
        trainer(terms_config(1, kd_only.clone()))
            .fit_with(student_model(&ad), &task.train, &task.valid, teachers)
            .unwrap()
    };
    // Weight 0 on the uniform teacher: the same run as the good teacher alone.
    let alone = fit(&TeacherSet::single(&good));
    let weighted = fit(&TeacherSet::weighted(
        vec![(&good, 1.0), (&uniform, 0.0)],
        Combine::AverageProbabilities,
    )
    .unwrap());
    let (a, b) = (
        parameters_to_vec(&alone.last),
        parameters_to_vec(&weighted.last),
    );
    let max = max_abs_diff(&a, &b);
    assert!(max < 1e-4, "max weight difference {max}");
    // Mixing in the uniform teacher changes what is learned.
    let mix = |combine| TeacherSet::weighted(vec![(&good, 1.0), (&uniform, 1.0)], combine).unwrap();
    let probs = fit(&mix(Combine::AverageProbabilities));
    let losses = fit(&mix(Combine::AverageLosses));
    let p = parameters_to_vec(&probs.last);
    assert!(a.iter().zip(&p).any(|(x, y)| (x - y).abs() > 1e-3));
    // For KD the two modes differ by a constant only (the KL's gradient is linear in the
    // teacher's probabilities), so they train the same weights…
    let l = parameters_to_vec(&losses.last);
    let max = max_abs_diff(&p, &l);
    assert!(max < 1e-4, "kd: modes differ by {max}");
    // …but not for DKD, whose non-target distribution p_j / (1 − p_target) is not linear
    // in them (shown with a second teacher whose logits are fixed pseudo-random values).
    let rows = task.train.len().max(task.valid.len()) + 1000;
    let noisy: Vec<f32> = (0..rows * CLASSES)
        .map(|i| ((i * 7919 % 1009) as f32 / 1009.0 - 0.5) * 6.0)
        .collect();
    let noisy = PrecomputedTeacher::new(burn::tensor::Tensor::from_data(
        burn::tensor::TensorData::new(noisy, [rows, CLASSES]),
        &device,
    ))
    .unwrap();
    let mix = |combine| TeacherSet::weighted(vec![(&good, 1.0), (&noisy, 1.0)], combine).unwrap();
    let dist = vec![dkd_term(1.0, 2.0, 8.0, 0)];
    let fit_dist = |teachers: &TeacherSet<'_>| {
        let ad = device.clone().autodiff();
        ad.seed(9);
        parameters_to_vec(
            &trainer(terms_config(1, dist.clone()))
                .fit_with(student_model(&ad), &task.train, &task.valid, teachers)
                .unwrap()
                .last,
        )
    };
    let (dp, dl) = (
        fit_dist(&mix(Combine::AverageProbabilities)),
        fit_dist(&mix(Combine::AverageLosses)),
    );
    let max = max_abs_diff(&dp, &dl);
    assert!(max > 1e-3, "dkd: modes differ by only {max}");
    // Class counts must agree.
    let three = PrecomputedTeacher::new(burn::tensor::Tensor::zeros([10, 3], &device)).unwrap();
    assert!(TeacherSet::weighted(vec![(&good, 1.0), (&three, 1.0)], Combine::default()).is_err());
}

#[test]
fn feature_terms_train_the_hint_projection_and_leave_the_teacher_frozen() {
    let (_rng, device, task, teacher) = task_with_teacher(600);
    let before = parameters_to_vec(teacher.model());
    let hint = LossTerm::new(
        TermKind::Hint {
            layers: FeatureLayers::last().with_teacher_layer("hidden1"),
        },
        1.0,
    );
    let rkd = LossTerm::new(
        TermKind::Rkd {
            distance_weight: 25.0,
            angle_weight: 50.0,
            layers: FeatureLayers::last(),
        },
        0.1,
    );
    let ad = device.clone().autodiff();
    ad.seed(4);
    let out = trainer(terms_config(6, vec![LossTerm::ce(1.0), hint, rkd]))
        .fit(student_model(&ad), &task.train, &task.valid, Some(&teacher))
        .unwrap();
    let first = &out.history[0].train.terms;
    let last = &out.history.last().unwrap().train.terms;
    // The hint (student 16 → teacher 128 through the learned projection) and RKD fall.
    assert!(last["hint"] < 0.8 * first["hint"], "{first:?} → {last:?}");
    assert!(last["rkd"] < first["rkd"], "{first:?} → {last:?}");
    assert!(out.history.last().unwrap().valid.accuracy > 0.7);
    assert_eq!(parameters_to_vec(teacher.model()), before);
}

#[test]
fn feature_terms_without_features_are_clear_errors() {
    let (_rng, device, task, teacher) = task_with_teacher(300);
    let ad = device.clone().autodiff();
    let attention = LossTerm::new(
        TermKind::Attention {
            p: 2.0,
            layers: FeatureLayers::last(),
        },
        1.0,
    );
    let err = trainer(terms_config(1, vec![LossTerm::ce(1.0), attention]))
        .fit(student_model(&ad), &task.train, &task.valid, Some(&teacher))
        .unwrap_err()
        .to_string();
    assert!(err.contains("feature map"), "{err}");
    let hint = LossTerm::new(
        TermKind::Hint {
            layers: FeatureLayers::last().with_student_layer(5),
        },
        1.0,
    );
    let err = trainer(terms_config(1, vec![hint.clone()]))
        .fit(student_model(&ad), &task.train, &task.valid, Some(&teacher))
        .unwrap_err()
        .to_string();
    assert!(err.contains("layer 5") && err.contains("0..1"), "{err}");
    // By name: an unknown name is an error listing the names the student gives.
    let hint = LossTerm::new(
        TermKind::Hint {
            layers: FeatureLayers::last().with_student_layer("block1"),
        },
        1.0,
    );
    let err = trainer(terms_config(1, vec![hint]))
        .fit(student_model(&ad), &task.train, &task.valid, Some(&teacher))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("layer \"block1\"") && err.contains("\"hidden1\""),
        "{err}"
    );
    let logits =
        PrecomputedTeacher::new(burn::tensor::Tensor::zeros([2000, CLASSES], &device)).unwrap();
    let hint = LossTerm::new(
        TermKind::Hint {
            layers: FeatureLayers::last(),
        },
        1.0,
    );
    let err = trainer(terms_config(1, vec![hint]))
        .fit(student_model(&ad), &task.train, &task.valid, Some(&logits))
        .unwrap_err()
        .to_string();
    assert!(err.contains("feature terms"), "{err}");
}
