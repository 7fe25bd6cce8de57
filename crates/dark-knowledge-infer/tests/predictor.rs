//! A run folder written by hand (model + preprocessing), loaded by `Predictor`.

mod common;

use std::path::PathBuf;

use common::record;

use burn::tensor::{Device, Tensor, TensorData};
use dark_knowledge_core::Classifier;
use dark_knowledge_core::tensor_util::to_vec_f32;
use dark_knowledge_data::tabular::{CsvTable, TabularConfig};
use dark_knowledge_infer::{Error, Predictor};

const CSV: &str = "age,plan,spend,label\n\
34,basic,12.5,no\n\
51,gold,80.0,yes\n\
,basic,20.0,no\n\
42,silver,,yes\n\
29,gold,55.5,no\n\
60,basic,5.0,yes\n";

fn make_run(tag: &str) -> (PathBuf, Device) {
    let (dir, device, _) = common::make_run(tag, CSV, &TabularConfig::new("label"));
    (dir, device)
}

#[test]
fn batch_and_single_record_scores_are_identical_and_match_the_model() {
    let (dir, device) = make_run("same");
    let p = Predictor::load(&dir, "distilled", &device).unwrap();
    assert_eq!(p.class_names(), ["no", "yes"]);
    let records = vec![
        record(&[("age", "34"), ("plan", "basic"), ("spend", "12.5")]),
        record(&[("age", "51"), ("plan", "platinum"), ("spend", "80")]), // unseen level
        record(&[("age", "NA"), ("plan", "gold"), ("spend", "")]),       // missing cells
    ];
    let batch = p.predict_proba_records(&records).unwrap();
    for (r, b) in records.iter().zip(&batch) {
        let single = p.predict_proba_record(r).unwrap();
        assert_eq!(&single, b, "batch and single scoring must agree exactly");
        assert!((single.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
    // The same numbers as encoding the CSV rows and running the saved model directly.
    let enc = p.encoder().unwrap();
    let table = CsvTable::parse(CSV).unwrap();
    let x = enc.encode_rows(&table, &[0]).unwrap();
    let nf = enc.num_features();
    let (_, model) =
        dark_knowledge_models::load_saved_model(&dir.join("distilled"), &device).unwrap();
    let logits = model.logits(Tensor::from_data(TensorData::new(x, [1, nf]), &device));
    let direct = to_vec_f32(burn::tensor::activation::softmax(logits, 1));
    let direct_p = p.predict_proba_record(&records[0]).unwrap();
    for (a, b) in direct.iter().zip(&direct_p) {
        assert!((a - b).abs() < 1e-6);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_records_and_bad_runs_are_errors() {
    let (dir, device) = make_run("bad");
    let p = Predictor::load(&dir, "distilled", &device).unwrap();
    let err = p
        .predict_proba_record(&record(&[("age", "old"), ("plan", "gold"), ("spend", "1")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("age") && err.contains("old"), "{err}");
    assert!(p.predict_proba_features(&[1.0, 2.0]).is_err());
    assert!(matches!(
        Predictor::load(&dir, "teacher", &device),
        Err(Error::Model(_))
    ));
    std::fs::write(dir.join("preprocessing.json"), "{ not json").unwrap();
    assert!(Predictor::load(&dir, "distilled", &device).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}
