//! A trained model as saved in a run folder: `model.bpk` (float weights, burnpack) or
//! `model.q8` (int8 weights, see [`compact_bytes`]) beside `model.json` (architecture, input
//! and class counts, class labels, weight format).

use std::path::Path;

use burn::tensor::Device;
use dark_knowledge_core::io::write_atomic;
use serde::{Deserialize, Serialize};

use crate::{
    AnyModel, ModelError, ModelSpec, WeightFormat, compact_bytes, load_compact, load_model,
    save_model, to_format,
};

/// What is saved beside a model's weights (`model.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelInfo {
    /// The model's role in its run: `teacher`, `baseline` or `distilled`.
    pub role: String,
    /// Architecture.
    pub spec: ModelSpec,
    /// Short description, e.g. `MLP 19-16-2`.
    pub description: String,
    /// Input features per row.
    pub num_features: usize,
    /// Class labels, by class index.
    pub class_names: Vec<String>,
    /// How the weights are stored (`float32` unless quantized; omitted when float).
    #[serde(default, skip_serializing_if = "WeightFormat::is_float")]
    pub weights: WeightFormat,
    /// The role of the model this one was derived from (the float student of an int8 copy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl ModelInfo {
    /// The weights file's name for this model's format: `model.bpk` or `model.q8`.
    pub fn weights_file(&self) -> &'static str {
        match self.weights {
            WeightFormat::Float32 => "model.bpk",
            WeightFormat::Int8 => "model.q8",
        }
    }
}

/// Writes the weights (`model.bpk`, or `model.q8` for int8 models, which must already be
/// quantized) and `model.json` into `dir`, each atomically.
///
/// # Errors
/// [`ModelError::Io`] naming the file that cannot be written.
pub fn save_saved_model(dir: &Path, info: &ModelInfo, model: &AnyModel) -> Result<(), ModelError> {
    let weights = dir.join(info.weights_file());
    match info.weights {
        WeightFormat::Float32 => save_model(model, &weights),
        WeightFormat::Int8 => write_atomic(&weights, &compact_bytes(model)),
    }
    .map_err(ModelError::io("write", &weights))?;
    let path = dir.join("model.json");
    let json = serde_json::to_string_pretty(info).map_err(|e| ModelError::Description {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    write_atomic(&path, json.as_bytes()).map_err(ModelError::io("write", &path))
}

/// Reads `model.json` and the weights file from `dir` and rebuilds the model on `device`.
///
/// # Errors
/// [`ModelError`] naming the file when one is missing, invalid, or does not fit its
/// architecture.
pub fn load_saved_model(dir: &Path, device: &Device) -> Result<(ModelInfo, AnyModel), ModelError> {
    let path = dir.join("model.json");
    let text = std::fs::read_to_string(&path).map_err(ModelError::io("read", &path))?;
    let info: ModelInfo = serde_json::from_str(&text).map_err(|e| ModelError::Description {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let model = info
        .spec
        .build(info.num_features, info.class_names.len(), device)
        .map_err(|e| ModelError::in_file(&path)(e.into()))?;
    let model = to_format(model, info.weights, device);
    let weights = dir.join(info.weights_file());
    let model = match info.weights {
        WeightFormat::Float32 => load_model(model, &weights)?,
        WeightFormat::Int8 => {
            let bytes =
                std::fs::read(&weights).map_err(ModelError::io("read model file", &weights))?;
            load_compact(model, &bytes).map_err(ModelError::in_file(&weights))?
        }
    };
    Ok((info, model))
}
