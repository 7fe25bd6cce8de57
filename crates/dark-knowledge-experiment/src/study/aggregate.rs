//! Summaries of a study: mean ± std per setting and method, `results.json`, a Markdown
//! table and SVG plots.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

mod plots;

use crate::error::Result;
use dark_knowledge_core::io::write_atomic;
use serde::{Deserialize, Serialize};

use super::sizes::{self, SizeSummary};
use super::{Labels, Method, RunResult};
use plots::write_plots;

/// One line of the summary: the runs of one setting and method, over seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// What the runs share besides the method.
    pub setting: String,
    /// How the students learned.
    pub method: Method,
    /// Training rows with a label (of the first run; the same for every seed with
    /// `labeled_per_class`).
    pub n_labeled: usize,
    /// Mean test accuracy, as a fraction.
    pub mean_accuracy: f64,
    /// Sample standard deviation (n − 1 in the denominator; 0 for one run).
    pub std_accuracy: f64,
    /// Each run's test accuracy, in seed order.
    pub accuracies: Vec<f64>,
    /// The seeds, in the same order.
    pub seeds: Vec<u64>,
    /// Mean expected calibration error.
    pub mean_ece: f64,
    /// Mean agreement with the teacher on the test rows.
    pub mean_agreement_with_teacher: f64,
    /// The labels kept.
    pub labels: Labels,
    /// The student's hidden sizes, when the study varies them.
    pub student_hidden: Option<Vec<usize>>,
    /// The student's parameter count.
    #[serde(default)]
    pub student_params: usize,
    /// The student: `MLP 71-8-2`, or `linear (MLP 71-2)` with no hidden layer.
    #[serde(default)]
    pub student: String,
    /// Mean test ROC-AUC (binary targets: when every run has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_roc_auc: Option<f64>,
    /// Its sample standard deviation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub std_roc_auc: Option<f64>,
    /// Mean test log-loss (when every run has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_log_loss: Option<f64>,
    /// Its sample standard deviation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub std_log_loss: Option<f64>,
    /// Mean batch-1 latency in µs on the host path (when every run measured one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_latency_us: Option<f64>,
    /// Its sample standard deviation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub std_latency_us: Option<f64>,
    /// The temperature (distillation methods).
    pub temperature: f64,
    /// The distillation weight (distillation methods).
    pub kd_weight: f64,
    /// The term weights, when the study sets them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term_weights: Option<BTreeMap<String, f64>>,
}

/// Mean and sample standard deviation (n − 1; 0 for fewer than two values).
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len();
    if n == 0 {
        return (f64::NAN, 0.0);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, 0.0);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (mean, var.sqrt())
}

/// The results grouped by setting and method, in the order they first appear.
pub fn aggregate(results: &[RunResult]) -> Vec<Row> {
    let mut order: Vec<(String, Method)> = Vec::new();
    let mut groups: BTreeMap<(String, Method), Vec<&RunResult>> = BTreeMap::new();
    for r in results {
        let key = (r.spec.setting.clone(), r.spec.method);
        if !groups.contains_key(&key) {
            order.push(key.clone());
        }
        groups.entry(key).or_default().push(r);
    }
    order
        .into_iter()
        .map(|key| {
            let mut runs = groups.remove(&key).expect("grouped above");
            runs.sort_by_key(|r| r.spec.seed);
            let accuracies: Vec<f64> = runs.iter().map(|r| r.accuracy).collect();
            let (mean, std) = mean_std(&accuracies);
            let avg = |f: fn(&RunResult) -> f64| {
                mean_std(&runs.iter().map(|r| f(r)).collect::<Vec<_>>()).0
            };
            let (mean_roc_auc, std_roc_auc) = optional_mean_std(&runs, |r| r.roc_auc);
            let (mean_log_loss, std_log_loss) = optional_mean_std(&runs, |r| r.log_loss);
            let (mean_latency_us, std_latency_us) = optional_mean_std(&runs, |r| r.latency_us);
            let first = &runs[0].spec;
            Row {
                setting: key.0,
                method: key.1,
                n_labeled: runs[0].n_labeled,
                mean_accuracy: mean,
                std_accuracy: std,
                accuracies,
                seeds: runs.iter().map(|r| r.spec.seed).collect(),
                mean_ece: avg(|r| r.ece),
                mean_agreement_with_teacher: avg(|r| r.agreement_with_teacher),
                labels: first.labels,
                student_hidden: first.student_hidden.clone(),
                student_params: runs[0].student_params,
                student: runs[0].student.clone(),
                mean_roc_auc,
                std_roc_auc,
                mean_log_loss,
                std_log_loss,
                mean_latency_us,
                std_latency_us,
                temperature: first.temperature,
                kd_weight: first.kd_weight,
                term_weights: first.term_weights.clone(),
            }
        })
        .collect()
}

/// Mean and sample standard deviation of `f` over `runs` when every run has a value.
fn optional_mean_std(
    runs: &[&RunResult],
    f: fn(&RunResult) -> Option<f64>,
) -> (Option<f64>, Option<f64>) {
    let values: Option<Vec<f64>> = runs.iter().map(|r| f(r)).collect();
    match values {
        Some(v) if !v.is_empty() => {
            let (mean, std) = mean_std(&v);
            (Some(mean), Some(std))
        }
        _ => (None, None),
    }
}

#[derive(Serialize)]
struct Results<'a> {
    study: &'a str,
    rows: &'a [Row],
    /// Student size against latency and the pick, when the study varies the student.
    #[serde(skip_serializing_if = "Option::is_none")]
    size_latency: Option<&'a SizeSummary>,
}

/// Writes `results.json`, `results.md` and the plots (`plots/*.svg`) into `out`, with the
/// pick of student sizes (when there are several) within [`sizes::DEFAULT_TOLERANCE`].
pub fn write_results(out: &Path, study: &str, results: &[RunResult]) -> Result<Vec<Row>> {
    write_results_with(out, study, results, sizes::DEFAULT_TOLERANCE)
}

/// [`write_results`] with the pick of student sizes within `tolerance` of the best: named
/// in `results.json` (`size_latency`) and `results.md`, drawn in `plots/size_latency.svg`.
pub fn write_results_with(
    out: &Path,
    study: &str,
    results: &[RunResult],
    tolerance: f64,
) -> Result<Vec<Row>> {
    let rows = aggregate(results);
    let size_latency = sizes::summarize(&rows, tolerance);
    let json = serde_json::to_string_pretty(&Results {
        study,
        rows: &rows,
        size_latency: size_latency.as_ref(),
    })?;
    write_atomic(&out.join("results.json"), json.as_bytes())?;
    let mut md = markdown(study, &rows);
    if let Some(s) = &size_latency {
        md.push_str(&sizes::markdown(s));
    }
    write_atomic(&out.join("results.md"), md.as_bytes())?;
    write_plots(out, results, &rows)?;
    let plot = out.join(sizes::PLOT);
    match &size_latency {
        Some(s) => write_atomic(&plot, sizes::size_latency_svg(s).as_bytes())?,
        // A plot of an earlier grid with several sizes would be mistaken for this one's.
        None if plot.exists() => std::fs::remove_file(&plot)?,
        None => {}
    }
    Ok(rows)
}

/// The summary table in Markdown, accuracy in percent.
pub fn markdown(study: &str, rows: &[Row]) -> String {
    let mut s = format!("# {study}\n\n");
    s.push_str("| setting | method | labels | test accuracy % (mean ± std) | runs | ECE | agreement with teacher % |\n");
    s.push_str("|---|---|---:|---:|---:|---:|---:|\n");
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.2} ± {:.2} | {} | {:.4} | {:.2} |",
            r.setting,
            r.method.name(),
            r.n_labeled,
            100.0 * r.mean_accuracy,
            100.0 * r.std_accuracy,
            r.accuracies.len(),
            r.mean_ece,
            100.0 * r.mean_agreement_with_teacher
        );
    }
    s.push_str("\nStandard deviations are over seeds, with n − 1 in the denominator.\n");
    s
}

#[cfg(test)]
mod tests;
