//! Every method family's example experiment file runs through the command line
//! (`train-teacher`, `distill`, `evaluate`) on the churn data and on Fashion-MNIST, in a
//! reduced setting, and learns: the report holds every model the method produces, the
//! history holds every configured loss term, and the student beats chance clearly.

mod common;

use common::{fashion_dir, ok, report, scratch};
use serde_json::Value;
use toml::Value as Toml;

const CHURN: &str = "churn";
const FASHION: &str = "fashion";

fn set_epochs(table: &mut Toml, epochs: i64) {
    if let Some(t) = table.as_table_mut() {
        let train = t
            .entry("train")
            .or_insert_with(|| Toml::Table(Default::default()))
            .as_table_mut()
            .unwrap();
        train.insert("epochs".into(), Toml::Integer(epochs));
        // Small batches: enough optimizer steps on a few rows.
        train.insert("batch_size".into(), Toml::Integer(32));
    }
}

/// The example file `text`, reduced (2 epochs for teachers, 6 / 4 for students; few rows) and pointed
/// at `data`.
fn reduced(text: &str, data: &str, fashion: Option<&str>) -> String {
    let mut e: Toml = toml::from_str(text).unwrap();
    let t = e.as_table_mut().unwrap();
    t.insert("output_dir".into(), Toml::String("run".into()));
    let data_table: Toml = match data {
        CHURN => toml::from_str("source = \"churn\"").unwrap(),
        _ => toml::from_str(&format!(
            "source = \"fashion-mnist\"\ndata_dir = {:?}\nvalid_fraction = 0.1\nmax_train_rows = 1500\nmax_test_rows = 500",
            fashion.unwrap()
        ))
        .unwrap(),
    };
    t.insert("data".into(), data_table);
    set_epochs(t.get_mut("teacher").unwrap(), 2);
    // Students are tiny on churn: a few more epochs cost nothing there.
    let student_epochs = if data == CHURN { 6 } else { 4 };
    set_epochs(t.get_mut("student").unwrap(), student_epochs);
    if let Some(Toml::Array(extra)) = t.get_mut("teachers") {
        for teacher in extra {
            if teacher.get("train").is_some() {
                set_epochs(teacher, 2);
            }
        }
    }
    toml::to_string(&e).unwrap()
}

/// Runs the reduced example on one data set, checks the outcome and returns the distilled
/// student's `metrics.json`.
fn run_method(name: &str, text: &str, data: &str, fashion: Option<&str>, roles: &[&str]) -> Value {
    let dir = scratch(&format!("method-{name}-{data}"));
    let config = dir.join("experiment.toml");
    std::fs::write(&config, reduced(text, data, fashion)).unwrap();
    let cfg = config.to_str().unwrap();
    ok(&["--progress", "none", "train-teacher", "--config", cfg]);
    ok(&["--progress", "none", "distill", "--config", cfg]);
    let table = ok(&["--progress", "none", "evaluate", "--config", cfg]);
    let run = dir.join("run");
    let r = report(&run);
    for role in roles.iter().chain(&["teacher", "baseline", "distilled"]) {
        assert!(
            r["models"].get(*role).is_some(),
            "{name} on {data}: no {role} in the report:\n{table}"
        );
    }
    // Every [[loss]] term is in the distilled student's history, by name.
    let example: Toml = toml::from_str(text).unwrap();
    let metrics: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("distilled/metrics.json")).unwrap())
            .unwrap();
    let terms = &metrics["history"][0]["train"]["terms"];
    for term in example.get("loss").and_then(Toml::as_array).unwrap() {
        let key = term
            .get("name")
            .or_else(|| term.get("kind"))
            .and_then(Toml::as_str)
            .unwrap();
        let key = if key == "logit_standardized_kd" {
            "lskd"
        } else {
            key
        };
        assert!(
            terms.get(key).and_then(Value::as_f64).is_some(),
            "{name} on {data}: term {key} missing from {terms}"
        );
    }
    let student = &r["models"]["distilled"];
    let accuracy = student["accuracy"].as_f64().unwrap();
    if data == CHURN {
        let auc = student["roc_auc"].as_f64().unwrap();
        assert!(auc > 0.75, "{name} on churn: ROC-AUC {auc}\n{table}");
    } else {
        // 10 classes: chance is 0.1.
        assert!(
            accuracy > 0.35,
            "{name} on Fashion-MNIST: accuracy {accuracy}\n{table}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
    metrics
}

/// Runs the example on churn and, when its files are there, on Fashion-MNIST; returns the
/// distilled student's `metrics.json` of each run.
fn both(name: &str, text: &str, roles: &[&str]) -> Vec<Value> {
    let mut out = vec![run_method(name, text, CHURN, None, roles)];
    if let Some(fashion) = fashion_dir() {
        out.push(run_method(name, text, FASHION, Some(&fashion), roles));
    }
    out
}

/// `text` with the line starting with `key` replaced by `line`.
fn with_line(text: &str, key: &str, line: &str) -> String {
    assert!(text.lines().any(|l| l.starts_with(key)), "no {key} line");
    text.lines()
        .map(|l| if l.starts_with(key) { line } else { l })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first epoch's training value of the term `term`.
fn first_epoch_term(metrics: &Value, term: &str) -> f64 {
    metrics["history"][0]["train"]["terms"][term]
        .as_f64()
        .unwrap()
}

#[test]
fn logit_losses_dkd_with_warm_up() {
    let text = include_str!("../../../examples/experiments/methods/logit-losses.toml");
    both("logit-losses", text, &[]);
    // The commented alternatives run too: DIST, logit-standardized KD, an annealed KD,
    // top-1 KD and logit matching.
    let is_toml =
        |l: &str| l.starts_with("[[") || l.split_once(" = ").is_some_and(|(k, _)| !k.contains(' '));
    let alternatives = text
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest) if is_toml(rest) => rest,
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        alternatives.matches("[[loss]]").count() == 7,
        "{alternatives}"
    );
    // On churn (two classes) lskd has no gradient and dist keeps its intra-class part only:
    // ten classes exercise them fully.
    both("logit-alternatives", &alternatives, &[]);
}

#[test]
fn feature_distillation_hint_and_rkd() {
    both(
        "features",
        include_str!("../../../examples/experiments/methods/features.toml"),
        &[],
    );
}

#[test]
fn attention_transfer_between_cnns_on_images() {
    // Feature maps exist for image models only, so this family runs on Fashion-MNIST.
    if let Some(fashion) = fashion_dir() {
        let text = include_str!("../../../examples/experiments/methods/attention-cnn.toml");
        run_method("attention-cnn", text, FASHION, Some(&fashion), &[]);
    }
}

#[test]
fn ensemble_of_teachers_both_ways_of_combining() {
    let text = include_str!("../../../examples/experiments/methods/ensemble.toml");
    let averaged = both("ensemble", text, &["teacher-wide"]);
    let losses = with_line(text, "combine = ", "combine = \"average_losses\"");
    let per_teacher = both("ensemble-average-losses", &losses, &["teacher-wide"]);
    // The same teachers and student start: the weighted mean of per-teacher KL terms
    // exceeds the KL to the averaged probabilities by the ensemble's entropy gap
    // H(Σ w p_i) − Σ w H(p_i) > 0, so the logged kd term is larger.
    for (a, l) in averaged.iter().zip(&per_teacher) {
        let (a, l) = (first_epoch_term(a, "kd"), first_epoch_term(l, "kd"));
        assert!(
            l > a,
            "average_losses kd {l} must exceed average_probabilities kd {a}"
        );
    }
}

#[test]
fn deep_mutual_learning() {
    let text = include_str!("../../../examples/experiments/methods/mutual.toml");
    both("mutual", text, &["mutual-2"]);
}

#[test]
fn born_again_generations_alone_and_as_an_ensemble() {
    let text = include_str!("../../../examples/experiments/methods/born-again.toml");
    let roles = ["generation-1", "generation-2"];
    for metrics in both("born-again", text, &roles) {
        let from = metrics["taught_by"].as_str().unwrap();
        assert!(
            !from.contains(" + "),
            "generation 3 learns from generation 2 only: {from}"
        );
    }
    let ensemble = with_line(text, "ensemble = ", "ensemble = true");
    for metrics in both("born-again-ensemble", &ensemble, &roles) {
        let from = metrics["taught_by"].as_str().unwrap();
        assert_eq!(
            from.matches(" × ").count(),
            2,
            "generation 3 learns from generations 1 and 2: {from}"
        );
    }
}

#[test]
fn teacher_assistant_chain() {
    both(
        "assistant",
        include_str!("../../../examples/experiments/methods/assistant.toml"),
        &["assistant"],
    );
}
