//! The plots of a study summary: accuracy against temperature and against student size,
//! and the reliability diagrams.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::Result;
use dark_knowledge_core::io::write_atomic;
use dark_knowledge_eval::plot::{Chart, Series, line_chart_svg, pool_bins, reliability_svg};

use super::Row;
use crate::study::{Method, RunResult, describe_weights};

/// Accuracy against temperature and against student size (each when the study varies it),
/// and one reliability diagram per setting and method (bins pooled over seeds).
pub(super) fn write_plots(out: &Path, results: &[RunResult], rows: &[Row]) -> Result<()> {
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
    match &r.student_hidden {
        Some(h) if h.is_empty() => "linear student".into(),
        Some(h) => format!("student {h:?}"),
        None => String::new(),
    }
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
