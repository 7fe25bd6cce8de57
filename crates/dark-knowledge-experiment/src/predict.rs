//! `predict`: scores a CSV of new rows with a run's model, streaming, so a file larger than
//! memory works, or the images of an IDX folder. The output is written to a temporary file
//! and renamed at the end.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use crate::bail;
use crate::error::{Context, Result};
use burn::tensor::Device;
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
    let tmp = temp_path(out)?;
    let result = (|| {
        let file =
            File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        let mut writer = csv::Writer::from_writer(BufWriter::new(file));
        let mut header_out = headers.clone();
        header_out.push("predicted".into());
        header_out.extend(predictor.class_names().iter().map(|c| format!("p_{c}")));
        writer.write_record(&header_out)?;

        let mut summary = PredictSummary {
            scored: 0,
            skipped: 0,
        };
        let mut features: Vec<f32> = Vec::new();
        let mut pending_rows: Vec<Vec<String>> = Vec::new();
        for (i, record) in reader.records().enumerate() {
            let line = i + 2;
            let bad = match record {
                Err(e) => Some(format!("unreadable CSV ({e})")),
                Ok(r) if r.len() != headers.len() => Some(format!(
                    "{} fields, expected {} as in the header",
                    r.len(),
                    headers.len()
                )),
                Ok(r) => {
                    let map: HashMap<String, String> = headers
                        .iter()
                        .cloned()
                        .zip(r.iter().map(str::to_string))
                        .collect();
                    match predictor.encode_record(&map) {
                        Ok(f) => {
                            features.extend(f);
                            pending_rows.push(r.iter().map(str::to_string).collect());
                            None
                        }
                        Err(e) => Some(e.to_string()),
                    }
                }
            };
            if let Some(reason) = bad {
                if on_bad_row == OnBadRow::Fail {
                    bail!(
                        "{} line {line}: {reason} (use --on-bad-row skip to skip such rows)",
                        input.display()
                    );
                }
                summary.skipped += 1;
                if summary.skipped <= MAX_REPORTED {
                    log::warn!("skipped {} line {line}: {reason}", input.display());
                }
            }
            if pending_rows.len() == CHUNK {
                summary.scored += flush(&predictor, &mut features, &mut pending_rows, &mut writer)?;
            }
        }
        summary.scored += flush(&predictor, &mut features, &mut pending_rows, &mut writer)?;
        close(writer, &tmp)?;
        Ok(summary)
    })();
    let summary = finish(result, &tmp, out)?;
    if summary.skipped > MAX_REPORTED {
        log::warn!("… {} bad rows in all", summary.skipped);
    }
    Ok(summary)
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

fn temp_path(out: &Path) -> Result<PathBuf> {
    let name = out
        .file_name()
        .with_context(|| format!("--out {} is not a file path", out.display()))?
        .to_string_lossy()
        .into_owned();
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    Ok(dir.join(format!(".{name}.tmp-{}", std::process::id())))
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
    use dark_knowledge_data::idx::{read_idx_images, read_idx_labels, split_files};

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
    let classes = predictor.class_names().to_vec();
    let labels = match &labels_path {
        Some(path) => {
            let labels = read_idx_labels(path)?;
            if labels.len() != images.count {
                bail!(
                    "{} has {} labels for the {} images of {}",
                    path.display(),
                    labels.len(),
                    images.count,
                    images_path.display()
                );
            }
            if let Some((i, l)) = labels
                .iter()
                .enumerate()
                .find(|(_, l)| usize::from(**l) >= classes.len())
            {
                bail!(
                    "{} item {i}: label {l} is not a class of the model (0..{})",
                    path.display(),
                    classes.len()
                );
            }
            Some(labels)
        }
        None => None,
    };
    let tmp = temp_path(out)?;
    let result = (|| {
        let file =
            File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        let mut writer = csv::Writer::from_writer(BufWriter::new(file));
        let mut header = vec!["index".to_string()];
        if labels.is_some() {
            header.push("label".into());
        }
        header.push("predicted".into());
        header.extend(classes.iter().map(|c| format!("p_{c}")));
        writer.write_record(&header)?;
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
                if let Some(labels) = &labels {
                    record.push(classes[usize::from(labels[i])].clone());
                }
                record.push(classes[argmax(p)].clone());
                record.extend(p.iter().map(|v| format!("{v:.6}")));
                writer.write_record(&record)?;
            }
            start = end;
        }
        close(writer, &tmp)?;
        Ok(PredictSummary {
            scored: images.count,
            skipped: 0,
        })
    })();
    finish(result, &tmp, out)
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
/// `predicted` class, so the two agree row for row).
pub fn argmax(p: &[f32]) -> usize {
    p.iter()
        .enumerate()
        .fold(0, |b, (i, v)| if *v > p[b] { i } else { b })
}

fn finish(result: Result<PredictSummary>, tmp: &Path, out: &Path) -> Result<PredictSummary> {
    match result {
        Ok(summary) => {
            std::fs::rename(tmp, out).with_context(|| format!("cannot write {}", out.display()))?;
            Ok(summary)
        }
        Err(e) => {
            let _ = std::fs::remove_file(tmp);
            Err(e)
        }
    }
}
