//! Checks of what a run offers for using the student: `predict` reproducing `evaluate`'s
//! test predictions, the int8 copy, and the model card of a run not evaluated yet.

use std::path::Path;

use serde_json::Value;

use super::{ok, run};

/// The rows of a CSV file (header first), split on commas (the files compared here have no
/// quoted commas).
fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// The `predicted` and `p_*` columns of `row`, given the header.
fn scores(header: &[String], row: &[String]) -> (String, Vec<f64>) {
    let at = header.iter().position(|h| h == "predicted").unwrap();
    let probs = row[at + 1..].iter().map(|v| v.parse().unwrap()).collect();
    (row[at].clone(), probs)
}

/// Checks that `predicted` (rows keyed by `key_of`) equals `evaluate`'s
/// `<role>/test_predictions.csv`: same class, probabilities within 2e-6 (both printed with
/// 6 decimals).
fn assert_same_scores(
    expected_path: &Path,
    predicted_path: &Path,
    key_of: impl Fn(&[String], usize) -> usize,
) {
    let expected = csv_rows(expected_path);
    let got = csv_rows(predicted_path);
    assert_eq!(expected[0][0], "row");
    let by_key: std::collections::HashMap<usize, &Vec<String>> = got[1..]
        .iter()
        .enumerate()
        .map(|(i, r)| (key_of(r, i), r))
        .collect();
    assert!(expected.len() > 10, "too few test rows");
    for row in &expected[1..] {
        let id: usize = row[0].parse().unwrap();
        let other = by_key
            .get(&id)
            .unwrap_or_else(|| panic!("row {id} not scored by predict"));
        let (class_a, p_a) = scores(&expected[0], row);
        let (class_b, p_b) = scores(&got[0], other);
        assert_eq!(class_a, class_b, "row {id}: {row:?} vs {other:?}");
        assert_eq!(p_a.len(), p_b.len());
        for (a, b) in p_a.iter().zip(&p_b) {
            assert!((a - b).abs() <= 2e-6, "row {id}: {row:?} vs {other:?}");
        }
    }
}

/// `predict --csv` on the test rows of the churn demo's run reproduces the predictions
/// `evaluate` wrote, for the float student and its int8 copy.
pub fn predict_reproduces_evaluate_on_churn(dir: &Path, run_dir: &Path) {
    let lines: Vec<&str> = dark_knowledge_data::CHURN_CSV.lines().collect();
    let expected = run_dir.join("distilled/test_predictions.csv");
    let ids: Vec<usize> = csv_rows(&expected)[1..]
        .iter()
        .map(|r| r[0].parse().unwrap())
        .collect();
    // Data row r is line r + 1 of the file (the header is line 0); scramble the order so
    // the match goes by row id, not position.
    let mut text = format!("{}\n", lines[0]);
    for id in ids.iter().rev() {
        text.push_str(lines[id + 1]);
        text.push('\n');
    }
    let input = dir.join("test_rows.csv");
    std::fs::write(&input, text).unwrap();
    for role in ["distilled", "quantized"] {
        let out = dir.join(format!("test_scores_{role}.csv"));
        ok(&[
            "predict",
            "--run",
            run_dir.to_str().unwrap(),
            "--model",
            role,
            "--csv",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--on-bad-row",
            "fail",
            // `test_predictions.csv` holds the plain softmax; `evaluate`'s calibration.json
            // would otherwise be applied.
            "--uncalibrated",
        ]);
        let n = ids.len();
        assert_same_scores(
            &run_dir.join(role).join("test_predictions.csv"),
            &out,
            |_, i| ids[n - 1 - i],
        );
    }
}

/// `predict --data-dir` on an image run's test images reproduces `evaluate`'s predictions.
pub fn predict_reproduces_evaluate_on_images(dir: &Path, run_dir: &Path, data_dir: &str) {
    let out = dir.join("image_scores.csv");
    let output = run(&[
        "predict",
        "--run",
        run_dir.to_str().unwrap(),
        "--data-dir",
        data_dir,
        "--out",
        out.to_str().unwrap(),
        "--uncalibrated",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows = csv_rows(&out);
    assert_eq!(rows[0][..3], ["index", "label", "predicted"]);
    assert_eq!(rows.len(), 10_001, "every test image is scored");
    assert_same_scores(
        &run_dir.join("distilled/test_predictions.csv"),
        &out,
        |r, _| r[0].parse().unwrap(),
    );
}

/// The int8 copy in the report: within 1 point of the float student's accuracy, a file at
/// least 3× smaller, following the float student, and described in the card.
pub fn check_quantized(run_dir: &Path, report: &Value) {
    let (q, d) = (
        &report["models"]["quantized"],
        &report["models"]["distilled"],
    );
    let (qa, da) = (
        q["accuracy"].as_f64().unwrap(),
        d["accuracy"].as_f64().unwrap(),
    );
    assert!((qa - da).abs() <= 0.01, "int8 {qa} vs float {da}");
    let (qb, db) = (q["bytes"].as_u64().unwrap(), d["bytes"].as_u64().unwrap());
    assert!(qb * 3 <= db, "int8 file {qb} bytes vs float {db}");
    assert_eq!(
        qb,
        std::fs::metadata(run_dir.join("quantized/model.q8"))
            .unwrap()
            .len()
    );
    assert_eq!(q["parameters"], d["parameters"]);
    assert_eq!(q["derived_from"]["model"], "distilled");
    assert!(
        q["derived_from"]["agreement"].as_f64().unwrap() >= 0.98,
        "{q}"
    );
    let diff = q["derived_from"]["max_abs_prob_diff"].as_f64().unwrap();
    assert!(diff > 0.0 && diff < 0.05, "{diff}");
    let card = std::fs::read_to_string(run_dir.join("MODEL_CARD.md")).unwrap();
    let expected = format!("- {qb} bytes ({:.1}× smaller", db as f64 / qb as f64);
    assert!(card.contains(&expected), "card lacks {expected:?}:\n{card}");
}

/// The card of a run that is trained but not evaluated: each model's best-epoch validation
/// accuracy as recorded in its `metrics.json`.
pub fn check_training_card(run_dir: &Path, roles: &[&str]) {
    let card = std::fs::read_to_string(run_dir.join("MODEL_CARD.md")).expect("card written");
    assert!(card.contains("not evaluated yet"), "{card}");
    for role in roles {
        let metrics: Value = serde_json::from_str(
            &std::fs::read_to_string(run_dir.join(role).join("metrics.json")).unwrap(),
        )
        .unwrap();
        let best = metrics["best_epoch"].as_u64().unwrap();
        let record = metrics["history"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["epoch"].as_u64() == Some(best))
            .unwrap();
        let acc = format!(
            "| {best} | {:.2} % |",
            100.0 * record["valid"]["accuracy"].as_f64().unwrap()
        );
        let line = card
            .lines()
            .find(|l| l.starts_with(&format!("| {role} |")))
            .unwrap_or_else(|| panic!("no {role} row:\n{card}"));
        assert!(line.contains(&acc), "{role}: {acc:?} not in {line}");
    }
}

/// `cache-teacher`, then `distill --teacher-cache` and `distill --teacher-logits` (an `.npy`
/// written from the cache) train the same student, byte for byte, as `distill` with the
/// teacher run online.
pub fn cached_and_imported_teachers_match_online(dir: &Path, run_dir: &Path, cfg: &str) {
    use dark_knowledge_data::cache::TeacherCache;
    // The weights as numbers (burnpack files also hold random parameter ids).
    let weights = || {
        let device = burn::tensor::Device::flex();
        let (_, model) =
            dark_knowledge_models::load_saved_model(&run_dir.join("distilled"), &device).unwrap();
        dark_knowledge_core::tensor_util::parameters_to_vec(&model)
    };
    let online = weights();
    ok(&["--progress", "none", "cache-teacher", "--config", cfg]);
    let distill_from = |flag: &str, path: &str| {
        ok(&["--progress", "none", "distill", "--config", cfg, flag, path]);
    };
    let cache_path = run_dir.join("teacher/logits.dktc");
    distill_from("--teacher-cache", cache_path.to_str().unwrap());
    assert_eq!(weights(), online, "cached teacher: other student weights");

    let cache = TeacherCache::open(&cache_path).unwrap();
    let (rows, classes) = (cache.num_rows(), cache.num_classes());
    let mut values = Vec::new();
    cache
        .rows(&(0..rows).collect::<Vec<_>>(), &mut values)
        .unwrap();
    let npy = dir.join("teacher_logits.npy");
    std::fs::write(&npy, npy_f32(&values, rows, classes)).unwrap();
    std::fs::remove_file(&cache_path).unwrap();
    distill_from("--teacher-logits", npy.to_str().unwrap());
    assert_eq!(weights(), online, "imported logits: other student weights");
    assert!(cache_path.exists(), "the import is kept as the run's cache");

    // A matrix with a row missing is refused, naming both shapes.
    let short = dir.join("short.npy");
    std::fs::write(&short, npy_f32(&values[classes..], rows - 1, classes)).unwrap();
    let err = super::fails(&[
        "distill",
        "--config",
        cfg,
        "--teacher-logits",
        short.to_str().unwrap(),
    ]);
    assert!(err.contains(&rows.to_string()), "{err}");
}

/// A version 1.0 `.npy` file of little-endian f32, C order, as `numpy.save` writes it.
fn npy_f32(values: &[f32], rows: usize, cols: usize) -> Vec<u8> {
    let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    super::npy("<f4", rows, cols, &data)
}

/// A run whose teacher exists only as logits (offline distillation): `evaluate` measures
/// fidelity against the run's cache — the same figures as against the model the logits came
/// from — and still writes the model card, without a teacher row.
pub fn evaluate_without_the_teacher_model(run_dir: &Path, cfg: &str) {
    let before = super::report(run_dir);
    let teacher = run_dir.join("teacher");
    std::fs::remove_file(teacher.join("model.json")).unwrap();
    std::fs::remove_file(teacher.join("model.bpk")).unwrap();
    std::fs::remove_file(run_dir.join("MODEL_CARD.md")).unwrap();
    ok(&["--progress", "none", "evaluate", "--config", cfg]);
    let after = super::report(run_dir);
    assert!(after["models"].get("teacher").is_none(), "{after}");
    for key in ["agreement_with_teacher", "kl_to_teacher", "accuracy"] {
        let (a, b) = (
            before["models"]["distilled"][key].as_f64().unwrap(),
            after["models"]["distilled"][key].as_f64().unwrap(),
        );
        assert!(
            (a - b).abs() < 1e-6,
            "{key}: {a} with the model, {b} with its logits"
        );
    }
    let card = std::fs::read_to_string(run_dir.join("MODEL_CARD.md")).expect("card written");
    let acc = format!(
        "| accuracy | {:.2} % | – |",
        100.0 * after["models"]["distilled"]["accuracy"].as_f64().unwrap()
    );
    assert!(card.contains(&acc), "{acc:?} not in:\n{card}");
}
