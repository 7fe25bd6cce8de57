//! Distribution drift between a training reference and new data: population stability
//! index (PSI), a Kolmogorov–Smirnov distance for numeric columns and a χ² test for
//! categorical ones.
//!
//! A [`ColumnProfile`] summarises one reference column (quantile bins and quantiles for a
//! numeric column, level shares for a categorical one) and is small enough to store next
//! to a trained model as JSON. [`column_drift`] compares a current sample against it, and
//! [`DriftReport`] ranks the columns, most drifted first. Missing values are always their
//! own bin, so a rise in missing values is drift too.

use serde::{Deserialize, Serialize};

pub use crate::drift_stats::chi_square_p_value;
#[cfg(test)]
use crate::drift_stats::gamma_q;
use crate::drift_stats::{interpolated_cdf, ks_distance, quantile_sorted};
use crate::error::{MetricsError, Result, check_same_len};

/// Shares (of the reference and of the current sample) are floored at this value inside
/// the PSI, so a bin empty on one side contributes a large but finite term; the χ² uses
/// the same floor for expected shares. Bins empty on both sides contribute 0.
pub const PSI_EPS: f64 = 1e-4;
/// PSI at or above this value: the column has moved, watch it ([`DriftLevel::Watch`]).
pub const PSI_WATCH: f64 = 0.1;
/// PSI at or above this value: the column has shifted, act on it ([`DriftLevel::Act`]).
pub const PSI_ACT: f64 = 0.25;
/// Number of reference quantiles stored for the KS distance: 0%, 1%, …, 100%.
pub const KS_QUANTILES: usize = 101;
/// Most frequent levels kept by a categorical profile; the rest share one "other" bin.
pub const MAX_LEVELS: usize = 50;

/// Summary of one reference column, enough to measure drift against it later.
///
/// All shares are fractions of **all** reference rows, missing ones included, so for a
/// numeric profile `Σ shares + missing_share = 1` and for a categorical one
/// `Σ levels + other_share + missing_share = 1`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ColumnProfile {
    /// A numeric column binned at reference quantiles.
    Numeric {
        /// Interior cut points (the `k / bins` quantiles, `k = 1..bins`), deduplicated and
        /// increasing. Bin `i` holds `edges[i−1] <= x < edges[i]`, the first bin everything
        /// below `edges[0]` and the last everything from the last edge up.
        edges: Vec<f64>,
        /// Reference share of each bin; `edges.len() + 1` entries.
        shares: Vec<f64>,
        /// The [`KS_QUANTILES`] reference quantiles 0%..100% of the present values (linear
        /// interpolation between order statistics); empty when every value is missing.
        quantiles: Vec<f64>,
        /// Share of missing values.
        missing_share: f64,
    },
    /// A categorical column.
    Categorical {
        /// Share of each kept level, most frequent first (ties by name), at most
        /// [`MAX_LEVELS`] levels.
        levels: Vec<(String, f64)>,
        /// Share of all levels beyond the kept ones.
        other_share: f64,
        /// Share of missing values.
        missing_share: f64,
    },
}

/// The current sample of a column, matching the kind of its [`ColumnProfile`].
#[derive(Debug, Clone, Copy)]
pub enum CurrentColumn<'a> {
    /// Values of a numeric column; `None` is missing.
    Numeric(&'a [Option<f64>]),
    /// Values of a categorical column; `None` is missing.
    Categorical(&'a [Option<&'a str>]),
}

/// How much a column has drifted, from its PSI.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum DriftLevel {
    /// PSI below [`PSI_WATCH`].
    Stable,
    /// PSI in `[PSI_WATCH, PSI_ACT)`.
    Watch,
    /// PSI at or above [`PSI_ACT`] (or not a number).
    Act,
}

impl DriftLevel {
    /// The level of a PSI value; NaN counts as [`DriftLevel::Act`].
    pub fn from_psi(psi: f64) -> Self {
        if psi < PSI_WATCH {
            Self::Stable
        } else if psi < PSI_ACT {
            Self::Watch
        } else {
            Self::Act
        }
    }

    /// Lower-case name: `stable`, `watch` or `act`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stable => "stable",
            Self::Watch => "watch",
            Self::Act => "act",
        }
    }
}

/// Drift statistics of one column.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ColumnDrift {
    /// Column name.
    pub column: String,
    /// `numeric`, `categorical` or `score` (a model's output, compared as numeric).
    pub kind: String,
    /// Population stability index over all bins, missing bin included.
    pub psi: f64,
    /// KS distance of the present values (numeric and score columns with present values).
    pub ks: Option<f64>,
    /// χ² statistic `n · Σ (a − e)² / e` (categorical columns).
    pub chi_square: Option<f64>,
    /// Upper-tail p-value of `chi_square` (categorical columns).
    pub p_value: Option<f64>,
    /// Number of current rows, missing ones included.
    pub rows: usize,
    /// Level from the PSI thresholds.
    pub level: DriftLevel,
}

/// Drift of several columns, most drifted first.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct DriftReport {
    /// Columns by decreasing PSI, ties by name.
    pub columns: Vec<ColumnDrift>,
}

/// Rejects NaN and infinite values (`None` is missing, not an error).
fn check_finite(what: &'static str, values: &[Option<f64>]) -> Result<()> {
    match values
        .iter()
        .position(|v| v.is_some_and(|x| !x.is_finite()))
    {
        Some(index) => Err(MetricsError::NonFinite {
            what,
            index,
            value: values[index].unwrap_or(f64::NAN) as f32,
        }),
        None => Ok(()),
    }
}

/// Index of the bin holding `x`: the number of edges `<= x`.
fn bin_of(edges: &[f64], x: f64) -> usize {
    edges.partition_point(|&e| e <= x)
}

/// Counts of each bin as fractions of `total`.
fn shares_of(counts: &[usize], total: usize) -> Vec<f64> {
    counts.iter().map(|&c| c as f64 / total as f64).collect()
}

impl ColumnProfile {
    /// Profiles a numeric reference column with `bins` quantile bins (fewer when quantiles
    /// coincide, e.g. on heavily repeated values) plus the missing bin.
    ///
    /// Errors when `values` is empty, `bins == 0`, or a value is NaN or infinite.
    pub fn numeric(values: &[Option<f64>], bins: usize) -> Result<Self> {
        if values.is_empty() {
            return Err(MetricsError::Empty { what: "values" });
        }
        if bins == 0 {
            return Err(MetricsError::InvalidArgument {
                what: "bins",
                reason: "at least one bin is required".into(),
            });
        }
        check_finite("values", values)?;
        let mut present: Vec<f64> = values.iter().flatten().copied().collect();
        present.sort_by(f64::total_cmp);
        let mut edges: Vec<f64> = Vec::new();
        if !present.is_empty() {
            for k in 1..bins {
                let q = quantile_sorted(&present, k as f64 / bins as f64);
                if edges.last().is_none_or(|&last| q > last) {
                    edges.push(q);
                }
            }
        }
        let mut counts = vec![0usize; edges.len() + 1];
        for &x in &present {
            counts[bin_of(&edges, x)] += 1;
        }
        let quantiles = if present.is_empty() {
            Vec::new()
        } else {
            let last = (KS_QUANTILES - 1) as f64;
            (0..KS_QUANTILES)
                .map(|k| quantile_sorted(&present, k as f64 / last))
                .collect()
        };
        Ok(Self::Numeric {
            edges,
            shares: shares_of(&counts, values.len()),
            quantiles,
            missing_share: (values.len() - present.len()) as f64 / values.len() as f64,
        })
    }

    /// Profiles a categorical reference column: the [`MAX_LEVELS`] most frequent levels
    /// (ties by name) with their shares, the rest pooled as `other_share`. Errors when
    /// `values` is empty.
    pub fn categorical(values: &[Option<&str>]) -> Result<Self> {
        if values.is_empty() {
            return Err(MetricsError::Empty { what: "values" });
        }
        let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
        for &v in values.iter().flatten() {
            *counts.entry(v).or_default() += 1;
        }
        let present: usize = counts.values().sum();
        let mut sorted: Vec<(&str, usize)> = counts.into_iter().collect();
        // BTreeMap order is by name, and the sort is stable: ties stay by name.
        sorted.sort_by_key(|&(_, count)| std::cmp::Reverse(count));
        let n = values.len() as f64;
        let kept: Vec<(String, f64)> = sorted
            .iter()
            .take(MAX_LEVELS)
            .map(|&(level, count)| (level.to_string(), count as f64 / n))
            .collect();
        let other: usize = sorted.iter().skip(MAX_LEVELS).map(|&(_, c)| c).sum();
        Ok(Self::Categorical {
            levels: kept,
            other_share: other as f64 / n,
            missing_share: (values.len() - present) as f64 / n,
        })
    }

    /// Profiles a model's scores (e.g. positive-class probabilities) as a numeric column,
    /// for [`score_drift`]. Errors as [`ColumnProfile::numeric`].
    pub fn scores(scores: &[f32], bins: usize) -> Result<Self> {
        let values: Vec<Option<f64>> = scores.iter().map(|&s| Some(f64::from(s))).collect();
        Self::numeric(&values, bins)
    }

    /// `numeric` or `categorical`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Numeric { .. } => "numeric",
            Self::Categorical { .. } => "categorical",
        }
    }
}

/// Population stability index `Σ (a − e) · ln(a / e)` over paired bins, with both shares
/// floored at [`PSI_EPS`]; bins empty on both sides contribute 0.
pub fn psi(expected: &[f64], actual: &[f64]) -> Result<f64> {
    check_same_len("actual", actual.len(), "expected", expected.len())?;
    Ok(expected
        .iter()
        .zip(actual)
        .map(|(&e, &a)| {
            let (e, a) = (e.max(PSI_EPS), a.max(PSI_EPS));
            (a - e) * (a / e).ln()
        })
        .sum())
}

/// Drift of a current sample against its reference profile.
///
/// * **PSI** over the profile's bins plus the missing bin (numeric), or over the kept
///   levels, `other` (levels unseen or beyond the kept ones) and missing (categorical).
/// * **KS** (numeric): `max_x |F_ref(x) − F_cur(x)|` over the present values, where `F_cur`
///   is the exact empirical CDF and `F_ref` interpolates linearly between the stored
///   reference quantiles (0 below the minimum, 1 above the maximum). The approximation
///   error is at most the quantile spacing, 1 / ([`KS_QUANTILES`] − 1) = 0.01, plus the
///   within-percentile deviation from linearity. `None` when either side has no present
///   values.
/// * **χ²** (categorical): `n · Σ (a − e)² / e` over the bins with `a > 0` or `e > 0`,
///   `e` floored at [`PSI_EPS`], `n` the current row count; p-value from the χ²
///   distribution with (bins − 1) degrees of freedom (1 when there is one bin).
///
/// Errors when `current` is empty, has a non-finite value, or its kind differs from the
/// profile's.
pub fn column_drift(
    name: &str,
    profile: &ColumnProfile,
    current: CurrentColumn<'_>,
) -> Result<ColumnDrift> {
    let rows = match current {
        CurrentColumn::Numeric(v) => v.len(),
        CurrentColumn::Categorical(v) => v.len(),
    };
    if rows == 0 {
        return Err(MetricsError::Empty { what: "current" });
    }
    let (psi, ks, chi_square, p_value) = match (profile, current) {
        (ColumnProfile::Numeric { .. }, CurrentColumn::Numeric(values)) => {
            let (psi, ks) = numeric_stats(profile, values)?;
            (psi, ks, None, None)
        }
        (ColumnProfile::Categorical { .. }, CurrentColumn::Categorical(values)) => {
            let (psi, chi, p) = categorical_stats(profile, values)?;
            (psi, None, Some(chi), Some(p))
        }
        _ => {
            return Err(MetricsError::InvalidArgument {
                what: "current",
                reason: format!(
                    "column {name} is profiled as {} but the current values are not",
                    profile.kind()
                ),
            });
        }
    };
    Ok(ColumnDrift {
        column: name.to_string(),
        kind: profile.kind().to_string(),
        psi,
        ks,
        chi_square,
        p_value,
        rows,
        level: DriftLevel::from_psi(psi),
    })
}

/// Drift of a model's current scores against a profile from [`ColumnProfile::scores`];
/// as [`column_drift`] with kind `score`.
pub fn score_drift(name: &str, profile: &ColumnProfile, scores: &[f32]) -> Result<ColumnDrift> {
    let values: Vec<Option<f64>> = scores.iter().map(|&s| Some(f64::from(s))).collect();
    let mut drift = column_drift(name, profile, CurrentColumn::Numeric(&values))?;
    drift.kind = "score".to_string();
    Ok(drift)
}

/// PSI and KS of numeric values against a numeric profile.
fn numeric_stats(profile: &ColumnProfile, values: &[Option<f64>]) -> Result<(f64, Option<f64>)> {
    let ColumnProfile::Numeric {
        edges,
        shares,
        quantiles,
        missing_share,
    } = profile
    else {
        return Ok((0.0, None));
    };
    check_finite("current", values)?;
    if shares.len() != edges.len() + 1 {
        return Err(MetricsError::InvalidArgument {
            what: "profile",
            reason: format!("{} shares for {} edges", shares.len(), edges.len()),
        });
    }
    let mut counts = vec![0usize; shares.len() + 1];
    let mut present: Vec<f64> = values.iter().flatten().copied().collect();
    for &x in &present {
        counts[bin_of(edges, x)] += 1;
    }
    counts[shares.len()] = values.len() - present.len();
    let mut expected = shares.clone();
    expected.push(*missing_share);
    let psi = psi(&expected, &shares_of(&counts, values.len()))?;
    present.sort_by(f64::total_cmp);
    let ks = if quantiles.is_empty() || present.is_empty() {
        None
    } else {
        Some(ks_distance(&present, |x, left| {
            interpolated_cdf(quantiles, x, left)
        }))
    };
    Ok((psi, ks))
}

/// PSI, χ² and its p-value of categorical values against a categorical profile.
fn categorical_stats(profile: &ColumnProfile, values: &[Option<&str>]) -> Result<(f64, f64, f64)> {
    let ColumnProfile::Categorical {
        levels,
        other_share,
        missing_share,
    } = profile
    else {
        return Ok((0.0, 0.0, 1.0));
    };
    let index: std::collections::HashMap<&str, usize> = levels
        .iter()
        .enumerate()
        .map(|(i, (level, _))| (level.as_str(), i))
        .collect();
    // Bins: the kept levels, then other, then missing.
    let (other, missing) = (levels.len(), levels.len() + 1);
    let mut counts = vec![0usize; levels.len() + 2];
    for v in values {
        let bin = match v {
            None => missing,
            Some(level) => index.get(level).copied().unwrap_or(other),
        };
        counts[bin] += 1;
    }
    let mut expected: Vec<f64> = levels.iter().map(|(_, share)| *share).collect();
    expected.extend([*other_share, *missing_share]);
    let actual = shares_of(&counts, values.len());
    let psi = psi(&expected, &actual)?;
    let used: Vec<(f64, f64)> = expected
        .iter()
        .zip(&actual)
        .filter(|(e, a)| **e > 0.0 || **a > 0.0)
        .map(|(&e, &a)| (e.max(PSI_EPS), a))
        .collect();
    let n = values.len() as f64;
    let chi: f64 = n * used.iter().map(|(e, a)| (a - e).powi(2) / e).sum::<f64>();
    let dof = used.len().saturating_sub(1).max(1);
    Ok((psi, chi, chi_square_p_value(chi, dof as f64)))
}

impl DriftReport {
    /// A report of `columns`, sorted by decreasing PSI (NaN first), ties by column name.
    pub fn new(mut columns: Vec<ColumnDrift>) -> Self {
        columns.sort_by(|a, b| {
            let key = |c: &ColumnDrift| if c.psi.is_nan() { f64::INFINITY } else { c.psi };
            key(b)
                .total_cmp(&key(a))
                .then_with(|| a.column.cmp(&b.column))
        });
        Self { columns }
    }

    /// Names of the columns at `level`, in report order.
    pub fn at_level(&self, level: DriftLevel) -> Vec<&str> {
        self.columns
            .iter()
            .filter(|c| c.level == level)
            .map(|c| c.column.as_str())
            .collect()
    }

    /// A Markdown table (one row per column, report order) followed by a one-line
    /// verdict naming the columns to act on and to watch.
    pub fn to_markdown(&self) -> String {
        let opt = |v: Option<f64>, digits: usize| match v {
            Some(x) => format!("{x:.digits$}"),
            None => "–".to_string(),
        };
        let mut out = String::from(
            "| column | kind | rows | PSI | KS | χ² | p-value | level |\n\
             |---|---|---:|---:|---:|---:|---:|---|\n",
        );
        for c in &self.columns {
            out.push_str(&format!(
                "| {} | {} | {} | {:.4} | {} | {} | {} | {} |\n",
                c.column.replace('|', "\\|"),
                c.kind,
                c.rows,
                c.psi,
                opt(c.ks, 4),
                opt(c.chi_square, 2),
                opt(c.p_value, 4),
                c.level.as_str(),
            ));
        }
        let list = |names: Vec<&str>| {
            let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
            quoted.join(", ")
        };
        let (act, watch) = (
            self.at_level(DriftLevel::Act),
            self.at_level(DriftLevel::Watch),
        );
        let verdict = match (act.is_empty(), watch.is_empty()) {
            (true, true) => format!("all {} columns stable", self.columns.len()),
            (false, true) => format!("act on {}", list(act)),
            (true, false) => format!("watch {}", list(watch)),
            (false, false) => format!("act on {}; watch {}", list(act), list(watch)),
        };
        out.push_str(&format!(
            "\n**Verdict:** {verdict} (PSI ≥ {PSI_ACT}: act, ≥ {PSI_WATCH}: watch).\n"
        ));
        out
    }
}

#[cfg(test)]
#[path = "drift_tests.rs"]
mod tests;
