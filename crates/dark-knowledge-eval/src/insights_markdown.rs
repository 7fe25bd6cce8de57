//! Markdown of the report's decision sections: calibration, campaign ranking and slices.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::markdown::{PREFERRED_MODEL_ORDER, cell};
use crate::report::Report;

/// Entries of a map keyed by model name in display order: [`PREFERRED_MODEL_ORDER`], then
/// the rest by name.
pub(crate) fn in_model_order<V>(map: &BTreeMap<String, V>) -> Vec<(&str, &V)> {
    let preferred = PREFERRED_MODEL_ORDER
        .iter()
        .filter_map(|name| map.get_key_value(*name));
    let others = map
        .iter()
        .filter(|(name, _)| !PREFERRED_MODEL_ORDER.contains(&name.as_str()));
    preferred
        .chain(others)
        .map(|(k, v)| (k.as_str(), v))
        .collect()
}

/// `x` as a percentage with one decimal.
fn pct(x: f64) -> String {
    format!("{:.1} %", 100.0 * x)
}

impl Report {
    /// The calibration, campaign and slice sections (empty when the report has none).
    pub(crate) fn insights_markdown(&self) -> String {
        let mut out = String::new();
        self.calibration_markdown(&mut out);
        self.campaign_markdown(&mut out);
        self.slices_markdown(&mut out);
        out
    }

    /// A markdown link to the plot called `name`, or `–`.
    fn plot_link(&self, name: &str, text: &str) -> String {
        self.plots
            .get(name)
            .map_or_else(|| "–".to_string(), |path| format!("[{text}]({path})"))
    }

    /// `## Calibration`: temperature and figures before / after per model.
    fn calibration_markdown(&self, out: &mut String) {
        if self.calibration.is_empty() {
            return;
        }
        out.push_str(
            "\n## Calibration (temperature scaling)\n\nOne temperature per model, fitted on \
             the validation split (lowest log-loss) and stored in `<model>/calibration.json`; \
             figures on the test split, before → after.\n\n| Model | Temperature | ECE | \
             Log-loss | Brier | Reliability |\n|---|---:|---:|---:|---:|---|\n",
        );
        for (name, c) in in_model_order(&self.calibration) {
            let (b, a) = (&c.test.before, &c.test.after);
            let _ = writeln!(
                out,
                "| {} | {:.4} | {:.4} → {:.4} | {:.4} → {:.4} | {:.4} → {:.4} | {} / {} |",
                cell(name),
                c.test.temperature,
                b.ece,
                a.ece,
                b.log_loss,
                a.log_loss,
                b.brier,
                a.brier,
                self.plot_link(&format!("reliability-{name}-before"), "before"),
                self.plot_link(&format!("reliability-{name}"), "after"),
            );
        }
    }

    /// `## Campaign ranking`: gains by decile, top shares and the chosen thresholds.
    fn campaign_markdown(&self, out: &mut String) {
        if self.campaign.is_empty() {
            return;
        }
        let models = in_model_order(&self.campaign);
        out.push_str("\n## Campaign ranking (test split)\n\n");
        if let Some(path) = self.plots.get("gains") {
            let _ = writeln!(
                out,
                "![Cumulative gains]({path})\n\n[Gains chart]({path})\n"
            );
        }
        out.push_str(
            "Rows ranked by the calibrated positive-class score; each cell is the share of \
             positives captured (gain) and the lift over random.\n\n| Contacted |",
        );
        for (name, _) in &models {
            let _ = write!(out, " {} gain (lift) |", cell(name));
        }
        let _ = writeln!(out, "\n|---:|{}", "---:|".repeat(models.len()));
        let deciles = models.iter().map(|(_, c)| c.gains.len()).max().unwrap_or(0);
        for d in 0..deciles {
            let _ = write!(out, "| top {} % |", (d + 1) * 100 / deciles);
            for (_, c) in &models {
                match c.gains.get(d) {
                    Some(r) => {
                        let _ = write!(out, " {} ({:.2}) |", pct(r.gain), r.lift);
                    }
                    None => out.push_str(" – |"),
                }
            }
            out.push('\n');
        }
        top_shares_markdown(out, &models);
        thresholds_markdown(out, &models);
    }

    /// `## Slices`: each column's table and its flags.
    fn slices_markdown(&self, out: &mut String) {
        if self.slices.is_empty() {
            return;
        }
        out.push_str(
            "\n## Slices (test split)\n\nEach cell: the figure on the slice (its gap to the \
             model's overall figure).\n\n",
        );
        for table in &self.slices {
            out.push_str(&table.to_markdown());
            let Some(f) = self.slice_flags.iter().find(|f| f.column == table.column) else {
                continue;
            };
            let _ = write!(
                out,
                "\nSlices where `{}` trails {} by more than {}:",
                cell(&f.student),
                f.references
                    .iter()
                    .map(|r| format!("`{}`", cell(r)))
                    .collect::<Vec<_>>()
                    .join(" or "),
                f.margin
            );
            if f.flags.is_empty() {
                out.push_str(" none.\n\n");
                continue;
            }
            out.push('\n');
            for flag in &f.flags {
                let _ = writeln!(
                    out,
                    "- `{}`: {} {:.4} vs {:.4} for `{}` (shortfall {:.4})",
                    cell(&flag.level),
                    flag.metric,
                    flag.student_value,
                    flag.reference_value,
                    cell(&flag.reference),
                    flag.shortfall
                );
            }
            out.push('\n');
        }
    }
}

/// Precision and recall at the top shares, one row per model.
fn top_shares_markdown(out: &mut String, models: &[(&str, &crate::Campaign)]) {
    let Some((_, first)) = models.first() else {
        return;
    };
    out.push_str("\n| Model |");
    for share in crate::TOP_SHARES.iter().take(first.top.len()) {
        let _ = write!(out, " top {:.0} % precision | recall |", 100.0 * share);
    }
    let _ = writeln!(out, "\n|---|{}", "---:|---:|".repeat(first.top.len()));
    for (name, c) in models {
        let _ = write!(out, "| {} |", cell(name));
        for r in &c.top {
            let _ = write!(out, " {} | {} |", pct(r.precision), pct(r.gain));
        }
        out.push('\n');
    }
}

/// The thresholds chosen on the validation split and their test figures.
fn thresholds_markdown(out: &mut String, models: &[(&str, &crate::Campaign)]) {
    out.push_str(
        "\nThreshold chosen on the validation split (stored in `<model>/calibration.json`), \
         applied to the test split:\n\n| Model | Goal | Threshold | Precision (valid) | Recall \
         (valid) | Precision (test) | Recall (test) | F1 (test) | Flagged (test) |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut errors = Vec::new();
    for (name, c) in models {
        match (&c.threshold, &c.threshold_error) {
            (Some(t), _) => {
                let _ = writeln!(
                    out,
                    "| {} | `{}` | {:.4} | {} | {} | {} | {} | {:.4} | {} ({} rows) |",
                    cell(name),
                    cell(&t.goal),
                    t.threshold,
                    pct(t.validation.precision),
                    pct(t.validation.recall),
                    pct(t.test.precision),
                    pct(t.test.recall),
                    t.test.f1,
                    pct(t.test.flagged),
                    t.test.flagged_rows
                );
            }
            (None, error) => errors.push(format!(
                "- {}: no threshold: {}",
                cell(name),
                error.as_deref().unwrap_or("not chosen")
            )),
        }
    }
    if !errors.is_empty() {
        out.push('\n');
        out.push_str(&errors.join("\n"));
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use crate::report::tests::sample_report;
    use crate::{ThresholdGoal, campaign, model_calibration};

    #[test]
    fn sections_render_with_links_and_round_trip_through_json() {
        let mut report = sample_report(true, &["teacher", "distilled"]);
        assert!(report.insights_markdown().is_empty());
        let logits = [2.0, -1.0, -0.5, 0.5, 0.3, 0.1, -2.0, 1.0];
        let labels = [0, 1, 0, 1];
        let c = model_calibration((&logits, &labels), (&logits, &labels), 2).unwrap();
        let scores = [0.1, 0.7, 0.4, 0.9];
        let positives = [false, true, false, true];
        let k = campaign(
            (&scores, &positives),
            (&scores, &positives),
            ThresholdGoal::MaxF1,
        )
        .unwrap();
        for name in ["teacher", "distilled"] {
            report.calibration.insert(name.into(), c);
            report.campaign.insert(name.into(), k.clone());
            report.plots.insert(
                format!("reliability-{name}"),
                format!("plots/reliability-{name}.svg"),
            );
        }
        report
            .plots
            .insert("gains".into(), "plots/gains.svg".into());
        let md = report.to_markdown();
        for needle in [
            "## Calibration (temperature scaling)",
            "[after](plots/reliability-distilled.svg)",
            "![Cumulative gains](plots/gains.svg)",
            "| top 10 % |",
            "top 20 % precision",
            "| distilled | `max-f1` | 0.7000 |",
        ] {
            assert!(md.contains(needle), "no {needle:?} in:\n{md}");
        }
        // Teacher first, as in the comparison table.
        assert!(md.find("| teacher | `max-f1`") < md.find("| distilled | `max-f1`"));
        let back: crate::Report = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(back, report);
    }
}
