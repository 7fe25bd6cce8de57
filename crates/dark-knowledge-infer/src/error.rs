//! Errors of the inference crate.

use std::path::PathBuf;

/// What can go wrong when loading a model or scoring records.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A record that cannot be encoded (e.g. text in a numeric field).
    #[error(transparent)]
    Encoding(#[from] dark_knowledge_data::tabular::TabularError),
    /// An invalid value or device name.
    #[error(transparent)]
    Core(#[from] dark_knowledge_core::Error),
    /// The run's model is missing, invalid, or does not fit its description.
    #[error(transparent)]
    Model(#[from] dark_knowledge_models::ModelError),
    /// The run's `preprocessing.json` cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Preprocessing {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The role's `calibration.json` cannot be read or holds no usable temperature.
    #[error(
        "{}: {reason} (expected {{\"temperature\": T}} with T a finite number > 0; \
         delete the file or score with --uncalibrated)",
        path.display()
    )]
    Calibration {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The preprocessing and the model disagree on the number of features.
    #[error("{} encodes {encoded} features but the {role} model reads {model}", path.display())]
    FeatureCountMismatch {
        /// `preprocessing.json`.
        path: PathBuf,
        /// The model's role in the run.
        role: String,
        /// Features the preprocessing makes.
        encoded: usize,
        /// Features the model reads.
        model: usize,
    },
    /// Records given to a run without `preprocessing.json` (an image run, or a CSV run whose
    /// preprocessing was deleted).
    #[error(
        "this run has no preprocessing.json (an image run, or its preprocessing was deleted): \
         records cannot be encoded; pass encoded features to predict_proba_features"
    )]
    NoPreprocessing,
    /// The input lacks columns the model was trained on (refused by default, see
    /// [`MissingColumns`](crate::MissingColumns)).
    #[error(
        "the input lacks {} of the model's training columns: {}; the input's columns: {}. \
         Rename the columns to the training names, or allow scoring them as missing values \
         (MissingColumns::ScoreAsMissing; `--allow-missing-columns` on the command line)",
        missing.len(),
        suggested(missing, suggestions),
        quoted(found)
    )]
    MissingColumns {
        /// The training columns not found, in the model's order.
        missing: Vec<String>,
        /// `(training column, input column)` pairs that differ only in letter case or
        /// surrounding spaces.
        suggestions: Vec<(String, String)>,
        /// The input's columns.
        found: Vec<String>,
    },
    /// None of the input's columns is a column the model reads: every row would be scored
    /// as all missing (refused whatever the [`MissingColumns`](crate::MissingColumns) policy).
    #[error(
        "none of the input's columns is a training column of the model: found {}; expected {}",
        quoted(found),
        suggested(expected, suggestions)
    )]
    NoMatchingColumns {
        /// The model's feature columns.
        expected: Vec<String>,
        /// `(training column, input column)` pairs that differ only in letter case or
        /// surrounding spaces.
        suggestions: Vec<(String, String)>,
        /// The input's columns.
        found: Vec<String>,
    },
    /// A row with another number of fields than the checked columns.
    #[error("{got} fields, expected {expected} as in the header")]
    FieldCount {
        /// Columns of the header.
        expected: usize,
        /// Fields of the row.
        got: usize,
    },
    /// CSV rows given to a run trained on images.
    #[error(
        "the run in {} was trained on images and has no CSV preprocessing: score IDX images \
         with --data-dir, not CSV rows",
        run_dir.display()
    )]
    ImageRun {
        /// The run folder.
        run_dir: PathBuf,
    },
    /// Images given to a run trained on CSV data.
    #[error(
        "the run in {} was trained on CSV data: score it with --csv, not images",
        run_dir.display()
    )]
    TabularRun {
        /// The run folder.
        run_dir: PathBuf,
    },
    /// A run trained on CSV data whose `preprocessing.json` is gone: its rows cannot be
    /// encoded as in training.
    #[error(
        "{} is missing: the run was trained on CSV data and cannot score rows without the \
         preprocessing fitted in training (restore the file, or train the run again)",
        path.display()
    )]
    MissingPreprocessing {
        /// The missing file.
        path: PathBuf,
    },
    /// The output file is the input file (the same path, a link to it, or a hard link):
    /// writing it would replace the input.
    #[error(
        "--out {} is the input file {}: writing the scores would replace it; choose another \
         output file",
        out.display(),
        input.display()
    )]
    OutputIsInput {
        /// The output path given.
        out: PathBuf,
        /// The input it resolves to.
        input: PathBuf,
    },
    /// The output path is a folder.
    #[error("--out {} is a folder: give the path of the file to write", out.display())]
    OutputIsFolder {
        /// The output path given.
        out: PathBuf,
    },
}

/// At most this many names are listed in a message.
const MAX_LISTED: usize = 30;

/// `"a", "b"`, or `(none)`; long lists are cut after [`MAX_LISTED`] names.
fn quoted(names: &[String]) -> String {
    suggested(names, &[])
}

/// Like [`quoted`], with ` (did you mean "Age"?)` after each name that has a suggestion.
fn suggested(names: &[String], suggestions: &[(String, String)]) -> String {
    if names.is_empty() {
        return "(none)".to_string();
    }
    let mut text = names
        .iter()
        .take(MAX_LISTED)
        .map(|n| match suggestions.iter().find(|(name, _)| name == n) {
            Some((_, input)) => format!("{n:?} (did you mean {input:?}?)"),
            None => format!("{n:?}"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > MAX_LISTED {
        text.push_str(&format!(" and {} more", names.len() - MAX_LISTED));
    }
    text
}

/// The result type of the inference crate.
pub type Result<T> = std::result::Result<T, Error>;
