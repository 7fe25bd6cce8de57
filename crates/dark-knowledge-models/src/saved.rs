//! A trained model as saved in a run folder: `model.bpk` (weights) beside `model.json`
//! (architecture, input and class counts, class labels).

use std::path::Path;

use burn::tensor::Device;
use dark_knowledge_core::io::write_atomic;
use serde::{Deserialize, Serialize};

use crate::{AnyModel, ModelSpec, load_model, save_model};

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
}

/// Writes `model.bpk` and `model.json` into `dir`, each atomically.
///
/// # Errors
/// An I/O or serialization error, naming the file.
pub fn save_saved_model(dir: &Path, info: &ModelInfo, model: &AnyModel) -> Result<(), String> {
    let weights = dir.join("model.bpk");
    save_model(model, &weights).map_err(|e| format!("cannot write {}: {e}", weights.display()))?;
    let json = serde_json::to_string_pretty(info).map_err(|e| e.to_string())?;
    let path = dir.join("model.json");
    write_atomic(&path, json.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Reads `model.json` and `model.bpk` from `dir` and rebuilds the model on `device`.
///
/// # Errors
/// A message naming the file when one is missing, invalid, or does not fit its architecture.
pub fn load_saved_model(dir: &Path, device: &Device) -> Result<(ModelInfo, AnyModel), String> {
    let path = dir.join("model.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let info: ModelInfo = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a valid model description: {e}", path.display()))?;
    let model = info
        .spec
        .build(info.num_features, info.class_names.len(), device)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let model = load_model(model, &dir.join("model.bpk"))?;
    Ok((info, model))
}
