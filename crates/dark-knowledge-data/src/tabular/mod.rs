//! Read any CSV with a header and turn it into a numeric feature matrix plus class labels for
//! a classifier, with the preprocessing fitted on the training rows only.
//!
//! ```text
//! let table = CsvTable::from_path(path)?;
//! let encoder = TabularEncoder::fit(&table, &train_rows, &TabularConfig::new("churn"))?;
//! let x = encoder.encode_rows(&table, &test_rows)?;            // row-major f32
//! let y = encoder.target.labels_for_rows(&table, &test_rows)?; // class indices
//! std::fs::write("encoder.json", encoder.to_json())?;
//! ```
//!
//! # Conventions
//!
//! * **Missing values.** After trimming whitespace, a cell that is empty or spells `NA`, `N/A`,
//!   `NaN` or `null` (any letter case) is missing (`None` in [`CsvTable`]). In a numeric column
//!   any NaN spelling (`-nan`, ...) is missing too, while an infinite number (`inf`,
//!   `-Infinity`, `1e999`) is an error ([`TabularError::NonFinite`]).
//! * **Line numbers.** Errors about a cell say `line N`: the physical line of the file on which
//!   the record starts, the header being line 1, blank lines and line breaks inside quoted
//!   fields counted (so it is what an editor shows). Row *indices* passed to the API
//!   (`train_rows`, `rows`) are 0-based positions in [`CsvTable::rows`]; their lines are
//!   [`CsvTable::lines`].
//! * **Column kinds.** A column is numeric when every present value in the whole table parses
//!   as a number, categorical otherwise; `numeric_columns` / `categorical_columns` override.
//! * **Fitting.** Means, standard deviations, categorical levels and constant / id-like checks
//!   use the training rows only. Class labels come from the whole table.
//! * **Personal data.** Columns that look like e-mail addresses, phone numbers, names,
//!   free-text identifiers or exact dates of birth on the training rows are left out unless
//!   listed in `keep_personal` ([`personal_columns`] gives the rules); the encoder lists them in
//!   [`TabularEncoder::dropped_personal`].
//! * **Feature naming and layout.** Features follow the header order of the training CSV. A
//!   numeric column `age` gives `age` (standardized, missing -> 0 = the training mean) and,
//!   when the fitting table had a missing `age` anywhere, `age__missing` (1.0 if missing). A
//!   categorical column `state` gives `state=<level>` for each training level (sorted), then
//!   `state=<unknown>` (a level unseen in training) and `state=<missing>`.
//! * **Classes.** Sorted (numerically when all labels are numbers); a `positive` label is
//!   moved last, so for a binary target class 1 = positive.

mod column;
mod config;
mod encoder;
mod error;
mod privacy;
mod quote;
pub mod synthesize;
mod table;
mod target;

pub use column::{ColumnKind, ColumnTransform, EncodedColumn};
pub use config::{ColumnRules, TabularConfig};
pub use encoder::{FORMAT_VERSION, TabularEncoder};
pub use error::{Result, TabularError};
pub use privacy::{PersonalColumn, PersonalKind, personal_columns};
pub use synthesize::{FeatureLayout, Generator, SynthesizerConfig};
pub use table::{CsvTable, MISSING_TOKENS, normalize_cell};
pub use target::TargetEncoding;

// For the row store's streaming CSV path, which must read cells exactly as this module does.
pub(crate) use column::{Bad, number};
pub(crate) use privacy::{PersonalScan, judge_levels};
pub(crate) use quote::open_quote;
pub(crate) use table::header_names;
