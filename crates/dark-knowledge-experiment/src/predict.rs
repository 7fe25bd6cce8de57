//! `predict`: scores a CSV of new rows with a run's model, streaming, so a file larger than
//! memory works, or the images of an IDX folder ([`predict_images`]).
//!
//! Everything that can be checked is checked before the output file is created: the run
//! has the kind of data given (a CSV run and its `preprocessing.json`, or an image run),
//! the CSV's header holds the training columns (see [`MissingColumns`]), and the output is
//! not the input. The output is written to a temporary file and renamed at the end; on an
//! error the temporary file is removed and an existing output is left as it was.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::experiment::DataSource;
use burn::tensor::Device;
use dark_knowledge_eval::DriftReport;
use dark_knowledge_infer::{Error as InferError, Predictor};

mod images;
mod output;
mod session;

pub use dark_knowledge_infer::MissingColumns;
pub use images::{ImageSplit, predict_images, predict_images_with};
use output::{check_output, close, create, csv_writer, finish, run_data_source};
use session::Session;
pub use session::drift_with_model;

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

/// How [`predict_with`] treats rows and columns it cannot score, and what it writes
/// besides the scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PredictOptions {
    /// A row that cannot be read: skipped (the default) or an error.
    pub on_bad_row: OnBadRow,
    /// Training columns absent from the CSV: an error naming them (the default) or scored
    /// as missing values, with a warning.
    pub missing_columns: MissingColumns,
    /// Write the drift report beside the scores (`OUT.drift.json`, `OUT.drift.md`; the
    /// default), when the run has a `drift_reference.json` and the output is a file.
    pub drift: bool,
    /// Apply the role's `calibration.json` temperature when there is one (the default).
    pub calibrated: bool,
}

impl Default for PredictOptions {
    fn default() -> Self {
        Self {
            on_bad_row: OnBadRow::Skip,
            missing_columns: MissingColumns::Refuse,
            drift: true,
            calibrated: true,
        }
    }
}

/// What a finished `predict` run did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PredictSummary {
    /// Rows written.
    pub scored: usize,
    /// Rows skipped.
    pub skipped: usize,
    /// The temperature the probabilities were calibrated with (`None`: plain softmax).
    pub temperature: Option<f32>,
    /// The drift of the scored rows against the training rows, when it was measured.
    pub drift: Option<DriftReport>,
    /// The drift report files written (JSON, Markdown).
    pub drift_files: Option<(PathBuf, PathBuf)>,
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
    let predictor = csv_predictor(run_dir, role, options, device)?;
    check_output(out, &[input])?;
    // Standard output, a device or a FIFO: no file to put the report beside.
    let to_stdout = out == Path::new(dark_knowledge_core::io::STDOUT)
        || std::fs::metadata(out).is_ok_and(|m| !m.is_file());
    let want_drift = options.drift && !to_stdout;
    if options.drift && to_stdout {
        log::info!(
            "drift: not measured when the scores go to standard output (-) or a device; write them to a file for a drift report"
        );
    }
    let drift_files = want_drift.then(|| crate::drift::report_paths(out));
    if let Some((json, md)) = &drift_files {
        check_output(json, &[input])?;
        check_output(md, &[input])?;
    }
    let mut session = Session::open(run_dir, role, &predictor, input, want_drift)?;
    log_calibration(&predictor, out);
    let mut file = create(out)?;
    let result = (|| {
        let mut writer = csv_writer(&mut file);
        let mut header_out = session.headers.clone();
        header_out.push("predicted".into());
        header_out.extend(predictor.class_names().iter().map(|c| format!("p_{c}")));
        writer.write_record(&header_out)?;
        let summary = session.score(options.on_bad_row, &mut writer)?;
        close(writer, out)?;
        Ok(summary)
    })();
    let mut summary = finish(result, file, out)?;
    if summary.skipped > MAX_REPORTED {
        log::warn!("… {} bad rows in all", summary.skipped);
    }
    summary.temperature = predictor.temperature();
    summary.drift = session.report()?;
    if let (Some(report), Some((json, md))) = (&summary.drift, drift_files) {
        crate::drift::write_report(report, &json, &md)?;
        summary.drift_files = Some((json, md));
    }
    Ok(summary)
}

/// Says whether the scores written to `out` are calibrated.
fn log_calibration(predictor: &Predictor, out: &Path) {
    match (predictor.calibration(), predictor.temperature()) {
        (Some(c), Some(t)) => log::info!(
            "{}: calibrated probabilities, softmax(logits / {t}) with the temperature of {}",
            out.display(),
            c.path.display()
        ),
        (Some(c), None) => log::info!(
            "{}: uncalibrated probabilities (--uncalibrated; {} not applied)",
            out.display(),
            c.path.display()
        ),
        _ => log::info!(
            "{}: uncalibrated probabilities (the model has no calibration.json)",
            out.display()
        ),
    }
}

/// The `role` model of a run trained on CSV data, with its preprocessing; a run trained on
/// images, or whose `preprocessing.json` is gone, is refused.
fn csv_predictor(
    run_dir: &Path,
    role: &str,
    options: &PredictOptions,
    device: &Device,
) -> Result<Predictor> {
    crate::run::RunDir(run_dir.to_path_buf()).require_role(role)?;
    let predictor = Predictor::load(run_dir, role, device)?
        .with_missing_columns(options.missing_columns)
        .with_calibration(options.calibrated);
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

/// The index of the largest probability, the first one on ties (as `evaluate` picks its
/// `predicted` class, so the two agree row for row): the one arg-max of the library.
pub use dark_knowledge_core::rows::argmax;
