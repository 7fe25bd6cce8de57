//! Saved models (`load_saved_model`): `model.json` beside `model.bpk` (float weights),
//! `model.q8` (int8 weights) or `trees.json` (boosted trees). Each target mutates one of the
//! files; the others are valid files of the same model.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor};
use dark_knowledge_core::Classifier;
use dark_knowledge_models::{
    AnyModel, GbdtConfig, LabeledRows, ModelInfo, ModelSpec, TREES_FILE, TreeModel, WeightFormat,
    load_saved_model, quantize_int8, save_saved_model,
};

use crate::{Harness, Outcome, check};

/// Widest input the harness runs a forward pass on.
const MAX_FORWARD: usize = 1 << 12;

/// Which file of the saved model the input is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum File {
    Json,
    Bpk,
    Q8,
    Trees,
}

pub(crate) struct Model {
    dir: PathBuf,
    file: File,
    seeds: Vec<Vec<u8>>,
    device: Device,
}

fn info(weights: WeightFormat) -> ModelInfo {
    let spec = ModelSpec::mlp(vec![8], 0.1);
    ModelInfo {
        role: "distilled".into(),
        description: spec.describe(5, 3),
        spec,
        num_features: 5,
        class_names: vec!["a".into(), "b".into(), "c".into()],
        weights,
        source: (weights == WeightFormat::Int8).then(|| "distilled".into()),
    }
}

/// Saves the seed model (float, then int8) with [`save_saved_model`] into `scratch`; the
/// files of each, by name.
fn saved_files(scratch: &Path, device: &Device) -> [(PathBuf, WeightFormat); 2] {
    device.seed(7);
    let float = info(WeightFormat::Float32);
    let model = float.spec.build(5, 3, device).expect("seed model builds");
    let out = [
        (scratch.join("float"), WeightFormat::Float32),
        (scratch.join("int8"), WeightFormat::Int8),
    ];
    for (dir, format) in &out {
        std::fs::create_dir_all(dir).expect("seed folder");
        let m = match format {
            WeightFormat::Float32 => model.clone(),
            WeightFormat::Int8 => quantize_int8(model.clone(), device),
        };
        save_saved_model(dir, &info(*format), &m).expect("seed model saved");
    }
    out
}

/// Fits small boosted trees (5 features, 3 classes) and saves them into `dir`.
fn saved_trees(dir: &Path) {
    let features: Vec<f32> = (0..300).map(|i| ((i * 37) % 101) as f32 / 101.0).collect();
    let labels: Vec<usize> = features
        .chunks(5)
        .map(|r| usize::from(r[0] > 0.3) + usize::from(r[1] > 0.6))
        .collect();
    let rows = LabeledRows {
        features: &features,
        labels: &labels,
    };
    let config = GbdtConfig {
        max_depth: 3,
        max_trees: 20,
        ..GbdtConfig::default()
    };
    let trees = config.fit(rows, rows, 5, 3, 7).expect("seed trees fit");
    let spec = ModelSpec::Gbdt(config);
    let info = ModelInfo {
        role: "teacher".into(),
        description: trees.describe(),
        spec,
        num_features: 5,
        class_names: vec!["a".into(), "b".into(), "c".into()],
        weights: WeightFormat::Float32,
        source: None,
    };
    let model = AnyModel::Trees(TreeModel::new(trees).expect("valid seed trees"));
    std::fs::create_dir_all(dir).expect("seed folder");
    save_saved_model(dir, &info, &model).expect("seed trees saved");
}

fn make(scratch: &Path, file: File) -> Box<dyn Harness> {
    let device = Device::flex();
    let [(float, _), (int8, _)] = saved_files(scratch, &device);
    let dir = scratch.join("work");
    std::fs::create_dir_all(&dir).expect("work folder");
    let read = |p: PathBuf| std::fs::read(p).expect("seed file");
    let copy = |from: &Path, name: &str| {
        std::fs::copy(from.join(name), dir.join(name)).expect("companion file");
    };
    let seeds = match file {
        File::Json => {
            copy(&float, "model.bpk");
            copy(&int8, "model.q8");
            vec![
                read(float.join("model.json")),
                read(int8.join("model.json")),
            ]
        }
        File::Bpk => {
            copy(&float, "model.json");
            vec![read(float.join("model.bpk"))]
        }
        File::Q8 => {
            copy(&int8, "model.json");
            vec![read(int8.join("model.q8"))]
        }
        File::Trees => {
            let trees = scratch.join("trees");
            saved_trees(&trees);
            copy(&trees, "model.json");
            vec![read(trees.join(TREES_FILE))]
        }
    };
    Box::new(Model {
        dir,
        file,
        seeds,
        device,
    })
}

fn check_model(info: &ModelInfo, model: &AnyModel, device: &Device) -> Result<(), Outcome> {
    let classes = info.class_names.len();
    check(model.num_classes() == classes, || {
        format!(
            "a model of {} classes for {classes} class names",
            model.num_classes()
        )
    })?;
    check(AnyModel::num_features(model) == info.num_features, || {
        format!(
            "a model of {} inputs for num_features {}",
            AnyModel::num_features(model),
            info.num_features
        )
    })?;
    if info.num_features <= MAX_FORWARD {
        let logits = model.logits(Tensor::zeros([2, info.num_features], device));
        check(logits.dims() == [2, classes], || {
            format!(
                "logits of shape {:?} for 2 rows of {classes} classes",
                logits.dims()
            )
        })?;
    }
    Ok(())
}

impl Harness for Model {
    fn seeds(&mut self) -> Vec<Vec<u8>> {
        self.seeds.clone()
    }

    fn run(&mut self, input: &[u8]) -> Outcome {
        let name = match self.file {
            File::Json => "model.json",
            File::Bpk => "model.bpk",
            File::Q8 => "model.q8",
            File::Trees => TREES_FILE,
        };
        if let Err(e) = std::fs::write(self.dir.join(name), input) {
            return Outcome::Violation(format!("cannot write the scratch file: {e}"));
        }
        let (info, model) = match load_saved_model(&self.dir, &self.device) {
            Ok(loaded) => loaded,
            Err(e) => return Outcome::rejected(e),
        };
        match check_model(&info, &model, &self.device) {
            Ok(()) => Outcome::Parsed(format!("{} model", info.weights.name())),
            Err(o) => o,
        }
    }
}

/// Builds the `model-json` harness.
pub(crate) fn model_json(scratch: &Path) -> Box<dyn Harness> {
    make(scratch, File::Json)
}

/// Builds the `model-bpk` harness.
pub(crate) fn model_bpk(scratch: &Path) -> Box<dyn Harness> {
    make(scratch, File::Bpk)
}

/// Builds the `model-trees` harness.
pub(crate) fn model_trees(scratch: &Path) -> Box<dyn Harness> {
    make(scratch, File::Trees)
}

/// Builds the `model-q8` harness.
pub(crate) fn model_q8(scratch: &Path) -> Box<dyn Harness> {
    make(scratch, File::Q8)
}
