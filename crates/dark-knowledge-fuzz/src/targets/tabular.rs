//! CSV input (`CsvTable`, `TabularEncoder::fit` and `encode_rows`) and the saved encoder
//! (`TabularEncoder::from_json`, `encode_record`).

use std::collections::HashMap;
use std::path::Path;

use dark_knowledge_data::CHURN_CSV;
use dark_knowledge_data::tabular::{CsvTable, TabularConfig, TabularEncoder};

use crate::{Harness, Outcome, check, check_finite, text};

/// Small CSVs covering the conventions: quotes, missing tokens, blank lines, CRLF, a BOM,
/// line breaks inside quotes, numeric and partial labels.
pub(crate) fn csv_seeds() -> Vec<Vec<u8>> {
    let churn: String = CHURN_CSV
        .lines()
        .take(24)
        .map(|l| format!("{l}\n"))
        .collect();
    [
        churn.as_str(),
        "id,age,city,label\n1,34,Paris,yes\n2,,\"Lyon, FR\",no\n3,51,NA,yes\n4,29,Paris,no\n\
         5,nan,\"say \"\"hi\"\"\",yes\n",
        "\u{feff}x,y,class\r\n1.5,2,a\r\n\r\n-3e2,\"4\",b\r\n0,7,\"c\nd\"\r\n2.5,1,a\r\n",
        "f1,f2,target\n0.1,1,0\n0.2,2,1\n0.3,3,2\n0.4,4,0\n0.5,5,1\n",
        "a,b,y\n1,x,1\n2,y,\n3,x,0\n4,z,null\n",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

/// Fits an encoder on every row of a seed, predicting its last column.
fn fit_all(table: &CsvTable) -> Result<TabularEncoder, String> {
    let target = table.headers.last().cloned().unwrap_or_default();
    let rows: Vec<usize> = (0..table.len()).collect();
    TabularEncoder::fit(table, &rows, &TabularConfig::new(target)).map_err(|e| e.to_string())
}

/// `csv`: the bytes as a CSV file.
pub(crate) struct Csv;

impl Harness for Csv {
    fn seeds(&mut self) -> Vec<Vec<u8>> {
        csv_seeds()
    }

    fn run(&mut self, input: &[u8]) -> Outcome {
        let table = match CsvTable::from_reader(input) {
            Ok(t) => t,
            Err(e) => return Outcome::rejected(e),
        };
        check_csv(&table).unwrap_or_else(|o| o)
    }
}

fn check_csv(table: &CsvTable) -> Result<Outcome, Outcome> {
    let width = table.headers.len();
    check(width > 0 && !table.rows.is_empty(), || {
        "a table without columns or rows parsed".into()
    })?;
    check(table.rows.iter().all(|r| r.len() == width), || {
        "a row's width differs from the header's".into()
    })?;
    check(
        table.lines.len() == table.rows.len()
            && table.lines.first().is_none_or(|&l| l >= 2)
            && table.lines.windows(2).all(|w| w[0] < w[1]),
        || format!("line numbers {:?} are not increasing from 2", table.lines),
    )?;
    let encoder = match fit_all(table) {
        Ok(e) => e,
        Err(e) => return Ok(Outcome::Parsed(format!("table; fit refused: {e}"))),
    };
    let rows: Vec<usize> = (0..table.len()).collect();
    let encoded = match encoder.encode_rows(table, &rows) {
        Ok(x) => x,
        Err(e) => return Ok(Outcome::Parsed(format!("encoder; encode refused: {e}"))),
    };
    check(encoded.len() == rows.len() * encoder.num_features(), || {
        format!(
            "{} values for {} rows of {} features",
            encoded.len(),
            rows.len(),
            encoder.num_features()
        )
    })?;
    check_finite(&encoded, "encoded rows")?;
    check(
        encoder.feature_names().len() == encoder.num_features(),
        || "feature names and feature count differ".into(),
    )?;
    match TabularEncoder::from_json(&encoder.to_json()) {
        Ok(back) => check(back == encoder, || {
            "the encoder's JSON reloads differently".into()
        })?,
        Err(e) => {
            return Err(Outcome::Violation(format!(
                "a fitted encoder does not reload: {e}"
            )));
        }
    }
    if let Ok(labels) = encoder.target.labels_partial(table) {
        let n = encoder.target.num_classes();
        check(labels.iter().flatten().all(|&l| l < n), || {
            format!("a label outside 0..{n}")
        })?;
    }
    Ok(Outcome::Parsed(format!(
        "encoder of {} columns",
        encoder.columns.len()
    )))
}

/// `encoder-json`: the bytes as a saved encoder (`encoder.json`).
pub(crate) struct EncoderJson;

/// Raw values every column of a record is given in turn.
const RECORD_VALUES: [&str; 8] = ["", "0", "1.5", "-1e300", "3e38", "NA", "inf", "yes"];

impl Harness for EncoderJson {
    fn seeds(&mut self) -> Vec<Vec<u8>> {
        csv_seeds()
            .iter()
            .filter_map(|csv| CsvTable::from_reader(csv.as_slice()).ok())
            .filter_map(|t| fit_all(&t).ok())
            .map(|e| e.to_json().into_bytes())
            .collect()
    }

    fn run(&mut self, input: &[u8]) -> Outcome {
        let encoder = match TabularEncoder::from_json(&text(input)) {
            Ok(e) => e,
            Err(e) => return Outcome::rejected(e),
        };
        for value in RECORD_VALUES {
            let record: HashMap<String, String> = encoder
                .columns
                .iter()
                .map(|c| (c.name.clone(), value.to_string()))
                .collect();
            let Ok(row) = encoder.encode_record(&record) else {
                continue;
            };
            if row.len() != encoder.num_features() {
                return Outcome::Violation(format!(
                    "{} values for {} features",
                    row.len(),
                    encoder.num_features()
                ));
            }
            if let Err(o) = check_finite(&row, &format!("record of {value:?}")) {
                return o;
            }
        }
        Outcome::Parsed(format!("encoder of {} columns", encoder.columns.len()))
    }
}

/// Builds the `csv` harness.
pub(crate) fn csv(_: &Path) -> Box<dyn Harness> {
    Box::new(Csv)
}

/// Builds the `encoder-json` harness.
pub(crate) fn encoder_json(_: &Path) -> Box<dyn Harness> {
    Box::new(EncoderJson)
}
