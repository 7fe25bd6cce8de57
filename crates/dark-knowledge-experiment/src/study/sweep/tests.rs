//! Tests of the sweep grid (split out of `sweep.rs` for length).

use super::*;

/// The example sweep file: its experiment and grid.
fn example_sweep() -> (Experiment, SweepGrid) {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/experiments/sweep-churn.toml"
    ));
    load(path).unwrap()
}

/// `experiment` with its loss given as `[[loss]]` terms.
fn with_loss_terms(experiment: &Experiment) -> Experiment {
    let mut with_terms = experiment.clone();
    with_terms.loss = vec![
        dark_knowledge_train::LossTerm::ce(0.5),
        dark_knowledge_train::LossTerm::kd(0.5, 2.0),
    ];
    with_terms
}

#[test]
fn the_example_sweep_expands_to_its_grid() {
    let (experiment, grid) = example_sweep();
    let specs = expand(&experiment, &grid, false).unwrap();
    // 2 label fractions × 3 student sizes × (hard + 3 kd + 3 kd+transfer) × 3 seeds.
    assert_eq!(specs.len(), 2 * 3 * 7 * 3);
    assert!(specs.iter().all(|s| s.steps == 2000));
    let hard: Vec<_> = specs.iter().filter(|s| s.method == Method::Hard).collect();
    assert_eq!(hard.len(), 2 * 3 * 3);
    let ids: std::collections::BTreeSet<_> = specs.iter().map(RunSpec::id).collect();
    assert_eq!(ids.len(), specs.len());
}

#[test]
fn bad_grids_are_errors_naming_the_key() {
    let (experiment, grid) = example_sweep();
    for (bad, key) in [
        (
            SweepGrid {
                temperature: vec![0.0],
                ..grid.clone()
            },
            "temperature",
        ),
        (
            SweepGrid {
                kd_weight: vec![1.5],
                ..grid.clone()
            },
            "kd_weight",
        ),
        (
            SweepGrid {
                steps: Some(0),
                ..grid.clone()
            },
            "steps",
        ),
        (
            SweepGrid {
                student_hidden: vec![vec![8, 0]],
                ..grid.clone()
            },
            "student_hidden [8, 0]",
        ),
        (
            SweepGrid {
                tolerance: Some(-0.01),
                ..grid.clone()
            },
            "tolerance -0.01",
        ),
        (
            SweepGrid {
                tolerance: Some(f64::NAN),
                ..grid.clone()
            },
            "tolerance NaN",
        ),
        (
            SweepGrid {
                labeled_per_class: vec![0],
                ..grid.clone()
            },
            "labeled_per_class 0",
        ),
        (
            SweepGrid {
                labeled_fraction: vec![1.5],
                ..grid.clone()
            },
            "labeled_fraction 1.5",
        ),
    ] {
        let err = expand(&experiment, &bad, false).unwrap_err().to_string();
        assert!(err.contains(key), "{err}");
    }
    let err = toml::from_str::<SweepGrid>("temperatures = [2.0]")
        .unwrap_err()
        .to_string();
    assert!(err.contains("temperatures"), "{err}");
}

#[test]
fn kd_weight_is_refused_with_loss_terms() {
    let (experiment, grid) = example_sweep();
    // kd_weight is the classic loss's; with [[loss]] terms it would change nothing.
    let with_terms = with_loss_terms(&experiment);
    let err = expand(&with_terms, &grid, false).unwrap_err().to_string();
    assert!(
        err.contains("kd_weight") && err.contains("[[loss]]"),
        "{err}"
    );
    let no_weights = SweepGrid {
        kd_weight: vec![],
        ..grid.clone()
    };
    assert!(expand(&with_terms, &no_weights, false).is_ok());
}

#[test]
fn term_weights_are_checked_against_the_term_names() {
    let (experiment, grid) = example_sweep();
    let with_terms = with_loss_terms(&experiment);
    let no_weights = SweepGrid {
        kd_weight: vec![],
        ..grid.clone()
    };
    // Term weights by name instead of kd_weight: checked against the terms' names.
    let table = |pairs: &[(&str, f64)]| -> BTreeMap<String, f64> {
        pairs.iter().map(|(n, v)| (n.to_string(), *v)).collect()
    };
    for (weights, key) in [
        (
            vec![table(&[("kd", 0.5), ("hint", 1.0)])],
            "no loss term named `hint`",
        ),
        (vec![table(&[("kd", -1.0)])], "kd = -1"),
        (vec![BTreeMap::new()], "empty table"),
    ] {
        let bad = SweepGrid {
            weights,
            ..no_weights.clone()
        };
        let err = expand(&with_terms, &bad, false).unwrap_err().to_string();
        assert!(err.contains(key), "{err}");
    }
    let both = SweepGrid {
        weights: vec![table(&[("kd", 0.5)])],
        ..grid.clone()
    };
    let err = expand(&experiment, &both, false).unwrap_err().to_string();
    assert!(err.contains("keep one"), "{err}");
    let two = SweepGrid {
        weights: vec![table(&[("ce", 0.1), ("kd", 0.9)]), table(&[("kd", 0.5)])],
        ..no_weights.clone()
    };
    let specs = expand(&with_terms, &two, false).unwrap();
    let one = expand(&with_terms, &no_weights, false).unwrap();
    let hard = |s: &[RunSpec]| s.iter().filter(|r| r.method == Method::Hard).count();
    // Every distillation run twice, once per table; `hard` once.
    assert_eq!(specs.len() - hard(&specs), 2 * (one.len() - hard(&one)));
    assert_eq!(hard(&specs), hard(&one));
    let ids: std::collections::BTreeSet<_> = specs.iter().map(RunSpec::id).collect();
    assert_eq!(ids.len(), specs.len());
    assert!(
        specs
            .iter()
            .any(|s| s.setting.contains("ce = 0.1 kd = 0.9"))
    );
}

#[test]
fn an_empty_hidden_list_is_a_linear_student_with_its_own_setting_and_ids() {
    let (experiment, grid) = example_sweep();
    let sizes = SweepGrid {
        student_hidden: vec![vec![], vec![4]],
        method: vec![Method::Kd],
        labeled_fraction: vec![],
        temperature: vec![2.0],
        tolerance: Some(0.0),
        ..grid
    };
    let specs = expand(&experiment, &sizes, false).unwrap();
    // 2 sizes × kd × 3 seeds.
    assert_eq!(specs.len(), 2 * 3);
    let linear: Vec<_> = specs
        .iter()
        .filter(|s| s.student_hidden == Some(vec![]))
        .collect();
    assert_eq!(linear.len(), 3);
    assert!(
        linear.iter().all(|s| s.setting.contains("linear student")),
        "{:?}",
        linear[0].setting
    );
    let ids: std::collections::BTreeSet<_> = specs.iter().map(RunSpec::id).collect();
    assert_eq!(ids.len(), specs.len());
    let text = "student_hidden = [[], [8]]\ntolerance = 0.01";
    let parsed: SweepGrid = toml::from_str(text).unwrap();
    assert_eq!(parsed.student_hidden, vec![vec![], vec![8]]);
    assert_eq!(parsed.tolerance, Some(0.01));
}

#[test]
fn the_example_size_sweep_has_a_linear_student_and_a_tolerance() {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/experiments/sweep-churn-sizes.toml"
    ));
    let (experiment, grid) = load(path).unwrap();
    assert_eq!(grid.tolerance, Some(0.005));
    assert_eq!(grid.student_hidden[0], Vec::<usize>::new());
    let specs = expand(&experiment, &grid, false).unwrap();
    // 5 sizes × kd × 3 seeds.
    assert_eq!(specs.len(), 5 * 3);
    assert_eq!(
        specs
            .iter()
            .filter(|s| s.setting.contains("linear"))
            .count(),
        3
    );
}
