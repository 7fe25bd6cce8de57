//! Summaries of a study: mean ± std per setting and method, `results.json`, a Markdown
//! table and SVG plots.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::error::Result;
use dark_knowledge_core::io::write_atomic;
use dark_knowledge_eval::plot::{Chart, Series, line_chart_svg, pool_bins, reliability_svg};
use serde::{Deserialize, Serialize};

use super::{Labels, Method, RunResult, describe_weights};

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
                temperature: first.temperature,
                kd_weight: first.kd_weight,
                term_weights: first.term_weights.clone(),
            }
        })
        .collect()
}

#[derive(Serialize)]
struct Results<'a> {
    study: &'a str,
    rows: &'a [Row],
}

/// Writes `results.json`, `results.md` and the plots (`plots/*.svg`) into `out`.
pub fn write_results(out: &Path, study: &str, results: &[RunResult]) -> Result<Vec<Row>> {
    let rows = aggregate(results);
    let json = serde_json::to_string_pretty(&Results { study, rows: &rows })?;
    write_atomic(&out.join("results.json"), json.as_bytes())?;
    write_atomic(&out.join("results.md"), markdown(study, &rows).as_bytes())?;
    write_plots(out, results, &rows)?;
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

/// Accuracy against temperature and against student size (each when the study varies it),
/// and one reliability diagram per setting and method (bins pooled over seeds).
fn write_plots(out: &Path, results: &[RunResult], rows: &[Row]) -> Result<()> {
    let dir = out.join("plots");
    // Series are told apart by every axis that varies, so no point hides another.
    let weights_vary = rows
        .iter()
        .map(|r| (r.kd_weight.to_bits(), weights_label(r)))
        .collect::<std::collections::BTreeSet<_>>()
        .len()
        > 1;
    plot_against_temperature(&dir, rows, weights_vary)?;
    plot_against_student_size(&dir, rows, weights_vary)?;
    write_reliability_diagrams(&dir, results, rows)
}

/// `accuracy_vs_temperature.svg`, when the study varies the temperature.
fn plot_against_temperature(dir: &Path, rows: &[Row], weights_vary: bool) -> Result<()> {
    let temps: std::collections::BTreeSet<u64> =
        rows.iter().map(|r| r.temperature.to_bits()).collect();
    if temps.len() <= 1 {
        return Ok(());
    }
    // `hard` does not depend on T: drawn at every temperature, as a flat reference.
    let mut spread = Vec::new();
    for r in rows {
        if r.method == Method::Hard {
            for &t in &temps {
                spread.push(Row {
                    temperature: f64::from_bits(t),
                    ..r.clone()
                });
            }
        } else {
            spread.push(r.clone());
        }
    }
    let series = series_by(
        &spread,
        |r| r.temperature,
        |r| {
            format!(
                "{} {} {}{}",
                r.method.name(),
                r.labels.describe(),
                hidden(r),
                weight(r, weights_vary)
            )
        },
    );
    let chart = Chart {
        title: "Test accuracy against temperature",
        x_label: "temperature T",
        y_label: "test accuracy (mean ± std over seeds)",
        log2_x: true,
    };
    write_atomic(
        &dir.join("accuracy_vs_temperature.svg"),
        line_chart_svg(&chart, &series).as_bytes(),
    )?;
    Ok(())
}

/// `accuracy_vs_student_size.svg`, when the study varies the student's size.
fn plot_against_student_size(dir: &Path, rows: &[Row], weights_vary: bool) -> Result<()> {
    let sizes: std::collections::BTreeSet<usize> = rows.iter().map(|r| r.student_params).collect();
    if sizes.len() <= 1 {
        return Ok(());
    }
    let series = series_by(
        rows,
        |r| r.student_params as f64,
        |r| {
            let t = if r.method == Method::Hard {
                String::new()
            } else {
                format!(" T={}", r.temperature)
            };
            format!(
                "{} {}{t}{}",
                r.method.name(),
                r.labels.describe(),
                weight(r, weights_vary)
            )
        },
    );
    let chart = Chart {
        title: "Test accuracy against student size",
        x_label: "student parameters",
        y_label: "test accuracy (mean ± std over seeds)",
        log2_x: true,
    };
    write_atomic(
        &dir.join("accuracy_vs_student_size.svg"),
        line_chart_svg(&chart, &series).as_bytes(),
    )?;
    Ok(())
}

/// `reliability_<k>_<method>.svg` per row, its runs' bins pooled over seeds; removes the
/// diagrams of an earlier, larger grid.
fn write_reliability_diagrams(dir: &Path, results: &[RunResult], rows: &[Row]) -> Result<()> {
    let mut written = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let bins: Vec<_> = results
            .iter()
            .filter(|r| r.spec.setting == row.setting && r.spec.method == row.method)
            .map(|r| r.reliability.clone())
            .collect();
        let pooled = pool_bins(&bins)?;
        let title = format!("{} — {}", row.setting, row.method.name());
        let name = format!(
            "reliability_{:02}_{}.svg",
            i + 1,
            row.method.name().replace('+', "-")
        );
        write_atomic(
            &dir.join(&name),
            reliability_svg(&title, &pooled).as_bytes(),
        )?;
        written.push(name);
    }
    // Diagrams of an earlier, larger grid in the same folder would be mistaken for these.
    for entry in std::fs::read_dir(dir)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("reliability_") && name.ends_with(".svg") && !written.contains(&name) {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// `, kd_weight = w` (or the term weights) for distillation rows when the study varies
/// the weights.
fn weight(r: &Row, varies: bool) -> String {
    if !varies || r.method == Method::Hard {
        String::new()
    } else if r.term_weights.is_some() {
        format!(", {}", weights_label(r))
    } else {
        format!(", kd_weight = {}", r.kd_weight)
    }
}

/// `ce = 0.1 kd = 0.9`, or nothing without term weights.
fn weights_label(r: &Row) -> String {
    r.term_weights
        .as_ref()
        .map_or(String::new(), describe_weights)
}

fn hidden(r: &Row) -> String {
    r.student_hidden
        .as_ref()
        .map(|h| format!("student {h:?}"))
        .unwrap_or_default()
}

/// One series per `label`, points `(x(row), mean, std)` sorted by x.
fn series_by(rows: &[Row], x: impl Fn(&Row) -> f64, label: impl Fn(&Row) -> String) -> Vec<Series> {
    let mut by_label: BTreeMap<String, Vec<(f64, f64, f64)>> = BTreeMap::new();
    for r in rows {
        by_label
            .entry(label(r))
            .or_default()
            .push((x(r), r.mean_accuracy, r.std_accuracy));
    }
    by_label
        .into_iter()
        .map(|(label, mut points)| {
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            points.dedup_by(|a, b| a.0 == b.0);
            Series { label, points }
        })
        .collect()
}

#[cfg(test)]
mod tests {
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
}
