//! A program that uses only the `dark-knowledge` facade does what `demo`, `sweep` and
//! `predict` do, and writes the same files with the same contents (timings aside).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use common::{ok, scratch, small_sweep};
use dark_knowledge::{Experiment, OnBadRow, Workflow, predict_csv, sweep};
use serde_json::Value;

/// burn seeds a device's random generator for the whole process: two trainings at once in
/// this test process would draw from it in turn. The command's runs are processes of their
/// own; the library's runs here take turns.
static ONE_RUN_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Every file under `dir`, as paths relative to it.
fn files(dir: &Path) -> BTreeSet<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `value` without what differs between two identical runs: timings and folder names.
fn timeless(value: &Value) -> Value {
    // `blake3`: a hash of the weights file, whose burn parameter ids differ between processes.
    const VARYING: [&str; 7] = [
        "blake3",
        "latency",
        "throughput",
        "seconds",
        "elapsed",
        "output_dir",
        "created",
    ];
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !VARYING.iter().any(|v| k.contains(v)))
                .map(|(k, v)| (k.clone(), timeless(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(timeless).collect()),
        other => other.clone(),
    }
}

/// The two run folders hold the same files; predictions, plots, reports and every JSON file
/// agree (timings aside).
fn same_run_files(a: &Path, b: &Path) {
    let (fa, fb) = (files(a), files(b));
    assert_eq!(fa, fb, "the command and the library wrote other files");
    for rel in &fa {
        let ext = rel.extension().and_then(|e| e.to_str()).unwrap_or("");
        let (pa, pb) = (a.join(rel), b.join(rel));
        match ext {
            // Weights files hold burn's parameter ids, new in every process: the models are
            // compared by their test predictions (every probability, in `*.csv`) instead.
            "bpk" => assert_eq!(
                std::fs::metadata(&pa).unwrap().len(),
                std::fs::metadata(&pb).unwrap().len()
            ),
            "csv" | "dktc" | "svg" => assert!(
                std::fs::read(&pa).unwrap() == std::fs::read(&pb).unwrap(),
                "{} differs",
                rel.display()
            ),
            "json" => assert_eq!(
                timeless(&json(&pa)),
                timeless(&json(&pb)),
                "{} differs",
                rel.display()
            ),
            _ => {}
        }
    }
}

#[test]
fn the_facade_runs_the_demo_and_predict_as_the_command_does() {
    let dir = scratch("facade-demo");
    let (cli_run, lib_run) = (dir.join("cli"), dir.join("lib"));
    ok(&[
        "--progress",
        "none",
        "demo",
        "--seed",
        "5",
        "--epochs",
        "3",
        "--max-train-rows",
        "900",
        "--out",
        cli_run.to_str().unwrap(),
    ]);

    let guard = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut experiment = Experiment::churn_demo(lib_run.clone(), 5, "cpu".into());
    experiment.teacher.train.epochs = 3;
    experiment.student.train.epochs = 3;
    experiment.data.max_train_rows = Some(900);
    let report = Workflow::new(experiment).unwrap().demo().unwrap();
    drop(guard);
    assert!(report.models.contains_key("quantized"));
    let distilled = &report.models["distilled"];
    assert!(
        distilled.accuracy > report.dataset.majority_class_rate - 0.05,
        "the distilled student learnt little: {} vs majority {}",
        distilled.accuracy,
        report.dataset.majority_class_rate
    );
    same_run_files(&cli_run, &lib_run);

    let input = dir.join("new.csv");
    let rows: Vec<&str> = dark_knowledge::data::CHURN_CSV.lines().take(60).collect();
    std::fs::write(&input, rows.join("\n") + "\n").unwrap();
    let (cli_scores, lib_scores) = (dir.join("cli.csv"), dir.join("lib.csv"));
    ok(&[
        "predict",
        "--run",
        cli_run.to_str().unwrap(),
        "--csv",
        input.to_str().unwrap(),
        "--out",
        cli_scores.to_str().unwrap(),
    ]);
    let device = dark_knowledge::device_from_name("cpu").unwrap();
    let summary = predict_csv(
        &lib_run,
        "distilled",
        &input,
        &lib_scores,
        OnBadRow::Skip,
        &device,
    )
    .unwrap();
    assert_eq!((summary.scored, summary.skipped), (59, 0));
    let cli_text = std::fs::read_to_string(&cli_scores).unwrap();
    assert_eq!(cli_text, std::fs::read_to_string(&lib_scores).unwrap());
    assert_eq!(cli_text.lines().count(), 60, "a header and 59 scored rows");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_facade_runs_a_sweep_as_the_command_does() {
    let dir = scratch("facade-sweep");
    let (cli_dir, lib_dir) = (dir.join("cli"), dir.join("lib"));
    for d in [&cli_dir, &lib_dir] {
        std::fs::create_dir_all(d).unwrap();
        let grid = "seeds = [1, 2]\nmethod = [\"hard\", \"kd\"]";
        let data = "source = \"churn\"\nmax_train_rows = 700";
        std::fs::write(d.join("sweep.toml"), small_sweep(data, "", 2, grid)).unwrap();
    }
    let cfg = cli_dir.join("sweep.toml");
    let stdout = ok(&[
        "--progress",
        "none",
        "sweep",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    let guard = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let outcome = sweep(&lib_dir.join("sweep.toml"), &Default::default()).unwrap();
    drop(guard);
    assert_eq!(outcome.runs.len(), 4, "2 seeds × 2 methods");
    assert_eq!(stdout.trim(), outcome.markdown().trim());
    same_run_files(&cli_dir.join("out"), &lib_dir.join("out"));
    std::fs::remove_dir_all(&dir).unwrap();
}
