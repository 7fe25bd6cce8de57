//! `sweep` (resumable, aggregated, plotted) and `reproduce` (a built-in study, reduced).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{ok, scratch, small_sweep};
use serde_json::Value;

const SWEEP: &str = r#"
seed = 42
output_dir = "out"

[data]
source = "churn"

[teacher]
model = { kind = "mlp", hidden_sizes = [64] }

[teacher.train]
epochs = 3
batch_size = 64
learning_rate = 0.003

[student]
model = { kind = "mlp", hidden_sizes = [8] }

[student.train]
batch_size = 64
learning_rate = 0.003

[sweep]
seeds = [1, 2, 3]
method = ["hard", "kd", "kd+transfer"]
temperature = [2.0, 4.0]
labeled_fraction = [0.2]
steps = 300
"#;

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn run_files(out: &Path) -> Vec<(String, std::time::SystemTime)> {
    let mut files: Vec<_> = std::fs::read_dir(out.join("runs"))
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        e.metadata().unwrap().modified().unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn a_killed_sweep_resumes_without_redoing_finished_runs_and_aggregates_them() {
    let dir = scratch("sweep");
    let config = dir.join("sweep.toml");
    std::fs::write(&config, SWEEP).unwrap();
    let cfg = config.to_str().unwrap();
    let out = dir.join("out");
    // 3 seeds × (hard + kd at 2 temperatures + kd+transfer at 2) = 15 runs.
    let mut child = Command::new(env!("CARGO_BIN_EXE_dark-knowledge"))
        .args(["--progress", "none", "sweep", "--config", cfg])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while run_files(&out).len() < 2 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the sweep ended before it was killed"
        );
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no run finished in 300 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = run_files(&out);
    assert!(
        before.len() >= 2 && before.len() < 15,
        "{} runs done",
        before.len()
    );
    // No half-written file: every result present parses.
    for (name, _) in &before {
        json(&out.join("runs").join(name));
    }

    let resumed = Command::new(env!("CARGO_BIN_EXE_dark-knowledge"))
        .args(["--progress", "none", "sweep", "--config", cfg])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert!(resumed.status.success(), "{stderr}");
    assert!(
        stderr.contains("reusing"),
        "the teacher is reused: {stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{} finished before, {} to run",
            before.len(),
            15 - before.len()
        )),
        "{stderr}"
    );
    let after = run_files(&out);
    assert_eq!(after.len(), 15);
    for (name, modified) in &before {
        let now = after.iter().find(|(n, _)| n == name).unwrap();
        assert_eq!(now.1, *modified, "{name} was run again");
    }

    // The summary: one row per setting and method, mean ± std of the run files.
    let results = json(&out.join("results.json"));
    let rows = results["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 5, "{results}");
    for row in rows {
        let accs: Vec<f64> = row["accuracies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(accs.len(), 3);
        let mean = accs.iter().sum::<f64>() / 3.0;
        let std = (accs.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
        assert!((row["mean_accuracy"].as_f64().unwrap() - mean).abs() < 1e-12);
        assert!((row["std_accuracy"].as_f64().unwrap() - std).abs() < 1e-12);
        // Each accuracy is the one its run file holds.
        for (seed, acc) in row["seeds"].as_array().unwrap().iter().zip(&accs) {
            let matching: Vec<Value> = after
                .iter()
                .map(|(n, _)| json(&out.join("runs").join(n)))
                .filter(|r| {
                    r["spec"]["setting"] == row["setting"]
                        && r["spec"]["method"] == row["method"]
                        && r["spec"]["seed"] == *seed
                })
                .collect();
            assert_eq!(matching.len(), 1);
            assert_eq!(matching[0]["accuracy"].as_f64().unwrap(), *acc);
        }
        // A churn student learns: above the 85.9 % of always answering "no" is not
        // guaranteed with 20 % of the labels, but far above chance is.
        assert!(mean > 0.75, "{row}");
    }
    let md = std::fs::read_to_string(out.join("results.md")).unwrap();
    assert!(md.contains("kd+transfer") && md.contains(" ± "), "{md}");
    let plot = std::fs::read_to_string(out.join("plots/accuracy_vs_temperature.svg")).unwrap();
    assert!(
        plot.starts_with("<svg") && plot.contains("kd+transfer"),
        "{plot}"
    );
    let reliability = std::fs::read_dir(out.join("plots"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("reliability_"))
        .count();
    assert_eq!(reliability, 5);
    // Done: a third run does nothing.
    let again = ok(&["--progress", "none", "sweep", "--config", cfg]);
    assert!(again.contains("kd+transfer"), "{again}");
    assert_eq!(run_files(&out), after);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn reproduce_writes_the_study_table_in_a_reduced_setting() {
    let Some(data_dir) = common::fashion_dir() else {
        return;
    };
    let dir = scratch("reproduce");
    let out = dir.join("out");
    let table = ok(&[
        "--progress",
        "none",
        "reproduce",
        "fashion-mnist-low-data",
        "--seeds",
        "2",
        "--data-dir",
        &data_dir,
        "--out",
        out.to_str().unwrap(),
        "--max-train-rows",
        "4000",
        "--max-test-rows",
        "1000",
        "--teacher-epochs",
        "3",
        "--steps",
        "300",
        "--labels-per-class",
        "10",
    ]);
    let results = json(&out.join("results.json"));
    assert_eq!(results["study"], "fashion-mnist-low-data");
    let rows = results["rows"].as_array().unwrap();
    // 100 labels × hard / kd / kd+transfer, and all labels × hard / kd.
    assert_eq!(rows.len(), 5, "{table}");
    let row = |setting: &str, method: &str| {
        rows.iter()
            .find(|r| r["setting"] == setting && r["method"] == method)
            .unwrap_or_else(|| panic!("no {setting} {method} row:\n{table}"))
    };
    for r in rows {
        for key in [
            "setting",
            "method",
            "n_labeled",
            "mean_accuracy",
            "std_accuracy",
            "accuracies",
        ] {
            assert!(r.get(key).is_some(), "{key} missing in {r}");
        }
        let acc = r["mean_accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&acc), "accuracy is a fraction: {r}");
        assert_eq!(r["accuracies"].as_array().unwrap().len(), 2);
    }
    assert_eq!(row("100 labels", "hard")["n_labeled"], 100);
    // Learned outcome: the unlabelled transfer set helps when labels are few.
    let hard = row("100 labels", "hard")["mean_accuracy"].as_f64().unwrap();
    let transfer = row("100 labels", "kd+transfer")["mean_accuracy"]
        .as_f64()
        .unwrap();
    assert!(hard > 0.4, "{table}");
    assert!(
        transfer > hard,
        "kd+transfer {transfer} vs hard {hard}\n{table}"
    );
    let all = row("all labels", "hard")["mean_accuracy"].as_f64().unwrap();
    assert!(all > hard, "{table}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Writes `dir/partial.csv`: the churn data with the target of 3 rows in 4 emptied.
fn write_partial_churn(dir: &Path) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../dark-knowledge-data/assets/churn/mlc_churn.csv"
    ))
    .unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let target = header
        .split(',')
        .position(|h| h.trim_matches('"') == "churn")
        .unwrap();
    let mut csv = format!("{header}\n");
    for (i, line) in lines.enumerate() {
        let mut cells: Vec<&str> = line.split(',').collect();
        if i % 4 != 0 {
            cells[target] = "";
        }
        csv.push_str(&cells.join(","));
        csv.push('\n');
    }
    std::fs::write(dir.join("partial.csv"), csv).unwrap();
}

#[test]
fn csv_rows_without_target_are_a_transfer_set_when_asked() {
    let dir = scratch("transfer-csv");
    write_partial_churn(&dir);
    let experiment = |flag: bool| {
        format!(
            r#"
output_dir = "run"
[data]
source = "csv"
path = "partial.csv"
target = "churn"
positive = "yes"
missing_target_is_unlabeled = {flag}
[teacher]
model = {{ kind = "mlp", hidden_sizes = [64] }}
[teacher.train]
epochs = 4
batch_size = 64
learning_rate = 0.003
[student]
model = {{ kind = "mlp", hidden_sizes = [8] }}
[student.train]
epochs = 4
batch_size = 64
learning_rate = 0.003
"#
        )
    };
    let config = dir.join("exp.toml");
    std::fs::write(&config, experiment(false)).unwrap();
    let cfg = config.to_str().unwrap();
    let err = common::fails(&["--progress", "none", "train-teacher", "--config", cfg]);
    assert!(err.contains("line 3") && err.contains("churn"), "{err}");

    std::fs::write(&config, experiment(true)).unwrap();
    ok(&["--progress", "none", "train-teacher", "--config", cfg]);
    ok(&["--progress", "none", "distill", "--config", cfg]);
    let table = ok(&["--progress", "none", "evaluate", "--config", cfg]);
    let run = dir.join("run");
    let rows = |role: &str| {
        json(&run.join(role).join("metrics.json"))["history"][0]["train"]["rows"]
            .as_u64()
            .unwrap()
    };
    // 1,250 labelled rows, 70 % of them for training; 3,750 unlabelled training rows.
    let labeled = rows("baseline");
    assert_eq!(rows("teacher"), labeled);
    assert!((860..=890).contains(&labeled), "{labeled}");
    assert_eq!(rows("distilled"), labeled + 3750);
    // Validation and test rows all have labels: 15 % + 15 % of the 1,250.
    let report = json(&run.join("report.json"));
    let test_rows = report["dataset"]["test_rows"].as_u64().unwrap();
    assert!((180..=195).contains(&test_rows), "{test_rows}\n{table}");
    assert!(
        report["models"]["distilled"]["roc_auc"].as_f64().unwrap() > 0.7,
        "{table}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn sweep_stderr(config: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dark-knowledge"))
        .args([
            "--progress",
            "none",
            "sweep",
            "--config",
            config.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_sweep_reruns_runs_made_with_other_settings_and_refuses_another_teacher() {
    let dir = scratch("sweep-context");
    let config = dir.join("sweep.toml");
    let grid = "seeds = [1]\nmethod = [\"hard\", \"kd\"]";
    let churn = "source = \"churn\"";
    std::fs::write(&config, small_sweep(churn, "", 2, grid)).unwrap();
    let (ok1, err) = sweep_stderr(&config);
    assert!(ok1, "{err}");
    assert!(err.contains("0 finished before, 2 to run"), "{err}");
    let first = run_files(&dir.join("out"));
    assert_eq!(first.len(), 2);

    // Another student weight decay: the same run ids, but the files are stale.
    std::fs::write(&config, small_sweep(churn, "weight_decay = 0.01", 2, grid)).unwrap();
    let (ok2, err) = sweep_stderr(&config);
    assert!(ok2, "{err}");
    assert!(err.contains("reusing"), "the teacher is the same: {err}");
    assert!(err.contains("0 finished before, 2 to run"), "{err}");
    assert!(
        err.contains("2 run files there were made with another"),
        "{err}"
    );
    let second = run_files(&dir.join("out"));
    assert_eq!(second.len(), 2);
    assert!(second.iter().zip(&first).all(|(a, b)| a.1 != b.1));
    // Unchanged: nothing to do.
    let (ok3, err) = sweep_stderr(&config);
    assert!(ok3 && err.contains("2 finished before, 0 to run"), "{err}");

    // Another teacher (more epochs) in the same folder: refused before anything trains.
    std::fs::write(&config, small_sweep(churn, "weight_decay = 0.01", 3, grid)).unwrap();
    let (ok4, err) = sweep_stderr(&config);
    assert!(!ok4, "a teacher trained otherwise must not be reused");
    assert!(
        err.contains("trained from other settings or data") && err.contains("remove"),
        "{err}"
    );
    assert_eq!(run_files(&dir.join("out")), second);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_sweep_on_partly_labelled_csv_keeps_rows_without_target_out_of_the_labelled_set() {
    let dir = scratch("sweep-partial");
    write_partial_churn(&dir);
    let config = dir.join("sweep.toml");
    let data = "source = \"csv\"\npath = \"partial.csv\"\ntarget = \"churn\"\npositive = \"yes\"\nmissing_target_is_unlabeled = true";
    let grid =
        "seeds = [1]\nmethod = [\"hard\", \"kd\", \"kd+transfer\"]\nlabeled_fraction = [1.0, 0.5]";
    std::fs::write(&config, small_sweep(data, "", 2, grid)).unwrap();
    let (ok1, err) = sweep_stderr(&config);
    assert!(ok1, "{err}");
    let results = json(&dir.join("out/results.json"));
    let rows = results["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 6, "{results}");
    let runs: Vec<Value> = run_files(&dir.join("out"))
        .iter()
        .map(|(n, _)| json(&dir.join("out/runs").join(n)))
        .collect();
    let run = |fraction: f64, method: &str| {
        runs.iter()
            .find(|r| {
                r["spec"]["labels"]["fraction"].as_f64() == Some(fraction)
                    && r["spec"]["method"] == method
            })
            .unwrap_or_else(|| panic!("no run {fraction} {method}"))
    };
    // 70 % of the 1,250 labelled rows train; all 3,750 rows without target do too.
    let labeled = run(1.0, "hard")["n_labeled"].as_u64().unwrap();
    let train = run(1.0, "kd+transfer")["n_train_rows"].as_u64().unwrap();
    assert!((860..=890).contains(&labeled), "{labeled}");
    assert_eq!(train, labeled + 3750);
    for method in ["hard", "kd"] {
        // Only labelled rows: the rows without target are not a silent transfer set.
        assert_eq!(run(1.0, method)["n_train_rows"].as_u64(), Some(labeled));
        // Half of the labelled rows, never a row that had no label.
        let half = run(0.5, method)["n_labeled"].as_u64().unwrap();
        assert!(half.abs_diff(labeled / 2) <= 2, "{half} vs {labeled}");
        assert_eq!(run(0.5, method)["n_train_rows"].as_u64(), Some(half));
    }
    let t = run(0.5, "kd+transfer");
    assert_eq!(t["n_labeled"], run(0.5, "hard")["n_labeled"]);
    assert_eq!(t["n_train_rows"].as_u64(), Some(train));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_sweep_varies_the_weights_of_loss_terms_by_name() {
    let dir = scratch("sweep-weights");
    let config = dir.join("sweep.toml");
    let terms = "[[loss]]\nkind = \"ce\"\nweight = 0.5\n\n[[loss]]\nkind = \"kd\"\nweight = 0.5\ntemperature = 2.0";
    let grid = "seeds = [1]\nmethod = [\"hard\", \"kd\"]\nweights = [{ ce = 1.0, kd = 0.0 }, { kd = 0.9 }]";
    std::fs::write(&config, small_sweep("source = \"churn\"", terms, 2, grid)).unwrap();
    let (ok1, err) = sweep_stderr(&config);
    assert!(ok1, "{err}");
    let results = json(&dir.join("out/results.json"));
    let rows = results["rows"].as_array().unwrap();
    let accuracy = |method: &str, setting_part: &str| {
        let matching: Vec<&Value> = rows
            .iter()
            .filter(|r| {
                r["method"] == method && r["setting"].as_str().unwrap().contains(setting_part)
            })
            .collect();
        assert_eq!(matching.len(), 1, "{method} {setting_part}: {results}");
        matching[0]["mean_accuracy"].as_f64().unwrap()
    };
    // With the kd term weighted 0 and ce 1, the distilled run is the hard-label run: same
    // seed, same rows, the same gradient, so the same accuracy to the last bit. Were the
    // weights ignored, it would train with 0.5 · ce + 0.5 · kd.
    let hard = accuracy("hard", "all labels");
    assert_eq!(accuracy("kd", "ce = 1 kd = 0"), hard, "{results}");
    // The other table keeps ce at its written 0.5 and sets kd to 0.9.
    assert!(accuracy("kd", "kd = 0.9") > 0.75, "{results}");
    assert_eq!(rows.len(), 3, "{results}");
    // No temperature axis: the kd term keeps the temperature written on it.
    for r in rows.iter().filter(|r| r["method"] == "kd") {
        assert_eq!(r["temperature"].as_f64(), Some(2.0), "{r}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
