//! End-to-end tests of the `dark-knowledge` binary in reduced settings.

mod common;

use std::path::{Path, PathBuf};

use common::{check_sane, fails, ok, report, run, scratch, student};
use dark_knowledge_data::stratified_split;
use dark_knowledge_data::tabular::{CsvTable, TargetEncoding};
use serde_json::Value;

#[test]
fn demo_on_the_embedded_churn_data_writes_a_sane_report() {
    let dir = scratch("churn");
    let out = dir.join("run");
    let stdout = ok(&[
        "--progress",
        "none",
        "demo",
        "--epochs",
        "8",
        "--out",
        out.to_str().unwrap(),
    ]);
    for role in ["teacher", "baseline", "logistic", "distilled"] {
        assert!(stdout.contains(role), "table lacks {role}:\n{stdout}");
        // The demo's teacher is boosted trees (`trees.json`), the others networks.
        let weights = if role == "teacher" {
            "trees.json"
        } else {
            "model.bpk"
        };
        assert!(
            out.join(role).join(weights).exists(),
            "{role}: no {weights}"
        );
        assert!(out.join(role).join("metrics.json").exists());
    }
    // The recipe: a synthetic transfer set for the distilled student only.
    let log = std::fs::read_to_string(out.join("experiment.toml")).unwrap();
    assert!(log.contains("generator = \"gibbs\""), "{log}");
    assert!(out.join("report.md").exists() && out.join("experiment.toml").exists());
    let r = report(&out);
    assert_eq!(r["dataset"]["positive_class"], "yes");
    let majority = r["dataset"]["majority_class_rate"].as_f64().unwrap();
    assert!(
        majority > 0.8 && majority < 0.9,
        "churn is ~86 % `no`: {majority}"
    );
    for role in ["teacher", "baseline", "distilled"] {
        check_sane(&r["models"][role], true);
    }
    let m = &r["models"];
    assert_eq!(m["teacher"]["agreement_with_teacher"], 1.0);
    assert_eq!(m["baseline"]["parameters"], m["distilled"]["parameters"]);
    assert!(m["teacher"]["parameters"].as_u64() > m["distilled"]["parameters"].as_u64());
    let distilled = m["distilled"]["accuracy"].as_f64().unwrap();
    assert!(
        distilled > majority,
        "distilled {distilled} vs majority {majority}"
    );
    assert!(m["teacher"]["roc_auc"].as_f64().unwrap() > 0.8);
    check_model_card(&out, &r);
    student::check_quantized(&out, &r);
    check_predict(&dir, &out);
    student::predict_reproduces_evaluate_on_churn(&dir, &out);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// MODEL_CARD.md is written, and its figures are those of report.json.
fn check_model_card(run_dir: &Path, r: &Value) {
    let card =
        std::fs::read_to_string(run_dir.join("MODEL_CARD.md")).expect("MODEL_CARD.md written");
    let (d, t) = (&r["models"]["distilled"], &r["models"]["teacher"]);
    let pct = |v: &Value| format!("{:.2} %", 100.0 * v.as_f64().unwrap());
    let f4 = |v: &Value| format!("{:.4}", v.as_f64().unwrap());
    let expected = [
        format!(
            "| accuracy | {} | {} |",
            pct(&d["accuracy"]),
            pct(&t["accuracy"])
        ),
        format!("| ECE (15 bins) | {} | {} |", f4(&d["ece"]), f4(&t["ece"])),
        format!(
            "| ROC-AUC | {} | {} |",
            f4(&d["roc_auc"]),
            f4(&t["roc_auc"])
        ),
        format!("| Brier | {} | {} |", f4(&d["brier"]), f4(&t["brier"])),
        format!(
            "agreement with the teacher's predictions: {}",
            pct(&d["agreement_with_teacher"])
        ),
        format!("mean KL(teacher ‖ student): {}", f4(&d["kl_to_teacher"])),
        format!("- {} parameters", d["parameters"]),
        format!("{} test rows", r["dataset"]["test_rows"]),
        "T = 1".to_string(),
        "## Known limits".to_string(),
    ];
    for e in expected {
        assert!(card.contains(&e), "MODEL_CARD.md lacks {e:?}:\n{card}");
    }
    // Churn's minority class is the hard one: the card must say how it fares.
    let yes = d["per_class"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["label"] == "yes")
        .unwrap();
    if yes["recall"].as_f64().unwrap() < 0.5 {
        assert!(card.contains("low recall on class `yes`"), "{card}");
    }
}

/// `predict` on the demo's run: new rows with an unseen state and a missing cell are scored,
/// a malformed and a ragged row are reported by line number and skipped (or refused).
fn check_predict(dir: &Path, run_dir: &Path) {
    let mut lines: Vec<String> = dark_knowledge_data::CHURN_CSV
        .lines()
        .take(41)
        .map(str::to_string)
        .collect();
    lines[1] = lines[1].replacen("\"KS\"", "\"ZZ\"", 1); // unseen state
    lines[2] = lines[2].replacen(",161.6,", ",,", 1); // missing total_day_minutes
    lines[3] = lines[3].replacen(",110,", ",abc,", 1); // text in a numeric column
    lines[4] = lines[4].rsplit_once(',').unwrap().0.to_string(); // a field short
    assert!(lines[1].contains("ZZ") && lines[2].contains(",,") && lines[3].contains("abc"));
    let input = dir.join("new.csv");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let scores = dir.join("scores.csv");
    let args = [
        "predict",
        "--run",
        run_dir.to_str().unwrap(),
        "--csv",
        input.to_str().unwrap(),
        "--out",
        scores.to_str().unwrap(),
    ];
    let out = run(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("line 4") && stderr.contains("abc"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 5") && stderr.contains("fields"),
        "{stderr}"
    );
    assert!(
        stderr.contains("scored 38 rows") && stderr.contains("2 skipped"),
        "{stderr}"
    );
    let text = std::fs::read_to_string(&scores).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 39);
    assert!(
        rows[0].ends_with("churn,predicted,p_no,p_yes"),
        "{}",
        rows[0]
    );
    assert!(rows[1].contains("ZZ"));
    for row in &rows[1..] {
        let f: Vec<&str> = row.rsplit(',').take(2).collect();
        let (p_yes, p_no): (f64, f64) = (f[0].parse().unwrap(), f[1].parse().unwrap());
        assert!((p_yes + p_no - 1.0).abs() < 1e-4, "{row}");
    }
    // Fail mode: an error naming the line, and no output file.
    let refused = dir.join("refused.csv");
    let mut args_fail = args.to_vec();
    args_fail[6] = refused.to_str().unwrap();
    args_fail.extend(["--on-bad-row", "fail"]);
    let err = fails(&args_fail);
    assert!(err.contains("line 4"), "{err}");
    assert!(!refused.exists());
}

/// A CSV with missing cells, labels with spaces and commas, and a categorical level that
/// only occurs in a row of the test split.
fn awkward_csv(dir: &Path) -> PathBuf {
    let labels = ["stays, loyal", "leaves [soon]"];
    let mut rows = Vec::new();
    for i in 0..400usize {
        let y = usize::from((i * 7919) % 10 < 3);
        let x = (i % 17) as f64 + if y == 1 { 6.0 } else { 0.0 };
        let x_cell = if i % 23 == 0 {
            String::new()
        } else {
            format!("{x:.1}")
        };
        let plan = if i % 29 == 0 {
            "NA".to_string()
        } else {
            ["basic", "gold"][(i + y) % 2].to_string()
        };
        rows.push((x_cell, plan, format!("{}", i % 5), labels[y].to_string()));
    }
    let write = |rows: &[(String, String, String, String)]| {
        let mut text = String::from("score,plan,visits,\"outcome label\"\n");
        for (x, plan, v, y) in rows {
            text.push_str(&format!("{x},{plan},{v},\"{y}\"\n"));
        }
        text
    };
    // Find the seeded split the demo will make, and put a new level on one test row.
    let table = CsvTable::parse(&write(&rows)).unwrap();
    let target = TargetEncoding::fit(&table, "outcome label", Some("leaves [soon]")).unwrap();
    let split = stratified_split(&target.labels(&table).unwrap(), 0.15, 0.15, 42).unwrap();
    rows[split.test[0]].1 = "platinum".into();
    let path = dir.join("awkward.csv");
    std::fs::write(&path, write(&rows)).unwrap();
    path
}

#[test]
fn demo_on_an_awkward_csv_handles_missing_cells_odd_labels_and_unseen_levels() {
    let dir = scratch("csv");
    let csv = awkward_csv(&dir);
    let out = dir.join("run");
    ok(&[
        "--progress",
        "none",
        "demo",
        "--csv",
        csv.to_str().unwrap(),
        "--target",
        "outcome label",
        "--positive",
        "leaves [soon]",
        "--epochs",
        "6",
        "--out",
        out.to_str().unwrap(),
    ]);
    let r = report(&out);
    assert_eq!(
        r["dataset"]["class_names"],
        serde_json::json!(["stays, loyal", "leaves [soon]"])
    );
    for role in ["teacher", "baseline", "distilled"] {
        check_sane(&r["models"][role], true);
    }
    let prep = std::fs::read_to_string(out.join("preprocessing.json")).unwrap();
    assert!(
        !prep.contains("platinum"),
        "the level only occurs in the test split"
    );
    assert!(
        prep.contains("score__missing") || prep.contains("missing_indicator"),
        "{prep}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_inputs_are_errors_naming_the_problem() {
    let dir = scratch("bad");
    let csv = awkward_csv(&dir);
    let err = fails(&[
        "demo",
        "--csv",
        csv.to_str().unwrap(),
        "--target",
        "nope",
        "--out",
        dir.join("r").to_str().unwrap(),
    ]);
    assert!(
        err.contains("nope") && err.contains("outcome label"),
        "{err}"
    );
    let single = dir.join("single.csv");
    std::fs::write(&single, "a,y\n1,x\n2,x\n3,x\n").unwrap();
    let err = fails(&[
        "demo",
        "--csv",
        single.to_str().unwrap(),
        "--target",
        "y",
        "--out",
        dir.join("r2").to_str().unwrap(),
    ]);
    assert!(err.to_lowercase().contains("class"), "{err}");
    let err = fails(&[
        "demo",
        "--csv",
        dir.join("missing.csv").to_str().unwrap(),
        "--target",
        "y",
    ]);
    assert!(err.contains("missing.csv"), "{err}");
    let err = fails(&[
        "demo",
        "--device",
        "tpu",
        "--out",
        dir.join("r3").to_str().unwrap(),
    ]);
    assert!(err.contains("tpu") && err.contains("cpu"), "{err}");
    let toml = dir.join("bad.toml");
    std::fs::write(&toml, "output_dir = \"x\"\ncolour = 1\n").unwrap();
    let err = fails(&["train-teacher", "--config", toml.to_str().unwrap()]);
    assert!(err.contains("colour"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn experiment_file_drives_train_teacher_distill_and_evaluate() {
    let dir = scratch("exp");
    let example = include_str!("../../../examples/experiments/churn.toml");
    let text = example
        .replace(
            "output_dir = \"../../runs/churn-experiment\"",
            "output_dir = \"run\"",
        )
        .replace("epochs = 40", "epochs = 3");
    let config = dir.join("churn.toml");
    std::fs::write(&config, text).unwrap();
    let cfg = config.to_str().unwrap();
    // distill before the teacher exists: a clear error
    let err = fails(&["--progress", "none", "distill", "--config", cfg]);
    assert!(err.contains("no teacher model"), "{err}");
    let run = dir.join("run");
    ok(&["--progress", "none", "train-teacher", "--config", cfg]);
    student::check_training_card(&run, &["teacher"]);
    ok(&["--progress", "none", "distill", "--config", cfg]);
    student::check_training_card(&run, &["teacher", "baseline", "distilled"]);
    let table = ok(&["--progress", "none", "evaluate", "--config", cfg]);
    assert!(table.contains("distilled"), "{table}");
    assert!(!table.contains("quantized"), "{table}");
    student::cached_and_imported_teachers_match_online(&dir, &run, cfg);
    let table = ok(&["quantize", "--run", run.to_str().unwrap()]);
    assert!(table.contains("| quantized |"), "{table}");
    let err = fails(&[
        "quantize",
        "--run",
        run.to_str().unwrap(),
        "--model",
        "quantized",
    ]);
    assert!(err.contains("already int8"), "{err}");
    let resolved = std::fs::read_to_string(run.join("experiment.toml")).unwrap();
    assert!(resolved.contains("temperature = 2.0"), "{resolved}");
    let metrics: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("distilled/metrics.json")).unwrap())
            .unwrap();
    assert_eq!(metrics["history"].as_array().unwrap().len(), 3);
    assert!(metrics["history"][0]["train"]["kd"].as_f64().is_some());
    check_sane(&report(&run)["models"]["distilled"], true);
    student::evaluate_without_the_teacher_model(&run, cfg);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn demo_on_fashion_mnist_in_a_reduced_setting() {
    let Some(data_dir) = common::fashion_dir() else {
        return;
    };
    let dir = scratch("fashion");
    let out = dir.join("run");
    let config = dir.join("fm.toml");
    // The commented example file, reduced: 3000 training images, 1 epoch per model.
    let text = include_str!("../../../examples/experiments/fashion-mnist.toml")
        .replace(
            "output_dir = \"../../runs/fashion-mnist-experiment\"",
            "output_dir = \"run\"",
        )
        .replace("/usr/share/datasets/fashion-mnist", &data_dir)
        .replace("# max_train_rows = 6000", "max_train_rows = 3000")
        .replace("# max_test_rows = 2000", "max_test_rows = 1000")
        .replace("epochs = 5", "epochs = 2");
    std::fs::write(&config, text).unwrap();
    let cfg = config.to_str().unwrap();
    ok(&["--progress", "none", "train-teacher", "--config", cfg]);
    ok(&["--progress", "none", "distill", "--config", cfg]);
    ok(&["--progress", "none", "evaluate", "--config", cfg]);
    student::predict_reproduces_evaluate_on_images(&dir, &out, &data_dir);
    let r = report(&out);
    assert_eq!(r["dataset"]["num_classes"], 10);
    assert_eq!(r["dataset"]["test_rows"], 1000);
    for role in ["teacher", "baseline", "distilled"] {
        check_sane(&r["models"][role], false);
        assert_eq!(r["models"][role]["per_class"].as_array().unwrap().len(), 10);
    }
    let teacher = r["models"]["teacher"]["accuracy"].as_f64().unwrap();
    assert!(
        teacher > 0.6,
        "teacher accuracy on 3000 images after 2 epochs: {teacher}"
    );
    let distilled = r["models"]["distilled"]["accuracy"].as_f64().unwrap();
    // 2 epochs at T = 4 leave the student undertrained and sensitive to the teacher's
    // dropout draws (0.50–0.57 over two teachers differing only in them); 4x chance is learned.
    assert!(distilled > 0.4, "distilled accuracy: {distilled}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bench_writes_every_figure_and_says_when_the_data_is_synthetic() {
    let dir = scratch("bench");
    let out = dir.join("bench.json");
    ok(&[
        "bench",
        "--data-dir",
        dir.join("no-images-here").to_str().unwrap(),
        "--teacher-rows",
        "256",
        "--student-rows",
        "256",
        "--repeats",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    for key in [
        "teacher_train_samples_per_s",
        "kd_online_samples_per_s",
        "kd_cached_samples_per_s",
        "teacher_epoch_checkpointed_wall_samples_per_s",
        "checkpoint_cost_ratio",
        "student_latency_us_batch1",
        "teacher_inference_us_per_sample_batch1024",
    ] {
        let v = r[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} missing: {r}"));
        assert!(v.is_finite() && v > 0.0, "{key} = {v}");
    }
    assert!(r["data"].as_str().unwrap().starts_with("synthetic"), "{r}");
    // Student, Adam's two moments and the best model: four copies of 2.4 M f32 weights.
    let ckpt = r["checkpoint_bytes"].as_u64().unwrap();
    assert!(
        ckpt > 4 * 4 * 2_300_000 && ckpt < 4 * 4 * 2_600_000,
        "{ckpt}"
    );
    assert_eq!(r["backend"], "cpu");
    assert!(r["machine"]["threads"].as_u64().unwrap() >= 1);
    std::fs::remove_dir_all(&dir).unwrap();
}
