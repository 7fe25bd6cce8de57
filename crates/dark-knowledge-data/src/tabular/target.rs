//! Class labels of the target column.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::tabular::error::{Result, TabularError};
use crate::tabular::table::CsvTable;

/// The class labels of the target column.
///
/// `classes` holds the distinct trimmed label strings, sorted: by numeric value when every
/// label is a finite number (so `"2"` comes before `"10"`), otherwise as strings. When
/// `positive` is given, the positive label is placed LAST (index `num_classes() - 1`), so for
/// binary targets class 1 = positive. Labels are kept verbatim (spaces, brackets, quotes and
/// commas included); `"1"` and `"1.0"` are different labels.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TargetEncoding {
    /// Name of the target column.
    pub column: String,
    /// Class labels; the position of a label is its class index.
    pub classes: Vec<String>,
    /// The positive label, if one was requested (then it is `classes.last()`).
    pub positive: Option<String>,
}

impl TargetEncoding {
    /// Collects the labels of `column` over all rows of `table`.
    ///
    /// Errors: no such column ([`TabularError::MissingColumn`]), a row without label
    /// ([`TabularError::MissingTarget`]), fewer than two labels
    /// ([`TabularError::SingleClass`]), `positive` not among the labels
    /// ([`TabularError::UnknownPositiveLabel`]).
    pub fn fit(table: &CsvTable, column: &str, positive: Option<&str>) -> Result<Self> {
        Self::fit_inner(table, column, positive, false)
    }

    /// [`TargetEncoding::fit`] where a row without label is allowed (an unlabelled,
    /// transfer-set row) and only the labelled rows define the classes.
    ///
    /// Errors: as [`TargetEncoding::fit`], except for missing labels.
    pub fn fit_partial(table: &CsvTable, column: &str, positive: Option<&str>) -> Result<Self> {
        Self::fit_inner(table, column, positive, true)
    }

    /// The class index of every row, `None` for a row without label; an unknown label is
    /// an error naming its line.
    pub fn labels_partial(&self, table: &CsvTable) -> Result<Vec<Option<usize>>> {
        let col = table.column_index(&self.column)?;
        (0..table.len())
            .map(|row| match table.cell(row, col)? {
                None => Ok(None),
                Some(_) => Ok(Some(self.labels_for_rows(table, &[row])?[0])),
            })
            .collect()
    }

    fn fit_inner(
        table: &CsvTable,
        column: &str,
        positive: Option<&str>,
        allow_missing: bool,
    ) -> Result<Self> {
        let col = table.column_index(column)?;
        let column = table.headers.get(col).cloned().unwrap_or_default();
        if table.is_empty() {
            return Err(TabularError::NoDataRows);
        }
        let mut seen = BTreeSet::new();
        for row in 0..table.len() {
            match table.cell(row, col)? {
                Some(label) => {
                    seen.insert(label);
                }
                None if allow_missing => {}
                None => {
                    return Err(TabularError::MissingTarget {
                        line: table.line(row),
                        column,
                    });
                }
            }
        }
        let mut classes: Vec<String> = seen.into_iter().map(str::to_string).collect();
        sort_labels(&mut classes);
        if classes.len() < 2 {
            let label = classes.pop().unwrap_or_default();
            return Err(TabularError::SingleClass { column, label });
        }
        let positive = match positive.map(str::trim) {
            None => None,
            Some(p) => {
                let Some(i) = classes.iter().position(|c| c == p) else {
                    return Err(TabularError::UnknownPositiveLabel {
                        label: p.to_string(),
                        available: classes,
                    });
                };
                let label = classes.remove(i);
                classes.push(label.clone());
                Some(label)
            }
        };
        Ok(Self {
            column,
            classes,
            positive,
        })
    }

    /// The class index of every row of `table` (the target column is found by name).
    pub fn labels(&self, table: &CsvTable) -> Result<Vec<usize>> {
        let all: Vec<usize> = (0..table.len()).collect();
        self.labels_for_rows(table, &all)
    }

    /// The class index of the given data rows (0-based indices into `table.rows`).
    pub fn labels_for_rows(&self, table: &CsvTable, rows: &[usize]) -> Result<Vec<usize>> {
        let col = table.column_index(&self.column)?;
        rows.iter()
            .map(|&row| {
                let line = table.line(row);
                let label = table.cell(row, col)?.ok_or(TabularError::MissingTarget {
                    line,
                    column: self.column.clone(),
                })?;
                self.index_of(label)
                    .ok_or_else(|| TabularError::UnknownLabel {
                        line,
                        column: self.column.clone(),
                        label: label.to_string(),
                        available: self.classes.clone(),
                    })
            })
            .collect()
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.classes.len()
    }

    /// Class index of `label` (surrounding whitespace ignored), if it is a known class.
    pub fn index_of(&self, label: &str) -> Option<usize> {
        let label = label.trim();
        self.classes.iter().position(|c| c == label)
    }

    /// Checks the invariants `fit` guarantees (used when loading a saved encoder).
    pub fn validate(&self) -> Result<()> {
        let bad = |message: String| Err(TabularError::InvalidEncoder { message });
        if self.classes.len() < 2 {
            return bad(format!("target {:?} has fewer than 2 classes", self.column));
        }
        let distinct: BTreeSet<&String> = self.classes.iter().collect();
        if distinct.len() != self.classes.len() {
            return bad(format!("target {:?} repeats a class", self.column));
        }
        if let Some(p) = &self.positive
            && self.classes.last() != Some(p)
        {
            return bad(format!("positive label {p:?} is not the last class"));
        }
        Ok(())
    }
}

/// Numeric order when every label is a finite number, string order otherwise.
fn sort_labels(labels: &mut [String]) {
    let numbers: Option<Vec<f64>> = labels
        .iter()
        .map(|l| l.parse::<f64>().ok().filter(|x| x.is_finite()))
        .collect();
    match numbers {
        Some(nums) => {
            let mut pairs: Vec<(f64, String)> =
                nums.into_iter().zip(labels.iter().cloned()).collect();
            pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
            for (slot, (_, label)) in labels.iter_mut().zip(pairs) {
                *slot = label;
            }
        }
        None => labels.sort(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> CsvTable {
        CsvTable::parse(text).unwrap()
    }

    #[test]
    fn awkward_labels_survive_quoting() {
        let mut w = csv::Writer::from_writer(Vec::new());
        let labels = ["two words", "a, b", "[x]", "say \"hi\"", " padded "];
        w.write_record(["f", "label"]).unwrap();
        for (i, l) in labels.iter().enumerate() {
            w.write_record([i.to_string().as_str(), l]).unwrap();
        }
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        let t = table(&text);
        let enc = TargetEncoding::fit(&t, "label", Some("a, b")).unwrap();
        assert_eq!(
            enc.classes,
            ["[x]", "padded", "say \"hi\"", "two words", "a, b"]
        );
        assert_eq!(enc.labels(&t).unwrap(), [3, 4, 0, 2, 1]);
        assert_eq!(enc.index_of("say \"hi\""), Some(2));
    }

    #[test]
    fn positive_label_goes_last() {
        let t = table("x,y\n1,yes\n2,no\n3,maybe\n4,yes\n");
        let plain = TargetEncoding::fit(&t, "y", None).unwrap();
        assert_eq!(plain.classes, ["maybe", "no", "yes"]);
        let enc = TargetEncoding::fit(&t, "y", Some("maybe")).unwrap();
        assert_eq!(enc.classes, ["no", "yes", "maybe"]);
        assert_eq!(enc.positive.as_deref(), Some("maybe"));
        assert_eq!(enc.num_classes(), 3);
        assert_eq!(enc.labels(&t).unwrap(), [1, 0, 2, 1]);
        let binary = table("x,churn\n1,True\n2,False\n");
        let enc = TargetEncoding::fit(&binary, "churn", Some("False")).unwrap();
        assert_eq!(enc.classes, ["True", "False"]);
        assert_eq!(enc.labels(&binary).unwrap(), [0, 1]);
    }

    #[test]
    fn numeric_labels_sort_by_value() {
        let t = table("y\n10\n2\n1\n2\n");
        let enc = TargetEncoding::fit(&t, "y", None).unwrap();
        assert_eq!(enc.classes, ["1", "2", "10"]);
    }

    #[test]
    fn missing_target_column_lists_available() {
        let t = table("a,b\n1,2\n");
        let err = TargetEncoding::fit(&t, "label", None).unwrap_err();
        match &err {
            TabularError::MissingColumn { name, available } => {
                assert_eq!(name, "label");
                assert_eq!(available, &["a", "b"]);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().contains(r#"available columns: "a", "b""#));
    }

    #[test]
    fn missing_label_names_line() {
        let t = table("x,y\n1,a\n2,NA\n3,b\n");
        let err = TargetEncoding::fit(&t, "y", None).unwrap_err();
        assert!(
            matches!(err, TabularError::MissingTarget { line: 3, ref column } if column == "y")
        );
    }

    #[test]
    fn single_class_and_unknown_positive() {
        let t = table("x,y\n1,a\n2,a\n");
        let err = TargetEncoding::fit(&t, "y", None).unwrap_err();
        assert!(matches!(err, TabularError::SingleClass { ref label, .. } if label == "a"));
        let t = table("x,y\n1,a\n2,b\n");
        let err = TargetEncoding::fit(&t, "y", Some("c")).unwrap_err();
        match err {
            TabularError::UnknownPositiveLabel { label, available } => {
                assert_eq!(label, "c");
                assert_eq!(available, ["a", "b"]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unseen_label_at_labelling_time_is_an_error() {
        let enc = TargetEncoding::fit(&table("y\na\nb\n"), "y", None).unwrap();
        let other = table("y\na\nz\n");
        let err = enc.labels(&other).unwrap_err();
        assert!(
            matches!(err, TabularError::UnknownLabel { line: 3, ref label, .. } if label == "z")
        );
        assert_eq!(enc.labels_for_rows(&other, &[0]).unwrap(), [0]);
    }

    #[test]
    fn validate_catches_broken_encodings() {
        let mut enc = TargetEncoding::fit(&table("y\na\nb\n"), "y", Some("a")).unwrap();
        assert!(enc.validate().is_ok());
        enc.classes.reverse();
        assert!(enc.validate().is_err());
        enc.classes = vec!["a".into(), "a".into()];
        assert!(enc.validate().is_err());
    }
}
