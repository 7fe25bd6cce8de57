//! The input's columns against the training schema: which training columns it lacks, which
//! of its columns the model does not know, and where each training column is.

use std::collections::{HashMap, HashSet};

use dark_knowledge_data::tabular::{TabularEncoder, TabularError};

use crate::error::{Error, Result};

/// What to do when the input lacks columns the model was trained on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingColumns {
    /// Refuse the input with [`Error::MissingColumns`] naming them (the default): a renamed
    /// or misspelled column would otherwise be scored as missing on every row.
    #[default]
    Refuse,
    /// Score them as missing values on every row, with a warning naming them.
    ScoreAsMissing,
}

/// The columns of an input (a CSV header, or the fields of a record) checked against the
/// training schema by [`Predictor::check_columns`](crate::Predictor::check_columns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputColumns {
    /// The input's column names, as matched (CSV headers trimmed).
    names: Vec<String>,
    /// For each feature column of the model, in order: its position in `names`.
    positions: Vec<Option<usize>>,
    /// Training columns the input lacks (only with [`MissingColumns::ScoreAsMissing`]).
    missing: Vec<String>,
    /// Input columns that are neither a feature, the target nor a dropped training column.
    unknown: Vec<String>,
}

impl InputColumns {
    /// The input's column names, as matched.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Training columns the input lacks, scored as missing on every row (empty unless
    /// [`MissingColumns::ScoreAsMissing`] was chosen).
    pub fn missing(&self) -> &[String] {
        &self.missing
    }

    /// Input columns the model does not know (neither a feature column, the target, nor a
    /// column dropped at training); they are ignored for scoring.
    pub fn unknown(&self) -> &[String] {
        &self.unknown
    }

    /// The `(column, value)` pairs of the model's feature columns in one row of `fields`
    /// (one per input column, in order).
    pub(crate) fn record<S: AsRef<str>>(
        &self,
        encoder: &TabularEncoder,
        fields: &[S],
    ) -> Result<HashMap<String, String>> {
        if fields.len() != self.names.len() {
            return Err(Error::FieldCount {
                expected: self.names.len(),
                got: fields.len(),
            });
        }
        Ok(encoder
            .columns
            .iter()
            .zip(&self.positions)
            .filter_map(|(c, at)| at.map(|i| (c.name.clone(), fields[i].as_ref().to_string())))
            .collect())
    }
}

/// The names a model knows: its feature columns (in order) and every column of the
/// training CSV (features, target, dropped columns).
#[derive(Debug, Clone)]
pub(crate) struct Schema {
    features: Vec<String>,
    feature_set: HashSet<String>,
    known: HashSet<String>,
}

impl Schema {
    pub(crate) fn of(encoder: &TabularEncoder) -> Self {
        let features: Vec<String> = encoder.columns.iter().map(|c| c.name.clone()).collect();
        let feature_set: HashSet<String> = features.iter().cloned().collect();
        let mut known = feature_set.clone();
        known.insert(encoder.target.column.clone());
        known.extend(encoder.dropped.iter().map(|(name, _)| name.clone()));
        Self {
            features,
            feature_set,
            known,
        }
    }

    /// The feature columns, in the model's order.
    pub(crate) fn features(&self) -> &[String] {
        &self.features
    }

    /// Checks `names` (matched exactly) against the schema under `policy`.
    ///
    /// # Errors
    /// [`Error::NoMatchingColumns`] when no feature column is there (whatever `policy`),
    /// [`Error::MissingColumns`] when some are not and `policy` refuses that,
    /// [`Error::Encoding`] with a duplicate-column error when a feature column is given twice.
    pub(crate) fn check(&self, names: Vec<String>, policy: MissingColumns) -> Result<InputColumns> {
        let mut first: HashMap<&str, usize> = HashMap::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            if let Some(&j) = first.get(name.as_str()) {
                if self.feature_set.contains(name) {
                    return Err(TabularError::DuplicateColumn {
                        name: name.clone(),
                        first: j + 1,
                        second: i + 1,
                    }
                    .into());
                }
            } else {
                first.insert(name, i);
            }
        }
        let positions: Vec<Option<usize>> = self
            .features
            .iter()
            .map(|f| first.get(f.as_str()).copied())
            .collect();
        let missing: Vec<String> = self
            .features
            .iter()
            .zip(&positions)
            .filter(|(_, at)| at.is_none())
            .map(|(f, _)| f.clone())
            .collect();
        if missing.len() == self.features.len() {
            return Err(Error::NoMatchingColumns {
                expected: self.features.clone(),
                suggestions: suggestions(&missing, &names),
                found: names,
            });
        }
        if !missing.is_empty() && policy == MissingColumns::Refuse {
            return Err(Error::MissingColumns {
                suggestions: suggestions(&missing, &names),
                missing,
                found: names,
            });
        }
        let unknown = names
            .iter()
            .filter(|n| !self.known.contains(n.as_str()))
            .cloned()
            .collect();
        Ok(InputColumns {
            names,
            positions,
            missing,
            unknown,
        })
    }

    /// Checks the fields of one record (exact names), without collecting anything when
    /// every feature is there and no field is unknown (the common case, once per record).
    pub(crate) fn check_record<'a>(
        &self,
        keys: impl ExactSizeIterator<Item = &'a String> + Clone,
        policy: MissingColumns,
    ) -> Result<Option<InputColumns>> {
        let present = keys
            .clone()
            .filter(|k| self.feature_set.contains(k.as_str()))
            .count();
        let all_known = keys.clone().all(|k| self.known.contains(k.as_str()));
        if present == self.features.len() && all_known {
            return Ok(None);
        }
        let mut names: Vec<String> = keys.cloned().collect();
        names.sort();
        self.check(names, policy).map(Some)
    }
}

/// The CSV reader's names for a header: trimmed, an empty name is `column_N` (1-based), as
/// when the training CSV was read.
pub(crate) fn header_names<S: AsRef<str>>(header: &[S]) -> Vec<String> {
    header
        .iter()
        .enumerate()
        .map(|(i, h)| match h.as_ref().trim() {
            "" => format!("column_{}", i + 1),
            name => name.to_string(),
        })
        .collect()
}

/// `(training column, input column)` for each missing column that an input column spells
/// differently only in letter case or surrounding spaces.
fn suggestions(missing: &[String], names: &[String]) -> Vec<(String, String)> {
    let fold = |s: &str| s.trim().to_lowercase();
    missing
        .iter()
        .filter_map(|m| {
            let key = fold(m);
            names
                .iter()
                .find(|n| *n != m && fold(n) == key)
                .map(|n| (m.clone(), n.clone()))
        })
        .collect()
}
