//! Unit tests of [`TabularEncoder`](super::TabularEncoder): fitting, encoding and column handling.

use super::*;
use crate::tabular::column::{ColumnKind, ColumnTransform};

fn table(text: &str) -> CsvTable {
    CsvTable::parse(text).unwrap()
}

fn fit(t: &CsvTable, rows: &[usize], config: &TabularConfig) -> TabularEncoder {
    TabularEncoder::fit(t, rows, config).unwrap()
}

fn all(t: &CsvTable) -> Vec<usize> {
    (0..t.len()).collect()
}

/// `MIXED`'s `id` is personal (an identifier): kept for the tests that look at it.
fn keep_id() -> TabularConfig {
    let mut config = TabularConfig::new("churn");
    config.columns.keep_personal = vec!["id".into()];
    config
}

const MIXED: &str = "id,age,state,income,churn\n\
    a1,30,KS,0.1,yes\n\
    a2,,NY,0.7,no\n\
    a3,45,KS,NA,yes\n\
    a4,NA,CA,1.3333333,no\n\
    a5,61,,2.5e3,no\n";

#[test]
fn statistics_come_from_training_rows_only() {
    let t = table("x,c,y\n1,a,p\n2,b,q\n3,a,p\n4,b,q\n1000000,z,p\n2000000,w,q\n");
    let enc = fit(&t, &[0, 1, 2, 3], &TabularConfig::new("y"));
    let ColumnTransform::Numeric {
        mean,
        std,
        missing_indicator,
    } = enc.columns[0].transform
    else {
        panic!("x should be numeric");
    };
    // By hand: mean (1+2+3+4)/4 = 2.5; variance (2.25+0.25+0.25+2.25)/4 = 1.25.
    assert_eq!(mean, 2.5);
    assert_eq!(std, 1.25_f64.sqrt());
    assert!(!missing_indicator);
    let ColumnTransform::Categorical { levels } = &enc.columns[1].transform else {
        panic!("c should be categorical");
    };
    assert_eq!(levels, &["a", "b"]);
    let x = enc.encode_rows(&t, &[4]).unwrap();
    assert_eq!(x[0], ((1e6 - 2.5) / 1.25_f64.sqrt()) as f32);
    assert_eq!(&x[1..], [0.0, 0.0, 1.0, 0.0]); // "z" -> <unknown>
}

#[test]
fn unseen_level_goes_to_unknown_slot() {
    let t = table("state,y\nKS,1\nNY,0\nKS,0\nTX,1\n");
    let enc = fit(&t, &[0, 1, 2], &TabularConfig::new("y"));
    assert_eq!(
        enc.feature_names(),
        ["state=KS", "state=NY", "state=<unknown>", "state=<missing>"]
    );
    assert_eq!(
        enc.encode_rows(&t, &[3, 1]).unwrap(),
        [0., 0., 1., 0., 0., 1., 0., 0.]
    );
}

#[test]
fn missing_cells_get_indicator_and_mean() {
    let t = table("x,z,y\n2,1,a\n,2,b\n4,3,a\nNA,4,b\n");
    let enc = fit(&t, &all(&t), &TabularConfig::new("y"));
    assert_eq!(enc.feature_names(), ["x", "x__missing", "z"]);
    // x: mean 3, std 1; z: mean 2.5, std sqrt(1.25).
    let s = 1.25_f64.sqrt();
    let z = |v: f64| ((v - 2.5) / s) as f32;
    let expected = [
        -1.0,
        0.0,
        z(1.0),
        0.0,
        1.0,
        z(2.0),
        1.0,
        0.0,
        z(3.0),
        0.0,
        1.0,
        z(4.0),
    ];
    assert_eq!(enc.encode_rows(&t, &all(&t)).unwrap(), expected);
    // A missing value in a column without indicator is imputed, not an error.
    let record: HashMap<String, String> = [("x".to_string(), "5".to_string())].into();
    assert_eq!(enc.encode_record(&record).unwrap(), [2.0, 0.0, 0.0]);
}

#[test]
fn kinds_are_detected_and_can_be_forced() {
    let t = table(MIXED);
    let default = fit(&t, &all(&t), &TabularConfig::new("churn"));
    assert_eq!(default.dropped_personal()[0].column, "id");
    let enc = fit(&t, &all(&t), &keep_id());
    let kinds: Vec<_> = enc
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.kind()))
        .collect();
    use ColumnKind::*;
    assert_eq!(
        kinds,
        [
            ("id", Categorical),
            ("age", Numeric),
            ("state", Categorical),
            ("income", Numeric)
        ]
    );
    let mut config = TabularConfig::new("churn");
    config.columns.categorical_columns = vec!["age".into()];
    config.columns.drop_columns = vec!["id".into()];
    let enc = fit(&t, &all(&t), &config);
    assert_eq!(enc.columns[0].kind(), Categorical);
    assert_eq!(
        enc.dropped,
        [("id".to_string(), "listed in drop_columns".to_string())]
    );
}

#[test]
fn forced_numeric_non_number_names_line_column_value() {
    let t = table("zip,y\n123,a\n\nab1,b\n");
    let mut config = TabularConfig::new("y");
    config.columns.numeric_columns = vec!["zip".into()];
    let err = TabularEncoder::fit(&t, &[0, 1], &config).unwrap_err();
    assert!(
        matches!(&err, TabularError::NonNumeric { line: 4, column, value } if column == "zip" && value == "ab1"),
        "{err:?}"
    );
    let inf = table("x,y\n1,a\ninf,b\n");
    let err = TabularEncoder::fit(&inf, &[0, 1], &TabularConfig::new("y")).unwrap_err();
    assert!(
        matches!(err, TabularError::NonFinite { line: 3, .. }),
        "{err:?}"
    );
}

#[test]
fn no_features_lists_dropped_columns() {
    let t = table("k,id,x,y\n1,a,5,p\n1,b,6,q\n");
    let mut config = TabularConfig::new("y");
    config.columns.drop_columns = vec!["x".into()];
    config.columns.drop_id_like = true;
    let err = TabularEncoder::fit(&t, &all(&t), &config).unwrap_err();
    let TabularError::NoFeatures { dropped } = err else {
        panic!("expected NoFeatures, got {err:?}");
    };
    let names: Vec<&str> = dropped.iter().map(|d| d.0.as_str()).collect();
    assert_eq!(names, ["k", "id", "x"]);
}

#[test]
fn bad_rows_are_errors() {
    let t = table(MIXED);
    let plain = TabularConfig::new("churn");
    let err = TabularEncoder::fit(&t, &[], &plain).unwrap_err();
    assert!(matches!(err, TabularError::NoTrainingRows));
    let err = TabularEncoder::fit(&t, &[0, 9], &plain).unwrap_err();
    assert!(matches!(
        err,
        TabularError::RowOutOfRange { row: 9, len: 5 }
    ));
    let enc = fit(&t, &[0, 1, 2], &plain);
    assert!(matches!(
        enc.encode_rows(&t, &[7]),
        Err(TabularError::RowOutOfRange { .. })
    ));
}

#[test]
fn json_round_trip_is_exact_and_deterministic() {
    let t = table(MIXED);
    let enc = fit(&t, &[0, 1, 2, 3], &TabularConfig::new("churn"));
    let json = enc.to_json();
    let back = TabularEncoder::from_json(&json).unwrap();
    assert_eq!(back, enc);
    assert_eq!(back.to_json(), json);
    let rows = all(&t);
    let a = enc.encode_rows(&t, &rows).unwrap();
    let b = back.encode_rows(&t, &rows).unwrap();
    assert_eq!(a.len(), rows.len() * enc.num_features());
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&a), bits(&b));
    // Fitting again gives the same encoder and text.
    assert_eq!(
        fit(&t, &[0, 1, 2, 3], &TabularConfig::new("churn")).to_json(),
        json
    );
}

#[test]
fn from_json_rejects_broken_encoders() {
    let t = table(MIXED);
    let enc = fit(&t, &all(&t), &keep_id());
    let mut broken = enc.clone();
    if let ColumnTransform::Numeric { std, .. } = &mut broken.columns[1].transform {
        *std = 0.0;
    }
    assert!(matches!(
        TabularEncoder::from_json(&broken.to_json()),
        Err(TabularError::InvalidEncoder { .. })
    ));
    let mut unsorted = enc.clone();
    if let ColumnTransform::Categorical { levels } = &mut unsorted.columns[2].transform {
        levels.reverse();
    }
    assert!(TabularEncoder::from_json(&unsorted.to_json()).is_err());
    let extra = enc.to_json().replacen('{', "{\"extra\": 1,", 1);
    assert!(matches!(
        TabularEncoder::from_json(&extra),
        Err(TabularError::Json(_))
    ));
    assert!(TabularEncoder::from_json("not json").is_err());
}

#[test]
fn encode_record_matches_encode_rows() {
    let t = table(MIXED);
    let enc = fit(&t, &[0, 1, 2], &TabularConfig::new("churn"));
    for row in 0..t.len() {
        let mut record: HashMap<String, String> = HashMap::new();
        for (name, cell) in t.headers.iter().zip(&t.rows[row]) {
            // Missing cells: sometimes as absent field, sometimes as "NA".
            match cell {
                Some(v) => record.insert(name.clone(), v.clone()),
                None if row % 2 == 0 => record.insert(name.clone(), "NA".into()),
                None => None,
            };
        }
        assert_eq!(
            enc.encode_record(&record).unwrap(),
            enc.encode_rows(&t, &[row]).unwrap()
        );
    }
    let record: HashMap<String, String> = [("age".to_string(), "old".to_string())].into();
    let err = enc.encode_record(&record).unwrap_err();
    assert!(
        matches!(&err, TabularError::RecordNonNumeric { column, value } if column == "age" && value == "old")
    );
}

#[test]
fn new_csv_with_other_column_order_encodes_identically() {
    let t = table(MIXED);
    let enc = fit(&t, &[0, 1, 2], &TabularConfig::new("churn"));
    let reordered = table(
        "income,extra,state,age,id\n0.1,x,KS,30,a1\n0.7,x,NY,,a2\nNA,x,KS,45,a3\n\
         1.3333333,x,CA,NA,a4\n2.5e3,x,,61,a5\n",
    );
    assert_eq!(
        enc.encode_rows(&reordered, &all(&reordered)).unwrap(),
        enc.encode_rows(&t, &all(&t)).unwrap()
    );
    let lacking = table("income,state,id\n1,KS,a1\n");
    let err = enc.encode_rows(&lacking, &[0]).unwrap_err();
    assert!(matches!(&err, TabularError::MissingColumn { name, .. } if name == "age"));
    let bad = table("income,state,age,id\n1,KS,old,a1\n");
    let err = enc.encode_rows(&bad, &[0]).unwrap_err();
    assert!(matches!(err, TabularError::NonNumeric { line: 2, .. }));
}
