use super::*;
use crate::{
    AnyModel, GbdtConfig, LabeledRows, ModelInfo, ModelSpec, WeightFormat, load_saved_model,
    save_saved_model,
};
use burn::tensor::activation::softmax;

fn leaf(value: f64) -> TreeNode {
    TreeNode::Leaf { value }
}

fn split(feature: usize, threshold: f64, left: usize, right: usize, missing: usize) -> TreeNode {
    TreeNode::Split {
        feature,
        threshold,
        left,
        right,
        missing,
    }
}

/// One stump on feature 0 at 0.5 (left -1, right +2, NaN 7) after a base of 0.25.
fn stump_ensemble(num_classes: usize) -> TreeEnsemble {
    let booster = |shift: f64| Booster {
        base_score: 0.25 + shift,
        trees: vec![Tree {
            nodes: vec![split(0, 0.5, 1, 2, 3), leaf(-1.0), leaf(2.0), leaf(7.0)],
        }],
    };
    TreeEnsemble {
        format_version: TREES_FORMAT_VERSION,
        num_features: 2,
        num_classes,
        outputs: (0..TreeEnsemble::outputs_for(num_classes))
            .map(|o| booster(o as f64))
            .collect(),
    }
}

#[test]
fn rows_follow_their_splits_and_binary_logits_are_zero_and_the_log_odds() {
    let e = stump_ensemble(2);
    e.validate().unwrap();
    let rows = [0.2, 9.0, 0.5, 9.0, f32::NAN, 9.0, 0.7, -3.0];
    let logits = e.logits_host(&rows);
    // Below the threshold left, at it right, NaN to the missing branch.
    assert_eq!(logits, vec![0.0, -0.75, 0.0, 2.25, 0.0, 7.25, 0.0, 2.25]);
}

#[test]
fn multi_class_logits_are_log_sigmoids_whose_softmax_normalises_the_one_vs_rest_odds() {
    let e = stump_ensemble(3);
    let logits = e.logits_host(&[0.9, 0.0]);
    let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
    let scores = [2.25, 3.25, 4.25];
    let total: f64 = scores.iter().map(|&s| sig(s)).sum();
    let device = burn::tensor::Device::flex();
    let model = TreeModel::new(e).unwrap();
    let probs = softmax(model.logits(Tensor::from_floats([[0.9, 0.0]], &device)), 1);
    let probs = to_vec_f32(probs);
    for (k, &s) in scores.iter().enumerate() {
        assert!((f64::from(logits[k]) - sig(s).ln()).abs() < 1e-6);
        assert!(
            (f64::from(probs[k]) - sig(s) / total).abs() < 1e-6,
            "{probs:?}"
        );
    }
    // Stable where a naive ln(sigmoid) underflows.
    assert!((log_sigmoid(-800.0) + 800.0).abs() < 1e-9);
    assert!(log_sigmoid(800.0).abs() < 1e-300);
}

/// A change to a valid ensemble, and what the refusal must say.
type Damage = (fn(&mut TreeEnsemble), &'static str);

#[test]
fn broken_ensembles_are_refused_naming_the_problem() {
    let cases: [Damage; 6] = [
        (|e| e.format_version = 9, "format_version 9"),
        (|e| e.outputs.push(e.outputs[0].clone()), "need 1 booster"),
        (
            |e| e.outputs[0].trees[0].nodes[0] = split(2, 0.5, 1, 2, 3),
            "feature 2",
        ),
        (
            |e| e.outputs[0].trees[0].nodes[0] = split(0, f64::NAN, 1, 2, 3),
            "NaN",
        ),
        (
            |e| e.outputs[0].trees[0].nodes[0] = split(0, 0.5, 0, 2, 3),
            "must come after",
        ),
        (
            |e| e.outputs[0].trees[0].nodes[2] = leaf(f64::INFINITY),
            "not finite",
        ),
    ];
    for (damage, expected) in cases {
        let mut e = stump_ensemble(2);
        damage(&mut e);
        let err = TreeModel::new(e).unwrap_err();
        assert!(err.contains(expected), "{err} lacks {expected}");
    }
    let mut e = stump_ensemble(2);
    e.outputs[0].trees[0].nodes[1] = split(1, 0.0, 4, 5, 6);
    assert!(
        e.validate()
            .unwrap_err()
            .contains("inside the tree's 4 nodes")
    );
}

/// Rows of 3 uniform features in [-1, 1] labelled by an axis-aligned rule trees fit and a
/// linear model cannot: `(x0 > 0.3) xor (x1 > -0.2)`.
fn xor_rows(n: usize, seed: u64) -> (Vec<f32>, Vec<usize>) {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f32 / (1u64 << 53) as f32 * 2.0 - 1.0
    };
    let mut x = Vec::with_capacity(n * 3);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let row = [next(), next(), next()];
        y.push(usize::from((row[0] > 0.3) != (row[1] > -0.2)));
        x.extend(row);
    }
    (x, y)
}

#[test]
fn fitted_trees_learn_an_axis_aligned_rule_and_a_seed_reproduces_them() {
    for seed in [1, 7] {
        let (x, y) = xor_rows(1500, seed);
        let (xv, yv) = xor_rows(300, seed + 100);
        let train = LabeledRows {
            features: &x,
            labels: &y,
        };
        let valid = LabeledRows {
            features: &xv,
            labels: &yv,
        };
        let config = GbdtConfig {
            subsample: 0.8,
            ..GbdtConfig::default()
        };
        let e = config.fit(train, valid, 3, 2, seed).unwrap();
        assert!(
            e.num_trees() < 1000,
            "early stopping kept {}",
            e.num_trees()
        );
        let (xt, yt) = xor_rows(500, seed + 200);
        let logits = e.logits_host(&xt);
        let correct = logits
            .chunks(2)
            .zip(&yt)
            .filter(|(l, y)| usize::from(l[1] > l[0]) == **y)
            .count();
        assert!(correct >= 480, "seed {seed}: {correct}/500 test rows right");
        assert!(
            config.fit(train, valid, 3, 2, seed).unwrap() == e,
            "same seed, other trees"
        );
        assert!(
            config.fit(train, valid, 3, 2, seed + 1).unwrap() != e,
            "seed unused"
        );
    }
}

#[test]
fn each_class_gets_a_booster_and_a_missing_class_is_refused() {
    let (x, y2) = xor_rows(600, 3);
    // Three classes: the xor label, plus class 2 where x2 > 0.5.
    let y: Vec<usize> = y2
        .iter()
        .zip(x.chunks(3))
        .map(|(&l, r)| if r[2] > 0.5 { 2 } else { l })
        .collect();
    let rows = LabeledRows {
        features: &x,
        labels: &y,
    };
    let e = GbdtConfig::default().fit(rows, rows, 3, 3, 1).unwrap();
    assert_eq!(e.outputs.len(), 3);
    let logits = e.logits_host(&x);
    let right = logits
        .chunks(3)
        .zip(&y)
        .filter(|(l, y)| (0..3).max_by(|&a, &b| l[a].total_cmp(&l[b])) == Some(**y))
        .count();
    assert!(right > 550, "{right}/600");
    let err = GbdtConfig::default().fit(rows, rows, 3, 4, 1).unwrap_err();
    assert!(err.contains("class 3 has 0 of 600"), "{err}");
    let bad = LabeledRows {
        features: &x[..5],
        labels: &y,
    };
    assert!(GbdtConfig::default().fit(bad, rows, 3, 3, 1).is_err());
    let err = GbdtConfig {
        max_depth: 0,
        ..GbdtConfig::default()
    }
    .fit(rows, rows, 3, 3, 1)
    .unwrap_err();
    assert!(err.contains("max_depth = 0"), "{err}");
}

#[test]
fn our_trees_score_exactly_as_the_fitting_crate_predicts() {
    let (x, y) = xor_rows(800, 5);
    let rows = LabeledRows {
        features: &x,
        labels: &y,
    };
    let config = GbdtConfig::default();
    let e = config.fit(rows, rows, 3, 2, 5).unwrap();
    let cols = column_major_for_test(&x, 3);
    let m = forust_ml::Matrix::new(&cols, y.len(), 3);
    let yf: Vec<f64> = y.iter().map(|&l| l as f64).collect();
    let w = vec![1.0; y.len()];
    // The same booster fitted directly: our conversion must score as it predicts.
    let mut b = config.booster(5);
    let mv = forust_ml::Matrix::new(&cols, y.len(), 3);
    b.fit(&m, &yf, &w, Some(vec![(mv, &yf, &w)])).unwrap();
    let expected = b.predict(&m, false);
    let ours = e.logits_host(&x);
    for (i, want) in expected.iter().enumerate() {
        assert!((f64::from(ours[2 * i + 1]) - want).abs() < 1e-5, "row {i}");
    }
}

fn column_major_for_test(rows: &[f32], f: usize) -> Vec<f64> {
    let n = rows.len() / f;
    (0..f)
        .flat_map(|j| (0..n).map(move |i| f64::from(rows[i * f + j])))
        .collect()
}

#[test]
fn a_saved_tree_model_loads_with_the_same_logits_and_a_damaged_one_is_refused() {
    let device = burn::tensor::Device::flex();
    let dir = std::env::temp_dir().join(format!("dk-trees-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (x, y) = xor_rows(400, 9);
    let rows = LabeledRows {
        features: &x,
        labels: &y,
    };
    let e = GbdtConfig::default().fit(rows, rows, 3, 2, 9).unwrap();
    let info = ModelInfo {
        role: "teacher".into(),
        spec: ModelSpec::Gbdt(GbdtConfig::default()),
        description: e.describe(),
        num_features: 3,
        class_names: vec!["a".into(), "b".into()],
        weights: WeightFormat::Float32,
        source: None,
    };
    let model = AnyModel::Trees(TreeModel::new(e.clone()).unwrap());
    save_saved_model(&dir, &info, &model).unwrap();
    let (loaded_info, loaded) = load_saved_model(&dir, &device).unwrap();
    assert_eq!(loaded_info, info);
    let input = Tensor::<2>::from_data(TensorData::new(x.clone(), [400, 3]), &device);
    assert_eq!(
        to_vec_f32(loaded.logits(input)),
        e.logits_host(&x),
        "reloaded trees score differently"
    );
    // A trees.json whose node points outside its tree, with a matching manifest entry.
    let path = dir.join(crate::TREES_FILE);
    let mut broken = e.clone();
    broken.outputs[0].trees[0].nodes[0] = split(0, 0.0, 1, 2, 10_000);
    let text = serde_json::to_string(&broken).unwrap();
    dark_knowledge_core::io::write_atomic(&path, text.as_bytes()).unwrap();
    let err = load_saved_model(&dir, &device).unwrap_err().to_string();
    assert!(
        err.contains("trees.json") && err.contains("inside the tree"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_ensemble_averages_its_members_probabilities_even_when_they_are_confident() {
    let device = burn::tensor::Device::flex();
    device.seed(4);
    let spec = ModelSpec::Ensemble {
        members: 3,
        model: Box::new(ModelSpec::mlp(vec![5], 0.0)),
    };
    let model = spec.build(4, 3, &device).unwrap();
    assert_eq!(
        burn::module::Module::num_params(&model),
        spec.num_parameters(4, 3).unwrap()
    );
    let AnyModel::Ensemble(ensemble) = &model else {
        panic!("an ensemble spec builds an ensemble")
    };
    // Scaled inputs make the members confident: probabilities near 0 and 1.
    for scale in [1.0f32, 300.0] {
        let input = Tensor::<2>::random([6, 4], burn::tensor::Distribution::Default, &device)
            .mul_scalar(scale);
        let got = to_vec_f32(softmax(model.logits(input.clone()), 1));
        let mut mean = vec![0.0f64; 18];
        for m in ensemble.members() {
            for (s, p) in mean
                .iter_mut()
                .zip(to_vec_f32(softmax(m.logits(input.clone()), 1)))
            {
                *s += f64::from(p) / 3.0;
            }
        }
        for (g, m) in got.iter().zip(&mean) {
            assert!(
                (f64::from(*g) - m).abs() < 1e-5,
                "scale {scale}: {g} vs {m}"
            );
        }
    }
    let err = ModelSpec::Ensemble {
        members: 1,
        model: Box::new(ModelSpec::mlp(vec![], 0.0)),
    }
    .validate()
    .unwrap_err()
    .to_string();
    assert!(err.contains("2..=32"), "{err}");
    let nested = ModelSpec::Ensemble {
        members: 2,
        model: Box::new(ModelSpec::Gbdt(GbdtConfig::default())),
    };
    assert!(nested.validate().is_err());
}
