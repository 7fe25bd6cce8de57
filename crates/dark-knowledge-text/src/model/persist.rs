//! Saving and loading a [`CausalLm`]: its weights (burnpack) and its settings (JSON)
//! beside them.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};
use dark_knowledge_core::checksums;
use dark_knowledge_core::io::write_atomic;
use dark_knowledge_core::tensor_util::first_non_finite;

use super::{CausalLm, CausalLmConfig};
use crate::error::{Error, Result};

impl CausalLm {
    /// The settings file written beside the weights at `path`: `path` with the extension
    /// `json` (`lm.bpk` → `lm.json`).
    pub fn config_path(path: &Path) -> PathBuf {
        path.with_extension("json")
    }

    /// Writes the weights to `path` (burnpack) and the settings to
    /// [`config_path`](Self::config_path)`(path)` (JSON), each atomically; both are
    /// recorded in the folder's `CHECKSUMS` manifest when it has one
    /// ([`dark_knowledge_core::checksums`]).
    ///
    /// # Errors
    /// [`Error::InvalidValue`] when `path` ends in `.json` (the settings would overwrite
    /// it); [`Error::Io`] naming the file that cannot be written.
    pub fn save(&self, path: &Path) -> Result<()> {
        let config_path = Self::config_path(path);
        if config_path == path {
            return Err(Error::invalid(
                "model path",
                path.display(),
                "a path not ending in .json (the settings go to <name>.json beside it)",
            ));
        }
        let bytes = self
            .clone()
            .into_record()
            .into_bytes()
            .map_err(|e| Error::io(path, std::io::Error::other(format!("{e:?}"))))?;
        write_atomic(path, &bytes).map_err(|e| Error::io(path, e))?;
        let json = serde_json::to_string_pretty(&self.config).expect("settings serialize");
        write_atomic(&config_path, json.as_bytes()).map_err(|e| Error::io(&config_path, e))
    }

    /// Reads a model written by [`save`](Self::save) onto `device`: the settings first,
    /// then the weights, each checked against its folder's `CHECKSUMS` manifest.
    ///
    /// # Errors
    /// [`Error::Io`] naming a file that cannot be read; [`Error::Format`] naming a file that
    /// was changed after it was written, holds invalid or unknown settings, is not a model
    /// file, is too small for its settings, does not fit them, or holds a NaN or infinite
    /// weight.
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let config = read_config(&Self::config_path(path))?;
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        checksums::verify(path, &bytes).map_err(|e| Error::format(path, e.to_string()))?;
        let params = config.num_params().expect("validated settings");
        if bytes.len() / 4 < params {
            return Err(Error::format(
                path,
                format!(
                    "{} bytes cannot hold the {params} parameters of its settings (damaged or \
                     from another model)",
                    bytes.len()
                ),
            ));
        }
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
            .map_err(|e| Error::format(path, format!("not a model file: {e:?}")))?;
        let model = config
            .init(device)
            .try_load_record(record)
            .map_err(|e| Error::format(path, format!("does not fit its settings: {e:?}")))?;
        if let Some(parameter) = first_non_finite(&model) {
            return Err(Error::format(
                path,
                format!("parameter `{parameter}` holds a NaN or infinite weight"),
            ));
        }
        Ok(model)
    }
}

/// Reads and validates settings, refusing unknown keys.
fn read_config(path: &Path) -> Result<CausalLmConfig> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    checksums::verify(path, text.as_bytes()).map_err(|e| Error::format(path, e.to_string()))?;
    let bad = |message: String| Error::format(path, message);
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| bad(format!("not language-model settings (JSON): {e}")))?;
    let config: CausalLmConfig = serde_json::from_value(value.clone())
        .map_err(|e| bad(format!("not language-model settings: {e}")))?;
    let known = serde_json::to_value(&config).expect("settings serialize");
    if let (Some(given), Some(known)) = (value.as_object(), known.as_object())
        && let Some(key) = given.keys().find(|k| !known.contains_key(*k))
    {
        return Err(bad(format!(
            "unknown setting `{key}`; known: {}",
            known.keys().cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    config.validate().map_err(|e| bad(e.to_string()))?;
    Ok(config)
}
