//! Tabular teachers beyond one network: boosted trees, deep ensembles and `model = "auto"`,
//! end to end through train-teacher, distill, evaluate and predict, on CSVs whose label is an
//! axis-aligned rule (made for trees) drawn from a seeded generator.

use std::path::{Path, PathBuf};

use dark_knowledge_experiment::run::{RunDir, TeacherSelection};
use dark_knowledge_experiment::{Experiment, TeacherSource, Workflow};
use serde_json::Value;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dk-trees-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `rows` rows: numeric a, b, c in [0, 1), a categorical `g` of three levels, and
/// `y = (a > 0.35) xor (b > 0.6)`, or `g == "red"` when c > 0.85: thresholds and a level,
/// what trees split on and a small network fits slowly.
fn write_csv(dir: &Path, rows: usize, seed: u64) -> PathBuf {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut text = String::from("a,b,c,g,y\n");
    for _ in 0..rows {
        let (a, b, c) = (next(), next(), next());
        let g = ["red", "green", "blue"][(next() * 3.0) as usize % 3];
        let rule = if c > 0.85 {
            g == "red"
        } else {
            (a > 0.35) != (b > 0.6)
        };
        let y = if rule { "yes" } else { "no" };
        text.push_str(&format!("{a:.4},{b:.4},{c:.4},{g},{y}\n"));
    }
    let path = dir.join("data.csv");
    std::fs::write(&path, text).unwrap();
    path
}

fn experiment(csv: &Path, out: &Path, teacher: &str, seed: u64) -> Experiment {
    Experiment::from_toml(&format!(
        r#"
seed = {seed}
output_dir = {out:?}
[data]
source = "csv"
path = {csv:?}
target = "y"
positive = "yes"
[teacher]
model = {teacher}
[teacher.train]
epochs = 3
batch_size = 64
learning_rate = 0.003
[student]
model = {{ kind = "mlp", hidden_sizes = [8] }}
logistic = false
[student.train]
epochs = 3
batch_size = 64
learning_rate = 0.01
"#
    ))
    .unwrap()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn auc(report: &Value, role: &str) -> f64 {
    report["models"][role]["roc_auc"]
        .as_f64()
        .unwrap_or_else(|| panic!("no ROC-AUC for {role}: {}", report["models"]))
}

#[test]
fn auto_keeps_the_trees_on_a_task_made_for_trees_and_they_beat_the_network() {
    for seed in [3, 11] {
        let dir = scratch(&format!("auto-{seed}"));
        let csv = write_csv(&dir, 1500, seed);
        let out = dir.join("run");
        let teacher = r#"{ kind = "auto", candidates = [{ kind = "mlp", hidden_sizes = [16] }, { kind = "gbdt", max_depth = 4 }] }"#;
        let workflow = Workflow::new(experiment(&csv, &out, teacher, seed)).unwrap();
        workflow.train_teacher().unwrap();
        let selection =
            TeacherSelection::read(&RunDir(out.clone())).expect("auto writes its selection");
        let kinds: Vec<&str> = selection
            .candidates
            .iter()
            .map(|c| c.kind.as_str())
            .collect();
        assert_eq!(kinds, ["mlp", "gbdt"]);
        assert_eq!(selection.chosen, 1, "seed {seed}: {}", selection.summary());
        let (mlp, gbdt) = (&selection.candidates[0], &selection.candidates[1]);
        assert!(gbdt.valid_log_loss < mlp.valid_log_loss);
        assert_eq!(
            (gbdt.role.as_str(), mlp.role.as_str()),
            ("teacher", "candidate-mlp")
        );
        let info = read_json(&out.join("teacher/model.json"));
        assert_eq!(info["spec"]["kind"], "gbdt", "{info}");
        assert!(out.join("teacher/trees.json").exists());

        workflow.distill(&TeacherSource::Model).unwrap();
        // The teacher is the tree row: no separate `trees` peer.
        assert!(!out.join("trees").exists());
        workflow.evaluate().unwrap();
        let report = read_json(&out.join("report.json"));
        let (trees, network) = (auc(&report, "teacher"), auc(&report, "candidate-mlp"));
        assert!(
            trees > network + 0.05,
            "seed {seed}: trees {trees}, mlp {network}"
        );
        assert!(trees > 0.95, "seed {seed}: trees {trees}");
        let md = std::fs::read_to_string(out.join("report.md")).unwrap();
        assert!(md.contains("auto") && md.contains("gbdt"), "{md}");
    }
}

#[test]
fn a_network_teacher_gets_a_trees_peer_and_trees_cannot_be_quantized_or_a_student() {
    let dir = scratch("peer");
    let csv = write_csv(&dir, 900, 5);
    let out = dir.join("run");
    let workflow = Workflow::new(experiment(
        &csv,
        &out,
        r#"{ kind = "ensemble", members = 2, model = { kind = "mlp", hidden_sizes = [8] } }"#,
        5,
    ))
    .unwrap();
    workflow.train_teacher().unwrap();
    let info = read_json(&out.join("teacher/model.json"));
    assert_eq!(info["spec"]["kind"], "ensemble", "{info}");
    workflow.distill(&TeacherSource::Model).unwrap();
    let trees = read_json(&out.join("trees/model.json"));
    assert!(
        trees["description"]
            .as_str()
            .unwrap()
            .starts_with("GBDT 8-2 ("),
        "{trees}"
    );
    workflow.evaluate().unwrap();
    let report = read_json(&out.join("report.json"));
    assert!(auc(&report, "trees") > 0.9, "{}", report["models"]["trees"]);
    // An ensemble's report row counts both members' parameters.
    let one_member = 8 * 8 + 8 + 8 * 2 + 2;
    assert_eq!(report["models"]["teacher"]["parameters"], 2 * one_member);

    let err = workflow.quantize("trees").unwrap_err().to_string();
    assert!(err.contains("no weights to quantize"), "{err}");
    let bad = Experiment::from_toml(&format!(
        "output_dir = {out:?}\n[data]\nsource = \"churn\"\n[teacher]\nmodel = \"auto\"\n\
         [student]\nmodel = {{ kind = \"gbdt\" }}\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(bad.contains("teacher kind"), "{bad}");
    // `teacher = "auto"` is the short form of `[teacher] model = "auto"`.
    let short = Experiment::from_toml(&format!(
        "output_dir = {out:?}\nteacher = \"auto\"\n[data]\nsource = \"churn\"\n\
         [student]\nmodel = {{ kind = \"mlp\", hidden_sizes = [] }}\n"
    ))
    .unwrap();
    assert_eq!(
        short.teacher.model,
        dark_knowledge_models::ModelSpec::auto()
    );
    let bad = Experiment::from_toml(
        "[data]\nsource = \"churn\"\n[teacher]\nmodel = \"best\"\n[student]\nmodel = { kind = \"mlp\", hidden_sizes = [] }\n",
    )
    .unwrap_err();
    assert!(format!("{bad:#}").contains("expected \"auto\""), "{bad:#}");
}

#[test]
fn predict_scores_new_rows_with_a_tree_teacher_as_its_trees_say() {
    let dir = scratch("predict");
    let csv = write_csv(&dir, 800, 9);
    let out = dir.join("run");
    let workflow = Workflow::new(experiment(
        &csv,
        &out,
        r#"{ kind = "gbdt", max_depth = 3 }"#,
        9,
    ))
    .unwrap();
    workflow.train_teacher().unwrap();
    let device = workflow.device().clone();
    let predictor = dark_knowledge_infer::Predictor::load(&out, "teacher", &device).unwrap();
    let rows = [
        ("0.9", "0.1", "red", "yes"),
        ("0.9", "0.9", "red", "no"),
        ("0.1", "0.9", "blue", "yes"),
    ];
    for (a, b, g, want) in rows {
        let record = std::collections::HashMap::from([
            ("a".to_string(), a.to_string()),
            ("b".to_string(), b.to_string()),
            ("c".to_string(), "0.2".to_string()),
            ("g".to_string(), g.to_string()),
        ]);
        let p = predictor.predict_proba_record(&record).unwrap();
        let yes = predictor
            .class_names()
            .iter()
            .position(|c| c == "yes")
            .unwrap();
        let got = if p[yes] > 0.5 { "yes" } else { "no" };
        assert_eq!(got, want, "a={a} b={b}: {p:?}");
    }
}

#[test]
fn the_tabular_example_file_is_the_documented_recipe() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/experiments/tabular.toml");
    let e = Experiment::load(&path).unwrap();
    assert_eq!(e.teacher.model, dark_knowledge_models::ModelSpec::auto());
    let synthetic = e.data.synthetic.as_ref().expect("a synthetic transfer set");
    assert_eq!(synthetic.multiple, 4.0);
    assert!(e.student.logistic && e.student.trees && e.student.baseline);
    let loss = &e.student.train.loss;
    assert_eq!(
        (loss.temperature, loss.ce_weight, loss.kd_weight),
        (1.0, 0.5, 0.5)
    );
    assert!(e.data.path.as_ref().unwrap().exists(), "{:?}", e.data.path);
}
