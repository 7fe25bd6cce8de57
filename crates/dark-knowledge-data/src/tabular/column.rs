//! One input column: kind detection, fitting and encoding of its cells.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::tabular::config::TabularConfig;
use crate::tabular::error::{Result, TabularError};
use crate::tabular::table::CsvTable;

/// How a feature column is treated.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    /// Standardized number (+ optional missing indicator).
    Numeric,
    /// One-hot over the training levels + `<unknown>` + `<missing>`.
    Categorical,
}

/// The fitted transform of one input column.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub enum ColumnTransform {
    /// `(x - mean) / std`; a missing value becomes 0 (the mean).
    Numeric {
        /// Training mean.
        mean: f64,
        /// Training population standard deviation (1 when it was 0).
        std: f64,
        /// Whether a `<col>__missing` feature follows.
        missing_indicator: bool,
    },
    /// One-hot: one slot per level, then `<unknown>`, then `<missing>`.
    Categorical {
        /// Training levels, sorted and distinct.
        levels: Vec<String>,
    },
}

/// One input column and its fitted transform.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EncodedColumn {
    /// Column name in the CSV.
    pub name: String,
    /// The fitted transform.
    pub transform: ColumnTransform,
}

impl EncodedColumn {
    /// Numeric or categorical.
    pub fn kind(&self) -> ColumnKind {
        match self.transform {
            ColumnTransform::Numeric { .. } => ColumnKind::Numeric,
            ColumnTransform::Categorical { .. } => ColumnKind::Categorical,
        }
    }

    /// Checks the invariants fitting guarantees: finite mean and std with std > 0; levels
    /// sorted and distinct (encoding relies on binary search).
    pub fn validate(&self) -> Result<()> {
        let problem = match &self.transform {
            ColumnTransform::Numeric { mean, std, .. } => {
                (!mean.is_finite() || !std.is_finite() || *std <= 0.0)
                    .then_some("mean and std must be finite, with std > 0")
            }
            ColumnTransform::Categorical { levels } => levels
                .windows(2)
                .any(|w| w[0] >= w[1])
                .then_some("levels must be sorted and distinct"),
        };
        match problem {
            None => Ok(()),
            Some(p) => Err(TabularError::InvalidEncoder {
                message: format!("column {:?}: {p}", self.name),
            }),
        }
    }

    /// Names of the features this column produces, in output order.
    pub fn feature_names(&self) -> Vec<String> {
        let n = &self.name;
        match &self.transform {
            ColumnTransform::Numeric {
                missing_indicator, ..
            } => {
                let mut v = vec![n.clone()];
                if *missing_indicator {
                    v.push(format!("{n}__missing"));
                }
                v
            }
            ColumnTransform::Categorical { levels } => levels
                .iter()
                .map(|l| format!("{n}={l}"))
                .chain([format!("{n}=<unknown>"), format!("{n}=<missing>")])
                .collect(),
        }
    }

    pub(crate) fn width(&self) -> usize {
        match &self.transform {
            ColumnTransform::Numeric {
                missing_indicator, ..
            } => 1 + usize::from(*missing_indicator),
            ColumnTransform::Categorical { levels } => levels.len() + 2,
        }
    }

    pub(crate) fn encode_into(
        &self,
        cell: Option<&str>,
        out: &mut Vec<f32>,
    ) -> std::result::Result<(), Bad> {
        match &self.transform {
            ColumnTransform::Numeric {
                mean,
                std,
                missing_indicator,
            } => {
                let x = number(cell)?;
                let z = x.map_or(0.0, |x| (x - mean) / std);
                let limit = f64::from(f32::MAX);
                out.push(z.clamp(-limit, limit) as f32);
                if *missing_indicator {
                    out.push(if x.is_none() { 1.0 } else { 0.0 });
                }
            }
            ColumnTransform::Categorical { levels } => {
                let slot = match cell {
                    None => levels.len() + 1,
                    Some(v) => levels
                        .binary_search_by(|l| l.as_str().cmp(v))
                        .unwrap_or(levels.len()),
                };
                out.extend((0..levels.len() + 2).map(|i| if i == slot { 1.0 } else { 0.0 }));
            }
        }
        Ok(())
    }
}

/// A cell that a numeric column cannot take.
pub(crate) enum Bad {
    NotNumber(String),
    Infinite(String),
}

impl Bad {
    pub(crate) fn at(self, line: usize, column: &str) -> TabularError {
        let column = column.to_string();
        match self {
            Bad::NotNumber(value) => TabularError::NonNumeric {
                line,
                column,
                value,
            },
            Bad::Infinite(value) => TabularError::NonFinite {
                line,
                column,
                value,
            },
        }
    }

    pub(crate) fn in_record(self, column: &str) -> TabularError {
        let column = column.to_string();
        match self {
            Bad::NotNumber(value) => TabularError::RecordNonNumeric { column, value },
            Bad::Infinite(value) => TabularError::RecordNonFinite { column, value },
        }
    }
}

/// The numeric reading of a (normalized) cell: `None` = missing (incl. any NaN spelling).
pub(crate) fn number(cell: Option<&str>) -> std::result::Result<Option<f64>, Bad> {
    let Some(text) = cell else { return Ok(None) };
    match text.parse::<f64>() {
        Ok(x) if x.is_nan() => Ok(None),
        Ok(x) if x.is_infinite() => Err(Bad::Infinite(text.to_string())),
        Ok(x) => Ok(Some(x)),
        Err(_) => Err(Bad::NotNumber(text.to_string())),
    }
}

/// True when every present cell of the column (whole table) reads as a number (inf included,
/// so that it is reported as non-finite rather than silently made categorical).
pub(crate) fn looks_numeric(table: &CsvTable, col: usize) -> Result<bool> {
    for row in 0..table.len() {
        if let Err(Bad::NotNumber(_)) = number(table.cell(row, col)?) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `Ok(Ok(transform))`, `Ok(Err(drop reason))`, or an input error.
pub(crate) type Fitted = Result<std::result::Result<ColumnTransform, String>>;

pub(crate) fn fit_numeric(
    table: &CsvTable,
    col: usize,
    train_rows: &[usize],
    config: &TabularConfig,
) -> Fitted {
    let name = table.headers.get(col).map_or("", String::as_str);
    let mut all = Vec::with_capacity(table.len());
    for row in 0..table.len() {
        all.push(number(table.cell(row, col)?).map_err(|b| b.at(table.line(row), name))?);
    }
    let missing_anywhere = all.iter().any(Option::is_none);
    let train = train_rows
        .iter()
        .map(|&row| {
            let len = all.len();
            all.get(row)
                .copied()
                .ok_or(TabularError::RowOutOfRange { row, len })
        })
        .collect::<Result<Vec<Option<f64>>>>()?;
    let values: Vec<f64> = train.iter().flatten().copied().collect();
    let train_missing = values.len() < train.len();
    let varied = values.iter().any(|v| *v != values[0]);
    if config.columns.drop_constant && !varied && (values.is_empty() || !train_missing) {
        return Ok(Err(match values.first() {
            None => "all values missing on the training rows".to_string(),
            Some(v) => format!("constant on the training rows (always {v})"),
        }));
    }
    let (mean, std) = mean_std(&values);
    Ok(Ok(ColumnTransform::Numeric {
        mean,
        std,
        missing_indicator: missing_anywhere,
    }))
}

pub(crate) fn fit_categorical(
    table: &CsvTable,
    col: usize,
    train_rows: &[usize],
    config: &TabularConfig,
) -> Fitted {
    let mut levels = BTreeSet::new();
    let mut present = 0usize;
    for &row in train_rows {
        if let Some(v) = table.cell(row, col)? {
            levels.insert(v);
            present += 1;
        }
    }
    let train_missing = present < train_rows.len();
    if config.columns.drop_constant && levels.len() <= 1 && (levels.is_empty() || !train_missing) {
        return Ok(Err(match levels.first() {
            None => "all values missing on the training rows".to_string(),
            Some(v) => format!("constant on the training rows (always {v:?})"),
        }));
    }
    if config.columns.drop_id_like && present >= 2 && levels.len() == present {
        return Ok(Err(format!(
            "identifier-like: all {present} training values are distinct"
        )));
    }
    let levels = levels.into_iter().map(str::to_string).collect();
    Ok(Ok(ColumnTransform::Categorical { levels }))
}

/// Mean and population std (std 0 -> 1); huge values are scaled first so sums cannot overflow.
fn mean_std(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 1.0);
    }
    let max_abs = values.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    let scale = if max_abs > 1e100 { max_abs } else { 1.0 };
    let n = values.len() as f64;
    let mean = values.iter().map(|v| v / scale).sum::<f64>() / n;
    let var = values
        .iter()
        .map(|v| (v / scale - mean).powi(2))
        .sum::<f64>()
        / n;
    let std = var.sqrt() * scale;
    let std = if std > 0.0 && std.is_finite() {
        std
    } else {
        1.0
    };
    (mean * scale, std)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(col: &EncodedColumn, cell: Option<&str>) -> Vec<f32> {
        let mut out = Vec::new();
        assert!(col.encode_into(cell, &mut out).is_ok());
        assert_eq!(out.len(), col.width());
        out
    }

    #[test]
    fn mean_and_population_std() {
        let (mean, std) = mean_std(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(mean, 2.5);
        assert_eq!(std, 1.25_f64.sqrt());
        assert_eq!(mean_std(&[7.0, 7.0]), (7.0, 1.0));
        assert_eq!(mean_std(&[]), (0.0, 1.0));
        let (mean, std) = mean_std(&[1e308, -1e308, 1e308, -1e308]);
        assert_eq!(mean, 0.0);
        assert!((std / 1e308 - 1.0).abs() < 1e-12);
    }

    #[test]
    fn number_readings() {
        assert!(matches!(number(None), Ok(None)));
        assert!(matches!(number(Some("-1.5e1")), Ok(Some(x)) if x == -15.0));
        assert!(matches!(number(Some("-nan")), Ok(None)));
        assert!(matches!(number(Some("inf")), Err(Bad::Infinite(_))));
        assert!(matches!(number(Some("1e999")), Err(Bad::Infinite(_))));
        assert!(matches!(number(Some("1,5")), Err(Bad::NotNumber(v)) if v == "1,5"));
    }

    #[test]
    fn numeric_encoding_saturates_instead_of_overflowing() {
        let col = EncodedColumn {
            name: "x".into(),
            transform: ColumnTransform::Numeric {
                mean: 0.0,
                std: 1e-300,
                missing_indicator: true,
            },
        };
        assert_eq!(col.feature_names(), ["x", "x__missing"]);
        assert_eq!(encode(&col, Some("1")), [f32::MAX, 0.0]);
        assert_eq!(encode(&col, Some("-1")), [f32::MIN, 0.0]);
        assert_eq!(encode(&col, None), [0.0, 1.0]);
    }

    #[test]
    fn categorical_layout() {
        let col = EncodedColumn {
            name: "state".into(),
            transform: ColumnTransform::Categorical {
                levels: vec!["KS".into(), "NY".into()],
            },
        };
        assert_eq!(col.kind(), ColumnKind::Categorical);
        assert_eq!(
            col.feature_names(),
            ["state=KS", "state=NY", "state=<unknown>", "state=<missing>"]
        );
        assert_eq!(encode(&col, Some("NY")), [0.0, 1.0, 0.0, 0.0]);
        assert_eq!(encode(&col, Some("TX")), [0.0, 0.0, 1.0, 0.0]);
        assert_eq!(encode(&col, None), [0.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn constant_and_id_like_columns_are_dropped() {
        let t = CsvTable::parse("k,id,none,half,n,t,y\n1,a,,5,2,3,p\n1,b,,,2,3,q\n1,c,,5,NA,9,q\n")
            .unwrap();
        let rows = [0, 1, 2];
        let mut config = TabularConfig::new("y");
        config.columns.drop_id_like = true;
        let reason = |r: Fitted| r.unwrap().unwrap_err();
        assert_eq!(
            reason(fit_numeric(&t, 0, &rows, &config)),
            "constant on the training rows (always 1)"
        );
        let id = reason(fit_categorical(&t, 1, &rows, &config));
        assert_eq!(id, "identifier-like: all 3 training values are distinct");
        let none = reason(fit_numeric(&t, 2, &rows, &config));
        assert_eq!(none, "all values missing on the training rows");
        // Constant on the training rows (0, 1) even though row 2 differs.
        assert!(fit_numeric(&t, 5, &[0, 1], &config).unwrap().is_err());
        // One value plus missing values still carries information: kept.
        assert!(fit_categorical(&t, 3, &rows, &config).unwrap().is_ok());
        let kept = fit_numeric(&t, 4, &rows, &config).unwrap();
        assert!(
            matches!(kept, Ok(ColumnTransform::Numeric { mean, std, missing_indicator: true })
            if mean == 2.0 && std == 1.0)
        );
        config.columns.drop_constant = false;
        config.columns.drop_id_like = false;
        let k = fit_numeric(&t, 0, &rows, &config).unwrap();
        assert!(
            matches!(k, Ok(ColumnTransform::Numeric { mean, std, missing_indicator: false })
            if mean == 1.0 && std == 1.0)
        );
        assert!(fit_categorical(&t, 1, &rows, &config).unwrap().is_ok());
    }
}
