//! `evaluate`'s decision sections on a tiny CSV run: temperature scaling per model (with
//! `calibration.json` in the role folder and its CHECKSUMS entry), campaign ranking with a
//! threshold, slices with pooled small levels, the SVG charts linked from `report.md`,
//! the model card's sections, and an unknown slice column refused before anything is
//! written.

use std::path::{Path, PathBuf};

use dark_knowledge_experiment::{Experiment, TeacherSource, Workflow};
use serde_json::Value;

/// A fresh folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dk-insights-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// 800 rows: two numeric features, a segment (`a` for 70 % of the rows, `b`, `c`, `d` for
/// 10 % each), a numeric column with many values, each customer's e-mail address (personal
/// data, to be left out), and `y` mostly following `x1`.
fn write_csv(dir: &Path) -> PathBuf {
    let mut text = String::from("x1,x2,seg,num,contact,y\n");
    for i in 0..800 {
        let (a, b) = ((i * 37 % 101) as f32 / 101.0, (i * 53 % 97) as f32 / 97.0);
        let seg = ["a", "a", "a", "a", "a", "a", "a", "b", "c", "d"][i % 10];
        let noisy = i % 7 == 0;
        let y = if (a > 0.6) != noisy { "yes" } else { "no" };
        let contact = format!("customer{i}@example.com");
        text.push_str(&format!("{a},{b},{seg},{},{contact},{y}\n", (i * 13) % 400));
    }
    let path = dir.join("data.csv");
    std::fs::write(&path, text).unwrap();
    path
}

/// A tiny experiment slicing by `slice_by`.
fn experiment(csv: &Path, out: &Path, slice_by: &str) -> Experiment {
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
[student.train]
epochs = 2
batch_size = 64
[evaluation]
threshold_goal = "max-f1"
slice_by = {slice_by}
slice_min_rows = 25
slice_margin = 0.02
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

/// Temperatures fitted on validation never make the validation log-loss worse; the test
/// figures are there and finite; the role folder holds `calibration.json`.
fn check_calibration(report: &Value, run: &Path) {
    let valid_rows = report["dataset"]["valid_rows"].as_u64().unwrap();
    for role in ["teacher", "baseline", "distilled"] {
        let c = &report["calibration"][role];
        let t = num(&c["temperature"]);
        assert!(t.is_finite() && t > 0.0, "{role}: {c}");
        let (before, after) = (&c["validation"]["before"], &c["validation"]["after"]);
        assert!(
            num(&after["log_loss"]) <= num(&before["log_loss"]) + 1e-9,
            "{role}: {c}"
        );
        for split in [&c["before"], &c["after"]] {
            for key in ["ece", "log_loss", "brier"] {
                assert!(num(&split[key]).is_finite(), "{role} {key}: {c}");
            }
        }
        assert_eq!(c["validation_rows"].as_u64(), Some(valid_rows));
        let file = read_json(&run.join(role).join("calibration.json"));
        assert_eq!(num(&file["temperature"]), t, "{file}");
        assert_eq!(file["fitted_on"], "validation");
        assert_eq!(file["rows"].as_u64(), Some(valid_rows));
        assert_eq!(file["threshold"]["goal"], "max-f1");
        assert_eq!(file["threshold"]["class"], "yes");
        let listed = std::fs::read_to_string(run.join(role).join("CHECKSUMS")).unwrap();
        assert!(
            listed.lines().any(|l| l.ends_with("  calibration.json")),
            "{listed}"
        );
        assert!(run.join(format!("plots/reliability-{role}.svg")).is_file());
    }
}

/// Gains at ten deciles ending at gain 1, three top shares, a threshold measured on both
/// splits.
fn check_campaign(report: &Value) {
    for role in ["teacher", "baseline", "distilled"] {
        let c = &report["campaign"][role];
        let gains = c["gains"].as_array().unwrap();
        assert_eq!(gains.len(), 10, "{c}");
        assert_eq!(num(&gains[9]["gain"]), 1.0);
        assert!((num(&gains[0]["fraction"]) - 0.1).abs() < 0.01, "{c}");
        assert_eq!(c["top"].as_array().unwrap().len(), 3);
        let t = &c["threshold"];
        assert_eq!(t["goal"], "max-f1", "{c}");
        let share = num(&t["test"]["flagged"]);
        assert!((0.0..=1.0).contains(&share), "{t}");
        assert!(num(&t["validation"]["recall"]) > 0.0, "{t}");
    }
}

/// Two slice tables; the small segments pooled into `other`.
fn check_slices(report: &Value) {
    let slices = report["slices"].as_array().unwrap();
    assert_eq!(slices.len(), 2);
    let seg = &slices[0];
    assert_eq!(seg["column"], "seg");
    let levels: Vec<&str> = seg["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["level"].as_str().unwrap())
        .collect();
    assert_eq!(levels, ["a", "other"], "{seg}");
    assert_eq!(seg["pooled"], serde_json::json!(["b", "c", "d"]));
    let test_rows = report["dataset"]["test_rows"].as_u64().unwrap();
    let total: u64 = seg["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rows"].as_u64().unwrap())
        .sum();
    assert_eq!(total, test_rows);
    let num_levels = slices[1]["rows"].as_array().unwrap();
    assert!(
        num_levels
            .iter()
            .all(|r| r["level"].as_str().unwrap().starts_with('[')),
        "numeric levels are bins: {}",
        slices[1]
    );
    let flags = report["slice_flags"].as_array().unwrap();
    assert_eq!(flags.len(), 2);
    assert_eq!(flags[0]["student"], "distilled");
}

#[test]
fn evaluate_calibrates_ranks_and_slices_and_refuses_unknown_columns() {
    let dir = scratch("run");
    let csv = write_csv(&dir);
    let run = dir.join("run");
    let workflow = Workflow::new(experiment(&csv, &run, r#"["seg", "num"]"#)).unwrap();
    workflow.train_teacher().unwrap();
    workflow.distill(&TeacherSource::Model).unwrap();
    let typed = workflow.evaluate().unwrap();
    drop(workflow);
    assert_eq!(typed.slices.len(), 2);

    let report = read_json(&run.join("report.json"));
    check_calibration(&report, &run);
    check_campaign(&report);
    check_slices(&report);
    assert!(run.join("plots/gains.svg").is_file());
    let plots = std::fs::read_to_string(run.join("plots/CHECKSUMS")).unwrap();
    assert!(plots.contains("  gains.svg"), "{plots}");
    let md = std::fs::read_to_string(run.join("report.md")).unwrap();
    for needle in [
        "## Calibration",
        "## Campaign ranking",
        "## Slices",
        "(plots/gains.svg)",
        "(plots/reliability-distilled.svg)",
        "(plots/reliability-distilled-before.svg)",
        "Pooled into one slice",
    ] {
        assert!(md.contains(needle), "no {needle:?} in report.md:\n{md}");
    }
    // The e-mail column is personal data: left out, and said so in the report and the card.
    let dropped = report["dataset"]["dropped_columns"].as_array().unwrap();
    assert!(
        dropped
            .iter()
            .any(|d| d["column"] == "contact"
                && d["reason"].as_str().unwrap().contains("personal data")),
        "{dropped:?}"
    );
    let card = std::fs::read_to_string(run.join("MODEL_CARD.md")).unwrap();
    for needle in [
        "`contact`: personal data",
        "## Calibration",
        "## Campaign ranking",
        "## Slices",
        "`seg`",
    ] {
        assert!(card.contains(needle), "no {needle:?} in the card:\n{card}");
    }

    // An unknown column is refused, naming it and the columns there are, before any file
    // of the run is rewritten.
    let before = std::fs::read(run.join("report.json")).unwrap();
    let modified = std::fs::metadata(run.join("report.json"))
        .unwrap()
        .modified()
        .unwrap();
    let workflow = Workflow::new(experiment(&csv, &run, r#"["sgment"]"#)).unwrap();
    let err = workflow.evaluate().unwrap_err().to_string();
    for word in ["sgment", "slice_by", "\"seg\"", "\"x1\""] {
        assert!(err.contains(word), "no {word:?} in: {err}");
    }
    assert_eq!(std::fs::read(run.join("report.json")).unwrap(), before);
    let after = std::fs::metadata(run.join("report.json")).unwrap();
    assert_eq!(after.modified().unwrap(), modified);
    let err = dark_knowledge_experiment::run::check_slice_columns(&experiment(
        &csv,
        &run,
        r#"["sgment"]"#,
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("available columns"), "{err}");
}

#[test]
fn bad_evaluation_settings_are_named() {
    let dir = scratch("settings");
    let csv = write_csv(&dir);
    let base = experiment(&csv, &dir.join("run"), "[]").to_toml().unwrap();
    for (from, to, words) in [
        (
            "threshold_goal = \"max-f1\"",
            "threshold_goal = \"precision:1.5\"",
            &["threshold_goal", "(0, 1]"][..],
        ),
        (
            "threshold_goal = \"max-f1\"",
            "threshold_goal = \"top\"",
            &["threshold_goal", "max-f1"][..],
        ),
        (
            "slice_min_rows = 25",
            "slice_min_rows = 0",
            &["slice_min_rows", ">= 1"][..],
        ),
        (
            "slice_margin = 0.02",
            "slice_margin = -1.0",
            &["slice_margin", ">= 0"][..],
        ),
    ] {
        assert!(base.contains(from), "{base}");
        let text = base.replace(from, to);
        let err = format!("{:#}", Experiment::from_toml(&text).unwrap_err());
        for w in words {
            assert!(err.contains(w), "no {w:?} in: {err}");
        }
    }
}
