//! What a study's teacher and runs were made from, as fingerprints: a teacher or a run file
//! made from other settings or data is never mistaken for this study's.

use std::path::PathBuf;

use crate::error::Result;
use dark_knowledge_core::tensor_util::{parameters_to_vec, to_vec_f32};
use dark_knowledge_data::Dataset;
use dark_knowledge_data::cache::{fingerprint, legacy_fingerprint};
use dark_knowledge_models::AnyModel;

use crate::experiment::Experiment;
use crate::prepare::Prepared;

/// The file in `OUT/teacher/` that records what the study's teacher was trained from.
pub(super) const TEACHER_KEY_FILE: &str = "study-key.txt";

/// A fingerprint function: [`fingerprint`] (BLAKE3), or [`legacy_fingerprint`] (FNV-1a) to
/// recognise what an earlier version wrote.
pub(super) type Hash = fn(&[f32], &[usize]) -> String;

/// Both fingerprint functions, the current one first.
pub(super) const HASHES: [Hash; 2] = [fingerprint, legacy_fingerprint];

/// The fingerprint of some bytes.
fn fingerprint_bytes(hash: Hash, bytes: &[u8]) -> String {
    let ids: Vec<usize> = bytes.iter().map(|&b| usize::from(b)).collect();
    hash(&[], &ids)
}

/// The fingerprint of a dataset's inputs, row ids and labels.
fn data_key(hash: Hash, data: &Dataset) -> String {
    let labels: Vec<usize> = (0..data.len())
        .map(|p| {
            if data.is_labeled(p) {
                data.labels_host()[p] + 1
            } else {
                0
            }
        })
        .collect();
    let inputs = hash(&to_vec_f32(data.features().clone()), data.row_ids());
    format!("{inputs}{}", hash(&[], &labels))
}

/// What the study's teacher depends on: its architecture, its training settings, the seed,
/// the device and the training and validation rows.
pub(super) fn teacher_key(hash: Hash, experiment: &Experiment, data: &Prepared) -> Result<String> {
    let t = &experiment.teacher;
    let settings =
        serde_json::to_string(&(&t.model, &t.train, experiment.seed, &experiment.device))?;
    Ok(format!(
        "{}-{}-{}",
        fingerprint_bytes(hash, settings.as_bytes()),
        data_key(hash, &data.train),
        data_key(hash, &data.valid)
    ))
}

/// What a run depends on beyond its spec and the teacher's key: the base experiment (its
/// output folder aside), the teacher's weights and the test rows.
pub(super) fn context_key(
    hash: Hash,
    experiment: &Experiment,
    teacher: &AnyModel,
    data: &Prepared,
) -> Result<String> {
    let mut base = experiment.clone();
    base.output_dir = PathBuf::new();
    Ok(format!(
        "{}-{}-{}",
        fingerprint_bytes(hash, base.to_toml()?.as_bytes()),
        hash(&parameters_to_vec(teacher), &[]),
        data_key(hash, &data.test)
    ))
}
