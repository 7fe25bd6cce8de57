//! burn's data API as the trainer's data: the same rows and seed give bit-identical weights
//! through the in-memory path and through a burn `Dataset` + `Batcher` (on one thread or
//! several), augmented data is refused with a teacher that looks logits up by row, and the
//! teacher network sees each augmented batch.

mod common;

use std::sync::Mutex;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::InMemDataset;
use burn::tensor::{Device, Tensor, TensorData};
use common::*;
use dark_knowledge_core::loss::SoftTargetLossConfig;
use dark_knowledge_core::tensor_util::{parameters_to_vec, to_vec_f32};
use dark_knowledge_core::{
    Classifier, FrozenTeacher, PrecomputedTeacher, Result as CoreResult, Teacher, TeacherBatch,
};
use dark_knowledge_data::{
    Augment, Augmented, BatchSource, Dataset, FeatureNoise, LabeledBatch, LoaderData,
};
use dark_knowledge_models::Mlp;
use dark_knowledge_train::{Error, TrainerConfig};

#[derive(Debug, Clone)]
struct Row {
    features: Vec<f32>,
    label: usize,
}

#[derive(Debug, Clone, Copy)]
struct RowBatcher;

impl Batcher<Row, LabeledBatch<Tensor<2>>> for RowBatcher {
    fn batch(&self, items: Vec<Row>, device: &Device) -> LabeledBatch<Tensor<2>> {
        let (n, d) = (items.len(), items[0].features.len());
        let features: Vec<f32> = items.iter().flat_map(|r| r.features.clone()).collect();
        let labels: Vec<i64> = items.iter().map(|r| r.label as i64).collect();
        LabeledBatch {
            inputs: Tensor::from_data(TensorData::new(features, [n, d]), device),
            targets: Tensor::from_data(TensorData::new(labels, [n]), device),
        }
    }
}

/// The rows of an in-memory dataset as a burn dataset of items.
fn items(data: &Dataset) -> InMemDataset<Row> {
    let values = to_vec_f32(data.features().clone());
    let d = data.num_features();
    InMemDataset::new(
        data.labels_host()
            .iter()
            .enumerate()
            .map(|(i, &label)| Row {
                features: values[i * d..(i + 1) * d].to_vec(),
                label,
            })
            .collect(),
    )
}

fn loader(data: &Dataset, workers: usize) -> LoaderData<Row, Tensor<2>> {
    LoaderData::new(items(data), RowBatcher, data.num_classes(), &data.device())
        .unwrap()
        .with_num_features(data.num_features())
        .with_workers(workers)
}

fn distill(
    train: &dyn BatchSource,
    valid: &dyn BatchSource,
    teacher: &dyn Teacher,
    seed: u64,
) -> Result<Mlp, Error> {
    let device = Device::flex();
    device.seed(seed);
    let student = dark_knowledge_models::MlpConfig::new(FEATURES, vec![16], CLASSES)
        .with_dropout(0.2)
        .init(&device);
    let config = TrainerConfig {
        epochs: 3,
        batch_size: 24,
        loss: SoftTargetLossConfig::new(3.0, 0.3, 0.7),
        seed,
        ..TrainerConfig::default()
    };
    Ok(trainer(config)
        .fit(student, train, valid, Some(teacher))?
        .last)
}

#[test]
fn the_loader_path_gives_the_in_memory_weights_bit_for_bit() {
    let _rng = exclusive_rng();
    let device = Device::flex();
    let task = task(&device, 700);
    device.seed(0);
    let teacher = FrozenTeacher::new(teacher_model(&device));
    for seed in [3, 17] {
        let memory = parameters_to_vec(&distill(&task.train, &task.valid, &teacher, seed).unwrap());
        for workers in [1, 3] {
            let (train, valid) = (loader(&task.train, workers), loader(&task.valid, workers));
            let via_loader = parameters_to_vec(&distill(&train, &valid, &teacher, seed).unwrap());
            assert!(
                memory
                    .iter()
                    .zip(&via_loader)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "seed {seed}, {workers} workers: the loader path's weights differ"
            );
        }
    }
}

#[test]
fn augmented_data_with_logits_looked_up_by_row_is_refused() {
    let _rng = exclusive_rng();
    let device = Device::flex();
    let task = task(&device, 200);
    // Row ids are those of the whole task (train, valid and test): 200 rows of logits.
    let logits = Tensor::<2>::zeros([200, CLASSES], &device);
    let cache = PrecomputedTeacher::new(logits).unwrap();
    let train = Augmented::new(task.train.clone(), FeatureNoise { std: 0.1 });
    let err = distill(&train, &task.valid, &cache, 1).unwrap_err();
    assert!(matches!(err, Error::AugmentedLookupTeacher { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("feature noise (std 0.1)") && msg.contains("precomputed logits"),
        "{msg}"
    );
    // Without augmentation the same teacher is accepted.
    assert!(distill(&task.train, &task.valid, &cache, 1).is_ok());
}

/// A network teacher that records the sum of every batch it is given.
struct Spy {
    net: FrozenTeacher<Mlp>,
    sums: Mutex<Vec<f32>>,
}

impl Teacher for Spy {
    fn num_classes(&self) -> usize {
        CLASSES
    }
    fn logits(&self, batch: TeacherBatch<'_>) -> CoreResult<Tensor<2>> {
        let sum = batch
            .inputs
            .clone()
            .without_autodiff()
            .sum()
            .into_scalar::<f32>();
        self.sums.lock().unwrap().push(sum);
        self.net.logits(batch)
    }
    fn describe(&self) -> String {
        "spy".into()
    }
    fn reads_inputs(&self) -> bool {
        true
    }
}

#[test]
fn the_teacher_network_runs_on_each_augmented_batch() {
    let _rng = exclusive_rng();
    let device = Device::flex();
    let task = task(&device, 300);
    device.seed(0);
    let spy = |net| Spy {
        net,
        sums: Mutex::new(Vec::new()),
    };
    let plain = spy(FrozenTeacher::new(teacher_model(&device)));
    let noisy = spy(FrozenTeacher::new(plain.net.model().clone()));
    distill(&task.train, &task.valid, &plain, 5).unwrap();
    let noise = FeatureNoise { std: 0.5 };
    distill(
        &Augmented::new(task.train.clone(), noise),
        &task.valid,
        &noisy,
        5,
    )
    .unwrap();
    let (a, b) = (
        plain.sums.into_inner().unwrap(),
        noisy.sums.into_inner().unwrap(),
    );
    assert_eq!(a.len(), b.len());
    let steps = 3 * task.train.len().div_ceil(24);
    // Training batches differ (noise), validation batches (after each epoch) do not.
    let differ = a.iter().zip(&b).filter(|(x, y)| x != y).count();
    assert_eq!(
        differ, steps,
        "every training batch, and only those, is augmented"
    );
    // And the augmentation repeats from the seed.
    let again = spy(FrozenTeacher::new(plain.net.model().clone()));
    distill(
        &Augmented::new(task.train.clone(), noise),
        &task.valid,
        &again,
        5,
    )
    .unwrap();
    assert_eq!(b, again.sums.into_inner().unwrap());
    let _ = Augment::<Tensor<2>>::describe(&noise);
}

#[test]
fn a_batcher_with_a_label_outside_the_classes_is_an_error_naming_the_row() {
    let device = Device::flex();
    let rows: Vec<Row> = (0..10)
        .map(|i| Row {
            features: vec![0.0; FEATURES],
            label: if i == 7 { 9 } else { i % CLASSES },
        })
        .collect();
    let data = LoaderData::new(InMemDataset::new(rows), RowBatcher, CLASSES, &device).unwrap();
    let err = data.batch(&[6, 7]).unwrap_err().to_string();
    assert!(
        err.contains("target 9 of row 7") && err.contains("0..4"),
        "{err}"
    );
    assert!(
        data.batch(&[10])
            .unwrap_err()
            .to_string()
            .contains("row 10")
    );
    let model = student_model(&device);
    assert_eq!(model.num_classes(), CLASSES);
}

#[test]
fn training_from_a_row_store_gives_the_in_memory_weights_bit_for_bit() {
    use dark_knowledge_data::{RowStoreWriter, StoreData};
    let _rng = exclusive_rng();
    let device = Device::flex();
    let data = dark_knowledge_data::GaussianMixtureConfig {
        num_samples: 600,
        num_features: FEATURES,
        num_classes: CLASSES,
        clusters_per_class: 2,
        cluster_std: 1.0,
        seed: 9,
    }
    .dataset(&device)
    .unwrap();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("loader-store");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rows.dkrs");
    let values = to_vec_f32(data.features().clone());
    let mut writer = RowStoreWriter::create(&path, FEATURES, CLASSES).unwrap();
    for (i, &label) in data.labels_host().iter().enumerate() {
        writer
            .push(&values[i * FEATURES..(i + 1) * FEATURES], Some(label))
            .unwrap();
    }
    writer.finish().unwrap();
    let split = dark_knowledge_data::stratified_split(data.labels_host(), 0.25, 0.0, 1).unwrap();
    let (train, valid) = (
        data.subset(&split.train).unwrap(),
        data.subset(&split.valid).unwrap(),
    );
    let store = StoreData::open(&path, &device).unwrap();
    let (s_train, s_valid) = (
        store.subset(split.train.clone()).unwrap(),
        store.subset(split.valid.clone()).unwrap(),
    );
    // Same rows, same ids: the batches, and so the weights, are the same.
    let a = s_train.batch(&[5, 0, 77]).unwrap();
    let b = BatchSource::batch(&train, &[5, 0, 77]).unwrap();
    assert_eq!(a.rows, b.rows);
    assert_eq!(to_vec_f32(a.inputs), to_vec_f32(b.inputs));
    // A slice reads its rows in one go: the same rows, ids and labels as the dataset's.
    let slice = store.slice(100..160).unwrap();
    let (c, d) = (slice.range(3, 40).unwrap(), data.range(103, 140));
    assert_eq!(c.rows, d.rows);
    assert_eq!(to_vec_f32(c.inputs), to_vec_f32(d.inputs));
    assert_eq!(
        c.targets.into_data().iter::<i64>().collect::<Vec<_>>(),
        d.targets.into_data().iter::<i64>().collect::<Vec<_>>()
    );
    assert!(store.slice(590..601).is_err());
    device.seed(0);
    let teacher = FrozenTeacher::new(teacher_model(&device));
    let memory = parameters_to_vec(&distill(&train, &valid, &teacher, 4).unwrap());
    let stored = parameters_to_vec(&distill(&s_train, &s_valid, &teacher, 4).unwrap());
    assert!(
        memory
            .iter()
            .zip(&stored)
            .all(|(x, y)| x.to_bits() == y.to_bits())
    );
}
