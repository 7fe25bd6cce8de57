//! Student size against latency: for a study with several student sizes, each size's mean
//! test metric over seeds (ROC-AUC for a binary target, else accuracy) beside its parameter
//! count and batch-1 latency on the host path; the smallest student within a tolerance of
//! the best; the plot `plots/size_latency.svg` and a Markdown section.

use std::fmt::Write as _;

use dark_knowledge_eval::plot::{Chart, ReferenceLine, ScatterPoint, scatter_svg};
use serde::{Deserialize, Serialize};

use super::{Method, Row};

/// The tolerance of the pick when the sweep sets none: 0.005 of ROC-AUC (or accuracy).
pub const DEFAULT_TOLERANCE: f64 = 0.005;
/// Where the plot is written, relative to the study's output folder.
pub const PLOT: &str = "plots/size_latency.svg";
/// Slack for rounding when comparing a mean with `best − tolerance`.
const ROUNDING: f64 = 1e-12;

/// The metric students of different sizes are compared by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SizeMetric {
    /// Test ROC-AUC of the positive class (binary targets).
    #[serde(rename = "roc_auc")]
    RocAuc,
    /// Test accuracy (every run has no ROC-AUC: more than two classes).
    #[serde(rename = "accuracy")]
    Accuracy,
}

impl SizeMetric {
    /// Its name in text, `ROC-AUC` or `accuracy`.
    pub fn name(self) -> &'static str {
        match self {
            Self::RocAuc => "ROC-AUC",
            Self::Accuracy => "accuracy",
        }
    }
}

/// One student size: the row of its best setting and method (by mean metric over seeds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizePoint {
    /// `linear (MLP 71-2)`, `MLP 71-8-2`, …
    pub student: String,
    /// Its hidden sizes (`[]`: linear), when the study varies them.
    pub student_hidden: Option<Vec<usize>>,
    /// Its parameter count.
    pub student_params: usize,
    /// The setting and method of the row this size is represented by.
    pub setting: String,
    /// See `setting`.
    pub method: Method,
    /// Runs (seeds) of that row.
    pub runs: usize,
    /// Mean of the metric over those runs.
    pub mean_metric: f64,
    /// Its sample standard deviation.
    pub std_metric: f64,
    /// Mean batch-1 latency in µs on the host path, when every run measured one.
    pub mean_latency_us: Option<f64>,
    /// Its sample standard deviation.
    pub std_latency_us: Option<f64>,
    /// Mean test log-loss, when every run recorded one.
    pub mean_log_loss: Option<f64>,
    /// Its sample standard deviation.
    pub std_log_loss: Option<f64>,
    /// Mean test accuracy.
    pub mean_accuracy: f64,
    /// Its sample standard deviation.
    pub std_accuracy: f64,
}

/// The sizes of a study and the pick: the smallest student within `tolerance` of the best.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizeSummary {
    /// What `mean_metric` is.
    pub metric: SizeMetric,
    /// How far below the best mean a student may be and still be picked.
    pub tolerance: f64,
    /// The plot, relative to the output folder.
    pub plot: String,
    /// One point per size, fewest parameters first.
    pub sizes: Vec<SizePoint>,
    /// The size with the best mean metric (ties: the fewer parameters).
    pub best: SizePoint,
    /// The smallest student (fewest parameters) whose mean is at least the best's minus
    /// `tolerance`.
    pub pick: SizePoint,
}

/// The value of `metric` in `row`, mean and std; NaN when the row lacks it.
fn metric_of(row: &Row, metric: SizeMetric) -> (f64, f64) {
    match metric {
        SizeMetric::RocAuc => (
            row.mean_roc_auc.unwrap_or(f64::NAN),
            row.std_roc_auc.unwrap_or(0.0),
        ),
        SizeMetric::Accuracy => (row.mean_accuracy, row.std_accuracy),
    }
}

/// The point of one row: its student, its mean metric and latency.
fn point_of(row: &Row, metric: SizeMetric) -> SizePoint {
    let (mean_metric, std_metric) = metric_of(row, metric);
    SizePoint {
        student: if row.student.is_empty() {
            format!("{} parameters", row.student_params)
        } else {
            row.student.clone()
        },
        student_hidden: row.student_hidden.clone(),
        student_params: row.student_params,
        setting: row.setting.clone(),
        method: row.method,
        runs: row.accuracies.len(),
        mean_metric,
        std_metric,
        mean_latency_us: row.mean_latency_us,
        std_latency_us: row.std_latency_us,
        mean_log_loss: row.mean_log_loss,
        std_log_loss: row.std_log_loss,
        mean_accuracy: row.mean_accuracy,
        std_accuracy: row.std_accuracy,
    }
}

/// One point per student size of `rows` (sizes told apart by hidden sizes and parameter
/// count), each from the size's row with the highest mean metric (ties: the first), fewest
/// parameters first; ROC-AUC when every row has one, else accuracy. `None` when the rows
/// hold fewer than two sizes.
pub fn size_points(rows: &[Row]) -> Option<(SizeMetric, Vec<SizePoint>)> {
    let metric = if rows.iter().all(|r| r.mean_roc_auc.is_some()) {
        SizeMetric::RocAuc
    } else {
        SizeMetric::Accuracy
    };
    let mut points: Vec<SizePoint> = Vec::new();
    for row in rows {
        let point = point_of(row, metric);
        let same = |p: &SizePoint| {
            p.student_hidden == point.student_hidden && p.student_params == point.student_params
        };
        match points.iter().position(same) {
            Some(i) => {
                let old = points[i].mean_metric;
                let m = point.mean_metric;
                if m > old || (old.is_nan() && !m.is_nan()) {
                    points[i] = point;
                }
            }
            None => points.push(point),
        }
    }
    if points.len() < 2 {
        return None;
    }
    points.sort_by_key(|p| p.student_params);
    Some((metric, points))
}

/// The indices of the best size (highest finite `mean_metric`; ties: fewer parameters, then
/// the first) and of the pick: the fewest parameters among the sizes whose mean is at least
/// the best's minus `tolerance` (ties: the higher mean, then the first). A negative or NaN
/// tolerance counts as 0. `None` when no size has a finite mean.
pub fn pick_smallest(sizes: &[SizePoint], tolerance: f64) -> Option<(usize, usize)> {
    let tolerance = if tolerance > 0.0 { tolerance } else { 0.0 };
    let finite = || {
        sizes
            .iter()
            .enumerate()
            .filter(|(_, p)| p.mean_metric.is_finite())
    };
    let mut best: Option<usize> = None;
    for (i, p) in finite() {
        let better = best.is_none_or(|b| {
            let q = &sizes[b];
            p.mean_metric > q.mean_metric
                || (p.mean_metric == q.mean_metric && p.student_params < q.student_params)
        });
        if better {
            best = Some(i);
        }
    }
    let best = best?;
    let floor = sizes[best].mean_metric - tolerance - ROUNDING;
    let mut pick = best;
    for (i, p) in finite().filter(|(_, p)| p.mean_metric >= floor) {
        let q = &sizes[pick];
        if p.student_params < q.student_params
            || (p.student_params == q.student_params && p.mean_metric > q.mean_metric)
        {
            pick = i;
        }
    }
    Some((best, pick))
}

/// The sizes of `rows` and the pick within `tolerance`; `None` when the rows hold fewer
/// than two student sizes (or no finite metric).
pub fn summarize(rows: &[Row], tolerance: f64) -> Option<SizeSummary> {
    let (metric, sizes) = size_points(rows)?;
    let (best, pick) = pick_smallest(&sizes, tolerance)?;
    Some(SizeSummary {
        metric,
        tolerance,
        plot: PLOT.to_string(),
        best: sizes[best].clone(),
        pick: sizes[pick].clone(),
        sizes,
    })
}

/// The label of a size on the plot: `linear` for a student with no hidden layer, else its
/// name; `(pick)` after the pick.
fn plot_label(p: &SizePoint, pick: &SizePoint) -> String {
    let name = if p.student.starts_with("linear") {
        "linear".to_string()
    } else {
        p.student.clone()
    };
    if p == pick {
        format!("{name} (pick)")
    } else {
        name
    }
}

/// The metric against batch-1 latency (against the parameter count when a size has no
/// latency), both axes' means ± std over seeds, one labelled point per size, the pick
/// ringed and a dashed line at the best mean minus the tolerance.
pub fn size_latency_svg(s: &SizeSummary) -> String {
    let latency = s.sizes.iter().all(|p| p.mean_latency_us.is_some());
    let points: Vec<ScatterPoint> = s
        .sizes
        .iter()
        .map(|p| {
            let (x, x_std) = if latency {
                (
                    p.mean_latency_us.unwrap_or(f64::NAN),
                    p.std_latency_us.unwrap_or(0.0),
                )
            } else {
                (p.student_params as f64, 0.0)
            };
            ScatterPoint {
                label: plot_label(p, &s.pick),
                x,
                x_std,
                y: p.mean_metric,
                y_std: p.std_metric,
                highlight: p == &s.pick,
            }
        })
        .collect();
    let title = format!(
        "Test {} against {}, per student size",
        s.metric.name(),
        if latency { "latency" } else { "size" }
    );
    let y_label = format!("test {} (mean ± std over seeds)", s.metric.name());
    let chart = Chart {
        title: &title,
        x_label: if latency {
            "batch-1 latency on the host path, µs (log scale)"
        } else {
            "student parameters (log scale)"
        },
        y_label: &y_label,
        log2_x: true,
    };
    let caption = format!("best − {}", s.tolerance);
    let reference = ReferenceLine {
        y: s.best.mean_metric - s.tolerance,
        label: &caption,
    };
    scatter_svg(&chart, &points, Some(reference))
}

/// `mean ± std` with `d` decimals, or `—`.
fn pm(mean: Option<f64>, std: Option<f64>, d: usize) -> String {
    match mean {
        Some(m) if m.is_finite() => format!("{m:.d$} ± {:.d$}", std.unwrap_or(0.0)),
        _ => "—".into(),
    }
}

/// The Markdown section of `results.md`: the pick, the plot and one line per size.
pub fn markdown(s: &SizeSummary) -> String {
    let m = s.metric.name();
    let mut out = String::from("\n## Student size against latency\n\n");
    let _ = writeln!(
        out,
        "The smallest student within {} of the best mean test {m}: **{}** ({} parameters), \
         {m} {}; the best is {} ({} parameters), {m} {}.\n",
        s.tolerance,
        s.pick.student,
        s.pick.student_params,
        pm(Some(s.pick.mean_metric), Some(s.pick.std_metric), 4),
        s.best.student,
        s.best.student_params,
        pm(Some(s.best.mean_metric), Some(s.best.std_metric), 4),
    );
    let _ = writeln!(
        out,
        "![test {m} against latency per student size]({PLOT})\n"
    );
    let _ = writeln!(
        out,
        "| student | parameters | batch-1 latency µs | test {m} | test log-loss | test accuracy % | runs | best setting of this size |"
    );
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---|\n");
    for p in &s.sizes {
        let mark = if p == &s.pick { " (pick)" } else { "" };
        let _ = writeln!(
            out,
            "| {}{mark} | {} | {} | {} | {} | {} | {} | {} {} |",
            p.student,
            p.student_params,
            pm(p.mean_latency_us, p.std_latency_us, 3),
            pm(Some(p.mean_metric), Some(p.std_metric), 4),
            pm(p.mean_log_loss, p.std_log_loss, 4),
            pm(
                Some(100.0 * p.mean_accuracy),
                Some(100.0 * p.std_accuracy),
                2
            ),
            p.runs,
            p.setting,
            p.method.name()
        );
    }
    out.push_str(
        "\nEach size is its best setting and method by mean test metric; means ± std over \
         seeds. Latency: whole-call time of scoring one encoded row on the host path the \
         `Predictor` uses for MLP students (`HostMlp`: the logits of one row, encoding and \
         softmax excluded), on one thread, measured after training: the median of 5 runs of \
         2,000 calls over the test rows, after 200 warm-up calls.\n",
    );
    out
}

#[cfg(test)]
mod tests;
