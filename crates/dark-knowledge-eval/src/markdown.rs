//! Markdown rendering of a [`Report`]: the comparison table and the full document.

use std::fmt::Write as _;

use crate::model::ModelMetrics;
use crate::report::Report;

/// Models listed first, in this order, in the markdown tables; others follow by name.
pub const PREFERRED_MODEL_ORDER: [&str; 6] = [
    "teacher",
    "baseline",
    "logistic",
    "trees",
    "distilled",
    "quantized",
];

impl Report {
    /// Full markdown report: title, data-set paragraph, the [comparison
    /// table](Self::comparison_table), one compact per-class table per model, and the
    /// notes as a bullet list.
    pub fn to_markdown(&self) -> String {
        let d = &self.dataset;
        let mut out = format!("# Distillation report: {}\n\n", d.name);
        let names = d
            .class_names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>();
        let _ = write!(
            out,
            "Dataset **{}**: {} classes ({}), {} train / {} validation / {} test rows, \
             {} features. Majority-class rate {:.2}% (accuracy of always predicting the \
             most frequent class).",
            d.name,
            d.num_classes,
            names.join(", "),
            d.train_rows,
            d.valid_rows,
            d.test_rows,
            d.num_features,
            d.majority_class_rate * 100.0
        );
        if let Some(pos) = &d.positive_class {
            let _ = write!(out, " Positive class: `{pos}`.");
        }
        out.push_str("\n\n## Comparison\n\n");
        out.push_str(&self.comparison_table());
        let derived: Vec<_> = self
            .ordered_models()
            .into_iter()
            .filter_map(|(name, m)| m.derived_from.as_ref().map(|d| (name, d)))
            .collect();
        if !derived.is_empty() {
            out.push_str("\n## Derived models\n\n");
            for (name, d) in derived {
                let _ = writeln!(
                    out,
                    "- {}: agrees with {} on {:.2}% of test rows; largest probability difference {:.4}.",
                    cell(name),
                    cell(&d.model),
                    d.agreement * 100.0,
                    d.max_abs_prob_diff
                );
            }
        }
        out.push_str("\n## Per-class metrics\n");
        for (name, m) in self.ordered_models() {
            let _ = write!(
                out,
                "\n### {}\n\n| Class | Precision | Recall | F1 | Support |\n|---|---:|---:|---:|---:|\n",
                cell(name)
            );
            for c in &m.per_class {
                let _ = writeln!(
                    out,
                    "| {} | {:.3} | {:.3} | {:.3} | {} |",
                    cell(&c.label),
                    c.precision,
                    c.recall,
                    c.f1,
                    c.support
                );
            }
        }
        out.push_str(&self.insights_markdown());
        if !self.notes.is_empty() {
            out.push_str("\n## Notes\n\n");
            for note in &self.notes {
                let _ = writeln!(out, "- {}", note.replace('\n', " "));
            }
        }
        out
    }

    /// The main markdown comparison table alone (header, alignment row, one row per
    /// model in [`PREFERRED_MODEL_ORDER`] then alphabetical order), for the terminal.
    /// The F1 / ROC-AUC / PR-AUC columns appear only when some model has them (binary
    /// targets); a model lacking them shows `–`.
    pub fn comparison_table(&self) -> String {
        let binary = self
            .models
            .values()
            .any(|m| m.f1.is_some() || m.roc_auc.is_some() || m.pr_auc.is_some());
        let mut header = vec!["Model", "Accuracy %", "Macro-F1"];
        if binary {
            header.extend(["F1", "ROC-AUC", "PR-AUC"]);
        }
        header.extend([
            "Log-loss",
            "ECE",
            "Brier",
            "Agreement %",
            "KL to teacher",
            "Parameters",
            "Size",
            "Latency µs",
            "Throughput/s",
        ]);
        let mut out = format!("| {} |\n|---|", header.join(" | "));
        out.push_str(&"---:|".repeat(header.len() - 1));
        out.push('\n');
        let opt = |v: Option<f64>| v.map_or_else(|| "–".to_string(), |x| format!("{x:.4}"));
        for (name, m) in self.ordered_models() {
            let mut row = vec![
                cell(name),
                format!("{:.2}", m.accuracy * 100.0),
                format!("{:.4}", m.macro_f1),
            ];
            if binary {
                row.extend([opt(m.f1), opt(m.roc_auc), opt(m.pr_auc)]);
            }
            row.extend([
                format!("{:.4}", m.log_loss),
                format!("{:.4}", m.ece),
                format!("{:.4}", m.brier),
                format!("{:.2}", m.agreement_with_teacher * 100.0),
                format!("{:.4}", m.kl_to_teacher),
                group_thousands(m.parameters as u64),
                human_bytes(m.bytes),
                format!("{:.1}", m.latency_us_batch1),
                human_count(m.throughput_per_s_batch1024),
            ]);
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        out
    }

    /// Models in display order: [`PREFERRED_MODEL_ORDER`], then the rest by name.
    fn ordered_models(&self) -> Vec<(&str, &ModelMetrics)> {
        let preferred = PREFERRED_MODEL_ORDER
            .iter()
            .filter_map(|name| self.models.get_key_value(*name));
        let others = self
            .models
            .iter()
            .filter(|(name, _)| !PREFERRED_MODEL_ORDER.contains(&name.as_str()));
        preferred
            .chain(others)
            .map(|(k, v)| (k.as_str(), v))
            .collect()
    }
}

/// Escapes text for a markdown table cell (`|` and line breaks would break the row).
pub(crate) fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// `1234567` → `"1,234,567"`.
fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A non-negative rate rounded to an integer with thousands separators; other values
/// (negative, non-finite, huge) are printed as they are.
fn human_count(x: f64) -> String {
    if x.is_finite() && (0.0..1e18).contains(&x) {
        group_thousands(x.round() as u64)
    } else {
        format!("{x}")
    }
}

/// Byte count in binary units: `512 B`, `1.5 KiB`, `2.25 MiB`, `1.00 GiB`.
fn human_bytes(bytes: usize) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if bytes < 1024 {
        format!("{bytes} B")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else if b < KIB * KIB * KIB {
        format!("{:.2} MiB", b / (KIB * KIB))
    } else {
        format!("{:.2} GiB", b / (KIB * KIB * KIB))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample_report;

    const BINARY_HEADER: &str = "| Model | Accuracy % | Macro-F1 | F1 | ROC-AUC | PR-AUC | Log-loss | ECE | \
        Brier | Agreement % | KL to teacher | Parameters | Size | Latency µs | Throughput/s |";
    const MULTI_HEADER: &str = "| Model | Accuracy % | Macro-F1 | Log-loss | ECE | Brier | \
        Agreement % | KL to teacher | Parameters | Size | Latency µs | Throughput/s |";

    fn row_starting<'a>(table: &'a str, model: &str) -> &'a str {
        let prefix = format!("| {model} |");
        table
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no row {model}"))
    }

    #[test]
    fn table_orders_models_teacher_baseline_distilled_then_alphabetical() {
        let r = sample_report(true, &["zeta", "distilled", "alpha", "teacher", "baseline"]);
        let table = r.comparison_table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], BINARY_HEADER);
        assert_eq!(lines[1], format!("|---|{}", "---:|".repeat(14)));
        let order: Vec<&str> = lines[2..]
            .iter()
            .map(|l| l.split(" | ").next().unwrap())
            .collect();
        assert_eq!(
            order,
            [
                "| teacher",
                "| baseline",
                "| distilled",
                "| alpha",
                "| zeta"
            ]
        );
        // Every line (header, alignment, rows) has 15 cells = 16 pipes.
        for l in &lines {
            assert_eq!(l.matches('|').count(), 16, "{l}");
        }
    }

    #[test]
    fn binary_row_formats_every_column() {
        // Fixture teacher (see report tests): accuracy 3/4, macro-F1 (0.8 + 2/3)/2 =
        // 0.7333, F1 2/3, ROC 0.75, AP 5/6, log-loss 0.4914, ECE 0.35, Brier 0.16645,
        // (0.16645 from the f32 inputs is a hair above, so it prints 0.1665),
        // agreement 100 %, KL 0; it is the 4th model → 4000 parameters, 16000 bytes
        // = 15.625 KiB.
        let r = sample_report(true, &["a", "b", "c", "teacher"]);
        assert_eq!(
            row_starting(&r.comparison_table(), "teacher"),
            "| teacher | 75.00 | 0.7333 | 0.6667 | 0.7500 | 0.8333 | 0.4914 | 0.3500 | \
             0.1665 | 100.00 | 0.0000 | 4,000 | 15.6 KiB | 12.5 | 1,234,567 |"
        );
    }

    #[test]
    fn multiclass_table_has_no_binary_columns() {
        let r = sample_report(false, &["teacher", "distilled"]);
        let table = r.comparison_table();
        assert_eq!(table.lines().next().unwrap(), MULTI_HEADER);
        assert!(!table.contains("ROC-AUC") && !table.contains("PR-AUC"));
        assert_eq!(table.lines().count(), 4);
        for l in table.lines() {
            assert_eq!(l.matches('|').count(), 13, "{l}");
        }
    }

    #[test]
    fn markdown_contains_every_section() {
        let r = sample_report(true, &["teacher", "baseline", "distilled"]);
        let md = r.to_markdown();
        assert!(md.starts_with("# Distillation report: toy\n"));
        assert!(md.contains("Dataset **toy**: 2 classes (`no`, `yes`), 80 train / 10 validation / 4 test rows, 5 features."));
        assert!(md.contains("Majority-class rate 50.00%"));
        assert!(md.contains("Positive class: `yes`."));
        assert!(md.contains(&r.comparison_table()));
        for model in ["teacher", "baseline", "distilled"] {
            row_starting(&md, model);
            assert!(md.contains(&format!(
                "\n### {model}\n\n| Class | Precision | Recall | F1 | Support |"
            )));
        }
        // "yes" for the teacher: P 1, R 1/2, F1 2/3, support 2.
        assert!(md.contains("| yes | 1.000 | 0.500 | 0.667 | 2 |"));
        assert!(md.ends_with("## Notes\n\n- first note\n- second note\n"));
        // No notes → no notes section.
        let mut quiet = r.clone();
        quiet.notes.clear();
        assert!(!quiet.to_markdown().contains("## Notes"));
    }

    #[test]
    fn markdown_escapes_pipes_in_names() {
        let md = sample_report(false, &["my|model"]).to_markdown();
        assert!(md.contains("\n| my\\|model | "));
        assert!(md.contains("| b\\|c | "));
        assert!(!md.contains("Positive class"));
    }

    #[test]
    fn number_helpers() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1000), "1,000");
        assert_eq!(group_thousands(1_234_567), "1,234,567");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 + 256 * 1024), "3.25 MiB");
        assert_eq!(human_bytes(1 << 30), "1.00 GiB");
        assert_eq!(human_count(999.6), "1,000");
        assert_eq!(human_count(f64::NAN), "NaN");
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }
}
