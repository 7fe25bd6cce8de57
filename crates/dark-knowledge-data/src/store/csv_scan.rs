//! The first pass over a CSV: what each column holds, gathered row by row in state that does
//! not grow with the number of rows (except the distinct levels of categorical columns,
//! which the fitted encoder holds anyway).

use std::collections::BTreeSet;

use super::csv_records::CsvRecords;
use crate::tabular::{Bad, CsvTable, TabularConfig, TabularError, number};

/// Distinct values a column that still looks numeric keeps as levels, in case a later
/// non-number makes it categorical; past this its levels are gathered again in a later pass.
const LEVEL_CAP: usize = 1024;

/// How the configuration treats a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The class label.
    Target,
    /// Listed in `drop_columns`.
    Dropped,
    /// Listed in `categorical_columns`.
    Categorical,
    /// Listed in `numeric_columns`.
    Numeric,
    /// Numeric if every present value in the file reads as a number, categorical otherwise.
    Auto,
}

/// What fitting a numeric column needs, gathered in file order.
pub(crate) struct NumericScan {
    /// Rows with a number (a NaN spelling counts as missing).
    pub(crate) count: usize,
    /// The first number.
    pub(crate) first: Option<f64>,
    /// Whether some number differs from the first.
    pub(crate) varied: bool,
    /// Largest absolute value.
    pub(crate) max_abs: f64,
    /// Sum of the numbers in file order, folded as `Iterator::sum` does.
    pub(crate) sum: f64,
    /// Byte offset of the record, and the cell, of the first value that is not a finite
    /// number or missing.
    pub(crate) first_bad: Option<(u64, Bad)>,
}

/// What fitting a categorical column needs.
pub(crate) struct LevelScan {
    /// Rows with a value.
    pub(crate) present: usize,
    /// The distinct values (sorted), complete only when `complete`.
    pub(crate) levels: BTreeSet<String>,
    /// False once levels were given up (see [`LEVEL_CAP`]).
    pub(crate) complete: bool,
}

/// One column's scan.
pub(crate) struct ColumnScan {
    pub(crate) role: Role,
    /// No present value failed to parse as a number (only tracked for [`Role::Auto`]).
    pub(crate) looks_numeric: bool,
    pub(crate) num: NumericScan,
    pub(crate) cat: LevelScan,
}

/// Everything the first pass learns.
pub(crate) struct Scan {
    /// Column names of the file.
    pub(crate) headers: Vec<String>,
    /// Index of the target column.
    pub(crate) target: usize,
    /// One entry per column (the target's is unused).
    pub(crate) columns: Vec<ColumnScan>,
    /// The distinct labels.
    pub(crate) labels: BTreeSet<String>,
    /// Rows without label.
    pub(crate) unlabeled: usize,
    /// Byte offset of the first record without label.
    pub(crate) first_unlabeled: Option<u64>,
    /// Data records.
    pub(crate) rows: usize,
}

/// The first value in a fold like `Iterator::<f64>::sum`'s, so that adding the values one by
/// one gives its result bit for bit.
pub(crate) fn sum_start() -> f64 {
    std::iter::empty::<f64>().sum()
}

impl NumericScan {
    fn new() -> Self {
        Self {
            count: 0,
            first: None,
            varied: false,
            max_abs: 0.0,
            sum: sum_start(),
            first_bad: None,
        }
    }

    fn add(&mut self, x: f64) {
        self.count += 1;
        let first = *self.first.get_or_insert(x);
        self.varied |= x != first;
        self.max_abs = self.max_abs.max(x.abs());
        self.sum += x;
    }
}

impl LevelScan {
    fn add(&mut self, value: &str, capped: bool) {
        self.present += 1;
        if !self.complete || self.levels.contains(value) {
            return;
        }
        if capped && self.levels.len() >= LEVEL_CAP {
            self.levels.clear();
            self.complete = false;
            return;
        }
        self.levels.insert(value.to_string());
    }
}

impl ColumnScan {
    fn new(role: Role) -> Self {
        Self {
            role,
            looks_numeric: true,
            num: NumericScan::new(),
            cat: LevelScan {
                present: 0,
                levels: BTreeSet::new(),
                complete: true,
            },
        }
    }

    /// Whether the column is numeric (so far, until the whole file has been scanned).
    pub(crate) fn is_numeric(&self) -> bool {
        self.role == Role::Numeric || (self.role == Role::Auto && self.looks_numeric)
    }

    fn add(&mut self, cell: Option<&str>, offset: u64) {
        if self.is_numeric() {
            match number(cell) {
                Ok(Some(x)) => self.num.add(x),
                Ok(None) => {}
                Err(Bad::NotNumber(_)) if self.role == Role::Auto => self.looks_numeric = false,
                Err(bad) => {
                    self.num.first_bad.get_or_insert((offset, bad));
                }
            }
        }
        if let (Some(v), Role::Categorical | Role::Auto) = (cell, self.role) {
            // While the column may still be numeric its levels are kept up to the cap only.
            let capped = self.role == Role::Auto && self.looks_numeric;
            self.cat.add(v, capped);
        }
    }
}

impl Scan {
    /// Reads the header of `records` and finds the configured columns in it: errors that
    /// depend on the header only (a missing target, unknown or conflicting names in the
    /// configuration) come before any data row is read.
    pub(crate) fn start(
        records: &CsvRecords,
        config: &TabularConfig,
    ) -> Result<Self, TabularError> {
        let header_only = CsvTable {
            headers: records.headers().to_vec(),
            rows: Vec::new(),
            lines: Vec::new(),
        };
        let roles = config.resolve(&header_only)?;
        let columns = (0..header_only.headers.len())
            .map(|col| {
                ColumnScan::new(if col == roles.target {
                    Role::Target
                } else if roles.drop.contains(&col) {
                    Role::Dropped
                } else if roles.categorical.contains(&col) {
                    Role::Categorical
                } else if roles.numeric.contains(&col) {
                    Role::Numeric
                } else {
                    Role::Auto
                })
            })
            .collect();
        Ok(Self {
            headers: header_only.headers,
            target: roles.target,
            columns,
            labels: BTreeSet::new(),
            unlabeled: 0,
            first_unlabeled: None,
            rows: 0,
        })
    }

    /// Adds the current record of `records`.
    pub(crate) fn add(&mut self, records: &CsvRecords) {
        let offset = records.offset();
        for (col, scan) in self.columns.iter_mut().enumerate() {
            let cell = records.cell(col);
            match scan.role {
                Role::Dropped => {}
                Role::Target => match cell {
                    Some(label) if !self.labels.contains(label) => {
                        self.labels.insert(label.to_string());
                    }
                    Some(_) => {}
                    None => {
                        self.unlabeled += 1;
                        self.first_unlabeled.get_or_insert(offset);
                    }
                },
                _ => scan.add(cell, offset),
            }
        }
        self.rows += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_sum_equals_iterator_sum() {
        let values = [-0.0, 1e-300, 3.5, -2.25e10, 7.0, 0.1, 0.2];
        let mut scan = NumericScan::new();
        values.iter().for_each(|&v| scan.add(v));
        assert_eq!(scan.sum.to_bits(), values.iter().sum::<f64>().to_bits());
        let mut zeros = NumericScan::new();
        zeros.add(-0.0);
        assert_eq!(zeros.sum.to_bits(), [-0.0f64].iter().sum::<f64>().to_bits());
        assert!(scan.varied && !zeros.varied);
        assert_eq!(scan.max_abs, 2.25e10);
    }

    #[test]
    fn levels_of_a_numeric_looking_column_are_capped_then_regathered() {
        let mut col = ColumnScan::new(Role::Auto);
        for i in 0..LEVEL_CAP + 1 {
            col.add(Some(&i.to_string()), 0);
        }
        assert!(col.looks_numeric && !col.cat.complete && col.cat.levels.is_empty());
        col.add(Some("n/a?"), 0);
        assert!(!col.looks_numeric && !col.is_numeric());
        assert_eq!(col.cat.present, LEVEL_CAP + 2);
        // A truly categorical column keeps every level.
        let mut cat = ColumnScan::new(Role::Categorical);
        for i in 0..LEVEL_CAP + 1 {
            cat.add(Some(&i.to_string()), 0);
        }
        assert!(cat.cat.complete && cat.cat.levels.len() == LEVEL_CAP + 1);
    }

    #[test]
    fn first_bad_cell_is_kept() {
        let mut col = ColumnScan::new(Role::Numeric);
        col.add(Some("1"), 10);
        col.add(Some("x"), 20);
        col.add(Some("inf"), 30);
        assert!(matches!(col.num.first_bad, Some((20, Bad::NotNumber(_)))));
        let mut auto = ColumnScan::new(Role::Auto);
        auto.add(Some("-inf"), 5);
        auto.add(Some("2"), 6);
        assert!(auto.is_numeric());
        assert!(matches!(auto.num.first_bad, Some((5, Bad::Infinite(_)))));
    }
}
