//! The input's columns against the training schema: records and CSV headers that lack
//! training columns are refused (naming them, "did you mean" for case or spaces) unless
//! scoring them as missing is allowed; unknown columns are warned about.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;

use common::record;
use std::sync::Mutex;

use burn::tensor::Device;
use dark_knowledge_data::tabular::{TabularConfig, TabularError};
use dark_knowledge_infer::{Error, MissingColumns, Predictor};

const CSV: &str = "id,age,plan,spend,label\n\
a1,34,basic,12.5,no\n\
a2,51,gold,80.0,yes\n\
a3,,basic,20.0,no\n\
a4,42,silver,,yes\n\
a5,29,gold,55.5,no\n\
a6,60,basic,5.0,yes\n";

/// Every warning logged by the tests of this binary.
static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Warn
    }
    fn log(&self, record: &log::Record) {
        WARNINGS.lock().unwrap().push(record.args().to_string());
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture;

/// The warnings logged so far that mention `needle`.
fn warnings_with(needle: &str) -> Vec<String> {
    if log::set_logger(&CAPTURE).is_ok() {
        log::set_max_level(log::LevelFilter::Warn);
    }
    let all = WARNINGS.lock().unwrap();
    all.iter().filter(|w| w.contains(needle)).cloned().collect()
}

/// A run folder with a model on `age`, `plan`, `spend` (`id` dropped, target `label`).
fn make_run(tag: &str) -> (PathBuf, Device) {
    warnings_with(""); // installs the logger
    let mut config = TabularConfig::new("label");
    config.columns.drop_columns = vec!["id".into()];
    let (dir, device, encoder) = common::make_run(&format!("schema-{tag}"), CSV, &config);
    assert_eq!(encoder.dropped[0].0, "id");
    (dir, device)
}

#[test]
fn a_record_lacking_a_training_column_is_refused_unless_allowed() {
    let (dir, device) = make_run("missing");
    let strict = Predictor::load(&dir, "distilled", &device).unwrap();
    assert_eq!(strict.missing_columns(), MissingColumns::Refuse);
    assert_eq!(
        strict.feature_columns().unwrap(),
        ["age", "plan", "spend"].map(String::from)
    );
    let partial = record(&[("age", "34"), ("plan", "basic")]);
    let err = strict.predict_proba_record(&partial).unwrap_err();
    let Error::MissingColumns { missing, .. } = &err else {
        panic!("expected MissingColumns, got {err:?}");
    };
    assert_eq!(missing, &["spend"]);
    assert!(err.to_string().contains("\"spend\""), "{err}");
    assert!(strict.encode_record(&partial).is_err());
    assert!(
        strict
            .predict_proba_records(std::slice::from_ref(&partial))
            .is_err()
    );

    // Allowed: scored as a missing value, the same as an empty `spend`, with one warning.
    let lenient = strict.with_missing_columns(MissingColumns::ScoreAsMissing);
    let p = lenient.predict_proba_record(&partial).unwrap();
    let mut empty = partial.clone();
    empty.insert("spend".into(), String::new());
    assert_eq!(p, lenient.predict_proba_record(&empty).unwrap());
    lenient.predict_proba_record(&partial).unwrap();
    let warned = warnings_with("\"spend\": scored as missing values on every row (warned once");
    assert_eq!(warned.len(), 1, "warned once per model: {warned:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn names_that_differ_in_case_or_spaces_get_did_you_mean() {
    let (dir, device) = make_run("case");
    let p = Predictor::load(&dir, "distilled", &device).unwrap();
    let err = p
        .predict_proba_record(&record(&[
            ("Age", "34"),
            (" plan ", "gold"),
            ("spend", "1"),
        ]))
        .unwrap_err();
    let Error::MissingColumns {
        missing,
        suggestions,
        ..
    } = &err
    else {
        panic!("expected MissingColumns, got {err:?}");
    };
    assert_eq!(missing, &["age", "plan"]);
    let mut suggestions = suggestions.clone();
    suggestions.sort();
    assert_eq!(
        suggestions,
        [
            ("age".into(), "Age".into()),
            ("plan".into(), " plan ".into())
        ]
    );
    let text = err.to_string();
    assert!(
        text.contains(r#""age" (did you mean "Age"?)"#)
            && text.contains(r#""plan" (did you mean " plan "?)"#),
        "{text}"
    );
    // Every column only in another case: none matches, refused even when allowed.
    let lenient = p.with_missing_columns(MissingColumns::ScoreAsMissing);
    let upper = record(&[("AGE", "34"), ("PLAN", "gold"), ("SPEND", "1")]);
    let err = lenient.predict_proba_record(&upper).unwrap_err();
    assert!(matches!(err, Error::NoMatchingColumns { .. }), "{err:?}");
    assert!(err.to_string().contains("did you mean \"AGE\""), "{err}");
    let err = lenient.predict_proba_record(&HashMap::new()).unwrap_err();
    assert!(matches!(err, Error::NoMatchingColumns { .. }), "{err:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_header_is_checked_once_and_rows_encode_as_records() {
    let (dir, device) = make_run("header");
    let p = Predictor::load(&dir, "distilled", &device).unwrap();
    // Trimmed as in training; the target and the dropped `id` are known; `notes` is not.
    let header = ["notes", " spend ", "id", "age", "plan", "label"];
    let columns = p.check_columns(&header).unwrap();
    assert_eq!(columns.unknown(), ["notes"]);
    assert!(columns.missing().is_empty());
    assert_eq!(warnings_with("\"notes\"").len(), 1);
    let fields = ["x", "12.5", "a1", "34", "basic", "no"];
    let by_position = p.encode_fields(&columns, &fields).unwrap();
    let by_name = p
        .encode_record(&record(&[
            ("age", "34"),
            ("plan", "basic"),
            ("spend", "12.5"),
        ]))
        .unwrap();
    assert_eq!(by_position, by_name);
    let err = p.encode_fields(&columns, &fields[..5]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::FieldCount {
                expected: 6,
                got: 5
            }
        ),
        "{err:?}"
    );

    // A header without a training column: refused, or scored as missing when allowed.
    let short = ["age", "plan", "label"];
    let err = p.check_columns(&short).unwrap_err();
    assert!(
        matches!(&err, Error::MissingColumns { missing, .. } if missing == &["spend"]),
        "{err:?}"
    );
    let lenient = p
        .clone()
        .with_missing_columns(MissingColumns::ScoreAsMissing);
    assert_eq!(lenient.check_columns(&short).unwrap().missing(), ["spend"]);
    // None of the training columns, or one of them twice.
    let err = lenient.check_columns(&["a", "b"]).unwrap_err();
    assert!(matches!(err, Error::NoMatchingColumns { .. }), "{err:?}");
    let err = p
        .check_columns(&["age", "plan", "spend", "age"])
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Encoding(TabularError::DuplicateColumn {
                first: 1,
                second: 4,
                ..
            })
        ),
        "{err:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_renamed_column_in_the_preprocessing_is_named() {
    let (dir, device) = make_run("renamed");
    let path = dir.join("preprocessing.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let renamed = text.replacen("\"name\": \"age\"", "\"name\": \"customer_age\"", 1);
    assert_ne!(renamed, text);
    std::fs::write(&path, renamed).unwrap();
    let p = Predictor::load(&dir, "distilled", &device).unwrap();
    let full = record(&[("age", "34"), ("plan", "basic"), ("spend", "12.5")]);
    let err = p.predict_proba_record(&full).unwrap_err();
    assert!(
        matches!(&err, Error::MissingColumns { missing, .. } if missing == &["customer_age"]),
        "{err:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_run_without_preprocessing_refuses_records() {
    let (dir, device) = make_run("noprep");
    std::fs::remove_file(dir.join("preprocessing.json")).unwrap();
    let p = Predictor::load(&dir, "distilled", &device).unwrap();
    assert!(p.feature_columns().is_none());
    let full = record(&[("age", "34"), ("plan", "basic"), ("spend", "12.5")]);
    assert!(matches!(
        p.predict_proba_record(&full),
        Err(Error::NoPreprocessing)
    ));
    assert!(matches!(
        p.check_columns(&["age"]),
        Err(Error::NoPreprocessing)
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}
