//! Fitting and applying the feature preprocessing.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::tabular::column::{
    ColumnTransform, EncodedColumn, fit_categorical, fit_numeric, looks_numeric,
};
use crate::tabular::config::TabularConfig;
use crate::tabular::error::{Result, TabularError};
use crate::tabular::privacy::{PersonalColumn, judge_fitted};
use crate::tabular::synthesize::{ColumnLayout, ColumnSlots, FeatureLayout};
use crate::tabular::table::{CsvTable, normalize_cell};
use crate::tabular::target::TargetEncoding;

/// Version written into every saved encoder; `from_json` rejects other versions.
pub const FORMAT_VERSION: u32 = 1;

/// The fitted preprocessing, serializable (JSON) so it is saved with a model and reloading
/// predicts identically. Features are laid out column by column in `columns` order.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TabularEncoder {
    /// [`FORMAT_VERSION`] at the time of saving.
    pub format_version: u32,
    /// The class labels.
    pub target: TargetEncoding,
    /// The feature columns, in the order of the training CSV's header.
    pub columns: Vec<EncodedColumn>,
    /// Columns left out, with the reason, in header order.
    pub dropped: Vec<(String, String)>,
    /// The columns among `dropped` left out because they look like personal data (absent
    /// from encoders saved before this field existed, and when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropped_personal: Vec<PersonalColumn>,
}

impl TabularEncoder {
    /// Fits the preprocessing. Column kinds are decided on the whole `table`; means, stds,
    /// levels and constant/id-like checks use only `train_rows` (0-based indices into
    /// `table.rows`; repeats allowed). The class labels come from the labelled rows of the
    /// whole table (rows without label, transfer-set rows, are allowed here; callers that
    /// require every label check with [`TargetEncoding::fit`]). A kept column that looks like
    /// personal data on the training rows is then dropped (rules on
    /// [`crate::tabular::personal_columns`]) unless `keep_personal` lists it or
    /// `drop_personal` is off.
    pub fn fit(table: &CsvTable, train_rows: &[usize], config: &TabularConfig) -> Result<Self> {
        if table.is_empty() {
            return Err(TabularError::NoDataRows);
        }
        if train_rows.is_empty() {
            return Err(TabularError::NoTrainingRows);
        }
        if let Some(&row) = train_rows.iter().find(|&&r| r >= table.len()) {
            return Err(TabularError::RowOutOfRange {
                row,
                len: table.len(),
            });
        }
        let target =
            TargetEncoding::fit_partial(table, &config.target, config.positive.as_deref())?;
        let roles = config.resolve(table)?;
        let (mut columns, mut dropped, mut dropped_personal) = (Vec::new(), Vec::new(), Vec::new());
        let check_personal =
            |col: usize| config.columns.drop_personal && !roles.keep_personal.contains(&col);
        for (col, name) in table.headers.iter().enumerate() {
            if col == roles.target {
                continue;
            }
            let fitted = if roles.drop.contains(&col) {
                Err("listed in drop_columns".to_string())
            } else if roles.categorical.contains(&col) {
                fit_categorical(table, col, train_rows, config)?
            } else if roles.numeric.contains(&col) || looks_numeric(table, col)? {
                fit_numeric(table, col, train_rows, config)?
            } else {
                fit_categorical(table, col, train_rows, config)?
            };
            let personal = match &fitted {
                Ok(transform) if check_personal(col) => {
                    judge_fitted(table, col, train_rows, transform)?
                }
                _ => None,
            };
            match (fitted, personal) {
                (Ok(_), Some(p)) => {
                    dropped.push((name.clone(), p.drop_reason()));
                    dropped_personal.push(p);
                }
                (Ok(transform), None) => columns.push(EncodedColumn {
                    name: name.clone(),
                    transform,
                }),
                (Err(reason), _) => dropped.push((name.clone(), reason)),
            }
        }
        if columns.is_empty() {
            return Err(TabularError::NoFeatures { dropped });
        }
        Ok(Self {
            format_version: FORMAT_VERSION,
            target,
            columns,
            dropped,
            dropped_personal,
        })
    }

    /// The columns left out because they look like personal data, in header order (each is
    /// also in `dropped`, with [`PersonalColumn::drop_reason`] as its reason).
    pub fn dropped_personal(&self) -> &[PersonalColumn] {
        &self.dropped_personal
    }

    /// Total number of output features per row.
    pub fn num_features(&self) -> usize {
        self.columns.iter().map(EncodedColumn::width).sum()
    }

    /// Where each column's features sit in an encoded row and what they mean (the layout
    /// [`crate::tabular::synthesize`] makes rows of).
    pub fn feature_layout(&self) -> FeatureLayout {
        let mut offset = 0;
        let columns = self
            .columns
            .iter()
            .map(|c| {
                let slots = match &c.transform {
                    ColumnTransform::Numeric {
                        mean,
                        std,
                        missing_indicator,
                    } => ColumnSlots::Numeric {
                        mean: *mean,
                        std: *std,
                        missing_indicator: *missing_indicator,
                    },
                    ColumnTransform::Categorical { levels } => ColumnSlots::Categorical {
                        levels: levels.len(),
                    },
                };
                let column = ColumnLayout {
                    name: c.name.clone(),
                    offset,
                    slots,
                };
                offset += c.width();
                column
            })
            .collect();
        FeatureLayout { columns }
    }

    /// Output feature names: `age`, `age__missing`, `state=KS`, `state=<unknown>`,
    /// `state=<missing>`, ...
    pub fn feature_names(&self) -> Vec<String> {
        self.columns
            .iter()
            .flat_map(EncodedColumn::feature_names)
            .collect()
    }

    /// Encodes the given data rows (0-based indices) of `table` into a row-major matrix of
    /// `rows.len() * num_features()` values. Columns are found by name, so column order and
    /// extra columns (including a missing target) do not matter.
    pub fn encode_rows(&self, table: &CsvTable, rows: &[usize]) -> Result<Vec<f32>> {
        let cols = self
            .columns
            .iter()
            .map(|c| table.column_index(&c.name))
            .collect::<Result<Vec<usize>>>()?;
        let mut out = Vec::with_capacity(rows.len().checked_mul(self.num_features()).unwrap_or(0));
        for &row in rows {
            for (c, &col) in self.columns.iter().zip(&cols) {
                let cell = table.cell(row, col)?;
                c.encode_into(cell, &mut out)
                    .map_err(|b| b.at(table.line(row), &c.name))?;
            }
        }
        Ok(out)
    }

    /// Encodes one record given as field name -> raw text. A missing field, an empty value or
    /// a missing token (NA, N/A, NaN, null) is a missing value; extra fields are ignored.
    pub fn encode_record(&self, record: &HashMap<String, String>) -> Result<Vec<f32>> {
        let mut out = Vec::with_capacity(self.num_features());
        for c in &self.columns {
            let cell = record.get(&c.name).and_then(|v| normalize_cell(v));
            c.encode_into(cell, &mut out)
                .map_err(|b| b.in_record(&c.name))?;
        }
        Ok(out)
    }

    /// Pretty JSON; the same encoder always gives the same text.
    pub fn to_json(&self) -> String {
        // Plain structs, string keys: serde_json cannot fail here (non-finite floats become null
        // and are then rejected by `from_json`).
        serde_json::to_string_pretty(self).expect("encoder serializes to JSON")
    }

    /// Loads an encoder saved by [`TabularEncoder::to_json`], checking its invariants.
    pub fn from_json(s: &str) -> Result<Self> {
        let enc: Self = serde_json::from_str(s)?;
        enc.validate()?;
        Ok(enc)
    }

    /// Checks the invariants `fit` guarantees.
    pub fn validate(&self) -> Result<()> {
        let bad = |message: String| Err(TabularError::InvalidEncoder { message });
        if self.format_version != FORMAT_VERSION {
            return bad(format!(
                "format_version {} (expected {FORMAT_VERSION})",
                self.format_version
            ));
        }
        self.target.validate()?;
        if self.columns.is_empty() {
            return bad("no feature columns".into());
        }
        let mut names = HashSet::new();
        for c in &self.columns {
            if !names.insert(c.name.as_str()) || c.name == self.target.column {
                return bad(format!("column {:?} is repeated or is the target", c.name));
            }
            c.validate()?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "encoder_tests.rs"]
mod tests;
