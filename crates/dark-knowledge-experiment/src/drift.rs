//! Drift between a run's training data and new rows (`predict` and `dark-knowledge drift`).
//!
//! A tabular run stores, next to `preprocessing.json`, `drift_reference.json`: a
//! [`ColumnProfile`] of every input column the encoder keeps, made from the training rows'
//! raw values ([`REFERENCE_BINS`] quantile bins for a numeric column, level shares for a
//! categorical one, missing values as their own bin). Each saved model folder holds
//! `score_reference.json`: the profile of the model's score on the training rows (the
//! positive class's probability of a binary target, the top probability otherwise). New
//! rows are compared against both with PSI, KS and χ² ([`dark_knowledge_eval`]'s drift
//! statistics), see `docs/drift.md`.

use std::path::Path;

use dark_knowledge_data::tabular::{CsvTable, TabularEncoder};
use dark_knowledge_eval::{ColumnProfile, DriftLevel, DriftReport, PSI_WATCH};
use dark_knowledge_models::AnyModel;
use serde::{Deserialize, Serialize};

use crate::error::{Context, Result};
use crate::experiment::{DataConfig, DataSource};
use crate::prepare::Prepared;

mod sample;

pub use sample::{DriftSample, report_paths, write_report};

/// The run's reference distributions of the input columns, in the run folder.
pub const DRIFT_REFERENCE: &str = "drift_reference.json";
/// A model's reference score distribution, in its role folder.
pub const SCORE_REFERENCE: &str = "score_reference.json";
/// Quantile bins of a numeric reference column (and of a score).
pub const REFERENCE_BINS: usize = 10;
/// Version of [`DriftReference`] and [`ScoreReference`]; other versions are refused.
pub const FORMAT_VERSION: u32 = 1;

/// `drift_reference.json`: one profile per input column the encoder keeps.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct DriftReference {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Training rows profiled.
    pub rows: usize,
    /// The encoder's columns, in its order.
    pub columns: Vec<ReferenceColumn>,
}

/// One input column's reference profile.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ReferenceColumn {
    /// The column's name in the training CSV.
    pub name: String,
    /// Its profile on the training rows' raw values.
    pub profile: ColumnProfile,
}

/// `RUN/<role>/score_reference.json`: a model's score on the training rows.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ScoreReference {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The score's name in reports: `score p_<class>` (binary target) or
    /// `score max_probability`.
    pub name: String,
    /// The class whose (uncalibrated) probability is the score; `None`: the top probability.
    pub class: Option<usize>,
    /// Training rows profiled.
    pub rows: usize,
    /// The score's profile.
    pub profile: ColumnProfile,
}

impl ScoreReference {
    /// The score of one row of (uncalibrated) class probabilities.
    pub fn score_of(&self, probabilities: &[f32]) -> f32 {
        score_of(self.class, probabilities)
    }
}

/// The probability of `class`, or the top probability when `None`.
fn score_of(class: Option<usize>, probabilities: &[f32]) -> f32 {
    match class {
        Some(c) => probabilities.get(c).copied().unwrap_or(f32::NAN),
        None => probabilities.iter().copied().fold(0.0, f32::max),
    }
}

/// The raw text of the data `config` reads (the embedded churn CSV or the CSV file).
fn read_table(config: &DataConfig) -> Result<Option<CsvTable>> {
    Ok(match config.source {
        DataSource::Churn => Some(CsvTable::parse(dark_knowledge_data::CHURN_CSV)?),
        DataSource::Csv => match &config.path {
            Some(path) => Some(
                CsvTable::from_path(path).with_context(|| format!("reading {}", path.display()))?,
            ),
            None => None,
        },
        DataSource::FashionMnist => None,
    })
}

/// The reference profiles of `encoder`'s columns on `rows` (0-based) of `table`.
///
/// # Errors
/// A column the table lacks, or no rows.
pub fn reference_of(
    table: &CsvTable,
    encoder: &TabularEncoder,
    rows: &[usize],
) -> Result<DriftReference> {
    let mut columns = Vec::with_capacity(encoder.columns.len());
    for column in &encoder.columns {
        let col = table.column_index(&column.name)?;
        let cells = rows
            .iter()
            .map(|&r| table.cell(r, col))
            .collect::<std::result::Result<Vec<Option<&str>>, _>>()?;
        let profile = match column.kind() {
            dark_knowledge_data::tabular::ColumnKind::Numeric => {
                let values: Vec<Option<f64>> = cells.iter().map(|c| sample::number(*c)).collect();
                ColumnProfile::numeric(&values, REFERENCE_BINS)?
            }
            dark_knowledge_data::tabular::ColumnKind::Categorical => {
                ColumnProfile::categorical(&cells)?
            }
        };
        columns.push(ReferenceColumn {
            name: column.name.clone(),
            profile,
        });
    }
    Ok(DriftReference {
        format_version: FORMAT_VERSION,
        rows: rows.len(),
        columns,
    })
}

/// Writes `run_dir/drift_reference.json` for a tabular run: the profiles of the encoder's
/// columns on the training rows (the rows the models train on). Nothing for image runs.
///
/// # Errors
/// The data cannot be read again, or the file cannot be written.
pub fn write_drift_reference(run_dir: &Path, config: &DataConfig, data: &Prepared) -> Result<()> {
    let (Some(encoder), Some(table)) = (&data.encoder, read_table(config)?) else {
        return Ok(());
    };
    let reference = reference_of(&table, encoder, data.train.row_ids())?;
    write_json(&run_dir.join(DRIFT_REFERENCE), &reference)
}

/// Writes `role_dir/score_reference.json`: the profile of `model`'s score on the training
/// rows (tabular runs only; the model is the trainer's `valid()` output).
///
/// # Errors
/// The file cannot be written.
pub fn write_score_reference(role_dir: &Path, model: &AnyModel, data: &Prepared) -> Result<()> {
    if data.encoder.is_none() || data.train.is_empty() {
        return Ok(());
    }
    let nc = data.num_classes();
    let probs = dark_knowledge_eval::predict_proba(model, &data.train, 1024);
    let class = if nc == 2 { data.positive_class } else { None };
    let name = match class {
        Some(c) => format!("score p_{}", data.class_names[c]),
        None => "score max_probability".to_string(),
    };
    let scores: Vec<f32> = probs.chunks(nc).map(|p| score_of(class, p)).collect();
    let reference = ScoreReference {
        format_version: FORMAT_VERSION,
        name,
        class,
        rows: data.train.len(),
        profile: ColumnProfile::scores(&scores, REFERENCE_BINS)?,
    };
    write_json(&role_dir.join(SCORE_REFERENCE), &reference)
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    dark_knowledge_core::io::write_atomic(path, text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// Reads a reference file through its folder's `CHECKSUMS`; `Ok(None)` when absent.
fn read_reference<T: serde::de::DeserializeOwned>(
    path: &Path,
    version: impl Fn(&T) -> u32,
) -> Result<Option<T>> {
    let bytes = match dark_knowledge_core::checksums::read_verified(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let value: T = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a valid drift reference", path.display()))?;
    if version(&value) != FORMAT_VERSION {
        crate::bail!(
            "{} has format_version {} (this version reads {FORMAT_VERSION}); train the run again",
            path.display(),
            version(&value)
        );
    }
    Ok(Some(value))
}

/// The run's `drift_reference.json`, `None` for a run made before drift references (or an
/// image run).
///
/// # Errors
/// The file is there but unreadable, fails its checksum or is not a reference.
pub fn load_reference(run_dir: &Path) -> Result<Option<DriftReference>> {
    read_reference(&run_dir.join(DRIFT_REFERENCE), |r: &DriftReference| {
        r.format_version
    })
}

/// The role's `score_reference.json`, `None` when it has none (e.g. a quantized model).
///
/// # Errors
/// As [`load_reference`].
pub fn load_score_reference(role_dir: &Path) -> Result<Option<ScoreReference>> {
    read_reference(&role_dir.join(SCORE_REFERENCE), |r: &ScoreReference| {
        r.format_version
    })
}

/// Drift of the input columns of `csv_path` against the run's training rows, without a
/// model: rows that `predict` would skip (a field count that differs from the header's, a
/// numeric cell that is not a number) are left out; training columns absent from the CSV
/// count as missing on every row (a warning names them).
///
/// # Errors
/// The run has no `drift_reference.json`; the CSV cannot be read or has no usable row.
pub fn drift(run_dir: &Path, csv_path: &Path) -> Result<DriftReport> {
    let reference = load_reference(run_dir)?.with_context(|| {
        format!(
            "{} has no {DRIFT_REFERENCE} (runs trained before drift references have none): train the teacher again to make one",
            run_dir.display()
        )
    })?;
    let mut reader = sample::open_csv(csv_path)?;
    let headers = sample::header_of(&mut reader, csv_path)?;
    let mut drift = DriftSample::new(&reference, &headers);
    for record in reader.records().flatten() {
        let fields: Vec<&str> = record.iter().collect();
        // A row `predict` would skip is left out here too.
        let _ = drift.push(&fields);
    }
    drift
        .report(&reference, None)
        .with_context(|| format!("measuring the drift of {}", csv_path.display()))
}

/// One line for a person: `drift: act on a (PSI 0.41); watch b (PSI 0.12)` or
/// `drift: none over 0.1 (N columns)`.
pub fn summary_line(report: &DriftReport) -> String {
    let list = |level: DriftLevel| {
        report
            .columns
            .iter()
            .filter(|c| c.level == level)
            .map(|c| format!("{} (PSI {:.2})", c.column, c.psi))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (act, watch) = (list(DriftLevel::Act), list(DriftLevel::Watch));
    match (act.is_empty(), watch.is_empty()) {
        (true, true) => format!(
            "drift: none over {PSI_WATCH} ({} columns)",
            report.columns.len()
        ),
        (false, true) => format!("drift: act on {act}"),
        (true, false) => format!("drift: watch {watch}"),
        (false, false) => format!("drift: act on {act}; watch {watch}"),
    }
}
