//! A trained model as saved in a run folder: `model.bpk` (float weights, burnpack) or
//! `model.q8` (int8 weights, see [`compact_bytes`]) beside `model.json` (architecture, input
//! and class counts, class labels, weight format).

use std::path::Path;

use burn::tensor::Device;
use dark_knowledge_core::checksums;
use dark_knowledge_core::io::write_atomic;
use serde::{Deserialize, Serialize};

use crate::{
    AnyModel, ModelError, ModelSpec, TreeEnsemble, TreeModel, WeightFormat, compact_bytes,
    load_compact, load_model, save_model, to_format,
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
    /// The weights file's name for this model's format: `model.bpk`, `model.q8`, or
    /// `trees.json` for boosted trees.
    pub fn weights_file(&self) -> &'static str {
        if self.spec.is_trees() {
            return TREES_FILE;
        }
        match self.weights {
            WeightFormat::Float32 => "model.bpk",
            WeightFormat::Int8 => "model.q8",
        }
    }
}

/// The file of a boosted-tree model: its [`TreeEnsemble`] as JSON.
pub const TREES_FILE: &str = "trees.json";

/// Writes the weights (`model.bpk`, or `model.q8` for int8 models, which must already be
/// quantized) and `model.json` into `dir`, each atomically, and lists both in the folder's
/// `CHECKSUMS` manifest (started if missing, see [`checksums`]): [`load_saved_model`]
/// refuses them if they change afterwards.
///
/// # Errors
/// [`ModelError::Write`] naming the file that cannot be written.
pub fn save_saved_model(dir: &Path, info: &ModelInfo, model: &AnyModel) -> Result<(), ModelError> {
    checksums::track(dir).map_err(ModelError::Write)?;
    let weights = dir.join(info.weights_file());
    match (model, info.weights) {
        (AnyModel::Trees(trees), _) => {
            let json = serde_json::to_string(trees.ensemble()).map_err(std::io::Error::other);
            json.and_then(|json| write_atomic(&weights, json.as_bytes()))
        }
        (_, WeightFormat::Float32) => save_model(model, &weights),
        (_, WeightFormat::Int8) => write_atomic(&weights, &compact_bytes(model)),
    }
    .map_err(ModelError::Write)?;
    let path = dir.join("model.json");
    let json = serde_json::to_string_pretty(info).map_err(|e| ModelError::Description {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    write_atomic(&path, json.as_bytes()).map_err(ModelError::Write)
}

/// Reads `model.json` and the weights file from `dir` and rebuilds the model on `device`,
/// each file checked against the folder's `CHECKSUMS` manifest first (a folder saved by an
/// earlier release, without one, loads unverified: see [`checksums`]).
///
/// # Errors
/// [`ModelError`] naming the file when one is missing, was changed after it was written
/// ([`ModelError::Checksum`]), is invalid, or does not fit its architecture.
pub fn load_saved_model(dir: &Path, device: &Device) -> Result<(ModelInfo, AnyModel), ModelError> {
    let path = dir.join("model.json");
    let text = std::fs::read_to_string(&path).map_err(ModelError::io("read", &path))?;
    checksums::verify(&path, text.as_bytes())?;
    let info: ModelInfo = serde_json::from_str(&text).map_err(|e| ModelError::Description {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let weights = dir.join(info.weights_file());
    if info.spec.is_trees() {
        let model = load_trees(&info, &weights)?;
        return Ok((info, AnyModel::Trees(model)));
    }
    check_weights_size(&info, &path, &weights)?;
    let model = info
        .spec
        .build(info.num_features, info.class_names.len(), device)
        .map_err(|e| ModelError::in_file(&path)(e.into()))?;
    let model = to_format(model, info.weights, device);
    let model = match info.weights {
        WeightFormat::Float32 => load_model(model, &weights)?,
        WeightFormat::Int8 => {
            let bytes =
                std::fs::read(&weights).map_err(ModelError::io("read model file", &weights))?;
            checksums::verify(&weights, &bytes)?;
            load_compact(model, &bytes).map_err(ModelError::in_file(&weights))?
        }
    };
    Ok((info, model))
}

/// Reads a boosted-tree model's `trees.json`, checked against the manifest, its own
/// invariants ([`TreeEnsemble::validate`]) and the description's input and class counts.
fn load_trees(info: &ModelInfo, path: &Path) -> Result<TreeModel, ModelError> {
    let bytes = std::fs::read(path).map_err(ModelError::io("read model file", path))?;
    checksums::verify(path, &bytes)?;
    let bad = |reason: String| ModelError::NotAModelFile {
        path: path.to_path_buf(),
        reason,
    };
    let ensemble: TreeEnsemble =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("not a tree ensemble: {e}")))?;
    if ensemble.num_features != info.num_features || ensemble.num_classes != info.class_names.len()
    {
        return Err(bad(format!(
            "its trees read {} features for {} classes, model.json describes {} features and {} \
             classes",
            ensemble.num_features,
            ensemble.num_classes,
            info.num_features,
            info.class_names.len()
        )));
    }
    TreeModel::new(ensemble).map_err(bad)
}

/// Refuses a description whose model cannot be in its weights file before the model is
/// built: every parameter takes at least 4 bytes of `model.bpk` (1 of `model.q8`), so a
/// description claiming more (a damaged or hand-edited `model.json`, e.g. a hidden width of
/// 2^31) would otherwise allocate that much before the weights are even read.
fn check_weights_size(
    info: &ModelInfo,
    description: &Path,
    weights: &Path,
) -> Result<(), ModelError> {
    let bytes_per_parameter = match info.weights {
        WeightFormat::Float32 => 4,
        WeightFormat::Int8 => 1,
    };
    let shape = info
        .spec
        .describe(info.num_features, info.class_names.len());
    let needed = info
        .spec
        .num_parameters(info.num_features, info.class_names.len())
        .and_then(|n| n.checked_mul(bytes_per_parameter));
    let Some(needed) = needed else {
        return Err(ModelError::Description {
            path: description.to_path_buf(),
            reason: format!(
                "the model it describes ({shape}) has more parameters than fit in memory"
            ),
        });
    };
    let found = std::fs::metadata(weights)
        .map_err(ModelError::io("read model file", weights))?
        .len();
    if (needed as u64) > found {
        return Err(ModelError::Description {
            path: description.to_path_buf(),
            reason: format!(
                "the model it describes ({shape}) needs at least {needed} bytes of weights, but {} \
                 holds {found}: the description does not belong to these weights",
                weights.display()
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::{Module, ModuleMapper, Param};
    use burn::tensor::Tensor;

    fn saved(dir: &Path, device: &Device) -> (ModelInfo, AnyModel) {
        let spec = ModelSpec::mlp(vec![6], 0.0);
        let model = spec.build(4, 2, device).unwrap();
        let info = ModelInfo {
            role: "distilled".into(),
            description: spec.describe(4, 2),
            spec,
            num_features: 4,
            class_names: vec!["no".into(), "yes".into()],
            weights: WeightFormat::Float32,
            source: None,
        };
        save_saved_model(dir, &info, &model).unwrap();
        (info, model)
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("dk-saved-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_changed_or_extended_weights_or_description_file_is_refused_naming_it() {
        let device = Device::flex();
        let dir = scratch("checked");
        saved(&dir, &device);
        let manifest = std::fs::read_to_string(dir.join("CHECKSUMS")).unwrap();
        assert!(manifest.contains("  model.bpk\n") && manifest.contains("  model.json\n"));
        load_saved_model(&dir, &device).unwrap();
        for file in ["model.bpk", "model.json"] {
            let path = dir.join(file);
            let good = std::fs::read(&path).unwrap();
            let mut flipped = good.clone();
            let at = flipped.len() / 2;
            flipped[at] ^= 0x01;
            let mut appended = good.clone();
            appended.push(b' ');
            for bad in [flipped, appended] {
                std::fs::write(&path, &bad).unwrap();
                let err = load_saved_model(&dir, &device).unwrap_err();
                assert!(matches!(err, ModelError::Checksum(_)), "{err:?}");
                let msg = err.to_string();
                assert!(msg.contains(&*path.to_string_lossy()), "{msg}");
                assert!(
                    msg.contains("modified or damaged after it was written"),
                    "{msg}"
                );
            }
            std::fs::write(&path, &good).unwrap();
        }
        // Saved by an earlier release (no manifest): still loads.
        std::fs::remove_file(dir.join("CHECKSUMS")).unwrap();
        load_saved_model(&dir, &device).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_description_larger_than_its_weights_is_refused_before_building_the_model() {
        let device = Device::flex();
        let dir = scratch("oversized");
        let (info, _) = saved(&dir, &device);
        // Without a manifest (an earlier release's folder) only the size check stands
        // between a hand-edited description and an allocation of that size.
        std::fs::remove_file(dir.join("CHECKSUMS")).unwrap();
        let oversized = [
            ModelSpec::mlp(vec![1 << 31], 0.0),
            ModelSpec::mlp(vec![usize::MAX / 2, usize::MAX / 2], 0.0),
            ModelSpec::mlp(vec![100_000], 0.0),
        ];
        for spec in oversized {
            let edited = ModelInfo {
                spec: spec.clone(),
                ..info.clone()
            };
            let path = dir.join("model.json");
            std::fs::write(&path, serde_json::to_string(&edited).unwrap()).unwrap();
            let err = load_saved_model(&dir, &device).unwrap_err();
            assert!(
                matches!(err, ModelError::Description { .. }),
                "{spec:?}: {err:?}"
            );
            let msg = err.to_string();
            assert!(msg.contains("model.json"), "{msg}");
            assert!(
                msg.contains("needs at least") || msg.contains("more parameters than fit"),
                "{msg}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn nan_or_infinite_weights_are_refused_on_load() {
        struct Poison(f32);
        impl ModuleMapper for Poison {
            fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
                let value = self.0;
                p.map(|t| t.mul_scalar(value))
            }
        }
        let device = Device::flex();
        for value in [f32::NAN, f32::INFINITY] {
            let dir = scratch("nan");
            let (info, model) = saved(&dir, &device);
            let poisoned = model.map(&mut Poison(value));
            // Written by hand, checksum and all: only the load-time check can tell.
            save_saved_model(&dir, &info, &poisoned).unwrap();
            let err = load_saved_model(&dir, &device).unwrap_err().to_string();
            assert!(
                err.contains("NaN or infinite") && err.contains("model.bpk"),
                "{err}"
            );
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}
