//! A trained model plus its preprocessing, ready to score records.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use burn::module::Module;
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor, TensorData};
use dark_knowledge_core::tensor_util::to_vec_f32;
use dark_knowledge_core::{Classifier, Error as CoreError};
use dark_knowledge_data::tabular::TabularEncoder;
use dark_knowledge_models::{AnyModel, HostMlp, ModelInfo, load_saved_model};

use crate::calibration::{Calibration, read_calibration, softmax_with_temperature};
use crate::error::{Error, Result};
use crate::schema::{InputColumns, MissingColumns, Schema, header_names};

/// MLPs up to this many parameters are scored on the lean host path ([`HostMlp`]): for
/// students, per-call overhead dominates and plain dot products win; larger models go
/// through burn, whose matrix products win on batches.
pub const HOST_PATH_MAX_PARAMETERS: usize = 1_000_000;

/// A model loaded once from a run folder, with the preprocessing it was trained with.
///
/// Inputs are checked against the training schema: a record or CSV header that lacks a
/// training column is refused by default ([`Error::MissingColumns`], naming it), see
/// [`with_missing_columns`](Self::with_missing_columns); columns the model does not know are
/// ignored with a warning.
#[derive(Debug, Clone)]
pub struct Predictor {
    model: AnyModel,
    host: Option<HostMlp>,
    info: ModelInfo,
    encoder: Option<TabularEncoder>,
    schema: Option<Schema>,
    missing_columns: MissingColumns,
    /// The role's `calibration.json`, when there is one.
    calibration: Option<Calibration>,
    /// Whether scores are calibrated with it (the default when there is one).
    calibrated: bool,
    /// Whether the schema warning of [`encode_record`](Self::encode_record) was given
    /// (once per loaded model, shared by its clones).
    warned: Arc<AtomicBool>,
    device: Device,
}

impl Predictor {
    /// Loads `RUN/<role>/` (`model.json`, `model.bpk`) and, when present,
    /// `RUN/preprocessing.json` (runs on CSV data have one; image runs do not) and
    /// `RUN/<role>/calibration.json` (a temperature `T`: probabilities are then
    /// `softmax(logits / T)`, see [`with_calibration`](Self::with_calibration)), on `device`.
    ///
    /// # Errors
    /// [`Error::Model`] or [`Error::Preprocessing`] naming the missing or invalid file;
    /// [`Error::FeatureCountMismatch`]; [`Error::Calibration`] for an unreadable
    /// `calibration.json` or a temperature that is not finite and > 0.
    pub fn load(run_dir: &Path, role: &str, device: &Device) -> Result<Self> {
        let (info, model) = load_saved_model(&run_dir.join(role), device)?;
        let prep = run_dir.join("preprocessing.json");
        // Checked against the run folder's CHECKSUMS, as the model files are.
        let encoder = match dark_knowledge_core::checksums::read_to_string_verified(&prep) {
            Ok(text) => Some(TabularEncoder::from_json(&text)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(Error::Preprocessing { path: prep, source }),
        };
        if let Some(enc) = &encoder
            && enc.num_features() != info.num_features
        {
            return Err(Error::FeatureCountMismatch {
                path: prep,
                role: role.to_string(),
                encoded: enc.num_features(),
                model: info.num_features,
            });
        }
        let calibration = read_calibration(&run_dir.join(role))?;
        let host = match &model {
            AnyModel::Mlp(mlp) if mlp.num_params() <= HOST_PATH_MAX_PARAMETERS => {
                Some(HostMlp::from_mlp(mlp))
            }
            _ => None,
        };
        Ok(Self {
            model: model.valid(),
            host,
            info,
            schema: encoder.as_ref().map(Schema::of),
            encoder,
            missing_columns: MissingColumns::default(),
            calibrated: calibration.is_some(),
            calibration,
            warned: Arc::new(AtomicBool::new(false)),
            device: device.clone(),
        })
    }

    /// What to do with inputs that lack training columns: refuse them (the default) or
    /// score them as missing values, with a warning naming them.
    #[must_use]
    pub fn with_missing_columns(mut self, policy: MissingColumns) -> Self {
        self.missing_columns = policy;
        self
    }

    /// Whether to apply the role's `calibration.json` (the default when it is there);
    /// `false` gives the model's plain `softmax(logits)`.
    #[must_use]
    pub fn with_calibration(mut self, calibrated: bool) -> Self {
        self.calibrated = calibrated && self.calibration.is_some();
        self
    }

    /// The temperature the probabilities are divided by, when calibration applies.
    pub fn temperature(&self) -> Option<f32> {
        self.calibration
            .as_ref()
            .filter(|_| self.calibrated)
            .map(|c| c.temperature)
    }

    /// The role's calibration file and temperature, applied or not.
    pub fn calibration(&self) -> Option<&Calibration> {
        self.calibration.as_ref()
    }

    /// The policy for inputs that lack training columns.
    pub fn missing_columns(&self) -> MissingColumns {
        self.missing_columns
    }

    /// The input columns the model reads (the training CSV's feature columns, in order), for
    /// runs on CSV data.
    pub fn feature_columns(&self) -> Option<&[String]> {
        self.schema.as_ref().map(Schema::features)
    }

    /// Checks a CSV header against the training schema before any row is scored. Names are
    /// read as the training CSV's were: trimmed, an empty one is `column_N`. Logs a warning
    /// naming the training columns scored as missing (when allowed) and the input columns
    /// the model does not know (they are ignored).
    ///
    /// # Errors
    /// [`Error::NoPreprocessing`] (no CSV preprocessing); [`Error::NoMatchingColumns`] when
    /// no training column is there; [`Error::MissingColumns`] naming the absent ones unless
    /// [`MissingColumns::ScoreAsMissing`]; [`Error::Encoding`] when a training column
    /// appears twice.
    pub fn check_columns<S: AsRef<str>>(&self, header: &[S]) -> Result<InputColumns> {
        let schema = self.schema.as_ref().ok_or(Error::NoPreprocessing)?;
        let columns = schema.check(header_names(header), self.missing_columns)?;
        warn_about(&columns, "");
        Ok(columns)
    }

    /// The encoded features of one row given by position, in the order of the header that
    /// `columns` was checked from ([`check_columns`](Self::check_columns)).
    ///
    /// # Errors
    /// [`Error::FieldCount`] when `fields` is not one value per column; a value that cannot
    /// be encoded; a run without preprocessing.
    pub fn encode_fields<S: AsRef<str>>(
        &self,
        columns: &InputColumns,
        fields: &[S],
    ) -> Result<Vec<f32>> {
        let encoder = self.encoder.as_ref().ok_or(Error::NoPreprocessing)?;
        let record = columns.record(encoder, fields)?;
        Ok(encoder.encode_record(&record)?)
    }

    /// Class labels, in the order of the probabilities.
    pub fn class_names(&self) -> &[String] {
        &self.info.class_names
    }

    /// What the model is (role, architecture, sizes).
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The fitted preprocessing, for runs on CSV data.
    pub fn encoder(&self) -> Option<&TabularEncoder> {
        self.encoder.as_ref()
    }

    /// Class probabilities for one record (field name → raw text, as in the training CSV,
    /// names matched exactly; empty values and NA count as missing, unseen categories go to
    /// the "unknown" slot). A record that lacks a training column is refused unless
    /// [`MissingColumns::ScoreAsMissing`] is set; fields the model does not know are
    /// ignored. Either is warned about once per loaded model.
    ///
    /// # Errors
    /// [`Error::MissingColumns`] (with "did you mean" for names that differ only in letter
    /// case or surrounding spaces), [`Error::NoMatchingColumns`], a value that cannot be
    /// encoded, or a run without preprocessing.
    pub fn predict_proba_record(&self, record: &HashMap<String, String>) -> Result<Vec<f32>> {
        let features = self.encode(record)?;
        Ok(self.predict_proba_features(&features)?.remove(0))
    }

    /// Class probabilities for a batch of records, one vector per record, computed in one
    /// forward pass. Equal to calling [`predict_proba_record`](Self::predict_proba_record)
    /// on each record.
    ///
    /// # Errors
    /// The first record that cannot be encoded or is refused, as by
    /// [`predict_proba_record`](Self::predict_proba_record).
    pub fn predict_proba_records(
        &self,
        records: &[HashMap<String, String>],
    ) -> Result<Vec<Vec<f32>>> {
        let mut features = Vec::with_capacity(records.len() * self.info.num_features);
        for record in records {
            features.extend(self.encode(record)?);
        }
        self.predict_proba_features(&features)
    }

    /// Class probabilities for rows of already-encoded features (row-major, e.g. image
    /// pixels in `[0, 1]`), one vector per row: `softmax(logits / T)` with the role's
    /// calibration temperature `T` when it applies ([`temperature`](Self::temperature)),
    /// else `softmax(logits)`. MLP students (up to [`HOST_PATH_MAX_PARAMETERS`]) are
    /// computed row by row on the lean host path, other models in one burn forward pass;
    /// either way a row's result does not depend on the other rows of the call.
    ///
    /// # Errors
    /// When the length is not a multiple of the model's feature count, or a value is not
    /// finite.
    pub fn predict_proba_features(&self, features: &[f32]) -> Result<Vec<Vec<f32>>> {
        let t = self.temperature().unwrap_or(1.0);
        if self.host.is_none() {
            let logits = self.burn_logits(features)?;
            let probs = to_vec_f32(softmax(logits.div_scalar(t), 1));
            let nc = self.model.num_classes();
            return Ok(probs.chunks(nc).map(<[f32]>::to_vec).collect());
        }
        Ok(self
            .predict_logits_features(features)?
            .iter()
            .map(|row| softmax_with_temperature(row, t))
            .collect())
    }

    /// The model's logits (before any softmax or calibration) for rows of encoded
    /// features, one vector per row.
    ///
    /// # Errors
    /// As [`predict_proba_features`](Self::predict_proba_features).
    pub fn predict_logits_features(&self, features: &[f32]) -> Result<Vec<Vec<f32>>> {
        let nf = self.check_features(features)?;
        if let Some(host) = &self.host {
            let (mut logits, mut scratch) = (Vec::new(), Vec::new());
            return Ok(features
                .chunks_exact(nf)
                .map(|row| {
                    host.logits_into(row, &mut logits, &mut scratch);
                    logits.clone()
                })
                .collect());
        }
        let logits = to_vec_f32(self.burn_logits(features)?);
        let nc = self.model.num_classes();
        Ok(logits.chunks(nc).map(<[f32]>::to_vec).collect())
    }

    /// The logits of checked `features` through burn, `[rows, classes]`.
    fn burn_logits(&self, features: &[f32]) -> Result<Tensor<2>> {
        let nf = self.check_features(features)?;
        let rows = features.len() / nf;
        let x =
            Tensor::<2>::from_data(TensorData::new(features.to_vec(), [rows, nf]), &self.device);
        Ok(self.model.logits(x))
    }

    /// The feature count, once `features` is checked: a non-empty multiple of it, finite.
    fn check_features(&self, features: &[f32]) -> Result<usize> {
        let nf = self.info.num_features;
        if features.is_empty() || !features.len().is_multiple_of(nf) {
            return Err(CoreError::ShapeMismatch {
                what: "features",
                expected: format!("a non-empty multiple of {nf} values (rows x features)"),
                got: format!("{} values", features.len()),
            }
            .into());
        }
        if let Some(i) = features.iter().position(|v| !v.is_finite()) {
            return Err(CoreError::InvalidValue {
                name: "feature",
                value: format!("{} at row {}, column {}", features[i], i / nf, i % nf),
                allowed: "finite numbers",
            }
            .into());
        }
        Ok(nf)
    }

    /// The encoded features of one record (what the model reads), for callers that batch
    /// records themselves before [`predict_proba_features`](Self::predict_proba_features);
    /// checked as by [`predict_proba_record`](Self::predict_proba_record).
    ///
    /// # Errors
    /// As [`predict_proba_record`](Self::predict_proba_record).
    pub fn encode_record(&self, record: &HashMap<String, String>) -> Result<Vec<f32>> {
        self.encode(record)
    }

    fn encode(&self, record: &HashMap<String, String>) -> Result<Vec<f32>> {
        let (Some(encoder), Some(schema)) = (&self.encoder, &self.schema) else {
            return Err(Error::NoPreprocessing);
        };
        if let Some(columns) = schema.check_record(record.keys(), self.missing_columns)?
            && !self.warned.swap(true, Ordering::Relaxed)
        {
            warn_about(&columns, " (warned once; later records are not reported)");
        }
        Ok(encoder.encode_record(record)?)
    }
}

/// Warns about the training columns scored as missing and the unknown input columns.
fn warn_about(columns: &InputColumns, note: &str) {
    let list = |names: &[String]| {
        names
            .iter()
            .map(|n| format!("{n:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !columns.missing().is_empty() {
        log::warn!(
            "the input lacks training columns {}: scored as missing values on every row{note}",
            list(columns.missing())
        );
    }
    if !columns.unknown().is_empty() {
        log::warn!(
            "the input has columns the model does not know, ignored for scoring: {}{note}",
            list(columns.unknown())
        );
    }
}
