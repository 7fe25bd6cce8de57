//! What to predict and how to treat the columns.

use serde::{Deserialize, Serialize};

use std::collections::HashSet;

use crate::tabular::error::{Result, TabularError};
use crate::tabular::table::CsvTable;

/// What to predict and how to treat the columns. JSON field names are the Rust field names,
/// with the [`ColumnRules`] inline (`{"target": "churn", "drop_columns": ["id"]}`); unknown
/// fields are rejected, every field but `target` is optional.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TabularConfig {
    /// Name of the target (class label) column.
    pub target: String,
    /// Label to place last (class index `num_classes - 1`), e.g. `"yes"` for a binary target.
    #[serde(default)]
    pub positive: Option<String>,
    /// Which columns to drop, and which to force numeric or categorical.
    #[serde(flatten)]
    pub columns: ColumnRules,
}

/// How to treat the input columns: the part of a [`TabularConfig`] an experiment file's
/// `[data]` section shares (its keys stand inline, beside `target` and `positive`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ColumnRules {
    /// Columns to ignore entirely.
    #[serde(default)]
    pub drop_columns: Vec<String>,
    /// Columns to treat as categorical even if all their values are numbers.
    #[serde(default)]
    pub categorical_columns: Vec<String>,
    /// Columns to treat as numeric; a non-number in them is a [`TabularError::NonNumeric`].
    #[serde(default)]
    pub numeric_columns: Vec<String>,
    /// Drop columns that are constant on the training rows (default `true`).
    #[serde(default = "yes")]
    pub drop_constant: bool,
    /// Drop categorical columns whose training values are all distinct (default `false`).
    #[serde(default)]
    pub drop_id_like: bool,
    /// Drop columns that look like personal data (e-mail addresses, phone numbers, names,
    /// free-text identifiers, dates of birth; see [`crate::tabular::personal_columns`])
    /// unless listed in `keep_personal` (default `true`).
    #[serde(default = "yes")]
    pub drop_personal: bool,
    /// Columns to keep even though they look like personal data.
    #[serde(default)]
    pub keep_personal: Vec<String>,
}

/// Every column kept as found, constant and personal ones dropped (`drop_constant: true`,
/// `drop_personal: true`).
impl Default for ColumnRules {
    fn default() -> Self {
        Self {
            drop_columns: Vec::new(),
            categorical_columns: Vec::new(),
            numeric_columns: Vec::new(),
            drop_constant: true,
            drop_id_like: false,
            drop_personal: true,
            keep_personal: Vec::new(),
        }
    }
}

fn yes() -> bool {
    true
}

/// Same defaults as deserializing `{"target": ""}` (notably `drop_constant: true`).
impl Default for TabularConfig {
    fn default() -> Self {
        Self::new("")
    }
}

impl TabularConfig {
    /// A configuration with defaults for the given target column.
    pub fn new(target: impl Into<String>) -> Self {
        Self {
            target: target.into(),
            positive: None,
            columns: ColumnRules::default(),
        }
    }

    /// Parses a configuration from JSON.
    pub fn from_json(s: &str) -> Result<Self> {
        Ok(serde_json::from_str(s)?)
    }
}

/// Column positions named by a configuration, checked against a table.
#[derive(Debug)]
pub(crate) struct ColumnRoles {
    pub(crate) target: usize,
    pub(crate) drop: HashSet<usize>,
    pub(crate) categorical: HashSet<usize>,
    pub(crate) numeric: HashSet<usize>,
    pub(crate) keep_personal: HashSet<usize>,
}

impl TabularConfig {
    /// Finds every configured column in `table`: unknown names, the target in a list, or a
    /// column forced both numeric and categorical are errors.
    pub(crate) fn resolve(&self, table: &CsvTable) -> Result<ColumnRoles> {
        let target = table.column_index(&self.target)?;
        let lookup = |field: &str, names: &[String]| -> Result<HashSet<usize>> {
            names
                .iter()
                .map(|name| {
                    let col = table.column_index(name).map_err(|_| {
                        TabularError::UnknownColumnInConfig {
                            name: name.clone(),
                            field: field.to_string(),
                            available: table.headers.clone(),
                        }
                    })?;
                    if col == target {
                        return Err(TabularError::ConflictingConfig {
                            name: name.clone(),
                            message: format!("the target column cannot be listed in {field}"),
                        });
                    }
                    Ok(col)
                })
                .collect()
        };
        let drop = lookup("drop_columns", &self.columns.drop_columns)?;
        let categorical = lookup("categorical_columns", &self.columns.categorical_columns)?;
        let numeric = lookup("numeric_columns", &self.columns.numeric_columns)?;
        let keep_personal = lookup("keep_personal", &self.columns.keep_personal)?;
        if let Some(&col) = categorical.intersection(&numeric).min() {
            return Err(TabularError::ConflictingConfig {
                name: table.headers.get(col).cloned().unwrap_or_default(),
                message: "listed in both categorical_columns and numeric_columns".into(),
            });
        }
        Ok(ColumnRoles {
            target,
            drop,
            categorical,
            numeric,
            keep_personal,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_defaults_match_default_impl() {
        let c = TabularConfig::from_json(r#"{"target": "churn"}"#).unwrap();
        assert_eq!(c, TabularConfig::new("churn"));
        assert!(c.columns.drop_constant);
        assert!(!c.columns.drop_id_like);
        assert!(c.columns.drop_personal && c.columns.keep_personal.is_empty());
        assert!(TabularConfig::default().columns.drop_constant);
        let c = TabularConfig::from_json(
            r#"{"target": "y", "positive": "yes", "drop_columns": ["id"], "drop_constant": false}"#,
        )
        .unwrap();
        assert_eq!(c.positive.as_deref(), Some("yes"));
        assert_eq!(c.columns.drop_columns, ["id"]);
        assert!(!c.columns.drop_constant);
    }

    #[test]
    fn unknown_or_missing_fields_are_rejected() {
        let err =
            TabularConfig::from_json(r#"{"target": "y", "drop_column": ["id"]}"#).unwrap_err();
        assert!(err.to_string().contains("drop_column"), "{err}");
        assert!(TabularConfig::from_json(r#"{"positive": "y"}"#).is_err());
    }

    #[test]
    fn bad_config_names_are_errors() {
        let t = CsvTable::parse("id,age,churn\na,1,y\nb,2,n\n").unwrap();
        let mut config = TabularConfig::new("churn");
        config.columns.drop_columns = vec!["nope".into()];
        let err = config.resolve(&t).unwrap_err();
        assert!(
            matches!(&err, TabularError::UnknownColumnInConfig { name, field, .. }
            if name == "nope" && field == "drop_columns")
        );
        assert!(
            err.to_string()
                .contains(r#"available columns: "id", "age", "churn""#)
        );
        config.columns.drop_columns = vec!["churn".into()];
        let err = config.resolve(&t).unwrap_err();
        assert!(matches!(err, TabularError::ConflictingConfig { .. }));
        let mut both = TabularConfig::new("churn");
        both.columns.numeric_columns = vec!["age".into()];
        both.columns.categorical_columns = vec![" age".into()];
        let err = both.resolve(&t).unwrap_err();
        assert!(matches!(&err, TabularError::ConflictingConfig { name, .. } if name == "age"));
        let err = TabularConfig::new("label").resolve(&t).unwrap_err();
        assert!(matches!(err, TabularError::MissingColumn { .. }));
        both.columns.categorical_columns.clear();
        both.columns.drop_columns = vec!["id".into()];
        let roles = both.resolve(&t).unwrap();
        assert_eq!(
            (roles.target, roles.drop.len(), roles.numeric.len()),
            (2, 1, 1)
        );
    }
}
