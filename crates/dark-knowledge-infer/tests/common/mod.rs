//! A run folder written by hand (a seeded model and its preprocessing) for the tests of
//! this crate.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;

use burn::tensor::Device;
use dark_knowledge_core::io::write_atomic;
use dark_knowledge_data::tabular::{CsvTable, TabularConfig, TabularEncoder};
use dark_knowledge_models::{ModelInfo, ModelSpec, WeightFormat, save_saved_model};

/// A record from `(column, value)` pairs.
pub fn record(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A run folder `dk-infer-{name}-PID` in the temporary folder: `preprocessing.json` fitted
/// with `config` on the six rows of `csv` (target `label`, classes `no`, `yes`), and a
/// `distilled` MLP with one hidden layer of 8, initialised from seed 3.
pub fn make_run(
    name: &str,
    csv: &str,
    config: &TabularConfig,
) -> (PathBuf, Device, TabularEncoder) {
    let device = Device::flex();
    let dir = std::env::temp_dir().join(format!("dk-infer-{name}-{}", std::process::id()));
    let table = CsvTable::parse(csv).unwrap();
    let encoder = TabularEncoder::fit(&table, &[0, 1, 2, 3, 4, 5], config).unwrap();
    write_atomic(
        &dir.join("preprocessing.json"),
        encoder.to_json().as_bytes(),
    )
    .unwrap();
    let spec = ModelSpec::mlp(vec![8], 0.0);
    device.seed(3);
    let model = spec.build(encoder.num_features(), 2, &device).unwrap();
    let info = ModelInfo {
        role: "distilled".into(),
        description: spec.describe(encoder.num_features(), 2),
        spec,
        num_features: encoder.num_features(),
        class_names: vec!["no".into(), "yes".into()],
        weights: WeightFormat::Float32,
        source: None,
    };
    save_saved_model(&dir.join("distilled"), &info, &model).unwrap();
    (dir, device, encoder)
}
