//! What a checkpoint's header records, and checking that it fits the run resuming from it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::file::{self, Parts};
use super::{CheckpointConfig, CheckpointError};
use crate::evaluate::Sums;
use crate::history::EpochRecord;
use crate::stopping::EarlyStop;

/// The header format; a checkpoint of another format is refused.
const FORMAT: u32 = 1;

/// What identifies an experiment: a checkpoint is only resumed by a run with the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Fingerprint {
    /// The trainer settings, as JSON.
    pub settings: serde_json::Value,
    /// The user's tag ([`CheckpointConfig::tag`]).
    pub tag: String,
    /// Students trained together.
    pub students: usize,
    pub train_rows: usize,
    pub valid_rows: usize,
    pub classes: usize,
    pub features: Option<usize>,
    /// Each teacher's description.
    pub teachers: Vec<String>,
    /// The loss terms' names.
    pub terms: Vec<String>,
}

/// Where the run is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Position {
    /// The epoch in progress (0-based); `epochs` once the run is over.
    pub epoch: usize,
    /// Batches of that epoch already trained.
    pub batches_done: usize,
    /// Optimizer steps of the run so far.
    pub step: usize,
    /// Seconds spent in the epoch in progress before the checkpoint.
    pub seconds: f64,
}

/// The best model so far, without its weights (a section of its own).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BestState {
    pub epoch: usize,
    pub accuracy: f64,
    pub loss: f64,
}

/// One student's state besides its weights and optimizer (sections of their own).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StudentState {
    /// The sums of the epoch in progress.
    pub sums: Option<Sums>,
    pub history: Vec<EpochRecord>,
    pub best: Option<BestState>,
    pub stopped: Option<EarlyStop>,
}

/// A checkpoint's header.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Header {
    pub format: u32,
    pub fingerprint: Fingerprint,
    pub position: Position,
    pub students: Vec<StudentState>,
}

impl Header {
    pub(crate) fn new(
        fingerprint: Fingerprint,
        position: Position,
        students: Vec<StudentState>,
    ) -> Self {
        Self {
            format: FORMAT,
            fingerprint,
            position,
            students,
        }
    }
}

/// A checkpoint read back: its header and, per student, the student's weights, its
/// optimizer state and its best model (empty when it has none yet).
pub(crate) struct Restored {
    pub path: PathBuf,
    pub header: Header,
    pub sections: Vec<Vec<u8>>,
}

/// Sections per student.
pub(crate) const SECTIONS: usize = 3;

/// Writes a checkpoint of `header` and `sections` into the configured directory.
pub(crate) fn save(
    config: &CheckpointConfig,
    header: &Header,
    sections: &[Vec<u8>],
) -> Result<PathBuf, CheckpointError> {
    let json = serde_json::to_vec(header).map_err(|e| CheckpointError::Io {
        path: config.dir.clone(),
        source: std::io::Error::other(e),
    })?;
    let bytes = file::encode(&json, sections);
    file::write(&config.dir, header.position.step, &bytes, config.keep)
}

/// Reads the checkpoint at `path` and checks that it belongs to the experiment `expected`.
pub(crate) fn load(path: &Path, expected: &Fingerprint) -> Result<Restored, CheckpointError> {
    let bytes = std::fs::read(path).map_err(|source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let Parts { header, sections } = file::decode(path, &bytes)?;
    let format = serde_json::from_slice::<serde_json::Value>(&header)
        .ok()
        .and_then(|v| v.get("format").and_then(|f| f.as_u64()));
    if format != Some(u64::from(FORMAT)) {
        return Err(CheckpointError::damaged(
            path,
            format!("header format {format:?}, this version reads format {FORMAT}"),
        ));
    }
    let header: Header = serde_json::from_slice(&header)
        .map_err(|e| CheckpointError::damaged(path, format!("unreadable header: {e}")))?;
    check_fits(path, &header.fingerprint, expected)?;
    if header.students.len() != expected.students || sections.len() != expected.students * SECTIONS
    {
        return Err(CheckpointError::damaged(
            path,
            format!(
                "{} sections for {} students",
                sections.len(),
                header.students.len()
            ),
        ));
    }
    Ok(Restored {
        path: path.to_path_buf(),
        header,
        sections,
    })
}

/// The first difference between the checkpoint's experiment and this run's.
fn check_fits(path: &Path, saved: &Fingerprint, run: &Fingerprint) -> Result<(), CheckpointError> {
    let mismatch = |what: &str, expected: String, found: String| {
        Err(CheckpointError::Mismatch {
            path: path.to_path_buf(),
            what: what.to_string(),
            expected,
            found,
        })
    };
    if saved.settings != run.settings {
        let (key, a, b) = first_difference(&saved.settings, &run.settings);
        return mismatch(&format!("setting `{key}`"), a, b);
    }
    let pairs: [(&str, String, String); 8] = [
        ("tag", saved.tag.clone(), run.tag.clone()),
        (
            "number of students",
            saved.students.to_string(),
            run.students.to_string(),
        ),
        (
            "number of training rows",
            saved.train_rows.to_string(),
            run.train_rows.to_string(),
        ),
        (
            "number of validation rows",
            saved.valid_rows.to_string(),
            run.valid_rows.to_string(),
        ),
        (
            "number of classes",
            saved.classes.to_string(),
            run.classes.to_string(),
        ),
        (
            "number of features",
            format!("{:?}", saved.features),
            format!("{:?}", run.features),
        ),
        (
            "teachers",
            format!("{:?}", saved.teachers),
            format!("{:?}", run.teachers),
        ),
        (
            "loss terms",
            format!("{:?}", saved.terms),
            format!("{:?}", run.terms),
        ),
    ];
    for (what, a, b) in pairs {
        if a != b {
            return mismatch(what, a, b);
        }
    }
    Ok(())
}

/// The dotted key of the first value that differs between two JSON documents, and both
/// values.
fn first_difference(a: &serde_json::Value, b: &serde_json::Value) -> (String, String, String) {
    use serde_json::Value;
    if let (Value::Object(x), Value::Object(y)) = (a, b) {
        let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
        for key in keys {
            let (va, vb) = (
                x.get(key).unwrap_or(&Value::Null),
                y.get(key).unwrap_or(&Value::Null),
            );
            if va != vb {
                let (sub, da, db) = first_difference(va, vb);
                let full = if sub.is_empty() {
                    key.clone()
                } else {
                    format!("{key}.{sub}")
                };
                return (full, da, db);
            }
        }
    }
    (String::new(), a.to_string(), b.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_differing_setting_is_named() {
        let a = serde_json::json!({"epochs": 3, "optimizer": {"kind": "adam", "beta_1": 0.9}});
        let b = serde_json::json!({"epochs": 3, "optimizer": {"kind": "adam", "beta_1": 0.8}});
        let (key, x, y) = first_difference(&a, &b);
        assert_eq!(
            (key.as_str(), x.as_str(), y.as_str()),
            ("optimizer.beta_1", "0.9", "0.8")
        );
    }
}
