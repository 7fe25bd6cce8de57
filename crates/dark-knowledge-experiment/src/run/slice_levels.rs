//! The level of every test row in each `[evaluation] slice_by` column, read from the raw
//! CSV the experiment names (or the embedded churn data).

use dark_knowledge_data::CHURN_CSV;
use dark_knowledge_data::tabular::CsvTable;
use dark_knowledge_eval::{MISSING_LEVEL, numeric_bins};

use crate::bail;
use crate::error::{Context, Result};
use crate::experiment::{DataSource, Experiment};
use crate::prepare::Prepared;

/// Quantile bins of a numeric slice column.
pub const NUMERIC_BINS: usize = 5;
/// A column whose present values all parse as numbers is binned only when it has more
/// distinct values than this; otherwise its values are the levels as they are.
pub const MAX_NUMERIC_LEVELS: usize = 10;

/// One slice column: its name and the level of each test row, in test-row order.
pub struct SliceColumn {
    /// The column name.
    pub column: String,
    /// One level per test row.
    pub levels: Vec<String>,
}

/// The raw table the experiment's data come from; `None` for image data.
fn raw_table(experiment: &Experiment) -> Result<Option<CsvTable>> {
    Ok(match experiment.data.source {
        DataSource::Churn => {
            Some(CsvTable::parse(CHURN_CSV).context("reading the embedded churn data")?)
        }
        DataSource::Csv => {
            let path = experiment
                .data
                .path
                .as_ref()
                .context("[data] source = \"csv\" needs `path`")?;
            Some(CsvTable::from_path(path)?)
        }
        DataSource::FashionMnist => None,
    })
}

/// The table, checked to have every `slice_by` column; `None` when nothing is sliced.
///
/// # Errors
/// Image data with `slice_by`; a column the table does not have (listing its columns);
/// the CSV cannot be read.
fn checked_table(experiment: &Experiment) -> Result<Option<CsvTable>> {
    let columns = &experiment.evaluation.slice_by;
    if columns.is_empty() {
        return Ok(None);
    }
    let Some(table) = raw_table(experiment)? else {
        bail!(
            "[evaluation] slice_by ({}) needs CSV data: images have no columns to slice by; \
             remove slice_by (or pass --slice-by \"\")",
            columns.join(", ")
        );
    };
    for column in columns {
        table.column_index(column).with_context(|| {
            format!("[evaluation] slice_by / --slice-by names an unknown column {column:?}")
        })?;
    }
    Ok(Some(table))
}

/// Checks that every `slice_by` column exists in the experiment's data, before anything
/// runs (the CSV is read once more).
///
/// # Errors
/// As [`slice_columns`].
pub fn check_slice_columns(experiment: &Experiment) -> Result<()> {
    checked_table(experiment).map(|_| ())
}

/// The level of every test row in each `slice_by` column: categorical values as they
/// are (missing cells are `missing`), numeric columns with more than
/// [`MAX_NUMERIC_LEVELS`] distinct values in [`NUMERIC_BINS`] quantile bins of the test
/// rows.
///
/// # Errors
/// Image data with `slice_by`; an unknown column, listing the table's columns; a test row
/// outside the table (a CSV changed since the split).
pub fn slice_columns(experiment: &Experiment, data: &Prepared) -> Result<Vec<SliceColumn>> {
    let Some(table) = checked_table(experiment)? else {
        return Ok(Vec::new());
    };
    let rows = data.test.row_ids();
    experiment
        .evaluation
        .slice_by
        .iter()
        .map(|column| {
            let col = table.column_index(column)?;
            let cells = rows
                .iter()
                .map(|&r| Ok(table.cell(r, col)?.map(str::to_string)))
                .collect::<Result<Vec<Option<String>>>>()
                .with_context(|| format!("reading slice column {column:?}"))?;
            Ok(SliceColumn {
                column: column.clone(),
                levels: levels_of(&table, col, cells),
            })
        })
        .collect()
}

/// Levels of the test cells of column `col`: quantile bins when the whole column is
/// numeric with many distinct values, the values themselves otherwise.
fn levels_of(table: &CsvTable, col: usize, cells: Vec<Option<String>>) -> Vec<String> {
    let mut distinct: Vec<f64> = Vec::new();
    let mut numeric = true;
    for row in &table.rows {
        let Some(Some(text)) = row.get(col) else {
            continue;
        };
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => {
                if distinct.len() <= MAX_NUMERIC_LEVELS && !distinct.contains(&v) {
                    distinct.push(v);
                }
            }
            _ => {
                numeric = false;
                break;
            }
        }
    }
    if numeric && distinct.len() > MAX_NUMERIC_LEVELS {
        let values: Vec<Option<f64>> = cells
            .iter()
            .map(|c| c.as_deref().and_then(|t| t.parse().ok()))
            .collect();
        return numeric_bins(&values, NUMERIC_BINS);
    }
    cells
        .into_iter()
        .map(|c| c.unwrap_or_else(|| MISSING_LEVEL.to_string()))
        .collect()
}
