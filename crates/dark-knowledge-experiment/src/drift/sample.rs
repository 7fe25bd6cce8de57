//! The new rows' values of the reference columns, collected row by row, and the drift
//! report made from them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use dark_knowledge_data::tabular::normalize_cell;
use dark_knowledge_eval::{ColumnProfile, CurrentColumn, DriftReport, column_drift, score_drift};

use super::{DriftReference, ScoreReference};
use crate::error::{Context, Result};

/// A numeric cell as the encoder reads it: trimmed, a missing token or a NaN spelling is
/// missing; text or an infinite number is `None` too here (such a row is refused by
/// [`DriftSample::push`] before this is reached).
pub(super) fn number(cell: Option<&str>) -> Option<f64> {
    cell.and_then(|text| text.parse::<f64>().ok())
        .filter(|x| x.is_finite())
}

/// One column's current values.
enum Values {
    /// NaN is missing (8 bytes a value rather than 16 for `Option<f64>`).
    Numeric(Vec<f64>),
    /// Levels interned: `levels[i]` is the text of value `i`.
    Categorical {
        index: HashMap<String, u32>,
        levels: Vec<String>,
        values: Vec<Option<u32>>,
    },
}

/// A cell read for one column, before the row is accepted.
enum Cell<'a> {
    Number(Option<f64>),
    Level(Option<&'a str>),
}

/// The values of the reference columns in the rows read so far.
pub struct DriftSample {
    /// For each reference column: its position in the header, `None` when absent.
    positions: Vec<Option<usize>>,
    /// Header width: a row with another number of fields is refused.
    width: usize,
    values: Vec<Values>,
    rows: usize,
}

impl DriftSample {
    /// An empty sample for a CSV with `header` (names trimmed as the training CSV's were).
    /// Reference columns the header lacks are warned about and count as missing.
    pub fn new(reference: &DriftReference, header: &[String]) -> Self {
        let names: Vec<String> = header
            .iter()
            .enumerate()
            .map(|(i, h)| match h.trim() {
                "" => format!("column_{}", i + 1),
                name => name.to_string(),
            })
            .collect();
        let positions: Vec<Option<usize>> = reference
            .columns
            .iter()
            .map(|c| names.iter().position(|n| *n == c.name))
            .collect();
        let absent: Vec<&str> = reference
            .columns
            .iter()
            .zip(&positions)
            .filter(|(_, p)| p.is_none())
            .map(|(c, _)| c.name.as_str())
            .collect();
        if !absent.is_empty() {
            log::warn!(
                "drift: the input lacks training columns {absent:?}: they count as missing on every row"
            );
        }
        let values = reference
            .columns
            .iter()
            .map(|c| match c.profile {
                ColumnProfile::Numeric { .. } => Values::Numeric(Vec::new()),
                ColumnProfile::Categorical { .. } => Values::Categorical {
                    index: HashMap::new(),
                    levels: Vec::new(),
                    values: Vec::new(),
                },
            })
            .collect();
        Self {
            positions,
            width: names.len(),
            values,
            rows: 0,
        }
    }

    /// Rows accepted so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Adds one row (its fields, in header order). A row that `predict` cannot score (a
    /// field count other than the header's, a numeric cell that is not a finite number)
    /// is refused with the reason, and nothing of it is kept.
    ///
    /// # Errors
    /// The reason the row is refused.
    pub fn push(&mut self, fields: &[&str]) -> std::result::Result<(), String> {
        if fields.len() != self.width {
            return Err(format!(
                "{} fields where the header has {}",
                fields.len(),
                self.width
            ));
        }
        let mut cells = Vec::with_capacity(self.values.len());
        for (at, values) in self.positions.iter().zip(&self.values) {
            let cell = at.and_then(|i| normalize_cell(fields[i]));
            cells.push(match values {
                Values::Numeric(_) => match cell {
                    Some(text) if number(Some(text)).is_none() && !is_nan(text) => {
                        return Err(format!("{text:?} is not a finite number"));
                    }
                    _ => Cell::Number(number(cell)),
                },
                Values::Categorical { .. } => Cell::Level(cell),
            });
        }
        for (values, cell) in self.values.iter_mut().zip(cells) {
            match (values, cell) {
                (Values::Numeric(v), Cell::Number(x)) => v.push(x.unwrap_or(f64::NAN)),
                (
                    Values::Categorical {
                        index,
                        levels,
                        values,
                    },
                    Cell::Level(level),
                ) => values.push(level.map(|l| match index.get(l) {
                    Some(&i) => i,
                    None => {
                        let i = levels.len() as u32;
                        index.insert(l.to_string(), i);
                        levels.push(l.to_string());
                        i
                    }
                })),
                // Cells are read per column kind above: the kinds always match.
                _ => {}
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// The drift of every reference column, and of `scores` against their reference when
    /// given, most drifted first.
    ///
    /// # Errors
    /// No row was accepted.
    pub fn report(
        &self,
        reference: &DriftReference,
        scores: Option<(&ScoreReference, &[f32])>,
    ) -> Result<DriftReport> {
        if self.rows == 0 {
            crate::bail!("no readable row to compare with the training rows");
        }
        let mut columns = Vec::with_capacity(self.values.len() + 1);
        for (column, values) in reference.columns.iter().zip(&self.values) {
            let drift = match values {
                Values::Numeric(v) => {
                    let v: Vec<Option<f64>> =
                        v.iter().map(|x| (!x.is_nan()).then_some(*x)).collect();
                    column_drift(&column.name, &column.profile, CurrentColumn::Numeric(&v))?
                }
                Values::Categorical { levels, values, .. } => {
                    let texts: Vec<Option<&str>> = values
                        .iter()
                        .map(|v| v.map(|i| levels[i as usize].as_str()))
                        .collect();
                    let current = CurrentColumn::Categorical(&texts);
                    column_drift(&column.name, &column.profile, current)?
                }
            };
            columns.push(drift);
        }
        if let Some((score, values)) = scores
            && !values.is_empty()
        {
            columns.push(score_drift(&score.name, &score.profile, values)?);
        }
        Ok(DriftReport::new(columns))
    }
}

/// Whether a numeric cell spells NaN (read as missing by the encoder).
fn is_nan(text: &str) -> bool {
    text.parse::<f64>().is_ok_and(f64::is_nan)
}

/// The drift report files of a scores file: `scores.csv` → `scores.drift.json` and
/// `scores.drift.md`, beside it.
pub fn report_paths(out: &Path) -> (PathBuf, PathBuf) {
    (
        out.with_extension("drift.json"),
        out.with_extension("drift.md"),
    )
}

/// Writes `report` as JSON to `json` and as a Markdown table to `md`, each atomically.
///
/// # Errors
/// A file cannot be written.
pub fn write_report(report: &DriftReport, json: &Path, md: &Path) -> Result<()> {
    let text = serde_json::to_string_pretty(report)?;
    dark_knowledge_core::io::write_atomic(json, text.as_bytes())
        .with_context(|| format!("writing {}", json.display()))?;
    let markdown = format!(
        "# Drift against the training rows\n\n{}",
        report.to_markdown()
    );
    dark_knowledge_core::io::write_atomic(md, markdown.as_bytes())
        .with_context(|| format!("writing {}", md.display()))
}

/// A flexible CSV reader of `path` (rows of another width are refused row by row).
pub(super) fn open_csv(path: &Path) -> Result<csv::Reader<std::fs::File>> {
    csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("cannot read {}", path.display()))
}

/// The header of `reader`.
pub(super) fn header_of<R: std::io::Read>(
    reader: &mut csv::Reader<R>,
    path: &Path,
) -> Result<Vec<String>> {
    Ok(reader
        .headers()
        .with_context(|| format!("cannot read the header of {}", path.display()))?
        .iter()
        .map(str::to_string)
        .collect())
}
