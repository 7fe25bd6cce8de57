//! `predict`: scores a CSV of new rows with a run's model, streaming, so a file larger than
//! memory works, or the images of an IDX folder. The output is written to a temporary file
//! and renamed at the end.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use crate::bail;
use crate::error::{Context, Result};
use burn::tensor::Device;
use dark_knowledge_core::io::{NamedTempFile, persist, temp_file_for};
use dark_knowledge_infer::Predictor;

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

/// Counts of a finished `predict` run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PredictSummary {
    /// Rows written.
    pub scored: usize,
    /// Rows skipped.
    pub skipped: usize,
}

/// Scores `input` with the `role` model of `run_dir`, writing `out`: the input's columns,
/// then `predicted` and one `p_<label>` column per class.
pub fn predict(
    run_dir: &Path,
    role: &str,
    input: &Path,
    out: &Path,
    on_bad_row: OnBadRow,
    device: &Device,
) -> Result<PredictSummary> {
    let predictor = Predictor::load(run_dir, role, device)?;
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
    let tmp = temp_file_for(out).with_context(|| format!("cannot write {}", out.display()))?;
    let result = (|| {
        let file = tmp.reopen()?;
        let mut writer = csv::Writer::from_writer(BufWriter::new(file));
        let mut header_out = headers.clone();
        header_out.push("predicted".into());
        header_out.extend(predictor.class_names().iter().map(|c| format!("p_{c}")));
        writer.write_record(&header_out)?;
        let rows = CsvRows {
            predictor: &predictor,
            headers: &headers,
            input,
            on_bad_row,
        };
        let summary = rows.score(&mut reader, &mut writer)?;
        close(writer, tmp.path())?;
        Ok(summary)
    })();
    let summary = finish(result, tmp, out)?;
    if summary.skipped > MAX_REPORTED {
        log::warn!("… {} bad rows in all", summary.skipped);
    }
    Ok(summary)
}

/// The rows of one CSV to score: the model, the file's header and what to do with a row
/// that cannot be read.
struct CsvRows<'a> {
    predictor: &'a Predictor,
    headers: &'a [String],
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
        let r = match record {
            Err(e) => return Err(format!("unreadable CSV ({e})")),
            Ok(r) => r,
        };
        if r.len() != self.headers.len() {
            return Err(format!(
                "{} fields, expected {} as in the header",
                r.len(),
                self.headers.len()
            ));
        }
        let map: HashMap<String, String> = self
            .headers
            .iter()
            .cloned()
            .zip(r.iter().map(str::to_string))
            .collect();
        match self.predictor.encode_record(&map) {
            Ok(f) => Ok((f, r.iter().map(str::to_string).collect())),
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

/// Which images of an IDX folder to score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum ImageSplit {
    /// `t10k-images-idx3-ubyte` (and its labels when present).
    Test,
    /// `train-images-idx3-ubyte` (and its labels when present).
    Train,
}

/// Scores the images of an IDX folder with the `role` model of `run_dir`, writing `out`:
/// `index` (position in the file), `label` (when the labels file is there), `predicted`
/// and one `p_<label>` column per class. Pixels are scaled to `[0, 1]` as in training.
/// The file's bytes are held in memory (one byte per pixel); scoring goes chunk by chunk.
pub fn predict_images(
    run_dir: &Path,
    role: &str,
    dir: &Path,
    split: ImageSplit,
    out: &Path,
    device: &Device,
) -> Result<PredictSummary> {
    use dark_knowledge_data::idx::{read_idx_images, split_files};

    let predictor = Predictor::load(run_dir, role, device)?;
    if predictor.encoder().is_some() {
        bail!(
            "the run in {} was trained on CSV data: score it with --csv",
            run_dir.display()
        );
    }
    let (images_path, labels_path) = split_files(dir, split == ImageSplit::Train)?;
    let images = read_idx_images(&images_path)?;
    let pixels_per_image = images.rows * images.cols;
    let nf = predictor.info().num_features;
    if pixels_per_image != nf {
        bail!(
            "{} holds {}x{} images ({pixels_per_image} pixels) but the {role} model reads {nf} features",
            images_path.display(),
            images.rows,
            images.cols
        );
    }
    let classes = predictor.class_names();
    let labels = labels_path
        .as_deref()
        .map(|path| read_image_labels(path, images.count, &images_path, classes.len()))
        .transpose()?;
    let tmp = temp_file_for(out).with_context(|| format!("cannot write {}", out.display()))?;
    let result = (|| {
        let file = tmp.reopen()?;
        let mut writer = csv::Writer::from_writer(BufWriter::new(file));
        let mut header = vec!["index".to_string()];
        if labels.is_some() {
            header.push("label".into());
        }
        header.push("predicted".into());
        header.extend(classes.iter().map(|c| format!("p_{c}")));
        writer.write_record(&header)?;
        score_images(&predictor, &images, labels.as_deref(), &mut writer)?;
        close(writer, tmp.path())?;
        Ok(PredictSummary {
            scored: images.count,
            skipped: 0,
        })
    })();
    finish(result, tmp, out)
}

/// The labels file of `count` images (`images_path`), checked: one label per image, each
/// a class of the model (`num_classes` of them).
fn read_image_labels(
    path: &Path,
    count: usize,
    images_path: &Path,
    num_classes: usize,
) -> Result<Vec<u8>> {
    let labels = dark_knowledge_data::idx::read_idx_labels(path)?;
    if labels.len() != count {
        bail!(
            "{} has {} labels for the {} images of {}",
            path.display(),
            labels.len(),
            count,
            images_path.display()
        );
    }
    if let Some((i, l)) = labels
        .iter()
        .enumerate()
        .find(|(_, l)| usize::from(**l) >= num_classes)
    {
        bail!(
            "{} item {i}: label {l} is not a class of the model (0..{num_classes})",
            path.display()
        );
    }
    Ok(labels)
}

/// Scores the images chunk by chunk into `writer`: index, label (when given), predicted
/// class and probabilities, pixels scaled to `[0, 1]`.
fn score_images<W: std::io::Write>(
    predictor: &Predictor,
    images: &dark_knowledge_data::idx::IdxImages,
    labels: Option<&[u8]>,
    writer: &mut csv::Writer<W>,
) -> Result<()> {
    let classes = predictor.class_names();
    let nf = predictor.info().num_features;
    let mut start = 0;
    while start < images.count {
        let end = (start + CHUNK).min(images.count);
        let features: Vec<f32> = images.pixels[start * nf..end * nf]
            .iter()
            .map(|&p| f32::from(p) / 255.0)
            .collect();
        let probs = predictor.predict_proba_features(&features)?;
        for (i, p) in (start..end).zip(&probs) {
            let mut record = vec![i.to_string()];
            if let Some(labels) = labels {
                record.push(classes[usize::from(labels[i])].clone());
            }
            record.push(classes[argmax(p)].clone());
            record.extend(p.iter().map(|v| format!("{v:.6}")));
            writer.write_record(&record)?;
        }
        start = end;
    }
    Ok(())
}

/// Flushes the CSV writer and its buffer and syncs the temporary file to disk.
fn close(writer: csv::Writer<BufWriter<File>>, tmp: &Path) -> Result<()> {
    let file = writer
        .into_inner()
        .map_err(|e| crate::Error::msg(format!("writing {}: {e}", tmp.display())))?;
    file.into_inner()
        .map_err(|e| crate::Error::msg(format!("writing {}: {e}", tmp.display())))?
        .sync_all()
        .with_context(|| format!("writing {}", tmp.display()))
}

/// The index of the largest probability, the first one on ties (as `evaluate` picks its
/// `predicted` class, so the two agree row for row): the one arg-max of the library.
pub use dark_knowledge_core::rows::argmax;

/// Renames the finished temporary file over `out`; on an error it is dropped (removed).
fn finish(
    result: Result<PredictSummary>,
    tmp: NamedTempFile,
    out: &Path,
) -> Result<PredictSummary> {
    let summary = result?;
    persist(tmp, out).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(summary)
}
