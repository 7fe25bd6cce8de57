use super::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

/// Binary probability rows `[1 − p, p]` from positive-class probabilities.
fn binary(p1: &[f32]) -> Vec<f32> {
    p1.iter().flat_map(|&p| [1.0 - p, p]).collect()
}

fn strings(levels: &[&str]) -> Vec<String> {
    levels.iter().map(|s| s.to_string()).collect()
}

/// 12 rows: level `a` (rows 0–4), `b` (5–9) and `c` (10–11, pooled with `min_rows = 3`).
struct Fixture {
    levels: Vec<String>,
    labels: Vec<usize>,
    student: Vec<f32>,
    baseline: Vec<f32>,
    teacher: Vec<f32>,
}

fn fixture() -> Fixture {
    let mut levels = vec!["a"; 5];
    levels.extend(["b"; 5]);
    levels.extend(["c"; 2]);
    Fixture {
        levels: strings(&levels),
        labels: vec![1, 1, 0, 0, 1, /**/ 0, 0, 1, 0, 1, /**/ 1, 1],
        student: binary(&[
            0.9, 0.65, 0.35, 0.7, 0.25, /**/ 0.1, 0.3, 0.8, 0.45, 0.9, /**/ 0.3, 0.85,
        ]),
        baseline: binary(&[
            0.8, 0.7, 0.3, 0.2, 0.6, /**/ 0.6, 0.3, 0.4, 0.2, 0.7, /**/ 0.9, 0.8,
        ]),
        teacher: binary(&[
            0.95, 0.55, 0.1, 0.6, 0.45, /**/ 0.2, 0.1, 0.7, 0.3, 0.8, /**/ 0.6, 0.9,
        ]),
    }
}

fn table(f: &Fixture, teacher: bool) -> SliceTable {
    let models: [(&str, &[f32]); 2] = [("student", &f.student), ("baseline", &f.baseline)];
    let t = teacher.then_some(f.teacher.as_slice());
    slice_table("segment", &f.levels, &models, 2, &f.labels, t, 3, 1).unwrap()
}

#[test]
fn slice_table_matches_hand_computation() {
    let f = fixture();
    let t = table(&f, true);
    assert_eq!(t.pooled, ["c"]);
    let names: Vec<&str> = t.rows.iter().map(|r| r.level.as_str()).collect();
    assert_eq!(names, ["a", "b", "other"]);
    assert_eq!(
        t.rows
            .iter()
            .map(|r| (r.rows, r.positives))
            .collect::<Vec<_>>(),
        [(5, 3), (5, 2), (2, 2)]
    );

    // Student on `a`: labels [1,1,0,0,1], p1 [0.9,0.65,0.35,0.7,0.25] → pred [1,1,0,1,0].
    //   accuracy 3/5; positive F1: TP 2, FP 1, FN 1 → 2/3.
    //   AUC: positives {0.9, 0.65, 0.25} vs negatives {0.35, 0.7}: 2 + 1 + 0 = 3 of 6.
    //   ECE (15 bins): conf 0.9 ✓ | 0.65 ✓, 0.65 ✓ | 0.7 ✗ | 0.75 ✗, four bins →
    //   (0.1 + 2·0.35 + 0.7 + 0.75) / 5 = 0.45.
    //   Teacher pred [1,1,0,1,0] → agreement 1.
    let a = &t.rows[0].models[0].metrics;
    assert!(close(a.accuracy, 0.6) && close(a.f1, 2.0 / 3.0), "{a:?}");
    assert!(
        close(a.roc_auc.unwrap(), 0.5) && close(a.ece, 0.45),
        "{a:?}"
    );
    assert_eq!(a.agreement, Some(1.0));
    // Baseline on `a`: pred [1,1,0,0,1] all right; agreement with teacher 3/5.
    let ab = &t.rows[0].models[1].metrics;
    assert_eq!((ab.accuracy, ab.roc_auc, ab.f1), (1.0, Some(1.0), 1.0));
    assert!(close(ab.agreement.unwrap(), 0.6));
    // Baseline on `b`: labels [0,0,1,0,1], p1 [0.6,0.3,0.4,0.2,0.7]:
    //   positives {0.4, 0.7} vs negatives {0.6, 0.3, 0.2}: 2 + 3 = 5 of 6.
    assert!(close(
        t.rows[1].models[1].metrics.roc_auc.unwrap(),
        5.0 / 6.0
    ));

    // Student overall: 3 + 5 + 1 = 9 of 12 right → 0.75.
    //   AUC: 7 positives vs 5 negatives {0.35, 0.7, 0.1, 0.3, 0.45}; negatives below each
    //   positive (ties 1/2): 0.9→5, 0.65→4, 0.25→1, 0.8→5, 0.9→5, 0.3→1.5, 0.85→5 = 26.5/35.
    let overall = &t.overall.models[0].metrics;
    assert!(close(overall.accuracy, 0.75));
    assert!(close(overall.roc_auc.unwrap(), 26.5 / 35.0));
    // Gaps are slice − overall.
    let gap = &t.rows[0].models[0].gap;
    assert!(close(gap.accuracy, 0.6 - 0.75));
    assert!(close(gap.roc_auc.unwrap(), 0.5 - 26.5 / 35.0));
    assert!(close(gap.ece, a.ece - overall.ece));
    assert_eq!(t.overall.models[0].gap.accuracy, 0.0);

    // Without a teacher there is no agreement anywhere.
    let no_teacher = table(&f, false);
    assert!(
        no_teacher
            .rows
            .iter()
            .all(|r| r.models[0].metrics.agreement.is_none())
    );
}

#[test]
fn one_class_slice_has_no_auc() {
    let t = table(&fixture(), true);
    // `other` (rows 10–11) holds only positives: AUC undefined, everything else computed.
    let other = &t.rows[2];
    let s = &other.models[0];
    assert_eq!((s.metrics.roc_auc, s.gap.roc_auc), (None, None));
    assert!(close(s.metrics.accuracy, 0.5)); // p1 0.3 (wrong), 0.85 (right)
    assert!(close(s.metrics.agreement.unwrap(), 0.5)); // teacher predicts 1, 1
    // A data set with one class only: no AUC overall either, and no panic.
    let one = slice_table(
        "x",
        &strings(&["a", "a"]),
        &[("m", &binary(&[0.2, 0.9]))],
        2,
        &[1, 1],
        None,
        1,
        1,
    )
    .unwrap();
    assert_eq!(one.overall.models[0].metrics.roc_auc, None);
    assert!(
        one.to_markdown()
            .contains("| a | 2 | 2 | m | 0.5000 (+0.0000) | – |")
    );
}

#[test]
fn flags_where_the_student_trails_by_more_than_the_margin() {
    let t = table(&fixture(), true);
    let flags = t.flags("student", &["baseline"], 0.1);
    // `a`: AUC 0.5 vs 1.0 → flagged. `b`: AUC 1.0 vs 5/6 → fine.
    // `other`: AUC undefined → accuracy 0.5 vs 1.0 → flagged.
    let got: Vec<(&str, &str)> = flags
        .iter()
        .map(|f| (f.level.as_str(), f.metric.as_str()))
        .collect();
    assert_eq!(got, [("a", "roc_auc"), ("other", "accuracy")]);
    assert!(close(flags[0].shortfall, 0.5) && close(flags[1].shortfall, 0.5));
    assert_eq!(flags[0].reference, "baseline");
    assert!(t.flags("student", &["baseline"], 0.5).is_empty()); // strictly more than
    assert!(t.flags("student", &["nobody", "student"], 0.0).is_empty());
    // The baseline trails the student on `b` by 1/6 in AUC.
    let back = t.flags("baseline", &["student"], 0.1);
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].level, "b");
}

#[test]
fn markdown_lists_slices_and_pooled_levels() {
    let md = table(&fixture(), true).to_markdown();
    assert!(md.starts_with("### Slices by `segment`"), "{md}");
    assert!(
        md.contains("| overall | 12 | 7 | student | 0.7500 |"),
        "{md}"
    );
    assert!(
        md.contains("| a | 5 | 3 | student | 0.6000 (-0.1500) | 0.5000 (-0.2571) |"),
        "{md}"
    );
    assert!(md.contains("Pooled into one slice (fewer than 3 rows each): `c`."));
}

#[test]
fn table_round_trips_through_json() {
    let t = table(&fixture(), true);
    let json = serde_json::to_string(&t).unwrap();
    assert_eq!(serde_json::from_str::<SliceTable>(&json).unwrap(), t);
}

#[test]
fn numeric_bins_on_known_values() {
    let v: Vec<Option<f64>> = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
        .into_iter()
        .map(Some)
        .chain([None, Some(f64::NAN)])
        .collect();
    // Median of 1..8 = 4.5.
    let two = numeric_bins(&v, 2);
    assert_eq!(two[0], "[1, 4.5)");
    assert_eq!(two[4], "[4.5, 8]");
    assert_eq!(&two[8..], ["missing", "missing"]);
    // Quartiles at positions 1.75, 3.5, 5.25 → 2.75, 4.5, 6.25.
    let four = numeric_bins(&v, 4);
    let distinct: Vec<&str> = four[..8].iter().map(String::as_str).collect();
    assert_eq!(
        distinct,
        [
            "[1, 2.75)",
            "[1, 2.75)",
            "[2.75, 4.5)",
            "[2.75, 4.5)",
            "[4.5, 6.25)",
            "[4.5, 6.25)",
            "[6.25, 8]",
            "[6.25, 8]"
        ]
    );
    assert_eq!(numeric_bins(&v, 4), four); // deterministic
    // Repeated values collapse bins; no values at all → all missing; 0 bins → 1.
    assert_eq!(numeric_bins(&[Some(2.0); 3], 3), vec!["[2, 2]"; 3]);
    assert_eq!(numeric_bins(&[None], 3), ["missing"]);
    assert_eq!(numeric_bins(&[Some(0.1), Some(0.3)], 0), ["[0.1, 0.3]"; 2]);
    assert_eq!(format_edge(0.1 + 0.2), "0.3");
    assert_eq!(format_edge(123_456.7), "123457");
}

#[test]
fn numeric_bin_slices_sort_by_lower_bound() {
    let values: Vec<Option<f64>> = (0..12).map(|i| Some(f64::from(i))).collect();
    let levels = numeric_bins(&values, 3); // [0, 3.6667) [3.6667, 7.3333) [7.3333, 11]
    let labels: Vec<usize> = (0..12).map(|i| i % 2).collect();
    let probs = binary(&[0.4; 12]);
    let t = slice_table("age", &levels, &[("m", &probs)], 2, &labels, None, 1, 1).unwrap();
    let order: Vec<&str> = t.rows.iter().map(|r| r.level.as_str()).collect();
    assert_eq!(
        order,
        ["[0, 3.66667)", "[3.66667, 7.33333)", "[7.33333, 11]"]
    );
}

#[test]
fn bad_input_is_an_error() {
    let f = fixture();
    let models: [(&str, &[f32]); 1] = [("student", &f.student)];
    let run = |levels: &[String], labels: &[usize], positive: usize| {
        slice_table("s", levels, &models, 2, labels, None, 3, positive)
    };
    assert!(matches!(
        run(&f.levels[..11], &f.labels, 1).unwrap_err(),
        MetricsError::LengthMismatch { what: "levels", .. }
    ));
    assert_eq!(
        run(&[], &[], 1).unwrap_err(),
        MetricsError::Empty { what: "labels" }
    );
    assert!(matches!(
        run(&f.levels, &f.labels, 2).unwrap_err(),
        MetricsError::InvalidArgument {
            what: "positive",
            ..
        }
    ));
    let short = &f.student[..22];
    let err = slice_table("s", &f.levels, &[("m", short)], 2, &f.labels, None, 3, 1);
    assert!(matches!(
        err.unwrap_err(),
        MetricsError::ShapeMismatch { .. }
    ));
    let none: [(&str, &[f32]); 0] = [];
    let err = slice_table("s", &f.levels, &none, 2, &f.labels, None, 3, 1);
    assert_eq!(err.unwrap_err(), MetricsError::Empty { what: "models" });
    let twice: [(&str, &[f32]); 2] = [("m", &f.student), ("m", &f.baseline)];
    let err = slice_table("s", &f.levels, &twice, 2, &f.labels, None, 3, 1);
    assert!(matches!(
        err.unwrap_err(),
        MetricsError::InvalidArgument { what: "models", .. }
    ));
    let err = slice_table(
        "s",
        &f.levels,
        &models,
        2,
        &f.labels,
        Some(&f.student[..4]),
        3,
        1,
    );
    assert!(matches!(
        err.unwrap_err(),
        MetricsError::ShapeMismatch {
            what: "teacher",
            ..
        }
    ));
}
