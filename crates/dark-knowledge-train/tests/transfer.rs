//! Transfer sets: rows without labels teach through the distillation terms only.

mod common;

use common::*;
use dark_knowledge_core::tensor_util::parameters_to_vec;
use dark_knowledge_data::{LabelBudget, stratified_labeled};
use dark_knowledge_train::LossTerm;

#[test]
fn with_every_label_hidden_the_student_learns_from_the_teacher_alone() {
    let (_rng, device, task, teacher) = task_with_teacher(900);
    let all: Vec<usize> = (0..task.train.len()).collect();
    let unlabeled = task.train.hide_labels(&all).unwrap();
    assert_eq!(unlabeled.num_labeled(), 0);
    let ad = device.clone().autodiff();
    let fit = |terms: Vec<LossTerm>| {
        ad.seed(5);
        trainer(terms_config(8, terms))
            .fit(student_model(&ad), &unlabeled, &task.valid, Some(&teacher))
            .unwrap()
    };
    let with_ce = fit(vec![LossTerm::ce(0.5), LossTerm::kd(0.5, 2.0)]);
    // No label, no hard-label loss: the CE term is 0 in every epoch…
    for r in &with_ce.history {
        assert_eq!(r.train.terms["ce"], 0.0, "{r:?}");
        assert!(r.train.terms["kd"] > 0.0);
    }
    // …and sends no gradient: the weights are those of the KD term alone.
    let kd_only = fit(vec![LossTerm::kd(0.5, 2.0)]);
    let (a, b) = (
        parameters_to_vec(&with_ce.last),
        parameters_to_vec(&kd_only.last),
    );
    let max = max_abs_diff(&a, &b);
    assert!(max < 1e-6, "weights differ by {max}");
    // Taught by the teacher alone, the student agrees with it and learns the task.
    let last = with_ce.history.last().unwrap();
    assert!(last.valid.teacher_agreement.unwrap() > 0.8, "{last:?}");
    assert!(last.valid.accuracy > 0.7, "{last:?}");
}

#[test]
fn labeled_rows_get_every_term_and_unlabeled_rows_the_distillation_terms_only() {
    let (_rng, device, task, teacher) = task_with_teacher(900);
    let keep = stratified_labeled(task.train.labels_host(), LabelBudget::PerClass(10), 3).unwrap();
    let hide: Vec<usize> = (0..task.train.len())
        .filter(|p| !keep.contains(p))
        .collect();
    let partial = task.train.hide_labels(&hide).unwrap();
    assert_eq!(partial.num_labeled(), 10 * CLASSES);
    let labeled_only = partial.subset(&partial.labeled_positions()).unwrap();
    let dkd = dkd_term(0.5, 4.0, 2.0, 0);
    let terms = vec![LossTerm::ce(1.0), LossTerm::kd(1.0, 2.0), dkd];
    let ad = device.clone().autodiff();
    let fit = |data: &dark_knowledge_data::Dataset,
               teacher: Option<&dyn dark_knowledge_core::Teacher>| {
        ad.seed(6);
        trainer(terms_config(10, terms.clone()))
            .fit(student_model(&ad), data, &task.valid, teacher)
            .unwrap()
    };
    let hard = fit(&labeled_only, None);
    let transfer = fit(&partial, Some(&teacher));
    for r in &transfer.history {
        assert!(
            r.train.terms["ce"] > 0.0 && r.train.terms["dkd"].is_finite(),
            "{r:?}"
        );
        assert!((0.0..=1.0).contains(&r.train.accuracy));
    }
    // 40 labels and 500 unlabelled rows beat the 40 labels alone.
    let acc = |o: &dark_knowledge_train::TrainOutput<_>| o.history.last().unwrap().valid.accuracy;
    assert!(
        acc(&transfer) > acc(&hard) + 0.05,
        "transfer {} vs hard {}",
        acc(&transfer),
        acc(&hard)
    );
}
