//! `predict` writes a drift report beside the scores and prints its one-line summary;
//! `drift` measures the same without writing scores; `--no-drift`, `--out -` and
//! `--uncalibrated` behave as documented (docs/drift.md, docs/cli.md).

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{copy_dir, ok, run, scratch};
use serde_json::Value;

/// A churn demo run, one epoch per model; made once per test binary.
fn demo_run() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = scratch("drift-run").join("run");
        ok(&[
            "--progress",
            "none",
            "demo",
            "--epochs",
            "1",
            "--out",
            dir.to_str().unwrap(),
        ]);
        dir
    })
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The churn CSV with `total_day_minutes` shifted by `shift`, in `dir/name`.
fn churn_shifted(dir: &Path, name: &str, shift: f64) -> PathBuf {
    let mut reader = csv::Reader::from_reader(dark_knowledge_data::CHURN_CSV.as_bytes());
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let at = headers
        .iter()
        .position(|h| h == "total_day_minutes")
        .unwrap();
    let path = dir.join(name);
    let mut writer = csv::Writer::from_path(&path).unwrap();
    writer.write_record(&headers).unwrap();
    for record in reader.records() {
        let mut row: Vec<String> = record.unwrap().iter().map(String::from).collect();
        row[at] = format!("{:.2}", row[at].parse::<f64>().unwrap() + shift);
        writer.write_record(&row).unwrap();
    }
    writer.flush().unwrap();
    path
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn stderr_of(args: &[&str]) -> String {
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{args:?}:\n{stderr}");
    stderr
}

#[test]
fn predict_reports_drift_and_drift_agrees() {
    let dir = scratch("drift-cli");
    let run_dir = demo_run();
    let csv = churn_shifted(&dir, "new.csv", 165.0);
    let scores = dir.join("scores.csv");
    let stderr = stderr_of(&[
        "predict",
        "--run",
        s(run_dir),
        "--csv",
        s(&csv),
        "--out",
        s(&scores),
    ]);
    assert!(
        stderr.contains("drift: act on total_day_minutes (PSI "),
        "{stderr}"
    );
    let (report_json, report_md) = (dir.join("scores.drift.json"), dir.join("scores.drift.md"));
    let report = json(&report_json);
    assert_eq!(report["columns"][0]["column"], "total_day_minutes");
    assert_eq!(report["columns"][0]["level"], "act");
    let md = std::fs::read_to_string(&report_md).unwrap();
    assert!(
        md.contains("**Verdict:** act on `total_day_minutes`"),
        "{md}"
    );
    // `drift --model` measures exactly what predict reported.
    let out = dir.join("report.json");
    let stdout = ok(&[
        "drift",
        "--run",
        s(run_dir),
        "--csv",
        s(&csv),
        "--model",
        "distilled",
        "--out",
        s(&out),
    ]);
    assert_eq!(json(&out), report);
    assert!(
        stdout.contains("| total_day_minutes | numeric |"),
        "{stdout}"
    );
    // Without a model: the input columns only.
    let stdout = ok(&["drift", "--run", s(run_dir), "--csv", s(&csv)]);
    assert!(stdout.contains("| total_day_minutes |") && !stdout.contains("| score "));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn no_drift_and_stdout_write_no_report() {
    let dir = scratch("drift-off");
    let run_dir = demo_run();
    let csv = churn_shifted(&dir, "new.csv", 0.0);
    let plain = dir.join("plain.csv");
    let stderr = stderr_of(&[
        "predict",
        "--run",
        s(run_dir),
        "--csv",
        s(&csv),
        "--out",
        s(&plain),
        "--no-drift",
    ]);
    assert!(!stderr.contains("drift:"), "{stderr}");
    assert!(plain.is_file() && !dir.join("plain.drift.json").exists());
    let out = run(&[
        "predict",
        "--run",
        s(run_dir),
        "--csv",
        s(&csv),
        "--out",
        "-",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("not measured when the scores go to standard output"));
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| !n.contains("drift") && !n.contains(".tmp-")),
        "{names:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_calibration_file_is_applied_unless_uncalibrated() {
    let dir = scratch("drift-calibrated");
    let run_dir = dir.join("run");
    copy_dir(demo_run(), &run_dir);
    let _ = std::fs::remove_file(run_dir.join(".lock"));
    dark_knowledge_core::io::write_atomic(
        &run_dir.join("distilled").join("calibration.json"),
        br#"{"temperature": 2.0}"#,
    )
    .unwrap();
    let csv = churn_shifted(&dir, "new.csv", 0.0);
    let p_yes = |path: &Path| -> f64 {
        let mut r = csv::Reader::from_path(path).unwrap();
        let rec = r.records().next().unwrap().unwrap();
        rec[rec.len() - 1].parse().unwrap()
    };
    let (calibrated, plain) = (dir.join("cal.csv"), dir.join("plain.csv"));
    let args = |out: &Path| {
        vec![
            "predict".to_string(),
            "--run".into(),
            s(&run_dir).into(),
            "--csv".into(),
            s(&csv).into(),
            "--out".into(),
            s(out).into(),
        ]
    };
    let a = args(&calibrated);
    let stderr = stderr_of(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        stderr.contains("calibrated probabilities (temperature 2)"),
        "{stderr}"
    );
    let mut b = args(&plain);
    b.push("--uncalibrated".into());
    let stderr = stderr_of(&b.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(stderr.contains("uncalibrated probabilities"), "{stderr}");
    // T = 2 pulls the probability towards 1/2.
    let (c, p) = (p_yes(&calibrated), p_yes(&plain));
    assert!((c - 0.5).abs() <= (p - 0.5).abs() + 1e-6, "{c} vs {p}");
    // The drift of the score is measured uncalibrated: the same either way.
    assert_eq!(
        json(&dir.join("cal.drift.json")),
        json(&dir.join("plain.drift.json"))
    );
    let _ = std::fs::remove_dir_all(&dir);
}
