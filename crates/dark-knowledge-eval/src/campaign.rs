//! Ranking metrics for campaigns: cumulative gains and lift, precision at the top share,
//! and choosing a score threshold on a validation split for a stated goal.
//!
//! Scores are one finite value per row (typically the positive class's probability);
//! higher means "contact first". **Order:** rows are ranked by descending score, ties
//! broken by ascending row index (a stable sort), so the "top `k` rows" are always
//! well defined. Thresholds, in contrast, treat tied scores together: a row is flagged
//! when its score is `>=` the threshold ([`apply_threshold`]).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{MetricsError, Result, check_same_len};
use crate::plot::{Chart, Series, line_chart_svg};

/// Precision and recall of the top rows of the ranking (one row of a gains table).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GainsRow {
    /// Share of all rows contacted, `rows / n` (exactly `k / bins` in [`gains`] when
    /// `bins` divides `n`).
    pub fraction: f64,
    /// Number of top-ranked rows contacted.
    pub rows: usize,
    /// Positives among those rows.
    pub positives: usize,
    /// Share of all positives captured, `positives / total positives` (the recall).
    pub gain: f64,
    /// `gain / fraction`, equal to `precision / base rate` (1 = no better than random).
    pub lift: f64,
    /// `positives / rows`.
    pub precision: f64,
}

/// Checks lengths, emptiness and finiteness of the scores, and returns the number of
/// positives (an error when there is none: gains and recall are then undefined).
fn check_campaign(metric: &'static str, scores: &[f32], positives: &[bool]) -> Result<usize> {
    check_same_len("scores", scores.len(), "positives", positives.len())?;
    if let Some(index) = scores.iter().position(|s| !s.is_finite()) {
        return Err(MetricsError::NonFinite {
            what: "scores",
            index,
            value: scores[index],
        });
    }
    match positives.iter().filter(|&&p| p).count() {
        0 => Err(MetricsError::MissingClass {
            metric,
            what: "positives",
            missing: "positive",
        }),
        total => Ok(total),
    }
}

/// Row indices by descending score, ties by ascending index (scores must be finite).
fn ranking(scores: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].partial_cmp(&scores[a]).unwrap_or(Ordering::Equal));
    order
}

/// `cumulative[r]` = positives among the top `r` rows of `order`.
fn cumulative_positives(order: &[usize], positives: &[bool]) -> Vec<usize> {
    let mut cumulative = Vec::with_capacity(order.len() + 1);
    cumulative.push(0);
    let mut tp = 0;
    for &i in order {
        tp += usize::from(positives[i]);
        cumulative.push(tp);
    }
    cumulative
}

/// The gains row of the top `rows` rows (`rows >= 1`).
fn gains_row(cumulative: &[usize], rows: usize, total_positives: usize) -> GainsRow {
    let n = cumulative.len() - 1;
    let positives = cumulative[rows];
    let fraction = rows as f64 / n as f64;
    let gain = positives as f64 / total_positives as f64;
    GainsRow {
        fraction,
        rows,
        positives,
        gain,
        lift: gain / fraction,
        precision: positives as f64 / rows as f64,
    }
}

/// Cumulative gains table: for `k = 1..=bins`, the top `ceil(k · n / bins)` rows of the
/// ranking (descending score, ties by row index; see the module docs), with `n` the
/// number of rows. The count is exact integer arithmetic, so the last row is always all
/// `n` rows with gain 1; with `bins > n` some consecutive rows repeat a count.
///
/// Errors on empty or mismatched inputs, a non-finite score, `bins == 0`, or no positive.
pub fn gains(scores: &[f32], positives: &[bool], bins: usize) -> Result<Vec<GainsRow>> {
    let total = check_campaign("gains", scores, positives)?;
    if bins == 0 {
        return Err(MetricsError::InvalidArgument {
            what: "bins",
            reason: "at least one bin is required".into(),
        });
    }
    let cumulative = cumulative_positives(&ranking(scores), positives);
    let n = scores.len() as u128;
    Ok((1..=bins as u128)
        .map(|k| {
            // ceil(k·n / bins) without overflow; k <= bins so the result is <= n.
            let rows = (k * n).div_ceil(bins as u128) as usize;
            gains_row(&cumulative, rows, total)
        })
        .collect())
}

/// Precision and recall of the top `fraction` of the ranking: the smallest row count `r`
/// with `r / n >= fraction` (compared in `f64`, so 0.1 of 30 rows is 3 rows), at least 1.
///
/// Errors when `fraction` is not in `(0, 1]`, and as [`gains`] on bad scores or targets.
pub fn top_share(scores: &[f32], positives: &[bool], fraction: f64) -> Result<GainsRow> {
    let total = check_campaign("top share", scores, positives)?;
    if !(fraction > 0.0 && fraction <= 1.0) {
        return Err(MetricsError::InvalidArgument {
            what: "fraction",
            reason: format!("must be in (0, 1], got {fraction}"),
        });
    }
    let n = scores.len();
    let share = |r: usize| r as f64 / n as f64;
    let mut rows = ((fraction * n as f64).ceil() as usize).clamp(1, n);
    while rows > 1 && share(rows - 1) >= fraction {
        rows -= 1;
    }
    while rows < n && share(rows) < fraction {
        rows += 1;
    }
    let cumulative = cumulative_positives(&ranking(scores), positives);
    Ok(gains_row(&cumulative, rows, total))
}

/// What a threshold chosen by [`choose_threshold`] should achieve.
///
/// Serialised as `"max-f1"`, `{"precision": 0.8}` or `{"budget": 0.1}`; parsed from and
/// displayed as `max-f1`, `precision:0.8` or `budget:0.1`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ThresholdGoal {
    /// The highest F1 score (ties → the higher threshold).
    MaxF1,
    /// Precision at least this value (in `(0, 1]`) with the most recall: the lowest
    /// threshold whose precision reaches it.
    #[serde(rename = "precision")]
    TargetPrecision(f64),
    /// Flag at most this share of the rows (in `(0, 1]`): the lowest threshold flagging
    /// `<= budget · n` rows, tied scores being flagged together.
    Budget(f64),
}

/// What [`ThresholdGoal`]'s parser accepts.
const GOAL_SYNTAX: &str = "expected `max-f1`, `precision:P` or `budget:B` with P, B in (0, 1]";

impl ThresholdGoal {
    /// Checks the goal's parameter is in `(0, 1]`.
    fn validate(self) -> Result<Self> {
        match self {
            Self::MaxF1 => Ok(self),
            Self::TargetPrecision(v) | Self::Budget(v) if v > 0.0 && v <= 1.0 => Ok(self),
            Self::TargetPrecision(v) | Self::Budget(v) => Err(MetricsError::InvalidArgument {
                what: "goal",
                reason: format!("{self} is out of range: {v} is not in (0, 1]"),
            }),
        }
    }
}

impl fmt::Display for ThresholdGoal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MaxF1 => f.write_str("max-f1"),
            Self::TargetPrecision(p) => write!(f, "precision:{p}"),
            Self::Budget(b) => write!(f, "budget:{b}"),
        }
    }
}

impl FromStr for ThresholdGoal {
    type Err = MetricsError;

    /// Parses `max-f1`, `precision:P` or `budget:B` (`P`, `B` in `(0, 1]`).
    fn from_str(s: &str) -> Result<Self> {
        let invalid = || MetricsError::InvalidArgument {
            what: "goal",
            reason: format!("`{s}`: {GOAL_SYNTAX}"),
        };
        let s = s.trim();
        if s == "max-f1" {
            return Ok(Self::MaxF1);
        }
        let (kind, value) = s.split_once(':').ok_or_else(invalid)?;
        let value: f64 = value.trim().parse().map_err(|_| invalid())?;
        let goal = match kind.trim() {
            "precision" => Self::TargetPrecision(value),
            "budget" => Self::Budget(value),
            _ => return Err(invalid()),
        };
        goal.validate()
    }
}

/// A score threshold chosen for a [`ThresholdGoal`], with its figures on the data it was
/// chosen on. Rows with `score >= threshold` are flagged ([`apply_threshold`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// The goal it was chosen for.
    pub goal: ThresholdGoal,
    /// One of the scores: rows scoring at or above it are flagged.
    pub threshold: f32,
    /// Positives among the flagged rows / flagged rows.
    pub precision: f64,
    /// Flagged positives / all positives.
    pub recall: f64,
    /// `2 · TP / (flagged + positives)`, the harmonic mean of precision and recall.
    pub f1: f64,
    /// Share of all rows flagged.
    pub flagged: f64,
}

/// One candidate threshold: a distinct score, the rows at or above it and their positives.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    score: f32,
    flagged: usize,
    tp: usize,
}

/// The distinct scores in descending order, each with its cumulative counts.
fn candidates(scores: &[f32], positives: &[bool]) -> Vec<Candidate> {
    let order = ranking(scores);
    let mut out: Vec<Candidate> = Vec::new();
    let mut tp = 0;
    for (r, &i) in order.iter().enumerate() {
        tp += usize::from(positives[i]);
        let last_of_tie = order.get(r + 1).is_none_or(|&j| scores[j] != scores[i]);
        if last_of_tie {
            out.push(Candidate {
                score: scores[i],
                flagged: r + 1,
                tp,
            });
        }
    }
    out
}

/// Chooses a threshold among the distinct scores for `goal`, flagging rows with
/// `score >= threshold`:
///
/// * [`ThresholdGoal::MaxF1`] — the highest F1 (`2·TP / (flagged + positives)`, compared
///   exactly as computed); ties go to the higher threshold.
/// * [`ThresholdGoal::TargetPrecision`]`(p)` — the lowest threshold with precision `>= p`,
///   i.e. the most recall at that precision. Errors when no threshold reaches `p`, naming
///   the best precision reachable.
/// * [`ThresholdGoal::Budget`]`(b)` — the lowest threshold flagging at most `b · n` rows
///   (`flagged / n <= b` in `f64`). Tied scores are flagged together, so this may flag
///   fewer than `floor(b · n)` rows; errors when even the highest score is shared by
///   more than `b · n` rows.
///
/// Errors on empty or mismatched inputs, a non-finite score, no positive, or a goal
/// parameter outside `(0, 1]`.
pub fn choose_threshold(
    scores: &[f32],
    positives: &[bool],
    goal: ThresholdGoal,
) -> Result<Threshold> {
    let total = check_campaign("threshold choice", scores, positives)?;
    let goal = goal.validate()?;
    let n = scores.len();
    let all = candidates(scores, positives);
    let precision = |c: &Candidate| c.tp as f64 / c.flagged as f64;
    let f1 = |c: &Candidate| 2.0 * c.tp as f64 / (c.flagged + total) as f64;
    let chosen = match goal {
        ThresholdGoal::MaxF1 => all.iter().fold(None::<&Candidate>, |best, c| match best {
            Some(b) if f1(b) >= f1(c) => Some(b),
            _ => Some(c),
        }),
        ThresholdGoal::TargetPrecision(p) => all.iter().rev().find(|c| precision(c) >= p),
        ThresholdGoal::Budget(b) => all.iter().rev().find(|c| c.flagged as f64 / n as f64 <= b),
    };
    let Some(c) = chosen else {
        return Err(unreachable_goal(goal, &all, n));
    };
    Ok(Threshold {
        goal,
        threshold: c.score,
        precision: precision(c),
        recall: c.tp as f64 / total as f64,
        f1: f1(c),
        flagged: c.flagged as f64 / n as f64,
    })
}

/// The error for a goal no candidate threshold meets (`all` is non-empty).
fn unreachable_goal(goal: ThresholdGoal, all: &[Candidate], n: usize) -> MetricsError {
    let reason = match goal {
        ThresholdGoal::TargetPrecision(p) => {
            let best = all
                .iter()
                .map(|c| c.tp as f64 / c.flagged as f64)
                .fold(0.0f64, f64::max);
            format!("no threshold reaches precision {p}: the best reachable is {best}")
        }
        _ => {
            let top = all.first().map_or(0, |c| c.flagged);
            format!(
                "{goal} allows at most {} of {n} rows to be flagged, but the highest score \
                 alone flags {top}",
                (goal_value(goal) * n as f64).floor()
            )
        }
    };
    MetricsError::InvalidArgument {
        what: "goal",
        reason,
    }
}

/// The parameter of a goal (0 for [`ThresholdGoal::MaxF1`]).
fn goal_value(goal: ThresholdGoal) -> f64 {
    match goal {
        ThresholdGoal::MaxF1 => 0.0,
        ThresholdGoal::TargetPrecision(v) | ThresholdGoal::Budget(v) => v,
    }
}

/// Which rows a threshold flags: `score >= threshold` (NaN scores are never flagged).
pub fn apply_threshold(scores: &[f32], threshold: f32) -> Vec<bool> {
    scores.iter().map(|&s| s >= threshold).collect()
}

/// Cumulative gains chart as a standalone SVG: for each `(name, table)` a line through
/// `(0, 0)` and every `(fraction, gain)` of the table (from [`gains`]), plus the random
/// baseline diagonal from `(0, 0)` to `(1, 1)` as a series named `random`. The x axis is
/// the share contacted, the y axis the share of positives captured.
pub fn gains_svg(models: &[(&str, &[GainsRow])]) -> String {
    let mut series: Vec<Series> = models
        .iter()
        .map(|(name, rows)| Series {
            label: (*name).to_string(),
            points: std::iter::once((0.0, 0.0, 0.0))
                .chain(rows.iter().map(|r| (r.fraction, r.gain, 0.0)))
                .collect(),
        })
        .collect();
    series.push(Series {
        label: "random".into(),
        points: vec![(0.0, 0.0, 0.0), (1.0, 1.0, 0.0)],
    });
    let chart = Chart {
        title: "Cumulative gains",
        x_label: "share contacted",
        y_label: "share of positives captured",
        log2_x: false,
    };
    line_chart_svg(&chart, &series)
}

#[cfg(test)]
#[path = "campaign_tests.rs"]
mod tests;
