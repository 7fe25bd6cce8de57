//! The model card's decision sections: the student's calibration before and after
//! temperature scaling, its gains by decile with the chosen threshold, and its slices.

use std::fmt::Write as _;

use dark_knowledge_eval::Report;

/// `## Calibration`, `## Campaign ranking` and `## Slices` of the model `role`, each only
/// when the report has it.
pub(super) fn decision_sections(s: &mut String, report: &Report, role: &str) {
    calibration(s, report, role);
    campaign(s, report, role);
    slices(s, report, role);
}

fn calibration(s: &mut String, report: &Report, role: &str) {
    let Some(c) = report.calibration.get(role) else {
        return;
    };
    let (b, a) = (&c.test.before, &c.test.after);
    let _ = writeln!(
        s,
        "## Calibration (temperature scaling)\n\nTemperature T = {:.4}, fitted on the {} \
         validation rows and stored in `{role}/calibration.json`; `predict` applies it. Test \
         split, before → after:\n\n| metric | before | after |\n|---|---:|---:|\n\
         | ECE | {:.4} | {:.4} |\n| log-loss | {:.4} | {:.4} |\n| Brier | {:.4} | {:.4} |\n",
        c.test.temperature,
        c.validation_rows,
        b.ece,
        a.ece,
        b.log_loss,
        a.log_loss,
        b.brier,
        a.brier
    );
}

fn campaign(s: &mut String, report: &Report, role: &str) {
    let Some(c) = report.campaign.get(role) else {
        return;
    };
    let _ = writeln!(
        s,
        "## Campaign ranking (test split)\n\nContacting the top-scored share of rows:\n\n\
         | contacted | positives captured (gain) | lift | precision |\n|---:|---:|---:|---:|"
    );
    for r in &c.gains {
        let _ = writeln!(
            s,
            "| {:.0} % | {:.1} % | {:.2} | {:.1} % |",
            100.0 * r.fraction,
            100.0 * r.gain,
            r.lift,
            100.0 * r.precision
        );
    }
    match (&c.threshold, &c.threshold_error) {
        (Some(t), _) => {
            let _ = writeln!(
                s,
                "\nThreshold for `{}`, chosen on the validation split: score ≥ {:.4} (stored in \
                 `{role}/calibration.json`). On the test split it flags {:.1} % of the rows \
                 ({}) with precision {:.1} % and recall {:.1} %.\n",
                t.goal,
                t.threshold,
                100.0 * t.test.flagged,
                t.test.flagged_rows,
                100.0 * t.test.precision,
                100.0 * t.test.recall
            );
        }
        (None, error) => {
            let _ = writeln!(
                s,
                "\nNo threshold: {}.\n",
                error.as_deref().unwrap_or("not chosen")
            );
        }
    }
}

fn slices(s: &mut String, report: &Report, role: &str) {
    if report.slices.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "## Slices (test split)\n\n| column | slice | rows | accuracy | ROC-AUC | gap to overall \
         ROC-AUC |\n|---|---|---:|---:|---:|---:|"
    );
    let opt = |v: Option<f64>, signed: bool| match v {
        Some(v) if signed => format!("{v:+.4}"),
        Some(v) => format!("{v:.4}"),
        None => "–".to_string(),
    };
    for table in &report.slices {
        for row in &table.rows {
            let Some(m) = row.models.iter().find(|m| m.model == role) else {
                continue;
            };
            let _ = writeln!(
                s,
                "| `{}` | {} | {} | {:.4} | {} | {} |",
                table.column,
                row.level.replace('|', "\\|"),
                row.rows,
                m.metrics.accuracy,
                opt(m.metrics.roc_auc, false),
                opt(m.gap.roc_auc, true)
            );
        }
    }
    let flagged: Vec<String> = report
        .slice_flags
        .iter()
        .filter(|f| f.student == role)
        .flat_map(|f| {
            f.flags.iter().map(move |flag| {
                format!(
                    "- `{}` = {}: {} {:.4} vs {:.4} for {}",
                    f.column,
                    flag.level,
                    flag.metric,
                    flag.student_value,
                    flag.reference_value,
                    flag.reference
                )
            })
        })
        .collect();
    if flagged.is_empty() {
        let _ = writeln!(s);
    } else {
        let _ = writeln!(
            s,
            "\nSlices where it trails a reference model:\n\n{}\n",
            flagged.join("\n")
        );
    }
}
