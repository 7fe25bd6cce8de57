//! What a study's teacher and runs were made from, as fingerprints: a teacher or a run file
//! made from other settings or data is never mistaken for this study's.

use std::path::PathBuf;

use crate::error::Result;
use dark_knowledge_core::tensor_util::parameters_to_vec;
use dark_knowledge_data::cache::fingerprint;
use dark_knowledge_data::{Dataset, dataset_fingerprint};
use dark_knowledge_models::AnyModel;

use crate::experiment::Experiment;
use crate::prepare::Prepared;

/// The file in `OUT/teacher/` that records what the study's teacher was trained from.
pub(super) const TEACHER_KEY_FILE: &str = "study-key.txt";

/// FNV-1a fingerprint of some bytes.
fn fingerprint_bytes(bytes: &[u8]) -> String {
    let ids: Vec<usize> = bytes.iter().map(|&b| usize::from(b)).collect();
    fingerprint(&[], &ids)
}

/// The fingerprint of a dataset's inputs, row ids and labels.
fn data_key(data: &Dataset) -> String {
    let labels: Vec<usize> = (0..data.len())
        .map(|p| {
            if data.is_labeled(p) {
                data.labels_host()[p] + 1
            } else {
                0
            }
        })
        .collect();
    format!("{}{}", dataset_fingerprint(data), fingerprint(&[], &labels))
}

/// What the study's teacher depends on: its architecture, its training settings, the seed,
/// the device and the training and validation rows.
pub(super) fn teacher_key(experiment: &Experiment, data: &Prepared) -> Result<String> {
    let t = &experiment.teacher;
    let settings =
        serde_json::to_string(&(&t.model, &t.train, experiment.seed, &experiment.device))?;
    Ok(format!(
        "{}-{}-{}",
        fingerprint_bytes(settings.as_bytes()),
        data_key(&data.train),
        data_key(&data.valid)
    ))
}

/// What a run depends on beyond its spec and the teacher's key: the base experiment (its
/// output folder aside), the teacher's weights and the test rows.
pub(super) fn context_key(
    experiment: &Experiment,
    teacher: &AnyModel,
    data: &Prepared,
) -> Result<String> {
    let mut base = experiment.clone();
    base.output_dir = PathBuf::new();
    Ok(format!(
        "{}-{}-{}",
        fingerprint_bytes(base.to_toml()?.as_bytes()),
        fingerprint(&parameters_to_vec(teacher), &[]),
        data_key(&data.test)
    ))
}
