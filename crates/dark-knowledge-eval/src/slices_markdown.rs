//! Text of the slice tables: the quantile-bin labels of [`numeric_bins`] and the Markdown
//! rendering of a [`SliceTable`].

use crate::slices::{MISSING_LEVEL, SliceTable};

/// Formats a bin edge with 6 significant digits, shortest form (`0.5`, `1.25`, `12000`).
pub(crate) fn format_edge(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{}", if x == 0.0 { 0.0 } else { x });
    }
    let magnitude = x.abs().log10().floor() as i32;
    if magnitude >= 5 {
        return format!("{:.0}", x.round());
    }
    let factor = 10f64.powi(5 - magnitude);
    format!("{}", (x * factor).round() / factor)
}

/// Quantile-bin label of every value: `bins` bins cut at the `k / bins` quantiles of the
/// finite values (deduplicated, so fewer bins on repeated values), labelled
/// `[lo, hi)` from the smallest value to the last cut, the last bin `[lo, max]`; `None`,
/// NaN and infinite values are [`MISSING_LEVEL`]. Deterministic: equal inputs give equal
/// labels. `bins == 0` is treated as 1.
pub fn numeric_bins(values: &[Option<f64>], bins: usize) -> Vec<String> {
    let finite = |v: &Option<f64>| v.filter(|x| x.is_finite());
    let mut sorted: Vec<f64> = values.iter().filter_map(finite).collect();
    sorted.sort_by(f64::total_cmp);
    let (Some(&min), Some(&max)) = (sorted.first(), sorted.last()) else {
        return vec![MISSING_LEVEL.to_string(); values.len()];
    };
    let mut edges: Vec<f64> = Vec::new();
    for k in 1..bins.max(1) {
        let q = crate::drift_stats::quantile_sorted(&sorted, k as f64 / bins as f64);
        if edges.last().is_none_or(|&last| q > last) {
            edges.push(q);
        }
    }
    let labels: Vec<String> = (0..=edges.len())
        .map(|i| {
            let lo = if i == 0 { min } else { edges[i - 1] };
            match edges.get(i) {
                Some(&hi) => format!("[{}, {})", format_edge(lo), format_edge(hi)),
                None => format!("[{}, {}]", format_edge(lo), format_edge(max)),
            }
        })
        .collect();
    values
        .iter()
        .map(|v| match finite(v) {
            Some(x) => labels[edges.partition_point(|&e| e <= x)].clone(),
            None => MISSING_LEVEL.to_string(),
        })
        .collect()
}

impl SliceTable {
    /// A Markdown section: one table row per slice and model (overall first), each cell
    /// `value (gap to overall)`, then the pooled levels.
    pub fn to_markdown(&self) -> String {
        let esc = |s: &str| s.replace('|', "\\|");
        let cell = |v: Option<f64>, g: Option<f64>, show_gap: bool| match (v, g) {
            (Some(v), Some(g)) if show_gap => format!("{v:.4} ({g:+.4})"),
            (Some(v), _) => format!("{v:.4}"),
            (None, _) => "–".to_string(),
        };
        let mut out = format!(
            "### Slices by `{}`\n\n| slice | rows | positives | model | accuracy | ROC-AUC \
             | F1 (class {}) | ECE | agreement |\n|---|---:|---:|---|---:|---:|---:|---:|---:|\n",
            esc(&self.column),
            self.positive
        );
        for (i, row) in std::iter::once(&self.overall).chain(&self.rows).enumerate() {
            for m in &row.models {
                let (v, g) = (&m.metrics, &m.gap);
                out.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                    esc(&row.level),
                    row.rows,
                    row.positives,
                    esc(&m.model),
                    cell(Some(v.accuracy), Some(g.accuracy), i > 0),
                    cell(v.roc_auc, g.roc_auc, i > 0),
                    cell(Some(v.f1), Some(g.f1), i > 0),
                    cell(Some(v.ece), Some(g.ece), i > 0),
                    cell(v.agreement, g.agreement, i > 0),
                ));
            }
        }
        if !self.pooled.is_empty() {
            let names: Vec<String> = self
                .pooled
                .iter()
                .map(|l| format!("`{}`", esc(l)))
                .collect();
            out.push_str(&format!(
                "\nPooled into one slice (fewer than {} rows each): {}.\n",
                self.min_rows,
                names.join(", ")
            ));
        }
        out
    }
}
