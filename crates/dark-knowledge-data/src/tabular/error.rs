//! The error type shared by the whole crate.
//!
//! Every variant that concerns one cell names the **line** (the physical line number of the
//! record in the file, header = line 1) and the **column name**, and its message says what
//! would have been allowed instead.

use std::path::PathBuf;

/// The spellings that count as a missing value, for error messages.
pub(crate) const MISSING_HELP: &str = "an empty cell, NA, N/A, NaN or null";

/// Everything that can go wrong while reading a CSV, fitting or applying an encoder.
#[derive(Debug, thiserror::Error)]
pub enum TabularError {
    /// The input could not be read (file not found, permission denied, I/O failure mid-read).
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file that was being read (`<reader>` / `<string>` for in-memory input).
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The CSV parser rejected the input.
    #[error("line {line}: malformed CSV: {message}")]
    Csv {
        /// Physical line where the bad record starts.
        line: usize,
        /// The parser's description.
        message: String,
    },
    /// A quoted field is opened and never closed: the file ends inside the quotes.
    #[error(
        "line {line}: a quoted field opens here and is never closed (the file ends inside \
         the quotes); close it with a `\"`, and write a quote inside a quoted field as `\"\"`"
    )]
    UnterminatedQuote {
        /// Physical line of the opening quote.
        line: usize,
    },
    /// A cell is not valid UTF-8 text.
    #[error("line {line}, column {column:?}: the text is not valid UTF-8; save the file as UTF-8")]
    InvalidUtf8 {
        /// Physical line of the record.
        line: usize,
        /// Column name (`#N`, the 1-based position, for a header cell).
        column: String,
    },
    /// The input holds no header line at all.
    #[error("the CSV input is empty; a header line with the column names is required")]
    EmptyFile,
    /// The input holds a header but no data record.
    #[error("the CSV has a header line but no data rows")]
    NoDataRows,
    /// A record has a different number of fields than the header.
    #[error(
        "line {line}: expected {expected} fields (one per header column) but found {got}; \
         every row needs exactly one field per column (quote fields that contain commas)"
    )]
    RaggedRow {
        /// Physical line of the record.
        line: usize,
        /// Number of header columns.
        expected: usize,
        /// Number of fields found on the record.
        got: usize,
    },
    /// A column was asked for by name but the table has no such column.
    #[error("no column named {name:?}; available columns: {}", quoted(available))]
    MissingColumn {
        /// The requested name.
        name: String,
        /// The table's column names, in file order.
        available: Vec<String>,
    },
    /// Two header cells carry the same name.
    #[error(
        "column name {name:?} appears twice in the header (columns {first} and {second}); \
         column names must be unique"
    )]
    DuplicateColumn {
        /// The repeated name.
        name: String,
        /// 1-based position of the first occurrence.
        first: usize,
        /// 1-based position of the second occurrence.
        second: usize,
    },
    /// A row has no class label.
    #[error(
        "line {line}, column {column:?}: the target value is missing; every row needs a class \
         label ({MISSING_HELP} count as missing), unless rows without label are wanted as an \
         unlabelled transfer set (`missing_target_is_unlabeled = true` in [data])"
    )]
    MissingTarget {
        /// Physical line of the record.
        line: usize,
        /// The target column.
        column: String,
    },
    /// A row's class label was not among the labels the target encoding was fitted on.
    #[error(
        "line {line}, column {column:?}: label {label:?} is not a known class; known classes: {}",
        quoted(available)
    )]
    UnknownLabel {
        /// Physical line of the record.
        line: usize,
        /// The target column.
        column: String,
        /// The unknown label.
        label: String,
        /// The known classes.
        available: Vec<String>,
    },
    /// The target column holds a single distinct label.
    #[error(
        "target column {column:?} has only one class ({label:?}); a classifier needs at least \
         two distinct labels"
    )]
    SingleClass {
        /// The target column.
        column: String,
        /// The only label present.
        label: String,
    },
    /// The configured positive label does not occur in the target column.
    #[error(
        "positive label {label:?} does not occur in the target column; labels present: {}",
        quoted(available)
    )]
    UnknownPositiveLabel {
        /// The configured positive label.
        label: String,
        /// The labels that do occur.
        available: Vec<String>,
    },
    /// A numeric column holds text that is not a number.
    #[error(
        "line {line}, column {column:?}: {value:?} is not a number; this column is numeric, so \
         only numbers (like 3, -1.5, 2e3) or a missing value ({MISSING_HELP}) are allowed"
    )]
    NonNumeric {
        /// Physical line of the record.
        line: usize,
        /// The column.
        column: String,
        /// The offending text (trimmed).
        value: String,
    },
    /// A numeric column holds an infinite number (`inf`, `-Infinity`, `1e999`, ...).
    #[error(
        "line {line}, column {column:?}: {value:?} is infinite; only finite numbers or a \
         missing value ({MISSING_HELP}) are allowed"
    )]
    NonFinite {
        /// Physical line of the record.
        line: usize,
        /// The column.
        column: String,
        /// The offending text (trimmed).
        value: String,
    },
    /// Like [`TabularError::NonNumeric`], for a single record given to `encode_record`.
    #[error(
        "field {column:?}: {value:?} is not a number; this column is numeric, so only numbers \
         (like 3, -1.5, 2e3) or a missing value ({MISSING_HELP}, or no field) are allowed"
    )]
    RecordNonNumeric {
        /// The field (column) name.
        column: String,
        /// The offending text (trimmed).
        value: String,
    },
    /// Like [`TabularError::NonFinite`], for a single record given to `encode_record`.
    #[error(
        "field {column:?}: {value:?} is infinite; only finite numbers or a missing value \
         ({MISSING_HELP}, or no field) are allowed"
    )]
    RecordNonFinite {
        /// The field (column) name.
        column: String,
        /// The offending text (trimmed).
        value: String,
    },
    /// Every candidate feature column was dropped.
    #[error("no feature column remains; dropped: {}", reasons(dropped))]
    NoFeatures {
        /// The dropped columns with the reason for each.
        dropped: Vec<(String, String)>,
    },
    /// A configuration list names a column the table does not have.
    #[error(
        "config field {field} names column {name:?}, which is not in the table; available \
         columns: {}",
        quoted(available)
    )]
    UnknownColumnInConfig {
        /// The unknown name.
        name: String,
        /// The configuration field (`drop_columns`, `categorical_columns`, `numeric_columns`).
        field: String,
        /// The table's column names.
        available: Vec<String>,
    },
    /// The configuration contradicts itself for a column.
    #[error("config conflict for column {name:?}: {message}")]
    ConflictingConfig {
        /// The column.
        name: String,
        /// What conflicts.
        message: String,
    },
    /// `fit` was given an empty list of training rows.
    #[error("no training rows given; fitting needs at least one row")]
    NoTrainingRows,
    /// A row index (0-based position among the data rows) is past the end of the table.
    #[error("row index {row} is out of range; the table has {len} data rows (indices 0..{len})")]
    RowOutOfRange {
        /// The bad index.
        row: usize,
        /// Number of data rows in the table.
        len: usize,
    },
    /// Text given to `from_json` is not valid JSON of the expected shape.
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A deserialized encoder breaks an invariant (e.g. a hand-edited file).
    #[error("invalid saved encoder: {message}")]
    InvalidEncoder {
        /// What is wrong.
        message: String,
    },
}

/// Shorthand for results whose error is [`TabularError`].
pub type Result<T> = std::result::Result<T, TabularError>;

/// `"a", "b", "c"` (or `(none)`).
fn quoted(names: &[String]) -> String {
    if names.is_empty() {
        return "(none)".to_string();
    }
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `"a" (reason), "b" (reason)`.
fn reasons(dropped: &[(String, String)]) -> String {
    if dropped.is_empty() {
        return "(no column besides the target)".to_string();
    }
    dropped
        .iter()
        .map(|(n, r)| format!("{n:?} ({r})"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_column_lists_available() {
        let e = TabularError::MissingColumn {
            name: "churn".into(),
            available: vec!["age".into(), "state".into()],
        };
        assert_eq!(
            e.to_string(),
            r#"no column named "churn"; available columns: "age", "state""#
        );
    }

    #[test]
    fn no_features_lists_reasons() {
        let e = TabularError::NoFeatures {
            dropped: vec![("id".into(), "listed in drop_columns".into())],
        };
        assert!(e.to_string().contains(r#""id" (listed in drop_columns)"#));
        let none = TabularError::NoFeatures { dropped: vec![] };
        assert!(none.to_string().contains("no column besides the target"));
    }

    #[test]
    fn cell_errors_name_line_column_and_allowed_values() {
        let e = TabularError::NonNumeric {
            line: 7,
            column: "age".into(),
            value: "old".into(),
        };
        let msg = e.to_string();
        assert!(msg.starts_with(r#"line 7, column "age": "old" is not a number"#));
        assert!(msg.contains("NA"));
    }
}
