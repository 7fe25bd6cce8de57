//! Saving and loading model weights (burnpack), atomically.

use std::path::Path;

use burn::module::Module;
use burn::store::ModuleRecord;
use dark_knowledge_core::checksums;
use dark_knowledge_core::error as dk;
use dark_knowledge_core::io::write_atomic;
use dark_knowledge_core::tensor_util::first_non_finite;

use crate::ModelError;

/// The model's weights serialized as burnpack bytes (what [`save_model`] writes).
///
/// # Errors
/// [`dk::Error::Teacher`]-free: serialization failures are reported as
/// [`dk::Error::InvalidValue`] naming the cause.
pub fn model_bytes<M: Module>(model: &M) -> dk::Result<Vec<u8>> {
    model
        .clone()
        .into_record()
        .into_bytes()
        .map(|b| b.to_vec())
        .map_err(|e| dk::Error::InvalidValue {
            name: "model record",
            value: format!("{e:?}"),
            allowed: "a serializable module",
        })
}

/// Writes the model's weights to `path` (burnpack), atomically (temporary file + rename),
/// recorded in the folder's `CHECKSUMS` manifest when it has one
/// ([`dark_knowledge_core::checksums`]).
///
/// # Errors
/// An I/O error naming the file, or a serialization error.
pub fn save_model<M: Module>(model: &M, path: &Path) -> std::io::Result<()> {
    let bytes = model_bytes(model).map_err(|e| std::io::Error::other(e.to_string()))?;
    write_atomic(path, &bytes)
}

/// Loads weights saved by [`save_model`] into `model` (which must have the same
/// architecture, e.g. built from the same spec), after checking the file against its
/// folder's `CHECKSUMS` manifest ([`checksums::verify`]).
///
/// # Errors
/// [`ModelError`] naming the file when it cannot be read, was changed after it was written
/// ([`ModelError::Checksum`]), is not a model file, holds a NaN or infinite weight, or does
/// not fit the architecture.
pub fn load_model<M: Module>(model: M, path: &Path) -> Result<M, ModelError> {
    let bytes = std::fs::read(path).map_err(ModelError::io("read model file", path))?;
    checksums::verify(path, &bytes)?;
    let record =
        ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes)).map_err(|e| {
            ModelError::NotAModelFile {
                path: path.to_path_buf(),
                reason: format!("{e:?}"),
            }
        })?;
    let model = model
        .try_load_record(record)
        .map_err(|e| ModelError::Architecture {
            path: path.to_path_buf(),
            reason: format!("{e:?}"),
        })?;
    match first_non_finite(&model) {
        None => Ok(model),
        Some(parameter) => Err(ModelError::NotAModelFile {
            path: path.to_path_buf(),
            reason: format!(
                "parameter `{parameter}` holds a NaN or infinite weight (a diverged training, \
                 or a damaged file); train the model again"
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModelSpec;
    use burn::tensor::{Device, Distribution, Tensor};
    use dark_knowledge_core::Classifier;
    use dark_knowledge_core::tensor_util::to_vec_f32;

    #[test]
    fn save_then_load_predicts_identically_and_bad_files_are_errors() {
        let device = Device::flex();
        let dir = std::env::temp_dir().join(format!("dk-persist-{}", std::process::id()));
        let path = dir.join("model.bpk");
        let spec = ModelSpec::mlp(vec![12, 6], 0.1);
        device.seed(1);
        let model = spec.build(5, 3, &device).unwrap();
        save_model(&model, &path).unwrap();
        device.seed(2);
        let fresh = spec.build(5, 3, &device).unwrap();
        let x = Tensor::<2>::random([7, 5], Distribution::Default, &device);
        assert_ne!(
            to_vec_f32(fresh.logits(x.clone())),
            to_vec_f32(model.logits(x.clone()))
        );
        let loaded = load_model(fresh, &path).unwrap();
        assert_eq!(
            to_vec_f32(loaded.logits(x.clone())),
            to_vec_f32(model.logits(x))
        );

        // Another architecture, a truncated file, a missing file: errors naming the file.
        let other = ModelSpec::mlp(vec![4], 0.0).build(5, 3, &device).unwrap();
        let err = load_model(other, &path).unwrap_err().to_string();
        assert!(err.contains("does not fit"), "{err}");
        let bytes = std::fs::read(&path).unwrap();
        let cut = dir.join("cut.bpk");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let err = load_model(spec.build(5, 3, &device).unwrap(), &cut)
            .unwrap_err()
            .to_string();
        assert!(err.contains("cut.bpk"), "{err}");
        let err = load_model(spec.build(5, 3, &device).unwrap(), &dir.join("none.bpk"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("none.bpk"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
