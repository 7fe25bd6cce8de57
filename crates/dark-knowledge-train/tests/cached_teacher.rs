//! Distilling from a teacher cache: the same student weights as with the teacher run online
//! (f32 cache, same seed), a cache made for other data is refused, and a top-k cache with
//! the top-k loss follows the online top-k run. (Own binary: the device's generator is
//! seeded per run and no other test shares it.)

mod common;

use std::path::PathBuf;

use burn::tensor::Device;
use common::*;
use dark_knowledge_core::loss::SoftTargetLossConfig;
use dark_knowledge_core::tensor_util::parameters_to_vec;
use dark_knowledge_core::{FrozenTeacher, Teacher};
use dark_knowledge_data::cache::{CacheDtype, CacheError};
use dark_knowledge_data::{
    CacheSettings, CachedTeacher, Dataset, GaussianMixtureConfig, cache_teacher, stratified_split,
};
use dark_knowledge_train::TrainerConfig;

fn student_weights(
    device: &Device,
    train: &Dataset,
    valid: &Dataset,
    teacher: &dyn Teacher,
    loss: SoftTargetLossConfig,
) -> (Vec<f32>, f64) {
    device.seed(21);
    let student = dark_knowledge_models::MlpConfig::new(FEATURES, vec![16], CLASSES)
        .with_dropout(0.1)
        .init(device);
    let out = trainer(TrainerConfig {
        epochs: 10,
        batch_size: 32,
        learning_rate: 5e-3,
        loss,
        seed: 21,
        ..TrainerConfig::default()
    })
    .fit(student, train, valid, Some(teacher))
    .unwrap();
    let agreement = out.history.last().unwrap().valid.teacher_agreement.unwrap();
    (parameters_to_vec(&out.last), agreement)
}

fn settings(dtype: CacheDtype, top_k: Option<usize>) -> CacheSettings {
    CacheSettings {
        dtype,
        top_k,
        teacher: "MLP 10-128-128-4".into(),
        teacher_fingerprint: "0123456789abcdef".into(),
        batch_size: 100,
    }
}

#[test]
fn cached_teacher_gives_the_online_students_weights_and_refuses_other_data() {
    let device = Device::flex();
    let all = GaussianMixtureConfig {
        num_samples: 600,
        num_features: FEATURES,
        num_classes: CLASSES,
        clusters_per_class: 2,
        cluster_std: 1.0,
        seed: 3,
    }
    .dataset(&device)
    .unwrap();
    let split = stratified_split(all.labels_host(), 0.2, 0.0, 3).unwrap();
    let (train, valid) = (
        all.subset(&split.train).unwrap(),
        all.subset(&split.valid).unwrap(),
    );
    device.seed(1);
    let fitted = trainer(TrainerConfig {
        epochs: 10,
        learning_rate: 3e-3,
        ..TrainerConfig::default()
    })
    .fit(teacher_model(&device), &train, &valid, None)
    .unwrap();
    let online = FrozenTeacher::new(fitted.best);

    let dir = std::env::temp_dir().join(format!("dk-cache-train-{}", std::process::id()));
    let path = |name: &str| -> PathBuf { dir.join(name) };
    let mut last_progress = 0;
    cache_teacher(
        &online,
        &all,
        &path("f32.dktc"),
        &settings(CacheDtype::F32, None),
        |done| last_progress = done,
    )
    .unwrap();
    assert_eq!(last_progress, all.len());
    let cached = CachedTeacher::open(&path("f32.dktc"), &all).unwrap();
    assert!(
        cached.describe().contains("600 rows"),
        "{}",
        cached.describe()
    );

    // Same seed, f32 cache: bit-identical student weights.
    let loss = SoftTargetLossConfig::new(3.0, 0.3, 0.7);
    let (a, agree_online) = student_weights(&device, &train, &valid, &online, loss.clone());
    let (b, agree_cached) = student_weights(&device, &train, &valid, &cached, loss.clone());
    assert!(
        a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
        "cached and online teachers trained different students"
    );
    assert_eq!(agree_online, agree_cached);
    assert!(
        agree_online > 0.8,
        "the student learned the teacher: {agree_online}"
    );

    // f16: close, not identical.
    cache_teacher(
        &online,
        &all,
        &path("f16.dktc"),
        &settings(CacheDtype::F16, None),
        |_| {},
    )
    .unwrap();
    let half = CachedTeacher::open(&path("f16.dktc"), &all).unwrap();
    let (c, agree_half) = student_weights(&device, &train, &valid, &half, loss);
    assert_ne!(a, c);
    assert!(
        (agree_half - agree_online).abs() < 0.05,
        "{agree_half} vs {agree_online}"
    );

    // Top-2 cache + top-2 loss at T = 1 follows the online top-2 run (exact bins).
    let top2 = SoftTargetLossConfig::new(1.0, 0.3, 0.7).with_top_k(2);
    cache_teacher(
        &online,
        &all,
        &path("top2.dktc"),
        &settings(CacheDtype::F32, Some(2)),
        |_| {},
    )
    .unwrap();
    let topk = CachedTeacher::open(&path("top2.dktc"), &all).unwrap();
    let (d, _) = student_weights(&device, &train, &valid, &online, top2.clone());
    let (e, _) = student_weights(&device, &train, &valid, &topk, top2);
    let gap = d
        .iter()
        .zip(&e)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    assert!(
        gap < 1e-3,
        "top-2 cached vs online: largest weight gap {gap}"
    );

    // Other data (one value changed, or the same rows in another order): refused.
    let mut order: Vec<usize> = (0..all.len()).collect();
    order.swap(0, 1);
    let reordered = all.subset(&order).unwrap();
    let err = CachedTeacher::open(&path("f32.dktc"), &reordered).unwrap_err();
    assert!(
        matches!(err, CacheError::FingerprintMismatch { .. }),
        "{err}"
    );
    let err = CachedTeacher::open(&path("f32.dktc"), &train).unwrap_err();
    assert!(err.to_string().contains("rows"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
