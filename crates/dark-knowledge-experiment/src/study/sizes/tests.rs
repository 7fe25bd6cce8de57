//! Tests of the size summary: the pick rule, the points per size, the plot and the section.

use super::*;
use crate::study::Labels;

/// A size with `params` parameters and mean metric `mean`.
fn size(student: &str, params: usize, mean: f64) -> SizePoint {
    SizePoint {
        student: student.into(),
        student_hidden: None,
        student_params: params,
        setting: "all labels".into(),
        method: Method::Kd,
        runs: 3,
        mean_metric: mean,
        std_metric: 0.002,
        mean_latency_us: Some(params as f64 / 1000.0),
        std_latency_us: Some(0.001),
        mean_log_loss: Some(0.4),
        std_log_loss: Some(0.01),
        mean_accuracy: 0.85,
        std_accuracy: 0.01,
    }
}

fn names(sizes: &[SizePoint], (best, pick): (usize, usize)) -> (&str, &str) {
    (&sizes[best].student, &sizes[pick].student)
}

#[test]
fn the_pick_is_the_smallest_within_the_tolerance_of_a_larger_best() {
    let sizes = [
        size("linear", 144, 0.840),
        size("4", 298, 0.846),
        size("8", 594, 0.851),
        size("32", 2370, 0.850),
    ];
    // Best 0.851 ([8]); floor 0.846: [4] is the smallest at or above it.
    let r = pick_smallest(&sizes, 0.005).unwrap();
    assert_eq!(names(&sizes, r), ("8", "4"));
    // Wider: the linear student (0.840 >= 0.851 − 0.011).
    assert_eq!(
        names(&sizes, pick_smallest(&sizes, 0.011).unwrap()),
        ("8", "linear")
    );
    // Narrower than the gap to [4] (0.005): the best itself, though [32] is within 0.001.
    assert_eq!(
        names(&sizes, pick_smallest(&sizes, 0.004).unwrap()),
        ("8", "8")
    );
    // The order of the list does not matter.
    let mut reversed = sizes.to_vec();
    reversed.reverse();
    assert_eq!(
        names(&reversed, pick_smallest(&reversed, 0.005).unwrap()),
        ("8", "4")
    );
}

#[test]
fn tolerance_zero_picks_the_best_and_ties_go_to_the_smaller_student() {
    let sizes = [
        size("32", 2370, 0.85),
        size("linear", 144, 0.8499999),
        size("8", 594, 0.85),
        size("16", 1186, 0.85),
    ];
    // Three sizes tie at the best mean: the best is the smallest of them, and so is the pick.
    let r = pick_smallest(&sizes, 0.0).unwrap();
    assert_eq!(names(&sizes, r), ("8", "8"));
    // A negative or NaN tolerance counts as 0.
    assert_eq!(pick_smallest(&sizes, -1.0), Some(r));
    assert_eq!(pick_smallest(&sizes, f64::NAN), Some(r));
    // Exactly at the floor counts as within (0.85 − 0.0000001, up to rounding).
    let r = pick_smallest(&sizes, 0.0000001).unwrap();
    assert_eq!(names(&sizes, r), ("8", "linear"));
}

#[test]
fn sizes_without_a_finite_metric_are_never_best_or_picked() {
    let sizes = [
        size("linear", 144, f64::NAN),
        size("4", 298, 0.80),
        size("8", 594, 0.81),
    ];
    assert_eq!(
        names(&sizes, pick_smallest(&sizes, 1.0).unwrap()),
        ("8", "4")
    );
    assert_eq!(pick_smallest(&sizes[..1], 0.1), None);
    assert_eq!(pick_smallest(&[], 0.1), None);
}

/// A summary row of a student of `hidden` sizes, `params` parameters.
fn row(setting: &str, hidden: &[usize], params: usize, roc: Option<f64>, acc: f64) -> Row {
    Row {
        setting: setting.into(),
        method: Method::Kd,
        n_labeled: 100,
        mean_accuracy: acc,
        std_accuracy: 0.01,
        accuracies: vec![acc; 2],
        seeds: vec![1, 2],
        mean_ece: 0.05,
        mean_agreement_with_teacher: 0.9,
        labels: Labels::All,
        student_hidden: Some(hidden.to_vec()),
        student_params: params,
        student: if hidden.is_empty() {
            "linear (MLP 71-2)".into()
        } else {
            format!("MLP 71-{}-2", hidden[0])
        },
        mean_roc_auc: roc,
        std_roc_auc: roc.map(|_| 0.003),
        mean_log_loss: Some(0.4),
        std_log_loss: Some(0.02),
        mean_latency_us: Some(0.05 * (1 + hidden.len()) as f64),
        std_latency_us: Some(0.002),
        temperature: 2.0,
        kd_weight: 0.5,
        term_weights: None,
    }
}

#[test]
fn each_size_is_its_best_row_by_roc_auc_and_sizes_go_fewest_parameters_first() {
    let rows = [
        row("T = 2, student [8]", &[8], 594, Some(0.83), 0.86),
        row("T = 2, linear student", &[], 144, Some(0.82), 0.85),
        row("T = 4, student [8]", &[8], 594, Some(0.84), 0.84),
        row("T = 4, linear student", &[], 144, Some(0.81), 0.87),
    ];
    let (metric, sizes) = size_points(&rows).unwrap();
    assert_eq!(metric, SizeMetric::RocAuc);
    assert_eq!(sizes.len(), 2);
    assert_eq!(sizes[0].student, "linear (MLP 71-2)");
    assert_eq!(sizes[0].setting, "T = 2, linear student");
    assert_eq!(sizes[0].mean_metric, 0.82);
    assert_eq!(sizes[1].setting, "T = 4, student [8]");
    // One row without ROC-AUC: all compared by accuracy instead.
    let mut multi = rows.to_vec();
    multi[0].mean_roc_auc = None;
    let (metric, sizes) = size_points(&multi).unwrap();
    assert_eq!(metric, SizeMetric::Accuracy);
    assert_eq!(sizes[0].setting, "T = 4, linear student");
    assert_eq!(sizes[1].mean_metric, 0.86);
    // One size only: nothing to compare.
    assert!(size_points(&rows[..1]).is_none());
    assert!(summarize(&[rows[0].clone(), rows[2].clone()], 0.005).is_none());
}

#[test]
fn the_summary_plot_and_section_name_the_pick_and_the_best() {
    let rows = [
        row("linear student", &[], 144, Some(0.838), 0.85),
        row("student [4]", &[4], 298, Some(0.842), 0.86),
        row("student [8]", &[8], 594, Some(0.844), 0.86),
    ];
    let s = summarize(&rows, 0.005).unwrap();
    assert_eq!(s.best.student, "MLP 71-8-2");
    assert_eq!(s.pick.student, "MLP 71-4-2");
    assert_eq!(s.tolerance, 0.005);
    let svg = size_latency_svg(&s);
    assert!(
        svg.starts_with("<svg") && svg.ends_with("</svg>\n"),
        "{svg}"
    );
    assert_eq!(svg.matches(r#"class="pt""#).count(), 3, "{svg}");
    assert_eq!(svg.matches(r#"class="ring""#).count(), 1, "{svg}");
    assert!(
        svg.contains("MLP 71-4-2 (pick)") && svg.contains(">linear<"),
        "{svg}"
    );
    assert!(
        svg.contains("latency") && svg.contains("best − 0.005"),
        "{svg}"
    );
    let md = markdown(&s);
    assert!(
        md.contains("within 0.005 of the best mean test ROC-AUC: **MLP 71-4-2** (298 parameters), ROC-AUC 0.8420 ± 0.0030"),
        "{md}"
    );
    assert!(
        md.contains("the best is MLP 71-8-2 (594 parameters), ROC-AUC 0.8440"),
        "{md}"
    );
    assert!(md.contains(&format!("]({PLOT})")), "{md}");
    assert!(
        md.contains("| linear (MLP 71-2) | 144 | 0.050 ± 0.002 | 0.8380 ± 0.0030 | 0.4000 ± 0.0200 | 85.00 ± 1.00 | 2 | linear student kd |"),
        "{md}"
    );
    assert!(md.contains("| MLP 71-4-2 (pick) | 298 |"), "{md}");
    // The JSON names the pick, its metric, the best's and the tolerance.
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["metric"], "roc_auc");
    assert_eq!(json["pick"]["student"], "MLP 71-4-2");
    assert_eq!(json["pick"]["mean_metric"], 0.842);
    assert_eq!(json["best"]["mean_metric"], 0.844);
    assert_eq!(json["tolerance"], 0.005);
    assert_eq!(json["plot"], PLOT);
}
