//! `OUT/data.json`: what data the run's teacher was trained on — the rows, the labels and
//! the split, fingerprinted — so that a later command on changed data is refused even when
//! the fitted preprocessing happens to come out the same.

use serde::{Deserialize, Serialize};

use super::RunDir;
use crate::error::{Context, Result};
use crate::prepare::Prepared;

/// The file, in the run folder.
pub const DATA_RECORD: &str = "data.json";

/// The data a run was trained on.
#[derive(Debug, Serialize, Deserialize)]
struct DataRecord {
    /// The data's name (source and path) when recorded.
    name: String,
    /// Rows the splits were cut from.
    rows: usize,
    /// Every row's features and label, the training split's rows and the test rows.
    fingerprint: String,
}

impl DataRecord {
    fn of(data: &Prepared) -> Self {
        use dark_knowledge_data::cache::fingerprint;
        let parts = [
            dark_knowledge_data::dataset_fingerprint(&data.all),
            fingerprint(&[], data.all.labels_host()),
            fingerprint(&[], data.train.row_ids()),
            dark_knowledge_data::dataset_fingerprint(&data.test),
            fingerprint(&[], data.test.labels_host()),
        ];
        Self {
            name: data.name.clone(),
            rows: data.all.len(),
            fingerprint: parts.join("-"),
        }
    }
}

/// Writes the record of `data` into the run folder.
pub(super) fn write_data_record(run: &RunDir, data: &Prepared) -> Result<()> {
    super::write_json(&run.0.join(DATA_RECORD), &DataRecord::of(data))
}

/// Checks that `data` are the data recorded in the run folder, when it has a record.
pub(super) fn check_data_record(run: &RunDir, data: &Prepared) -> Result<()> {
    let path = run.0.join(DATA_RECORD);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let saved: DataRecord =
        serde_json::from_str(&text).with_context(|| format!("invalid {}", path.display()))?;
    let now = DataRecord::of(data);
    crate::ensure!(
        saved.fingerprint == now.fingerprint,
        "the data changed since the teacher in {} was trained ({}: {} rows of {}; now {} rows of \
         {}, with other values, labels or split); train the teacher again, or choose another \
         output folder",
        run.0.display(),
        path.display(),
        saved.rows,
        saved.name,
        now.rows,
        now.name
    );
    Ok(())
}
