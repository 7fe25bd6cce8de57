//! Tests of the study summaries (split out of `aggregate.rs` for length).

use super::*;
use crate::study::RunSpec;

fn result(method: Method, seed: u64, accuracy: f64) -> RunResult {
    RunResult {
        spec: RunSpec {
            setting: "600 labels".into(),
            method,
            labels: Labels::PerClass(60),
            student_hidden: None,
            temperature: 2.0,
            kd_weight: 0.9,
            keep_term_temperatures: false,
            term_weights: None,
            seed,
            steps: 10,
        },
        n_labeled: 600,
        n_train_rows: 600,
        epochs: 1,
        student_params: 0,
        accuracy,
        ece: 0.1 * seed as f64,
        agreement_with_teacher: 0.5,
        student: "MLP 19-8-2".into(),
        roc_auc: Some(0.7 + 0.01 * seed as f64),
        log_loss: Some(0.5),
        latency_us: Some(seed as f64),
        seconds: 1.0,
        reliability: Vec::new(),
        context: String::new(),
    }
}

#[test]
fn mean_and_sample_std_match_hand_values() {
    // 0.80, 0.82, 0.84: mean 0.82; squared deviations 4e-4, 0, 4e-4; / (3 − 1) = 4e-4;
    // std = 0.02.
    let (m, s) = mean_std(&[0.80, 0.82, 0.84]);
    assert!(
        (m - 0.82).abs() < 1e-12 && (s - 0.02).abs() < 1e-12,
        "{m} {s}"
    );
    // 0.7, 0.9: mean 0.8; deviations² 0.01 + 0.01 = 0.02, / 1; std = √0.02.
    let (m, s) = mean_std(&[0.7, 0.9]);
    assert!((m - 0.8).abs() < 1e-12 && (s - 0.02f64.sqrt()).abs() < 1e-12);
    assert_eq!(mean_std(&[0.5]), (0.5, 0.0));
    assert!(mean_std(&[]).0.is_nan());
}

#[test]
fn rows_group_by_setting_and_method_in_seed_order() {
    let results = vec![
        result(Method::Hard, 2, 0.78),
        result(Method::Kd, 1, 0.81),
        result(Method::Hard, 1, 0.76),
        result(Method::Kd, 2, 0.79),
        result(Method::Hard, 3, 0.80),
    ];
    let rows = aggregate(&results);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].method, Method::Hard);
    assert_eq!(rows[0].seeds, vec![1, 2, 3]);
    assert_eq!(rows[0].accuracies, vec![0.76, 0.78, 0.80]);
    assert!((rows[0].mean_accuracy - 0.78).abs() < 1e-12);
    assert!((rows[0].std_accuracy - 0.02).abs() < 1e-12);
    // ECE 0.1, 0.2, 0.3 → 0.2
    assert!((rows[0].mean_ece - 0.2).abs() < 1e-12);
    assert!((rows[1].mean_accuracy - 0.80).abs() < 1e-12);
    let md = markdown("s", &rows);
    assert!(
        md.contains("| 600 labels | hard | 600 | 78.00 ± 2.00 | 3 |"),
        "{md}"
    );
    let json = serde_json::to_value(&rows[1]).unwrap();
    assert_eq!(json["method"], "kd");
    assert_eq!(json["n_labeled"], 600);
}

#[test]
fn roc_auc_log_loss_and_latency_are_aggregated_only_when_every_run_has_them() {
    let mut results = vec![
        result(Method::Kd, 1, 0.81),
        result(Method::Kd, 2, 0.79),
        result(Method::Kd, 3, 0.80),
    ];
    let rows = aggregate(&results);
    // ROC-AUC 0.71, 0.72, 0.73: mean 0.72, std 0.01; latency 1, 2, 3 µs: mean 2, std 1.
    let r = &rows[0];
    assert!((r.mean_roc_auc.unwrap() - 0.72).abs() < 1e-12, "{r:?}");
    assert!((r.std_roc_auc.unwrap() - 0.01).abs() < 1e-12, "{r:?}");
    assert_eq!(r.mean_log_loss, Some(0.5));
    assert_eq!(
        (r.mean_latency_us, r.std_latency_us),
        (Some(2.0), Some(1.0))
    );
    assert_eq!(r.student, "MLP 19-8-2");
    // One run without ROC-AUC (say an older run file): no mean, and none in the JSON.
    results[1].roc_auc = None;
    let rows = aggregate(&results);
    assert_eq!((rows[0].mean_roc_auc, rows[0].std_roc_auc), (None, None));
    let json = serde_json::to_value(&rows[0]).unwrap();
    assert!(json.get("mean_roc_auc").is_none(), "{json}");
    assert_eq!(json["mean_latency_us"], 2.0);
}
