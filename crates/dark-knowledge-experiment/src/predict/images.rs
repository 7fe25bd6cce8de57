//! `predict --data-dir`: the images of an IDX folder, scored with a run trained on images.

use std::path::Path;

use crate::bail;
use crate::error::Result;
use crate::experiment::DataSource;
use burn::tensor::Device;
use dark_knowledge_infer::{Error as InferError, Predictor};

use super::output::{check_output, close, create, csv_writer, finish, run_data_source};
use super::{CHUNK, PredictSummary, argmax};

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
///
/// # Errors
/// Before anything is written: a run trained on CSV data
/// ([`dark_knowledge_infer::Error::TabularRun`], also when its `preprocessing.json` is
/// gone), images of another size than the model reads, labels that do not fit, an `out`
/// that is one of the IDX files or a folder.
pub fn predict_images(
    run_dir: &Path,
    role: &str,
    dir: &Path,
    split: ImageSplit,
    out: &Path,
    device: &Device,
) -> Result<PredictSummary> {
    predict_images_with(run_dir, role, dir, split, out, true, device)
}

/// [`predict_images`], with the role's `calibration.json` applied (`calibrated`, as
/// [`predict_images`] does) or not (the plain softmax).
///
/// # Errors
/// As [`predict_images`].
pub fn predict_images_with(
    run_dir: &Path,
    role: &str,
    dir: &Path,
    split: ImageSplit,
    out: &Path,
    calibrated: bool,
    device: &Device,
) -> Result<PredictSummary> {
    use dark_knowledge_data::idx::{read_idx_images, split_files};

    crate::run::RunDir(run_dir.to_path_buf()).require_role(role)?;
    let predictor = Predictor::load(run_dir, role, device)?.with_calibration(calibrated);
    let tabular = matches!(
        run_data_source(run_dir),
        Some(DataSource::Csv | DataSource::Churn)
    );
    if predictor.encoder().is_some() || tabular {
        return Err(InferError::TabularRun {
            run_dir: run_dir.to_path_buf(),
        }
        .into());
    }
    let (images_path, labels_path) = split_files(dir, split == ImageSplit::Train)?;
    let mut inputs = vec![images_path.as_path()];
    inputs.extend(labels_path.as_deref());
    check_output(out, &inputs)?;
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
    super::log_calibration(&predictor, out);
    let mut file = create(out)?;
    let result = (|| {
        let mut writer = csv_writer(&mut file);
        let mut header = vec!["index".to_string()];
        if labels.is_some() {
            header.push("label".into());
        }
        header.push("predicted".into());
        header.extend(classes.iter().map(|c| format!("p_{c}")));
        writer.write_record(&header)?;
        score_images(&predictor, &images, labels.as_deref(), &mut writer)?;
        close(writer, out)?;
        Ok(PredictSummary {
            scored: images.count,
            temperature: predictor.temperature(),
            ..PredictSummary::default()
        })
    })();
    finish(result, file, out)
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
