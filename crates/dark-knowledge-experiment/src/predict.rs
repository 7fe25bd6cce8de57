//! `predict`: scores a CSV of new rows with a run's model, streaming, so a file larger than
//! memory works, or the images of an IDX folder ([`predict_images`]).
//!
//! Everything that can be checked is checked before the output file is created: the run
//! has the kind of data given (a CSV run and its `preprocessing.json`, or an image run),
//! the CSV's header holds the training columns (see [`MissingColumns`]), and the output is
//! not the input. The output is written to a temporary file and renamed at the end; on an
//! error the temporary file is removed and an existing output is left as it was.

use std::path::Path;

use crate::bail;
use crate::error::{Context, Result};
use crate::experiment::DataSource;
use burn::tensor::Device;
use dark_knowledge_infer::{Error as InferError, InputColumns, Predictor};

mod images;
mod output;

pub use dark_knowledge_infer::MissingColumns;
pub use images::{ImageSplit, predict_images};
use output::{check_output, close, create, csv_writer, finish, run_data_source};

/// Rows scored per forward pass.
const CHUNK: usize = 1024;
/// Bad rows reported one by one before only counting them.
const MAX_REPORTED: usize = 20;

/// What to do with a row that cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum OnBadRow {
    /// Report it (line number and reason) and go on.
    Skip,
    /// Stop with an error naming it; no output file is left.
    Fail,
}

/// How [`predict_with`] treats rows and columns it cannot score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PredictOptions {
    /// A row that cannot be read: skipped (the default) or an error.
    pub on_bad_row: OnBadRow,
    /// Training columns absent from the CSV: an error naming them (the default) or scored
    /// as missing values, with a warning.
    pub missing_columns: MissingColumns,
}

impl Default for PredictOptions {
    fn default() -> Self {
        Self {
            on_bad_row: OnBadRow::Skip,
            missing_columns: MissingColumns::Refuse,
        }
    }
}

/// Counts of a finished `predict` run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PredictSummary {
    /// Rows written.
    pub scored: usize,
    /// Rows skipped.
    pub skipped: usize,
}

/// [`predict_with`] with `on_bad_row` and the default options otherwise (training columns
/// absent from the CSV are an error).
///
/// # Errors
/// As [`predict_with`].
pub fn predict(
    run_dir: &Path,
    role: &str,
    input: &Path,
    out: &Path,
    on_bad_row: OnBadRow,
    device: &Device,
) -> Result<PredictSummary> {
    let options = PredictOptions {
        on_bad_row,
        ..PredictOptions::default()
    };
    predict_with(run_dir, role, input, out, &options, device)
}

/// Scores `input` with the `role` model of `run_dir`, writing `out`: the input's columns,
/// then `predicted` and one `p_<label>` column per class. Columns are matched by name
/// (headers trimmed, as in training); columns the model does not know are listed in a
/// warning and copied to the output.
///
/// # Errors
/// Before anything is written, as [`dark_knowledge_infer::Error`] variants (wrapped in
/// [`crate::Error::Infer`], with context): a run trained on images (`ImageRun`), a CSV run
/// without its `preprocessing.json` (`MissingPreprocessing`), a header without the
/// training columns (`NoMatchingColumns`, or `MissingColumns` unless
/// [`MissingColumns::ScoreAsMissing`]), `out` being `input` (`OutputIsInput`, also through
/// links) or a folder. Then a bad row with [`OnBadRow::Fail`], or a write that fails; no
/// output (and no temporary file) is left.
pub fn predict_with(
    run_dir: &Path,
    role: &str,
    input: &Path,
    out: &Path,
    options: &PredictOptions,
    device: &Device,
) -> Result<PredictSummary> {
    let predictor = csv_predictor(run_dir, role, options.missing_columns, device)?;
    check_output(out, &[input])?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(input)
        .with_context(|| format!("cannot read {}", input.display()))?;
    let headers: Vec<String> = reader
        .headers()
        .with_context(|| format!("cannot read the header of {}", input.display()))?
        .iter()
        .map(str::to_string)
        .collect();
    let columns = predictor.check_columns(&headers).with_context(|| {
        format!(
            "checking the columns of {} against the training columns in {}",
            input.display(),
            run_dir.join("preprocessing.json").display()
        )
    })?;
    let mut file = create(out)?;
    let result = (|| {
        let mut writer = csv_writer(&mut file);
        let mut header_out = headers.clone();
        header_out.push("predicted".into());
        header_out.extend(predictor.class_names().iter().map(|c| format!("p_{c}")));
        writer.write_record(&header_out)?;
        let rows = CsvRows {
            predictor: &predictor,
            columns: &columns,
            input,
            on_bad_row: options.on_bad_row,
        };
        let summary = rows.score(&mut reader, &mut writer)?;
        close(writer, out)?;
        Ok(summary)
    })();
    let summary = finish(result, file, out)?;
    if summary.skipped > MAX_REPORTED {
        log::warn!("… {} bad rows in all", summary.skipped);
    }
    Ok(summary)
}

/// The `role` model of a run trained on CSV data, with its preprocessing; a run trained on
/// images, or whose `preprocessing.json` is gone, is refused.
fn csv_predictor(
    run_dir: &Path,
    role: &str,
    missing_columns: MissingColumns,
    device: &Device,
) -> Result<Predictor> {
    crate::run::RunDir(run_dir.to_path_buf()).require_role(role)?;
    let predictor = Predictor::load(run_dir, role, device)?.with_missing_columns(missing_columns);
    if predictor.encoder().is_some() {
        return Ok(predictor);
    }
    let run_dir = run_dir.to_path_buf();
    Err(match run_data_source(&run_dir) {
        Some(DataSource::FashionMnist) => InferError::ImageRun { run_dir },
        Some(DataSource::Csv | DataSource::Churn) => InferError::MissingPreprocessing {
            path: run_dir.join("preprocessing.json"),
        },
        None => InferError::NoPreprocessing,
    }
    .into())
}

/// The rows of one CSV to score: the model, the file's checked header and what to do with
/// a row that cannot be read.
struct CsvRows<'a> {
    predictor: &'a Predictor,
    columns: &'a InputColumns,
    input: &'a Path,
    on_bad_row: OnBadRow,
}

impl CsvRows<'_> {
    /// Scores every record of `reader` chunk by chunk into `writer`, skipping (or stopping
    /// at) the bad ones.
    fn score<R: std::io::Read, W: std::io::Write>(
        &self,
        reader: &mut csv::Reader<R>,
        writer: &mut csv::Writer<W>,
    ) -> Result<PredictSummary> {
        let predictor = self.predictor;
        let mut summary = PredictSummary {
            scored: 0,
            skipped: 0,
        };
        let mut features: Vec<f32> = Vec::new();
        let mut pending_rows: Vec<Vec<String>> = Vec::new();
        for (i, record) in reader.records().enumerate() {
            let line = i + 2;
            match self.encode(record) {
                Ok((f, row)) => {
                    features.extend(f);
                    pending_rows.push(row);
                }
                Err(reason) => {
                    if self.on_bad_row == OnBadRow::Fail {
                        bail!(
                            "{} line {line}: {reason} (use --on-bad-row skip to skip such rows)",
                            self.input.display()
                        );
                    }
                    summary.skipped += 1;
                    if summary.skipped <= MAX_REPORTED {
                        log::warn!("skipped {} line {line}: {reason}", self.input.display());
                    }
                }
            }
            if pending_rows.len() == CHUNK {
                summary.scored += flush(predictor, &mut features, &mut pending_rows, writer)?;
            }
        }
        summary.scored += flush(predictor, &mut features, &mut pending_rows, writer)?;
        Ok(summary)
    }

    /// A record's features and fields, or why it cannot be scored.
    fn encode(
        &self,
        record: csv::Result<csv::StringRecord>,
    ) -> std::result::Result<(Vec<f32>, Vec<String>), String> {
        let r = record.map_err(|e| format!("unreadable CSV ({e})"))?;
        let fields: Vec<&str> = r.iter().collect();
        match self.predictor.encode_fields(self.columns, &fields) {
            Ok(f) => Ok((f, fields.into_iter().map(str::to_string).collect())),
            Err(e) => Err(e.to_string()),
        }
    }
}

fn flush<W: std::io::Write>(
    predictor: &Predictor,
    features: &mut Vec<f32>,
    rows: &mut Vec<Vec<String>>,
    writer: &mut csv::Writer<W>,
) -> Result<usize> {
    if rows.is_empty() {
        return Ok(0);
    }
    let probs = predictor.predict_proba_features(features)?;
    for (row, p) in rows.iter().zip(&probs) {
        let mut out = row.clone();
        out.push(predictor.class_names()[argmax(p)].clone());
        out.extend(p.iter().map(|v| format!("{v:.6}")));
        writer.write_record(&out)?;
    }
    let n = rows.len();
    rows.clear();
    features.clear();
    Ok(n)
}

/// The index of the largest probability, the first one on ties (as `evaluate` picks its
/// `predicted` class, so the two agree row for row): the one arg-max of the library.
pub use dark_knowledge_core::rows::argmax;
