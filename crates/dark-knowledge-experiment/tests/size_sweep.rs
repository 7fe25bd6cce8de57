//! Student size against latency: the pick of the smallest student within a tolerance of the
//! best (hand-made sizes), the plot (one point per size, well formed), and a tiny sweep on
//! the embedded churn data with a linear student (`student_hidden = [[], [4]]`) that writes
//! the plot, the pick and the latencies.

use std::path::{Path, PathBuf};

use dark_knowledge_experiment::study::Method;
use dark_knowledge_experiment::study::sizes::{
    PLOT, SizeMetric, SizePoint, SizeSummary, pick_smallest, size_latency_svg,
};
use serde_json::Value;

/// A size of `params` parameters with mean metric `mean` over 3 seeds.
fn size(student: &str, params: usize, mean: f64) -> SizePoint {
    SizePoint {
        student: student.into(),
        student_hidden: None,
        student_params: params,
        setting: "all labels".into(),
        method: Method::Kd,
        runs: 3,
        mean_metric: mean,
        std_metric: 0.003,
        mean_latency_us: Some(0.02 + params as f64 / 10_000.0),
        std_latency_us: Some(0.002),
        mean_log_loss: Some(0.35),
        std_log_loss: Some(0.01),
        mean_accuracy: 0.86,
        std_accuracy: 0.01,
    }
}

/// The students named by `pick_smallest`: (best, pick).
fn pick(sizes: &[SizePoint], tolerance: f64) -> (String, String) {
    let (b, p) = pick_smallest(sizes, tolerance).expect("a finite metric");
    (sizes[b].student.clone(), sizes[p].student.clone())
}

fn pair(best: &str, picked: &str) -> (String, String) {
    (best.into(), picked.into())
}

#[test]
fn a_larger_best_gives_way_to_the_smallest_student_within_the_tolerance() {
    let sizes = [
        size("linear", 144, 0.845),
        size("MLP 71-4-2", 298, 0.8481),
        size("MLP 71-16-2", 1186, 0.852),
        size("MLP 71-32-2", 2370, 0.849),
    ];
    // Best 0.852; floor 0.847: the linear student (0.845) is below, [4] (0.8481) is in.
    assert_eq!(pick(&sizes, 0.005), pair("MLP 71-16-2", "MLP 71-4-2"));
    assert_eq!(pick(&sizes, 0.007), pair("MLP 71-16-2", "linear"));
    // Tolerance 0: only the best qualifies.
    assert_eq!(pick(&sizes, 0.0), pair("MLP 71-16-2", "MLP 71-16-2"));
}

#[test]
fn ties_go_to_the_fewer_parameters_at_tolerance_zero_too() {
    let sizes = [
        size("MLP 71-32-2", 2370, 0.85),
        size("MLP 71-8-2", 594, 0.85),
        size("linear", 144, 0.80),
    ];
    assert_eq!(pick(&sizes, 0.0), pair("MLP 71-8-2", "MLP 71-8-2"));
    assert_eq!(pick(&sizes, 0.005), pair("MLP 71-8-2", "MLP 71-8-2"));
    // Exactly the tolerance below the best is within it.
    assert_eq!(pick(&sizes, 0.05), pair("MLP 71-8-2", "linear"));
}

/// Every element opened is closed, in order: a small XML-ish check of the plot.
fn assert_balanced(svg: &str) {
    assert!(svg.starts_with("<svg"), "{svg}");
    assert!(svg.trim_end().ends_with("</svg>"), "{svg}");
    let mut open: Vec<String> = Vec::new();
    for part in svg.split('<').skip(1) {
        let tag = part.split('>').next().unwrap();
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if tag.starts_with('/') {
            assert_eq!(open.pop().as_deref(), Some(name.as_str()), "{svg}");
        } else if !tag.ends_with('/') {
            open.push(name);
        }
    }
    assert!(open.is_empty(), "unclosed {open:?}");
    assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
}

#[test]
fn the_plot_has_one_labelled_point_per_size_and_is_well_formed() {
    let sizes = vec![
        size("linear (MLP 71-2)", 144, 0.845),
        size("MLP 71-4-2", 298, 0.848),
        size("MLP 71-8-2", 594, 0.851),
        size("MLP 71-16-2", 1186, 0.850),
        size("MLP 71-32-2", 2370, 0.852),
    ];
    let summary = SizeSummary {
        metric: SizeMetric::RocAuc,
        tolerance: 0.005,
        plot: PLOT.into(),
        best: sizes[4].clone(),
        pick: sizes[1].clone(),
        sizes,
    };
    let svg = size_latency_svg(&summary);
    assert_balanced(&svg);
    assert_eq!(svg.matches(r#"class="pt""#).count(), 5, "{svg}");
    assert_eq!(svg.matches(r#"class="pt-label""#).count(), 5, "{svg}");
    assert_eq!(svg.matches(r#"class="ring""#).count(), 1, "{svg}");
    for label in [">linear<", ">MLP 71-4-2 (pick)<", ">MLP 71-32-2<"] {
        assert!(svg.contains(label), "{label}: {svg}");
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dk-size-sweep-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_tiny_churn_sweep_with_a_linear_student_writes_the_plot_and_the_pick() {
    let dir = scratch("churn");
    let out = dir.join("out");
    let config = dir.join("sizes.toml");
    std::fs::write(
        &config,
        format!(
            r#"
seed = 3
output_dir = {out:?}
[data]
source = "churn"
max_train_rows = 600
[teacher]
model = {{ kind = "mlp", hidden_sizes = [16] }}
[teacher.train]
epochs = 2
batch_size = 64
learning_rate = 0.003
[student]
model = {{ kind = "mlp", hidden_sizes = [8] }}
[student.train]
batch_size = 64
learning_rate = 0.01
[sweep]
seeds = [1, 2]
method = ["kd"]
temperature = [2.0]
student_hidden = [[], [4]]
steps = 40
tolerance = 0.01
"#
        ),
    )
    .unwrap();
    let outcome = dark_knowledge_experiment::study::sweep::sweep(&config, &Default::default())
        .expect("the sweep runs");
    assert_eq!(outcome.runs.len(), 4, "2 sizes × 2 seeds");
    for run in &outcome.runs {
        let linear = run.spec.student_hidden.as_deref() == Some(&[]);
        assert_eq!(
            run.student.starts_with("linear (MLP "),
            linear,
            "{}",
            run.student
        );
        let auc = run.roc_auc.expect("a binary target has a ROC-AUC");
        assert!((0.0..=1.0).contains(&auc), "{auc}");
        assert!(run.log_loss.is_some_and(|l| l.is_finite() && l > 0.0));
        assert!(run.latency_us.is_some_and(|l| l.is_finite() && l > 0.0));
    }
    let linear = outcome
        .runs
        .iter()
        .find(|r| r.student.starts_with("linear"))
        .unwrap();
    // MLP F-2 with no hidden layer: (F + 1) × 2 parameters.
    let f: usize = linear.student["linear (MLP ".len()..]
        .split('-')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(linear.student, format!("linear (MLP {f}-2)"));
    assert_eq!(linear.student_params, (f + 1) * 2);

    let results = json(&out.join("results.json"));
    let s = &results["size_latency"];
    assert_eq!(s["metric"], "roc_auc", "{results}");
    assert_eq!(s["tolerance"], 0.01);
    assert_eq!(s["sizes"].as_array().unwrap().len(), 2);
    let (best, picked) = (&s["best"], &s["pick"]);
    let m = |v: &Value| v["mean_metric"].as_f64().unwrap();
    assert!(m(picked) >= m(best) - 0.01 - 1e-12, "{s}");
    assert!(picked["student_params"].as_u64() <= best["student_params"].as_u64());
    for size in s["sizes"].as_array().unwrap() {
        // Nothing smaller than the pick is within the tolerance.
        if size["student_params"].as_u64() < picked["student_params"].as_u64() {
            assert!(m(size) < m(best) - 0.01, "{s}");
        }
        assert!(size["mean_latency_us"].as_f64().is_some(), "{size}");
    }
    let md = std::fs::read_to_string(out.join("results.md")).unwrap();
    assert!(md.contains("## Student size against latency"), "{md}");
    assert!(md.contains(&format!("]({PLOT})")), "{md}");
    let pick_name = picked["student"].as_str().unwrap();
    assert!(md.contains(&format!("**{pick_name}**")), "{md}");
    let svg = std::fs::read_to_string(out.join(PLOT)).unwrap();
    assert_balanced(&svg);
    assert_eq!(svg.matches(r#"class="pt""#).count(), 2, "{svg}");
    std::fs::remove_dir_all(&dir).unwrap();
}
