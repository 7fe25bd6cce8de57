//! One CSV being scored: its reader and checked header, the model, and the drift sample
//! collected from the rows scored.

use std::fs::File;
use std::path::Path;

use burn::tensor::Device;
use dark_knowledge_eval::DriftReport;
use dark_knowledge_infer::{InputColumns, Predictor, softmax_with_temperature};

use super::{CHUNK, MAX_REPORTED, OnBadRow, PredictOptions, PredictSummary, argmax};
use crate::bail;
use crate::drift::{
    DRIFT_REFERENCE, DriftReference, DriftSample, ScoreReference, load_reference,
    load_score_reference,
};
use crate::error::{Context, Result};

/// What drift is measured against, and what has been collected.
pub(super) struct DriftTarget {
    reference: DriftReference,
    sample: DriftSample,
    score: Option<ScoreReference>,
    scores: Vec<f32>,
}

/// A CSV opened for scoring, its header checked against the training columns.
pub(super) struct Session<'a> {
    predictor: &'a Predictor,
    input: &'a Path,
    /// The input's header, as read.
    pub(super) headers: Vec<String>,
    columns: InputColumns,
    reader: csv::Reader<File>,
    drift: Option<DriftTarget>,
}

impl<'a> Session<'a> {
    /// Opens `input` and checks its header; with `want_drift`, loads the run's drift
    /// reference (a run without one is warned about and scored without drift) and the
    /// role's score reference.
    pub(super) fn open(
        run_dir: &Path,
        role: &str,
        predictor: &'a Predictor,
        input: &'a Path,
        want_drift: bool,
    ) -> Result<Self> {
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
        let drift = if want_drift {
            drift_target(run_dir, role, &headers)?
        } else {
            None
        };
        Ok(Self {
            predictor,
            input,
            headers,
            columns,
            reader,
            drift,
        })
    }

    /// Scores every record chunk by chunk into `writer`, skipping (or stopping at) the bad
    /// ones, and collects the drift sample of the rows scored.
    pub(super) fn score<W: std::io::Write>(
        &mut self,
        on_bad_row: OnBadRow,
        writer: &mut csv::Writer<W>,
    ) -> Result<PredictSummary> {
        let mut summary = PredictSummary::default();
        let mut features: Vec<f32> = Vec::new();
        let mut pending_rows: Vec<Vec<String>> = Vec::new();
        let mut record = csv::StringRecord::new();
        let mut line = 1;
        loop {
            line += 1;
            let read = self.reader.read_record(&mut record);
            if matches!(read, Ok(false)) {
                break;
            }
            match self.encode(read.map(|_| &record)) {
                Ok((f, row)) => {
                    features.extend(f);
                    pending_rows.push(row);
                }
                Err(reason) => {
                    if on_bad_row == OnBadRow::Fail {
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
                summary.scored += self.flush(&mut features, &mut pending_rows, writer)?;
            }
        }
        summary.scored += self.flush(&mut features, &mut pending_rows, writer)?;
        Ok(summary)
    }

    /// A record's features and fields, or why it cannot be scored; a scored record's
    /// values join the drift sample.
    fn encode(
        &mut self,
        record: csv::Result<&csv::StringRecord>,
    ) -> std::result::Result<(Vec<f32>, Vec<String>), String> {
        let r = record.map_err(|e| format!("unreadable CSV ({e})"))?;
        let fields: Vec<&str> = r.iter().collect();
        let features = self
            .predictor
            .encode_fields(&self.columns, &fields)
            .map_err(|e| e.to_string())?;
        if let Some(drift) = &mut self.drift
            && let Err(reason) = drift.sample.push(&fields)
        {
            // The encoder accepted the row: the sample reads cells the same way.
            log::warn!("drift: row left out of the drift sample: {reason}");
        }
        Ok((features, fields.into_iter().map(str::to_string).collect()))
    }

    fn flush<W: std::io::Write>(
        &mut self,
        features: &mut Vec<f32>,
        rows: &mut Vec<Vec<String>>,
        writer: &mut csv::Writer<W>,
    ) -> Result<usize> {
        if rows.is_empty() {
            return Ok(0);
        }
        let predictor = self.predictor;
        let probs = predictor.predict_proba_features(features)?;
        for (row, p) in rows.iter().zip(&probs) {
            let mut out = row.clone();
            out.push(predictor.class_names()[argmax(p)].clone());
            out.extend(p.iter().map(|v| format!("{v:.6}")));
            writer.write_record(&out)?;
        }
        if let Some(DriftTarget {
            score: Some(score),
            scores,
            ..
        }) = &mut self.drift
        {
            // Scores are compared uncalibrated, as their reference was made.
            if predictor.temperature().is_none() {
                scores.extend(probs.iter().map(|p| score.score_of(p)));
            } else {
                let logits = predictor.predict_logits_features(features)?;
                scores.extend(
                    logits
                        .iter()
                        .map(|z| score.score_of(&softmax_with_temperature(z, 1.0))),
                );
            }
        }
        let n = rows.len();
        rows.clear();
        features.clear();
        Ok(n)
    }

    /// The drift report of the rows scored, `None` when drift was not measured or no row
    /// was scored (warned about).
    pub(super) fn report(&self) -> Result<Option<DriftReport>> {
        let Some(drift) = &self.drift else {
            return Ok(None);
        };
        if drift.sample.rows() == 0 {
            log::warn!("drift: no row was scored, so no drift report");
            return Ok(None);
        }
        let scores = drift.score.as_ref().map(|s| (s, drift.scores.as_slice()));
        drift.sample.report(&drift.reference, scores).map(Some)
    }
}

/// The run's drift reference and the role's score reference, `None` (with a warning) for a
/// run made before drift references.
fn drift_target(run_dir: &Path, role: &str, headers: &[String]) -> Result<Option<DriftTarget>> {
    let Some(reference) = load_reference(run_dir)? else {
        log::warn!(
            "drift: {} has no {DRIFT_REFERENCE} (a run trained before drift references): scoring without a drift report",
            run_dir.display()
        );
        return Ok(None);
    };
    let score = load_score_reference(&run_dir.join(role))?;
    if score.is_none() {
        log::info!("drift: the {role} model has no score_reference.json: input columns only");
    }
    Ok(Some(DriftTarget {
        sample: DriftSample::new(&reference, headers),
        reference,
        score,
        scores: Vec::new(),
    }))
}

/// The drift of `input` against the run's training rows, input columns and the `role`
/// model's score (computed in memory, nothing written), exactly as [`super::predict_with`]
/// reports it: the same rows are scored and compared.
///
/// # Errors
/// As [`super::predict_with`] before scoring; the run has no `drift_reference.json`; no row
/// could be scored.
pub fn drift_with_model(
    run_dir: &Path,
    role: &str,
    input: &Path,
    options: &PredictOptions,
    device: &Device,
) -> Result<DriftReport> {
    let predictor = super::csv_predictor(run_dir, role, options, device)?;
    let mut session = Session::open(run_dir, role, &predictor, input, true)?;
    if session.drift.is_none() {
        bail!(
            "{} has no {DRIFT_REFERENCE} (runs trained before drift references have none): train the teacher again to make one",
            run_dir.display()
        );
    }
    let mut sink = csv::Writer::from_writer(std::io::sink());
    session.score(options.on_bad_row, &mut sink)?;
    match session.report()? {
        Some(report) => Ok(report),
        None => bail!("{}: no row could be scored", input.display()),
    }
}
