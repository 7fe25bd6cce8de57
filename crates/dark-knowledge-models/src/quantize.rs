//! Post-training int8 weight quantization through burn's [`Quantizer`].
//!
//! Every float parameter (weights and biases) is stored as signed 8-bit integers with one
//! scale per tensor, calibrated on the tensor's own min/max (symmetric). Activations stay in
//! float: this shrinks the saved model about 4× and keeps outputs within ~1e-2 of the float
//! model on the reference architectures.

use burn::module::{Module, Quantizer};
use burn::tensor::Device;
use burn::tensor::quantization::{Calibration, QuantScheme, QuantValue};
use serde::{Deserialize, Serialize};

/// How a saved model's weights are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightFormat {
    /// 32-bit floats, as trained.
    #[default]
    Float32,
    /// Signed 8-bit integers, one symmetric min/max scale per tensor.
    Int8,
}

impl WeightFormat {
    /// `float32` or `int8`, as written in `model.json`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Float32 => "float32",
            Self::Int8 => "int8",
        }
    }

    /// Whether this is the float format (the default, omitted from `model.json`).
    pub fn is_float(&self) -> bool {
        *self == Self::Float32
    }
}

/// The int8 scheme used on `device`: the device's default quantization settings with 8-bit
/// symmetric values (burn's packed default scheme is not supported by every CPU backend).
pub fn int8_scheme(device: &Device) -> QuantScheme {
    device
        .settings()
        .quantization
        .scheme
        .with_value(QuantValue::Q8S)
}

/// Returns `model` with every float parameter quantized to int8 (see the module docs).
/// `device` is the device the model lives on.
pub fn quantize_int8<M: Module>(model: M, device: &Device) -> M {
    let mut quantizer = Quantizer::new(Calibration::MinMax, int8_scheme(device));
    model.quantize_weights(&mut quantizer)
}

/// Converts `model` (freshly built, float) to `format`, so that weights saved in that format
/// can be loaded into it.
pub fn to_format<M: Module>(model: M, format: WeightFormat, device: &Device) -> M {
    match format {
        WeightFormat::Float32 => model,
        WeightFormat::Int8 => quantize_int8(model, device),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ModelSpec, compact_bytes, load_compact, model_bytes};
    use burn::tensor::{Distribution, Tensor};
    use dark_knowledge_core::Classifier;
    use dark_knowledge_core::tensor_util::to_vec_f32;

    fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn int8_model_is_smaller_close_to_float_and_round_trips_through_a_file() {
        let device = Device::flex();
        device.seed(3);
        let spec = ModelSpec::mlp(vec![64, 32], 0.0);
        let model = spec.build(40, 3, &device).unwrap();
        let x = Tensor::<2>::random([16, 40], Distribution::Default, &device);
        let float_out = to_vec_f32(model.logits(x.clone()));

        let q = quantize_int8(model.clone(), &device);
        let q_out = to_vec_f32(q.logits(x.clone()));
        let diff = max_abs_diff(&float_out, &q_out);
        assert!(diff > 0.0, "quantization changed nothing");
        assert!(diff < 2e-2, "int8 outputs differ from float by {diff}");

        // 4,835 parameters: 19,340 bytes of float weights against 4,835 int8 values and a
        // scale per tensor.
        let float_bytes = model_bytes(&model).unwrap().len();
        let q_bytes = compact_bytes(&q);
        assert!(
            q_bytes.len() * 3 < float_bytes,
            "int8 {} bytes vs float {float_bytes}",
            q_bytes.len()
        );

        device.seed(9);
        let fresh = to_format(
            spec.build(40, 3, &device).unwrap(),
            WeightFormat::Int8,
            &device,
        );
        assert_ne!(to_vec_f32(fresh.logits(x.clone())), q_out);
        let loaded = load_compact(fresh, &q_bytes).unwrap();
        assert_eq!(to_vec_f32(loaded.logits(x)), q_out);
    }

    #[test]
    fn compact_files_that_do_not_fit_are_errors() {
        let device = Device::flex();
        let q = quantize_int8(
            ModelSpec::mlp(vec![8], 0.0).build(6, 2, &device).unwrap(),
            &device,
        );
        let bytes = compact_bytes(&q);
        let other = |hidden| {
            quantize_int8(
                ModelSpec::mlp(vec![hidden], 0.0)
                    .build(6, 2, &device)
                    .unwrap(),
                &device,
            )
        };
        assert!(load_compact(other(8), &bytes).is_ok());
        let err = load_compact(other(9), &bytes).unwrap_err().to_string();
        assert!(err.contains("Mlp.hidden.0"), "{err}");
        let err = load_compact(other(8), &bytes[..bytes.len() - 3])
            .unwrap_err()
            .to_string();
        assert!(err.contains("truncated"), "{err}");
        let err = load_compact(other(8), b"BPK0 not ours")
            .unwrap_err()
            .to_string();
        assert!(err.contains("magic"), "{err}");
        let deeper = quantize_int8(
            ModelSpec::mlp(vec![8, 8], 0.0)
                .build(6, 2, &device)
                .unwrap(),
            &device,
        );
        assert!(load_compact(deeper, &bytes).is_err());
    }
}
