//! Drift references and reports: a churn run (one epoch each) writes
//! `drift_reference.json` and each model's `score_reference.json`; `predict` writes
//! `OUT.drift.json` / `OUT.drift.md` beside the scores; `drift` measures the same without
//! writing scores; a role's `calibration.json` is applied when scoring.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use dark_knowledge_eval::{DriftLevel, DriftReport, PSI_WATCH};
use dark_knowledge_experiment::drift::{self, DRIFT_REFERENCE, SCORE_REFERENCE};
use dark_knowledge_experiment::predict::{self, PredictOptions};
use dark_knowledge_experiment::{Experiment, TeacherSource, Workflow};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dk-drift-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn cpu() -> burn::tensor::Device {
    dark_knowledge_core::device_from_name("cpu").unwrap()
}

/// A churn run with a teacher and a distilled student, one epoch each; made once.
fn churn_run() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = scratch("run").join("run");
        let mut e = Experiment::churn_demo(dir.clone(), 7, "cpu".into());
        e.teacher.model = dark_knowledge_models::ModelSpec::mlp(vec![16], 0.0);
        e.teacher.train.epochs = 1;
        e.student.train.epochs = 1;
        e.student.baseline = false;
        let workflow = Workflow::new(e).unwrap();
        workflow.train_teacher().unwrap();
        workflow.distill(&TeacherSource::Model).unwrap();
        dir
    })
}

/// A copy of the run (to change without touching the shared one).
fn copy_of_run(dir: &Path) -> PathBuf {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), &target).unwrap();
            }
        }
    }
    let to = dir.join("run");
    copy(churn_run(), &to);
    let _ = std::fs::remove_file(to.join(".lock"));
    to
}

/// The churn CSV with `change(column name, value)` applied to every cell, written to
/// `dir/name`.
fn churn_csv(dir: &Path, name: &str, change: impl Fn(&str, &str) -> String) -> PathBuf {
    let mut reader = csv::Reader::from_reader(dark_knowledge_data::CHURN_CSV.as_bytes());
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let path = dir.join(name);
    let mut writer = csv::Writer::from_path(&path).unwrap();
    writer.write_record(&headers).unwrap();
    for record in reader.records() {
        let record = record.unwrap();
        let row: Vec<String> = headers
            .iter()
            .zip(record.iter())
            .map(|(h, v)| change(h, v))
            .collect();
        writer.write_record(&row).unwrap();
    }
    writer.flush().unwrap();
    path
}

/// Mean and population std of a churn column.
fn mean_std(column: &str) -> (f64, f64) {
    let mut reader = csv::Reader::from_reader(dark_knowledge_data::CHURN_CSV.as_bytes());
    let at = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == column)
        .unwrap();
    let xs: Vec<f64> = reader
        .records()
        .map(|r| r.unwrap()[at].parse().unwrap())
        .collect();
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

fn predict_into(run: &Path, csv: &Path, out: &Path) -> predict::PredictSummary {
    predict::predict_with(
        run,
        "distilled",
        csv,
        out,
        &PredictOptions::default(),
        &cpu(),
    )
    .unwrap()
}

fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect()
}

#[test]
fn training_writes_the_references() {
    let run = churn_run();
    let reference = drift::load_reference(run)
        .unwrap()
        .expect("drift_reference.json");
    assert!(run.join(DRIFT_REFERENCE).is_file());
    assert!(
        reference
            .columns
            .iter()
            .any(|c| c.name == "total_day_minutes")
    );
    assert!(
        reference
            .columns
            .iter()
            .any(|c| c.name == "international_plan")
    );
    assert!(reference.columns.iter().all(|c| c.name != "churn"));
    for role in ["teacher", "distilled"] {
        let score = drift::load_score_reference(&run.join(role)).unwrap();
        assert_eq!(score.expect(SCORE_REFERENCE).name, "score p_yes", "{role}");
    }
}

#[test]
fn the_training_data_does_not_drift() {
    let dir = scratch("same");
    let csv = churn_csv(&dir, "all.csv", |_, v| v.to_string());
    let summary = predict_into(churn_run(), &csv, &dir.join("scores.csv"));
    let report = summary.drift.expect("a drift report");
    assert!(report.columns.iter().any(|c| c.kind == "score"));
    for c in &report.columns {
        assert!(
            c.psi < PSI_WATCH,
            "{} PSI {} on the training CSV",
            c.column,
            c.psi
        );
        assert_eq!(c.level, DriftLevel::Stable);
    }
    assert!(drift::summary_line(&report).starts_with("drift: none over 0.1"));
    let (json, md) = summary.drift_files.expect("report files");
    assert_eq!(json, dir.join("scores.drift.json"));
    assert_eq!(md, dir.join("scores.drift.md"));
    let saved: DriftReport = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(saved, report);
    assert!(
        std::fs::read_to_string(&md)
            .unwrap()
            .contains("| total_day_minutes |")
    );
    assert!(temp_files(&dir).is_empty(), "{:?}", temp_files(&dir));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_shifted_numeric_column_is_flagged_first() {
    let dir = scratch("shifted");
    let (_, std) = mean_std("total_day_minutes");
    let csv = churn_csv(&dir, "shifted.csv", |h, v| {
        if h == "total_day_minutes" {
            format!("{:.2}", v.parse::<f64>().unwrap() + 3.0 * std)
        } else {
            v.to_string()
        }
    });
    let report = predict_into(churn_run(), &csv, &dir.join("scores.csv"))
        .drift
        .unwrap();
    let first = &report.columns[0];
    assert_eq!(first.column, "total_day_minutes", "{report:?}");
    assert_eq!(first.level, DriftLevel::Act);
    assert!(first.ks.unwrap() > 0.5, "{first:?}");
    // The other inputs did not move.
    for c in report.columns.iter().filter(|c| c.kind != "score").skip(1) {
        assert_eq!(c.level, DriftLevel::Stable, "{c:?}");
    }
    let line = drift::summary_line(&report);
    assert!(
        line.starts_with("drift: act on total_day_minutes (PSI "),
        "{line}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_categorical_column_with_new_levels_is_flagged() {
    let dir = scratch("levels");
    let csv = churn_csv(&dir, "levels.csv", |h, v| {
        if h == "international_plan" {
            format!("plan_{v}")
        } else {
            v.to_string()
        }
    });
    let report = predict_into(churn_run(), &csv, &dir.join("scores.csv"))
        .drift
        .unwrap();
    let c = report
        .columns
        .iter()
        .find(|c| c.column == "international_plan")
        .unwrap();
    assert_eq!((c.kind.as_str(), c.level), ("categorical", DriftLevel::Act));
    assert!(
        c.p_value.unwrap() < 1e-6 && c.chi_square.unwrap() > 100.0,
        "{c:?}"
    );
    assert_eq!(report.columns[0].column, "international_plan");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn drift_measures_what_predict_reports() {
    let dir = scratch("command");
    let (_, std) = mean_std("total_eve_minutes");
    let csv = churn_csv(&dir, "new.csv", |h, v| {
        if h == "total_eve_minutes" {
            format!("{:.2}", v.parse::<f64>().unwrap() + std)
        } else {
            v.to_string()
        }
    });
    let run = churn_run();
    let predicted = predict_into(run, &csv, &dir.join("scores.csv"))
        .drift
        .unwrap();
    let options = PredictOptions::default();
    let measured = predict::drift_with_model(run, "distilled", &csv, &options, &cpu()).unwrap();
    assert_eq!(measured, predicted);
    // Without a model: the same input columns, no score.
    let columns = drift::drift(run, &csv).unwrap();
    let inputs: Vec<_> = predicted
        .columns
        .iter()
        .filter(|c| c.kind != "score")
        .cloned()
        .collect();
    assert_eq!(columns.columns, inputs);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_run_without_a_reference_still_scores() {
    let dir = scratch("old");
    let run = copy_of_run(&dir);
    std::fs::remove_file(run.join(DRIFT_REFERENCE)).unwrap();
    let csv = churn_csv(&dir, "new.csv", |_, v| v.to_string());
    let out = dir.join("scores.csv");
    let summary = predict_into(&run, &csv, &out);
    assert_eq!(summary.scored, 5000);
    assert!(summary.drift.is_none() && summary.drift_files.is_none());
    assert!(out.is_file() && !dir.join("scores.drift.json").exists());
    let e = drift::drift(&run, &csv).unwrap_err().to_string();
    assert!(e.contains(DRIFT_REFERENCE), "{e}");
    // --no-drift: no report either, on a run that has a reference.
    let options = PredictOptions {
        drift: false,
        ..PredictOptions::default()
    };
    let out = dir.join("plain.csv");
    let summary =
        predict::predict_with(churn_run(), "distilled", &csv, &out, &options, &cpu()).unwrap();
    assert!(summary.drift.is_none() && !dir.join("plain.drift.json").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_report_never_replaces_the_input() {
    let dir = scratch("input");
    // The input is where the report of `new.csv` would go.
    let csv = churn_csv(&dir, "new.drift.json", |_, v| v.to_string());
    let before = std::fs::read(&csv).unwrap();
    let out = dir.join("new.csv");
    let e = predict::predict_with(
        churn_run(),
        "distilled",
        &csv,
        &out,
        &PredictOptions::default(),
        &cpu(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("input"), "{e}");
    assert_eq!(std::fs::read(&csv).unwrap(), before);
    assert!(!out.exists() && temp_files(&dir).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn calibration_divides_the_logits_by_the_temperature() {
    let dir = scratch("calibration");
    let run = copy_of_run(&dir);
    let role = run.join("distilled");
    dark_knowledge_core::io::write_atomic(
        &role.join("calibration.json"),
        br#"{"temperature": 2.0, "method": "temperature"}"#,
    )
    .unwrap();
    let device = cpu();
    let predictor = dark_knowledge_infer::Predictor::load(&run, "distilled", &device).unwrap();
    assert_eq!(predictor.temperature(), Some(2.0));
    let csv = churn_csv(&dir, "new.csv", |_, v| v.to_string());
    let mut reader = csv::Reader::from_path(&csv).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let columns = predictor.check_columns(&header).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().take(50).map(Result::unwrap).collect();
    let mut features = Vec::new();
    for r in &rows {
        let fields: Vec<&str> = r.iter().collect();
        features.extend(predictor.encode_fields(&columns, &fields).unwrap());
    }
    let logits = predictor.predict_logits_features(&features).unwrap();
    let calibrated = predictor.predict_proba_features(&features).unwrap();
    let plain = predictor
        .clone()
        .with_calibration(false)
        .predict_proba_features(&features)
        .unwrap();
    for ((z, p), q) in logits.iter().zip(&calibrated).zip(&plain) {
        let expected = softmax(&z.iter().map(|v| v / 2.0).collect::<Vec<_>>());
        for (a, b) in p.iter().zip(&expected) {
            assert!((a - b).abs() < 1e-6, "{p:?} vs softmax(z/2) {expected:?}");
        }
        for (a, b) in q.iter().zip(&softmax(z)) {
            assert!((a - b).abs() < 1e-6, "{q:?} vs softmax(z)");
        }
    }
    // predict writes the calibrated probabilities, or the plain ones with --uncalibrated.
    let out = dir.join("scores.csv");
    let summary = predict_into(&run, &csv, &out);
    assert_eq!(summary.temperature, Some(2.0));
    let first_p = |path: &Path| -> Vec<f32> {
        let mut r = csv::Reader::from_path(path).unwrap();
        let n = r.headers().unwrap().len();
        let rec = r.records().next().unwrap().unwrap();
        (n - 2..n).map(|i| rec[i].parse().unwrap()).collect()
    };
    let written = first_p(&out);
    assert!((written[1] - calibrated[0][1]).abs() < 1e-5, "{written:?}");
    let options = PredictOptions {
        calibrated: false,
        ..PredictOptions::default()
    };
    let plain_out = dir.join("plain.csv");
    let summary =
        predict::predict_with(&run, "distilled", &csv, &plain_out, &options, &device).unwrap();
    assert_eq!(summary.temperature, None);
    assert!((first_p(&plain_out)[1] - plain[0][1]).abs() < 1e-5);
    // A temperature that is not finite and > 0 is an error naming the file.
    dark_knowledge_core::io::write_atomic(&role.join("calibration.json"), br#"{"temperature": 0}"#)
        .unwrap();
    let e = dark_knowledge_infer::Predictor::load(&run, "distilled", &device).unwrap_err();
    assert!(e.to_string().contains("calibration.json"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn softmax(z: &[f32]) -> Vec<f32> {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = z.iter().map(|v| (v - max).exp()).collect();
    let s: f32 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}
