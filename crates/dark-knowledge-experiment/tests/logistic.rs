//! The `logistic` peer of a tabular run: after train-teacher, distill and evaluate on a tiny
//! CSV whose label is linear in one feature, report.json has a `logistic` model of the
//! size of a logistic regression that ranks the test rows well, with its L2 strength one of
//! the candidates; `[student] logistic = false` leaves it out.

use std::path::{Path, PathBuf};

use dark_knowledge_experiment::{Experiment, TeacherSource, Workflow};
use serde_json::Value;

/// The L2 strengths `distill` tries.
const CANDIDATES: [f64; 5] = [0.0, 1e-4, 1e-3, 1e-2, 1e-1];

/// A fresh folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dk-logistic-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// 800 rows: two numeric features and `y = x1 > 0.6`, flipped on one row in seven.
fn write_csv(dir: &Path) -> PathBuf {
    let mut text = String::from("x1,x2,y\n");
    for i in 0..800 {
        let (a, b) = ((i * 37 % 101) as f32 / 101.0, (i * 53 % 97) as f32 / 97.0);
        let noisy = i % 7 == 0;
        let y = if (a > 0.6) != noisy { "yes" } else { "no" };
        text.push_str(&format!("{a},{b},{y}\n"));
    }
    let path = dir.join("data.csv");
    std::fs::write(&path, text).unwrap();
    path
}

/// A tiny experiment; `logistic` is the `[student] logistic` line, if any.
fn experiment(csv: &Path, out: &Path, logistic: &str) -> Experiment {
    Experiment::from_toml(&format!(
        r#"
seed = 5
output_dir = {out:?}
[data]
source = "csv"
path = {csv:?}
target = "y"
positive = "yes"
test_fraction = 0.25
[teacher]
model = {{ kind = "mlp", hidden_sizes = [16] }}
[teacher.train]
epochs = 2
batch_size = 64
[student]
model = {{ kind = "mlp", hidden_sizes = [4] }}
{logistic}
[student.train]
epochs = 2
batch_size = 64
learning_rate = 0.03
"#
    ))
    .unwrap()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn run(name: &str, logistic: &str) -> PathBuf {
    let dir = scratch(name);
    let csv = write_csv(&dir);
    let out = dir.join("run");
    let workflow = Workflow::new(experiment(&csv, &out, logistic)).unwrap();
    workflow.train_teacher().unwrap();
    workflow.distill(&TeacherSource::Model).unwrap();
    workflow.evaluate().unwrap();
    out
}

#[test]
fn tabular_runs_get_a_logistic_row_with_l2_chosen_on_validation() {
    let out = run("on", "");
    let report = read_json(&out.join("report.json"));
    let model = &report["models"]["logistic"];
    assert!(model.is_object(), "no logistic model in {report}");
    let features = report["dataset"]["num_features"].as_u64().unwrap();
    assert_eq!(model["parameters"].as_u64().unwrap(), features * 2 + 2);
    for key in ["accuracy", "log_loss", "roc_auc", "brier", "ece"] {
        assert!(
            num(&model[key]).is_finite(),
            "logistic {key}: {}",
            model[key]
        );
    }
    let auc = num(&model["roc_auc"]);
    assert!(auc > 0.7, "logistic ROC-AUC {auc}");

    let metrics = read_json(&out.join("logistic").join("metrics.json"));
    let l2 = num(&metrics["trainer"]["weight_decay"]);
    assert!(CANDIDATES.contains(&l2), "chosen L2 {l2}");
    let taught_by = metrics["taught_by"].as_str().unwrap();
    assert!(
        taught_by.contains("chosen on validation log-loss"),
        "{taught_by}"
    );

    let markdown = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(markdown.contains("logistic"), "{markdown}");
}

#[test]
fn logistic_false_trains_no_logistic_role() {
    let out = run("off", "logistic = false");
    let report = read_json(&out.join("report.json"));
    assert!(report["models"].get("logistic").is_none(), "{report}");
    assert!(report["models"].get("baseline").is_some());
    assert!(!out.join("logistic").exists());
}
