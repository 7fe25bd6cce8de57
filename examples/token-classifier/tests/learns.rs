//! The token models learn the topic rule far above chance (1/3), from integer ids.

use dark_knowledge::burn::tensor::Device;

#[test]
fn teacher_and_students_learn_the_topics() {
    let out = token_classifier::run(3_000, 6, 5, &Device::flex()).unwrap();
    eprintln!("{out:?}");
    assert!(out.teacher > 0.8, "{out:?}");
    assert!(out.baseline > 0.6, "{out:?}");
    assert!(out.distilled > 0.6, "{out:?}");
}

#[test]
fn ids_beyond_float_precision_stay_exact() {
    // 2^24 + 1 is not a float32: ids travel as integers, so the batch keeps it.
    use dark_knowledge::burn::data::dataloader::batcher::Batcher;
    let item = token_classifier::TextItem {
        ids: vec![16_777_217, 3],
        label: 1,
    };
    let batch = token_classifier::TokenBatcher.batch(vec![item], &Device::flex());
    let ids: Vec<i64> = batch.inputs.ids.into_data().iter::<i64>().collect();
    assert_eq!(ids, vec![16_777_217, 3]);
}
